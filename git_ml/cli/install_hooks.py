"""``git ml install-hooks``: install, remove or show the git hooks and Claude Code hooks that capture work."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from git_ml.cli.common import run_typer
from git_ml.errors import ExitCode

PROG = "git ml install-hooks"

app = typer.Typer(
    name="git-ml-install-hooks",
    add_completion=False,
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _rel(path: Path) -> str:
    """``path`` relative to the current directory when it is below it, else absolute."""
    try:
        return os.path.relpath(path) if Path(os.path.abspath(path)).is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)


def _print_git(rows) -> None:
    for row in rows:
        typer.echo(f"{row.hook}: {row.action} ({_rel(row.path)})")


def _print_claude(rows) -> None:
    for row in rows:
        label = row.event if row.event.startswith("git ") else f"Claude Code {row.event}"
        typer.echo(f"{label}: {row.action} ({_rel(row.path)})")


def _print_editor(name: str, rows) -> None:
    from git_ml.hooks.editors import SPECS

    for row in rows:
        label = row.event if row.event.startswith("git ") else f"{SPECS[name].label} {row.event}"
        typer.echo(f"{label}: {row.action} ({_rel(row.path)})")


def _status(repo, exec_dir) -> None:
    from git_ml.errors import GitMlError
    from git_ml.hooks.claude import claude_hook_status
    from git_ml.hooks.git import CAPTURE, find_executable, hook_status, installed_capture_path

    try:
        typer.echo(f"executable: {find_executable(CAPTURE, exec_dir)}")
    except GitMlError as exc:
        typer.echo(f"executable: not found ({exc})")
    for row in hook_status(repo, exec_dir):
        extra = ""
        if row.ours:
            target = installed_capture_path(row.path)
            extra = f" -> {target}" if target else ""
        chained = ", runs the hook that was there" if row.chained else ""
        fix = f" ({row.fix})" if row.fix else ""
        typer.echo(f"{row.hook:<14} {row.state:<11} {_rel(row.path)}{extra}{chained}{fix}")
    if not repo.workdir:
        return  # bare: no Claude Code settings
    for row in claude_hook_status(repo, exec_dir):
        typer.echo(f"{'Claude ' + row.event:<21} {row.state:<11} {_rel(row.path)}")
    from git_ml.hooks.editors import SPECS, hook_file, installed

    for name, spec in SPECS.items():
        state = "installed" if installed(repo, name) else "missing"
        typer.echo(f"{spec.label:<21} {state:<11} {_rel(hook_file(repo, name))}")


@app.command(
    help=(
        "Install the git hooks (post-commit, post-rewrite, post-merge, pre-push) that capture commits into "
        "refs/ml/*, and optionally the hooks of Claude Code, Gemini CLI, Cursor and GitHub Copilot CLI that capture "
        "sessions. A hook already in place keeps "
        "its name and still runs: a shell script gets a marked block after its #! line, anything else moves to "
        "git-ml-chained/<hook> and runs first. When core.hooksPath is a directory tracked by the repository, "
        "its files are left alone and the lines to add are printed. Installing again changes nothing (or updates the "
        "executable's path); --uninstall puts everything back. The hooks call git-ml-capture by absolute path; "
        "set GIT_ML_EXEC_DIR (or --exec-dir) to choose its directory."
    )
)
def install_hooks(
    uninstall: bool = typer.Option(
        False,
        "--uninstall",
        help="Remove the hooks and restore hooks they replaced; also removes git-ml's entries from "
        ".claude/settings.local.json (and from .claude/settings.json with --shared) and from the Gemini CLI, "
        "Cursor and Copilot CLI hook files.",
    ),
    claude: bool = typer.Option(False, "--claude", help="Also install the Claude Code session hooks."),
    gemini: bool = typer.Option(
        False, "--gemini", help="Also install the Gemini CLI hooks (.gemini/settings.json: AfterAgent, SessionEnd)."
    ),
    cursor: bool = typer.Option(
        False, "--cursor", help="Also install the Cursor hooks (.cursor/hooks.json: stop, afterFileEdit)."
    ),
    copilot: bool = typer.Option(
        False, "--copilot", help="Also install the GitHub Copilot CLI hooks (.github/hooks/git-ml.json)."
    ),
    shared: bool = typer.Option(
        False, "--shared", help="Claude Code hooks go to .claude/settings.json, committed for the whole team; the "
        "Gemini CLI, Cursor and Copilot CLI hook files are then not added to .git/info/exclude."
    ),
    local: bool = typer.Option(
        False, "--local", help="Claude Code hooks go to .claude/settings.local.json, this clone only (default)."
    ),
    no_git: bool = typer.Option(False, "--no-git", help="Leave the git hooks alone (only the Claude Code hooks)."),
    status: bool = typer.Option(False, "--status", help="Show which hooks are installed and exit."),
    exec_dir: Optional[Path] = typer.Option(
        None,
        "--exec-dir",
        metavar="DIR",
        help="Directory holding git-ml-capture for the hooks to call (default: $GIT_ML_EXEC_DIR, else the "
        "directory of this program, the Python scripts directory, a checkout's bin/, then PATH).",
    ),
) -> int:
    from git_ml.errors import GitMlError
    from git_ml.hooks.claude import has_our_hooks, install_claude_hooks, uninstall_claude_hooks
    from git_ml.hooks.git import hooks_dir, is_outside_repository, tracked_hooks_dir, uninstall_hooks
    from git_ml.hooks.git import install_hooks as install_git
    from git_ml.hooks.scripts import team_line
    from git_ml.repo import open_repository

    if shared and local:
        raise GitMlError("--shared and --local exclude each other")
    repo = open_repository()
    if status:
        _status(repo, exec_dir)
        return ExitCode.OK

    from git_ml.hooks import editors

    chosen = [name for name, flag in (("gemini", gemini), ("cursor", cursor), ("copilot", copilot)) if flag]
    want_claude = claude or ((shared or local) and not chosen)
    if uninstall:
        if repo.workdir:
            for name in editors.SPECS:
                if name in chosen or editors.installed(repo, name):
                    _print_editor(name, editors.uninstall(repo, name))
        if not no_git:
            _print_git(uninstall_hooks(repo))
        if repo.workdir:
            if want_claude or has_our_hooks(repo, shared=False):
                _print_claude(uninstall_claude_hooks(repo, shared=False))
            if shared:
                _print_claude(uninstall_claude_hooks(repo, shared=True))
            elif has_our_hooks(repo, shared=True):
                typer.echo("note: .claude/settings.json (shared) still has git-ml hooks; add --shared to remove them")
        return ExitCode.OK

    if no_git and not want_claude and not chosen:
        raise GitMlError("nothing to install: --no-git needs --claude, --gemini, --cursor or --copilot")
    if not no_git:
        rows = install_git(repo, exec_dir)
        _print_git(rows)
        directory = hooks_dir(repo)
        if tracked_hooks_dir(repo, directory):
            typer.echo(f"note: core.hooksPath {_rel(directory)} is tracked by this repository, so git-ml does not "
                       "edit the team's hooks; to capture, add to each hook file:")
            for row in rows:
                typer.echo(f"  {_rel(row.path)}: {team_line(row.hook)}")
        if is_outside_repository(repo, directory):
            typer.echo(
                f"note: core.hooksPath {directory} is outside this repository: "
                "other repositories using it run these hooks too"
            )
    if want_claude:
        _print_claude(install_claude_hooks(repo, shared=shared, exec_dir=exec_dir))
    for name in chosen:
        _print_editor(name, editors.install(repo, name, shared=shared, exec_dir=exec_dir))
    return ExitCode.OK


def main() -> int:
    return run_typer(PROG, app)


if __name__ == "__main__":
    raise SystemExit(main())
