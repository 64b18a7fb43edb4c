"""Claude Code transcripts (``~/.claude/projects/<project>/<session>.jsonl``), parsed incrementally.

One chat per user prompt. A prompt is a main-chain ``user`` line whose content is text (or an image), not a
``tool_result``. Not prompts (counted in ``skipped``): ``isMeta``, ``isCompactSummary`` and
``isVisibleInTranscriptOnly`` lines (the summary written after a ``compact_boundary``), interruption markers
("[Request interrupted by user]", "... for tool use"), local-command output and caveats (the ``/exit`` echo),
``<system-reminder>`` / ``<task-notification>`` / hook context, and ``!`` bash-mode echoes. Images in a prompt are
counted (``Chat.images``); their text is kept. ``custom-title``, ``agent-name``, ``summary`` and
``file-history-snapshot`` lines are skipped. A slash command line
(``<command-name>/x</command-name><command-args>a</command-args>``) is a prompt whose query is ``/x a``; its expanded
text follows as an ``isMeta`` line and is not repeated in the query. A command chat that ends without any assistant
activity (``/clear``, ``/model``, ...) is dropped.

Everything until the next prompt belongs to the chat: assistant text blocks (joined by blank lines), tool uses,
token usage (once per ``message.id``, maximum of each field since streamed lines repeat a growing usage), and
subagent work: ``isSidechain`` lines in the file, and ``agent-*.jsonl`` files, merged into the chat whose Task call
spawned them (matched by agent id, then by the Task prompt, then by time).

Incremental use: keep ``resume_offset``, ``head_hash`` and ``resume_base`` from a parse and call again with
``start_offset=resume_offset, base=resume_base``; the last (possibly unfinished) chat is re-read and comes back as a
newer version with the same id. If the file is now shorter than the saved offset or its first line changed
(``needs_restart``), parse from 0 without a base.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from git_ml.capture.transcripts.base import Exchange, ParseResult, find_files, head_lines, json_objects
from git_ml.capture.transcripts.claude_lines import INPUT, LINE, MESSAGE, TASK_RESULT, Block, Line, Message
from git_ml.schema import Chat, Session

ASSISTANT = "claude-code"

_READ_INPUTS = ("file_path", "notebook_path", "path")
_WRITE_TOOLS = frozenset({"Edit", "MultiEdit", "Write", "NotebookEdit"})
_SHELL_TOOLS = frozenset({"Bash"})
_TASK_TOOLS = frozenset({"Task", "Agent"})
_NOT_PROMPTS = ("[Request interrupted", "<local-command-stdout>", "<local-command-stderr>", "<local-command-caveat>",
                "Caveat: The messages below were generated", "<bash-input>", "<bash-stdout>", "<bash-stderr>",
                "<system-reminder>", "<task-notification>", "<user-prompt-submit-hook>", "Stop hook feedback:")
_COMMAND = re.compile(r"<command-name>(.*?)</command-name>", re.S)
_COMMAND_ARGS = re.compile(r"<command-args>(.*?)</command-args>", re.S)
_AGENT_ID = re.compile(rb"agentId:\s*([\w@.-]+)")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass
class ClaudeParse(ParseResult):
    """``resume_offset``: byte offset of the last prompt's line (or ``end_offset`` when there was none);
    ``end_offset``: just after the last complete line; ``head_hash``: hash of the file's first line;
    ``resume_base``: the session aggregated over the chats before ``resume_offset`` (pass it back as ``base``)."""

    resume_offset: int = 0
    end_offset: int = 0
    head_hash: str = ""
    resume_base: Session | None = None


@dataclass
class AgentRun:
    """A subagent transcript: what it did, as a chat record (id ``<session>:agent-<agent id>``)."""

    agent_id: str
    session_id: str
    prompt: str
    started_at: str
    chat: Chat
    malformed: int
    exchange: Exchange  # the accumulator, for merging without double counting


class _ClaudeExchange(Exchange):
    def __init__(self, *args: Any, command: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.command = command  # started by a slash command
        self.local = False  # ... that printed local output (no model involved)
        self.task_prompts: dict[str, str] = {}  # Task tool_use id -> prompt
        self.agent_ids: set[str] = set()
        self._texts_seen: set[tuple[str | None, str]] = set()


def _text_of(content: str | list[Block] | None) -> str:
    if isinstance(content, str):
        return content
    if not content:
        return ""
    return "\n\n".join(b.text for b in content if b.type == "text" and b.text)


def _absorb_assistant(ex: _ClaudeExchange, line: Line, msg: Message, key: str, main: bool) -> None:
    """Add one assistant line to a chat. Sidechain (``main`` False) work counts tools, files and tokens, not text."""
    ex.seen(line.timestamp)
    if main and msg.model and msg.model != "<synthetic>":  # synthetic: client-side error notices
        ex.model = msg.model
    content = msg.content
    if isinstance(content, str):
        content = [Block(type="text", text=content)]
    for b in content or ():
        if b.type == "text":
            if main and b.text and (msg.id, b.text) not in ex._texts_seen:
                ex._texts_seen.add((msg.id, b.text))
                ex.texts.append(b.text)
        elif b.type == "tool_use":
            _absorb_tool(ex, b, line.cwd)
    u = msg.usage
    if u is not None:
        ex.add_usage(msg.id or key, [u.input_tokens or 0, u.output_tokens or 0, u.cache_read_input_tokens or 0,
                                     u.cache_creation_input_tokens or 0])


def _absorb_tool(ex: _ClaudeExchange, b: Block, cwd: str | None) -> None:
    name = b.name or "unknown"
    if not ex.add_tool(name, b.id):
        return
    try:
        inp = INPUT.decode(b.input) if b.input else None
    except ValueError:  # (incl. invalid UTF-8) input is not an object
        inp = None
    if inp is None:
        return
    if name in _WRITE_TOOLS:
        ex.modify(inp.file_path or inp.notebook_path, cwd)
    elif name in _SHELL_TOOLS:
        ex.add_shell(inp.command, cwd)
    elif name in _TASK_TOOLS:
        if isinstance(inp.prompt, str) and b.id:
            ex.task_prompts[b.id] = inp.prompt.strip()
    else:  # Read, Grep, Glob, LS, NotebookRead and any other tool naming a path
        for field in _READ_INPUTS:
            ex.reference(getattr(inp, field), cwd)


class _Reader:
    """Line-by-line state of one parse."""

    def __init__(self, session_id: str, repo_root: str | None) -> None:
        self.session_id = session_id
        self.repo_root = repo_root
        self.chats: list[tuple[int, _ClaudeExchange]] = []  # (offset of the prompt line, chat)
        self.cur: _ClaudeExchange | None = None
        self.last_prompt: int | None = None
        self.skipped = 0
        self.started_at: str | None = None
        self.ended_at: str | None = None
        self.model: str | None = None
        self.cwd: str | None = None
        self.branch: str | None = None
        self.first_session_id: str | None = None

    def feed(self, offset: int, line: Line) -> None:
        if line.type not in ("user", "assistant") or not line.message:
            self.skipped += 1
            return
        msg = MESSAGE.decode(line.message)  # may raise: the line then counts as malformed, nothing changed yet
        ts = line.timestamp
        if ts:
            self.started_at = self.started_at or ts
            if self.ended_at is None or ts > self.ended_at:
                self.ended_at = ts
        self.first_session_id = self.first_session_id or line.sessionId
        self.cwd = self.cwd or line.cwd
        self.branch = line.gitBranch or self.branch
        if line.type == "assistant":
            if self.cur is None:  # nothing to attach it to (file starts mid-conversation)
                self.skipped += 1
                return
            main = not line.isSidechain
            _absorb_assistant(self.cur, line, msg, line.uuid or str(offset), main)
            if main and self.cur.model:
                self.model = self.cur.model
        else:
            self._user(offset, line, msg)

    def _user(self, offset: int, line: Line, msg: Message) -> None:
        cur = self.cur
        content = msg.content
        if isinstance(content, list) and any(b.type == "tool_result" for b in content):
            if cur is not None:
                cur.seen(line.timestamp)
                self._task_results(cur, line, content)
            return
        if line.isSidechain:  # the subagent's own prompt
            if cur is not None:
                cur.seen(line.timestamp)
            return
        text = _text_of(content)
        has_image = isinstance(content, list) and any(b.type == "image" for b in content)
        head = text.lstrip()
        if line.isMeta or line.isCompactSummary or line.isVisibleInTranscriptOnly or head.startswith(_NOT_PROMPTS) \
                or not (head or has_image):
            if cur is not None and head.startswith("[Request interrupted"):
                cur.seen(line.timestamp)  # the user stopped this exchange
            if cur is not None and cur.command and head.startswith("<local-command"):
                cur.local = True
            self.skipped += 1
            return
        command = _COMMAND.search(text)
        if command is not None:
            args = _COMMAND_ARGS.search(text)
            text = (command.group(1).strip() + " " + (args.group(1).strip() if args else "")).strip()
        self._close()
        sid = line.sessionId or self.session_id
        self.cur = _ClaudeExchange(f"{sid}:{line.uuid or offset}", sid, line.timestamp or "", text, line.uuid,
                                   line.cwd, line.gitBranch or None, self.repo_root, command=command is not None)
        if isinstance(content, list):
            self.cur.images = sum(1 for b in content if b.type == "image")
        self.chats.append((offset, self.cur))
        self.last_prompt = offset

    def _task_results(self, cur: _ClaudeExchange, line: Line, content: list[Block]) -> None:
        for b in content:
            if b.type == "tool_result" and b.tool_use_id in cur.task_prompts:
                agent = None
                try:
                    if line.toolUseResult:
                        agent = TASK_RESULT.decode(line.toolUseResult).agentId
                except ValueError:  # (incl. invalid UTF-8) a string result, not an object
                    pass
                if not isinstance(agent, str):
                    m = _AGENT_ID.search(bytes(b.content))
                    agent = m.group(1).decode() if m else None
                if agent:
                    cur.agent_ids.add(agent)

    def _close(self) -> None:
        """Drop the current chat if it was a command the model never saw."""
        cur = self.cur
        if cur is not None and cur.command and not cur.active:
            self.chats.pop()
        self.cur = None

    def finish(self) -> None:
        cur = self.cur
        if cur is not None and cur.command and cur.local and not cur.active:
            self.chats.pop()
            self.cur = None


def _read_first_line(path: Path, limit: int = 1 << 20) -> bytes | None:
    """The first complete line of a file (its first ``limit`` bytes if longer), None if there is none yet."""
    with open(path, "rb") as f:
        line = f.readline(limit)
    return line if line.endswith(b"\n") or len(line) == limit else None


def transcript_head_hash(path: str | os.PathLike[str]) -> str:
    """Hash of the first complete line: if it changes, the file was rewritten and must be parsed from 0."""
    line = _read_first_line(Path(path))
    return hashlib.sha1(line).hexdigest() if line else ""


def needs_restart(path: str | os.PathLike[str], offset: int, head_hash: str) -> bool:
    """Whether a saved (offset, head hash) no longer fits the file: then parse from 0 without a base."""
    return os.path.getsize(path) < offset or (offset > 0 and transcript_head_hash(path) != head_hash)


def _iter_lines(data: bytes, base: int):
    """(offset, line bytes, complete) for each line; a tail without newline comes last with complete=False."""
    pos, n = 0, len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl < 0:
            yield base + pos, data[pos:], False
            return
        yield base + pos, data[pos:nl], True
        pos = nl + 1


def _session(sid: str, path: Path, base: Session | None, chats: list[Chat], r: _Reader) -> Session:
    b = base or Session(id=sid)
    return Session(
        id=sid,
        assistant=ASSISTANT,
        started_at=b.started_at or r.started_at,
        ended_at=r.ended_at or b.ended_at,
        model=r.model or b.model,
        cwd=b.cwd or r.cwd,
        branch=r.branch or b.branch,
        transcript_path=str(path),
        chat_count=b.chat_count + len(chats),
        query_tokens=b.query_tokens + sum(c.query_tokens for c in chats),
        response_tokens=b.response_tokens + sum(c.response_tokens for c in chats),
    )


def parse_claude(path: str | os.PathLike[str], repo_root: str | None = None, start_offset: int = 0, *,
                 base: Session | None = None, subagents: bool = True) -> ClaudeParse:
    """Parse a Claude Code transcript from ``start_offset`` (which must be a line start: 0 or a previous
    ``resume_offset``). ``base`` is the previous parse's ``resume_base``, so that session totals cover the whole
    file. With ``subagents``, ``agent-*.jsonl`` files of the session are merged into the chats that spawned them.
    Raises only OSError (unreadable file)."""
    path = Path(path)
    head = _read_first_line(path)
    with open(path, "rb") as f:
        f.seek(start_offset)
        data = f.read()
    sid = path.stem if _UUID.match(path.stem) else ""
    reader = _Reader(sid or path.stem, repo_root)
    malformed = 0
    end = start_offset
    for offset, raw, complete in _iter_lines(data, start_offset):
        if raw.strip():
            try:
                reader.feed(offset, LINE.decode(raw))
            except ValueError:  # msgspec.DecodeError, or invalid UTF-8 inside a string
                if not complete:  # still being written: stop before it, it is not malformed
                    break
                malformed += 1
        end = offset + len(raw) + complete
    reader.finish()
    sid = sid or (base.id if base else "") or reader.first_session_id or path.stem
    agents = _attach_agents(path, sid, reader.chats, repo_root) if subagents and reader.chats else []
    chats = [ex.to_chat(ASSISTANT) for _, ex in reader.chats]
    resume = reader.last_prompt if reader.last_prompt is not None else end
    before = [c for (offset, _), c in zip(reader.chats, chats) if offset < resume]
    return ClaudeParse(
        chats=chats,
        sessions=[_session(sid, path, base, chats, reader)],
        malformed=malformed,
        skipped=reader.skipped,
        resume_offset=resume,
        end_offset=end,
        head_hash=hashlib.sha1(head).hexdigest() if head else "",
        resume_base=_session(sid, path, base, before, reader),
        dependencies=agents,
    )


# --- subagent files ----------------------------------------------------------------------------------------------

def _head_record(path: Path) -> Line | None:
    raw = _read_first_line(path)
    try:
        return LINE.decode(raw) if raw else None
    except ValueError:  # msgspec.DecodeError, or invalid UTF-8 inside a string
        return None


def agent_files(transcript: str | os.PathLike[str], session_id: str) -> list[Path]:
    """Subagent transcripts of a session: ``<dir>/<session>/subagents/agent-*.jsonl`` (newer versions) and
    ``<dir>/agent-*.jsonl`` whose first line names the session (2.0.x). Context-compaction agents are left out."""
    transcript = Path(transcript)
    found = sorted((transcript.parent / session_id / "subagents").glob("agent-*.jsonl"))
    for p in sorted(transcript.parent.glob("agent-*.jsonl")):
        rec = _head_record(p)
        if rec is not None and rec.sessionId == session_id:
            found.append(p)
    return [p for p in found if not p.name.startswith("agent-acompact")]


def _agent_prompt(rec: Line) -> str:
    try:
        return _text_of(MESSAGE.decode(rec.message).content).strip() if rec.message else ""
    except ValueError:  # msgspec.DecodeError, or invalid UTF-8 inside a string
        return ""


def parse_claude_agent(path: str | os.PathLike[str], repo_root: str | None = None) -> AgentRun:
    """Parse a subagent file (``agent-<id>.jsonl``): its tools, files and tokens, to merge into the parent chat."""
    path = Path(path)
    data = path.read_bytes()
    agent_id = path.stem[len("agent-"):] if path.stem.startswith("agent-") else path.stem
    ex: _ClaudeExchange | None = None
    prompt, malformed = "", 0
    for offset, raw, complete in _iter_lines(data, 0):
        if not raw.strip():
            continue
        try:
            line = LINE.decode(raw)
            msg = MESSAGE.decode(line.message) if line.type in ("user", "assistant") and line.message else None
        except ValueError:  # msgspec.DecodeError, or invalid UTF-8 inside a string
            malformed += complete
            continue
        if msg is None:
            continue
        if ex is None:
            agent_id = line.agentId or agent_id
            sid = line.sessionId or ""
            ex = _ClaudeExchange(f"{sid}:agent-{agent_id}", sid, line.timestamp or "", "", None, line.cwd,
                                 line.gitBranch or None, repo_root)
        if line.type == "assistant":
            _absorb_assistant(ex, line, msg, line.uuid or str(offset), True)
        else:
            ex.seen(line.timestamp)
            results = isinstance(msg.content, list) and any(b.type == "tool_result" for b in msg.content)
            if not prompt and not results:
                prompt = _text_of(msg.content).strip()
    if ex is None:
        ex = _ClaudeExchange(f":agent-{agent_id}", "", repo_root=repo_root)
    ex.query = prompt
    return AgentRun(agent_id, ex.session_id, prompt, ex.timestamp, ex.to_chat(ASSISTANT), malformed, ex)


def _attach_agents(path: Path, session_id: str, chats: list[tuple[int, _ClaudeExchange]],
                   repo_root: str | None) -> list[Path]:
    """Merge each subagent file into the chat that spawned it: by the agent id the Task result reported, else by
    the Task prompt, else into the latest chat that started before the agent did (never into chats parsed earlier).
    Returns the files merged."""
    exchanges = [ex for _, ex in chats]
    by_agent = {a: ex for ex in exchanges for a in ex.agent_ids}
    by_prompt = {p: ex for ex in exchanges for p in ex.task_prompts.values()}
    matched = []
    for p in agent_files(path, session_id):
        rec = _head_record(p)
        if rec is None:
            continue
        target = by_agent.get(rec.agentId or p.stem[len("agent-"):]) or by_prompt.get(_agent_prompt(rec))
        if target is None and rec.timestamp:
            started = [ex for ex in exchanges if ex.timestamp and ex.timestamp <= rec.timestamp]
            target = started[-1] if started else None  # before the first chat: warmup agents
        if target is not None:
            matched.append((rec.timestamp or "", str(p), target))
    for _, p, target in sorted(matched, key=lambda m: m[:2]):  # in the order the agents started
        target.merge(parse_claude_agent(p, repo_root).exchange)
    return [Path(p) for _, p, _ in matched]


# --- registry contract (registry.py) -----------------------------------------------------------------------------

NAME = "claude"
_CLAUDE_TYPES = frozenset({"user", "assistant", "system", "summary", "file-history-snapshot", "custom-title",
                           "agent-name", "ai-title", "last-prompt", "queue-operation", "attachment"})


def parse(path: str | os.PathLike[str], repo_root: str | None = None, **kw: Any) -> ClaudeParse:
    return parse_claude(path, repo_root, **kw)


def _is_agent_file(path: Path) -> bool:
    return path.name.startswith("agent-") or path.parent.name == "subagents"


def sniff(path: str | os.PathLike[str]) -> bool:
    """A session transcript (not a sub-agent's file): JSON lines of Claude Code's types carrying ``uuid`` /
    ``sessionId`` (or the ``summary`` / ``file-history-snapshot`` lines that may come first)."""
    path = Path(path)
    if _is_agent_file(path):
        return False
    for obj in json_objects(head_lines(path)):
        kind = obj.get("type")
        if not isinstance(kind, str) or kind not in _CLAUDE_TYPES or "payload" in obj:
            return False
        if obj.get("isSidechain") is True and obj.get("agentId"):  # a sub-agent's file, merged into its session
            return False
        if "uuid" in obj and "sessionId" in obj or kind in ("summary", "file-history-snapshot") and (
                "leafUuid" in obj or "messageId" in obj):
            return True
    return False


def read_with(path: str | os.PathLike[str]) -> Path | None:
    """The session file a sub-agent's file is merged into (see the registry): ``<dir>/<session>.jsonl`` for
    ``<dir>/<session>/subagents/agent-*.jsonl``, and for a 2.0.x file beside it the session its first line names."""
    path = Path(path)
    rec = _head_record(path)
    if rec is None or not rec.sessionId or not (_is_agent_file(path) or rec.isSidechain and rec.agentId):
        return None
    if path.parent.name == "subagents":
        return path.parent.parent.parent / f"{path.parent.parent.name}.jsonl"
    return path.parent / f"{rec.sessionId}.jsonl"


def locations(home: Path, env: Mapping[str, str]) -> list[Path]:
    base = Path(env["CLAUDE_CONFIG_DIR"]) if env.get("CLAUDE_CONFIG_DIR") else home / ".claude"
    return [base / "projects"]


def candidates(location: Path) -> list[Path]:
    """Session files below ``location``; sub-agent files (``agent-*.jsonl`` beside them or under
    ``<session>/subagents/``) are merged into their sessions, never sessions of their own."""
    return find_files(location, lambda n: n.endswith(".jsonl") and not n.startswith("agent-"),
                      lambda d: d == "subagents")


def project_of(path: str | os.PathLike[str]) -> str | None:
    """The ``cwd`` of the first line that records one."""
    for obj in json_objects(head_lines(path, 40, 1 << 20)):
        if isinstance(obj.get("cwd"), str):
            return obj["cwd"]
    return None
