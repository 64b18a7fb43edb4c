"""``git-ml-capture``: record commits (and, with `session` / `import`, assistant sessions).

`--hook NAME` is the path git's hooks take: it is dispatched before any CLI framework is imported.
"""


import sys
from typing import Annotated, Optional

PROG = "git ml capture"


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["--hook"]:
        from ..capture.hook import run_hook

        return run_hook(args[1:])
    from .common import run_typer

    return run_typer(PROG, build_app())


def build_app():
    import typer

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
                      help="Record commits into the git-ml store (refs/ml/data).")

    @app.command(context_settings={"help_option_names": ["-h", "--help"]})
    def capture(
        revisions: Annotated[Optional[list[str]], typer.Argument(metavar="[REVISION]...",
            help="Commits to capture (default HEAD). With --backfill: ranges as git log takes them.")] = None,
        backfill: Annotated[bool, typer.Option(
            "--backfill", help="Import the history reachable from the revisions (default HEAD); "
                               "commits already captured are skipped.")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
    ) -> None:
        """Capture commits: message, author, time, branch, files with line counts, patch id.

        Full diff hunks go to refs/ml/local (bounded by `git config ml.diffLimit`, bytes).
        Turned off by ML_COLLECTION_ENABLED=0 or `git config ml.enabled false`.
        """
        _capture(revisions or [], backfill, quiet)

    return app


def _capture(revisions: list[str], backfill: bool, quiet: bool) -> None:
    from ..capture.pipeline import backfill as run_backfill
    from ..capture.pipeline import capture_revisions
    from ..repo import collection_enabled, open_repository
    from ..store import Store
    from .common import Progress

    repo = open_repository()
    if not collection_enabled(repo):
        if not quiet:
            print("capture is disabled (ML_COLLECTION_ENABLED=0 or ml.enabled=false); nothing recorded")
        return
    store = Store(repo)
    if backfill:
        bar = Progress("Backfilling commits")

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.advance(done - bar.done)

        result = run_backfill(repo, store, revisions, progress=progress)
        if result.captured:
            bar.close()
        if not quiet:
            print(f"backfill: {result.captured} commits captured, {result.skipped} already captured")
    else:
        if repo.head_is_unborn and not revisions:
            from ..errors import GitMlError

            raise GitMlError("nothing to capture: the repository has no commits yet")
        result = capture_revisions(repo, store, revisions or ["HEAD"])
        if not quiet:
            print(f"captured {result.captured} commits, {result.skipped} already captured")
    if result.records:
        from ..capture.hook import _after_capture

        _after_capture(repo, store, result.records)


def click_commands():
    import typer

    return [("git-ml-capture", typer.main.get_command(build_app()))]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
