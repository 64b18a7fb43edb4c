"""``git-ml-blame``: each line's commit and the assistant chat that wrote it."""


import sys

PROG = "git ml blame"
SPEC = {"-L": ("range", "value")}

HELP = """Show, for each line of FILE, the commit that last changed it (git's own blame) and, where an assistant chat
is behind that commit, the chat whose modified files include FILE, with the first line of its prompt.

Commits that were rewritten (rebase, amend, squash) resolve to the chats of the commits they came from: through
post-rewrite records, equal patch ids, the hashes a squash message names, or, for a squash merge made elsewhere,
the earlier commits that added the very lines. The last line counts the lines that trace back to assistant chats.

--json prints one object: {"file", "rev", "lines": [{"line", "commit", "chat", "prompt", "via", "text"}],
"summary": {"lines", "ai_lines", "commits", "chats", "share"}}; "chat" and "prompt" are null for lines without a
chat behind them.
"""


def run(path: str, rev: str | None = None, line_range: str | None = None, json_out: bool = False,
        color: bool | None = None, pager: bool = True) -> int:
    from git_ml.explore.blame import blame, parse_range, render
    from git_ml.explore.terminal import emit, open_index

    rng = parse_range(line_range) if line_range else None
    repo, ix = open_index()
    result = blame(repo, ix, path, rev, rng)
    emit(repo, result.to_json() if json_out else None, lambda out: render(result, out), json_out, color, pager)
    return 0


def _call(opts: dict, pos: list[str], rest: list[str] | None):
    from git_ml.explore.args import Fallback

    args = pos + (rest or [])
    if not 1 <= len(args) <= 2:
        raise Fallback
    return lambda: run(args[0], args[1] if len(args) > 1 else None, opts.get("range"), opts.get("json", False),
                       opts.get("color"), opts.get("pager", True))


def main() -> int:
    from git_ml.explore.terminal import main as explore_main

    return explore_main(PROG, SPEC, _call, build_app)


def build_app():
    from typing import Annotated, Optional

    import typer

    from git_ml.explore.terminal import output_options, typer_app

    app = typer_app()
    Json, Color, NoPager = output_options()

    @app.command(help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
    def blame(
        file: Annotated[str, typer.Argument(metavar="FILE", help="The file to blame.")],
        rev: Annotated[Optional[str], typer.Argument(metavar="[REV]", help="Blame as of this revision "
                                                                           "(default: the working tree).")] = None,
        line_range: Annotated[Optional[str], typer.Option("-L", metavar="START,END",
                                                          help="Only these lines (END may be +COUNT).")] = None,
        json_out: Json = False, color: Color = None, no_pager: NoPager = False,
    ) -> None:
        raise SystemExit(run(file, rev, line_range, json_out, color, not no_pager))

    return app


def click_commands():
    import typer

    return [("git-ml-blame", typer.main.get_command(build_app()))]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
