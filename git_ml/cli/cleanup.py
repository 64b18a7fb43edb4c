"""``git-ml-cleanup``: retention of conversation data, or removal of everything git-ml added."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from git_ml.cli.common import run_typer

PROG = "git ml cleanup"
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def cleanup(
    days: Annotated[Optional[int], typer.Option("--days", metavar="N",
                                                help="Delete records older than N days (default: git config "
                                                     "ml.retentionDays, else 730).")] = None,
    streams: Annotated[Optional[str], typer.Option("--streams", metavar="LIST",
                                                   help="What to clean, comma-separated: chats, sessions, "
                                                        "feedback, links, commits, conversations (the default: "
                                                        "the first four) or all.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n", help="Show what would go; change nothing.")] = False,
    all_: Annotated[bool, typer.Option("--all", help="Remove everything git-ml added: its git and Claude Code "
                                                     "hooks, refs/ml/* and .git/ml/.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Confirm --all.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    now: Annotated[Optional[str], typer.Option("--now", metavar="WHEN", hidden=True,
                                               help="Pretend the time is WHEN (tests).")] = None,
) -> None:
    """Delete conversation data older than the retention period: chats, sessions, feedback, and the links to
    removed chats. Commit records mirror history the repository keeps anyway, so they go only with
    --streams commits (with their diff hunks and links).

    Each deleted record gets a tombstone, which hides it at once and travels with sync, so a merge never brings
    it back; only the chunks holding deleted records are rewritten, in one atomic update written as a new root
    commit, so the old chunks stay reachable only from the reflog of refs/ml/data until it expires (`git reflog
    expire --expire=now refs/ml/data && git gc --prune=now` frees the space at once). Copies already pushed
    elsewhere go only when those clones sync and compact.

    --all removes everything git-ml added (hooks, refs/ml/*, .git/ml/) and needs --yes; --dry-run shows it first.
    """
    import json

    from git_ml.errors import GitMlError
    from git_ml.repo import open_repository

    repo = open_repository()
    if all_:
        from git_ml.store.retention import everything_added, remove_everything

        if days is not None or streams is not None:
            raise GitMlError("--all removes everything: it takes no --days or --streams")
        found = everything_added(repo)
        if dry_run or not yes:
            if json_out:
                print(json.dumps({"would_remove": found}, indent=2))
            else:
                _print_found(found)
            if not dry_run:
                raise GitMlError("nothing removed: add --yes to remove all of the above")
            return
        done = remove_everything(repo)
        if json_out:
            print(json.dumps({"removed": done}, indent=2))
            return
        for line in done["hooks"]:
            print(f"hook {line}")
        for line in done["claude_settings"]:
            print(f"claude settings {line}")
        for ref in done["refs"]:
            print(f"deleted {ref}")
        if done["ml_dir"]:
            print(f"removed {done['ml_dir']}")
        print("git-ml data removed from this repository; `git gc --prune=now` frees the space now "
              "(git config keys ml.* are left: `git config --remove-section ml` removes them)")
        return

    from git_ml.dataset.export.options import parse_when
    from git_ml.store.retention import PUSHED_NOTE, apply_cleanup, parse_streams, plan_cleanup, retention_days

    n = retention_days(repo, days)
    plan = plan_cleanup(repo, n, parse_streams(streams), now=parse_when(now))
    summary = plan.summary()
    if not dry_run and plan.total:
        summary["tips"] = apply_cleanup(repo, plan)
    summary["dry_run"] = dry_run
    if json_out:
        summary["note"] = PUSHED_NOTE
        print(json.dumps(summary, indent=2))
        return
    if not plan.total:
        print(f"nothing older than {n} days in {', '.join(plan.streams)}")
        return
    what = ", ".join(f"{count} {stream}" for stream, count in sorted(summary["delete"].items()))
    verb = "would delete" if dry_run else "deleted"
    print(f"{verb}: {what} (older than {n} days, before {summary['cutoff']}; "
          f"{summary['chunks_rewritten']} chunks rewritten)")
    if plan.oldest:
        print(f"dates of what {'would go' if dry_run else 'went'}: {plan.oldest} to {plan.newest}")
    if dry_run:
        for stream, ids in sorted(summary["sample"].items()):
            total = summary["delete"][stream]
            print(f"  {stream}: {', '.join(ids[:5])}" + (f" and {total - 5} more" if total > 5 else ""))
    if not dry_run:
        print("old chunks stay in the reflog of refs/ml/data until it expires; to free the space now: "
              "git reflog expire --expire=now refs/ml/data refs/ml/local && git gc --prune=now")
    print(f"note: {PUSHED_NOTE}")


def _print_found(found: dict) -> None:
    print("cleanup --all would remove:")
    for path in found["hooks"]:
        print(f"  hook {path}")
    for path in found["claude_settings"]:
        print(f"  Claude Code hooks in {path}")
    for ref in found["refs"]:
        print(f"  {ref}")
    if found["ml_dir"]:
        print(f"  {found['ml_dir']} ({found['ml_dir_bytes']:,} bytes)")
    if not (found["hooks"] or found["claude_settings"] or found["refs"] or found["ml_dir"]):
        print("  nothing: git-ml left nothing here")


def main() -> int:
    return run_typer(PROG, app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
