"""A populated store that several test files share: commits, chats in two sessions, feedback, a link, a tombstone,
a newer version of a chat, a duplicate pair, an empty response and one diff."""

from __future__ import annotations

from conftest import make_history

from git_ml.capture.pipeline import backfill
from git_ml.schema import Chat, Diff, Feedback, Link, Session, Tombstone
from git_ml.store.core import Store

START = 1_700_000_000  # make_history: commit i at START + i * 3600


def iso(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def populate(repo, n_commits: int = 30) -> dict:
    """A store with commits (backfilled), chats in two sessions, feedback, a link, a tombstone, a newer version of
    a chat, a duplicate pair, an empty response and one diff. Returns what tests compare against."""
    shas = make_history(repo, n_commits)
    r = repo.open()
    store = Store(r)
    backfill(r, store)
    t0 = START + 5 * 3600
    chats = []
    for i in range(8):
        sid = "sess-a" if i < 4 else "sess-b"
        chats.append(Chat(id=f"{sid}:p{i}", session_id=sid, assistant="claude-code", model="claude-x",
                          timestamp=iso(t0 + i * 7200), query=f"please change module {i}",
                          response=f"I changed src/mod{i}.py as asked ({i})",
                          files_modified=[f"src/mod{i}.py"], files_referenced=["README.md", "README.md"],
                          tools_used=["Read", "Edit", "Read"], redactions={"api_key": 1} if i == 1 else {}))
    chats[6].response = ""  # empty: left out
    chats[3].query, chats[3].response = chats[2].query, chats[2].response  # duplicate pair of chat 2 (later)
    store.append("chats", chats)
    store.append("sessions", [Session(id="sess-a", assistant="claude-code", started_at=iso(t0)),
                              Session(id="sess-b", assistant="claude-code", started_at=iso(t0 + 8 * 7200))])
    newer = Chat(id="sess-a:p0", session_id="sess-a", assistant="claude-code", timestamp=iso(t0),
                 query="please change module 0", response="second version of the answer",
                 files_modified=["src/mod0.py"])
    store.append("chats", [newer])
    store.append("feedback", [
        Feedback(id="sess-a:p0@1", chat_id="sess-a:p0", rating="bad", time="2026-01-01T00:00:00Z"),
        Feedback(id="sess-a:p0@2", chat_id="sess-a:p0", rating="good", time="2026-01-02T00:00:00Z"),
        Feedback(id="sess-a:p1@1", chat_id="sess-a:p1", rating="bad", time="2026-01-01T00:00:00Z"),
        Feedback(id="sess-a:p2@1", chat_id="sess-a:p2", rating="neutral", time="2026-01-01T00:00:00Z")])
    store.append("links", [Link(id=f"{shas[5]}:sess-a:p0", commit=shas[5], chat_id="sess-a:p0",
                                session_id="sess-a", reason="files", score=1.0)])
    store.append("tombstones", [Tombstone(id="chats:sess-b:p5", stream="chats", target="sess-b:p5",
                                          reason="test")])
    store.append("diffs", [Diff(id=shas[5], text="diff --git a/src/mod5.py b/src/mod5.py\n+line 6\n")])
    return {"shas": shas, "chats": {c.id: c for c in chats}, "t0": t0}


def expected_chat_ids() -> set[str]:
    # p3 duplicates p2 (p2 is earlier and kept), p5 is tombstoned, p6 has an empty response.
    return {"sess-a:p0", "sess-a:p1", "sess-a:p2", "sess-b:p4", "sess-b:p7"}
