"""``git-ml-doctor``: is capturing working here? Hooks, commits not yet captured, the spool, recent errors.

Every finding that needs action comes with its fix, and the exit status is 1 when there is any (0 when all is
well), so that scripts and CI can ask it.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from git_ml.cli.common import run_typer
from git_ml.errors import ExitCode

PROG = "git ml doctor"
# How many commits behind HEAD the uncaptured count examines, newest first (a walk over them takes about 0.3 s on
# git.git); older history is not checked, and the output says so.
SCAN_LIMIT = 20000
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def doctor(json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
           errors: Annotated[int, typer.Option("--errors", metavar="N",
                                               help="How many recent log lines to show.")] = 5) -> int:
    """Show which hooks are installed, how many commits behind HEAD are not captured, records waiting in the
    spool, and the last lines of .git/ml/capture.log. Each finding that needs action says what to run; the exit
    status is 1 when there is any. The uncaptured count examines the newest 20000 commits behind HEAD (every
    commit reachable from it, not only those above the last captured one) and says so when history goes further.

    --json prints {"enabled", "bare", "hooks": [{"hook", "path", "state", "chained", "fix"}], "claude_hooks":
    [{"event", "path", "state", "fix"}], "uncaptured", "opted_out", "uncaptured_examined", "uncaptured_truncated",
    "spooled_files", "recent_log", "findings": [{"what", "fix"}]}."""
    data = diagnose(errors)
    if json_out:
        import json

        print(json.dumps(data, indent=2))
    else:
        print(render(data))
    return ExitCode.ERROR if data["findings"] else ExitCode.OK


def render(data: dict) -> str:
    lines = [f"capture: {'enabled' if data['enabled'] else 'DISABLED (ML_COLLECTION_ENABLED=0 or ml.enabled=false)'}"]
    for hook in data["hooks"]:
        chained = " (runs the hook that was there)" if hook["chained"] else ""
        fix = f"  -> {hook['fix']}" if hook["fix"] else ""
        lines.append(f"hook {hook['hook']:<13} {hook['state']}{chained}  {hook['path']}{fix}")
    if data["bare"]:
        lines.append("claude: bare repository (no work tree): no Claude Code settings to check")
    for hook in data["claude_hooks"]:
        fix = f"  -> {hook['fix']}" if hook["fix"] else ""
        lines.append(f"claude {hook['event']:<13} {hook['state']}  {hook['path']}{fix}")
    lag = data["uncaptured"]
    scope = (f" (of the newest {data['uncaptured_examined']} commits behind HEAD; older history not checked)"
             if data["uncaptured_truncated"] else "")
    lines.append(f"uncaptured commits behind HEAD: {lag}{scope}"
                 + ("  -> run `git ml capture --backfill`" if lag else ""))
    if data["opted_out"]:
        lines.append(f"made with collection off (left out on purpose): {data['opted_out']}")
    lines.append(f"spooled files waiting: {data['spooled_files']}"
                 + ("  (the next capture stores them)" if data["spooled_files"] else ""))
    if data["recent_log"]:
        lines.append("recent capture.log:")
        lines += [f"  {line}" for line in data["recent_log"]]
    else:
        lines.append("capture.log: no errors recorded")
    if data["findings"]:
        lines.append(f"{len(data['findings'])} to fix:")
        lines += [f"  {f['what']}: {f['fix']}" for f in data["findings"]]
    else:
        lines.append("all good")
    return "\n".join(lines)


def uncaptured(repo, index, skipped: set[str] | frozenset = frozenset(),
               limit: int = SCAN_LIMIT) -> tuple[int, int, int, bool]:
    """(commits reachable from HEAD that are not in the store, of those the ones made with collection off (in
    ``skipped``: left out on purpose, not counted in the first number), commits examined, whether history went
    past ``limit``). Walks every commit reachable from HEAD, newest first: gaps behind captured commits count too
    (after a catch-up that hit its bound, a filter-branch, an unshallowed clone)."""
    import pygit2

    if repo.head_is_unborn:
        return 0, 0, 0, False
    captured = index.load()
    missing = opted_out = examined = 0
    for commit in repo.walk(repo.head.target, pygit2.enums.SortMode.TIME):
        if examined >= limit:
            return missing, opted_out, examined, True
        examined += 1
        if commit.id.raw in captured:
            continue
        if skipped and str(commit.id) in skipped:
            opted_out += 1
        else:
            missing += 1
    return missing, opted_out, examined, False


def _claude_fix(state: str) -> str | None:
    return {"stale-path": "run `git ml install-hooks --claude`",
            "unreadable": "fix the JSON of this settings file, then run `git ml install-hooks --claude`"}.get(state)


def diagnose(log_lines: int = 5) -> dict:
    from git_ml.capture.optout import skipped_ids
    from git_ml.capture.pipeline import CapturedIndex
    from git_ml.hooks.claude import claude_hook_status
    from git_ml.hooks.git import hook_status
    from git_ml.repo import collection_enabled, open_repository
    from git_ml.store import spool
    from git_ml.store.core import Store

    repo = open_repository()
    enabled = collection_enabled(repo)
    missing, opted_out, examined, truncated = uncaptured(repo, CapturedIndex(repo, Store(repo)), skipped_ids(repo))
    hooks = [{"hook": h.hook, "path": str(h.path), "state": h.state, "chained": h.chained,
              "fix": h.fix if enabled else None} for h in hook_status(repo)]
    claude = []
    if not repo.is_bare:
        claude = [{"event": h.event, "path": str(h.path), "state": h.state, "fix": _claude_fix(h.state)}
                  for h in claude_hook_status(repo) if h.state != "missing"]
    by_fix: dict[str, list[str]] = {}
    for h in hooks:
        if h["fix"] and h["state"] != "other-install":  # another install's executable still captures
            by_fix.setdefault(h["fix"], []).append(h["hook"])
    findings = [{"what": f"{'hooks' if len(names) > 1 else 'hook'} {', '.join(names)}", "fix": fix}
                for fix, names in by_fix.items()]
    findings += [{"what": f"Claude Code {h['event']} hook {h['state']}", "fix": h["fix"]} for h in claude if h["fix"]]
    if missing and enabled:
        findings.append({"what": f"{missing} commits behind HEAD not captured", "fix": "run `git ml capture --backfill`"})
    return {
        "enabled": enabled,
        "bare": repo.is_bare,
        "hooks": hooks,
        "claude_hooks": claude,
        "uncaptured": missing,
        "opted_out": opted_out,
        "uncaptured_examined": examined,
        "uncaptured_truncated": truncated,
        "spooled_files": len(spool.pending(repo)),
        "recent_log": spool.recent_log(repo, log_lines),
        "findings": findings,
    }


def main() -> int:
    return run_typer(PROG, app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
