"""``git-ml-show``: a commit with the session and chats behind it, or a chat or session with its commits."""


import sys

PROG = "git ml show"
SPEC = {"--full": ("full", "flag")}

HELP = """Show a commit with the assistant session and chats behind it, or a chat or session with its commits.

ARG is a revision (default HEAD), a chat id (<session id>:<prompt uuid>, or the prompt uuid alone) or a session id;
unambiguous prefixes are accepted, and an ambiguous one lists its candidates. For a commit: its record, then each
linked chat (nearest first) with its prompt, a shortened response (--full prints it whole), files read and
modified, tools, tokens, model and feedback. A commit without links of its own is traced through rewritten
history: post-rewrite records, equal patch ids, the hashes its message names, and squashed content.

--json prints one object. Commit: {"kind": "commit", "id", "captured", "commit": {record}, "via":
link|rewrite|patch-id|message|squash|null, "sources": [ids], "session": {record}|null, "sessions": [ids],
"chats": [{chat record, "link": {"commit", "reason", "score", "seconds"}, "feedback": {record}|null}]}.
Chat: {"kind": "chat", "id", "chat": {record}, "feedback", "session", "commits": [{"id", "subject", "reason",
"score", "seconds"}]}. Session: {"kind": "session", "id", "session": {record}|null, "chats": [{"id", "timestamp",
"query", "files_modified", "commits"}], "commits": [{"id", "subject"}]}.
"""


def run(arg: str | None, full: bool = False, json_out: bool = False, color: bool | None = None,
        pager: bool = True) -> int:
    from git_ml.explore.show import render, show
    from git_ml.explore.terminal import emit, open_index

    repo, ix = open_index(arg or "HEAD")
    doc = show(repo, ix, arg)
    emit(repo, doc, lambda out: render(doc, out, full=full), json_out, color, pager)
    return 0


def _call(opts: dict, pos: list[str], rest: list[str] | None):
    from git_ml.explore.args import Fallback

    args = pos + (rest or [])
    if len(args) > 1:
        raise Fallback
    return lambda: run(args[0] if args else None, opts.get("full", False), opts.get("json", False),
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
    def show(
        arg: Annotated[Optional[str], typer.Argument(metavar="[REV|CHAT_ID|SESSION_ID]",
                                                     help="What to show (default HEAD).")] = None,
        full: Annotated[bool, typer.Option("--full", help="Print whole prompts and responses.")] = False,
        json_out: Json = False, color: Color = None, no_pager: NoPager = False,
    ) -> None:
        raise SystemExit(run(arg, full, json_out, color, not no_pager))

    return app


def click_commands():
    import typer

    return [("git-ml-show", typer.main.get_command(build_app()))]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
