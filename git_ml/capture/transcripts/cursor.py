"""Cursor: the editor's database (``state.vscdb``), and the agent files (``cursor_agent.py``).

Where: the editor's user folder — Linux ``$XDG_CONFIG_HOME/Cursor/User`` (``~/.config/Cursor/User``), macOS
``~/Library/Application Support/Cursor/User``, Windows ``%APPDATA%\\Cursor\\User`` — holds
``globalStorage/state.vscdb`` and ``workspaceStorage/<hash>/{workspace.json, state.vscdb}``; ``~/.cursor`` holds
the agent transcripts and the ``cursor-agent`` CLI's stores. The database is opened read-only
(``file:...?mode=ro``): the editor keeps it open in WAL mode and it can be gigabytes, so rows are read by key range.

``state.vscdb``, table ``cursorDiskKV(key, value)`` (JSON values, TEXT or BLOB):
- ``composerData:<composer id>``: one conversation — ``createdAt`` / ``lastUpdatedAt`` (epoch ms), ``modelConfig``
  (``modelName``, or ``selectedModels[0].modelId``; very old rows hold a list), ``fullConversationHeadersOnly``
  (the bubble ids in order; older rows inline the bubbles in ``conversation``), ``workspaceIdentifier.uri.fsPath``
  (the project), ``subComposerIds`` / ``subagentComposerIds`` (sub-agents, composers of their own);
- ``bubbleId:<composer id>:<bubble id>``: one message — ``type`` 1 user / 2 assistant, ``text`` (a user bubble's
  text is what the person typed: attached context sits apart in ``context``, whose ``fileSelections`` count as
  files referenced), ``images``, ``createdAt`` (ISO), ``tokenCount {inputTokens, outputTokens}`` ({0, 0}: not
  metered), ``toolFormerData {name, rawArgs, params, additionalData.status}`` (arguments are JSON strings).
The project of a composer: its ``workspaceIdentifier``, else the ``composerHeaders`` table's ``workspaceId`` ->
``workspaceStorage/<id>/workspace.json``, else the workspace database listing it (``composer.composerData``).

Tools (a ``_v2`` suffix is ignored): ``edit_file`` (``target_file``), ``edit_file_v2``
(``relativeWorkspacePath``, often absolute), ``search_replace`` (``file_path``), ``write``, ``delete_file``,
``apply_patch`` and ``edit_notebook`` modify; ``read_file`` (``target_file`` / ``targetFile``), ``list_dir``,
``grep_search``, ``glob_file_search`` read; ``run_terminal_cmd`` runs a command. A call whose
``additionalData.status`` is ``error`` changes no file. Chat ids are ``<composer id>:<bubble id>``.

The same conversation may also be written as an agent transcript (and a ``cursor-agent`` conversation as both a
transcript and a ``store.db``): a transcript is read only when neither database holds its id.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from git_ml.capture.transcripts import cursor_agent
from git_ml.capture.transcripts.base import Exchange, ParseResult, head_lines, json_objects, patch_files, session_of

ASSISTANT = "cursor"
NAME = "cursor"

_SQLITE = b"SQLite format 3\x00"
_WRITE = frozenset({"editfile", "searchreplace", "write", "writefile", "deletefile", "applypatch", "editnotebook"})
_READ = frozenset({"readfile", "listdir", "grepsearch", "ripgreprawsearch", "grep", "globfilesearch", "filesearch",
                   "codebasesearch", "readlints"})
_SHELL = frozenset({"runterminalcmd", "runterminalcommand"})
_PATH_KEYS = ("target_file", "targetFile", "relativeWorkspacePath", "file_path", "path", "target_notebook",
              "target_directory", "relative_workspace_path", "directory")


def _json(value: object) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _iso(ms: object) -> str | None:
    if not isinstance(ms, (int, float)) or ms <= 0:
        return None
    seconds = ms / 1000 if ms > 1e11 else ms  # one writer used seconds
    return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _folder(uri: object) -> str | None:
    if not isinstance(uri, str) or not uri.startswith("file://"):
        return None
    return unquote(urlparse(uri).path) or None


def _model(config: object) -> str | None:
    if isinstance(config, list):
        config = config[0] if config and isinstance(config[0], dict) else {}
    if not isinstance(config, dict):
        return None
    if isinstance(config.get("modelName"), str):
        return config["modelName"]
    selected = config.get("selectedModels")
    if isinstance(selected, list) and selected and isinstance(selected[0], dict):
        return selected[0].get("modelId")
    return None


class _Workspaces:
    """Composer id -> project folder, from ``workspaceStorage`` (read once, only when a composer needs it)."""

    def __init__(self, db: Path, con: sqlite3.Connection) -> None:
        self.storage = db.parent.parent / "workspaceStorage"
        self.con = con
        self._by_id: dict[str, str] | None = None
        self._by_composer: dict[str, str] | None = None

    def folders(self) -> dict[str, str]:
        if self._by_id is None:
            self._by_id = {}
            for ws in sorted(self.storage.glob("*/workspace.json")) if self.storage.is_dir() else ():
                try:
                    folder = _folder(json.loads(ws.read_text(encoding="utf-8")).get("folder"))
                except (OSError, ValueError, AttributeError):
                    continue
                if folder:
                    self._by_id[ws.parent.name] = folder
        return self._by_id

    def of(self, composer: str) -> str | None:
        try:
            row = self.con.execute("SELECT workspaceId FROM composerHeaders WHERE composerId = ?",
                                   (composer,)).fetchone()
        except sqlite3.Error:
            row = None
        if row and row[0] in self.folders():
            return self.folders()[row[0]]
        if self._by_composer is None:
            self._by_composer = {}
            for ws_id, folder in self.folders().items():
                try:
                    con = cursor_agent.open_ro(self.storage / ws_id / "state.vscdb")
                    try:
                        value = con.execute("SELECT value FROM ItemTable WHERE key = 'composer.composerData'"
                                            ).fetchone()
                    finally:
                        con.close()
                except sqlite3.Error:
                    continue
                data = _json(value[0]) if value else None
                for c in (data or {}).get("allComposers") or () if isinstance(data, dict) else ():
                    if isinstance(c, dict) and isinstance(c.get("composerId"), str):
                        self._by_composer[c["composerId"]] = folder
        return self._by_composer.get(composer)


def _tool(ex: Exchange, data: dict) -> None:
    name = data.get("name") if isinstance(data.get("name"), str) else "unknown"
    ex.add_tool(name, data.get("toolCallId") if isinstance(data.get("toolCallId"), str) else None)
    extra = data.get("additionalData") if isinstance(data.get("additionalData"), dict) else {}
    if extra.get("status") == "error":
        return
    args: dict = {}
    for key in ("params", "rawArgs"):  # rawArgs (as the model sent them) wins
        parsed = _json(data.get(key))
        if isinstance(parsed, dict):
            args.update(parsed)
    kind = name.rsplit("_v", 1)[0] if name.rsplit("_v", 1)[-1].isdigit() else name
    kind = kind.replace("_", "").lower()
    paths = [args[k] for k in _PATH_KEYS if isinstance(args.get(k), str)]
    if kind in _WRITE:
        for p in paths[:1]:
            ex.modify(p)
        for key in ("patch", "input"):
            if isinstance(args.get(key), str):
                for p in patch_files(args[key]):
                    ex.modify(p)
    elif kind in _READ:
        for p in paths[:1]:
            ex.reference(p)
    elif kind in _SHELL:
        ex.add_shell(args.get("command"))


def _bubbles(con: sqlite3.Connection, cid: str, data: dict) -> list[dict]:
    if isinstance(data.get("conversation"), list) and data["conversation"]:
        return [b for b in data["conversation"] if isinstance(b, dict)]
    rows = con.execute("SELECT key, value FROM cursorDiskKV WHERE key >= ? AND key < ?",
                       (f"bubbleId:{cid}:", f"bubbleId:{cid};")).fetchall()
    by_id = {}
    for key, value in rows:
        b = _json(value)
        if isinstance(b, dict):
            by_id[key.rsplit(":", 1)[-1]] = b
    order = [h.get("bubbleId") for h in data.get("fullConversationHeadersOnly") or () if isinstance(h, dict)]
    ordered = [by_id.pop(b) for b in order if b in by_id]
    return ordered + sorted(by_id.values(), key=lambda b: str(b.get("createdAt") or ""))


def _composer(con, cid: str, data: dict, project: str | None, repo_root: str | None) -> tuple[list[Exchange], int]:
    chats: list[Exchange] = []
    cur: Exchange | None = None
    skipped = 0
    model = _model(data.get("modelConfig"))
    last_time = _iso(data.get("createdAt")) or ""
    for b in _bubbles(con, cid, data):
        bid = b.get("bubbleId") if isinstance(b.get("bubbleId"), str) else str(len(chats))
        ts = b.get("createdAt") if isinstance(b.get("createdAt"), str) else (_iso(b.get("createdAt")) or "")
        last_time = ts or last_time
        text = b.get("text") if isinstance(b.get("text"), str) else ""
        if b.get("type") == 1:
            images = len(b["images"]) if isinstance(b.get("images"), list) else 0
            if not text.strip() and not images:
                skipped += 1
                continue
            cur = Exchange(f"{cid}:{bid}", cid, last_time, text.strip(), bid, project, None, repo_root, project)
            cur.model, cur.images = model, images
            context = b.get("context") if isinstance(b.get("context"), dict) else {}
            for sel in context.get("fileSelections") or ():
                uri = sel.get("uri") if isinstance(sel, dict) else None
                if isinstance(uri, dict):
                    cur.reference(uri.get("fsPath") or uri.get("path"))
            chats.append(cur)
        elif b.get("type") == 2 and cur is not None:
            cur.seen(ts or None)
            if text.strip():
                cur.texts.append(text.strip())
            if isinstance(b.get("toolFormerData"), dict):
                _tool(cur, b["toolFormerData"])
            tokens = b.get("tokenCount") if isinstance(b.get("tokenCount"), dict) else {}
            cur.add_tokens(*(tokens.get(k) if isinstance(tokens.get(k), int) else 0
                             for k in ("inputTokens", "outputTokens")))
        else:
            skipped += 1
    return chats, skipped


def parse_database(path: Path, repo_root: str | None, only: set[str] | None = None) -> ParseResult:
    """Every conversation of the editor's database (or those named in ``only``)."""
    result = ParseResult()
    con = cursor_agent.open_ro(path)
    try:
        if only:
            rows = [r for cid in sorted(only) for r in con.execute(
                "SELECT key, value FROM cursorDiskKV WHERE key = ?", (f"composerData:{cid}",)).fetchall()]
        else:
            rows = con.execute("SELECT key, value FROM cursorDiskKV WHERE key >= 'composerData:' "
                               "AND key < 'composerData;'").fetchall()
        composers = {}
        for key, value in rows:
            data = _json(value)
            if isinstance(data, dict):
                composers[key.split(":", 1)[1]] = data
            else:
                result.malformed += 1
        children = {c for d in composers.values() for k in ("subComposerIds", "subagentComposerIds")
                    for c in (d.get(k) or ()) if isinstance(c, str)}
        workspaces = _Workspaces(path, con)
        for cid, data in composers.items():
            if cid in children:
                continue  # a sub-agent: merged into its parent below
            ws = data.get("workspaceIdentifier") if isinstance(data.get("workspaceIdentifier"), dict) else {}
            uri = ws.get("uri") if isinstance(ws.get("uri"), dict) else {}
            project = uri.get("fsPath") if isinstance(uri.get("fsPath"), str) else workspaces.of(cid)
            exchanges, skipped = _composer(con, cid, data, project, repo_root)
            result.skipped += skipped
            for child in [c for k in ("subComposerIds", "subagentComposerIds") for c in data.get(k) or ()]:
                sub = composers.get(child) if isinstance(child, str) else None
                if sub is None and isinstance(child, str):
                    row = con.execute("SELECT value FROM cursorDiskKV WHERE key = ?",
                                      (f"composerData:{child}",)).fetchone()
                    sub = _json(row[0]) if row else None
                if isinstance(sub, dict) and exchanges:
                    for ex in _composer(con, child, sub, project, repo_root)[0]:
                        exchanges[-1].merge(ex)
            chats = [ex.to_chat(ASSISTANT) for ex in exchanges]
            result.chats += chats
            result.sessions.append(session_of(
                chats, id=cid, assistant=ASSISTANT, started_at=_iso(data.get("createdAt")),
                ended_at=_iso(data.get("lastUpdatedAt")), model=_model(data.get("modelConfig")), cwd=project,
                transcript_path=str(path)))
    except sqlite3.Error as exc:
        raise OSError(f"cannot read the Cursor database: {exc}") from None
    finally:
        con.close()
    return result


@functools.lru_cache(maxsize=8)
def _composer_ids(db: str, mtime: int) -> frozenset[str]:
    try:
        con = cursor_agent.open_ro(Path(db))
        try:
            rows = con.execute("SELECT key FROM cursorDiskKV WHERE key >= 'composerData:' AND key < 'composerData;'"
                               ).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return frozenset()
    return frozenset(k.split(":", 1)[1] for (k,) in rows)


def _held_elsewhere(transcript: Path, sid: str) -> bool:
    """Whether the editor's database or a cursor-agent store holds this transcript's conversation."""
    dot_cursor = transcript.parents[4] if len(transcript.parents) > 4 else None
    if dot_cursor is not None and any((dot_cursor / "chats").glob(f"*/{sid}/store.db")):
        return True
    for db in _databases(Path(os.path.expanduser("~")), os.environ):
        try:
            if sid in _composer_ids(str(db), db.stat().st_mtime_ns):
                return True
        except OSError:
            continue
    return False


def parse(path: str | os.PathLike[str], repo_root: str | None = None, *, only: set[str] | None = None,
          **kw: Any) -> ParseResult:
    """A ``state.vscdb``, a ``store.db`` or an agent transcript. Raises only OSError."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(16)
    if head == _SQLITE:
        if path.name == "store.db":
            try:
                return cursor_agent.parse_store(path, repo_root)
            except (sqlite3.Error, ValueError, UnicodeDecodeError) as exc:
                raise OSError(f"cannot read the cursor-agent store: {exc}") from None
        return parse_database(path, repo_root, only)
    if _held_elsewhere(path, path.stem):
        return ParseResult(skipped=1)
    return cursor_agent.parse_transcript(path, repo_root)


# --- registry contract -------------------------------------------------------------------------------------------

def _tables(path: Path) -> set[str]:
    try:
        con = cursor_agent.open_ro(path)
        try:
            return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
    except sqlite3.Error:
        return set()


def sniff(path: str | os.PathLike[str]) -> bool:
    """The editor's database (table ``cursorDiskKV``), a cursor-agent ``store.db`` (tables ``meta``, ``blobs``), or
    an agent transcript (``{"role", "message"}`` lines)."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return False
    if head == _SQLITE:
        tables = _tables(path)
        return "cursorDiskKV" in tables or {"meta", "blobs"} <= tables and path.name == "store.db"
    if path.parent.name == "subagents":
        return False
    for obj in json_objects(head_lines(path, 1)):
        return set(obj) <= {"role", "message"} and obj.get("role") in ("user", "assistant") \
            and isinstance(obj.get("message"), dict)
    return False


def _user_dirs(home: Path, env: Mapping[str, str]) -> list[Path]:
    config = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
    dirs = [config / "Cursor" / "User", home / "Library" / "Application Support" / "Cursor" / "User"]
    if env.get("APPDATA"):
        dirs.append(Path(env["APPDATA"]) / "Cursor" / "User")
    return dirs


def _databases(home: Path, env: Mapping[str, str]) -> list[Path]:
    return [d / "globalStorage" / "state.vscdb" for d in _user_dirs(home, env)
            if (d / "globalStorage" / "state.vscdb").is_file()]


def locations(home: Path, env: Mapping[str, str]) -> list[Path]:
    dot = Path(env["CURSOR_CONFIG_DIR"]) if env.get("CURSOR_CONFIG_DIR") else home / ".cursor"
    return [d / "globalStorage" / "state.vscdb" for d in _user_dirs(home, env)] + [dot / "projects", dot / "chats"]


def candidates(location: Path) -> list[Path]:
    if location.name == "chats":
        return sorted(location.glob("*/*/store.db"))
    found = sorted(location.glob("*/agent-transcripts/*/*.jsonl")) + sorted(location.glob("*/agent-transcripts/*.jsonl"))
    return [p for p in found if p.parent.name != "subagents"]


def project_of(path: str | os.PathLike[str]) -> str | None:
    """A store's ``meta.json`` names its project; the database holds many projects and a transcript's folder
    name is lossy: those are filtered after parsing."""
    path = Path(path)
    if path.name == "store.db":
        try:
            cwd = json.loads((path.parent / "meta.json").read_text(encoding="utf-8")).get("cwd")
            return cwd if isinstance(cwd, str) else None
        except (OSError, ValueError, AttributeError):
            return None
    return None


def from_hook(event: Mapping[str, Any], home: Path, env: Mapping[str, str]) -> tuple[Any, Path | None, Any, bool]:
    """(conversation id, where it is complete — the editor's database, the cursor-agent store, else the agent
    transcript —, workspace root, ended)."""
    sid = event.get("conversation_id")
    roots = event.get("workspace_roots")
    cwd = roots[0] if isinstance(roots, list) and roots and isinstance(roots[0], str) else event.get("cwd")
    for db in _databases(home, env):
        try:
            if isinstance(sid, str) and sid in _composer_ids(str(db), db.stat().st_mtime_ns):
                return sid, db, cwd, False
        except OSError:
            continue
    ended = event.get("hook_event_name") == "sessionEnd"
    if isinstance(sid, str) and sid:
        dot = Path(env["CURSOR_CONFIG_DIR"]) if env.get("CURSOR_CONFIG_DIR") else home / ".cursor"
        store = next(iter(sorted((dot / "chats").glob(f"*/{sid}/store.db"))), None)
        if store is not None:
            return sid, store, cwd, ended
    path = event.get("transcript_path")
    return sid, Path(path) if isinstance(path, str) and path else None, cwd, ended
