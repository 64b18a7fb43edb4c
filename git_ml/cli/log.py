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
    from git_ml.explore.log import LogResult, log, render
    from git_ml.explore.terminal import emit, open_index

    if ai_only and no_ai:
        raise GitMlError("--ai-only and --no-ai cannot be used together")
    if limit is not None and limit < 0:
        raise GitMlError("-n takes a number of commits (0 or more)")
    repo, ix = open_index()
    if limit == 0:
        result = LogResult([], 0, 0, 0)
    else:
        result = log(repo, ix, revs, paths, limit=limit, ai="only" if ai_only else ("none" if no_ai else "all"))
    emit(repo, result.to_json() if json_out else None, lambda out: render(result, out), json_out, color, pager)
    return 0


def _call(opts: dict, pos: list[str], rest: list[str] | None):
    limit = None
    revs = []
    for a in pos:
        if a.startswith("-") and a[1:].isdigit():
            limit = int(a[1:])  # -5, as git log takes it
        else:
            revs.append(a)
    limit = opts.get("limit", limit)
    return lambda: run(revs, list(rest or []), limit, opts.get("ai_only", False), opts.get("no_ai", False),
                       opts.get("json", False), opts.get("color"), opts.get("pager", True))


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
    def log(
        args: Annotated[Optional[list[str]], typer.Argument(metavar="[REV-RANGE] [-- PATHS]",
                                                            help="Revisions as git log takes them; paths after --.")
                        ] = None,
        limit: Annotated[Optional[int], typer.Option("-n", "--max-count", metavar="N",
                                                     help="List at most N commits.")] = None,
        ai_only: Annotated[bool, typer.Option("--ai-only", help="Only commits with a chat behind them.")] = False,
        no_ai: Annotated[bool, typer.Option("--no-ai", help="Only commits without a chat behind them.")] = False,
        json_out: Json = False, color: Color = None, no_pager: NoPager = False,
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
