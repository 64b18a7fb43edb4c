"""The derived index behind `show`, `log`, `blame` and `search`: a SQLite file in ``.git/ml/``.

Reading every record of a large store costs about a second (git.git: 60k commit records), far beyond what `show`
may spend. So the winning version of every record (the store reader's rule: the latest captured, ties broken by the
stored line's digest, tombstoned ids left out) is mirrored into ``.git/ml/explore-v3.sqlite`` (layout in
``db.py``), with the columns the commands query (link directions, patch ids, per-file line counts, rewrite pairs,
chat and session ids for prefix lookup) indexed, and the displayed records' JSON lines kept compressed. This module
reads it with the standard library only; ``build.py`` (pygit2, msgspec, zstandard) is imported only when the index
is behind the store.

The file is derived data keyed by the tip of ``refs/ml/data`` (``meta.tip``):

* tip unchanged: nothing to do (one ref read);
* the new tip's tree adds chunks to the indexed one (every append): the added chunks alone are decoded and
  merged in (upserts where the store reader's winner wins), O(appended data);
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
from git_ml.explore.db import FILE_NAME, STREAMS, Records, connect, meta, parse_path_stats, path_stats

DATA_REF = "refs/ml/data"
EMPTY_STORE = ("the git-ml store is empty: run `git ml capture --backfill` to import the commits and "
               "`git ml capture import` to import assistant transcripts")


class Index:
    """An up-to-date explore index of one repository. ``Index.open(repo)`` brings it up to date first."""

    def __init__(self, repo, db: sqlite3.Connection, tip: str | None, path: Path):
        self.repo = repo
        self.db = db
        self.tip = tip
        self.path = path
        self.records = Records(db)

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
        db = connect(path) if path.exists() else None
        indexed = meta(db, "tip") if db is not None else None
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
        if meta(self.db, "search") == "1":
            return
        import sys

        from git_ml.explore.docs import build_docs

        if sys.stderr.isatty():
            sys.stderr.write("git-ml: building the search index (once; later searches update it)\n")
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if meta(self.db, "search") != "1":
                build_docs(self.db)
                self.db.execute("INSERT OR REPLACE INTO meta VALUES('search', '1')")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # ----- queries ----------------------------------------------------------------------------------------------
    def record(self, stream: str, ref: int) -> bytes:
        """The JSON line of a record of ``stream`` by its reference (a ``rec`` column)."""
        return self.records.get(stream, ref)

    def _one(self, sql: str, stream: str, args: tuple) -> bytes | None:
        row = self.db.execute(sql, args).fetchone()
        return self.record(stream, row[0]) if row else None

    def commit_json(self, oid: str) -> bytes | None:
        return self._one("SELECT rec FROM commits WHERE id=?", "commits", (oid,))

    def has_commit(self, oid: str) -> bool:
        return self.db.execute("SELECT 1 FROM commits WHERE id=?", (oid,)).fetchone() is not None

    def commit_row(self, oid: str) -> tuple | None:
        """(patch_id, shape, time) of a captured commit."""
        return self.db.execute("SELECT patch_id, shape, time FROM commits WHERE id=?", (oid,)).fetchone()

    def commit_paths(self, oid: str) -> dict[str, int] | None:
        """path -> lines added, of a captured commit (None when not captured)."""
        data = self.commit_json(oid)
        return self._paths(data) if data is not None else None

    @staticmethod
    def _paths(data: bytes) -> dict[str, int]:
        import json

        files = json.loads(data).get("files") or []
        return parse_path_stats(path_stats(files))

    def chat_json(self, chat_id: str) -> bytes | None:
        return self._one("SELECT rec FROM chats WHERE id=?", "chats", (chat_id,))

    def session_json(self, session_id: str) -> bytes | None:
        return self._one("SELECT rec FROM sessions WHERE id=?", "sessions", (session_id,))

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
        return [self.record("chats", r[0]) for r in self.db.execute(
            "SELECT rec FROM chats WHERE session_id=? ORDER BY time, id", (session_id,))]

    def feedback_of(self, chat_id: str) -> bytes | None:
        """The latest rating of a chat (by its time, then capture)."""
        return self._one("SELECT rec FROM feedback WHERE chat_id=? ORDER BY time DESC, captured_at DESC LIMIT 1",
                         "feedback", (chat_id,))

    def rewritten_from(self, new: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT old FROM rewrites WHERE new=?", (new,))]

    def commits_with_patch_id(self, patch_id: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM commits WHERE patch_id=?", (patch_id,))]

    def linked_with_shape(self, shape: int) -> list[tuple[str, str | None]]:
        """(id, patch id) of the linked commits of this shape."""
        return self.db.execute("SELECT DISTINCT c.id, c.patch_id FROM links l JOIN commits c ON c.id = l.commit_id "
                               "WHERE l.shape = ?", (shape,)).fetchall()

    def linked_commits_between(self, t0: int, t1: int) -> list[tuple[str, int, dict[str, int]]]:
        """(id, time, {path: lines added}) of the commits linked to chats, authored between t0 and t1."""
        rows = self.db.execute(
            "SELECT DISTINCT c.id, c.time, c.rec FROM links l JOIN commits c ON c.id = l.commit_id "
            "WHERE l.chat_id IS NOT NULL AND l.commit_time BETWEEN ? AND ? ORDER BY c.rec", (t0, t1)).fetchall()
        return [(cid, t, self._paths(self.record("commits", ref))) for cid, t, ref in rows]

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
