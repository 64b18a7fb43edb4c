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


# ----- a store whose streams disagree with themselves (the one reader, issue 12) ------------------------------------
LATE = "2030-01-01T00:00:00.000000Z"  # later than any capture of the test run
TIE = "2031-01-01T00:00:00.000000Z"  # two versions captured at the same instant
OLD_CHAT = "2001-01-01T00:00:00.000Z"  # older than any retention
NEW_CHAT = "2099-01-01T00:00:00.000Z"


def _digest(line: bytes) -> bytes:
    import hashlib

    return hashlib.blake2b(line, digest_size=8).digest()


def _tie_pair(make):
    """Two versions (a, b) made by ``make(k)`` whose tie-break by digest disagrees with a byte-wise comparison of
    their lines, so that a reader using any other tie-break picks the other one."""
    import msgspec

    k = 0
    while True:
        a, b = make(k), make(k + 1)
        la, lb = msgspec.json.encode(a), msgspec.json.encode(b)
        if (_digest(la) > _digest(lb)) != (la > lb):
            return a, b
        k += 2


def conflicting_store(repo) -> dict:
    """A store with conflicting versions: a later capture, equal-``captured_at`` ties (commits and chats, whose
    digest order disagrees with byte order, written in separate chunks in both orders), byte-identical copies in
    different chunks, and tombstones (one hiding an id that also has a newer version).

    Returns ``{"shas": [...], "expected": {stream: {id: stored line of the winner}}, "hidden": {stream: {ids}},
    "losers": {stream: {id: [stored lines that must not be read]}}}``. ``expected`` comes from an oracle
    independent of the store's reader: every stored line, grouped by id, the maximum by (captured_at, blake2b-8
    digest of the line), tombstoned ids removed.
    """
    import msgspec

    shas = make_history(repo, 10)
    r = repo.open()
    store = Store(r)
    backfill(r, store)
    base = {c.id: c for c in store.iter_records("commits")}
    rep = msgspec.structs.replace
    losers: dict[str, dict[str, list[bytes]]] = {"commits": {}, "chats": {}}

    # A later capture wins.
    store.append("commits", [rep(base[shas[0]], message="fix: captured later", captured_at=LATE)])
    # Ties: two versions with the same captured_at, each in its own chunk, appended in both orders.
    for n, sha in enumerate(shas[1:5]):
        a, b = _tie_pair(lambda k, sha=sha, n=n: rep(
            base[sha], captured_at=TIE, message=f"{'fix' if k % 2 else 'feat'}: tie {n} version {k}",
            hour_of_day=(3 + k) % 24, files=[("M", f"tie{n}-v{k}.txt", 1, 0, None)]))
        first, second = (a, b) if n % 2 else (b, a)
        store.append("commits", [first])
        store.append("commits", [second])
    # Byte-identical copies in two different chunks.
    dup = rep(base[shas[5]], message="docs: a copy", captured_at=LATE)
    store.append("commits", [dup, rep(base[shas[6]], message="chore: beside the copy", captured_at=LATE)])
    store.append("commits", [dup])
    # Tombstones: one hides a commit that also has a newer version, one a chat.
    store.append("commits", [rep(base[shas[7]], message="refactor: newer but deleted", captured_at=LATE)])

    chats = []
    for n in range(4):
        a, b = _tie_pair(lambda k, n=n: Chat(
            id=f"sess-t:p{n}", session_id="sess-t", assistant="claude-code", captured_at=TIE,
            timestamp=OLD_CHAT if k % 2 else NEW_CHAT, query=f"question {n}", response=f"answer {n} version {k}",
            tools_used=["Edit"] if k % 2 else ["Read"]))
        first, second = (a, b) if n % 2 else (b, a)
        store.append("chats", [first])
        store.append("chats", [second])
        chats.append(a)
    store.append("chats", [Chat(id="sess-t:gone", session_id="sess-t", assistant="claude-code", timestamp=OLD_CHAT,
                                query="deleted", response="deleted")])
    store.append("sessions", [Session(id="sess-t", assistant="claude-code", started_at=OLD_CHAT)])
    store.append("tombstones", [Tombstone(id=f"commits:{shas[7]}", stream="commits", target=shas[7], reason="test"),
                                Tombstone(id="chats:sess-t:gone", stream="chats", target="sess-t:gone",
                                          reason="test")])
    hidden = {"commits": {shas[7]}, "chats": {"sess-t:gone"}}
    expected = {}
    for stream in ("commits", "chats", "sessions", "tombstones"):
        lines = _all_lines(store, stream)
        best: dict[str, bytes] = {}
        for line in lines:
            rid = msgspec.json.decode(line)["id"]
            best.setdefault(rid, line)
            best[rid] = max(best[rid], line, key=lambda x: (msgspec.json.decode(x)["captured_at"], _digest(x)))
        for rid, line in best.items():
            others = [x for x in lines if x != line and msgspec.json.decode(x)["id"] == rid]
            if others and stream in losers:
                losers[stream][rid] = others
        expected[stream] = {rid: line for rid, line in best.items() if rid not in hidden.get(stream, set())}
    return {"shas": shas, "expected": expected, "hidden": hidden, "losers": losers}


def _all_lines(store, stream: str) -> list[bytes]:
    """Every stored line of a stream, straight from the chunks (the oracle's input)."""
    import zstandard

    out = []
    for chunk in store.iter_chunks(stream):
        raw = zstandard.ZstdDecompressor().decompressobj().decompress(store.repo[chunk.oid].read_raw())
        out.extend(x for x in raw.split(b"\n") if x)
    return out
