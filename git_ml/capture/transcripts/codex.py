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

from git_ml.capture.transcripts.base import Exchange, ParseResult, head_lines, json_objects, patch_files
from git_ml.schema import Session

ASSISTANT = "codex"

_DECODER = msgspec.json.Decoder()
_ENVELOPE = {"session_meta": "meta", "response_item": "item", "event_msg": "event", "turn_context": "turn"}
_ITEM_TYPES = frozenset({"message", "function_call", "function_call_output", "custom_tool_call",
                         "custom_tool_call_output", "local_shell_call", "reasoning", "web_search_call"})
_CONTEXT_PREFIXES = ("<environment_context>", "<user_instructions>", "# AGENTS.md instructions", "<INSTRUCTIONS>",
                     "<permissions", "<user_shell_command>", "<turn_aborted>")
_SHELLS = frozenset({"bash", "sh", "zsh", "dash"})
_CWD_TAG = re.compile(r"<cwd>(.*?)</cwd>", re.S)
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


def parse_codex(path: str | os.PathLike[str], repo_root: str | None = None) -> ParseResult:
    """Parse a Codex rollout (either layout). Raises only OSError (unreadable file)."""
    path = Path(path)
    data = path.read_bytes()
    records: list[tuple[str, str | None, dict]] = []
    malformed = skipped = 0
    lines = data.split(b"\n")
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
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
                prompt = p.get("message") if isinstance(p.get("message"), str) else ""
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
                    prompt = text
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
            chats.append(cur)
        elif cur is not None and kind:
            cur.seen(ts)
        skipped += not used

    out = []
    for ex in chats:
        if not ex.texts:
            ex.texts = ex.event_texts
        out.append(ex.to_chat(ASSISTANT))
    session = Session(
        id=sid,
        assistant=ASSISTANT,
        started_at=started,
        ended_at=last_ts,
        model=model,
        cwd=cwd,
        branch=branch,
        transcript_path=str(path),
        chat_count=len(out),
        query_tokens=sum(c.query_tokens for c in out),
        response_tokens=sum(c.response_tokens for c in out),
    )
    return ParseResult(chats=out, sessions=[session], malformed=malformed, skipped=skipped)


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
    return sorted(location.rglob("rollout-*.jsonl"))


def project_of(path: str | os.PathLike[str]) -> str | None:
    return codex_session_cwd(path)
