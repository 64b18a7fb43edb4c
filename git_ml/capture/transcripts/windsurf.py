"""Windsurf (Cascade) transcripts (``~/.windsurf/transcripts/<trajectory id>.jsonl``, the same path on every OS).

Cascade's own history (``~/.codeium/windsurf/cascade/*.pb``) is encrypted and is not read. Windsurf writes these
plain transcripts only while a ``post_cascade_response_with_transcript`` hook is configured (one file per
conversation, rewritten after each response, mode 0600; reportedly at most 100 files, the oldest dropped).

One JSON object per step: ``{"status": "done", "type": "<step>", "<step>": {…}}``. ``user_input.user_response`` is
the typed prompt (``rules_applied`` lists injected rule files: context, not text); ``planner_response.response``
is the assistant's text; every other step is a tool: ``code_action`` (``path``, absolute or relative — a file
edited), ``view_file`` (``absolute_path_uri`` — read), ``run_command`` (``command_line``, ``cwd``), ``grep_search``,
``find``, ``mcp_tool``… A step whose ``status`` is ``error`` or ``cancelled`` changed nothing.

The transcript records no times, model, tokens or project directory: chats take the file's modification time, the
model and the project can be passed in (``model=``, ``cwd=``: the hook's envelope carries ``model_name``), else
the project is the first ``cwd`` a command step recorded. Chat ids are ``<trajectory id>:<n>`` (n counts prompts
from 0; a trajectory only grows). Cascade has no stored sub-agents or compaction.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

import msgspec

from git_ml.capture.transcripts.base import Exchange, ParseResult, head_lines, json_objects
from git_ml.capture.transcripts.tooluse import MODIFY, READ, SHELL, apply_tool, iso_mtime, paused_gc
from git_ml.schema import Session

ASSISTANT = "windsurf"
NAME = "windsurf"

TOOLS = {"code_action": MODIFY, "write_to_file": MODIFY, "edit_file": MODIFY, "view_file": READ,
         "view_code_item": READ, "grep_search": READ, "find": READ, "list_directory": READ, "run_command": SHELL}
_FAILED = frozenset({"error", "errored", "cancelled", "canceled"})


class _Body(TypedDict, total=False):
    """The keys of a step's payload that are used (file contents such as ``new_content`` are skipped); decoded as
    a dict, it is the tool's arguments as they are (a key set to null is ignored like a missing one)."""

    user_response: Any
    response: Any
    path: Any
    file_path: Any
    absolute_path_uri: Any
    command: Any
    command_line: Any
    cwd: Any


_STEPS = ("user_input", "planner_response", "code_action", "view_file", "view_code_item", "run_command",
          "grep_search", "find", "list_directory", "write_to_file", "edit_file", "mcp_tool")
_Line = msgspec.defstruct("_Line", [("type", Any, None), ("status", Any, None)]
                          + [(name, "_Body | None", None) for name in _STEPS], module=__name__)
_LINE = msgspec.json.Decoder(_Line)
_EMPTY: _Body = {}


def _step(obj: object) -> tuple[str, dict] | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        return None
    body = obj.get(obj["type"])
    return (obj["type"], body) if isinstance(body, dict) else (obj["type"], {})


def _decode(raw: bytes) -> tuple[str, _Body, object] | None:
    """(step type, payload, status) of one line; None when it is not a step. Payloads of step types not listed
    in ``_STEPS`` are not read (such a step still counts as a tool)."""
    line = _LINE.decode(raw)
    if not isinstance(line.type, str):
        return None
    body = getattr(line, line.type, None) if line.type in _STEPS else None
    return line.type, body or _EMPTY, line.status


def parse_windsurf(path: str | os.PathLike[str], repo_root: str | None = None, *, model: str | None = None,
                   cwd: str | None = None) -> ParseResult:
    """Parse one transcript. Raises only OSError."""
    path = Path(path)
    sid = path.name.removesuffix(".jsonl")
    when = iso_mtime(path) or ""
    steps: list[tuple[str, _Body, object]] = []
    malformed = skipped = 0
    for raw in path.read_bytes().split(b"\n"):
        if not raw.strip():
            continue
        try:
            step = _decode(raw)
        except ValueError:  # msgspec.DecodeError, or invalid UTF-8
            step = None
        if step is None:
            malformed += 1
            continue
        steps.append(step)
    if cwd is None:
        cwd = next((d for _, b, _ in steps if isinstance(d := b.get("cwd"), str) and d.startswith("/")), None)
    chats: list[Exchange] = []
    cur: Exchange | None = None
    for kind, body, status in steps:
        if kind == "user_input":
            query = body.get("user_response")
            query = query if isinstance(query, str) else ""
            cur = Exchange(f"{sid}:{len(chats)}", sid, when, query.strip(), str(len(chats)), cwd, None, repo_root)
            cur.model = model
            chats.append(cur)
        elif cur is None:
            skipped += 1
        elif kind == "planner_response":
            response = body.get("response")
            if isinstance(response, str) and response:
                cur.texts.append(response)
        else:
            apply_tool(cur, kind, body, TOOLS, None, failed=status in _FAILED)
    out = [ex.to_chat(ASSISTANT) for ex in chats]
    session = Session(id=sid, assistant=ASSISTANT, started_at=when or None, ended_at=when or None, model=model,
                      cwd=cwd, transcript_path=str(path), chat_count=len(out))
    return ParseResult(chats=out, sessions=[session], malformed=malformed, skipped=skipped)


# --- registry contract (registry.py) -----------------------------------------------------------------------------

def parse(path: str | os.PathLike[str], repo_root: str | None = None, **kw: Any) -> ParseResult:
    with paused_gc():
        return parse_windsurf(path, repo_root, **kw)


def sniff(path: str | os.PathLike[str]) -> bool:
    """A transcript: its first line is a step, ``{"status", "type": T, T: {…}}``."""
    for obj in json_objects(head_lines(path, 2)):
        step = _step(obj)
        return step is not None and "status" in obj and isinstance(obj.get(step[0]), dict)
    return False


def locations(home: Path, env: Mapping[str, str]) -> list[Path]:
    return [home / ".windsurf" / "transcripts"]


def candidates(location: Path) -> list[Path]:
    return sorted(p for p in location.glob("*.jsonl") if p.is_file())
