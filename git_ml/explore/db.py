"""The explore index file: its layout, how it is opened, how record lines are kept in it, and the small pure
helpers that both the builder (``build.py``) and the readers (``index.py``, ``search.py``, ``trace.py``) use.

A leaf module: the standard library only, so that a current index is read without pygit2, msgspec or zstandard.

What the index keeps of a record (layout version 3; older files are rebuilt, see ``FILE_NAME``):

* the columns the commands query (ids, capture times, link directions, patch ids, per-file line counts, ...);
* the tie-break key of the stored line (``digest``: ``blake2b(line, digest_size=8)``, the store reader's rule), so
  that incremental updates pick the same version as ``git_ml.store.reader``;
* for the streams that are displayed (commits, chats, sessions, feedback) the JSON line itself, compressed on its
  own with zlib and a preset dictionary per stream (``Codec``). Records are small (~1 KB) and alike: without a
  dictionary zlib gains little on one record, with one built from the store's own records it gains ~4x, and one
  record decompresses in microseconds, so `show` reads a record as fast as before. zlib, not zstd, because it is in
  the standard library: importing zstandard costs ~11 ms of every `show`.

Links, rewrites and tombstones are never displayed as records: only their columns are kept.
"""

from __future__ import annotations

import hashlib
import sqlite3
import zlib
from collections.abc import Iterable
from pathlib import Path

VERSION = 3
FILE_NAME = f"explore-v{VERSION}.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS dictionaries(stream TEXT PRIMARY KEY, data BLOB);
CREATE TABLE IF NOT EXISTS commits(id TEXT PRIMARY KEY, captured_at TEXT, digest BLOB, time INTEGER, patch_id TEXT,
    shape TEXT, author TEXT, paths TEXT, rec BLOB);
CREATE INDEX IF NOT EXISTS commits_patch ON commits(patch_id) WHERE patch_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS commits_shape ON commits(shape) WHERE shape IS NOT NULL;
CREATE INDEX IF NOT EXISTS commits_time ON commits(time);
CREATE TABLE IF NOT EXISTS chats(id TEXT PRIMARY KEY, captured_at TEXT, digest BLOB, session_id TEXT, uuid TEXT,
    time REAL, rec BLOB);
CREATE INDEX IF NOT EXISTS chats_session ON chats(session_id);
CREATE INDEX IF NOT EXISTS chats_uuid ON chats(uuid);
CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, captured_at TEXT, digest BLOB, rec BLOB);
CREATE TABLE IF NOT EXISTS feedback(id TEXT PRIMARY KEY, captured_at TEXT, digest BLOB, chat_id TEXT, time TEXT,
    rec BLOB);
CREATE INDEX IF NOT EXISTS feedback_chat ON feedback(chat_id);
CREATE TABLE IF NOT EXISTS links(id TEXT PRIMARY KEY, captured_at TEXT, digest BLOB, commit_id TEXT, chat_id TEXT,
    session_id TEXT, reason TEXT, score REAL, seconds INTEGER);
CREATE INDEX IF NOT EXISTS links_commit ON links(commit_id);
CREATE INDEX IF NOT EXISTS links_chat ON links(chat_id);
CREATE INDEX IF NOT EXISTS links_session ON links(session_id);
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
# A preset dictionary is at most 32 KB for zlib; the most useful strings go last (nearest to the data).
DICT_BYTES = 32 * 1024


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
def make_dictionary(samples: Iterable[bytes]) -> bytes:
    """A zlib preset dictionary from sample lines of one stream: their last DICT_BYTES bytes. Records share their
    keys and much of their vocabulary, which is what a preset dictionary lends to a record compressed alone."""
    out: list[bytes] = []
    size = 0
    for line in samples:
        out.append(line)
        size += len(line) + 1
        if size >= DICT_BYTES:
            break
    return b"\n".join(out)[-DICT_BYTES:]


class Codec:
    """Compression of single record lines with one stream's preset dictionary (empty: plain zlib)."""

    def __init__(self, zdict: bytes = b""):
        self.zdict = zdict

    def pack(self, line: bytes) -> bytes:
        c = zlib.compressobj(6, zdict=self.zdict) if self.zdict else zlib.compressobj(6)
        return c.compress(line) + c.flush()

    def unpack(self, blob: bytes) -> bytes:
        d = zlib.decompressobj(zdict=self.zdict) if self.zdict else zlib.decompressobj()
        return d.decompress(blob) + d.flush()


def load_codecs(db: sqlite3.Connection) -> dict[str, Codec]:
    """stream -> Codec of the index (streams without a dictionary get plain zlib)."""
    have = dict(db.execute("SELECT stream, data FROM dictionaries").fetchall())
    return {s: Codec(have.get(s) or b"") for s in KEPT}


def line_digest(line: bytes) -> bytes:
    """The tie-break key of a stored line: of two versions captured at the same time, the greater digest wins."""
    return hashlib.blake2b(line, digest_size=8).digest()


# ----- small shared helpers ---------------------------------------------------------------------------------------
def iso_unix(text: str | None) -> float | None:
    if not text:
        return None
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


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


def shape_of(files: Iterable) -> str | None:
    """A digest of a change's per-file line counts: equal patch ids imply equal shapes, so a shape match is the
    cheap filter before computing a patch id."""
    items = sorted(f"{f[1]}\0{f[2]}\0{f[3]}" for f in files if len(f) >= 4)
    if not items:
        return None
    return hashlib.blake2b("\n".join(items).encode(), digest_size=10).hexdigest()
