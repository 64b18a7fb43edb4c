"""``git-ml-doctor``: is capturing working here? Hooks, commits not yet captured, the spool, recent errors."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from git_ml.cli.common import run_typer

PROG = "git ml doctor"
LAG_LIMIT = 10000
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def doctor(json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
           errors: Annotated[int, typer.Option("--errors", metavar="N",
                                               help="How many recent log lines to show.")] = 5) -> None:
    """Show which hooks are installed, how many commits behind HEAD are not captured, records waiting in the
    spool, and the last lines of .git/ml/capture.log."""
    data = diagnose(errors)
    if json_out:
        import json

        print(json.dumps(data, indent=2))
        return
    print(f"capture: {'enabled' if data['enabled'] else 'DISABLED (ML_COLLECTION_ENABLED=0 or ml.enabled=false)'}")
    for hook in data["hooks"]:
        chained = " (runs the previous hook first)" if hook["chained"] else ""
        print(f"hook {hook['hook']:<13} {hook['state']}{chained}  {hook['path']}")
    for hook in data["claude_hooks"]:
        print(f"claude {hook['event']:<13} {hook['state']}  {hook['path']}")
    lag = data["uncaptured"]
    more = "+" if data["uncaptured_truncated"] else ""
    print(f"uncaptured commits behind HEAD: {lag}{more}"
          + (" (run `git ml capture --backfill`)" if lag else ""))
    print(f"spooled files waiting: {data['spooled_files']}")
    if data["recent_log"]:
        print("recent capture.log:")
        for line in data["recent_log"]:
            print(f"  {line}")
    else:
        print("capture.log: no errors recorded")


def diagnose(log_lines: int = 5) -> dict:
    from git_ml.capture.pipeline import CapturedIndex, uncaptured_ancestors
    from git_ml.hooks.claude import claude_hook_status
    from git_ml.hooks.git import hook_status
    from git_ml.repo import collection_enabled, open_repository
    from git_ml.store import spool
    from git_ml.store.core import Store

    repo = open_repository()
    uncaptured, truncated = 0, False
    if not repo.head_is_unborn:
        index = CapturedIndex(repo, Store(repo))
        found, truncated = uncaptured_ancestors(repo, index, repo.head.peel(), LAG_LIMIT)
        uncaptured = len(found)
    return {
        "enabled": collection_enabled(repo),
        "hooks": [{"hook": h.hook, "path": str(h.path), "state": h.state, "chained": h.chained}
                  for h in hook_status(repo)],
        "claude_hooks": [{"event": h.event, "path": str(h.path), "state": h.state}
                         for h in claude_hook_status(repo) if h.state != "missing"],
        "uncaptured": uncaptured,
        "uncaptured_truncated": truncated,
        "spooled_files": len(spool.pending(repo)),
        "recent_log": spool.recent_log(repo, log_lines),
    }


def main() -> int:
    return run_typer(PROG, app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
