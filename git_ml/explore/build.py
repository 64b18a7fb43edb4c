"""Building and updating the explore index from the store (see ``index.py``). Imported only when the index is
behind the store's tip, so that a current index is read without pygit2, msgspec or zstandard."""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec
import pygit2

from git_ml.dates import iso_to_unix
from git_ml.errors import CorruptChunk
from git_ml.explore.db import (
    KEPT,
    SCHEMA,
    STREAMS,
    VERSION,
    Codec,
    Records,
    connect,
    load_codecs,
    make_dictionary,
    meta,
    put_lines,
    shape_of,
)
from git_ml.explore.docs import DOC_STREAMS, add_docs, build_docs, remove_docs
from git_ml.store.core import Chunk, Store
from git_ml.store.objects import read_chunk
from git_ml.store.reader import decode_chunk, digest


# Light views of the records: only what the index columns need (the JSON line itself is kept whole).
class _CommitL(msgspec.Struct):
    id: str
    captured_at: str = ""
    time: int = 0
    patch_id: str | None = None
    author: str = ""
    author_email: str = ""
    files: list[list] = []


class _ChatL(msgspec.Struct):
    id: str
    captured_at: str = ""
    session_id: str = ""
    timestamp: str = ""
    prompt_uuid: str | None = None


class _SessionL(msgspec.Struct):
    id: str
    captured_at: str = ""


class _FeedbackL(msgspec.Struct):
    id: str
    captured_at: str = ""
    chat_id: str = ""
    time: str = ""


class _LinkL(msgspec.Struct):
    id: str
    captured_at: str = ""
    commit: str = ""
    chat_id: str = ""
    session_id: str | None = None
    reason: str = ""
    score: float = 0.0
    seconds: int = 0


class _RewriteL(msgspec.Struct):
    id: str
    captured_at: str = ""
    old: str = ""
    new: str = ""
    kind: str = ""
    time: int = 0


class _TombstoneL(msgspec.Struct):
    id: str
    captured_at: str = ""
    stream: str = ""
    target: str = ""


_LIGHT = {"commits": _CommitL, "chats": _ChatL, "sessions": _SessionL, "feedback": _FeedbackL, "links": _LinkL,
          "rewrites": _RewriteL, "tombstones": _TombstoneL}

# The store reader's rule (git_ml.store.reader): the later capture wins; on equal capture times the greater digest
# of the stored line; byte-identical lines (equal digests) are one version.
_NEWER = ("excluded.captured_at > {t}.captured_at OR "
          "(excluded.captured_at = {t}.captured_at AND excluded.digest > {t}.digest)")


def _upsert(table: str, columns: tuple[str, ...]) -> str:
    cols = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    sets = ", ".join(f"{c}=excluded.{c}" for c in columns if c != "id")
    return (f"INSERT INTO {table}({cols}) VALUES({marks}) ON CONFLICT(id) DO UPDATE SET {sets} "
            f"WHERE {_NEWER.format(t=table)}")


_INSERT = {
    "commits": _upsert("commits", ("id", "captured_at", "digest", "time", "patch_id", "shape", "author", "rec")),
    "chats": _upsert("chats", ("id", "captured_at", "digest", "session_id", "uuid", "time", "rec")),
    "sessions": _upsert("sessions", ("id", "captured_at", "digest", "rec")),
    "feedback": _upsert("feedback", ("id", "captured_at", "digest", "chat_id", "time", "rec")),
    "links": _upsert("links", ("id", "captured_at", "digest", "commit_id", "chat_id", "session_id", "reason",
                               "score", "seconds")),
    "rewrites": _upsert("rewrites", ("id", "captured_at", "digest", "old", "new", "kind", "time")),
    "tombstones": _upsert("tombstones", ("id", "captured_at", "digest", "stream", "target")),
}
_HIDEABLE = ("commits", "chats", "sessions", "feedback", "links", "rewrites")


class _Writer:
    """Turns decoded records into rows: digests, lines stored in blocks, authors numbered."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self.codecs = load_codecs(db)
        self.authors: dict[str, int] | None = None

    def author(self, name: str) -> int:
        if self.authors is None:
            self.authors = dict(self.db.execute("SELECT name, id FROM authors"))
        n = self.authors.get(name)
        if n is None:
            n = self.authors[name] = self.db.execute("INSERT INTO authors(name) VALUES(?)", (name,)).lastrowid
        return n

    def codec(self, stream: str, lines: list[bytes]) -> Codec:
        """The stream's codec; its dictionary is sampled from the first lines stored in an empty table."""
        codec = self.codecs[stream]
        if codec.zdict or self.db.execute(f"SELECT 1 FROM {stream} LIMIT 1").fetchone():
            return codec
        zdict = make_dictionary(lines)
        self.db.execute("INSERT OR REPLACE INTO dictionaries VALUES(?, ?)", (stream, zdict))
        self.codecs[stream] = Codec(zdict)
        return self.codecs[stream]

    def rows(self, stream: str, recs: list, lines: list[bytes]) -> list[tuple]:
        """Rows of ``recs`` (light records) decoded from ``lines`` (their stored lines, in order)."""
        digests = [digest(line) for line in lines]
        refs = put_lines(self.db, stream, self.codec(stream, lines), lines) if stream in KEPT and lines else digests
        both = zip(recs, digests, refs)
        if stream == "commits":
            return [(r.id, r.captured_at, d, r.time, r.patch_id, shape_of(r.files),
                     self.author(f"{r.author} <{r.author_email}>" if r.author_email else r.author), p)
                    for r, d, p in both]
        if stream == "chats":
            return [(r.id, r.captured_at, d, r.session_id, r.prompt_uuid or r.id.rpartition(":")[2],
                     iso_to_unix(r.timestamp), p) for r, d, p in both]
        if stream == "sessions":
            return [(r.id, r.captured_at, d, p) for r, d, p in both]
        if stream == "feedback":
            return [(r.id, r.captured_at, d, r.chat_id, r.time, p) for r, d, p in both]
        if stream == "links":
            return [(r.id, r.captured_at, d, r.commit, r.chat_id or None, r.session_id, r.reason, r.score,
                     r.seconds) for r, d, _ in both]
        if stream == "rewrites":
            return [(r.id, r.captured_at, d, r.old, r.new, r.kind, r.time) for r, d, _ in both]
        return [(r.id, r.captured_at, d, r.stream, r.target) for r, d, _ in both]


def _note(message: str) -> None:
    """A progress note for a person waiting at a terminal; silent otherwise."""
    if sys.stderr.isatty():
        sys.stderr.write(message + "\n")


def _warn(message: str) -> None:
    sys.stderr.write(message + "\n")


def _chunk_records(store: Store, chunk: Chunk) -> tuple[list, list[bytes]] | None:
    """(light records, their stored lines) of a chunk, read and decoded as the store's reader does (the safe path:
    a damaged object or frame is named in one warning, never hangs; a frame cut short keeps what decodes)."""
    got = decode_chunk(store, chunk, _LIGHT[chunk.stream])
    if got is None:
        return None
    recs, raw = got
    return recs, [line for line in raw.split(b"\n") if line.strip()]


def _by_id(db: sqlite3.Connection, stream: str, ids: list[str]) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        for row in db.execute(f"SELECT id, digest, rec FROM {stream} WHERE id IN ({','.join('?' * len(part))})",
                              part):
            out[row[0]] = row[1:]
    return out


def _upsert_indexed(db: sqlite3.Connection, stream: str, rows: list[tuple], records: Records) -> None:
    """Upsert rows of a stream with documents and keep the full-text table in step with the versions that won."""
    ids = list(dict.fromkeys(r[0] for r in rows))
    before = _by_id(db, stream, ids)
    db.executemany(_INSERT[stream], rows)
    after = _by_id(db, stream, ids)
    changed = [i for i in ids if before.get(i, (None, None))[0] != after[i][0]]
    remove_docs(db, stream, records, [before[i][1] for i in changed if i in before])
    add_docs(db, stream, records, [after[i][1] for i in changed])


def _apply(db: sqlite3.Connection, store: Store, chunks: Iterable[Chunk], search: bool) -> None:
    """Merge the records of ``chunks`` into the tables; the caller holds a transaction."""
    by_stream: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        if chunk.stream in _INSERT:
            by_stream.setdefault(chunk.stream, []).append(chunk)
    writer = _Writer(db)
    records = Records(db)
    for stream in STREAMS:
        for chunk in by_stream.get(stream, ()):
            got = _chunk_records(store, chunk)
            if not got or not got[0]:
                continue
            rows = writer.rows(stream, *got)
            if search and stream in DOC_STREAMS:
                records.codecs = writer.codecs
                _upsert_indexed(db, stream, rows, records)
            else:
                db.executemany(_INSERT[stream], rows)
    if "commits" in by_stream or "links" in by_stream:
        db.execute("UPDATE links SET (shape, commit_time) = (SELECT c.shape, c.time FROM commits c "
                   "WHERE c.id = links.commit_id)")
    # Tombstones hide their targets, also records appended after their tombstone (a union merge).
    for stream in _HIDEABLE:
        if "tombstones" not in by_stream and stream not in by_stream:
            continue
        if not db.execute("SELECT 1 FROM tombstones WHERE stream=? LIMIT 1", (stream,)).fetchone():
            continue
        dead = f"FROM {stream} WHERE id IN (SELECT target FROM tombstones WHERE stream=?)"
        if search and stream in DOC_STREAMS:
            records.codecs = writer.codecs
            remove_docs(db, stream, records, [r[0] for r in db.execute(f"SELECT rec {dead}", (stream,))])
        db.execute(f"DELETE {dead}", (stream,))


def _all_chunks(store: Store) -> Iterator[Chunk]:
    for stream in STREAMS:
        yield from store.iter_chunks(stream)


def _rebuild(repo: pygit2.Repository, store: Store, path: Path, tip: pygit2.Oid | None, *,
             search: bool) -> sqlite3.Connection:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink()
    except OSError:
        pass
    db = connect(tmp)
    db.execute("PRAGMA auto_vacuum=FULL")  # pages the full-text build frees (merged segments) are given back
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.executescript(SCHEMA)
    db.execute("BEGIN")
    _apply(db, store, _all_chunks(store), search=False)
    db.execute("INSERT OR REPLACE INTO meta VALUES('version', ?)", (str(VERSION),))
    db.execute("INSERT OR REPLACE INTO meta VALUES('tip', ?)", (str(tip) if tip is not None else "",))
    db.execute("INSERT OR REPLACE INTO meta VALUES('built', ?)", (os.urandom(8).hex(),))  # which build this is
    if search:
        build_docs(db)
        db.execute("INSERT OR REPLACE INTO meta VALUES('search', '1')")
    db.execute("COMMIT")
    db.close()
    os.replace(tmp, path)
    for stale in path.parent.glob("explore-v*.sqlite"):
        if stale.name != path.name:  # an index of an older layout
            try:
                stale.unlink()
            except OSError:
                pass
    return connect(path)


def _update(repo: pygit2.Repository, store: Store, db: sqlite3.Connection, path: Path, indexed: str,
            tip: pygit2.Oid | None) -> sqlite3.Connection:
    search = meta(db, "search") == "1"
    delta = _chunk_delta(repo, indexed, tip)
    if delta is not None and delta[1] and not _removal_is_compaction(store, db, *delta):
        delta = None
    if delta is None:
        db.close()
        _note("git-ml: records were removed from the store: re-indexing it")
        return _rebuild(repo, store, path, tip, search=search)
    added = delta[0]
    db.execute("BEGIN IMMEDIATE")
    try:
        if meta(db, "tip") != indexed:  # another process updated it meanwhile
            db.execute("ROLLBACK")
            db.close()
            db = connect(path)
            if meta(db, "tip") == (str(tip) if tip else ""):
                return db
            return _update(repo, store, db, path, meta(db, "tip") or "", tip)
        _apply(db, store, added, search=search)
        db.execute("INSERT OR REPLACE INTO meta VALUES('tip', ?)", (str(tip) if tip is not None else "",))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return db


def _chunk_delta(repo: pygit2.Repository, indexed: str, tip: pygit2.Oid | None) -> tuple[list, list] | None:
    """(added, removed) chunks between the tree at ``indexed`` and the tree at ``tip``; None
    when the indexed tip is gone or a chunk changed in place, which calls for a rebuild."""
    if tip is None or not indexed:
        return None
    try:
        old = repo[indexed].peel(pygit2.Tree)
        new = repo[tip].peel(pygit2.Tree)
    except (KeyError, ValueError, pygit2.GitError):
        return None
    added, removed = [], []
    for delta in old.diff_to_tree(new).deltas:
        if delta.status == pygit2.enums.DeltaStatus.ADDED:
            f = delta.new_file
            added.append(Chunk(f.path.split("/", 1)[0], f.path, f.id, f.size))
        elif delta.status == pygit2.enums.DeltaStatus.DELETED:
            f = delta.old_file
            removed.append(Chunk(f.path.split("/", 1)[0], f.path, f.id, f.size))
        else:
            return None
    return added, removed


class _Id(msgspec.Struct):
    id: str


_IDS = msgspec.json.Decoder(_Id)


def _chunk_ids(store: Store, chunk: Chunk) -> set[str] | None:
    """The ids a chunk holds; None when it does not decode whole (no warning: its reading by ``_apply`` warns)."""
    try:
        data = read_chunk(store.repo, chunk)
        return None if data.damage else {r.id for r in _IDS.decode_lines(data.raw)}
    except (CorruptChunk, msgspec.DecodeError, msgspec.ValidationError):
        return None


def _removal_is_compaction(store: Store, db: sqlite3.Connection, added: list[Chunk], removed: list[Chunk]) -> bool:
    """Whether the chunks removed since the indexed tip only held records that are still in the store (merged
    into the added chunks: automatic or manual compaction), superseded versions, or tombstoned ids, so that the
    index stays exact by merging the added chunks alone. Anything else (records gone for good) means a rebuild.
    Costs a decode of the ids of the removed and added chunks, which for automatic compaction are small."""
    indexed_rows = sum(db.execute(f"SELECT count(*) FROM {s}").fetchone()[0] for s in STREAMS)
    moved = sum(c.count or 0 for c in removed)
    if moved > 20_000 and moved * 2 > indexed_rows:
        return False  # most of a large store was rewritten: a rebuild costs no more
    still: dict[str, set[str]] = {}
    for chunk in added:
        ids = _chunk_ids(store, chunk)
        if ids is None:
            return False
        still.setdefault(chunk.stream, set()).update(ids)
    for chunk in removed:
        stream = chunk.stream
        if stream not in STREAMS:
            continue
        ids = _chunk_ids(store, chunk)
        if ids is None:
            # A corrupt chunk removed by repair: the index skipped it when it was added.
            continue
        gone = ids - still.get(stream, set())
        for i in range(0, len(gone), 500):
            part = list(gone)[i:i + 500]
            q = ",".join("?" * len(part))
            if db.execute(f"SELECT 1 FROM {stream} WHERE id IN ({q}) LIMIT 1", part).fetchone():
                return False
    return True


def refresh(repo: pygit2.Repository, db: sqlite3.Connection | None, path: Path, indexed: str | None,
            tip: str | None) -> sqlite3.Connection:
    """Bring the index at ``path`` (open as ``db``, reflecting ``indexed``) to ``tip``."""
    store = Store(repo, warn=_warn)
    oid = pygit2.Oid(hex=tip) if tip else None
    if db is None or indexed is None:
        if db is not None:
            db.close()
        _note("git-ml: indexing the store for show/log/blame/search (once; later runs read the index)")
        return _rebuild(repo, store, path, oid, search=False)
    return _update(repo, store, db, path, indexed, oid)
