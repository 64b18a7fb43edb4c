"""Building and updating the explore index from the store (see ``index.py``). Imported only when the index is
behind the store's tip, so that a current index is read without pygit2, msgspec or zstandard."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec
import pygit2

from git_ml.explore.index import _SCHEMA, STREAMS, VERSION, _connect, _meta, iso_unix
from git_ml.store.core import Store, decompress, split_lines


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


def shape_of(files: Iterable) -> str | None:
    """A digest of a change's per-file line counts: equal patch ids imply equal shapes, so a shape match is the
    cheap filter before computing a patch id."""
    items = sorted(f"{f[1]}\0{f[2]}\0{f[3]}" for f in files if len(f) >= 4)
    if not items:
        return None
    return hashlib.blake2b("\n".join(items).encode(), digest_size=10).hexdigest()


def _path_stats(files: Iterable) -> str:
    """``path<TAB>lines added`` per path a change touches (a rename's old path with 0), one per line."""
    stats: dict[str, int] = {}
    for f in files:
        if len(f) < 2 or not f[1]:
            continue
        stats[f[1]] = stats.get(f[1], 0) + (f[2] or 0 if len(f) > 2 else 0)
        if len(f) > 4 and f[4]:
            stats.setdefault(f[4], 0)
    return "\n".join(f"{p}\t{n}" for p, n in sorted(stats.items()))


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
            paths = _path_stats(r.files)
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


def _note(message: str) -> None:
    """A progress note for a person waiting at a terminal; silent otherwise."""
    if sys.stderr.isatty():
        sys.stderr.write(message + "\n")


def _warn(message: str) -> None:
    sys.stderr.write(message + "\n")


def _chunk_lines(repo: pygit2.Repository, path: str, oid: pygit2.Oid, quiet: bool = False) -> list[bytes] | None:
    try:
        raw = decompress(repo[oid].read_raw())
    except Exception as exc:  # unreadable or not zstd: skipped with one warning, as every reader does
        if quiet:
            return None
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
                from git_ml.explore.search import drop_docs

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
                    from git_ml.explore.search import drop_docs

                    dead = [r[0] for r in db.execute(
                        f"SELECT id FROM {stream} WHERE id IN (SELECT target FROM tombstones WHERE stream=?)",
                        (stream,))]
                    drop_docs(db, stream, dead)
                    touched[stream].difference_update(dead)
                db.execute(f"DELETE FROM {stream} WHERE id IN (SELECT target FROM tombstones WHERE stream=?)",
                           (stream,))
    if search:
        from git_ml.explore.search import index_docs

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
    db.execute("PRAGMA page_size=16384")  # ~1 KB records pack better than in 4 KB pages (-11% on git.git)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.executescript(_SCHEMA)
    db.execute("BEGIN")
    _apply(db, repo, _all_chunks(store), search=False)
    db.execute("INSERT OR REPLACE INTO meta VALUES('version', ?)", (str(VERSION),))
    db.execute("INSERT OR REPLACE INTO meta VALUES('tip', ?)", (str(tip) if tip is not None else "",))
    db.execute("INSERT OR REPLACE INTO meta VALUES('built', ?)", (os.urandom(8).hex(),))  # which build this is
    if search:
        from git_ml.explore.search import build_docs

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
    return _connect(path)


def _update(repo: pygit2.Repository, store: Store, db: sqlite3.Connection, path: Path, indexed: str,
            tip: pygit2.Oid | None) -> sqlite3.Connection:
    search = _meta(db, "search") == "1"
    delta = _chunk_delta(repo, indexed, tip)
    if delta is not None and delta[1] and not _removal_is_compaction(repo, db, *delta):
        delta = None
    if delta is None:
        db.close()
        _note("git-ml: records were removed from the store: re-indexing it")
        return _rebuild(repo, store, path, tip, search=search)
    added = delta[0]
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


def _chunk_delta(repo: pygit2.Repository, indexed: str, tip: pygit2.Oid | None) -> tuple[list, list] | None:
    """(added, removed) chunks ((stream, path, oid)) between the tree at ``indexed`` and the tree at ``tip``; None
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
            p = delta.new_file.path
            added.append((p.split("/", 1)[0], p, delta.new_file.id))
        elif delta.status == pygit2.enums.DeltaStatus.DELETED:
            p = delta.old_file.path
            removed.append((p.split("/", 1)[0], p, delta.old_file.id))
        else:
            return None
    return added, removed


class _Id(msgspec.Struct):
    id: str


_IDS = msgspec.json.Decoder(list[_Id])


def _chunk_ids(repo: pygit2.Repository, path: str, oid: pygit2.Oid) -> set[str] | None:
    lines = _chunk_lines(repo, path, oid, quiet=True)
    if lines is None:
        return None
    try:
        return {r.id for r in _IDS.decode(b"[" + b",".join(lines) + b"]")}
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _removal_is_compaction(repo: pygit2.Repository, db: sqlite3.Connection, added: list, removed: list) -> bool:
    """Whether the chunks removed since the indexed tip only held records that are still in the store (merged
    into the added chunks: automatic or manual compaction), superseded versions, or tombstoned ids, so that the
    index stays exact by merging the added chunks alone. Anything else (records gone for good) means a rebuild.
    Costs a decode of the ids of the removed and added chunks, which for automatic compaction are small."""
    from git_ml.store.core import parse_count

    indexed_rows = sum(db.execute(f"SELECT count(*) FROM {s}").fetchone()[0] for s in STREAMS)
    moved = sum(parse_count(p.rsplit("/", 1)[-1]) or 0 for _, p, _ in removed)
    if moved > 20_000 and moved * 2 > indexed_rows:
        return False  # most of a large store was rewritten: a rebuild costs no more
    still: dict[str, set[str]] = {}
    for stream, p, oid in added:
        ids = _chunk_ids(repo, p, oid)
        if ids is None:
            return False
        still.setdefault(stream, set()).update(ids)
    for stream, p, oid in removed:
        if stream not in STREAMS:
            continue
        ids = _chunk_ids(repo, p, oid)
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
