"""``git-ml-capture``: record commits (and, with `session` / `import`, assistant sessions).

`--hook NAME` is the path git's hooks take: it is dispatched before any CLI framework is imported.
"""


import os
import sys

from git_ml.errors import ExitCode

PROG = "git ml capture"


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["--hook"]:
        from git_ml.capture.git_hook import run_hook

        return run_hook(args[1:])
    if args[:1] == ["session"] and not ({"-h", "--help"} & set(args)):
        import io

        event = sys.stdin.buffer.read()
        source = args[args.index("--from") + 1] if "--from" in args[:-1] else "claude"
        if source in ("gemini", "cursor"):  # they read the hook's stdout as JSON: an empty answer changes nothing
            sys.stdout.write("{}\n")
            sys.stdout.flush()
        if _detached():
            return ExitCode.OK  # the assistant's hook returns now; a child process does the capture
        if source != "claude":
            from git_ml.capture.live import hook_main as live_main

            return live_main(source, event.decode("utf-8", "replace"))
        from git_ml.capture.sessions import hook_main

        return hook_main(io.StringIO(event.decode("utf-8", "replace")))
    from git_ml.cli.common import run_typer

    if args[:1] in (["session"], ["import"]):
        app = build_session_app() if args[0] == "session" else build_import_app()
        return run_typer(f"{PROG} {args[0]}", app, args[1:])
    return run_typer(PROG, build_app(), args)


def _detached() -> bool:
    """Fork the capture off so that the assistant never waits for it (the interpreter's imports are most of a
    capture's cost). True in the parent, which returns at once. GIT_ML_HOOK_SYNC=1 keeps it in the foreground."""
    if os.environ.get("GIT_ML_HOOK_SYNC") == "1" or not hasattr(os, "fork"):
        return False
    try:
        if os.fork() > 0:
            return True
    except OSError:
        return False
    os.setsid()  # out of the assistant's process group, and its pipes closed: nothing waits for this process
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    return False


def build_app():
    from typing import Annotated, Optional

    import typer

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
                      help="Record commits into the git-ml store (refs/ml/data).")

    @app.command(context_settings={"help_option_names": ["-h", "--help"]})
    def capture(
        revisions: Annotated[Optional[list[str]], typer.Argument(metavar="[REVISION]...",
            help="Commits to capture (default: HEAD and the uncaptured commits behind it, as the hooks do). "
                 "With --backfill: ranges as git log takes them.")] = None,
        backfill: Annotated[bool, typer.Option(
            "--backfill", help="Import the history reachable from the revisions (default HEAD); "
                               "commits already captured, and commits made with collection off, are skipped.")] = False,
        diffs: Annotated[bool, typer.Option(
            "--diffs", help="With --backfill: also store the diff hunks of the history (refs/ml/local, at most "
                            "ml.diffLimit bytes per commit), which a backfill otherwise leaves out.")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
    ) -> None:
        """Capture commits: message, author, time, branch, files with line counts, patch id.

        Full diff hunks of commits captured by the hooks or by naming them go to refs/ml/local (bounded by
        `git config ml.diffLimit`, bytes); a backfill stores them only with --diffs.
        Turned off by ML_COLLECTION_ENABLED=0 or `git config ml.enabled false`; a commit made while it was off is
        remembered and left out of later captures and backfills unless named as a REVISION.
        A non-UTF-8 file name is stored with its undecodable bytes written \\xNN and its exact bytes in the
        record's raw_paths (base64).
        """
        _capture(revisions or [], backfill, diffs, quiet)

    return app


def _capture(revisions: list[str], backfill: bool, diffs: bool, quiet: bool) -> None:
    from git_ml.capture.pipeline import backfill as run_backfill
    from git_ml.capture.pipeline import capture_head, capture_revisions
    from git_ml.cli.common import Progress
    from git_ml.repo import collection_enabled, open_repository
    from git_ml.store.core import Store

    repo = open_repository()
    if not collection_enabled(repo):
        if not quiet:
            print("capture is disabled (ML_COLLECTION_ENABLED=0 or ml.enabled=false); nothing recorded")
        return
    store = Store(repo)
    if diffs and not backfill:
        from git_ml.errors import GitMlError

        raise GitMlError("--diffs goes with --backfill (other captures store diffs already)")
    # The spool first (a hook stores it only when it has something to write), whatever is asked for.
    from git_ml.store import spool

    drained = spool.drain(repo, store)
    if backfill:
        bar = Progress("Backfilling commits")

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if done < bar.done:  # the diffs pass after the commits pass
                bar.close()
                bar = Progress("Backfilling diffs")
            bar.total = total
            bar.advance(done - bar.done)

        result = run_backfill(repo, store, revisions, progress=progress, diffs=diffs)
        if bar.done:
            bar.close()
        if not quiet:
            more = f", {result.opted_out} made with collection off left out" if result.opted_out else ""
            if result.completed:
                more += f", {result.completed} shallow-boundary commits completed"
            if diffs:
                more += f"; diffs of {result.diffs} commits stored"
            print(f"backfill: {result.captured} commits captured, {result.skipped} already captured{more}")
    elif not revisions:
        if repo.head_is_unborn:
            from git_ml.errors import GitMlError

            raise GitMlError("nothing to capture: the repository has no commits yet")
        # HEAD and what is missing behind it (a finished cherry-pick or am series, a pull), as a hook would.
        result = capture_head(repo, store, source="manual", spool_on_busy=False)
        if not quiet:
            print(f"captured {result.captured} commits (HEAD and the uncaptured commits behind it)")
            if drained:
                print(f"stored {drained} records a hook had spooled while the store was busy")
            for hint in result.hints:
                print(f"hint: {hint}")
            if result.opted_out:
                print("HEAD was made with collection off: `git ml capture HEAD` records it anyway")
    else:
        result = capture_revisions(repo, store, revisions)
        if not quiet:
            print(f"captured {result.captured} commits, {result.skipped} already captured")
    if result.records:
        from git_ml.capture.git_hook import after_capture

        after_capture(repo, store, result.records)


def build_session_app():
    from typing import Annotated

    import typer

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)

    @app.command(context_settings={"help_option_names": ["-h", "--help"]})
    def session(
        source: Annotated[str, typer.Option(
            "--from", metavar="NAME", help="The assistant whose hook calls: claude (default), gemini, cursor, "
            "copilot.")] = "claude",
    ) -> None:
        """Record an assistant session from a hook event read on stdin (Claude Code by default).

        The event is JSON with session_id, transcript_path, cwd and hook_event_name. SessionStart records the
        session; Stop, SubagentStop and SessionEnd read the transcript from where the last capture of that session
        stopped and store the new or changed chats; SessionEnd closes the session. Always exits 0: errors go to
        .git/ml/capture.log. Installed by `git ml install-hooks --claude`. With --from gemini, cursor or copilot
        the event is that assistant's (installed by `git ml install-hooks --gemini`, `--cursor`, `--copilot`):
        the session's transcript is read and what changed is stored the same way.
        """

    return app


def build_import_app():
    from typing import Annotated, Optional

    import typer

    from git_ml.capture.transcripts.registry import NAMES

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)

    @app.command(name="import", context_settings={"help_option_names": ["-h", "--help"]})
    def import_(
        paths: Annotated[Optional[list[str]], typer.Argument(
            metavar="[PATH]...", help="Transcript files, task folders or databases. Default: search every "
            "assistant's usual places and keep this repository's sessions.")] = None,
        source: Annotated[str, typer.Option(
            "--from", metavar="NAME", help=f"{', '.join(NAMES)}, or auto (tell by content; the default).")] = "auto",
        rescan: Annotated[bool, typer.Option(
            "--rescan", help="Read again the files that did not change since the last import.")] = False,
        json_out: Annotated[bool, typer.Option("--json", help="Print the counts as one JSON object.")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
    ) -> None:
        """Import existing assistant transcripts: Claude Code, Codex CLI, Gemini CLI, GitHub Copilot CLI, Cursor
        (editor database and cursor-agent), OpenCode, Amp, Cline, Roo Code, Windsurf, Continue, Factory Droid and
        Aider.

        Without PATH every assistant's usual places are searched (~/.claude/projects, ~/.codex/sessions,
        ~/.gemini/tmp, ~/.copilot/session-state, Cursor's User/globalStorage/state.vscdb and ~/.cursor, OpenCode's
        ~/.local/share/opencode, Amp's threads, Cline's and Roo Code's task folders in the editor's globalStorage,
        ~/.windsurf/transcripts, ~/.continue/sessions, ~/.factory/sessions, and .aider.chat.history.md in the
        repository) and only the sessions whose project is this repository, or one of its worktrees, are
        imported. A named PATH is imported
        whatever its project; with --from NAME a file of another format is refused and nothing is stored.
        Idempotent: importing twice stores nothing new, and files unchanged since the last import (same size and
        modification time) are not read again. Chats are linked to the captured commits they produced; malformed
        lines are counted and skipped.
        """
        _import(paths or [], source, rescan, json_out, quiet)

    return app


def _import(paths: list[str], source: str, rescan: bool, json_out: bool, quiet: bool) -> None:
    from git_ml.capture.importer import default_sources, expand_paths, import_transcripts
    from git_ml.capture.transcripts import registry
    from git_ml.cli.common import Progress
    from git_ml.errors import GitMlError
    from git_ml.repo import collection_enabled, open_repository

    if source != "auto":
        registry.info(source)  # an unknown name is an error
    repo = open_repository()
    if not collection_enabled(repo):
        print("capture is disabled (ML_COLLECTION_ENABLED=0 or ml.enabled=false); nothing imported")
        return
    if paths:
        sources = expand_paths(paths, source)
    else:
        if source != "auto":
            registry.require(source)
        sources = default_sources(repo, registry.NAMES if source == "auto" else (source,))
        if not sources:
            raise GitMlError("no transcripts found where the assistants keep them; name files to import")
    bar = Progress("Importing transcripts", total=len(sources), enabled=False if quiet or json_out else None)
    report = import_transcripts(repo, sources, only_this_repository=not paths, rescan=rescan,
                                progress=bar.advance)
    if bar.done:
        bar.close()
    if report.sessions or report.chats:
        from git_ml.dataset.milestones import after_capture
        from git_ml.store.core import Store

        after_capture(repo, Store(repo), None)
    data = {"files": report.files, "unchanged_files": report.unchanged_files, "sessions": report.sessions,
            "chats": report.chats, "unchanged": report.unchanged, "links": report.links,
            "skipped_lines": report.skipped, "malformed_lines": report.malformed, "errors": report.errors}
    if json_out:
        import json

        print(json.dumps(data))
        return
    if not quiet:
        print(f"imported {report.files} files ({report.unchanged_files} unchanged since the last import): "
              f"{report.sessions} sessions, {report.chats} chats stored ({report.unchanged} unchanged), "
              f"{report.links} links; {report.skipped} lines skipped, {report.malformed} malformed")
    for err in report.errors:
        print(f"error: {err}", file=sys.stderr)


def click_commands():
    import typer

    return [("git-ml-capture", typer.main.get_command(build_app())),
            ("git ml capture session", typer.main.get_command(build_session_app())),
            ("git ml capture import", typer.main.get_command(build_import_app()))]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
