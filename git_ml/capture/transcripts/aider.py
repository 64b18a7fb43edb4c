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
_FENCES = ("```", "~~~")
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
# or ~~~ to the next such line, or the end), captured whole, or one of aider's own lines ("> x", or ">" and
# blanks), with the "\n" before it; of those, the ones read are captured (x: the line without "> " and its blanks):
# "Applied edit to <path>", "Add <file> to the chat? ..." and "Tokens: ...", told apart by their second letter.
# The leading "\n" makes the scan stop at line starts.
_FENCE_LINE = r"[^\S\n]*+(?:```|~~~)[^\n]*+"
_PIECE = re.compile(rf"\n(?:({_FENCE_LINE}(?:\n(?!{_FENCE_LINE})[^\n]*+)*(?:\n{_FENCE_LINE})?)"
                    r"|>(?: [^\S\n]*+(?:(Applied edit to [^\n]++|Add [^\n]*+|Tokens:[^\n]*+)|[^\n]*+)"
                    r"|[^\S\n]*+(?=\n|\Z)))")
_APPLIED = len("Applied edit to ")
_PREAMBLE_MODEL = re.compile(r">(?<=^>) [^\S\n]*+(?:Main model|Model): (\S+)", re.M)
_BLANK_END = re.compile(r"[^\S\n]\n")  # a line ending in a blank
_SCALE = {"": 1, "k": 1_000, "K": 1_000, "m": 1_000_000, "M": 1_000_000}
_YES = ("", "y", "yes", "a", "all")  # the answers that add a file



def _utc(stamp: str, tz: _dt.tzinfo | None) -> str:
    """The header's local time as ISO-8601 UTC; ``tz`` defaults to this machine's zone (usually the writer's)."""
    try:  # the header's fixed layout, read without strptime (which costs more than the rest of a session)
        local = _dt.datetime(int(stamp[0:4]), int(stamp[5:7]), int(stamp[8:10]), int(stamp[11:13]),
                             int(stamp[14:16]), int(stamp[17:19]))
    except ValueError:  # e.g. month 13
        return ""
    try:
        aware = local.replace(tzinfo=tz) if tz is not None else local.astimezone()
        u = aware.astimezone(_dt.timezone.utc)
    except (ValueError, OverflowError):  # e.g. year 1 shifted out of the calendar's range
        return ""
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


def _body(text: str) -> tuple[str, list[str] | None]:
    """The reply in what followed a prompt: its lines without aider's own, "\n"-separated, not stripped; then the
    aider lines that are read (None where there are none). Inside a code fence a ">" line is the model's text
    (e.g. ">>>>>>> REPLACE"), so a fenced block is cut out whole and put back."""
    if ">" not in text:  # no aider line (a fenced block alone is kept whole)
        return text, None
    parts = _PIECE.split("\n" + text)  # reply, then (fenced block, line read, reply) per cut
    read = None
    chunks = [parts[0]]
    for i in range(1, len(parts), 3):
        if (fenced := parts[i]) is not None:
            chunks.append("\n")
            chunks.append(fenced)
        elif (line := parts[i + 1]) is not None:
            if read is None:
                read = [line]
            else:
                read.append(line)
        chunks.append(parts[i + 2])
    return "".join(chunks)[1:], read


def _tokens(lines: list[str]) -> tuple[int, int, int, int]:
    """Tokens sent, received, read from and written to the cache, summed over aider's token lines (of a kind named
    twice in a line the last counts)."""
    sent = received = hit = write = 0
    for line in lines:
        head, cost, tail = line.partition("Cost:")  # "... received. Cost: $0.01 message, ...": numbers, no count
        if cost and "sent" not in tail and "received" not in tail and "cache" not in tail:
            line = head  # no count can end in the tail, and the scan of its numbers costs as much as the head's
        s = r = h = w = 0
        for value, unit, kind in _TOKENS.findall(line):
            n = (int(value) if not unit and value.isdigit() and len(value) < 16
                 else round(float(value.replace(",", "")) * _SCALE[unit]))
            if kind == "sent":
                s = n
            elif kind == "received":
                r = n
            elif kind == "cache hit":
                h = n
            else:
                w = n
        sent += s
        received += r
        hit += h
        write += w
    return sent, received, hit, write


def _rstrip_lines(text: str) -> str:
    """Each line without its trailing blanks (most replies have none: checked first)."""
    if text.isascii():
        if " \n" not in text and "\t\n" not in text and "\x1f\n" not in text:
            return text
    elif _BLANK_END.search(text) is None:
        return text
    return "\n".join(line.rstrip() for line in text.split("\n"))


def _edited_files(reply: str) -> list[str]:
    """Files named before SEARCH/REPLACE blocks: the path line precedes the fence (diff) or the marker (fenced)."""
    found: list[str] = []
    pos = 0
    while (at := reply.find(_SEARCH, pos)) >= 0:
        start = reply.rfind("\n", 0, at) + 1  # the marker's line: [start, pos), pos past its "\n"
        pos = reply.find("\n", at)
        pos = len(reply) if pos < 0 else pos + 1
        if start == 0 or reply[start:pos].strip() != _SEARCH:
            continue
        end = start - 1  # the line before ends here
        start = reply.rfind("\n", 0, end) + 1
        name = reply[start:end].strip()
        if start > 0 and name.startswith(_FENCES):
            end = start - 1
            start = reply.rfind("\n", 0, end) + 1
            name = reply[start:end].strip()
        if name and not name.startswith(_FENCES):
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

    def read(self, parts: list[str | None]) -> None:
        """Every cut of ``_CUT.split``: (stamp, None, start-up lines) for a session header, (None, run of "####"
        lines, what followed) for a prompt. One loop, each step inline: a history can hold 100,000 prompts."""
        relative, cwd, times, result = self.paths.relative, self.cwd, self.times, self.result
        skipped = 0
        stamp = started = sid = ""
        model: str | None = None
        chats: list[Chat] = []
        sent_all = received_all = 0  # the session's tokens
        for header, run, body in zip(parts[1::3], parts[2::3], parts[3::3]):
            if run is None:  # a session starts
                if sid:
                    self.end(sid, started, model, chats, sent_all, received_all)
                    chats = []
                    sent_all = received_all = 0
                stamp, sid = header, ""
                started = times.get(stamp)
                if started is None:
                    started = times[stamp] = _utc(stamp, self.tz)
                models = _PREAMBLE_MODEL.findall(body) if "odel: " in body else None
                model = models[-1] if models else None  # aider's start-up lines name the model
                continue
            prompt = _prompt(run)
            if not sid:  # the session's id: its header and first input
                sid = "aider-" + hashlib.sha256(f"# aider chat started at {stamp}\n{prompt}".encode()).hexdigest()[:20]
            reply, lines = _body(body)
            first = prompt[:1]  # a command handled by aider itself: its first line starts with "/" (after blanks)
            if (first == "/" or first.isspace() and prompt.partition("\n")[0].lstrip().startswith("/")) \
                    and not reply.strip():
                skipped += 1
                continue
            names = _edited_files(reply) if _SEARCH in reply else None
            referenced: list[str] = []
            sent = received = hit = write = 0
            if lines is not None:
                tokens = None
                for line in lines:
                    if line[1] == "p":  # Applied edit to <path>
                        if names is None:
                            names = []
                        names.append(line[_APPLIED:].rstrip())
                    elif line[1] == "d":  # Add <file> to the chat? ...: <answer>; a blank one takes the default, Yes
                        if (m := _ADD_FILE.match(line.rstrip())) and m.group(2).lower() in _YES:
                            if p := relative(m.group(1)):
                                referenced.append(p)
                    elif tokens is None:
                        tokens = [line]
                    else:
                        tokens.append(line)
                if len(referenced) > 1:
                    referenced = list(dict.fromkeys(referenced))
                if tokens is not None:
                    sent, received, hit, write = _tokens(tokens)
            modified: list[str] = []
            if names:
                for name in names:
                    if p := relative(name):
                        modified.append(p)
                if len(modified) > 1:
                    modified = list(dict.fromkeys(modified))
            chats.append(Chat(
                id=f"{sid}:{len(chats)}", session_id=sid, assistant=ASSISTANT, model=model, timestamp=started,
                query=prompt.strip(), response=_rstrip_lines(reply).strip(), files_referenced=referenced,
                files_modified=modified, query_tokens=sent, response_tokens=received, cache_read_tokens=hit,
                cache_creation_tokens=write, cwd=cwd))
            sent_all += sent
            received_all += received
        if sid:  # a session left without typing anything has nothing to derive an id from: no record
            self.end(sid, started, model, chats, sent_all, received_all)
        result.skipped += skipped

    def end(self, sid: str, started: str, model: str | None, chats: list[Chat], sent: int, received: int) -> None:
        self.result.chats.extend(chats)
        self.result.sessions.append(Session(
            id=sid, assistant=ASSISTANT, started_at=started, model=model, cwd=self.cwd, transcript_path=self.where,
            chat_count=len(chats), query_tokens=sent, response_tokens=received))


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
    reader.read(parts)
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
