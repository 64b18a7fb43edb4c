"""``git-ml-stats``: what the store holds."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .common import run_typer

PROG = "git ml stats"
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def stats(json_out: Annotated[bool, typer.Option("--json", help="One JSON object: every stream's record count "
                                                 "as a top-level key, the rest under other keys.")] = False) -> None:
    """Counts per stream, chunks, stored bytes and date ranges of the git-ml store."""
    from ..repo import open_repository
    from ..report import store_stats

    data = store_stats(open_repository())
    if json_out:
        import json

        print(json.dumps(data, indent=2))
        return
    print(format_stats(data))


def format_stats(data: dict) -> str:
    lines = ["stream       records   chunks   stored bytes"]
    for stream, info in data["streams"].items():
        lines.append(f"{stream:<12} {data[stream]:>7}   {info['chunks']:>6}   {info['stored_bytes']:>12,}")
    lines.append(f"{'total':<12} {sum(data[s] for s in data['streams']):>7}   {data['chunks']:>6}   "
                 f"{data['stored_bytes']:>12,}")
    if data.get("commits_range"):
        first, last = data["commits_range"]
        lines.append(f"commits from {first} to {last}")
    for path, count, detail in data.get("corrupt", []):
        lines.append(f"corrupt chunk skipped: {path} ({count} records)")
    return "\n".join(lines)


def main() -> int:
    return run_typer(PROG, app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
