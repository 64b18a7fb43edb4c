"""Summaries of the store for `stats` and `doctor`.

Each stream is decoded into a slim struct holding only what the summary needs (msgspec skips the other fields),
then reduced to its current records by the one reader (``git_ml.store.reader``): the latest captured version per id,
with tombstoned ids hidden.
"""

from __future__ import annotations

import gc
from collections import Counter

import msgspec
import pygit2

from git_ml import schema
from git_ml.dataset.feedback import latest_feedback
from git_ml.store.core import Store, chunk_stored_size
from git_ml.store.reader import current, hidden_from
from git_ml.store.rewrites import load_live_history

TOP = 10


class _CommitStat(msgspec.Struct):
    id: str
    captured_at: str = ""
    time: int = 0
    files: list[tuple[str, str, int | None, int | None, str | None]] = []


class _ChatStat(msgspec.Struct):
    id: str
    captured_at: str = ""
    timestamp: str = ""
    assistant: str = ""
    tools_used: list[str] = []
    tool_counts: dict[str, int] = {}


class _SessionStat(msgspec.Struct):
    id: str
    captured_at: str = ""
    started_at: str | None = None


class _FeedbackStat(msgspec.Struct):
    id: str
    captured_at: str = ""
    chat_id: str = ""
    rating: str = ""
    time: str = ""


class _LinkStat(msgspec.Struct):
    id: str
    captured_at: str = ""
    commit: str = ""
    chat_id: str = ""


_SLIM = {"commits": _CommitStat, "chats": _ChatStat, "sessions": _SessionStat, "feedback": _FeedbackStat,
         "links": _LinkStat, "tombstones": schema.Tombstone}


def _utc(ts: float) -> str:
    return schema.iso_from_unix(int(ts))


def store_stats(repo: pygit2.Repository, top: int = TOP) -> dict:
    """Every known stream's record count as a top-level key (0 when empty); everything else under other keys."""
    enabled = gc.isenabled()
    gc.disable()  # many small acyclic objects: see export
    try:
        return _store_stats(repo, top)
    finally:
        if enabled:
            gc.enable()


def _store_stats(repo: pygit2.Repository, top: int) -> dict:
    store = Store(repo)
    out: dict = {}
    streams: dict[str, dict] = {}
    total_chunks = 0
    total_bytes = 0
    tombs = current(store, "tombstones", schema.Tombstone)
    hidden = hidden_from(tombs.values())
    live: dict[str, dict] = {"tombstones": tombs}
    history = load_live_history(store)  # commits superseded by a rewrite are not counted; their links follow
    for stream in schema.ALL_STREAMS:
        chunks = list(store.iter_chunks(stream))
        stored = sum(chunk_stored_size(repo, c.oid) for c in chunks)
        if stream not in live:
            live[stream] = current(store, stream, _SLIM.get(stream, schema.Envelope), hidden=hidden) \
                if chunks else {}
        if stream == "commits":
            live[stream] = history.live_only(live[stream])
        out[stream] = len(live[stream])
        streams[stream] = {"chunks": len(chunks), "stored_bytes": stored}
        total_chunks += len(chunks)
        total_bytes += stored
    out["streams"] = streams
    out["chunks"] = total_chunks
    out["stored_bytes"] = total_bytes

    ranges: dict[str, list[str]] = {}
    commits = live["commits"].values()
    times = [c.time for c in commits if c.time]
    if times:
        out["commits_range"] = ranges["commits"] = [_utc(min(times)), _utc(max(times))]
    for stream, field in (("chats", "timestamp"), ("sessions", "started_at"), ("feedback", "time")):
        values = [getattr(r, field) for r in live[stream].values() if getattr(r, field)]
        if values:
            ranges[stream] = [min(values), max(values)]
    captured = [r.captured_at for s in live.values() for r in s.values() if r.captured_at]
    if captured:
        ranges["captured"] = [min(captured), max(captured)]
    out["ranges"] = ranges

    files: Counter = Counter()
    for c in commits:
        files.update([f[1] for f in c.files])
    out["top_files"] = [[path, n] for path, n in files.most_common(top)]
    tools: Counter = Counter()
    for chat in live["chats"].values():
        if chat.tool_counts:
            tools.update(chat.tool_counts)
        else:
            tools.update(chat.tools_used)
    out["top_tools"] = [[name, n] for name, n in tools.most_common(top)]
    assistants = Counter(chat.assistant or "unknown" for chat in live["chats"].values())
    out["chats_by_assistant"] = dict(sorted(assistants.items(), key=lambda kv: (-kv[1], kv[0])))

    ratings_by_chat = latest_feedback(live["feedback"].values())
    ratings = Counter(fb.rating for chat_id, fb in ratings_by_chat.items() if chat_id in live["chats"])
    out["ratings"] = {"good": ratings.get("good", 0), "neutral": ratings.get("neutral", 0),
                      "bad": ratings.get("bad", 0),
                      "unrated": sum(1 for cid in live["chats"] if cid not in ratings_by_chat)}
    linked_commits = {history.live(lk.commit) for lk in live["links"].values() if lk.chat_id}
    linked_chats = {lk.chat_id for lk in live["links"].values() if lk.chat_id}
    out["linked"] = {"commits_with_chats": len(linked_commits & live["commits"].keys()),
                     "chats_with_commits": len(linked_chats & live["chats"].keys())}
    out["refs"] = {ref: (str(store.tip(ref)) if store.tip(ref) else None) for ref in ("refs/ml/data", "refs/ml/local")}
    out["corrupt"] = [list(c) for c in store.report.corrupt]
    return out
