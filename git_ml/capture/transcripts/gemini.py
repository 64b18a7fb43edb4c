"""Gemini CLI chats (``~/.gemini/tmp/<project>/chats/session-*.jsonl``, older ``session-*.json``).

Where: ``$GEMINI_CLI_HOME`` stands in for the home directory (``$GEMINI_CLI_HOME/.gemini``). ``<project>`` is a
short slug in current versions (the project root's basename; ``~/.gemini/projects.json`` maps roots to slugs and
``tmp/<slug>/.project_root`` holds the absolute root), or ``sha256(project root)`` in hex in older ones (a newer
version copies that folder to the slug folder, so the same session can exist twice: same ids, stored once). Every
file also carries ``projectHash`` = sha256 of the root, so a hash folder is matched to this repository by hashing
its root. Sub-agent chats sit in ``chats/<parent session id>/<agent id>.jsonl`` (header ``kind: "subagent"``).

Format (JSON lines): a header ``{sessionId, projectHash, startTime, lastUpdated, kind?, directories?}``; messages
``{id, timestamp, type: user|gemini|info|error|warning, content, displayContent?, toolCalls?, thoughts?, tokens?,
model?}`` where the same ``id`` is written again as it fills in (the last copy wins, in the order of first
appearance); ``{"$set": {...}}`` metadata updates (``summary`` is the title; ``messages`` replaces the list after a
compression, an abort or a resume); ``{"$rewindTo": id}`` drops that message and everything after it. The older
``.json`` is one object with ``messages``.

A prompt is what the person typed: a ``user`` message that is not only ``functionResponse`` parts (tool results
are written as synthetic user messages), whose text (``displayContent`` when present: ``content`` then holds the
``@file`` expansion) is not empty and does not start with ``/`` (slash commands such as ``/compress``), ``?``,
``<session_context>`` or ``<hook_context>``, and holds no ``<state_snapshot>`` (the compression summary). Messages
replaced by a ``$set.messages`` stay in the history (they were typed; only ``$rewindTo`` unsays them). Images
(``inlineData`` / ``fileData`` parts) are counted.

Tools: ``write_file`` and ``replace`` modify ``file_path``; ``read_file`` (``file_path``, before 2025-11
``absolute_path``), ``list_directory`` / ``glob`` / ``grep_search`` (``dir_path``) read; ``run_shell_command`` is
read for visible file hints. Cancelled or failed calls count as tools used, not as files changed. Tokens:
``input`` includes ``cached`` (cache read); ``output`` plus ``thoughts`` are the response. Paths follow the shared
rule (``paths.py``) with the recorded project root.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

import msgspec

from git_ml.capture.transcripts.base import (
    Exchange,
    ParseResult,
    find_files,
    head_lines,
    is_utf8,
    json_objects,
    session_of,
)
from git_ml.capture.transcripts.tooluse import paused_gc

ASSISTANT = "gemini-cli"
NAME = "gemini"

_DECODER = msgspec.json.Decoder()
_NOT_TYPED = ("/", "?", "<session_context>", "<hook_context>")
_WRITE = frozenset({"write_file", "replace"})
_READ_KEYS = {"read_file": ("file_path", "absolute_path"), "list_directory": ("dir_path",),
              "glob": ("dir_path",), "grep_search": ("dir_path",), "read_many_files": ()}
_SHELL = frozenset({"run_shell_command"})
_FAILED = frozenset({"cancelled", "error"})


# A line decoded into dicts holding only the keys this parser reads: msgspec skips the rest (tool results, thoughts,
# file contents written by write_file or replace) without building them. A key's presence is kept (a part's
# ``functionResponse`` is only tested for presence: kept undecoded). A line whose values do not have the expected
# shapes is decoded whole instead, so either way the dicts read give the same answers.
class _Args(TypedDict, total=False):
    file_path: Any
    absolute_path: Any
    path: Any
    dir_path: Any
    command: Any


class _Call(TypedDict, total=False):
    id: Any
    name: Any
    args: _Args | None
    status: Any
    agentId: Any


class _Part(TypedDict, total=False):
    text: Any
    thought: Any
    functionResponse: msgspec.Raw
    inlineData: msgspec.Raw
    fileData: msgspec.Raw


class _Tokens(TypedDict, total=False):
    input: Any
    output: Any
    cached: Any
    thoughts: Any


_Line = TypedDict("_Line", {  # type: ignore[misc]  # keys such as "$set" need the functional form
    "id": Any, "type": Any, "timestamp": Any, "model": Any, "content": "str | list[_Part] | _Part | None",
    "displayContent": Any, "toolCalls": "list[_Call] | None", "tokens": "_Tokens | None", "$rewindTo": Any,
    "$set": Any, "sessionId": Any, "projectHash": Any, "startTime": Any, "lastUpdated": Any, "kind": Any,
    "messages": Any}, total=False)
_LINE = msgspec.json.Decoder(_Line)


def _lines(data: bytes) -> tuple[list[Any], int]:
    # A skipped value is not checked for valid UTF-8: a file that is not all UTF-8 is decoded whole, line by line.
    decode = _LINE.decode if data.isascii() or is_utf8(data) else _DECODER.decode
    objs, malformed = [], 0
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            objs.append(decode(raw))
        except msgspec.ValidationError:  # valid JSON, other shapes than expected (or not an object): all of it
            try:
                objs.append(_DECODER.decode(raw))
            except ValueError:
                malformed += 1
        except ValueError:  # (incl. invalid UTF-8)
            malformed += 1
    return objs, malformed



class _Chat:
    def __init__(self, path: Path) -> None:
        self.meta: dict = {}
        self.messages: dict[str, dict] = {}
        self.malformed = 0
        self.skipped = 0
        self.path = path

    def load(self) -> None:
        data = self.path.read_bytes()
        objs, self.malformed = _lines(data)
        if len(objs) == 1 and isinstance(objs[0], dict) and isinstance(objs[0].get("messages"), list):
            self._legacy(objs[0])  # one (pretty-printed lines would not decode one by one) object
            return
        if not objs and data.lstrip().startswith(b"{"):
            try:
                obj = _DECODER.decode(data)
            except ValueError:
                return
            if isinstance(obj, dict):
                self.malformed = 0
                self._legacy(obj)
            return
        for obj in objs:
            self.feed(obj)

    def _legacy(self, obj: dict) -> None:
        self.meta = {k: v for k, v in obj.items() if k != "messages"}
        for m in obj.get("messages") or ():
            self._message(m)

    def _message(self, m: object) -> None:
        if isinstance(m, dict) and isinstance(m.get("id"), str):
            self.messages[m["id"]] = m
        else:
            self.malformed += 1

    def feed(self, obj: object) -> None:
        if not isinstance(obj, dict):
            self.malformed += 1
        elif isinstance(obj.get("$rewindTo"), str):
            target = obj["$rewindTo"]
            if target not in self.messages:
                self.messages.clear()
            while self.messages:  # drop from the end back to the target (insertion order is message order)
                if self.messages.popitem()[0] == target:
                    break
        elif isinstance(obj.get("$set"), dict):
            for k, v in obj["$set"].items():
                if k == "messages" and isinstance(v, list):
                    for m in v:
                        self._message(m)
                else:
                    self.meta[k] = v
        elif isinstance(obj.get("id"), str):
            self.messages[obj["id"]] = obj
        elif isinstance(obj.get("sessionId"), str):
            self.meta.update(obj)
        else:
            self.skipped += 1


def _parts(content: object) -> list:
    if isinstance(content, str):
        return [{"text": content}]
    if isinstance(content, dict):
        return [content]
    return [p for p in content if isinstance(p, dict)] if isinstance(content, list) else []


def _text(content: object) -> str:
    return "".join(p["text"] for p in _parts(content) if isinstance(p.get("text"), str) and not p.get("thought"))


def _prompt(m: dict) -> tuple[str | None, int]:
    """(typed text or None when this user message is not a prompt, images attached)."""
    parts = _parts(m.get("content"))
    if parts and all("functionResponse" in p for p in parts):
        return None, 0
    shown = m.get("displayContent")
    text = (_text(shown) if shown else _text(parts)).strip()
    images = sum(1 for p in parts if "inlineData" in p or "fileData" in p)
    if "<state_snapshot>" in text or text.startswith(_NOT_TYPED) or not (text or images):
        return None, 0
    return text, images


def _tool(ex: Exchange, call: dict) -> None:
    name = call.get("name") if isinstance(call.get("name"), str) else "unknown"
    ex.add_tool(name, call.get("id") if isinstance(call.get("id"), str) else None)
    args = call.get("args") if isinstance(call.get("args"), dict) else {}
    if call.get("status") in _FAILED:
        return
    if name in _WRITE:
        ex.modify(args.get("file_path"))
    elif name in _SHELL:
        ex.add_shell(args.get("command"), args.get("dir_path") if isinstance(args.get("dir_path"), str) else None)
    else:
        for key in _READ_KEYS.get(name, ("file_path", "absolute_path", "path", "dir_path")):
            ex.reference(args.get(key))


def _absorb(ex: Exchange, m: dict) -> None:
    ex.seen(m.get("timestamp") if isinstance(m.get("timestamp"), str) else None)
    if isinstance(m.get("model"), str):
        ex.model = m["model"]
    text = _text(m.get("content")).strip()
    if text:
        ex.texts.append(text)
    for call in m.get("toolCalls") or ():
        if isinstance(call, dict):
            _tool(ex, call)
    tokens = m.get("tokens")
    if isinstance(tokens, dict):
        def n(key: str) -> int:
            v = tokens.get(key)
            return v if isinstance(v, int) else 0
        ex.add_tokens(max(0, n("input") - n("cached")), n("output") + n("thoughts"), n("cached"))


def recorded_root(path: Path, project_hash: str | None = None, repo_root: str | None = None) -> str | None:
    """The project root a chat file recorded: ``.project_root`` of its project folder, ``projects.json``, or this
    repository's root when its sha256 is the file's ``projectHash``."""
    chats = path.parent if path.parent.name == "chats" else path.parent.parent
    project = chats.parent
    try:
        return (project / ".project_root").read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        pass
    try:
        registry = _DECODER.decode((project.parent.parent / "projects.json").read_bytes())
        for root, slug in (registry.get("projects") or {}).items():
            if slug == project.name:
                return root
    except (OSError, ValueError, AttributeError):
        pass
    for root in (repo_root,):
        if root and project_hash and hashlib.sha256(root.encode()).hexdigest() == project_hash:
            return root
    return None


def _subagents(path: Path, sid: str) -> list[Path]:
    folder = path.parent / sid
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


def parse(path: str | os.PathLike[str], repo_root: str | None = None, **kw: Any) -> ParseResult:
    """Parse one Gemini CLI chat file (either format), merging its sub-agents' chats into the chats that called
    them. A sub-agent's file parsed on its own gives nothing. Raises only OSError."""
    with paused_gc():
        return _parse(Path(path), repo_root)


def _parse(path: Path, repo_root: str | None) -> ParseResult:
    chat = _Chat(path)
    chat.load()
    meta = chat.meta
    sid = meta.get("sessionId") if isinstance(meta.get("sessionId"), str) else path.stem
    if meta.get("kind") == "subagent":
        return ParseResult(malformed=chat.malformed, skipped=chat.skipped + len(chat.messages))
    ph = meta.get("projectHash") if isinstance(meta.get("projectHash"), str) else None
    root = recorded_root(path, ph, repo_root)
    exchanges, agents = _exchanges(chat, sid, root, repo_root)
    subagents = _subagents(path, sid)
    for sub in subagents:
        child = _Chat(sub)
        child.load()
        target = agents.get(child.meta.get("sessionId")) or agents.get(sub.stem)
        if target is None:
            continue
        c_ex, _ = _exchanges(child, sid, root, repo_root, subagent=True)
        for ex in c_ex:
            target.merge(ex)
        chat.malformed += child.malformed
    chats = [ex.to_chat(ASSISTANT) for ex in exchanges]
    times = [m.get("timestamp") for m in chat.messages.values() if isinstance(m.get("timestamp"), str)]
    started = meta.get("startTime") if isinstance(meta.get("startTime"), str) else (min(times) if times else None)
    ended = meta.get("lastUpdated") if isinstance(meta.get("lastUpdated"), str) else None
    if times and (ended is None or max(times) > ended):
        ended = max(times)
    session = session_of(
        chats, id=sid, assistant=ASSISTANT, started_at=started, ended_at=ended,
        model=next((c.model for c in reversed(chats) if c.model), None), cwd=root, transcript_path=str(path))
    return ParseResult(chats=chats, sessions=[session], malformed=chat.malformed, skipped=chat.skipped,
                       dependencies=subagents)


def _exchanges(chat: _Chat, sid: str, root: str | None, repo_root: str | None, *,
               subagent: bool = False) -> tuple[list[Exchange], dict[str, Exchange]]:
    out: list[Exchange] = []
    agents: dict[str, Exchange] = {}
    cur: Exchange | None = None
    for mid, m in chat.messages.items():
        kind = m.get("type")
        ts = m.get("timestamp") if isinstance(m.get("timestamp"), str) else ""
        if kind == "user":
            text, images = _prompt(m)
            if text is None or subagent:
                chat.skipped += 1
                result = all("functionResponse" in p for p in _parts(m.get("content")))
                if cur is not None and (result or subagent):
                    cur.seen(ts)
                elif not subagent:
                    cur = None  # a slash command or a compression summary: what follows answers it, not a prompt
                if subagent and cur is None:
                    cur = Exchange(f"{sid}:{mid}", sid, ts, "", None, root, None, repo_root, root)
                    out.append(cur)
                continue
            cur = Exchange(f"{sid}:{mid}", sid, ts, text, mid, root, None, repo_root, root)
            cur.images = images
            out.append(cur)
        elif kind == "gemini" and cur is not None:
            _absorb(cur, m)
            for call in m.get("toolCalls") or ():
                if isinstance(call, dict) and isinstance(call.get("agentId"), str):
                    agents[call["agentId"]] = cur
        else:
            chat.skipped += 1  # info / error / warning lines, or a reply before any prompt
    return out, agents


# --- registry contract -------------------------------------------------------------------------------------------

def sniff(path: str | os.PathLike[str]) -> bool:
    """A session's chat file: the header (``sessionId`` with ``projectHash``), as a first line or as the keys of the
    older pretty-printed object."""
    lines = head_lines(path, 4)
    for obj in json_objects(lines[:1]):  # a sub-agent's chat is read with its session (read_with)
        return isinstance(obj.get("sessionId"), str) and "projectHash" in obj and obj.get("kind") != "subagent"
    head = b"\n".join(lines)
    return head.lstrip().startswith(b"{") and b'"sessionId"' in head and b'"projectHash"' in head


def read_with(path: str | os.PathLike[str]) -> Path | None:
    """The session file a sub-agent's chat (``chats/<session id>/<agent>.jsonl``, header ``kind: "subagent"``) is
    merged into: ``chats/session-<time>-<first 8 of the session id>.jsonl`` (see the registry)."""
    path = Path(path)
    for obj in json_objects(head_lines(path, 1)):
        if obj.get("kind") != "subagent":
            return None
        pattern = f"session-*-{path.parent.name[:8]}.json*"
        found = [p for p in sorted(path.parent.parent.glob(pattern)) if p.is_file() and sniff(p)]
        return found[-1] if found else path.parent.parent / pattern
    return None


def locations(home: Path, env: Mapping[str, str]) -> list[Path]:
    base = Path(env["GEMINI_CLI_HOME"]) if env.get("GEMINI_CLI_HOME") else home
    return [base / ".gemini" / "tmp"]


def candidates(location: Path) -> list[Path]:
    """``<project>/chats/session-*.json[l]``; sub-agent chats (in ``chats/<parent>/``) belong to their parent.
    A ``.json`` resumed by a newer version has a ``.jsonl`` beside it holding the whole session: only that one."""
    found = find_files(location, lambda n: n.startswith("session-") and n.endswith((".json", ".jsonl")),
                       lambda d: d in ("checkpoints", "logs", "memory", "plans", "tasks", "tracker"))
    names = {p.name for p in found}
    return [p for p in found if p.suffix == ".jsonl" or p.name + "l" not in names]


def project_of(path: str | os.PathLike[str]) -> str | None:
    """The recorded root, when the project folder names it (a hash folder is matched after parsing)."""
    return recorded_root(Path(path))


def from_hook(event: Mapping[str, Any], home: Path, env: Mapping[str, str]) -> tuple[Any, Path | None, Any, bool]:
    """(session id, chat file, project directory, ended) of a hook event (AfterAgent, SessionEnd, ...)."""
    path = event.get("transcript_path")
    cwd = event.get("cwd") or env.get("GEMINI_PROJECT_DIR")
    return (event.get("session_id") or env.get("GEMINI_SESSION_ID"), Path(path) if isinstance(path, str) and path
            else None, cwd, event.get("hook_event_name") == "SessionEnd")
