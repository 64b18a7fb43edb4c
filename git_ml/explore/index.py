"""The derived index behind `show`, `log`, `blame` and `search`: a SQLite file in ``.git/ml/``.

Reading every record of a large store costs about a second (git.git: 60k commit records), far beyond what `show`
may spend. So the winning version of every record (the latest captured, tombstoned ids left out: the data model of
DECISIONS.md) is mirrored into ``.git/ml/explore-v2.sqlite``, with the columns the commands query (link
directions, patch ids, per-file line counts, rewrite pairs, chat and session ids for prefix lookup) indexed, and
the record's own JSON line kept for display. This module reads it with the standard library only; ``build.py``
(pygit2, msgspec, zstandard) is imported only when the index is behind the store.

The file is derived data keyed by the tip of ``refs/ml/data`` (``meta.tip``):

* tip unchanged: nothing to do (one ref read);
* the new tip's tree adds chunks to the indexed one (every append): the added chunks alone are decoded and
  merged in (upserts where the later capture wins), O(appended data);
* chunks were also removed: when every id they held is still in the added chunks, or was superseded or
  tombstoned (what automatic and manual compaction do), the same incremental merge is exact; otherwise (records
  gone for good, most of the store rewritten, the indexed tip gone, a layout change) a full rebuild into a
  temporary file, renamed into place, so concurrent readers always see a complete index.

The full-text side (`search`) is built on first use only, so `show` and `log` never pay for tokenizing history; once
built it is kept up to date by the same incremental path.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from git_ml.errors import GitMlError

VERSION = 2
FILE_NAME = f"explore-v{VERSION}.sqlite"
DATA_REF = "refs/ml/data"
EMPTY_STORE = ("the git-ml store is empty: run `git ml capture --backfill` to import the commits and "
               "`git ml capture import` to import assistant transcripts")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS commits(id TEXT PRIMARY KEY, captured_at TEXT, time INTEGER, patch_id TEXT, shape TEXT,
    author TEXT, paths TEXT, data BLOB);
CREATE INDEX IF NOT EXISTS commits_patch ON commits(patch_id) WHERE patch_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS commits_shape ON commits(shape) WHERE shape IS NOT NULL;
CREATE INDEX IF NOT EXISTS commits_time ON commits(time);
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
CREATE TABLE IF NOT EXISTS computed(id TEXT PRIMARY KEY, patch_id TEXT);
"""

# The streams the index mirrors, in the order an update applies them (tombstones last: they hide what came before).
STREAMS = ("commits", "chats", "sessions", "feedback", "links", "rewrites", "tombstones")


def iso_unix(text: str | None) -> float | None:
    if not text:
        return None
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None



def parse_path_stats(text: str | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in (text or "").split("\n"):
        if line:
            path, _, n = line.rpartition("\t")
            out[path] = int(n) if n.isdigit() else 0
    return out


class Index:
    """An up-to-date explore index of one repository. ``Index.open(repo)`` brings it up to date first."""

    def __init__(self, repo, db: sqlite3.Connection, tip: str | None, path: Path):
        self.repo = repo
        self.db = db
        self.tip = tip
        self.path = path

    # ----- opening and updating -----------------------------------------------------------------------------------
    @classmethod
    def open(cls, repo, *, require_data: bool = True) -> "Index":
        """``repo``: a ``GitRepo`` (cheap: the store is read only when the index is behind) or a pygit2 repository."""
        if hasattr(repo, "ml_dir") and hasattr(repo, "ref"):
            tip = repo.ref(DATA_REF)
            folder = repo.ml_dir()
        else:
            from git_ml.repo import ml_dir
            from git_ml.store.core import Store

            t = Store(repo).tip(DATA_REF)
            tip = str(t) if t is not None else None
            folder = ml_dir(repo)
        if tip is None and require_data:
            raise GitMlError(EMPTY_STORE)
        path = folder / FILE_NAME
        db = _connect(path) if path.exists() else None
        indexed = _meta(db, "tip") if db is not None else None
        if db is None or indexed is None or indexed != (tip or ""):
            from git_ml.explore.build import refresh

            try:
                db = refresh(getattr(repo, "py", repo), db, path, indexed, tip)
            except (sqlite3.Error, OSError) as exc:
                raise GitMlError(f"cannot update the explore index {path}: {exc}") from None
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
        import sys

        from git_ml.explore.search import build_docs

        if sys.stderr.isatty():
            sys.stderr.write("git-ml: building the search index (once; later searches update it)\n")
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

    def commit_paths(self, oid: str) -> dict[str, int] | None:
        """path -> lines added, of a captured commit (None when not captured)."""
        row = self.db.execute("SELECT paths FROM commits WHERE id=?", (oid,)).fetchone()
        return parse_path_stats(row[0]) if row else None

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

    def linked_commits_between(self, t0: int, t1: int) -> list[tuple[str, int, dict[str, int]]]:
        """(id, time, {path: lines added}) of the commits linked to chats, authored between t0 and t1."""
        rows = self.db.execute(
            "SELECT c.id, c.time, c.paths FROM commits c WHERE c.time BETWEEN ? AND ? AND EXISTS "
            "(SELECT 1 FROM links l WHERE l.commit_id = c.id AND l.chat_id IS NOT NULL)", (t0, t1)).fetchall()
        return [(cid, t, parse_path_stats(p)) for cid, t, p in rows]

    def computed_patch_id(self, oid: str) -> tuple[bool, str | None]:
        """(known, patch id) of a commit whose patch id an earlier command computed (the store had none)."""
        try:
            row = self.db.execute("SELECT patch_id FROM computed WHERE id=?", (oid,)).fetchone()
        except sqlite3.OperationalError:  # an index written before the table existed
            return False, None
        return (True, row[0]) if row else (False, None)

    def remember_patch_id(self, oid: str, patch_id: str | None) -> None:
        """Keep a computed patch id for later commands; skipped when another process holds the index."""
        try:
            self.db.execute("CREATE TABLE IF NOT EXISTS computed(id TEXT PRIMARY KEY, patch_id TEXT)")
            self.db.execute("INSERT OR REPLACE INTO computed VALUES(?, ?)", (oid, patch_id))
        except sqlite3.OperationalError:
            pass

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


# ----- the file ---------------------------------------------------------------------------------------------------
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


