"""Aider chat history (``.aider.chat.history.md``): several sessions appended to one markdown file.

- ``# aider chat started at YYYY-MM-DD HH:MM:SS`` starts a session (local time of the machine that wrote it);
- ``#### text`` lines are the user's input, consecutive ones forming one prompt;
- ``> text`` lines are aider's own output (tool output, warnings, "Applied edit to x", token reports);
- other lines are the model's reply, up to the next prompt or session header.

An input that is a slash command and got no reply (``/add``, ``/drop``, ``/copy-context``, ...) never reached the
model: it is not a chat (counted in ``skipped``). Session ids hash the header line and the session's first input,
so they do not depend on where the file lives; chat ids are ``<session id>:<n>``, n counting chats from 0. Aider
records no per-message time: a chat's timestamp is its session's start and it has no end time.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from git_ml.capture.transcripts.base import Exchange, ParseResult, head_lines, is_binary
from git_ml.schema import Session

ASSISTANT = "aider"

_HEADER = re.compile(r"^# aider chat started at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s*$")
_MODEL = re.compile(r"^(?:Main model|Model): (\S+)")
_APPLIED = re.compile(r"^Applied edit to (.+?)\s*$")
_ADD_FILE = re.compile(r"^Add (?:file )?(.+?) to the chat\? .*?:\s*(\w*)\s*$")
_TOKENS = re.compile(r"(\d[\d,]*(?:\.\d+)?)([kKmM]?) (sent|received|cache write|cache hit)")
_FENCE = re.compile(r"^(```|~~~)")
_SEARCH = "<<<<<<< SEARCH"


def _number(value: str, unit: str) -> int:
    scale = {"k": 1_000, "m": 1_000_000}.get(unit.lower(), 1)
    return round(float(value.replace(",", "")) * scale)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _utc(stamp: str, tz: _dt.tzinfo | None) -> str:
    """The header's local time as ISO-8601 UTC; ``tz`` defaults to this machine's zone (usually the writer's)."""
    try:  # the header's fixed layout, read without strptime (which costs more than the rest of a session)
        local = _dt.datetime(int(stamp[0:4]), int(stamp[5:7]), int(stamp[8:10]), int(stamp[11:13]),
                             int(stamp[14:16]), int(stamp[17:19]))
    except ValueError:  # e.g. month 13
        return ""
    aware = local.replace(tzinfo=tz) if tz is not None else local.astimezone()
    return aware.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Block:
    """One user input and what followed it."""

    def __init__(self) -> None:
        self.prompt: list[str] = []
        self.reply: list[str] = []
        self.output: list[str] = []  # aider's "> " lines, without the marker


class _Session:
    def __init__(self, header: str, started_at: str) -> None:
        self.header = header
        self.started_at = started_at
        self.model: str | None = None
        self.blocks: list[_Block] = []


def _split(text: str, tz: _dt.tzinfo | None) -> tuple[list[_Session], int]:
    """Sessions and their input blocks; also the number of lines outside any session."""
    sessions: list[_Session] = []
    stray = 0
    block: _Block | None = None
    in_prompt = in_fence = False
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            sessions.append(_Session(line.strip(), _utc(header.group(1), tz)))
            block, in_prompt, in_fence = None, False, False
            continue
        if not sessions:
            stray += bool(line.strip())
            continue
        session = sessions[-1]
        if line.startswith("####"):
            if not in_prompt:
                block = _Block()
                session.blocks.append(block)
            block.prompt.append(line[5:].rstrip() if line.startswith("#### ") else line[4:].rstrip())
            in_prompt, in_fence = True, False
            continue
        in_prompt = False
        # aider's own lines are "> x"; inside a code fence (or ">>>>>>> REPLACE") a ">" is the model's text
        if not in_fence and (line.startswith("> ") or line.rstrip() == ">"):
            out = line[1:].strip()
            model = _MODEL.match(out)
            if model and block is None:
                session.model = model.group(1)
            if block is not None:
                block.output.append(out)
        elif block is not None:
            block.reply.append(line.rstrip())
            if _FENCE.match(line.strip()):
                in_fence = not in_fence
    return sessions, stray


def _edited_files(reply: list[str]) -> list[str]:
    """Files named before SEARCH/REPLACE blocks: the path line precedes the fence (diff) or the marker (fenced)."""
    found: list[str] = []
    if not any(_SEARCH in line for line in reply):
        return found
    for i, line in enumerate(reply):
        if line.strip() == _SEARCH and i > 0:
            j = i - 1
            if _FENCE.match(reply[j].strip()) and j > 0:
                j -= 1
            name = reply[j].strip()
            if name and not _FENCE.match(name):
                found.append(name)
    return found


def _exchange(block: _Block, sid: str, n: int, session: _Session, cwd: str, repo_root: str | None) -> Exchange:
    ex = Exchange(f"{sid}:{n}", sid, session.started_at, "\n".join(block.prompt).strip(), None, cwd, None, repo_root)
    ex.ended_at = None
    ex.model = session.model
    reply = "\n".join(block.reply).strip()
    if reply:
        ex.texts.append(reply)
    for path in _edited_files(block.reply):
        ex.modify(path)
    for out in block.output:
        applied = _APPLIED.match(out)
        if applied:
            ex.modify(applied.group(1))
            continue
        added = _ADD_FILE.match(out)
        if added and added.group(2).lower() in ("", "y", "yes", "a", "all"):  # blank answer takes the default, Yes
            ex.reference(added.group(1))
            continue
        if out.startswith("Tokens:"):
            counts = {kind: _number(v, unit) for v, unit, kind in _TOKENS.findall(out)}
            ex.add_tokens(counts.get("sent", 0), counts.get("received", 0), counts.get("cache hit", 0),
                          counts.get("cache write", 0))
    return ex


def parse_aider(path: str | os.PathLike[str], repo_root: str | None = None, *,
                tz: _dt.tzinfo | None = None) -> ParseResult:
    """Parse an aider history file. Relative paths are taken relative to the file's directory (aider writes the
    history at the root of the repository it runs in). Raises only OSError (unreadable file)."""
    path = Path(path)
    data = path.read_bytes()
    try:
        text, malformed = data.decode("utf-8"), 0
    except UnicodeDecodeError:  # keep what is readable, count the lines that were not valid UTF-8
        lines = data.split(b"\n")
        malformed = sum(1 for line in lines if not _is_utf8(line))
        text = "\n".join(line.decode("utf-8", "replace") for line in lines)
    cwd = str(path.resolve().parent)
    sessions, skipped = _split(text, tz)
    result = ParseResult(malformed=malformed, skipped=skipped)
    for session in sessions:
        if not session.blocks:  # started and left without typing anything: nothing to derive an id from
            continue
        first = "\n".join(session.blocks[0].prompt)
        sid = "aider-" + hashlib.sha256(f"{session.header}\n{first}".encode()).hexdigest()[:20]
        chats = []
        for block in session.blocks:
            if block.prompt[0].lstrip().startswith("/") and not "\n".join(block.reply).strip():
                result.skipped += 1  # a command handled by aider itself
                continue
            chats.append(_exchange(block, sid, len(chats), session, cwd, repo_root).to_chat(ASSISTANT))
        result.chats.extend(chats)
        result.sessions.append(Session(
            id=sid,
            assistant=ASSISTANT,
            started_at=session.started_at,
            model=session.model,
            cwd=cwd,
            transcript_path=str(path),
            chat_count=len(chats),
            query_tokens=sum(c.query_tokens for c in chats),
            response_tokens=sum(c.response_tokens for c in chats),
        ))
    return result


# --- registry contract (registry.py) -----------------------------------------------------------------------------

NAME = "aider"
HISTORY = ".aider.chat.history.md"


def parse(path: str | os.PathLike[str], repo_root: str | None = None, **kw: Any) -> ParseResult:
    return parse_aider(path, repo_root, **kw)


def sniff(path: str | os.PathLike[str]) -> bool:
    """A history file: a ``# aider chat started at`` header among its first lines."""
    lines = head_lines(path, 40)
    if not lines or is_binary(lines[0]):
        return False
    return any(_HEADER.match(line.decode("utf-8", "replace").rstrip("\r")) for line in lines)


def locations(home: Path, env: Mapping[str, str]) -> list[Path]:
    return []  # aider writes its history into the project it runs in: see project_locations


def project_locations(root: Path) -> list[Path]:
    return [root / HISTORY]


def candidates(location: Path) -> list[Path]:
    return sorted(location.rglob(HISTORY))


def project_of(path: str | os.PathLike[str]) -> str | None:
    return str(Path(path).resolve().parent)
