"""Continue sessions, from the IDE extension and the ``cn`` CLI (``~/.continue/sessions/<session id>.json``).

Where: ``$CONTINUE_GLOBAL_DIR/sessions`` when set (a relative value is relative to the working directory), else
``~/.continue/sessions``; both front ends share it. ``sessions.json`` beside the files is the index
(``sessionId``, ``title``, ``dateCreated`` — epoch ms as a string —, ``workspaceDirectory``); it is not a session.

A session: ``sessionId``, ``title``, ``workspaceDirectory`` (the project: an absolute path from the CLI, a
``file://`` URI from the IDE), ``history[]``, ``chatModelTitle`` (the model's title in the user's config: the only
model recorded), ``usage`` (CLI session totals: ``promptTokens``, ``completionTokens``, ``promptTokensDetails
{cachedTokens, cacheWriteTokens}``). A history item: ``message`` (``role`` user/assistant/thinking/tool/system,
``content`` a string or parts — ``text``, ``imageUrl`` —, ``toolCalls[]`` with JSON-string ``arguments``,
optional ``usage``), ``contextItems`` (attached files and snippets), ``editorState`` (what was typed: the raw
string in the CLI, ProseMirror JSON in the IDE), ``toolCallStates`` (``status`` done/errored/canceled…),
``reasoning`` (``startAt``/``endAt`` ms), ``conversationSummary`` (CLI compaction: the history was replaced by
this summary item).

A prompt is a ``user`` message: its typed text comes from ``editorState`` (mentions kept as ``@name``), else from
its text parts; ``contextItems`` are injected context (their files count as referenced, their text is never the
query); the compaction summary item is not a prompt. The file records no times per message: every chat spans the
session as far as it is known, from the index's ``dateCreated`` (else the file's modification time) to the file's
modification time, so that linking sees the commits made during the session. Compaction rewrites the history, so chat ids cannot be positions: they are
``<session id>:<hash of the prompt>`` (``-2``, ``-3``… for repeats).

Files: ``edit_existing_file``/``single_find_and_replace``/``multi_edit``/``create_new_file`` (IDE, ``filepath``)
and ``Edit``/``MultiEdit``/``Write`` (CLI, ``file_path``/``filepath``) modify; ``read_file``/``Read``/``ls``/``List``
read; ``run_terminal_command``/``Bash`` run commands. The CLI's ``Subagent`` runs in process and stores nothing of
its own. Tokens: OpenAI-style (``promptTokens`` includes the cached part, which is taken out of the query count).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from git_ml.capture.transcripts.base import Exchange, ParseResult, is_binary, session_of
from git_ml.capture.transcripts.tooluse import (
    JSON,
    MODIFY,
    READ,
    SHELL,
    apply_tool,
    from_uri,
    head_bytes,
    iso_ms,
    iso_mtime,
    load_json,
    load_object,
    paused_gc,
)

ASSISTANT = "continue"
NAME = "continue"
INDEX = "sessions.json"

TOOLS = {name: MODIFY for name in ("edit_existing_file", "single_find_and_replace", "multi_edit", "create_new_file",
                                   "edit", "multiedit", "write")}
TOOLS.update({name: READ for name in ("read_file", "read_file_range", "read", "ls", "list", "view_subdirectory")})
TOOLS.update({"run_terminal_command": SHELL, "bash": SHELL})
_FAILED = frozenset({"errored", "canceled", "cancelled"})
_HISTORY = re.compile(rb'"history"\s*:\s*\[')
_SESSION_ID = re.compile(rb'"sessionId"\s*:\s*"')
_WORKSPACE = re.compile(rb'"workspaceDirectory"\s*:\s*("(?:[^"\\]|\\.)*")')


def _tokens(usage: object) -> list[int] | None:
    if not isinstance(usage, dict):
        return None

    def n(d: dict, k: str) -> int:
        v = d.get(k)
        return v if isinstance(v, int) and not isinstance(v, bool) else 0

    details = usage.get("promptTokensDetails") if isinstance(usage.get("promptTokensDetails"), dict) else {}
    prompt, cached = n(usage, "promptTokens"), n(details, "cachedTokens")
    return [max(0, prompt - cached), n(usage, "completionTokens"), cached, n(details, "cacheWriteTokens")]


def _prose(node: object) -> str:
    """The text of an IDE editor state (ProseMirror JSON): text nodes, mentions as ``@label``, one line per block."""
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return node.get("text") if isinstance(node.get("text"), str) else ""
    if kind == "hardBreak":
        return "\n"
    attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
    if kind == "mention":
        label = attrs.get("label") or attrs.get("id")
        return f"@{label}" if isinstance(label, str) and label else ""
    children = node.get("content") if isinstance(node.get("content"), list) else []
    sep = "\n" if kind == "doc" else ""
    return sep.join(_prose(c) for c in children)


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n\n".join(p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text"
                       and isinstance(p.get("text"), str) and p["text"])


def _query(item: dict, msg: dict) -> str:
    state = item.get("editorState")
    typed = state if isinstance(state, str) else _prose(state)
    return (typed or _text(msg.get("content"))).strip()


@functools.lru_cache(maxsize=16)
def _index(path: str, mtime_ns: int) -> dict[str, str]:
    """sessionId -> ISO start time, from a ``sessions.json`` (cached per modification time)."""
    try:
        entries = load_json(path)
    except (OSError, ValueError):  # ValueError: not JSON, or not UTF-8
        return {}
    out = {}
    for e in entries if isinstance(entries, list) else ():
        if isinstance(e, dict) and isinstance(e.get("sessionId"), str):
            t = iso_ms(e.get("dateCreated"))
            if t:
                out[e["sessionId"]] = t
    return out


def _created(path: Path, sid: str) -> str | None:
    index = path.with_name(INDEX)
    try:
        mtime = index.stat().st_mtime_ns
    except OSError:
        return None
    return _index(str(index), mtime).get(sid)


def parse_continue(path: str | os.PathLike[str], repo_root: str | None = None) -> ParseResult:
    """Parse one session file. Not a JSON object: one malformed unit. Raises only OSError."""
    path = Path(path)
    session = load_object(path, "history")
    if session is None:
        return ParseResult(malformed=1)
    sid = session.get("sessionId") if isinstance(session.get("sessionId"), str) else path.stem
    cwd = from_uri(session.get("workspaceDirectory"))
    model = session.get("chatModelTitle") if isinstance(session.get("chatModelTitle"), str) else None
    mtime = iso_mtime(path)
    started = _created(path, sid) or mtime
    malformed = skipped = 0
    chats: list[Exchange] = []
    cur: Exchange | None = None
    repeats: dict[str, int] = {}
    for i, item in enumerate(session["history"]):
        msg = item.get("message") if isinstance(item, dict) else None
        if not isinstance(msg, dict):
            malformed += 1
            continue
        role = msg.get("role")
        reasoning = item.get("reasoning") if isinstance(item.get("reasoning"), dict) else {}
        ts = iso_ms(reasoning.get("endAt")) or iso_ms(reasoning.get("startAt"))
        if item.get("conversationSummary") is not None:
            skipped += 1  # the compaction summary that replaced the earlier history
            continue
        if role == "user":
            query = _query(item, msg)
            digest = hashlib.blake2b(query.encode(), digest_size=6).hexdigest()
            repeats[digest] = repeats.get(digest, 0) + 1
            key = digest if repeats[digest] == 1 else f"{digest}-{repeats[digest]}"
            cur = Exchange(f"{sid}:{key}", sid, started or "", query, key, cwd, None, repo_root)
            content = msg.get("content")
            cur.images = sum(1 for p in content if isinstance(p, dict) and p.get("type") == "imageUrl") \
                if isinstance(content, list) else 0
            cur.model = model
            chats.append(cur)
            for ctx in item.get("contextItems") or ():
                uri = ctx.get("uri") if isinstance(ctx, dict) else None
                if isinstance(uri, dict) and uri.get("type") == "file":
                    cur.reference(from_uri(uri.get("value")))
            continue
        if cur is None or role not in ("assistant", "tool", "thinking"):
            skipped += 1  # system messages, history before the first prompt
            continue
        cur.seen(ts)
        if role != "assistant":
            continue
        text = _text(msg.get("content"))
        if text:
            cur.texts.append(text)
        states = item.get("toolCallStates") if isinstance(item.get("toolCallStates"), list) else []
        failed = {s.get("toolCallId") for s in states if isinstance(s, dict) and s.get("status") in _FAILED}
        for call in msg.get("toolCalls") or ():
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict):
                continue
            name = fn.get("name") if isinstance(fn.get("name"), str) else "unknown"
            args = fn.get("arguments")
            if isinstance(args, str):
                try:
                    args = JSON.decode(args)
                except ValueError:  # msgspec.DecodeError, or invalid UTF-8
                    args = None
            tid = call.get("id") if isinstance(call.get("id"), str) else None
            apply_tool(cur, name, args, TOOLS, tid, failed=tid in failed)
        tokens = _tokens(msg.get("usage"))
        if tokens:
            cur.add_usage(str(i), tokens)
    for ex in chats:  # no times per message: each chat spans the session as far as it is known
        ex.seen(mtime)
    out = [ex.to_chat(ASSISTANT) for ex in chats]
    totals = _tokens(session.get("usage"))
    session_rec = session_of(
        out, id=sid, assistant=ASSISTANT, started_at=started, ended_at=mtime, model=model, cwd=cwd,
        transcript_path=str(path), **({"query_tokens": totals[0], "response_tokens": totals[1]} if totals else {}))
    return ParseResult(chats=out, sessions=[session_rec], malformed=malformed, skipped=skipped)


# --- registry contract (registry.py) -----------------------------------------------------------------------------

def parse(path: str | os.PathLike[str], repo_root: str | None = None, **kw: Any) -> ParseResult:
    with paused_gc():
        return parse_continue(path, repo_root)


def sniff(path: str | os.PathLike[str]) -> bool:
    """A session: a JSON object with ``sessionId`` and a ``history`` array (the ``sessions.json`` index is an
    array; Gemini CLI's older session files have ``sessionId`` and ``messages``)."""
    head = head_bytes(path)
    return (bool(head) and not is_binary(head) and head.lstrip().startswith(b"{")
            and bool(_SESSION_ID.search(head)) and bool(_HISTORY.search(head)))


def locations(home: Path, env: Mapping[str, str]) -> list[Path]:
    base = Path(env["CONTINUE_GLOBAL_DIR"]).absolute() if env.get("CONTINUE_GLOBAL_DIR") else home / ".continue"
    return [base / "sessions"]


def candidates(location: Path) -> list[Path]:
    return sorted(p for p in location.glob("*.json") if p.name != INDEX and p.is_file())


def project_of(path: str | os.PathLike[str]) -> str | None:
    m = _WORKSPACE.search(head_bytes(path))
    if not m:
        return None
    try:
        return from_uri(JSON.decode(m.group(1)))
    except ValueError:  # msgspec.DecodeError, or invalid UTF-8
        return None
