"""Ratings of chats. Each rating is a Feedback record (id ``<chat id>@<time>``); the latest per chat wins, so a
change of mind is an append. Ratings are ordered bad < neutral < good; an unrated chat sits with neutral."""

from __future__ import annotations

from collections.abc import Iterable

from git_ml.errors import GitMlError
from git_ml.schema import Chat, Feedback, now_iso

RATINGS = ("bad", "neutral", "good")
RANK = {"bad": 0, "neutral": 1, "good": 2}


def latest_feedback(records: Iterable[Feedback]) -> dict[str, Feedback]:
    """The rating in force for each chat: the latest by time (then by capture), whatever order they come in."""
    out: dict[str, Feedback] = {}
    for fb in records:
        cur = out.get(fb.chat_id)
        if cur is None or (fb.time, fb.captured_at) > (cur.time, cur.captured_at):
            out[fb.chat_id] = fb
    return out


def rank(rating: str | None) -> int:
    return RANK.get(rating or "neutral", 1)


def resolve_chat(chats: Iterable[Chat], prefix: str) -> Chat:
    """A chat by full id or unambiguous prefix: of the whole id, of the prompt part after the session, or the short
    form `show`, `log` and `search` print (a prefix of the session id, a colon, a prefix of the prompt part)."""
    prefix = prefix.strip()
    if not prefix:
        raise GitMlError("empty chat id")
    head, colon, rest = prefix.rpartition(":")
    matches = []
    for chat in chats:
        if chat.id == prefix:
            return chat
        session = chat.session_id or chat.id.rpartition(":")[0]
        tail = chat.id[len(session) + 1:] if session and chat.id.startswith(session + ":") else \
            chat.id.split(":", 1)[-1]
        if chat.id.startswith(prefix) or tail.startswith(prefix) or (
                colon and head and rest and session.startswith(head) and tail.startswith(rest)):
            matches.append(chat)
    if not matches:
        raise GitMlError(f"no chat with id {prefix!r} (see `git ml feedback --list`)")
    if len(matches) > 1:
        shown = ", ".join(c.id for c in matches[:5]) + (", ..." if len(matches) > 5 else "")
        raise GitMlError(f"chat id {prefix!r} is ambiguous: {len(matches)} chats match ({shown})")
    return matches[0]


def make_feedback(chat_id: str, rating: str, comment: str | None = None) -> Feedback:
    if rating not in RATINGS:
        raise GitMlError(f"rating must be one of {', '.join(RATINGS)} (not {rating!r})")
    t = now_iso()
    return Feedback(id=f"{chat_id}@{t}", chat_id=chat_id, rating=rating, comment=comment, time=t)
