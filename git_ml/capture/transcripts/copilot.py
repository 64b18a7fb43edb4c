"""GitHub Copilot CLI sessions (``~/.copilot/session-state/<id>/events.jsonl``; older ``<id>.jsonl``).

Where: ``$COPILOT_HOME`` replaces ``~/.copilot``. When a session exists in both layouts the folder wins. Beside
``events.jsonl``, ``workspace.yaml`` names ``cwd``, ``git_root``, ``branch`` and the ``summary`` (title).

Format: one event a line, ``{type, data, id, timestamp, parentId, agentId?}``. Used: ``session.start`` (session
id, ``selectedModel``, ``context.{cwd, gitRoot, branch}`` — the project), ``user.message`` (``content`` is what the
person typed; ``transformedContent`` adds ``<current_datetime>``, ``<reminder>``, ``<tagged_files>`` wrappers and is
used, without them, only when ``content`` is empty; ``attachments`` of type ``blob`` are images, ``file`` ones are
files referenced), ``assistant.message`` (``content``, ``model``, ``toolRequests[{toolCallId, name, arguments}]``
where ``arguments`` is an object or, in older files, a JSON string; ``outputTokens``), ``tool.execution_start`` /
``tool.execution_complete`` (``success``; ``toolTelemetry.properties.filePaths``, a JSON string, names changed
files), ``assistant.usage`` (per call: ``inputTokens`` including ``cacheReadTokens`` and ``cacheWriteTokens``,
``outputTokens``), ``session.model_change``, ``abort``, ``session.snapshot_rewind`` (``upToEventId``: that event and
everything after it were undone), ``session.shutdown``.

Older files have no ``context``: the project is then the folder named by the ``session.info`` trust notice
("Folder <path> has been added to trusted folders.").

Not prompts: ``user.message`` with ``source`` ``skill-*`` or content ``<skill-context`` (skill injection), or
``isAutopilotContinuation``; compaction summaries (``session.compaction_complete.summaryContent``) are events of
their own and never a prompt. Sub-agents (``task`` tool) write into the same file with ``agentId`` /
``parentToolCallId``: their tools, files and tokens belong to the chat that started them, their text does not.

Tools: ``edit`` and ``create`` modify ``path``; ``view``, ``grep``, ``glob`` read ``path``; ``bash`` /
``powershell`` run ``command`` (visible file hints). A call that completed with ``success: false`` (rejected,
cancelled by ``abort``) changes no file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from git_ml.capture.transcripts.base import Exchange, ParseResult, head_lines, json_objects, session_of

ASSISTANT = "copilot-cli"
NAME = "copilot"

_DECODER = msgspec.json.Decoder()
_WRAPPERS = re.compile(r"<(current_datetime|reminder|tagged_files)>.*?</\1>", re.S)
_WRITE = frozenset({"edit", "create", "str_replace_editor", "write"})
_READ = frozenset({"view", "grep", "glob", "read"})
_SHELL = frozenset({"bash", "powershell", "shell"})


def _args(value: object) -> dict:
    if isinstance(value, str):
        try:
            value = _DECODER.decode(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _workspace(path: Path) -> dict[str, str]:
    """``key: value`` lines of ``workspace.yaml`` beside ``events.jsonl`` (flat scalars only)."""
    out = {}
    try:
        text = (path.parent / "workspace.yaml").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key and not key.startswith((" ", "#")):
            out[key.strip()] = value.strip().strip("'\"")
    return out


def _events(data: bytes) -> tuple[list[dict], int]:
    events, malformed = [], 0
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            obj = _DECODER.decode(raw)
        except ValueError:  # (incl. invalid UTF-8)
            malformed += 1
            continue
        if isinstance(obj, dict) and isinstance(obj.get("type"), str):
            if obj["type"] == "session.snapshot_rewind":
                target = _args(obj.get("data")).get("upToEventId")
                ids = [e.get("id") for e in events]
                if target in ids:
                    del events[ids.index(target):]
                continue
            events.append(obj)
        else:
            malformed += 1
    return events, malformed


_TRUSTED = re.compile(r"^Folder (/.*) has been added to trusted folders")


def _trusted(events: list[dict]) -> str | None:
    """Older files without ``context``: the folder the CLI was started in, as its trust notice names it."""
    for e in events[:10]:
        data = _args(e.get("data"))
        found = _TRUSTED.match(data.get("message") or "") if isinstance(data.get("message"), str) else None
        if e["type"] == "session.info" and found:
            return found.group(1).rstrip(".")
    return None


class _CopilotExchange(Exchange):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending: dict[str, tuple[list[str], str | None]] = {}  # tool call -> (paths it writes, cwd)
        self.message_tokens = 0
        self.usage_seen = False


def _request(ex: _CopilotExchange, call_id: str | None, name: str, args: dict) -> None:
    if not ex.add_tool(name, call_id):
        return
    path = args.get("path") if isinstance(args.get("path"), str) else args.get("file_path")
    if name in _WRITE:
        if call_id:
            ex.pending[call_id] = ([path] if isinstance(path, str) else [], None)
        else:
            ex.modify(path)
    elif name in _READ:
        ex.reference(path)
    elif name in _SHELL:
        ex.add_shell(args.get("command"))


def _complete(ex: _CopilotExchange, data: dict) -> None:
    call_id = data.get("toolCallId")
    paths, _ = ex.pending.pop(call_id, ([], None)) if isinstance(call_id, str) else ([], None)
    if data.get("success") is False:
        return
    telemetry = _args(data.get("toolTelemetry")).get("properties")
    listed = _args(telemetry).get("filePaths") if isinstance(telemetry, dict) else None
    if isinstance(listed, str):
        try:
            listed = _DECODER.decode(listed)
        except ValueError:
            listed = None
    for p in paths + (listed if isinstance(listed, list) else []):
        ex.modify(p)


def parse(path: str | os.PathLike[str], repo_root: str | None = None, **kw: Any) -> ParseResult:
    """Parse one session's events. Raises only OSError."""
    path = Path(path)
    events, malformed = _events(path.read_bytes())
    ws = _workspace(path) if path.name == "events.jsonl" else {}
    start = next((_args(e.get("data")) for e in events if e["type"] == "session.start"), {})
    context = _args(start.get("context"))
    sid = start.get("sessionId") if isinstance(start.get("sessionId"), str) else (
        path.parent.name if path.name == "events.jsonl" else path.stem)
    root = context.get("gitRoot") or ws.get("git_root") or None
    cwd = context.get("cwd") or ws.get("cwd") or root or _trusted(events)
    branch = context.get("branch") or ws.get("branch") or None
    model = start.get("selectedModel") if isinstance(start.get("selectedModel"), str) else None
    chats: list[_CopilotExchange] = []
    cur: _CopilotExchange | None = None
    skipped = 0
    for e in events:
        kind, data = e["type"], _args(e.get("data"))
        ts = e.get("timestamp") if isinstance(e.get("timestamp"), str) else None
        sub = bool(e.get("agentId") or data.get("parentToolCallId"))
        if kind == "user.message" and not sub:
            text = data.get("content") if isinstance(data.get("content"), str) else ""
            if not text.strip() and isinstance(data.get("transformedContent"), str):
                text = _WRAPPERS.sub("", data["transformedContent"])
            text = text.strip()
            source = data.get("source") if isinstance(data.get("source"), str) else ""
            if not text or source.startswith("skill-") or text.startswith("<skill-context") \
                    or data.get("isAutopilotContinuation"):
                skipped += 1
                continue
            cur = _CopilotExchange(f"{sid}:{e.get('id') or len(chats)}", sid, ts or "", text, e.get("id"), cwd,
                                   branch, repo_root, root)
            cur.model = model
            attachments = data.get("attachments") if isinstance(data.get("attachments"), list) else []
            for a in attachments:
                if isinstance(a, dict) and a.get("type") == "blob":
                    cur.images += 1
                elif isinstance(a, dict) and a.get("type") == "file":
                    cur.reference(a.get("path"))
            chats.append(cur)
            continue
        if kind == "session.model_change" and isinstance(data.get("newModel"), str):
            model = data["newModel"]
            continue
        if cur is None:
            skipped += 1
            continue
        cur.seen(ts)
        if kind == "assistant.message":
            if not sub:
                if isinstance(data.get("model"), str):
                    cur.model = model = data["model"]
                if isinstance(data.get("content"), str) and data["content"].strip():
                    cur.texts.append(data["content"].strip())
            if isinstance(data.get("outputTokens"), int):
                cur.message_tokens += data["outputTokens"]
            for req in data.get("toolRequests") or ():
                if isinstance(req, dict) and isinstance(req.get("name"), str):
                    _request(cur, req.get("toolCallId"), req["name"], _args(req.get("arguments")))
        elif kind == "tool.execution_start" and isinstance(data.get("toolName"), str):
            _request(cur, data.get("toolCallId"), data["toolName"], _args(data.get("arguments")))
        elif kind == "tool.execution_complete":
            _complete(cur, data)
        elif kind == "assistant.usage":
            def n(key: str) -> int:
                v = data.get(key)
                return v if isinstance(v, int) else 0
            cur.usage_seen = True
            cache_read, cache_write = n("cacheReadTokens"), n("cacheWriteTokens")
            cur.add_tokens(max(0, n("inputTokens") - cache_read - cache_write), n("outputTokens"), cache_read,
                           cache_write)
        elif kind not in ("abort", "assistant.turn_start", "assistant.turn_end", "subagent.started",
                          "subagent.completed", "tool.execution_partial_result"):
            skipped += 1
    out = []
    for ex in chats:
        for paths, _ in ex.pending.values():  # never completed (older files): the request is the evidence
            for p in paths:
                ex.modify(p)
        if not ex.usage_seen:
            ex.add_tokens(response=ex.message_tokens)
        out.append(ex.to_chat(ASSISTANT))
    times = [e["timestamp"] for e in events if isinstance(e.get("timestamp"), str)]
    session = session_of(
        out, id=sid, assistant=ASSISTANT, started_at=start.get("startTime") or (times[0] if times else None),
        ended_at=times[-1] if times else None, model=model, cwd=root or cwd, branch=branch, transcript_path=str(path))
    return ParseResult(chats=out, sessions=[session], malformed=malformed, skipped=skipped)


# --- registry contract -------------------------------------------------------------------------------------------

def sniff(path: str | os.PathLike[str]) -> bool:
    """Events of the Copilot CLI: the first line is a ``session.*`` (or other dotted) event with ``data``."""
    for obj in json_objects(head_lines(path, 1)):
        kind = obj.get("type")
        return isinstance(kind, str) and "." in kind and isinstance(obj.get("data"), dict) and "id" in obj
    return False


def _home(home: Path, env: Mapping[str, str]) -> Path:
    return Path(env["COPILOT_HOME"]) if env.get("COPILOT_HOME") else home / ".copilot"


def locations(home: Path, env: Mapping[str, str]) -> list[Path]:
    return [_home(home, env) / "session-state"]


def candidates(location: Path) -> list[Path]:
    folders, bare = [], []
    try:
        with os.scandir(location) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    events = os.path.join(e.path, "events.jsonl")
                    if os.path.isfile(events):
                        folders.append(events)
                elif e.name.endswith(".jsonl"):
                    bare.append(e.path)
    except OSError:
        return []
    have = {os.path.basename(os.path.dirname(p)) for p in folders}
    return [Path(p) for p in sorted(folders)] + [Path(p) for p in sorted(bare) if Path(p).stem not in have]


def project_of(path: str | os.PathLike[str]) -> str | None:
    for obj in json_objects(head_lines(path, 1, 1 << 20)):
        context = _args(_args(obj.get("data")).get("context"))
        if isinstance(context.get("gitRoot") or context.get("cwd"), str):
            return context.get("gitRoot") or context.get("cwd")
    ws = _workspace(Path(path)) if Path(path).name == "events.jsonl" else {}
    return ws.get("git_root") or ws.get("cwd") or None  # else parse: the trust notice may name it


def from_hook(event: Mapping[str, Any], home: Path, env: Mapping[str, str]) -> tuple[Any, Path | None, Any, bool]:
    """(session id, events file, project directory, ended) of a hook payload (camelCase or VS Code form)."""
    sid = event.get("sessionId") or event.get("session_id")
    path = event.get("transcriptPath") or event.get("transcript_path")
    if not (isinstance(path, str) and path) and isinstance(sid, str) and sid:
        path = str(locations(home, env)[0] / sid / "events.jsonl")
    ended = "reason" in event and not (event.get("stopReason") or event.get("transcriptPath"))
    return sid, Path(path) if isinstance(path, str) and path else None, event.get("cwd"), ended
