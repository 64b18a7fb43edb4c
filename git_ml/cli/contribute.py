"""``git-ml-contribute``: opt in to (or out of) exporting anonymised aggregate patterns; nothing is ever sent."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from git_ml.cli.common import run_typer

PROG = "git ml contribute"
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None, no_args_is_help=False,
                  help="Opt-in export of anonymised aggregate patterns of this repository's git-ml data: "
                       "commit-type mix, files and lines per commit, hour and weekday histograms, co-change "
                       "structure over HMAC-hashed paths, tool usage counts. No messages, code, clear-text paths "
                       "or names. Nothing is ever sent anywhere: export writes a local file for you to read and, "
                       "if you choose, share.",
                  context_settings={"help_option_names": ["-h", "--help"]})

_CTX = {"help_option_names": ["-h", "--help"]}


@app.callback(invoke_without_command=True)
def _default(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        status()


@app.command(context_settings=_CTX)
def status() -> None:
    """Show whether this repository opted in (git config ml.contribute) and exactly what an export contains."""
    from git_ml.dataset.contribute import CONTENTS, is_enabled, key_path
    from git_ml.repo import open_repository

    repo = open_repository()
    on = is_enabled(repo)
    print(f"contribution: {'enabled' if on else 'disabled'} (git config ml.contribute)")
    key = key_path(repo)
    print(f"secret key for path hashing: {key if key.exists() else 'not created yet'}")
    print("nothing is ever sent anywhere: `git ml contribute export --output FILE` writes a local file")
    print("an export contains exactly:")
    for line in CONTENTS.splitlines():
        print(f"  {line}")


@app.command(context_settings=_CTX)
def enable() -> None:
    """Opt in: set git config ml.contribute true and create the per-repository secret key (.git/ml/)."""
    from git_ml.dataset.contribute import key_path, load_key, set_enabled
    from git_ml.repo import open_repository

    repo = open_repository()
    set_enabled(repo, True)
    load_key(repo)
    print(f"contribution enabled; paths will be hashed with the secret key in {key_path(repo)}")
    print("nothing is sent: run `git ml contribute export --output FILE` to write the file, then read it")


@app.command(context_settings=_CTX)
def disable() -> None:
    """Opt out: set git config ml.contribute false (the key stays; `git ml cleanup --all` removes it)."""
    from git_ml.dataset.contribute import set_enabled
    from git_ml.repo import open_repository

    set_enabled(open_repository(), False)
    print("contribution disabled")


@app.command("export", context_settings=_CTX)
def export_(
    output: Annotated[str, typer.Option("--output", "-o", metavar="FILE",
                                        help="The JSON file to write (- for standard output).")],
    min_count: Annotated[int, typer.Option("--min-count", metavar="N", min=1,
                                           help="Leave out co-change pairs and files seen fewer than N "
                                                "times.")] = 3,
) -> None:
    """Write the anonymised aggregate patterns to FILE (only after `enable`). See `status` for the exact
    contents."""
    from git_ml.dataset.contribute import write_contribution
    from git_ml.repo import open_repository

    data = write_contribution(open_repository(), output, min_count)
    if output != "-":
        c = data["counts"]
        sys.stderr.write(f"wrote {output}: aggregates of {c['commits']} commits and {c['chats']} chats, "
                         f"{len(data['co_change']['edges'])} co-change pairs over hashed paths\n")


def main() -> int:
    return run_typer(PROG, app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
