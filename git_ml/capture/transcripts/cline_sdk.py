"""Cline's SDK sessions (the CLI, the VS Code extension and the other hosts since mid-2026): one folder per session.
Read under ``--from cline`` (``cline.py`` hands these folders here); the older task folders are ``cline.py``'s.

Where: ``$CLINE_SESSION_DATA_DIR``, else ``<data>/sessions`` with ``<data>`` = ``$CLINE_DATA_DIR``, else
``$CLINE_DIR/data``, else ``~/.cline/data``. A session folder ``<session id>/`` (ids like ``1780308000000_k3x9q``)
holds:

- ``<id>.json``, the manifest: ``session_id``, ``started_at`` / ``ended_at`` (ISO-8601), ``status``, ``provider``,
  ``model``, ``cwd`` and ``workspace_root`` (the project), ``prompt`` (the first one), ``messages_path``;
- ``<id>.messages.json``: ``{version, updated_at, agent: "lead", sessionId, origin, messages: [...],
  system_prompt?}`` (a bare array in the oldest builds);
- ``<agent id>.messages.json`` (``agent: "subagent"``, started by the ``spawn_agent`` tool) and
  ``<agent id>__<team task id>.messages.json`` (``agent: "teammate"``): the sub-agents' conversations. Their work is
  merged into the chat that was running when they started; they are never chats of their own;
- ``<id>.compaction.json`` (not read).

A message: ``role`` user/assistant, ``content`` a string or blocks — ``text``, ``image`` (``data``,
``mediaType``), ``file`` (``path``, ``content``: an attached file), ``tool_use`` (``id``, ``name``, ``input``),
``tool_result`` (``tool_use_id``, ``name``, ``content``, ``is_error``), ``thinking``, ``redacted_thinking`` —, ``id``,
``ts`` (epoch ms), ``modelInfo{id, provider}`` and ``metrics{inputTokens (cache reads and writes included),
outputTokens, cacheReadTokens, cacheWriteTokens, cost}`` on assistant messages, ``metadata``.

A prompt is a user message holding neither tool results nor a runtime ``metadata.kind`` (compaction summaries,
recovery and loop notices, completion reminders) nor ``metadata.userRunSpan: 0``: its text inside the
``<user_input mode="…">`` wrapper (``<user_command slash="x">…`` reads as ``/x …``) without ``<mode_notice>``
elements; task-resumption and act-mode continuation notices are not prompts. Attached ``file`` blocks are
referenced files, never the query; images are counted. Chat ids are ``<session id>:<message id>``.

Tools: ``editor`` (``path``) and ``apply_patch`` (``input``: a ``*** Begin Patch`` envelope) modify;
``read_files`` (``files[].path``, or ``file_paths`` / ``paths`` / a bare path) reads; ``run_commands``
(``commands[]``: strings or ``{command, args}``) runs commands in the session's cwd; the classic names
(``write_to_file``, ``replace_in_file``, ``read_file``, ``execute_command``) are read the same way. A call whose
result is an error (``is_error``, or ``success: false`` in the result) changed nothing.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from git_ml.capture.transcripts.base import Exchange, ParseResult, session_of
from git_ml.capture.transcripts.tooluse import (
    JSON,
    MODIFY,
    READ,
    SHELL,
    apply_tool,
    head_bytes,
    iso_ms,
    load_json,
    paused_gc,
)

ASSISTANT = "cline"
NAME = "cline"
MESSAGES = ".messages.json"

TOOLS = {name: MODIFY for name in ("editor", "apply_patch", "write_to_file", "replace_in_file", "delete_file")}
TOOLS.update({name: READ for name in ("read_files", "read_file")})
TOOLS.update({"run_commands": SHELL, "execute_command": SHELL})
# user messages the runtime writes itself (core/src/session/user-run-messages.ts, extensions/context/)
_SYNTHETIC = frozenset({"auto_compaction", "compaction_budget_emergency", "completion_reminder",
                        "loop_detection_notice", "manual_compaction", "mistake_stop_notice", "recovery_notice",
                        "compaction", "compaction_summary", "context_overflow_recovery"})
_CONTINUATIONS = ("[TASK RESUMPTION]", "The user approved switching to act mode. Continue with the approved plan now.")
_USER_INPUT = re.compile(r"<user_input\b[^>]*>(.*?)</user_input>", re.S)
_USER_COMMAND = re.compile(r"^\s*<user_command\b[^>]*\bslash=\"([^\"]+)\"[^>]*>(.*?)</user_command>\s*$", re.S)
_MODE_NOTICE = re.compile(r"<mode_notice>.*?</mode_notice>", re.S)
_MANIFEST_KEYS = (re.compile(rb'"session_id"\s*:\s*"'), re.compile(rb'"workspace_root"\s*:\s*"'))
_MESSAGES_KEYS = (re.compile(rb'"agent"\s*:\s*"(?:lead|subagent|teammate)"'), re.compile(rb'"sessionId"\s*:'))


def data_dir(home: Path, env: Mapping[str, str]) -> Path:
    """Cline's data folder: ``$CLINE_DATA_DIR``, else ``$CLINE_DIR/data``, else ``~/.cline/data``."""
    if env.get("CLINE_DATA_DIR"):
        return Path(env["CLINE_DATA_DIR"])
    return Path(env["CLINE_DIR"]) / "data" if env.get("CLINE_DIR") else home / ".cline" / "data"


def sessions_dir(home: Path, env: Mapping[str, str]) -> Path:
    if env.get("CLINE_SESSION_DATA_DIR"):
        return Path(env["CLINE_SESSION_DATA_DIR"])
    return data_dir(home, env) / "sessions"


def _is_manifest(path: Path) -> bool:
    head = head_bytes(path, 4096)
    return head.lstrip().startswith(b"{") and all(k.search(head) for k in _MANIFEST_KEYS)


def _is_messages(path: Path) -> bool:
    head = head_bytes(path, 4096)
    return head.lstrip().startswith(b"{") and all(k.search(head) for k in _MESSAGES_KEYS)


def session_folder(path: str | os.PathLike[str]) -> Path:
    """The session folder of itself, its manifest or one of its messages files."""
    path = Path(path)
    return path.parent if path.is_file() else path


def _own_files(folder: Path) -> tuple[Path, Path]:
    return folder / f"{folder.name}.json", folder / f"{folder.name}{MESSAGES}"


def _load(path: Path) -> tuple[object, bool]:
    """(decoded document, malformed); a missing file is (None, False)."""
    try:
        return load_json(path), False
    except FileNotFoundError:
        return None, False
    except ValueError:  # msgspec.DecodeError, or invalid UTF-8
        return None, True


def _messages(path: Path) -> tuple[list[dict], str | None, int]:
    """(message dicts, agent kind, malformed count) of a messages file."""
    data, bad = _load(path)
    if isinstance(data, list):  # the oldest builds wrote the bare array
        data = {"agent": "lead", "messages": data}
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        return [], None, int(bad or data is not None)
    msgs = data["messages"]
    items = [m for m in msgs if isinstance(m, dict)]
    agent = data.get("agent") if isinstance(data.get("agent"), str) else None
    return items, agent, len(msgs) - len(items)


def _blocks(content: object) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def typed_text(text: str) -> str:
    """What the person typed in a user message's text: inside ``<user_input>`` (or a ``/slash`` command), without
    the runtime's mode notices."""
    command = _USER_COMMAND.match(text)
    if command:
        body = _MODE_NOTICE.sub("", command.group(2)).strip()
        return f"/{command.group(1)} {body}".strip()
    wrapped = _USER_INPUT.findall(text)
    return _MODE_NOTICE.sub("", "\n\n".join(wrapped) if wrapped else text).strip()


def _prompt(msg: dict) -> tuple[str, int, list[str]] | None:
    """(typed text, images, attached file paths) of a user message that is a prompt, None for anything else."""
    meta = msg.get("metadata") if isinstance(msg.get("metadata"), dict) else {}
    if meta.get("kind") in _SYNTHETIC or meta.get("userRunSpan") == 0 or \
            meta.get("displayRole") in ("system", "status", "error"):
        return None
    blocks = _blocks(msg.get("content"))
    if any(b.get("type") == "tool_result" for b in blocks):
        return None
    text = typed_text("\n".join(b["text"] for b in blocks if b.get("type") == "text" and isinstance(b.get("text"), str)))
    images = sum(1 for b in blocks if b.get("type") == "image")
    files = [b["path"] for b in blocks if b.get("type") == "file" and isinstance(b.get("path"), str)]
    if text.startswith(_CONTINUATIONS) or not (text or images or files):
        return None
    return text, images, files


def _failed(block: dict) -> bool:
    """A tool result reporting an error: ``is_error``, or Cline's ``{query, result, error, success: false}``."""
    if block.get("is_error") is True:
        return True
    content = block.get("content")
    if isinstance(content, str) and content.startswith("{") and '"success"' in content:
        try:
            content = JSON.decode(content)
        except ValueError:  # msgspec.DecodeError: plain text that looks like JSON
            return False
    if isinstance(content, dict):
        return content.get("success") is False
    if isinstance(content, list) and content:
        return all(isinstance(r, dict) and r.get("success") is False for r in content)
    return False


def _read_paths(args: object) -> list[object]:
    """The paths of a ``read_files`` call in any of the shapes the tool accepts."""
    if isinstance(args, Mapping):
        for key in ("files", "file_paths", "paths"):
            if key in args:
                return _read_paths(args[key])
        return [args.get(k) for k in ("path", "file_path", "filePath") if k in args][:1]
    if isinstance(args, list):
        return [p for a in args for p in _read_paths(a)]
    return [args]


def _commands(args: object) -> Iterable[str]:
    """The command lines of a ``run_commands`` call (strings, or ``{command, args}`` run without a shell)."""
    items = args
    if isinstance(args, Mapping) and not isinstance(args.get("args"), list):  # not one {command, args}
        items = args.get("commands", args.get("command", args.get("cmd")))
    for item in items if isinstance(items, list) else [items]:
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping) and isinstance(item.get("command"), str):
            rest = item.get("args") if isinstance(item.get("args"), list) else []
            yield shlex.join([item["command"], *(a for a in rest if isinstance(a, str))])


class _Reader:
    """One conversation (the lead's or a sub-agent's) read into exchanges."""

    def __init__(self, sid: str, cwd: str | None, root: str | None, repo_root: str | None, model: str | None):
        self.sid, self.cwd, self.root, self.repo_root, self.model = sid, cwd, root, repo_root, model
        self.chats: list[Exchange] = []
        self.skipped = 0
        self.first_ts: int | None = None
        self.last_ts: int | None = None

    def _seen(self, ts: object) -> int | None:
        if not isinstance(ts, int) or isinstance(ts, bool) or ts <= 0:
            return None
        self.first_ts = ts if self.first_ts is None else min(self.first_ts, ts)
        self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)
        return ts

    def _exchange(self, key: str, ts: int | None, query: str) -> Exchange:
        ex = Exchange(f"{self.sid}:{key}", self.sid, iso_ms(ts) or "", query, key, self.cwd, None, self.repo_root,
                      self.root)
        ex.model = self.model
        self.chats.append(ex)
        return ex

    def read(self, msgs: list[dict], lead: bool) -> None:
        """A lead conversation opens a chat at each prompt; a sub-agent's is one exchange (its task is no prompt)."""
        failed = {b["tool_use_id"] for m in msgs if m.get("role") == "user" for b in _blocks(m.get("content"))
                  if b.get("type") == "tool_result" and isinstance(b.get("tool_use_id"), str) and _failed(b)}
        if not lead:
            self._exchange("agent", None, "")
        for i, msg in enumerate(msgs):
            ts = self._seen(msg.get("ts"))
            role = msg.get("role")
            if role == "user":
                found = _prompt(msg) if lead else None
                if found is not None:
                    key = msg["id"] if isinstance(msg.get("id"), str) and msg["id"] else str(ts or i)
                    ex = self._exchange(key, ts, found[0])
                    ex.images = found[1]
                    for p in found[2]:
                        ex.reference(p)
                elif self.chats and any(b.get("type") == "tool_result" for b in _blocks(msg.get("content"))):
                    self.chats[-1].seen(iso_ms(ts))
                elif lead or i:  # a runtime notice or summary (a sub-agent's first message is its task)
                    self.skipped += 1
                continue
            if role != "assistant" or not self.chats:
                self.skipped += 1
                continue
            self._assistant(self.chats[-1], msg, ts, failed, i)

    def _assistant(self, cur: Exchange, msg: dict, ts: int | None, failed: set[str], i: int) -> None:
        cur.seen(iso_ms(ts))
        if not cur.timestamp and ts:  # a sub-agent's exchange starts with its first reply
            cur.timestamp = iso_ms(ts) or ""
        info = msg.get("modelInfo")
        if isinstance(info, dict) and isinstance(info.get("id"), str) and info["id"]:
            self.model = cur.model = info["id"]
        for n, b in enumerate(_blocks(msg.get("content"))):
            if b.get("type") == "text" and isinstance(b.get("text"), str) and b["text"].strip():
                cur.texts.append(b["text"].strip())
            elif b.get("type") == "tool_use":
                name = b.get("name") if isinstance(b.get("name"), str) and b.get("name") else "unknown"
                tid = b.get("id") if isinstance(b.get("id"), str) else f"{self.sid}:{i}.{n}"
                self._tool(cur, name, b.get("input"), tid, tid in failed)
        metrics = msg.get("metrics")
        if isinstance(metrics, dict):
            inp, out, cr, cw = (metrics.get(k) if isinstance(metrics.get(k), int) else 0
                                for k in ("inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens"))
            key = msg["id"] if isinstance(msg.get("id"), str) else str(i)
            cur.add_usage(f"{self.sid}:{key}", [max(0, inp - cr - cw), out, cr, cw])

    def _tool(self, cur: Exchange, name: str, args: object, tid: str, failed: bool) -> None:
        if name == "read_files":
            args = {"paths": _read_paths(args)}
        elif name == "apply_patch" and isinstance(args, str):
            args = {"input": args}
        elif name == "run_commands":
            if apply_tool(cur, name, {}, TOOLS, tid, self.cwd, failed=failed) and not failed:
                for command in _commands(args):
                    cur.add_shell(command, self.cwd)
            return
        apply_tool(cur, name, args, TOOLS, tid, self.cwd, failed=failed)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_session(path: str | os.PathLike[str], repo_root: str | None = None, *,
                  subagents: bool = True) -> ParseResult:
    """Parse one session folder (or its manifest, or one of its messages files). Raises only OSError."""
    folder = session_folder(path)
    manifest_path, lead_path = _own_files(folder)
    manifest, malformed = _load(manifest_path)
    malformed = int(malformed or (manifest is not None and not isinstance(manifest, dict)))
    manifest = manifest if isinstance(manifest, dict) else {}
    pointed = _text(manifest.get("messages_path"))
    if not lead_path.is_file() and pointed and os.path.isfile(pointed):
        lead_path = Path(pointed)
    if not lead_path.is_file() and not manifest_path.is_file():
        raise FileNotFoundError(f"{folder}: no {manifest_path.name} or {lead_path.name}")
    sid = _text(manifest.get("session_id")) or folder.name
    cwd = _text(manifest.get("cwd")) or _text(manifest.get("workspace_root"))
    root = _text(manifest.get("workspace_root"))
    lead = _Reader(sid, cwd, root, repo_root, _text(manifest.get("model")))
    msgs, _, bad = _messages(lead_path)
    malformed += bad
    lead.read(msgs, lead=True)
    skipped = lead.skipped
    for sub_path in sorted(folder.glob(f"*{MESSAGES}")) if subagents and lead.chats else ():
        if sub_path == lead_path:
            continue
        sub_msgs, agent, bad = _messages(sub_path)
        malformed += bad
        if agent not in ("subagent", "teammate"):
            skipped += 1
            continue
        sub = _Reader(sid, cwd, root, repo_root, lead.model)
        sub.read(sub_msgs, lead=False)
        start = iso_ms(sub.first_ts)
        before = [ex for ex in lead.chats if start and ex.timestamp and ex.timestamp <= start]
        (before or lead.chats)[-1].merge(sub.chats[0])
    chats = [ex.to_chat(ASSISTANT) for ex in lead.chats]
    session = session_of(chats, id=sid, assistant=ASSISTANT,
                         started_at=_text(manifest.get("started_at")) or iso_ms(lead.first_ts),
                         ended_at=_text(manifest.get("ended_at")) or iso_ms(lead.last_ts),
                         model=lead.model, cwd=cwd, transcript_path=str(folder))
    return ParseResult(chats=chats, sessions=[session], malformed=malformed, skipped=skipped)


# --- registry contract (called by cline.py, the module of --from cline) ------------------------------------------

def parse(path: str | os.PathLike[str], repo_root: str | None = None, **kw: Any) -> ParseResult:
    with paused_gc():
        return parse_session(path, repo_root, subagents=kw.get("subagents", True))


def sniff(path: str | os.PathLike[str]) -> bool:
    """A session folder (its manifest or lead messages file inside), a manifest, or a messages file."""
    path = Path(path)
    if path.is_dir():
        manifest, lead = _own_files(path)
        return _is_manifest(manifest) or _is_messages(lead)
    if path.name.endswith(MESSAGES):
        return _is_messages(path)
    return path.suffix == ".json" and _is_manifest(path)


def locations(home: Path, env: Mapping[str, str]) -> list[Path]:
    return [sessions_dir(home, env)]


def candidates(location: Path) -> list[Path]:
    """Session folders at or directly below ``location``."""
    if sniff(location) and location.is_dir():
        return [location]
    try:
        return sorted(p for p in location.iterdir() if p.is_dir() and sniff(p))
    except OSError:
        return []


def project_of(path: str | os.PathLike[str]) -> str | None:
    """The manifest's ``cwd`` (else ``workspace_root``); None without a readable manifest."""
    manifest, _ = _load(_own_files(session_folder(path))[0])
    if not isinstance(manifest, dict):
        return None
    return _text(manifest.get("cwd")) or _text(manifest.get("workspace_root"))
