"""Cursor's agent files (read by ``cursor.py``): the agent transcripts and the ``cursor-agent`` CLI's chat store.

**Agent transcripts** ``~/.cursor/projects/<slug>/agent-transcripts/<id>/<id>.jsonl`` (the IDE agent and
``cursor-agent`` write them; sub-agents in ``<id>/subagents/<child>.jsonl``). ``<slug>`` is the project's absolute
path with every run of other characters than letters and digits turned into ``-`` (lossy: it is matched against
the absolute paths the transcript names, never reversed). Lines: ``{"role": "user"|"assistant", "message":
{"content": [{"type": "text", "text"} | {"type": "tool_use", "name", "input"}]}}`` and ``{"type":
"turn_ended"}`` markers; no ids, model, tokens or tool results. A user text is a preamble (``[Image]``,
``<image_files>`` listing saved images, ``<timestamp>Tuesday, Jun 2, 2026, 9:15 AM (UTC+2)</timestamp>``) then
``<user_query>``: the typed prompt is inside it when a newline follows the opening tag; text right after the tag
is injected by Cursor ("The above subagent result is already visible ...") and is no prompt. The prompt's time is
that timestamp (minute precision). Tools: ``ApplyPatch`` (a patch string), ``StrReplace``, ``Write``, ``Delete``,
``EditNotebook`` modify; ``ReadFile``/``Read``, ``Grep``, ``Glob``, ``LS`` read; ``Shell`` runs a command.
The same conversation is usually also in the editor's database or the CLI's store, which are complete: a
transcript whose id is there is left to them (``cursor.py``).

**cursor-agent store** ``~/.cursor/chats/<md5 of the workspace path>/<agent id>/store.db`` (SQLite): ``meta``
row ``'0'`` is hex-encoded JSON ``{agentId, latestRootBlobId, name, createdAt (ms), lastUsedModel}``; ``blobs(id,
data)`` holds JSON messages (``{"role": system|user|assistant|tool, "content": str | [parts]}`` with ``text``,
``tool-call {toolCallId, toolName, args}``, ``tool-result`` parts) and a protobuf root blob whose repeated field 1
lists the message blob ids (32 bytes each) in order. User messages are prompts only inside ``<user_query>``
(``<user_info>``, rules and attached files are injected). ``meta.json`` beside it, when present, names ``cwd``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
import sqlite3
from pathlib import Path
from urllib.parse import quote

from git_ml.capture.transcripts.base import Exchange, ParseResult, patch_files
from git_ml.schema import Session

ASSISTANT = "cursor"
_QUERY = re.compile(r"<user_query>(.*)</user_query>", re.S)
_STAMP = re.compile(r"<timestamp>[A-Za-z]+, ([A-Za-z]+ \d+, \d{4}, \d+:\d\d [AP]M) \(UTC([+-]\d+(?::\d\d)?)?\)"
                    r"</timestamp>")
_IMAGES = re.compile(r"<image_files>(.*?)</image_files>", re.S)
_WRITE = frozenset({"applypatch", "strreplace", "write", "delete", "editnotebook", "edit", "multiedit"})
_READ = frozenset({"readfile", "read", "grep", "rg", "glob", "ls", "listdir", "semanticsearch", "readlints"})
_SHELL = frozenset({"shell", "bash", "runterminalcmd"})
_PATH_KEYS = ("path", "file_path", "target_notebook", "target_file", "target_directory", "targetFile")


def slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")


def open_ro(path: Path) -> sqlite3.Connection:
    """A read-only connection (the editor may hold the database open and write to it)."""
    return sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=1.0)


def _stamp(text: str) -> str:
    m = _STAMP.search(text)
    if not m:
        return ""
    try:
        local = _dt.datetime.strptime(m.group(1), "%b %d, %Y, %I:%M %p")
    except ValueError:
        return ""
    given = m.group(2) or "+0"
    hours, _, minutes = given[1:].partition(":")
    offset = _dt.timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
    tz = _dt.timezone(-offset if given[0] == "-" else offset)
    return local.replace(tzinfo=tz).astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def typed_prompt(text: str) -> tuple[str | None, int]:
    """(what the person typed or None, images attached) from a user text of a transcript or the CLI's store."""
    m = _QUERY.search(text)
    images = text.count("[Image]")
    listed = _IMAGES.search(text)
    if listed:
        images = max(images, len(re.findall(r"^\s*\d+\.", listed.group(1), re.M)))
    if m is None:
        return (None, 0) if text.lstrip().startswith("<") else (text.strip() or None, images)
    inner = m.group(1)
    if not inner.startswith(("\n", "\r\n")):
        return None, 0  # injected by Cursor
    return inner.strip() or None, images


def tool(ex: Exchange, name: str, args: object) -> None:
    ex.add_tool(name)
    key = re.sub(r"_?v\d+$", "", name).replace("_", "").lower()
    if isinstance(args, str):
        if "*** Begin Patch" in args:
            for p in patch_files(args):
                ex.modify(p)
        return
    if not isinstance(args, dict):
        return
    paths = [args[k] for k in _PATH_KEYS if isinstance(args.get(k), str)]
    paths += [p for p in args.get("paths") or () if isinstance(p, str)] if isinstance(args.get("paths"), list) else []
    if key in _WRITE:
        for p in paths:
            ex.modify(p)
        patch = args.get("patch") or args.get("input")
        if isinstance(patch, str):
            for p in patch_files(patch):
                ex.modify(p)
    elif key in _READ:
        for p in paths:
            ex.reference(p)
    elif key in _SHELL:
        ex.add_shell(args.get("command"), args.get("cwd") if isinstance(args.get("cwd"), str) else None)


def _absolute_paths(obj: object, out: list[str]) -> None:
    if isinstance(obj, str):
        if obj.startswith("/"):
            out.append(obj)
        else:
            out += re.findall(r"(?m)(?:^|\s)(/[^\s:]+)", obj)[:5]
    elif isinstance(obj, dict):
        for v in obj.values():
            _absolute_paths(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _absolute_paths(v, out)


def root_from_slug(folder_slug: str, lines: list[dict], repo_root: str | None) -> str | None:
    """The project root of a transcript folder: this repository when its slug matches, else the ancestor of an
    absolute path named in the transcript whose slug is the folder's."""
    if repo_root and slug(repo_root) == folder_slug:
        return repo_root
    found: list[str] = []
    for line in lines[:200]:
        _absolute_paths(line.get("message"), found)
    for p in found:
        parts = p.split("/")
        for i in range(len(parts), 1, -1):
            candidate = "/".join(parts[:i])
            if slug(candidate) == folder_slug:
                return candidate
    return None


def _read_lines(path: Path) -> tuple[list[dict], int]:
    out, malformed = [], 0
    for raw in path.read_bytes().split(b"\n"):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError:  # (incl. invalid UTF-8)
            malformed += 1
            continue
        if isinstance(obj, dict):
            out.append(obj)
        else:
            malformed += 1
    return out, malformed


def _blocks(line: dict) -> list[dict]:
    msg = line.get("message") if isinstance(line.get("message"), dict) else {}
    content = msg.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _transcript_exchanges(lines: list[dict], sid: str, root: str | None, repo_root: str | None,
                          started: str, sub: bool = False) -> tuple[list[Exchange], int]:
    chats: list[Exchange] = []
    cur: Exchange | None = None
    skipped = 0
    for line in lines:
        role = line.get("role")
        blocks = _blocks(line)
        if role == "user" and not sub:
            text = "\n".join(b.get("text") for b in blocks if isinstance(b.get("text"), str))
            prompt, images = typed_prompt(text)
            if prompt is None:
                skipped += 1
                continue
            cur = Exchange(f"{sid}:{len(chats)}", sid, _stamp(text) or started, prompt, None, root, None, repo_root,
                           root)
            cur.ended_at = None
            cur.images = images
            chats.append(cur)
        elif role == "assistant" or (sub and role == "user"):
            if cur is None:
                if not sub:
                    skipped += 1
                    continue
                cur = Exchange(f"{sid}:sub", sid, started, "", None, root, None, repo_root, root)
                chats.append(cur)
            for b in blocks:
                if b.get("type") == "text" and isinstance(b.get("text"), str) and role == "assistant" and not sub:
                    cur.texts.append(b["text"].strip())
                elif b.get("type") == "tool_use" and isinstance(b.get("name"), str):
                    tool(cur, b["name"], b.get("input"))
        else:
            skipped += 1
    return chats, skipped


def parse_transcript(path: Path, repo_root: str | None) -> ParseResult:
    sid = path.stem
    lines, malformed = _read_lines(path)
    folder = path.parent.parent if path.parent.name == sid else path.parent
    root = root_from_slug(folder.parent.name, lines, repo_root) if folder.name == "agent-transcripts" else None
    try:
        ended = _dt.datetime.fromtimestamp(path.stat().st_mtime, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except OSError:
        ended = ""
    chats, skipped = _transcript_exchanges(lines, sid, root, repo_root, "")
    for sub in sorted((path.parent / "subagents").glob("*.jsonl")) if path.parent.name == sid else ():
        sub_lines, bad = _read_lines(sub)
        malformed += bad
        spawned = [ex for ex in chats if any(n.lower() in ("subagent", "task") for n, _ in ex.tools)]
        target = spawned[-1] if spawned else (chats[-1] if chats else None)
        if target is not None:
            for ex in _transcript_exchanges(sub_lines, sid, root, repo_root, "", sub=True)[0]:
                target.merge(ex)
    out = [ex.to_chat(ASSISTANT) for ex in chats]
    times = [c.timestamp for c in out if c.timestamp]
    session = Session(id=sid, assistant=ASSISTANT, started_at=min(times) if times else None,
                      ended_at=ended or None, cwd=root, transcript_path=str(path), chat_count=len(out))
    return ParseResult(chats=out, sessions=[session], malformed=malformed, skipped=skipped)


# --- cursor-agent store.db ---------------------------------------------------------------------------------------

def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while i < len(data):
        b = data[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7
    raise ValueError("truncated varint")


def root_ids(data: bytes) -> list[str]:
    """The message blob ids of a root blob: field 1 (length-delimited, 32 bytes), in order."""
    ids, i = [], 0
    while i < len(data):
        key, i = _varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, i = _varint(data, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            n, i = _varint(data, i)
            if field == 1 and n == 32:
                ids.append(data[i:i + n].hex())
            i += n
        else:
            raise ValueError("unsupported wire type")
    return ids


def parse_store(path: Path, repo_root: str | None) -> ParseResult:
    con = open_ro(path)
    try:
        row = con.execute("SELECT value FROM meta WHERE key = '0'").fetchone()
        value = row[0] if row else ""
        meta = json.loads(bytes.fromhex(value if isinstance(value, str) else value.decode()).decode())
        root_row = con.execute("SELECT data FROM blobs WHERE id = ?", (meta.get("latestRootBlobId"),)).fetchone()
        ids = root_ids(bytes(root_row[0])) if root_row else []
        blobs = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            q = "SELECT id, data FROM blobs WHERE id IN (%s)" % ",".join("?" * len(chunk))
            blobs.update(con.execute(q, chunk).fetchall())
    finally:
        con.close()
    sid = meta.get("agentId") if isinstance(meta.get("agentId"), str) else path.parent.name
    cwd = None
    try:
        cwd = json.loads((path.parent / "meta.json").read_text(encoding="utf-8")).get("cwd")
    except (OSError, ValueError, AttributeError):
        pass
    if not cwd and repo_root and hashlib.md5(repo_root.encode()).hexdigest() == path.parent.parent.name:
        cwd = repo_root
    created = meta.get("createdAt")
    started = _dt.datetime.fromtimestamp(created / 1000, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") \
        if isinstance(created, (int, float)) else ""
    model = meta.get("lastUsedModel") if isinstance(meta.get("lastUsedModel"), str) else None
    chats: list[Exchange] = []
    cur: Exchange | None = None
    malformed = skipped = 0
    for blob_id in ids:
        data = blobs.get(blob_id)
        try:
            msg = json.loads(bytes(data)) if data is not None else None
        except ValueError:
            msg = None
        if not isinstance(msg, dict):
            malformed += 1
            continue
        content = msg.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else (
            [p for p in content if isinstance(p, dict)] if isinstance(content, list) else [])
        role = msg.get("role")
        if role == "user":
            prompt, images = typed_prompt("\n".join(p.get("text") for p in parts if isinstance(p.get("text"), str)))
            if prompt is None:
                skipped += 1
                continue
            cur = Exchange(f"{sid}:{blob_id[:16]}", sid, started, prompt, None, cwd, None, repo_root, cwd)
            cur.ended_at = None
            cur.model, cur.images = model, images
            chats.append(cur)
        elif role == "assistant" and cur is not None:
            for p in parts:
                if p.get("type") == "text" and isinstance(p.get("text"), str) and p["text"].strip():
                    cur.texts.append(p["text"].strip())
                elif p.get("type") == "tool-call" and isinstance(p.get("toolName"), str):
                    tool(cur, p["toolName"], p.get("args"))
        else:
            skipped += 1  # system prompt, tool results
    out = [ex.to_chat(ASSISTANT) for ex in chats]
    session = Session(id=sid, assistant=ASSISTANT, started_at=started or None, model=model, cwd=cwd,
                      transcript_path=str(path), chat_count=len(out))
    return ParseResult(chats=out, sessions=[session], malformed=malformed, skipped=skipped)
