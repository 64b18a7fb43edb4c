"""``git-ml-quality-report``: what is wrong with the captured data, and whether it is enough for each milestone."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from git_ml.cli.common import run_typer

PROG = "git ml quality-report"
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def quality_report(
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    tiny: Annotated[int, typer.Option("--tiny", metavar="CHARS", min=1,
                                      help="A response shorter than this is tiny.")] = 20,
) -> None:
    """Report empty and tiny responses, empty queries, duplicate chats and commits (identical input and output),
    chats without linked commits, commits without messages or files, unrated chats, redactions by kind, and size
    outliers (above Q3 + 3 x IQR: chat responses in characters, commits in changed lines), with sample ids;
    then a short verdict per milestone from the usable records.

    --json prints {"counts", "usable", "ratings", "findings", "verdicts", "corrupt"}.
    """
    from git_ml.dataset.reports import format_quality
    from git_ml.dataset.reports import quality_report as run_report
    from git_ml.repo import open_repository

    data = run_report(open_repository(), tiny=tiny)
    if json_out:
        import json

        print(json.dumps(data, indent=2))
        return
    print(format_quality(data))


def main() -> int:
    return run_typer(PROG, app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
