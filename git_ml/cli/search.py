"""``git-ml-search``: ranked search over prompts, responses and commit messages."""


import sys

PROG = "git ml search"
SPEC = {"--in": ("where", "value"), "--since": ("since", "value"), "--author": ("author", "value"),
        "--limit": ("limit", "int"), "-n": ("limit", "int")}

HELP = """Search prompts, responses and commit messages for PHRASE, best matches first.

Words are matched as predict matches them (the same tokenizer: lower case, identifier parts, stems, stop words
dropped). Ranking is BM25 with term statistics of this store (prompt weighted 2, commit message 1.5, response 1),
rescored by the share of the query's words a result holds and a bonus when they occur as the phrase itself.
--since takes a date as git does (2026-01-15, "2 weeks ago"); --author matches a commit's author name or email
(a chat matches through the commits linked to it). The first search builds a full-text index under .git/ml/;
later ones update it with what was captured since.

Text output exits 1 when nothing matches, as grep does. --json prints a list (empty when nothing matches, exit 0): [{"kind": "chat"|"commit", "id", "score", "date", "title", "snippet", "commits": [linked
commit ids, for chats], "chats": [linked chat ids, for commits]}]; in "snippet" the matched words are wrapped in
**double asterisks**.
"""


def run(phrase: str, where: str = "all", since: str | None = None, author: str | None = None, limit: int = 10,
        json_out: bool = False, color: bool | None = None, pager: bool = True) -> int:
    from git_ml.explore.search import search
    from git_ml.explore.terminal import emit, open_index

    repo, ix = open_index()
    hits = search(ix, phrase, where=where, since=since, author=author, limit=limit)
    emit(repo, [h.to_json() for h in hits], lambda out: render(hits, out), json_out, color, pager)
    return 0 if hits or json_out else 1


def render(hits, out) -> None:
    from git_ml.explore.render import short_chat

    if not hits:
        out.write("no match")
        return
    for h in hits:
        ident = short_chat(h.id) if h.kind == "chat" else h.id[:10]
        out.write(out.fit((f"{h.kind:<6} ", "dim"), (ident, "ai" if h.kind == "chat" else "commit"),
                          (f"  {h.date[:10]}  score {h.score:.2f}", "dim")))
        out.write(out.fit("  ", " ".join(h.title.split())))
        out.write("  " + out.highlight(h.plain, h.spans, out.width - 2))
        linked = h.commits if h.kind == "chat" else [short_chat(c) for c in h.chats]
        if linked:
            label = "commits " if h.kind == "chat" else "chats "
            shown = ", ".join(c[:10] if h.kind == "chat" else c for c in linked[:5])
            more = f" and {len(linked) - 5} more" if len(linked) > 5 else ""
            out.write(out.fit(("  " + label, "dim"), shown + more))
        out.write("")


def _call(opts: dict, pos: list[str], rest: list[str] | None):
    from git_ml.explore.args import Fallback

    words = pos + (rest or [])
    if not words:
        raise Fallback
    return lambda: run(" ".join(words), opts.get("where", "all"), opts.get("since"), opts.get("author"),
                       opts.get("limit", 10), opts.get("json", False), opts.get("color"), opts.get("pager", True))


def main() -> int:
    from git_ml.explore.terminal import main as explore_main

    return explore_main(PROG, SPEC, _call, build_app)


def build_app():
    from typing import Annotated, Optional

    import typer

    from git_ml.explore.terminal import output_options, typer_app

    app = typer_app()
    Json, Color, NoPager = output_options("A JSON list (schema above).")

    @app.command(help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
    def search(
        phrase: Annotated[list[str], typer.Argument(metavar="PHRASE", help="Words to look for.")],
        where: Annotated[str, typer.Option("--in", metavar="chats|commits|all",
                                           help="Where to look (default all).")] = "all",
        since: Annotated[Optional[str], typer.Option("--since", metavar="DATE",
                                                     help="Only records from DATE on.")] = None,
        author: Annotated[Optional[str], typer.Option("--author", metavar="TEXT",
                                                      help="Only commits (and chats linked to commits) whose "
                                                           "author name or email contains TEXT.")] = None,
        limit: Annotated[int, typer.Option("--limit", "-n", metavar="N", help="At most N results.")] = 10,
        json_out: Json = False, color: Color = None, no_pager: NoPager = False,
    ) -> None:
        raise SystemExit(run(" ".join(phrase), where, since, author, limit, json_out, color, not no_pager))

    return app


def click_commands():
    import typer

    return [("git-ml-search", typer.main.get_command(build_app()))]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
