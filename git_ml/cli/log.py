"""``git-ml-log``: `git log --oneline` with the chats behind each commit."""


import sys

PROG = "git ml log"
SPEC = {"-n": ("limit", "int"), "--max-count": ("limit", "int"), "--ai-only": ("ai_only", "flag"),
        "--no-ai": ("no_ai", "flag")}

HELP = """List commits as `git log --oneline` does, each marked with the number of assistant chats behind it.

REV-RANGE and PATHS mean what they mean to git log (default HEAD). The mark is [ai N] for N linked chats,
[ai N*] when they were found through rewritten history (rebase, amend, squash, patch id), [sess] for a commit
made during an assistant session without file evidence. The last line gives the share of the commits read that
have an assistant chat behind them.

--json prints one object: {"commits": [{"id", "date", "author", "subject", "chats": [chat ids], "sessions":
[session ids], "via": link|rewrite|patch-id|message|null}], "examined", "with_chats", "with_session_only",
"share"}; "examined" counts the commits read before --ai-only/--no-ai filtering.
"""


def run(revs: list[str], paths: list[str], limit: int | None = None, ai_only: bool = False, no_ai: bool = False,
        json_out: bool = False, color: bool | None = None, pager: bool = True) -> int:
    from git_ml.errors import GitMlError
    from git_ml.explore.log import log, render
    from git_ml.explore.terminal import open_index, output, print_json

    if ai_only and no_ai:
        raise GitMlError("--ai-only and --no-ai cannot be used together")
    if limit is not None and limit < 0:
        raise GitMlError("-n takes a number of commits (0 or more)")
    repo, ix = open_index()
    if limit == 0:
        from git_ml.explore.log import LogResult

        result = LogResult([], 0, 0, 0)
    else:
        result = log(repo, ix, revs, paths, limit=limit, ai="only" if ai_only else ("none" if no_ai else "all"))
    if json_out:
        print_json(result.to_json())
        return 0
    out = output(repo, color, pager)
    render(result, out)
    out.close()
    return 0


def _split(args: list[str], rest: list[str] | None) -> tuple[list[str], list[str], int | None]:
    limit = None
    revs = []
    for a in args:
        if a.startswith("-") and a[1:].isdigit():
            limit = int(a[1:])  # -5, as git log takes it
        else:
            revs.append(a)
    return revs, list(rest or []), limit


def main() -> int:
    from git_ml.explore.args import Fallback, fast_parse
    from git_ml.explore.terminal import COLOR_SPEC

    try:
        opts, pos, rest = fast_parse(sys.argv[1:], {**SPEC, **COLOR_SPEC})
    except Fallback:
        from git_ml.cli.common import run_typer

        return run_typer(PROG, build_app())
    from git_ml.cli.common import run_main

    revs, paths, short_limit = _split(pos, rest)
    limit = opts.get("limit", short_limit)
    return run_main(PROG, lambda: run(revs, paths, limit, opts.get("ai_only", False), opts.get("no_ai", False),
                                      opts.get("json", False), opts.get("color"), opts.get("pager", True)))


def build_app():
    from typing import Annotated, Optional

    import typer

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)

    @app.command(help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
    def log(
        args: Annotated[Optional[list[str]], typer.Argument(metavar="[REV-RANGE] [-- PATHS]",
                                                            help="Revisions as git log takes them; paths after --.")
                        ] = None,
        limit: Annotated[Optional[int], typer.Option("-n", "--max-count", metavar="N",
                                                     help="List at most N commits.")] = None,
        ai_only: Annotated[bool, typer.Option("--ai-only", help="Only commits with a chat behind them.")] = False,
        no_ai: Annotated[bool, typer.Option("--no-ai", help="Only commits without a chat behind them.")] = False,
        json_out: Annotated[bool, typer.Option("--json", help="One JSON object (schema above).")] = False,
        color: Annotated[Optional[bool], typer.Option("--color/--no-color",
                                                      help="Colour (default: on a terminal only).")] = None,
        no_pager: Annotated[bool, typer.Option("--no-pager", help="Do not page the output.")] = False,
    ) -> None:
        argv = sys.argv[1:]
        rest = argv[argv.index("--") + 1:] if "--" in argv else []
        revs = [a for a in (args or []) if a not in rest]
        raise SystemExit(run(revs, rest, limit, ai_only, no_ai, json_out, color, not no_pager))

    return app


def click_commands():
    import typer

    return [("git-ml-log", typer.main.get_command(build_app()))]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
