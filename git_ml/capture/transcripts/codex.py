"""Codex CLI rollouts (``~/.codex/sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl``).

Two layouts are read:
- current: ``{"timestamp", "type": session_meta|response_item|event_msg|turn_context|compacted, "payload"}``;
- legacy (Codex CLI of mid 2025): a bare header ``{"id", "timestamp", "instructions", "cwd"?, "git"?}``,
  ``{"record_type": "state"}`` markers, then bare response items (``{"type": "message"|"function_call"|...}``),
  with or without a timestamp of their own.

Visible text is written twice in the current layout (a response_item message and an event_msg). Prompts come from
``user_message`` events when the file has any (response_item user messages also carry injected context such as
``<environment_context>``), else from user messages minus that context. A chat's response is its assistant
response_item messages, or its ``agent_message`` events when it has none. Tokens come from ``token_count`` events:
the growth of ``total_token_usage`` during the chat, since the same event is often written twice.

Prompts are what the person typed: injected user-role messages (``# AGENTS.md instructions``, ``<INSTRUCTIONS>``,
``<environment_context>``, ``<user_instructions>``, ``<permissions ...>``, ``<turn_aborted>`` after an interrupt,
``<user_shell_command>`` echoes of ``!cmd``) are never prompts; Codex Desktop's attachment preamble is cut at
``## My request for Codex:``; images (``user_message.images`` / ``local_images``, or ``input_image`` parts) are
counted, their ``<image>`` wrapper tags dropped. A compaction (``compacted`` with its ``replacement_history``) and
``turn_aborted`` events add no prompt. Files come from ``apply_patch`` envelopes (freeform ``custom_tool_call``,
function form, or a heredoc through the shell; paths absolute or relative to the turn's cwd / ``workdir``),
``patch_apply_begin`` changes and shell command hints; all through the shared path rule (``paths.py``). The
``originator`` (``codex_cli_rs``, ``codex_vscode``, ``Codex Desktop``, ``codex_exec``) does not change the format.
A sub-agent's rollout (``session_meta.source.subagent.thread_spawn.parent_thread_id``) is merged into the parent
chat that spawned it and is never a session of its own.

Chat ids are ``<session id>:<n>``, n counting prompts from 0: rollouts are append-only, so ids are stable.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from git_ml.capture.transcripts.base import (
    Exchange,
    ParseResult,
    find_files,
    head_lines,
    json_objects,
    patch_files,
    session_of,
)

ASSISTANT = "codex"

_DECODER = msgspec.json.Decoder()
_ENVELOPE = {"session_meta": "meta", "response_item": "item", "event_msg": "event", "turn_context": "turn"}
_ITEM_TYPES = frozenset({"message", "function_call", "function_call_output", "custom_tool_call",
                         "custom_tool_call_output", "local_shell_call", "reasoning", "web_search_call"})
_CONTEXT_PREFIXES = ("<environment_context>", "<user_instructions>", "# AGENTS.md instructions", "<INSTRUCTIONS>",
                     "<permissions", "<user_shell_command>", "<turn_aborted>")
_SHELLS = frozenset({"bash", "sh", "zsh", "dash"})
_CWD_TAG = re.compile(r"<cwd>(.*?)</cwd>", re.S)
_REQUEST = "## My request for Codex:"
_UNUSED_ITEM = re.compile(rb'\{\s*"timestamp":\s*"[^"]*",\s*"type":\s*"response_item",\s*"payload":\s*\{\s*"type":\s*'
                          rb'"(function_call_output|custom_tool_call_output|reasoning)"')


class _Envelope(msgspec.Struct):
    timestamp: Any = None


_ENVELOPE_ONLY = msgspec.json.Decoder(_Envelope)
_IMAGE_TAG = re.compile(r"</?image\b[^>]*>")
_FILE_UUID = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


class _CodexExchange(Exchange):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.event_texts: list[str] = []  # agent_message events, used only if no response_item text


def _classify(obj: object) -> tuple[str, str | None, dict]:
    """(kind, timestamp, payload) of one decoded line; kind "" for lines we do not use."""
    if not isinstance(obj, dict):
        return "", None, {}
    ts = obj.get("timestamp") if isinstance(obj.get("timestamp"), str) else None
    payload = obj.get("payload")
    typ = obj.get("type") if isinstance(obj.get("type"), str) else None
    if isinstance(payload, dict) and typ in _ENVELOPE:
        return _ENVELOPE[typ], ts, payload
    if "payload" in obj or "record_type" in obj:  # compacted, future envelope types, state markers
        return "", ts, {}
    if typ in _ITEM_TYPES:
        return "item", ts, obj
    if "type" not in obj and isinstance(obj.get("id"), str):
        return "meta", ts, obj  # legacy header
    return "", ts, {}


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = [c.get("text") for c in content if isinstance(c, dict) and c.get("type") in
             ("input_text", "output_text", "text")]
    return "\n\n".join(p for p in parts if isinstance(p, str) and p)


def _typed(text: str) -> str:
    """What the person typed: Codex Desktop puts attached files first and the request after a marker."""
    at = text.find(_REQUEST)
    return text[at + len(_REQUEST):].strip() if at >= 0 else text


def _script(command: object) -> str | None:
    """A shell command as one string: ``["bash", "-lc", s]`` gives s, other argv lists are joined."""
    if isinstance(command, str):
        return command
    if not isinstance(command, list) or not all(isinstance(a, str) for a in command) or not command:
        return None
    if len(command) >= 3 and posixpath.basename(command[0]) in _SHELLS and command[1] in ("-c", "-lc", "-l"):
        return command[-1]
    if command[0] == "apply_patch":
        return "\n".join(command[1:])
    return shlex.join(command)


def _tool(ex: Exchange, p: dict, cwd: str | None) -> None:
    kind = p.get("type")
    call_id = p.get("call_id") or p.get("id")
    if kind == "local_shell_call":
        action = p.get("action") if isinstance(p.get("action"), dict) else {}
        ex.add_tool("local_shell", call_id)
        ex.add_shell(_script(action.get("command")), action.get("working_directory") or cwd)
        return
    if kind == "web_search_call":
        ex.add_tool("web_search", call_id)
        return
    name = p.get("name") if isinstance(p.get("name"), str) else "unknown"
    ex.add_tool(name, call_id)
    raw = p.get("input") if kind == "custom_tool_call" else p.get("arguments")
    if kind == "custom_tool_call" or not isinstance(raw, str):
        if isinstance(raw, str) and "*** Begin Patch" in raw:
            for path in patch_files(raw):
                ex.modify(path, cwd)
        return
    try:
        args = _DECODER.decode(raw)
    except ValueError:  # msgspec.DecodeError, or invalid UTF-8 inside a string
        return
    if not isinstance(args, dict):
        return
    workdir = args.get("workdir") if isinstance(args.get("workdir"), str) else cwd
    patch = args.get("input") or args.get("patch")
    if isinstance(patch, str) and "*** Begin Patch" in patch:
        for path in patch_files(patch):
            ex.modify(path, workdir)
    ex.add_shell(_script(args.get("cmd") or args.get("command")), workdir)
    for key in ("path", "file_path"):  # read-style tools (read_file, view_image, MCP file tools)
        ex.reference(args.get(key), workdir)


def _counts(usage: object) -> tuple[int, int, int] | None:
    if not isinstance(usage, dict):
        return None
    vals = [usage.get(k) for k in ("input_tokens", "cached_input_tokens", "output_tokens")]
    return tuple(v if isinstance(v, int) else 0 for v in vals)  # type: ignore[return-value]


def parse_codex(path: str | os.PathLike[str], repo_root: str | None = None, *,
                subagents: bool = True) -> ParseResult:
    """Parse a Codex rollout (either layout). A sub-agent's rollout (``session_meta.source.subagent``) is no session
    of its own: with ``subagents``, the rollouts in the same folder that name this one as their parent are merged
    into the chat that spawned them (the latest that started before them); a sub-agent's rollout parsed on its own
    gives nothing (its lines are counted as skipped). Raises only OSError (unreadable file)."""
    path = Path(path)
    r = _read(path, repo_root)
    if r.parent is not None:
        return ParseResult(malformed=r.malformed, skipped=r.skipped + len(r.chats))
    if subagents and r.chats:
        for child in _children(path, r.sid):
            c = _read(child, repo_root)
            started = [ex for ex in r.chats if ex.timestamp and ex.timestamp <= (c.started or "")]
            target = started[-1] if started else r.chats[-1]
            for ex in c.chats:
                target.merge(ex)
    out = []
    for ex in r.chats:
        if not ex.texts:
            ex.texts = ex.event_texts
        out.append(ex.to_chat(ASSISTANT))
    session = session_of(
        out,
        id=r.sid,
        assistant=ASSISTANT,
        started_at=r.started,
        ended_at=r.ended,
        model=r.model,
        cwd=r.cwd,
        branch=r.branch,
        transcript_path=str(path),
    )
    return ParseResult(chats=out, sessions=[session], malformed=r.malformed, skipped=r.skipped)


def _subagent_parent(meta: dict) -> str | None:
    source = meta.get("source")
    if isinstance(source, dict) and isinstance(source.get("subagent"), dict):
        spawn = source["subagent"].get("thread_spawn")
        parent = spawn.get("parent_thread_id") if isinstance(spawn, dict) else None
        return parent if isinstance(parent, str) else ""
    parent = meta.get("parent_thread_id")
    return parent if isinstance(parent, str) and meta.get("thread_source") == "subagent" else None


def _children(path: Path, sid: str) -> list[Path]:
    """Sub-agent rollouts in the same folder whose parent is ``sid``, read from their first line."""
    found = []
    for p in sorted(path.parent.glob("rollout-*.jsonl")):
        if p == path:
            continue
        for obj in json_objects(head_lines(p, 1, 1 << 20)):
            kind, _, meta = _classify(obj)
            if kind == "meta" and _subagent_parent(meta) == sid:
                found.append(p)
    return found


class _Rollout:
    def __init__(self) -> None:
        self.chats: list[_CodexExchange] = []
        self.sid = ""
        self.parent: str | None = None
        self.started: str | None = None
        self.ended: str | None = None
        self.model: str | None = None
        self.cwd: str | None = None
        self.branch: str | None = None
        self.malformed = 0
        self.skipped = 0


def _read(path: Path, repo_root: str | None) -> _Rollout:
    data = path.read_bytes()
    records: list[tuple[str, str | None, dict]] = []
    malformed = skipped = 0
    lines = data.split(b"\n")
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        unused = _UNUSED_ITEM.match(raw, 0, 200)
        try:
            if unused is not None:  # a tool's output or reasoning: validated, not built (most of a rollout's bytes)
                env = _ENVELOPE_ONLY.decode(raw)
                records.append(("item", env.timestamp if isinstance(env.timestamp, str) else None,
                                {"type": unused.group(1).decode()}))
                continue
            obj = _DECODER.decode(raw)
        except ValueError:  # msgspec.DecodeError, or invalid UTF-8 inside a string
            malformed += i < len(lines) - 1  # a last line without newline may still be being written
            continue
        if not isinstance(obj, dict):
            malformed += 1
            continue
        records.append(_classify(obj))

    meta = next((p for kind, _, p in records if kind == "meta"), {})
    m = _FILE_UUID.search(path.stem)
    sid = meta.get("id") if isinstance(meta.get("id"), str) else (m.group(1) if m else path.stem)
    git = meta.get("git") if isinstance(meta.get("git"), dict) else {}
    branch = git.get("branch") if isinstance(git.get("branch"), str) else None
    cwd = meta.get("cwd") if isinstance(meta.get("cwd"), str) else None
    model = meta.get("model") if isinstance(meta.get("model"), str) else None
    started = meta.get("timestamp") if isinstance(meta.get("timestamp"), str) else None
    user_events = any(kind == "event" and p.get("type") == "user_message" for kind, _, p in records)

    chats: list[_CodexExchange] = []
    cur: _CodexExchange | None = None
    last_ts: str | None = None
    prev_total: tuple[int, int, int] | None = None
    for kind, ts, p in records:
        last_ts = ts or last_ts
        started = started or ts
        prompt: str | None = None
        images = 0
        used = True
        ptype = p.get("type")
        if kind == "meta":
            pass
        elif kind == "turn":
            model = p.get("model") if isinstance(p.get("model"), str) else model
            cwd = p.get("cwd") if isinstance(p.get("cwd"), str) else cwd
            if cur is not None:
                cur.model = model
                cur.cwd = cur.cwd or cwd
        elif kind == "event":
            if ptype == "user_message":
                prompt = _typed(p.get("message") if isinstance(p.get("message"), str) else "")
                images = sum(len(p[k]) for k in ("images", "local_images") if isinstance(p.get(k), list))
            elif ptype == "agent_message" and cur is not None and isinstance(p.get("message"), str):
                cur.event_texts.append(p["message"])
            elif ptype == "token_count":
                info = p.get("info") if isinstance(p.get("info"), dict) else {}
                total = _counts(info.get("total_token_usage"))
                delta = _counts(info.get("last_token_usage")) if total is None else total
                if total is not None:
                    # counters only grow; a drop means they restarted
                    if prev_total is not None and all(a >= b for a, b in zip(total, prev_total)):
                        delta = tuple(a - b for a, b in zip(total, prev_total))  # type: ignore[assignment]
                    prev_total = total
                if cur is not None and delta:
                    inp, cached, out = delta
                    cur.add_tokens(query=max(0, inp - cached), response=out, cache_read=cached)
            elif ptype == "patch_apply_begin" and cur is not None and isinstance(p.get("changes"), dict):
                for changed in p["changes"]:
                    cur.modify(changed, cwd)
            else:
                used = False
        elif kind == "item":
            if ptype == "message":
                text = _text(p.get("content"))
                role = p.get("role")
                if role == "user" and text.lstrip().startswith(_CONTEXT_PREFIXES):
                    found = _CWD_TAG.search(text)
                    cwd = cwd or (found.group(1).strip() if found else None)
                    used = False
                elif role == "user" and not user_events:
                    prompt = _typed(_IMAGE_TAG.sub("", text)).strip()
                    content = p.get("content") if isinstance(p.get("content"), list) else []
                    images = sum(1 for c in content if isinstance(c, dict) and c.get("type") == "input_image")
                elif role == "assistant" and cur is not None:
                    cur.texts.append(text)
                else:
                    used = False  # developer/system messages, user messages duplicated by events
            elif ptype in ("function_call", "custom_tool_call", "local_shell_call", "web_search_call"):
                if cur is not None:
                    _tool(cur, p, cwd)
            elif ptype not in ("function_call_output", "custom_tool_call_output"):
                used = False  # reasoning
        else:
            used = False
        if prompt is not None:
            cur = _CodexExchange(f"{sid}:{len(chats)}", sid, ts or last_ts or "", prompt, None, cwd, branch,
                                 repo_root)
            cur.model = model
            cur.images = images
            chats.append(cur)
        elif cur is not None and kind:
            cur.seen(ts)
        skipped += not used

    r = _Rollout()
    r.chats, r.sid, r.parent, r.started, r.ended = chats, sid, _subagent_parent(meta), started, last_ts
    r.model, r.cwd, r.branch, r.malformed, r.skipped = model, cwd, branch, malformed, skipped
    return r


def codex_session_cwd(path: str | os.PathLike[str], max_lines: int = 20) -> str | None:
    """The working directory a rollout was started in, read from its first lines only (session meta, turn context
    or the legacy ``<environment_context>``), so that an importer can keep the rollouts of one repository."""
    with open(path, "rb") as f:
        for _ in range(max_lines):
            raw = f.readline()
            if not raw:
                break
            try:
                kind, _, p = _classify(_DECODER.decode(raw))
            except ValueError:  # msgspec.DecodeError, or invalid UTF-8 inside a string
                continue
            if kind in ("meta", "turn") and isinstance(p.get("cwd"), str):
                return p["cwd"]
            if kind == "item" and p.get("type") == "message":
                found = _CWD_TAG.search(_text(p.get("content")))
                if found:
                    return found.group(1).strip()
    return None


# --- registry contract (registry.py) -----------------------------------------------------------------------------

NAME = "codex"


def parse(path: str | os.PathLike[str], repo_root: str | None = None, **kw: Any) -> ParseResult:
    return parse_codex(path, repo_root)


def sniff(path: str | os.PathLike[str]) -> bool:
    """A rollout: the current envelope (``type`` + ``payload``) or the legacy bare header and items."""
    for obj in json_objects(head_lines(path)):
        kind, _, _ = _classify(obj)
        return kind in ("meta", "item", "turn", "event") or obj.get("type") == "compacted"
    return False


def locations(home: Path, env: Mapping[str, str]) -> list[Path]:
    base = Path(env["CODEX_HOME"]) if env.get("CODEX_HOME") else home / ".codex"
    return [base / "sessions", base / "archived_sessions"]


def candidates(location: Path) -> list[Path]:
    return find_files(location, lambda n: n.startswith("rollout-") and n.endswith(".jsonl"))


def project_of(path: str | os.PathLike[str]) -> str | None:
    return codex_session_cwd(path)
