"""``git-ml-estimate``: progress toward the training milestones, with an ETA from the recent activity rate."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from git_ml.cli.common import run_typer

PROG = "git ml estimate"
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def estimate(
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    window: Annotated[int, typer.Option("--window", metavar="DAYS", min=1,
                                        help="Days of recent activity the rate is measured over.")] = 30,
    now: Annotated[Optional[str], typer.Option("--now", metavar="WHEN", hidden=True,
                                               help="Pretend the time is WHEN (tests).")] = None,
) -> None:
    """Show how far the data is from three milestones: File Prediction (500 commits, 100 sessions, 200 chats),
    Commit Messages (2,000 / 500 / 1,000) and Code Suggestions (5,000 / 2,000 / 5,000).

    Each dimension shows its percentage and an ETA at the rate of the last 30 days. The rate counts records by
    their activity time (a commit's author date, a chat's prompt time, a session's start), not by when they were
    captured: a backfill captures years of history at once, which would say nothing about the future, while every
    new commit and chat is captured as it happens. Backfilled history counts toward the commits. The window never
    starts before the stream's first record, so recently enabled capture is rated over the days it ran. With no
    activity in the window the ETA is "unknown".

    A milestone newly reached runs `git config ml.onMilestone` (a shell command) once, detached, after a fresh
    export: environment GIT_ML_MILESTONE (its name), GIT_ML_REPO (the work tree), GIT_ML_GIT_DIR and
    GIT_ML_EXPORT (a Hugging Face dataset directory under .git/ml/milestones/). It is checked after every capture
    and import, and by this command, which shows when each milestone was reached and whether the command ran
    (state in .git/ml/milestones.json, output in .git/ml/milestones.log).
    """
    from git_ml.dataset import milestones
    from git_ml.dataset.export.options import parse_when
    from git_ml.dataset.reports import estimate as run_estimate
    from git_ml.dataset.reports import format_estimate
    from git_ml.repo import config_get, open_repository
    from git_ml.store.core import Store

    repo = open_repository()
    data = run_estimate(repo, now=parse_when(now), window_days=window)
    milestones.update(repo, data, milestones.stored_lines(Store(repo)), config_get(repo, milestones.CONFIG))
    milestones.annotate(data, milestones.load_state(repo))
    if json_out:
        import json

        print(json.dumps(data, indent=2))
        return
    print(format_estimate(data))


def main() -> int:
    return run_typer(PROG, app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
