"""The derived index behind `show`, `log`, `blame` and `search`: a SQLite file in ``.git/ml/``.

Reading every record of a large store costs about a second (git.git: 60k commit records), far beyond what `show`
may spend. So the winning version of every record (the latest captured, tombstoned ids left out: the data model of
DECISIONS.md) is mirrored into ``.git/ml/explore-v1.sqlite``, with the columns the commands query (link
directions, patch ids, rewrite pairs, chat and session ids for prefix lookup) indexed, and the record's own JSON line
kept for display.

The file is derived data keyed by the tip of ``refs/ml/data`` (``meta.tip``):

* tip unchanged: nothing to do (one ref read);
* the new tip's tree only *adds* chunks to the indexed one (every append): the added chunks alone are decoded and
  merged in, O(appended data);
* anything else (compaction, repair, a missing old tip, a version change): a full rebuild into a temporary file,
  renamed into place, so concurrent readers always see a complete index.

The full-text side (`search`) is built on first use only, so `show` and `log` never pay for tokenizing history; once
built it is kept up to date by the same incremental path.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec
import pygit2

from ..errors import GitMlError
from ..repo import ml_dir
from ..store import DATA_REF, Store, decompress, split_lines

VERSION = 1
FILE_NAME = f"explore-v{VERSION}.sqlite"
EMPTY_STORE = ("the git-ml store is empty: run `git ml capture --backfill` to import the commits and "
               "`git ml capture import` to import assistant transcripts")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS commits(id TEXT PRIMARY KEY, captured_at TEXT, time INTEGER, patch_id TEXT, shape TEXT,
    author TEXT, paths TEXT, data BLOB);
CREATE INDEX IF NOT EXISTS commits_patch ON commits(patch_id) WHERE patch_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS commits_shape ON commits(shape) WHERE shape IS NOT NULL;
CREATE TABLE IF NOT EXISTS chats(id TEXT PRIMARY KEY, captured_at TEXT, session_id TEXT, uuid TEXT,
    time REAL, data BLOB);
CREATE INDEX IF NOT EXISTS chats_session ON chats(session_id);
CREATE INDEX IF NOT EXISTS chats_uuid ON chats(uuid);
CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, captured_at TEXT, data BLOB);
CREATE TABLE IF NOT EXISTS feedback(id TEXT PRIMARY KEY, captured_at TEXT, chat_id TEXT, time TEXT, data BLOB);
CREATE INDEX IF NOT EXISTS feedback_chat ON feedback(chat_id);
CREATE TABLE IF NOT EXISTS links(id TEXT PRIMARY KEY, captured_at TEXT, commit_id TEXT, chat_id TEXT,
    session_id TEXT, reason TEXT, score REAL, seconds INTEGER, data BLOB);
CREATE INDEX IF NOT EXISTS links_commit ON links(commit_id);
CREATE INDEX IF NOT EXISTS links_chat ON links(chat_id);
CREATE INDEX IF NOT EXISTS links_session ON links(session_id);
CREATE TABLE IF NOT EXISTS rewrites(id TEXT PRIMARY KEY, captured_at TEXT, old TEXT, new TEXT, kind TEXT,
    time INTEGER, data BLOB);
CREATE INDEX IF NOT EXISTS rewrites_new ON rewrites(new);
CREATE INDEX IF NOT EXISTS rewrites_old ON rewrites(old);
CREATE TABLE IF NOT EXISTS tombstones(id TEXT PRIMARY KEY, captured_at TEXT, stream TEXT, target TEXT, data BLOB);
CREATE INDEX IF NOT EXISTS tombstones_target ON tombstones(stream, target);
"""

# The streams the index mirrors, in the order an update applies them (tombstones last: they hide what came before).
STREAMS = ("commits", "chats", "sessions", "feedback", "links", "rewrites", "tombstones")


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
_DECODERS = {k: msgspec.json.Decoder(list[v]) for k, v in _LIGHT.items()}
_ONE = {k: msgspec.json.Decoder(v) for k, v in _LIGHT.items()}

_NEWER = "excluded.captured_at > {t}.captured_at OR (excluded.captured_at = {t}.captured_at AND excluded.data > {t}.data)"


def _upsert(table: str, columns: tuple[str, ...]) -> str:
    cols = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    sets = ", ".join(f"{c}=excluded.{c}" for c in columns if c != "id")
    return (f"INSERT INTO {table}({cols}) VALUES({marks}) ON CONFLICT(id) DO UPDATE SET {sets} "
            f"WHERE {_NEWER.format(t=table)}")


_INSERT = {
    "commits": _upsert("commits", ("id", "captured_at", "time", "patch_id", "shape", "author", "paths", "data")),
    "chats": _upsert("chats", ("id", "captured_at", "session_id", "uuid", "time", "data")),
    "sessions": _upsert("sessions", ("id", "captured_at", "data")),
    "feedback": _upsert("feedback", ("id", "captured_at", "chat_id", "time", "data")),
    "links": _upsert("links", ("id", "captured_at", "commit_id", "chat_id", "session_id", "reason", "score",
                               "seconds", "data")),
    "rewrites": _upsert("rewrites", ("id", "captured_at", "old", "new", "kind", "time", "data")),
    "tombstones": _upsert("tombstones", ("id", "captured_at", "stream", "target", "data")),
}


def iso_unix(text: str | None) -> float | None:
    if not text:
        return None
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def shape_of(files: Iterable) -> str | None:
    """A digest of a change's per-file line counts: equal patch ids imply equal shapes, so a shape match is the
    cheap filter before computing a patch id."""
    items = sorted(f"{f[1]}\0{f[2]}\0{f[3]}" for f in files if len(f) >= 4)
    if not items:
        return None
    return hashlib.blake2b("\n".join(items).encode(), digest_size=10).hexdigest()


def _rows(stream: str, lines: list[bytes]) -> list[tuple]:
    try:
        recs = _DECODERS[stream].decode(b"[" + b",".join(lines) + b"]")
    except (msgspec.DecodeError, msgspec.ValidationError):
        recs = []
        ok = []
        one = _ONE[stream]
        for line in lines:
            try:
                recs.append(one.decode(line))
                ok.append(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
        lines = ok
    out: list[tuple] = []
    if stream == "commits":
        for r, line in zip(recs, lines):
            author = f"{r.author} <{r.author_email}>" if r.author_email else r.author
            paths = "\n".join(sorted({p for f in r.files for p in (f[1], f[4] if len(f) > 4 else None) if p}))
            out.append((r.id, r.captured_at, r.time, r.patch_id, shape_of(r.files), author, paths, line))
    elif stream == "chats":
        for r, line in zip(recs, lines):
            uuid = r.prompt_uuid or r.id.rpartition(":")[2]
            out.append((r.id, r.captured_at, r.session_id, uuid, iso_unix(r.timestamp), line))
    elif stream == "sessions":
        out = [(r.id, r.captured_at, line) for r, line in zip(recs, lines)]
    elif stream == "feedback":
        out = [(r.id, r.captured_at, r.chat_id, r.time, line) for r, line in zip(recs, lines)]
    elif stream == "links":
        out = [(r.id, r.captured_at, r.commit, r.chat_id or None, r.session_id, r.reason, r.score, r.seconds, line)
               for r, line in zip(recs, lines)]
    elif stream == "rewrites":
        out = [(r.id, r.captured_at, r.old, r.new, r.kind, r.time, line) for r, line in zip(recs, lines)]
    elif stream == "tombstones":
        out = [(r.id, r.captured_at, r.stream, r.target, line) for r, line in zip(recs, lines)]
    return out


def _warn(message: str) -> None:
    sys.stderr.write(message + "\n")


class Index:
    """An up-to-date explore index of one repository. ``Index.open(repo)`` brings it up to date first."""

    def __init__(self, repo: pygit2.Repository, db: sqlite3.Connection, tip: pygit2.Oid | None, path: Path):
        self.repo = repo
        self.db = db
        self.tip = tip
        self.path = path

    # ----- opening and updating -----------------------------------------------------------------------------------
    @classmethod
    def open(cls, repo: pygit2.Repository, *, require_data: bool = True) -> "Index":
        store = Store(repo, warn=_warn)
        tip = store.tip(DATA_REF)
        if tip is None and require_data:
            raise GitMlError(EMPTY_STORE)
        path = ml_dir(repo) / FILE_NAME
        db = _connect(path) if path.exists() else None
        indexed = _meta(db, "tip") if db is not None else None
        want = str(tip) if tip is not None else ""
        if db is None or indexed is None:
            db = _rebuild(repo, store, path, tip, search=False)
        elif indexed != want:
            db = _update(repo, store, db, path, indexed, tip)
        ix = cls(repo, db, tip, path)
        if require_data and ix.is_empty():
            raise GitMlError(EMPTY_STORE)
        return ix

    def is_empty(self) -> bool:
        one = self.db.execute("SELECT 1 FROM commits LIMIT 1").fetchone()
        return one is None and self.db.execute("SELECT 1 FROM chats LIMIT 1").fetchone() is None

    def ensure_search(self) -> None:
        """Build the full-text side on first use (tokenizing every prompt, response and message once)."""
        if _meta(self.db, "search") == "1":
            return
        from .search import build_docs

        self.db.execute("BEGIN IMMEDIATE")
        try:
            if _meta(self.db, "search") != "1":
                build_docs(self.db)
                self.db.execute("INSERT OR REPLACE INTO meta VALUES('search', '1')")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # ----- queries ----------------------------------------------------------------------------------------------
    def commit_json(self, oid: str) -> bytes | None:
        row = self.db.execute("SELECT data FROM commits WHERE id=?", (oid,)).fetchone()
        return row[0] if row else None

    def has_commit(self, oid: str) -> bool:
        return self.db.execute("SELECT 1 FROM commits WHERE id=?", (oid,)).fetchone() is not None

    def commit_row(self, oid: str) -> tuple | None:
        """(patch_id, shape, time) of a captured commit."""
        return self.db.execute("SELECT patch_id, shape, time FROM commits WHERE id=?", (oid,)).fetchone()

    def commit_paths(self, oid: str) -> list[str] | None:
        row = self.db.execute("SELECT paths FROM commits WHERE id=?", (oid,)).fetchone()
        return (row[0].split("\n") if row[0] else []) if row else None

    def chat_json(self, chat_id: str) -> bytes | None:
        row = self.db.execute("SELECT data FROM chats WHERE id=?", (chat_id,)).fetchone()
        return row[0] if row else None

    def session_json(self, session_id: str) -> bytes | None:
        row = self.db.execute("SELECT data FROM sessions WHERE id=?", (session_id,)).fetchone()
        return row[0] if row else None

    def links_of_commit(self, oid: str) -> list[tuple]:
        """(chat_id, session_id, reason, score, seconds) nearest first: file evidence before session-only links."""
        return self.db.execute(
            "SELECT chat_id, session_id, reason, score, seconds FROM links WHERE commit_id=? "
            "ORDER BY reason != 'files', abs(seconds), -score, chat_id", (oid,)).fetchall()

    def link_counts(self, oids: list[str]) -> dict[str, tuple[int, int]]:
        """commit -> (chats linked by files, session-only links) for many commits at once."""
        out: dict[str, tuple[int, int]] = {}
        for i in range(0, len(oids), 500):
            part = oids[i:i + 500]
            q = ",".join("?" * len(part))
            for cid, chats, sessions in self.db.execute(
                    f"SELECT commit_id, count(DISTINCT chat_id), count(DISTINCT session_id) FROM links "
                    f"WHERE commit_id IN ({q}) GROUP BY commit_id", part):
                out[cid] = (chats, sessions)
        return out

    def commits_of_chat(self, chat_id: str) -> list[tuple]:
        return self.db.execute("SELECT commit_id, reason, score, seconds FROM links WHERE chat_id=? "
                               "ORDER BY seconds", (chat_id,)).fetchall()

    def commits_of_session(self, session_id: str) -> list[str]:
        rows = self.db.execute("SELECT DISTINCT commit_id FROM links WHERE session_id=?", (session_id,)).fetchall()
        return [r[0] for r in rows]

    def chats_of_session(self, session_id: str) -> list[bytes]:
        return [r[0] for r in self.db.execute("SELECT data FROM chats WHERE session_id=? ORDER BY time, id",
                                              (session_id,))]

    def feedback_of(self, chat_id: str) -> bytes | None:
        """The latest rating of a chat (by its time, then capture)."""
        row = self.db.execute("SELECT data FROM feedback WHERE chat_id=? ORDER BY time DESC, captured_at DESC "
                              "LIMIT 1", (chat_id,)).fetchone()
        return row[0] if row else None

    def rewritten_from(self, new: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT old FROM rewrites WHERE new=?", (new,))]

    def commits_with_patch_id(self, patch_id: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM commits WHERE patch_id=?", (patch_id,))]

    def linked_with_shape(self, shape: str) -> list[tuple[str, str | None]]:
        return self.db.execute("SELECT id, patch_id FROM commits WHERE shape=? AND id IN "
                               "(SELECT commit_id FROM links)", (shape,)).fetchall()

    def linked_commits_between(self, t0: int, t1: int) -> list[tuple[str, int, str]]:
        """(id, time, paths joined by newlines) of the commits linked to chats, authored between t0 and t1."""
        return self.db.execute("SELECT id, time, paths FROM commits WHERE time BETWEEN ? AND ? AND id IN "
                               "(SELECT commit_id FROM links WHERE chat_id IS NOT NULL)", (t0, t1)).fetchall()

    def has_rewrites(self) -> bool:
        return self.db.execute("SELECT 1 FROM rewrites LIMIT 1").fetchone() is not None

    def has_links(self) -> bool:
        return self.db.execute("SELECT 1 FROM links LIMIT 1").fetchone() is not None

    def prefix(self, table: str, column: str, text: str, limit: int = 11) -> list[str]:
        """Values of ``table.column`` starting with ``text`` (an index range scan), at most ``limit``."""
        hi = text[:-1] + chr(ord(text[-1]) + 1)
        return [r[0] for r in self.db.execute(
            f"SELECT id FROM {table} WHERE {column} >= ? AND {column} < ? ORDER BY id LIMIT ?", (text, hi, limit))]

    def counts(self) -> dict[str, int]:
        return {s: self.db.execute(f"SELECT count(*) FROM {s}").fetchone()[0] for s in STREAMS}


# ----- building ---------------------------------------------------------------------------------------------------
def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
    db.execute("PRAGMA busy_timeout=30000")
    return db


def _meta(db: sqlite3.Connection, key: str) -> str | None:
    try:
        row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def _chunk_lines(repo: pygit2.Repository, path: str, oid: pygit2.Oid) -> list[bytes] | None:
    try:
        raw = decompress(repo[oid].read_raw())
    except Exception as exc:  # unreadable or not zstd: skipped with one warning, as every reader does
        _warn(f"warning: skipping corrupt chunk {path}: {str(exc).splitlines()[0] if str(exc) else exc!r}")
        return None
    return [line for line in split_lines(raw) if line.strip()]


def _apply(db: sqlite3.Connection, repo: pygit2.Repository, chunks: Iterable[tuple[str, str, pygit2.Oid]],
           search: bool) -> None:
    """Merge the records of ``chunks`` ((stream, path, oid)) into the tables; the caller holds a transaction."""
    by_stream: dict[str, list[tuple[str, pygit2.Oid]]] = {}
    for stream, path, oid in chunks:
        if stream in _INSERT:
            by_stream.setdefault(stream, []).append((path, oid))
    touched: dict[str, set[str]] = {"commits": set(), "chats": set()}
    for stream in STREAMS:
        for path, oid in by_stream.get(stream, ()):
            lines = _chunk_lines(repo, path, oid)
            if not lines:
                continue
            rows = _rows(stream, lines)
            db.executemany(_INSERT[stream], rows)
            if search and stream in touched:
                touched[stream].update(r[0] for r in rows)
    if "tombstones" in by_stream:
        for stream in ("commits", "chats", "sessions", "feedback", "links", "rewrites"):
            if search and stream in touched:
                from .search import drop_docs

                dead = [r[0] for r in db.execute(
                    f"SELECT id FROM {stream} WHERE id IN (SELECT target FROM tombstones WHERE stream=?)", (stream,))]
                drop_docs(db, stream, dead)
                touched[stream].difference_update(dead)
            db.execute(f"DELETE FROM {stream} WHERE id IN (SELECT target FROM tombstones WHERE stream=?)", (stream,))
    else:
        # Records appended after their tombstone (a union merge) stay hidden.
        for stream in ("commits", "chats", "sessions", "feedback", "links", "rewrites"):
            if stream in by_stream and db.execute("SELECT 1 FROM tombstones WHERE stream=? LIMIT 1",
                                                  (stream,)).fetchone():
                if search and stream in touched:
                    from .search import drop_docs

                    dead = [r[0] for r in db.execute(
                        f"SELECT id FROM {stream} WHERE id IN (SELECT target FROM tombstones WHERE stream=?)",
                        (stream,))]
                    drop_docs(db, stream, dead)
                    touched[stream].difference_update(dead)
                db.execute(f"DELETE FROM {stream} WHERE id IN (SELECT target FROM tombstones WHERE stream=?)",
                           (stream,))
    if search:
        from .search import index_docs

        for stream, ids in touched.items():
            if ids:
                index_docs(db, stream, sorted(ids))


def _all_chunks(store: Store) -> Iterator[tuple[str, str, pygit2.Oid]]:
    for stream in STREAMS:
        for chunk in store.iter_chunks(stream):
            yield stream, chunk.path, chunk.oid


def _rebuild(repo: pygit2.Repository, store: Store, path: Path, tip: pygit2.Oid | None, *,
             search: bool) -> sqlite3.Connection:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink()
    except OSError:
        pass
    db = _connect(tmp)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.executescript(_SCHEMA)
    db.execute("BEGIN")
    _apply(db, repo, _all_chunks(store), search=False)
    db.execute("INSERT OR REPLACE INTO meta VALUES('version', ?)", (str(VERSION),))
    db.execute("INSERT OR REPLACE INTO meta VALUES('tip', ?)", (str(tip) if tip is not None else "",))
    if search:
        from .search import build_docs

        build_docs(db)
        db.execute("INSERT OR REPLACE INTO meta VALUES('search', '1')")
    db.execute("COMMIT")
    db.close()
    os.replace(tmp, path)
    return _connect(path)


def _update(repo: pygit2.Repository, store: Store, db: sqlite3.Connection, path: Path, indexed: str,
            tip: pygit2.Oid | None) -> sqlite3.Connection:
    search = _meta(db, "search") == "1"
    added = _added_chunks(repo, indexed, tip)
    if added is None:
        db.close()
        return _rebuild(repo, store, path, tip, search=search)
    db.execute("BEGIN IMMEDIATE")
    try:
        if _meta(db, "tip") != indexed:  # another process updated it meanwhile
            db.execute("ROLLBACK")
            db.close()
            db = _connect(path)
            if _meta(db, "tip") == (str(tip) if tip else ""):
                return db
            return _update(repo, store, db, path, _meta(db, "tip") or "", tip)
        _apply(db, repo, added, search=search)
        db.execute("INSERT OR REPLACE INTO meta VALUES('tip', ?)", (str(tip) if tip is not None else "",))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return db


def _added_chunks(repo: pygit2.Repository, indexed: str, tip: pygit2.Oid | None) -> list | None:
    """Chunks the tree at ``tip`` has beyond the tree at ``indexed``; None when anything was removed (or the
    indexed tip is gone), which calls for a rebuild."""
    if tip is None or not indexed:
        return None
    try:
        old = repo[indexed].peel(pygit2.Tree)
        new = repo[tip].peel(pygit2.Tree)
    except (KeyError, ValueError, pygit2.GitError):
        return None
    out = []
    for delta in old.diff_to_tree(new).deltas:
        if delta.status != pygit2.enums.DeltaStatus.ADDED:
            return None
        p = delta.new_file.path
        out.append((p.split("/", 1)[0], p, delta.new_file.id))
    return out
