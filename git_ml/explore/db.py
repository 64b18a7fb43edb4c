"""The explore index file: its layout, how it is opened, how record lines are kept in it, and the small pure
helpers that both the builder (``build.py``) and the readers (``index.py``, ``search.py``, ``trace.py``) use.

A leaf module (standard library only; zstandard is imported when a record is read).

What the index keeps (layout version 3; an index of an older layout is rebuilt, see ``FILE_NAME``):

* the columns the commands query (ids, capture times, link directions, patch ids, change shapes, times; authors
  once each in ``authors``). ``commits`` is keyed by its id alone (``WITHOUT ROWID``: a 40-character id is not
  stored twice); shapes and times are looked up among the linked commits only, so a link row carries its
  commit's shape and time (``links.shape``, ``links.commit_time``, set again whenever commits or links change),
  which spares two indexes over the whole history;
* the tie-break key of each row's stored line (``digest``: ``git_ml.store.reader.digest``), so that incremental
  updates keep the version the store's reader returns (later ``captured_at``, then greater digest);
* for the streams that are displayed (commits, chats, sessions, feedback) the JSON lines themselves, compressed in
  blocks of up to ``BLOCK`` lines (zstd with a dictionary sampled from the stream's own records, so that the
  one-line blocks of later appends compress too); a row's ``rec`` is ``block id * 256 + line``, unique across
  streams, and it is also the row id of the record's full-text document (``docs.py``). On the git.git replay this
  keeps 70 MB of commit lines in 17 MB; one record costs one block's decompression (~0.5 ms).
  Whatever else a command needs of a record (a commit's per-file line counts) is derived from it on demand.

Links, rewrites and tombstones are never displayed as records: only their columns are kept. A version that loses
to a later one leaves its line unreferenced in its block until the next rebuild.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

VERSION = 3
FILE_NAME = f"explore-v{VERSION}.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS dictionaries(stream TEXT PRIMARY KEY, data BLOB);
CREATE TABLE IF NOT EXISTS blocks(id INTEGER PRIMARY KEY, stream TEXT, data BLOB);
CREATE TABLE IF NOT EXISTS authors(id INTEGER PRIMARY KEY, name TEXT UNIQUE);
CREATE TABLE IF NOT EXISTS commits(id TEXT PRIMARY KEY, captured_at TEXT, digest BLOB, time INTEGER, patch_id TEXT,
    shape INTEGER, author INTEGER, rec INTEGER) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS commits_patch ON commits(patch_id) WHERE patch_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS chats(id TEXT PRIMARY KEY, captured_at TEXT, digest BLOB, session_id TEXT, uuid TEXT,
    time REAL, rec INTEGER);
CREATE INDEX IF NOT EXISTS chats_session ON chats(session_id);
CREATE INDEX IF NOT EXISTS chats_uuid ON chats(uuid);
CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, captured_at TEXT, digest BLOB, rec INTEGER);
CREATE TABLE IF NOT EXISTS feedback(id TEXT PRIMARY KEY, captured_at TEXT, digest BLOB, chat_id TEXT, time TEXT,
    rec INTEGER);
CREATE INDEX IF NOT EXISTS feedback_chat ON feedback(chat_id);
CREATE TABLE IF NOT EXISTS links(id TEXT PRIMARY KEY, captured_at TEXT, digest BLOB, commit_id TEXT, chat_id TEXT,
    session_id TEXT, reason TEXT, score REAL, seconds INTEGER, shape INTEGER, commit_time INTEGER);
CREATE INDEX IF NOT EXISTS links_commit ON links(commit_id);
CREATE INDEX IF NOT EXISTS links_chat ON links(chat_id);
CREATE INDEX IF NOT EXISTS links_session ON links(session_id);
CREATE INDEX IF NOT EXISTS links_shape ON links(shape) WHERE shape IS NOT NULL;
CREATE INDEX IF NOT EXISTS links_time ON links(commit_time) WHERE chat_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS rewrites(id TEXT PRIMARY KEY, captured_at TEXT, digest BLOB, old TEXT, new TEXT, kind TEXT,
    time INTEGER);
CREATE INDEX IF NOT EXISTS rewrites_new ON rewrites(new);
CREATE INDEX IF NOT EXISTS rewrites_old ON rewrites(old);
CREATE TABLE IF NOT EXISTS tombstones(id TEXT PRIMARY KEY, captured_at TEXT, digest BLOB, stream TEXT, target TEXT);
CREATE INDEX IF NOT EXISTS tombstones_target ON tombstones(stream, target);
CREATE TABLE IF NOT EXISTS computed(id TEXT PRIMARY KEY, patch_id TEXT);
"""

# The streams the index mirrors, in the order an update applies them (tombstones last: they hide what came before).
STREAMS = ("commits", "chats", "sessions", "feedback", "links", "rewrites", "tombstones")
# The streams whose records are kept (compressed) for display.
KEPT = ("commits", "chats", "sessions", "feedback")
BLOCK = 256  # lines per block (at most 256)
DICT_BYTES = 32 * 1024  # of sample lines


def connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
    db.execute("PRAGMA busy_timeout=30000")
    return db


def meta(db: sqlite3.Connection, key: str) -> str | None:
    try:
        row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


# ----- records ----------------------------------------------------------------------------------------------------
def make_dictionary(lines: list[bytes]) -> bytes:
    """A raw-content dictionary from lines of one stream: a sample spread over them, up to DICT_BYTES. Records share
    their keys and much of their vocabulary, which is what a dictionary lends to a block compressed alone."""
    step = max(1, sum(map(len, lines)) // DICT_BYTES)
    return b"\n".join(lines[::step])[-DICT_BYTES:]


class Codec:
    """zstd of one stream's blocks with the stream's dictionary (empty: none); zstandard is imported on first use."""

    def __init__(self, zdict: bytes = b""):
        self.zdict = zdict
        self._c = None
        self._d = None

    def _dictionary(self):
        import zstandard

        if not self.zdict:
            return zstandard, None
        return zstandard, zstandard.ZstdCompressionDict(self.zdict, dict_type=zstandard.DICT_TYPE_RAWCONTENT)

    def pack(self, raw: bytes) -> bytes:
        if self._c is None:
            zstd, d = self._dictionary()
            self._c = zstd.ZstdCompressor(level=3, dict_data=d)
        return self._c.compress(raw)

    def unpack(self, blob: bytes) -> bytes:
        if self._d is None:
            zstd, d = self._dictionary()
            self._d = zstd.ZstdDecompressor(dict_data=d)
        return self._d.decompress(blob)


def load_codecs(db: sqlite3.Connection) -> dict[str, Codec]:
    """stream -> Codec of the index."""
    have = dict(db.execute("SELECT stream, data FROM dictionaries").fetchall())
    return {s: Codec(have.get(s) or b"") for s in KEPT}


def put_lines(db: sqlite3.Connection, stream: str, codec: Codec, lines: list[bytes]) -> list[int]:
    """Store ``lines`` of ``stream`` in new blocks; their ``rec`` references, in order."""
    refs: list[int] = []
    for i in range(0, len(lines), BLOCK):
        part = lines[i:i + BLOCK]
        block = db.execute("INSERT INTO blocks(stream, data) VALUES(?, ?)",
                           (stream, codec.pack(b"\n".join(part)))).lastrowid
        refs.extend(block * 256 + k for k in range(len(part)))
    return refs


class Records:
    """Reads record lines by their ``rec`` reference, keeping the last blocks it decompressed (rows read together
    were mostly stored together)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self.codecs: dict[str, Codec] | None = None
        self._blocks: dict[int, list[bytes]] = {}

    def get(self, stream: str, ref: int) -> bytes:
        block, slot = divmod(ref, 256)
        lines = self._blocks.get(block)
        if lines is None:
            if self.codecs is None:
                self.codecs = load_codecs(self.db)
            row = self.db.execute("SELECT data FROM blocks WHERE id=?", (block,)).fetchone()
            lines = self.codecs[stream].unpack(row[0]).split(b"\n") if row else []
            if len(self._blocks) >= 64:
                self._blocks.clear()
            self._blocks[block] = lines
        return lines[slot] if slot < len(lines) else b"{}"


# ----- small shared helpers ---------------------------------------------------------------------------------------
def path_stats(files: Iterable) -> str:
    """``path<TAB>lines added`` per path a change touches (a rename's old path with 0), one per line."""
    stats: dict[str, int] = {}
    for f in files:
        if len(f) < 2 or not f[1]:
            continue
        stats[f[1]] = stats.get(f[1], 0) + (f[2] or 0 if len(f) > 2 else 0)
        if len(f) > 4 and f[4]:
            stats.setdefault(f[4], 0)
    return "\n".join(f"{p}\t{n}" for p, n in sorted(stats.items()))


def parse_path_stats(text: str | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in (text or "").split("\n"):
        if line:
            path, _, n = line.rpartition("\t")
            out[path] = int(n) if n.isdigit() else 0
    return out


def shape_of(files: Iterable) -> int | None:
    """A digest of a change's per-file line counts (a signed 64-bit integer, as SQLite keeps one): equal patch ids
    imply equal shapes, so a shape match is the cheap filter before computing a patch id."""
    items = sorted(f"{f[1]}\0{f[2]}\0{f[3]}" for f in files if len(f) >= 4)
    if not items:
        return None
    return int.from_bytes(hashlib.blake2b("\n".join(items).encode(), digest_size=8).digest(), "big", signed=True)
