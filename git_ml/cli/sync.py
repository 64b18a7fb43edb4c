"""``git-ml-sync``: exchange refs/ml/data with a remote (refs/ml/local never leaves the machine)."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from git_ml.cli.common import run_typer

PROG = "git ml sync"
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def sync(
    remote: Annotated[Optional[str], typer.Argument(
        metavar="[REMOTE]", help="The remote to sync with (default: git config ml.remote).")] = None,
    no_push: Annotated[bool, typer.Option("--no-push", help="Fetch and merge only.")] = False,
    compact: Annotated[str, typer.Option(
        "--compact", metavar="auto|always|never",
        help="Compact the merge: auto when it holds at least ml.syncCompactMin (1000) records twice.")] = "auto",
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Fetch the remote's refs/ml/data into refs/ml/remotes/REMOTE/data, merge by union of chunks (records are
    deduplicated by id on read, the latest version wins, tombstones travel along), and push the merge with
    compare-and-swap (--force-with-lease), retrying when the remote moved meanwhile. Works whatever either side
    compacted. Never pushes refs/ml/local."""
    from git_ml.errors import GitMlError
    from git_ml.repo import open_repository
    from git_ml.store.sync import describe
    from git_ml.store.sync import sync as run_sync

    if compact not in ("auto", "always", "never"):
        raise GitMlError(f"--compact must be auto, always or never, not {compact!r}")
    log = None if quiet or json_out else (lambda m: sys.stderr.write(m + "\n"))
    result = run_sync(open_repository(), remote, compact_after=compact, push_changes=not no_push,
                      warn=lambda m: sys.stderr.write(m + "\n"), log=log)
    if json_out:
        import json

        data = {k: (str(v) if v is not None and k in ("fetched", "local_before", "local_after") else v)
                for k, v in vars(result).items()}
        print(json.dumps(data))
    elif not quiet:
        print(describe(result))


def main() -> int:
    return run_typer(PROG, app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
