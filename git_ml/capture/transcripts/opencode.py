"""OpenCode sessions: the SQLite store ``opencode.db`` and the older ``storage/`` JSON folders.

Where: ``$XDG_DATA_HOME/opencode`` (default ``~/.local/share/opencode``, on macOS too): ``opencode.db`` (WAL; other
release channels write ``opencode-<channel>.db``) and ``storage/``, which the first database-era run imports and
leaves in place (the same ids, so reading both yields the same records). The database is opened read-only (OpenCode
may be writing it) and columns are selected by name, since newer versions add some.

Tables: ``project(id, worktree)`` (the repository root), ``session(id, project_id, parent_id, directory, title,
time_created, time_updated)`` (``directory``: where it ran — the project), ``message(id, session_id,
time_created, data)`` and ``part(id, message_id, data)`` with the message or part as JSON without its ids.
``storage/`` holds the same objects (with ids) as ``project/<id>.json``, ``session/<project>/<id>.json``,
``message/<session>/<id>.json`` and ``part/<message>/<id>.json``. Messages are ordered by creation time, parts by id.

A message is ``role`` user or assistant; an assistant message has ``modelID``, ``providerID``, ``tokens{input,
output, reasoning, cache{read, write}}`` (the sum of its steps: counted once, reasoning as response tokens),
``time{created, completed}``, and ``summary: true`` with mode ``compaction`` for a compaction summary. Parts:
``text`` (``synthetic``/``ignored`` ones are injected: expanded attachments, reminders, the auto-continue after a
compaction), ``file`` (attachments; images keep a data URL), ``tool`` (``tool``, ``callID``, ``state{status,
input, metadata}``), ``patch`` (``files[]`` changed in a step), ``compaction``, ``subtask``, ``reasoning``,
``step-start``/``step-finish``.

A prompt is a user message with a typed text part (neither synthetic nor ignored) or an image; a message holding a
``compaction`` part (the request to summarise) or only synthetic text is not, and the summary that answers it is
not a chat's response. Chat ids are ``<session id>:<message id>``. A ``/command`` is stored as the user message of
its expanded template (the typed command line is not recorded), so that template is the chat's query; a command
run as a sub-agent (``subtask`` part only) is ``/<command>``.

Files: ``edit``/``write``/``multiedit`` (``filePath``), ``patch``/``apply_patch`` (``patchText``) and ``patch``
parts modify; ``read``/``list``/``glob``/``grep`` and attached files read; ``bash`` runs ``command``. A tool whose
state is ``error`` changed nothing. Sub-agents: the ``task`` tool creates a child session (``parent_id``; its id in
the tool's ``metadata.sessionId``), merged into the chat that called it, as Claude's sidechains are.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from git_ml.capture.transcripts.base import Exchange, ParseResult, session_of
from git_ml.capture.transcripts.tooluse import (
    JSON,
    MODIFY,
    READ,
    SHELL,
    apply_tool,
    data_home,
    from_uri,
    head_bytes,
    iso_ms,
    paused_gc,
)

ASSISTANT = "opencode"
NAME = "opencode"

TOOLS = {name: MODIFY for name in ("edit", "write", "multiedit", "patch", "apply_patch")}
TOOLS.update({name: READ for name in ("read", "list", "glob", "grep")})
TOOLS.update({"bash": SHELL})
_TABLES = frozenset({"session", "message", "part"})


class _Store:
    """What a parse needs, from either form: sessions, project roots, messages (in order) and their parts."""

    def __init__(self) -> None:
        self.sessions: dict[str, dict] = {}  # id -> {parent, directory, project, created, updated}
        self.roots: dict[str, str] = {}  # project id -> worktree
        self.messages: dict[str, list[tuple[str, dict]]] = {}  # session id -> [(message id, data)]
        self.parts: dict[str, list[dict]] = {}  # message id -> [data]
        self.malformed = 0

    def decode(self, raw: object) -> dict | None:
        try:
            obj = JSON.decode(raw) if isinstance(raw, str | bytes) else None
        except ValueError:  # msgspec.DecodeError, or invalid UTF-8
            obj = None
        if not isinstance(obj, dict):
            self.malformed += 1
            return None
        return obj

    def thread(self, sid: str) -> list[tuple[str, dict, list[dict]]]:
        """The messages of a session, in order: (message id, message, its parts). Asked once per session."""
        parts = self.parts
        return [(mid, m, parts.get(mid, [])) for mid, m in self.messages.get(sid, ())]

    def finish(self, read: set[str]) -> None:
        """After the sessions in ``read`` were asked for (the others are not reachable)."""


# --- reading the database ----------------------------------------------------------------------------------------

def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(f"file:{quote(str(path.absolute()))}?mode=ro", uri=True, timeout=2.0)
    con.row_factory = sqlite3.Row
    return con


def _rows(con: sqlite3.Connection, table: str, wanted: tuple[str, ...], order: str) -> Iterator[sqlite3.Row]:
    have = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
    cols = ", ".join(c if c in have else f"NULL AS {c}" for c in wanted)
    return con.execute(f"SELECT {cols} FROM {table} ORDER BY {order}")


def _read_db(path: Path) -> _Store:
    st = _Store()
    con = _connect(path)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "project" in tables:
            for r in _rows(con, "project", ("id", "worktree"), "id"):
                if isinstance(r["worktree"], str):
                    st.roots[r["id"]] = r["worktree"]
        for r in _rows(con, "session", ("id", "project_id", "parent_id", "directory", "time_created",
                                        "time_updated"), "time_created, id"):
            st.sessions[r["id"]] = {"parent": r["parent_id"], "directory": r["directory"],
                                    "project": r["project_id"], "created": r["time_created"],
                                    "updated": r["time_updated"]}
        for r in _rows(con, "message", ("id", "session_id", "data"), "session_id, time_created, id"):
            data = st.decode(r["data"])
            if data is not None:
                st.messages.setdefault(r["session_id"], []).append((r["id"], data))
        for r in _rows(con, "part", ("id", "message_id", "data"), "message_id, id"):
            data = st.decode(r["data"])
            if data is not None:
                st.parts.setdefault(r["message_id"], []).append(data)
    finally:
        con.close()
    return st


# --- reading storage/ --------------------------------------------------------------------------------------------

_CHUNK = 1 << 16


def _json_objects(folder: str, st: _Store) -> list[tuple[str, dict]]:
    """The ``.json`` files of a folder, by name, that hold a JSON object: (name without ".json", object). Any
    other (unreadable, not JSON, not an object) is counted in ``st.malformed``. Plain system calls (one listing,
    then one open, read and close per file, decoded in the same loop): a folder holds one small file per message
    or part, so any step more per file costs as much as reading it."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    names.sort()
    folder += "/"
    out: list[tuple[str, dict]] = []
    bad = 0
    decode = JSON.decode
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            fd = os.open(folder + name, os.O_RDONLY)
        except OSError:  # gone since the listing, or not readable
            bad += 1
            continue
        try:
            data = os.read(fd, _CHUNK)
            if len(data) == _CHUNK:  # a large file (tool output): the rest
                chunks = [data]
                while len(chunks[-1]) == _CHUNK:
                    chunks.append(os.read(fd, _CHUNK))
                data = b"".join(chunks)
            obj = decode(data)
        except (OSError, ValueError):  # a folder, a read error; not JSON (msgspec.DecodeError), not UTF-8
            bad += 1
            continue
        finally:
            os.close(fd)
        if type(obj) is dict:
            out.append((name[:-5], obj))
        else:
            bad += 1
    st.malformed += bad
    return out


class _Folders(_Store):
    """``storage/``: sessions and projects read at once, a session's messages and parts when it is built (and
    dropped after), so that a parse holds one session's objects at a time."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        base = str(root)
        self.message_dir = os.path.join(base, "message", "")
        self.part_dir = os.path.join(base, "part", "")
        for pid, obj in _json_objects(os.path.join(base, "project"), self):
            if isinstance(obj.get("worktree"), str):
                self.roots[pid] = obj["worktree"]
        sessions = os.path.join(base, "session")
        for project in sorted(os.listdir(sessions)) if os.path.isdir(sessions) else ():
            for sid, obj in _json_objects(os.path.join(sessions, project), self):
                t = obj.get("time") if isinstance(obj.get("time"), dict) else {}
                self.sessions[sid] = {"parent": obj.get("parentID"), "directory": obj.get("directory"),
                                      "project": obj.get("projectID", project), "created": t.get("created"),
                                      "updated": t.get("updated")}
        # by time, as the database is read: a numeric string sorts as its number, a time of another type first
        self.sessions = dict(sorted(self.sessions.items(), key=lambda kv: (iso_ms(kv[1]["created"]) or "", kv[0])))

    def thread(self, sid: str) -> list[tuple[str, dict, list[dict]]]:
        msgs = []
        for mid, obj in _json_objects(self.message_dir + sid, self):
            t = obj.get("time")
            created = t.get("created") if type(t) is dict else None
            msgs.append((created if isinstance(created, int) else 0, mid, obj))
        msgs.sort(key=_by_time)
        parts = self.part_dir
        return [(mid, obj, [p for _, p in _json_objects(parts + mid, self)]) for _, mid, obj in msgs]

    def finish(self, read: set[str]) -> None:
        """Sessions no parse reaches (a parent cycle) are read for their malformed files only."""
        for sid in self.sessions:
            if sid not in read:
                self.thread(sid)


def _by_time(m: tuple[int, str, dict]) -> tuple[int, str]:
    return m[0], m[1]


# --- building chats ----------------------------------------------------------------------------------------------

def _is_typed(part: dict) -> bool:
    return (part.get("type") == "text" and not part.get("synthetic") and not part.get("ignored")
            and isinstance(part.get("text"), str) and bool(part["text"].strip()))


def _is_image(part: dict) -> bool:
    return isinstance(part.get("mime"), str) and part["mime"].startswith("image/")


def _prompt(parts: list[dict]) -> str | None:
    """The typed text of a user message, None when it is not a prompt (one pass over its parts)."""
    typed: list[str] = []
    image = False
    sub: str | None = None
    for p in parts:
        kind = p.get("type")
        if kind == "compaction":
            return None
        if kind == "text":
            if _is_typed(p):
                typed.append(p["text"].strip())
        elif kind == "file":
            image = image or _is_image(p)
        elif kind == "subtask" and sub is None and isinstance(p.get("command"), str):
            sub = p["command"]
    if typed:
        return "\n\n".join(typed)
    if image:
        return ""
    return None if sub is None else f"/{sub}"


def _tokens(t: object) -> list[int] | None:
    if not isinstance(t, dict):
        return None

    def n(d: object, k: str) -> int:
        v = d.get(k) if isinstance(d, dict) else None
        return v if isinstance(v, int) and not isinstance(v, bool) else 0

    cache = t.get("cache")
    return [n(t, "input"), n(t, "output") + n(t, "reasoning"), n(cache, "read"), n(cache, "write")]


class _Builder:
    def __init__(self, st: _Store, repo_root: str | None) -> None:
        self.st = st
        self.repo_root = repo_root
        self.skipped = 0
        self.read: set[str] = set()  # the sessions built
        self.children: dict[str, list[str]] = {}
        for sid, s in st.sessions.items():
            if s["parent"] in st.sessions:
                self.children.setdefault(s["parent"], []).append(sid)

    def chats(self, sid: str) -> tuple[list[Exchange], str | None, str | None]:
        """The chats of one session (sub-agent sessions merged in), its last model and last activity."""
        s = self.st.sessions[sid]
        cwd = s["directory"] if isinstance(s["directory"], str) else None
        root = self.st.roots.get(s["project"]) if isinstance(s["project"], str) else None
        chats: list[Exchange] = []
        cur: Exchange | None = None
        model = ended = None
        spawned: dict[str, Exchange] = {}  # child session id -> the chat whose task call made it
        self.read.add(sid)
        for mid, m, parts in self.st.thread(sid):
            if type(t := m.get("time")) is dict:
                ts = iso_ms(t.get("created"))
                done = iso_ms(t.get("completed")) or ts
                if done and (ended is None or done > ended):
                    ended = done
            else:
                ts = done = None
            role = m.get("role")
            if role == "user":
                query = _prompt(parts)
                if query is None:
                    self.skipped += 1  # compaction requests, synthetic-only turns (auto-continue)
                    continue
                cur = Exchange(f"{sid}:{mid}", sid, ts or "", query, mid, cwd, None, self.repo_root, root)
                cur.model = model
                chats.append(cur)
                for p in parts:
                    if p.get("type") == "file":
                        if _is_image(p):
                            cur.images += 1
                        src = p.get("source") if isinstance(p.get("source"), dict) else {}
                        cur.reference(src.get("path") or from_uri(p.get("url")))
                continue
            if cur is None or role != "assistant" or m.get("summary") or m.get("mode") == "compaction":
                self.skipped += 1  # compaction summaries, replies before any prompt
                continue
            cur.seen(done)
            if isinstance(model_id := m.get("modelID"), str):
                model = cur.model = model_id
            tokens = _tokens(m.get("tokens"))
            if tokens is None:  # older messages: the sum of the steps
                steps = [_tokens(p.get("tokens")) for p in parts if p.get("type") == "step-finish"]
                tokens = [sum(x[i] for x in steps if x) for i in range(4)] if steps else None
            if tokens:
                cur.add_usage(mid, tokens)
            where = path.get("cwd") if type(path := m.get("path")) is dict else None
            for p in parts:
                kind = p.get("type")
                if kind == "text":
                    if not p.get("synthetic") and isinstance(text := p.get("text"), str) and text:
                        cur.texts.append(text)
                elif kind == "tool":
                    self._tool(cur, p, where, spawned)
                elif kind == "patch":
                    for f in p.get("files") or ():
                        cur.modify(f)
        for child in self.children.get(sid, ()):
            target = spawned.get(child) or self._by_time(chats, child)
            sub, _, _ = self.chats(child)
            if target is None:
                self.skipped += len(sub)
                continue
            for ex in sub:
                target.merge(ex)
        return chats, model, ended

    def _tool(self, cur: Exchange, p: dict, where: str | None, spawned: dict[str, Exchange]) -> None:
        state = p.get("state") if isinstance(p.get("state"), dict) else {}
        name = p.get("tool") if isinstance(p.get("tool"), str) else "unknown"
        call = p.get("callID") if isinstance(p.get("callID"), str) else None
        failed = state.get("status") == "error"
        apply_tool(cur, name, state.get("input"), TOOLS, call, where, failed=failed)
        meta = state.get("metadata") if isinstance(state.get("metadata"), dict) else {}
        if not failed and name in ("patch", "apply_patch"):
            for f in meta.get("files") or ():
                if isinstance(f, dict):
                    cur.modify(f.get("filePath"))
        if name == "task" and isinstance(meta.get("sessionId"), str):
            spawned[meta["sessionId"]] = cur

    def _by_time(self, chats: list[Exchange], child: str) -> Exchange | None:
        start = iso_ms(self.st.sessions[child]["created"])
        before = [ex for ex in chats if start and ex.timestamp and ex.timestamp <= start]
        return before[-1] if before else None


def _store(path: Path) -> _Store:
    if path.is_file():
        return _read_db(path)
    dbs = _databases(path)
    if dbs:
        return _read_db(dbs[0])
    return _Folders(path / "storage" if (path / "storage" / "session").is_dir() else path)


def parse_opencode(path: str | os.PathLike[str], repo_root: str | None = None) -> ParseResult:
    """Parse a database file, a ``storage/`` folder or the data folder holding either: every top-level session,
    with its sub-agent sessions merged into the chats that started them. Raises only OSError (a database that
    cannot be opened or read is reported as one)."""
    path = Path(path)
    try:
        st = _store(path)
    except sqlite3.Error as exc:
        raise OSError(f"cannot read {path}: {exc}") from None
    b = _Builder(st, repo_root)
    out = ParseResult()
    for sid, s in st.sessions.items():
        if s["parent"] in st.sessions:
            continue  # a sub-agent: merged into its parent's chat
        chats, model, ended = b.chats(sid)
        records = [ex.to_chat(ASSISTANT) for ex in chats]
        out.chats.extend(records)
        out.sessions.append(session_of(
            records, id=sid, assistant=ASSISTANT, started_at=iso_ms(s["created"]),
            ended_at=iso_ms(s["updated"]) or ended, model=model,
            cwd=s["directory"] if isinstance(s["directory"], str) else None, transcript_path=str(path)))
    st.finish(b.read)
    out.malformed, out.skipped = st.malformed, b.skipped
    return out


# --- registry contract (registry.py) -----------------------------------------------------------------------------

def parse(path: str | os.PathLike[str], repo_root: str | None = None, **kw: Any) -> ParseResult:
    with paused_gc():
        return parse_opencode(path, repo_root)


def _is_db(path: Path) -> bool:
    if not head_bytes(path, 16).startswith(b"SQLite format 3\x00"):
        return False
    try:
        con = _connect(path)
        try:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
    except sqlite3.Error:
        return False
    return _TABLES <= names and "cursorDiskKV" not in names


def _databases(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("opencode*.db") if p.is_file())


def sniff(path: str | os.PathLike[str]) -> bool:
    """An OpenCode database (tables session, message, part), a ``storage/`` folder (``session/`` and ``message/``
    folders) or the data folder holding one."""
    path = Path(path)
    if path.is_file():
        return _is_db(path)
    if not path.is_dir():
        return False
    if any(_is_db(p) for p in _databases(path)):
        return True
    storage = path / "storage" if (path / "storage").is_dir() else path
    return all((storage / d).is_dir() for d in ("session", "message")) and \
        any((storage / d).is_dir() for d in ("part", "project"))


def locations(home: Path, env: Mapping[str, str]) -> list[Path]:
    return [data_home(home, env) / "opencode"]


def candidates(location: Path) -> list[Path]:
    """The databases of a data folder, else its ``storage/`` folder (imported into the database by OpenCode)."""
    dbs = [p for p in _databases(location) if _is_db(p)]
    if dbs:
        return dbs
    return [location] if sniff(location) else []
