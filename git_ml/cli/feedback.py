"""``git-ml-feedback``: rate chats, list the unrated ones, show one with its rating and commits."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer

from git_ml.cli.common import run_typer

PROG = "git ml feedback"
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def feedback(
    chat_id: Annotated[Optional[str], typer.Argument(
        metavar="[CHAT_ID]", help="The chat to rate: its id as any verb prints it (full, the short "
                                  "<session>:<prompt> form of show/log/search, or an unambiguous prefix).")] = None,
    chat_id_opt: Annotated[Optional[str], typer.Option("--chat-id", metavar="CHAT_ID",
                                                       help="The same as CHAT_ID (the older spelling).")] = None,
    rating: Annotated[Optional[str], typer.Option("--rating", "-r", help="good, neutral or bad.")] = None,
    comment: Annotated[Optional[str], typer.Option("--comment", "-m", help="Why (optional).")] = None,
    list_: Annotated[bool, typer.Option("--list", help="Recent chats without feedback.")] = False,
    show: Annotated[Optional[str], typer.Option("--show", metavar="CHAT_ID",
                                                help="Print a chat with its feedback and linked commits.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many chats --list shows.")] = 20,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Rate the chats git-ml captured, so that exports can weigh good examples more.

    `git ml feedback CHAT_ID --rating good|bad|neutral [--comment TEXT]` records a rating (the latest rating of a
    chat wins); `--list` shows recent chats without feedback; `--show CHAT_ID` prints a chat with its feedback and
    the commits it is linked to. --json output: --list prints [{"id", "timestamp", "query", "files"}];
    --show prints {"chat": {...}, "feedback": {...} or null, "commits": [...]}; a rating prints the stored record.
    """
    from git_ml.capture.links import LinkIndex
    from git_ml.dataset.feedback import latest_feedback, make_feedback, resolve_chat
    from git_ml.errors import GitMlError, UsageError
    from git_ml.repo import open_repository
    from git_ml.store.core import Store

    if chat_id_opt is not None:
        if chat_id is not None and chat_id != chat_id_opt:
            raise UsageError("give the chat once: CHAT_ID or --chat-id CHAT_ID")
        chat_id = chat_id_opt
    store = Store(open_repository())
    chats = list(store.iter_records("chats"))
    if not chats:
        raise GitMlError("no chats captured yet: install the Claude Code hooks (`git ml install-hooks --claude`) "
                         "or import transcripts (`git ml capture import`)")
    ratings = latest_feedback(store.iter_records("feedback"))
    if list_:
        unrated = [c for c in chats if c.id not in ratings]
        unrated.sort(key=lambda c: c.timestamp, reverse=True)
        rows = [{"id": c.id, "timestamp": c.timestamp, "query": _first_line(c.query),
                 "files": c.files_modified or c.files_referenced} for c in unrated[:limit]]
        if json_out:
            print(json.dumps(rows, indent=2))
            return
        if not rows:
            print("every chat has feedback")
        for row in rows:
            files = ", ".join(row["files"][:3]) + (" ..." if len(row["files"]) > 3 else "")
            print(f"{row['id']}  {row['timestamp'][:16]}  {row['query'][:60]}" + (f"  [{files}]" if files else ""))
        return
    if show:
        chat = resolve_chat(chats, show)
        fb = ratings.get(chat.id)
        commits = LinkIndex(store.iter_records("links")).commits_of(chat.id)
        if json_out:
            import msgspec

            print(json.dumps({"chat": msgspec.to_builtins(chat), "feedback": msgspec.to_builtins(fb) if fb else None,
                              "commits": commits}, indent=2))
            return
        print(f"chat     {chat.id}\ndate     {chat.timestamp}\nmodel    {chat.model or '-'}")
        print(f"rating   {fb.rating if fb else 'unrated'}" + (f" ({fb.comment})" if fb and fb.comment else ""))
        print(f"commits  {', '.join(c[:12] for c in commits) or '-'}")
        print(f"files    {', '.join(chat.files_modified) or '-'}")
        print(f"tools    {', '.join(f'{k}×{v}' for k, v in chat.tool_counts.items()) or '-'}")
        print(f"\n> {chat.query}\n\n{chat.response}")
        return
    if chat_id is None:
        raise GitMlError("name a chat to rate (CHAT_ID --rating good|neutral|bad), or use --list / --show")
    if rating is None:
        raise GitMlError("--rating good|neutral|bad is required to rate a chat")
    chat = resolve_chat(chats, chat_id)
    record = make_feedback(chat.id, rating.lower(), comment)
    store.append("feedback", [record], message=f"feedback {rating}")
    if json_out:
        import msgspec

        print(json.dumps(msgspec.to_builtins(record)))
    else:
        print(f"rated {chat.id}: {record.rating}")


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def main() -> int:
    return run_typer(PROG, app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
