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

from git_ml.capture.transcripts.base import ParseResult, head_lines, is_binary, is_utf8
from git_ml.capture.transcripts.paths import project_paths
from git_ml.capture.transcripts.tooluse import paused_gc
from git_ml.schema import Chat, Session

ASSISTANT = "aider"

_HEADER = re.compile(r"^# aider chat started at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s*$")
_ADD_FILE = re.compile(r"^Add (?:file )?(.+?) to the chat\? .*?:\s*(\w*)\s*$")
_TOKENS = re.compile(r"(\d[\d,]*(?:\.\d+)?)([kKmM]?) (sent|received|cache write|cache hit)")
_FENCE = re.compile(r"^(```|~~~)")
_SEARCH = "<<<<<<< SEARCH"

# The whole-text forms of the line rules above, on text whose only line break is "\n" ([^\S\n] is a blank that is
# not a line break). One re.split cuts the file at session headers and at runs of "####" lines (one prompt each);
# the piece after each cut is the session's start-up lines or what followed the prompt, taken apart with the
# patterns below rather than one Python step per line. A pattern that starts with a literal and a lookbehind for
# the line start ("#(?<=^#)") is found by a fast literal scan, which a leading "^" would prevent.
_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # the other line breaks of str.splitlines
_STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
_CUT = re.compile(rf"#(?<=^#)(?: aider chat started at ({_STAMP})[^\S\n]*+(?:\n|\Z)"
                  r"|(###[^\n]*+(?:\n|\Z)(?:####[^\n]*+(?:\n|\Z))*))", re.M)  # a run: its first "#" not captured
_FIRST_HEADER = re.compile(rf"#(?<=^#) aider chat started at {_STAMP}[^\S\n]*$", re.M)
_NON_BLANK = re.compile(r"^[^\S\n]*+\S", re.M)
# In what followed a prompt, with a "\n" put before its first line: a fenced block (from a line starting with ```
# or ~~~ to the next such line, or the end), captured whole, or one of aider's own lines ("> x"), with the "\n"
# before it; of those, the ones read are captured: "Applied edit to <path>", "Add <file> to the chat? ...",
# "Tokens: ..." (x is the line without "> " and its blanks). The leading "\n" makes the scan stop at line starts.
_FENCE_LINE = r"[^\S\n]*+(?:```|~~~)[^\n]*+"
_PIECE = re.compile(rf"\n(?:({_FENCE_LINE}(?:\n(?!{_FENCE_LINE})[^\n]*+)*(?:\n{_FENCE_LINE})?)"
                    r"|>(?: [^\S\n]*+(?:Applied edit to ([^\n]++)|(Add [^\n]*+)|(Tokens:[^\n]*+)|[^\n]*+)"
                    r"|[^\S\n]*+(?=\n|\Z)))")
_PREAMBLE_MODEL = re.compile(r">(?<=^>) [^\S\n]*+(?:Main model|Model): (\S+)", re.M)
_BLANK_END = re.compile(r"[^\S\n]\n")  # a line ending in a blank
_KINDS = {"sent": 0, "received": 1, "cache hit": 2, "cache write": 3}
_SCALE = {"": 1, "k": 1_000, "K": 1_000, "m": 1_000_000, "M": 1_000_000}



def _utc(stamp: str, tz: _dt.tzinfo | None) -> str:
    """The header's local time as ISO-8601 UTC; ``tz`` defaults to this machine's zone (usually the writer's)."""
    try:  # the header's fixed layout, read without strptime (which costs more than the rest of a session)
        local = _dt.datetime(int(stamp[0:4]), int(stamp[5:7]), int(stamp[8:10]), int(stamp[11:13]),
                             int(stamp[14:16]), int(stamp[17:19]))
    except ValueError:  # e.g. month 13
        return ""
    aware = local.replace(tzinfo=tz) if tz is not None else local.astimezone()
    u = aware.astimezone(_dt.timezone.utc)
    if u.year < 1000:  # strftime does not pad such years
        return u.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{u.year}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"


def _prompt(run: str) -> str:
    """The text of a run of "####" lines (its first "#" cut off by ``_CUT``): each line without its marker
    ("#### " or "####") and trailing blanks."""
    if run.count("\n", 0, -1) == 0:  # one line
        return run[4:].rstrip() if run.startswith("### ") else run[3:].rstrip()
    lines = ("#" + run).split("\n")
    if lines[-1] == "":
        lines.pop()
    return "\n".join([line[5:].rstrip() if line.startswith("#### ") else line[4:].rstrip() for line in lines])


def _body(text: str, applied: list[str], added: list[str], tokens: list[str]) -> str:
    """The reply in what followed a prompt: its lines without aider's own, "\n"-separated, not stripped. aider's
    own lines that are read go to ``applied`` (paths), ``added`` and ``tokens`` (the lines). Inside a code fence a
    ">" line is the model's text (e.g. ">>>>>>> REPLACE"), so a fenced block is cut out whole and put back."""
    parts = _PIECE.split("\n" + text)  # reply, then (fenced block, applied, added, tokens, reply) per cut
    if len(parts) == 1:
        return text
    chunks = [parts[0]]
    for i in range(1, len(parts), 5):
        if (fenced := parts[i]) is not None:
            chunks.append("\n")
            chunks.append(fenced)
        elif (path := parts[i + 1]) is not None:
            applied.append(path.rstrip())
        elif (line := parts[i + 2]) is not None:
            added.append(line.rstrip())
        elif parts[i + 3] is not None:
            tokens.append(parts[i + 3])
        chunks.append(parts[i + 4])
    return "".join(chunks)[1:]


def _rstrip_lines(text: str) -> str:
    """Each line without its trailing blanks (most replies have none: checked first)."""
    if text.isascii():
        if " \n" not in text and "\t\n" not in text and "\x1f\n" not in text:
            return text
    elif _BLANK_END.search(text) is None:
        return text
    return "\n".join(line.rstrip() for line in text.split("\n"))


def _line_at(text: str, pos: int) -> tuple[int, int]:
    """(start, end) of the line holding ``pos``; ``end`` is past its "\n"."""
    end = text.find("\n", pos)
    return text.rfind("\n", 0, pos) + 1, len(text) if end < 0 else end + 1


def _edited_files(reply: str) -> list[str]:
    """Files named before SEARCH/REPLACE blocks: the path line precedes the fence (diff) or the marker (fenced)."""
    found: list[str] = []
    pos = 0
    while (at := reply.find(_SEARCH, pos)) >= 0:
        start, pos = _line_at(reply, at)
        if start == 0 or reply[start:pos].strip() != _SEARCH:
            continue
        end = start - 1  # the line before ends here
        start = reply.rfind("\n", 0, end) + 1
        name = reply[start:end].strip()
        if _FENCE.match(name) and start > 0:
            end = start - 1
            start = reply.rfind("\n", 0, end) + 1
            name = reply[start:end].strip()
        if name and not _FENCE.match(name):
            found.append(name)
    return found


class _Reader:
    """Builds the records of one history file, session by session, chat by chat. Chats are built directly (not
    through ``Exchange``): everything about an aider chat is known at once, and a history can hold 100,000 of them."""

    def __init__(self, path: Path, repo_root: str | None, tz: _dt.tzinfo | None, result: ParseResult) -> None:
        self.cwd = str(path.resolve().parent)
        self.where = str(path)
        self.paths = project_paths(None, self.cwd, repo_root)
        self.tz = tz
        self.result = result
        self.times: dict[str, str] = {}
        self.header = self.started_at = self.sid = ""
        self.model: str | None = None
        self.chats: list[Chat] = []
        self.sent = self.received = 0  # the session's tokens

    def session(self, stamp: str, preamble: str) -> None:
        self.end()
        started = self.times.get(stamp)
        if started is None:
            started = self.times[stamp] = _utc(stamp, self.tz)
        self.header, self.started_at, self.sid = f"# aider chat started at {stamp}", started, ""
        models = _PREAMBLE_MODEL.findall(preamble) if "odel: " in preamble else None
        self.model = models[-1] if models else None  # aider's start-up lines name the model

    def prompt(self, prompt: str, body: str) -> None:
        if not self.sid:  # the session's id: its header and first input
            self.sid = "aider-" + hashlib.sha256(f"{self.header}\n{prompt}".encode()).hexdigest()[:20]
        applied: list[str] = []
        added: list[str] = []
        tokens: list[str] = []
        reply = _body(body, applied, added, tokens)
        if prompt.partition("\n")[0].lstrip().startswith("/") and not reply.strip():
            self.result.skipped += 1  # a command handled by aider itself
            return
        relative = self.paths.relative
        modified: dict[str, None] = {}
        referenced: dict[str, None] = {}
        for name in _edited_files(reply) + applied:
            if p := relative(name):
                modified[p] = None
        for line in added:
            if (m := _ADD_FILE.match(line)) and m.group(2).lower() in ("", "y", "yes", "a", "all"):
                if p := relative(m.group(1)):  # a blank answer takes the default, Yes
                    referenced[p] = None
        sent = received = hit = write = 0
        for line in tokens:  # of a kind named twice in a line the last counts
            counts = [0, 0, 0, 0]
            for value, unit, kind in _TOKENS.findall(line):
                counts[_KINDS[kind]] = (int(value) if not unit and value.isdigit() and len(value) < 16
                                        else round(float(value.replace(",", "")) * _SCALE[unit]))
            sent += counts[0]
            received += counts[1]
            hit += counts[2]
            write += counts[3]
        self.chats.append(Chat(
            id=f"{self.sid}:{len(self.chats)}", session_id=self.sid, assistant=ASSISTANT, model=self.model,
            timestamp=self.started_at, query=prompt.strip(), response=_rstrip_lines(reply).strip(),
            files_referenced=list(referenced), files_modified=list(modified), query_tokens=sent,
            response_tokens=received, cache_read_tokens=hit, cache_creation_tokens=write, cwd=self.cwd))
        self.sent += sent
        self.received += received

    def end(self) -> None:
        if not self.sid:  # started and left without typing anything: nothing to derive an id from
            return
        chats = self.chats
        self.result.chats.extend(chats)
        self.result.sessions.append(Session(
            id=self.sid, assistant=ASSISTANT, started_at=self.started_at, model=self.model, cwd=self.cwd,
            transcript_path=self.where, chat_count=len(chats), query_tokens=self.sent, response_tokens=self.received))
        self.chats = []
        self.sid = ""
        self.sent = self.received = 0


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
        malformed = sum(1 for line in lines if not is_utf8(line))
        text = "\n".join(line.decode("utf-8", "replace") for line in lines)
    if any(c in text for c in _BREAKS):
        text = "\n".join(text.splitlines())
    result = ParseResult(malformed=malformed)
    first = _FIRST_HEADER.search(text)
    result.skipped = len(_NON_BLANK.findall(text, 0, len(text) if first is None else first.start()))  # stray
    if first is None:
        return result
    reader = _Reader(path, repo_root, tz, result)
    parts = _CUT.split(text[first.start():])  # "", then (stamp, run, the text up to the next cut) for each cut
    for stamp, run, after in zip(parts[1::3], parts[2::3], parts[3::3]):
        if run is None:
            reader.session(stamp, after)
        else:
            reader.prompt(_prompt(run), after)
    reader.end()
    return result


# --- registry contract (registry.py) -----------------------------------------------------------------------------

NAME = "aider"
HISTORY = ".aider.chat.history.md"


def parse(path: str | os.PathLike[str], repo_root: str | None = None, **kw: Any) -> ParseResult:
    with paused_gc():
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
