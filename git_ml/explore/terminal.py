"""What the four explore executables (`show`, `log`, `blame`, `search`) share: one way to run them, open the
repository and index, and print JSON or text.

``main(prog, spec, call, build_app)`` is every verb's entry point. typer costs ~60 ms of start-up, a third of
`show`'s budget, so the documented options are parsed by hand (``args.fast_parse``); anything else (``-h``,
``--help``, an unknown option, a malformed value or argument count) goes to the verb's typer app, which prints the
help or the usage error as the man page documents it. Both paths run under the one error edge
(``cli.common.run_main``: errors are one line ``git ml <verb>: ...``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

COLOR_SPEC = {"--color": ("color", "flag"), "--no-color": ("color", "neg"), "--no-pager": ("pager", "neg"),
              "--json": ("json", "flag")}


def main(prog: str, spec: dict[str, tuple[str, str]], call: Callable[[dict, list[str], list[str] | None], Callable],
         build_app: Callable) -> int:
    """Parse ``sys.argv`` with ``spec`` (plus the output options every verb takes) and run what ``call(options,
    positionals, arguments after --)`` returns; ``call`` raises ``args.Fallback`` for command lines it leaves to
    the typer app built by ``build_app``."""
    from git_ml.cli.common import run_main
    from git_ml.explore.args import Fallback, fast_parse

    try:
        opts, pos, rest = fast_parse(sys.argv[1:], {**spec, **COLOR_SPEC})
        body = call(opts, pos, rest)
    except Fallback:
        from git_ml.cli.common import run_typer

        return run_typer(prog, build_app())
    return run_main(prog, body)


def typer_app():
    """The typer app of one explore verb (no completion, plain help, no pretty tracebacks)."""
    import typer

    return typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


def output_options(json_help: str = "One JSON object (schema above)."):
    """The typer annotations of the options every explore verb takes: (--json, --color/--no-color, --no-pager)."""
    from typing import Annotated, Optional

    import typer

    return (Annotated[bool, typer.Option("--json", help=json_help)],
            Annotated[Optional[bool], typer.Option("--color/--no-color", help="Colour (default: on a terminal only).")],
            Annotated[bool, typer.Option("--no-pager", help="Do not page the output.")])


def open_index(rev: str | None = None):
    """The repository (``rev`` resolved on the way when given) and its up-to-date explore index."""
    from git_ml.explore.gitrepo import GitRepo
    from git_ml.explore.index import Index

    repo = GitRepo.discover(rev=rev)
    return repo, Index.open(repo)


def print_json(doc) -> None:
    import json

    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def output(repo, color: bool | None, pager: bool):
    from git_ml.explore.render import Output

    return Output(color=color, pager=pager, repo=repo)


def emit(repo, doc, render: Callable, json_out: bool, color: bool | None, pager: bool) -> None:
    """Print ``doc`` (JSON-ready) as JSON, or ``render(out)`` as text through the pager."""
    if json_out:
        print_json(doc)
        return
    out = output(repo, color, pager)
    render(out)
    out.close()
