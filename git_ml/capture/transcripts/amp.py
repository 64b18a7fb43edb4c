"""Amp threads (``$XDG_DATA_HOME/amp/threads/T-<uuid>.json``, default ``~/.local/share/amp/threads``).

One JSON object per thread, rewritten in place as the thread grows (so a re-import yields newer versions of the
same chat ids). Older VS Code extension builds kept threads in ``<editor>/User/globalStorage/sourcegraph.amp/
threads3/``. Fields: ``id`` (``T-…``, also the file stem), ``created`` (epoch ms), ``title``,
``env.initial.trees[]`` (workspace roots: ``uri`` ``file:///…``, ``displayName``, ``repository``),
``env.initial.cwd`` (some builds), ``messages[]`` (``role`` user/assistant/info, ``messageId``, ``content[]``,
``state``, ``usage``, ``meta.sentAt`` ms) and ``meta.traces[]`` (``startTime``/``endTime``).

A prompt is a ``user`` message holding a ``text`` block (or an image); user messages of ``tool_result`` blocks only
carry tool output, and ``info`` messages hold compaction summaries (``summary`` blocks) — neither is a prompt.
Chat ids are ``<thread id>:<messageId>``. Model and tokens come from each assistant message's ``usage``
(``model``, ``inputTokens`` uncached, ``outputTokens``, ``cacheReadInputTokens``, ``cacheCreationInputTokens``);
for OpenAI models Amp reports the uncached prompt as cache creation with ``inputTokens`` 0, which is counted as
query tokens here.

Files: ``edit_file``/``create_file``/``apply_patch``/``undo_edit`` (and the older ``Edit``/``Write``) modify
``path`` (absolute, or relative to the workspace root); ``Read``/``look_at``/``Grep``/``glob`` read; ``Bash`` runs
``cmd``. Sub-agents (``Task``, ``oracle``, ``librarian``) run inside the call: only their answer is stored, as a
tool result, so they count as tools of the chat.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from git_ml.capture.transcripts.base import Exchange, ParseResult, is_binary, session_of
from git_ml.capture.transcripts.tooluse import (
    MODIFY,
    READ,
    SHELL,
    apply_tool,
    data_home,
    editor_storage,
    from_uri,
    head_bytes,
    iso_ms,
    load_object,
    paused_gc,
)

ASSISTANT = "amp"
NAME = "amp"

TOOLS = {name: MODIFY for name in ("edit_file", "create_file", "apply_patch", "undo_edit", "edit", "write")}
TOOLS.update({name: READ for name in ("read", "look_at", "grep", "glob", "list_directory")})
TOOLS.update({"bash": SHELL})
_FAILED = frozenset({"error", "cancelled", "rejected-by-user"})
_THREAD_ID = re.compile(rb'"id"\s*:\s*"T-[0-9A-Za-z-]{8,}"')
_TREE_URI = re.compile(rb'"trees"\s*:\s*\[\s*\{[^\]]*?"uri"\s*:\s*"(file://[^"]+)"')


def _root(thread: dict) -> tuple[str | None, str | None]:
    """(workspace root, cwd) the thread recorded."""
    env = thread.get("env") if isinstance(thread.get("env"), dict) else {}
    initial = env.get("initial") if isinstance(env.get("initial"), dict) else {}
    trees = initial.get("trees") if isinstance(initial.get("trees"), list) else []
    root = next((from_uri(t.get("uri")) for t in trees if isinstance(t, dict) and from_uri(t.get("uri"))), None)
    cwd = initial.get("cwd") if isinstance(initial.get("cwd"), str) else None
    return root, cwd or root


def _usage(ex: Exchange, key: str, usage: dict) -> None:
    def n(k: str) -> int:
        v = usage.get(k)
        return v if isinstance(v, int) and not isinstance(v, bool) else 0

    query, creation = n("inputTokens"), n("cacheCreationInputTokens")
    model = usage.get("model") if isinstance(usage.get("model"), str) else ""
    if model.startswith(("gpt-", "o1", "o3", "o4")) and query == 0:
        query, creation = creation, 0  # OpenAI: the uncached prompt is reported as cache creation
    ex.add_usage(key, [query, n("outputTokens"), n("cacheReadInputTokens"), creation])


def _failed(messages: list) -> set[str]:
    """Ids of the tool calls whose result says they did not run to the end (error, cancelled, rejected)."""
    out = set()
    for msg in messages:
        content = msg.get("content") if isinstance(msg, dict) else None
        for b in content if isinstance(content, list) else ():
            if isinstance(b, dict) and b.get("type") == "tool_result":
                run = b.get("run") if isinstance(b.get("run"), dict) else {}
                tid = b.get("toolUseID") or b.get("tool_use_id")
                if isinstance(tid, str) and run.get("status") in _FAILED:
                    out.add(tid)
    return out


def parse_amp(path: str | os.PathLike[str], repo_root: str | None = None) -> ParseResult:
    """Parse one thread file. A file that is not a JSON object (cut off mid-write) counts as one malformed unit.
    Raises only OSError."""
    path = Path(path)
    thread = load_object(path, "messages")
    if thread is None:
        return ParseResult(malformed=1)
    sid = thread.get("id") if isinstance(thread.get("id"), str) else path.stem
    root, cwd = _root(thread)
    started = iso_ms(thread.get("created"))
    ended = started
    malformed = skipped = 0
    chats: list[Exchange] = []
    cur: Exchange | None = None
    model: str | None = None
    last = started
    failed = _failed(thread["messages"])
    for i, msg in enumerate(thread["messages"]):
        if not isinstance(msg, dict):
            malformed += 1
            continue
        meta = msg.get("meta") if isinstance(msg.get("meta"), dict) else {}
        usage = msg.get("usage") if isinstance(msg.get("usage"), dict) else None
        ts = iso_ms(meta.get("sentAt")) or (usage.get("timestamp") if usage and isinstance(usage.get("timestamp"),
                                                                                            str) else None)
        last = ts or last
        if ts and (ended is None or ts > ended):
            ended = ts
        content = msg.get("content")
        blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else (
            [{"type": "text", "text": content}] if isinstance(content, str) else [])
        role = msg.get("role")
        key = str(msg.get("messageId", i))
        if role == "assistant":
            if cur is None:
                skipped += 1
                continue
            cur.seen(ts)
            for b in blocks:
                if b.get("type") == "text" and isinstance(b.get("text"), str) and b["text"]:
                    cur.texts.append(b["text"])
                elif b.get("type") == "tool_use":
                    name = b.get("name") if isinstance(b.get("name"), str) else "unknown"
                    tid = b.get("id") if isinstance(b.get("id"), str) else None
                    apply_tool(cur, name, b.get("input"), TOOLS, tid, failed=tid in failed)
            if usage is not None:
                _usage(cur, key, usage)
                if isinstance(usage.get("model"), str) and usage["model"]:
                    model = cur.model = usage["model"]
            continue
        texts = [b["text"] for b in blocks if b.get("type") == "text" and isinstance(b.get("text"), str)]
        query = "\n\n".join(t for t in texts if t.strip())
        if role != "user" or not (query or any(b.get("type") == "image" for b in blocks)):
            if role == "user" and any(b.get("type") == "tool_result" for b in blocks):
                if cur is not None:
                    cur.seen(ts)
            else:
                skipped += 1  # info (compaction summaries), unknown roles, empty messages
            continue
        cur = Exchange(f"{sid}:{key}", sid, ts or last or "", query, key, cwd, None, repo_root, root)
        cur.images = sum(1 for b in blocks if b.get("type") == "image")
        cur.model = model
        chats.append(cur)
    traces = thread.get("meta", {}).get("traces") if isinstance(thread.get("meta"), dict) else None
    for t in traces if isinstance(traces, list) else ():
        end = t.get("endTime") if isinstance(t, dict) else None
        if isinstance(end, str) and (ended is None or end > ended):
            ended = end
    out = [ex.to_chat(ASSISTANT) for ex in chats]
    session = session_of(out, id=sid, assistant=ASSISTANT, started_at=started, ended_at=ended, model=model, cwd=cwd,
                         transcript_path=str(path))
    return ParseResult(chats=out, sessions=[session], malformed=malformed, skipped=skipped)


# --- registry contract (registry.py) -----------------------------------------------------------------------------

def parse(path: str | os.PathLike[str], repo_root: str | None = None, **kw: Any) -> ParseResult:
    with paused_gc():
        return parse_amp(path, repo_root)


def sniff(path: str | os.PathLike[str]) -> bool:
    """A thread: a JSON object whose ``id`` is ``T-…`` (read from the first KB of the file)."""
    head = head_bytes(path)
    return bool(head) and not is_binary(head) and head.lstrip().startswith(b"{") and bool(_THREAD_ID.search(head))


def locations(home: Path, env: Mapping[str, str]) -> list[Path]:
    legacy = [d / "sourcegraph.amp" / "threads3" for d in editor_storage(home, env)]
    return [data_home(home, env) / "amp" / "threads", *legacy]


def candidates(location: Path) -> list[Path]:
    return sorted(p for p in location.rglob("T-*.json") if p.is_file())


def project_of(path: str | os.PathLike[str]) -> str | None:
    """The first workspace root, read from the head of the file (``env`` precedes ``messages``)."""
    m = _TREE_URI.search(head_bytes(path))
    return from_uri(m.group(1).decode("utf-8", "replace")) if m else None
