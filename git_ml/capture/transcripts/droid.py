"""Factory Droid sessions (``~/.factory/sessions/<encoded cwd>/<id>.jsonl``, older builds flat in ``sessions/``).

Where: ``$FACTORY_HOME_OVERRIDE/.factory/sessions`` when that variable is set, else ``~/.factory/sessions``. Beside
each ``<id>.jsonl`` sits ``<id>.settings.json``: the only place naming the model (``model``; ``custom:<name>`` for
a user's own key, stored as ``<name>``) and the session's cumulative ``tokenUsage`` (``inputTokens``,
``outputTokens``, ``cacheCreationTokens``, ``cacheReadTokens``, ``thinkingTokens``).

Lines: ``session_start`` (``id``, ``title``, ``cwd`` — the project; a worker adds ``callingSessionId`` and
``callingToolUseId``), ``message`` (``id``, ``timestamp``, ``message{role, content[], visibility?}`` with
Anthropic-style blocks), ``todo_state``, ``compaction_state`` (``summaryText``; earlier lines stay). Unknown line
types are skipped and counted.

A prompt is a ``user`` message with a text block (or an image) once ``<system-reminder>`` blocks — injected context
— are removed; messages with ``visibility: "llm_only"`` (hook context the person never typed), tool results and
compaction summaries are not prompts. Chat ids are ``<session id>:<message id>``.

Files: ``Create``/``Write``/``Edit``/``MultiEdit``/``NotebookEdit`` (``file_path``) and ``ApplyPatch`` (paths inside
the ``*** Begin Patch`` text) modify; ``Read``/``LS``/``Grep``/``Glob`` read; ``Execute`` runs a shell command.

Sub-agents: the ``Task`` tool starts a worker session, a separate file in the same folder whose ``session_start``
names the parent (``callingSessionId``) and the Task call (``callingToolUseId``). Its tools, files and tokens are
merged into the parent chat that made the call, as Claude's sidechains are; parsed on its own while its parent is
present, a worker yields nothing (its work belongs to the parent). Tokens: per-message ``usage`` when a build
writes it, else only the session totals of the settings files (the parent's plus its workers').
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from git_ml.capture.transcripts.base import Exchange, ParseResult, head_lines, json_objects, session_of
from git_ml.capture.transcripts.tooluse import (
    JSON,
    MODIFY,
    READ,
    SHELL,
    apply_tool,
    first_json_line,
    load_json,
    paused_gc,
)

ASSISTANT = "droid"
NAME = "droid"

TOOLS = {name: MODIFY for name in ("Create", "Write", "Edit", "MultiEdit", "NotebookEdit", "ApplyPatch")}
TOOLS.update({name: READ for name in ("Read", "LS", "Grep", "Glob")})
TOOLS.update({"Execute": SHELL, "Bash": SHELL})
_REMINDER = re.compile(r"<system-reminder>.*?(?:</system-reminder>|\Z)", re.S)


class _Run:
    """One session file read: its chats (as accumulators) and what the session record needs."""

    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.cwd: str | None = None
        self.calling: tuple[str, str | None] | None = None  # (parent session, Task call id) of a worker
        self.chats: list[Exchange] = []
        self.started: str | None = None
        self.ended: str | None = None
        self.malformed = 0
        self.skipped = 0


def _blocks(content: object) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _failed(lines: list[dict]) -> set[str]:
    """Ids of the tool calls whose result is an error (a failed edit, a call the user cancelled)."""
    out = set()
    for obj in lines:
        msg = obj.get("message")
        if obj.get("type") == "message" and isinstance(msg, dict) and msg.get("role") == "user":
            for b in _blocks(msg.get("content")):
                if b.get("type") == "tool_result" and b.get("is_error") and isinstance(b.get("tool_use_id"), str):
                    out.add(b["tool_use_id"])
    return out


def _read(path: Path, repo_root: str | None) -> _Run:
    data = path.read_bytes()
    run = _Run(path.name.removesuffix(".jsonl"))
    cur: Exchange | None = None
    lines = []
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            obj = JSON.decode(raw)
        except ValueError:  # msgspec.DecodeError, or invalid UTF-8
            run.malformed += 1
            continue
        if not isinstance(obj, dict):
            run.malformed += 1
            continue
        lines.append(obj)
    failed = _failed(lines)
    for obj in lines:
        kind = obj.get("type")
        if kind == "session_start":
            run.sid = obj.get("id") if isinstance(obj.get("id"), str) else run.sid
            run.cwd = obj.get("cwd") if isinstance(obj.get("cwd"), str) else run.cwd
            if isinstance(obj.get("callingSessionId"), str):
                tool = obj.get("callingToolUseId")
                run.calling = (obj["callingSessionId"], tool if isinstance(tool, str) else None)
            continue
        msg = obj.get("message")
        if kind != "message" or not isinstance(msg, dict):
            run.skipped += 1  # todo_state, compaction_state (a summary, never a prompt), future kinds
            continue
        ts = obj.get("timestamp") if isinstance(obj.get("timestamp"), str) else None
        if ts:
            run.started = run.started or ts
            run.ended = ts if run.ended is None or ts > run.ended else run.ended
        blocks = _blocks(msg.get("content"))
        role = msg.get("role")
        if role == "assistant":
            if cur is None:
                run.skipped += 1
                continue
            cur.seen(ts)
            for b in blocks:
                if b.get("type") == "text" and isinstance(b.get("text"), str) and b["text"]:
                    cur.texts.append(b["text"])
                elif b.get("type") == "tool_use":
                    name = b.get("name") if isinstance(b.get("name"), str) else "unknown"
                    tid = b.get("id") if isinstance(b.get("id"), str) else None
                    apply_tool(cur, name, b.get("input"), TOOLS, tid, failed=tid in failed)
            usage = msg.get("usage")
            if isinstance(usage, dict):
                cur.add_usage(str(obj.get("id") or len(cur.usage)), [
                    v if isinstance(v, int) else 0 for v in (usage.get("input_tokens"), usage.get("output_tokens"),
                                                             usage.get("cache_read_input_tokens"),
                                                             usage.get("cache_creation_input_tokens"))])
            continue
        if role != "user" or msg.get("visibility") == "llm_only":
            if cur is not None:
                cur.seen(ts)
            run.skipped += 1
            continue
        texts = [_REMINDER.sub("", b["text"]).strip() for b in blocks
                 if b.get("type") == "text" and isinstance(b.get("text"), str)]
        query = "\n\n".join(t for t in texts if t)
        if not query and not any(b.get("type") == "image" for b in blocks):  # tool results, or only injected context
            if cur is not None:
                cur.seen(ts)
            if not any(b.get("type") == "tool_result" for b in blocks):
                run.skipped += 1
            continue
        mid = obj.get("id") if isinstance(obj.get("id"), str) else str(len(run.chats))
        cur = Exchange(f"{run.sid}:{mid}", run.sid, ts or "", query, mid, run.cwd, None, repo_root)
        cur.images = sum(1 for b in blocks if b.get("type") == "image")
        run.chats.append(cur)
    return run


def _settings(path: Path) -> dict:
    try:
        obj = load_json(path.with_name(path.name.removesuffix(".jsonl") + ".settings.json"))
    except (OSError, ValueError):  # ValueError: not JSON, or not UTF-8
        return {}
    return obj if isinstance(obj, dict) else {}


def _model(settings: dict) -> str | None:
    model = settings.get("model")
    if not isinstance(model, str) or not model:
        return None
    return model.removeprefix("custom:")


def _usage(settings: dict) -> tuple[int, int]:
    u = settings.get("tokenUsage") if isinstance(settings.get("tokenUsage"), dict) else {}
    values = [u.get(k) for k in ("inputTokens", "outputTokens")]
    return tuple(v if isinstance(v, int) else 0 for v in values)  # type: ignore[return-value]


def _workers(path: Path, sid: str) -> Iterable[tuple[Path, dict]]:
    """Sibling session files whose header names ``sid`` as the calling session."""
    for p in sorted(path.parent.glob("*.jsonl")):
        if p == path:
            continue
        head = first_json_line(p)
        if isinstance(head, dict) and head.get("type") == "session_start" and head.get("callingSessionId") == sid:
            yield p, head


def _parent_present(path: Path, head: object) -> bool:
    return (isinstance(head, dict) and isinstance(head.get("callingSessionId"), str)
            and (path.parent / f"{head['callingSessionId']}.jsonl").is_file())


def parse_droid(path: str | os.PathLike[str], repo_root: str | None = None, *, subagents: bool = True) -> ParseResult:
    """Parse one Droid session file (and, with ``subagents``, merge its workers). Raises only OSError."""
    path = Path(path)
    if subagents and _parent_present(path, first_json_line(path)):
        return ParseResult(skipped=1)  # a worker: its work is attributed to the parent's chat
    run = _read(path, repo_root)
    settings = _settings(path)
    model = _model(settings)
    query_tokens, response_tokens = _usage(settings)
    malformed, skipped = run.malformed, run.skipped
    for ex in run.chats:
        ex.model = model
    read = [path.with_name(path.name.removesuffix(".jsonl") + ".settings.json")]
    if subagents:
        for wpath, _ in _workers(path, run.sid):
            read += [wpath, wpath.with_name(wpath.name.removesuffix(".jsonl") + ".settings.json")]
            worker = _read(wpath, repo_root)
            malformed += worker.malformed
            wq, wr = _usage(_settings(wpath))
            query_tokens, response_tokens = query_tokens + wq, response_tokens + wr
            target = _caller(run.chats, worker)
            if target is None:
                skipped += 1
                continue
            for ex in worker.chats:
                target.merge(ex)
    chats = [ex.to_chat(ASSISTANT) for ex in run.chats]
    totals = {"query_tokens": query_tokens, "response_tokens": response_tokens} if settings.get("tokenUsage") else {}
    session = session_of(chats, id=run.sid, assistant=ASSISTANT, started_at=run.started, ended_at=run.ended,
                         model=model, cwd=run.cwd, transcript_path=str(path), **totals)
    return ParseResult(chats=chats, sessions=[session], malformed=malformed, skipped=skipped, dependencies=read)


def _caller(chats: list[Exchange], worker: _Run) -> Exchange | None:
    """The parent chat that started a worker: the one holding its Task call, else the last one begun before it."""
    call = worker.calling[1] if worker.calling else None
    if call:
        for ex in chats:
            if any(tid == call for _, tid in ex.tools):
                return ex
    before = [ex for ex in chats if worker.started and ex.timestamp and ex.timestamp <= worker.started]
    return before[-1] if before else None


# --- registry contract (registry.py) -----------------------------------------------------------------------------

def parse(path: str | os.PathLike[str], repo_root: str | None = None, **kw: Any) -> ParseResult:
    with paused_gc():
        return parse_droid(path, repo_root, **kw)


def sniff(path: str | os.PathLike[str]) -> bool:
    """A session file: it opens with a ``session_start`` line (or, cut short, a ``message`` line)."""
    for obj in json_objects(head_lines(path, 2)):
        return obj.get("type") == "session_start" or (
            obj.get("type") == "message" and isinstance(obj.get("message"), dict) and "role" in obj["message"])
    return False


def locations(home: Path, env: Mapping[str, str]) -> list[Path]:
    base = Path(env["FACTORY_HOME_OVERRIDE"]) if env.get("FACTORY_HOME_OVERRIDE") else home
    return [base / ".factory" / "sessions"]


def candidates(location: Path) -> list[Path]:
    """Session files below ``location``, without the workers whose parent is present (merged into it)."""
    return [p for p in sorted(location.rglob("*.jsonl")) if not _parent_present(p, first_json_line(p))]


def project_of(path: str | os.PathLike[str]) -> str | None:
    head = first_json_line(path)
    return head.get("cwd") if isinstance(head, dict) and isinstance(head.get("cwd"), str) else None
