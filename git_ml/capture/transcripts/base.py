"""Pieces shared by the transcript parsers: the result type, the per-exchange accumulator (whose paths follow the
one rule of ``paths.py``) and cheap file hints from shell commands and patches.

Parsers here are pure: they read a transcript and return records. They never touch the store or git and never
redact; the capture layer does that. ``captured_at`` is left empty for the storing layer to fill.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from git_ml.capture.transcripts.paths import ProjectPaths, project_paths
from git_ml.schema import Chat, Session


@dataclass
class ParseResult:
    """What a parser found in one file. ``malformed`` counts undecodable lines, ``skipped`` lines that were read
    but contributed nothing (unknown or deliberately ignored kinds). Aider files hold several sessions.
    ``dependencies``: the other files or folders the records were also read from (a sub-agent's file, a sub-task's
    folder, a settings file), so that an import reads the unit again when one of them changes."""

    chats: list[Chat] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    malformed: int = 0
    skipped: int = 0
    dependencies: list[Path] = field(default_factory=list)

    @property
    def session(self) -> Session | None:
        return self.sessions[-1] if self.sessions else None


def session_of(chats: list[Chat], **fields) -> Session:
    """The session record of ``chats``: its chat count is theirs, and so are its token totals unless ``fields`` give
    them (an assistant that writes the session's own totals)."""
    if "query_tokens" not in fields:
        fields["query_tokens"] = sum(c.query_tokens for c in chats)
    if "response_tokens" not in fields:
        fields["response_tokens"] = sum(c.response_tokens for c in chats)
    return Session(chat_count=len(chats), **fields)


def duration_ms(start: str | None, end: str | None) -> int | None:
    """Milliseconds between two ISO-8601 times, None when either is missing or unparsable."""
    if not start or not end:
        return None
    try:
        a = _dt.datetime.fromisoformat(start)
        if end == start:  # (common where a format records one time per chat)
            return 0
        b = _dt.datetime.fromisoformat(end)
        return max(0, round((b - a).total_seconds() * 1000))
    except (ValueError, TypeError):  # naive vs aware, or garbage
        return None


class Exchange:
    """Mutable accumulator for one chat while its lines are read; ``to_chat`` turns it into a record.

    Token usage is kept per message id and merged by taking the maximum of each field, because a streamed reply is
    written as several lines repeating (and growing) the same usage: it must be counted once.
    """

    def __init__(self, chat_id: str, session_id: str, timestamp: str = "", query: str = "",
                 prompt_uuid: str | None = None, cwd: str | None = None, branch: str | None = None,
                 repo_root: str | None = None, project_root: str | None = None) -> None:
        self.chat_id = chat_id
        self.session_id = session_id
        self.timestamp = timestamp
        self.ended_at: str | None = timestamp or None
        self.query = query
        self.images = 0  # images attached to the prompt
        self.prompt_uuid = prompt_uuid
        self.cwd = cwd
        self.branch = branch
        self.repo_root = repo_root
        self.project_root = project_root  # the root the transcript names, when it names one
        self._paths: ProjectPaths | None = None
        self.model: str | None = None
        self.texts: list[str] = []
        self.tools: list[tuple[str, str | None]] = []
        self._tool_ids: set[str] = set()
        self.referenced: dict[str, None] = {}  # ordered sets
        self.modified: dict[str, None] = {}
        self.usage: dict[str, list[int]] = {}  # message id -> [input, output, cache read, cache creation]
        self.tokens = [0, 0, 0, 0]  # added directly, for formats without message ids

    @property
    def active(self) -> bool:
        """Whether the assistant did anything yet."""
        return bool(self.texts or self.tools or self.usage or any(self.tokens))

    def seen(self, timestamp: str | None) -> None:
        if timestamp and (self.ended_at is None or timestamp > self.ended_at):
            self.ended_at = timestamp

    def add_tool(self, name: str, tool_id: str | None = None) -> bool:
        """Record a tool use; False when this tool id was already recorded (merging a subagent twice)."""
        if tool_id:
            if tool_id in self._tool_ids:
                return False
            self._tool_ids.add(tool_id)
        self.tools.append((name, tool_id))
        return True

    def add_usage(self, key: str, values: list[int]) -> None:
        old = self.usage.get(key)
        self.usage[key] = values if old is None else [max(a, b) for a, b in zip(old, values)]

    def add_tokens(self, query: int = 0, response: int = 0, cache_read: int = 0, cache_creation: int = 0) -> None:
        t = self.tokens
        t[0] += query
        t[1] += response
        t[2] += cache_read
        t[3] += cache_creation

    @property
    def paths(self) -> ProjectPaths:
        """The path rule of this chat's project (rebuilt if its cwd was learnt late)."""
        if self._paths is None or self._paths.cwd != (self.cwd or None):
            self._paths = project_paths(self.project_root, self.cwd, self.repo_root)
        return self._paths

    def reference(self, path: object, cwd: str | None = None) -> None:
        p = self.paths.relative(path, cwd)
        if p:
            self.referenced[p] = None

    def modify(self, path: object, cwd: str | None = None) -> None:
        p = self.paths.relative(path, cwd)
        if p:
            self.modified[p] = None

    def add_shell(self, command: object, cwd: str | None = None) -> None:
        if not isinstance(command, str):
            return
        if "*** Begin Patch" in command:  # apply_patch run through the shell (Codex); the body is not commands
            for p in patch_files(command):
                self.modify(p, cwd)
            command = _PATCH_BODY.sub(" ", command)
        reads, writes = shell_file_hints(command)
        for p in reads:
            self.reference(p, cwd)
        for p in writes:
            self.modify(p, cwd)

    def merge(self, other: Exchange) -> None:
        """Fold a subagent's work into this chat (tools, files, tokens), skipping tool ids already present."""
        for name, tool_id in other.tools:
            self.add_tool(name, tool_id)
        self.referenced.update(other.referenced)
        self.modified.update(other.modified)
        for key, values in other.usage.items():
            self.add_usage(key, values)
        self.add_tokens(*other.tokens)
        self.seen(other.ended_at)

    def totals(self) -> list[int]:
        t = list(self.tokens)
        for u in self.usage.values():
            for i in range(4):
                t[i] += u[i]
        return t

    def to_chat(self, assistant: str) -> Chat:
        names = [name for name, _ in self.tools]
        counts: dict[str, int] = {}
        for name in names:
            counts[name] = counts.get(name, 0) + 1
        q, r, cr, cc = self.totals() if self.usage else self.tokens
        return Chat(
            id=self.chat_id,
            session_id=self.session_id,
            assistant=assistant,
            model=self.model,
            timestamp=self.timestamp,
            ended_at=self.ended_at,
            duration_ms=duration_ms(self.timestamp, self.ended_at),
            prompt_uuid=self.prompt_uuid,
            query=self.query,
            images=self.images,
            response="\n\n".join(filter(None, self.texts)),
            files_referenced=list(self.referenced),
            files_modified=list(self.modified),
            tools_used=names,
            tool_counts=counts,
            query_tokens=q,
            response_tokens=r,
            cache_read_tokens=cr,
            cache_creation_tokens=cc,
            branch=self.branch,
            cwd=self.cwd,
        )


# --- patches -----------------------------------------------------------------------------------------------------

_PATCH_FILE = re.compile(r"^\*\*\* (?:Add File|Update File|Delete File|Move to): *(.+?)\s*$", re.M)
_PATCH_BODY = re.compile(r"\*\*\* Begin Patch.*?(?:\*\*\* End Patch|\Z)", re.S)


def patch_files(text: str) -> list[str]:
    """Paths named by an apply_patch envelope (``*** Update File: x`` and friends), in order."""
    return list(dict.fromkeys(m.group(1) for m in _PATCH_FILE.finditer(text)))


# --- shell commands ----------------------------------------------------------------------------------------------
# Only cheap, visible cases: a command word we know and literal path arguments. Anything with globs, variables or
# substitutions is ignored rather than guessed.

_OPS = ";&|()<>\n"
_HEREDOC = re.compile(r"<<-?[ \t]*(['\"]?)([A-Za-z_][\w.-]*)\1([^\n]*)(?:\n.*?)?\n[ \t]*\2[ \t]*(?=\n|\Z)", re.S)
_ASSIGN = re.compile(r"^[A-Za-z_]\w*=")
_PREFIXES = {"sudo", "command", "time", "nohup", "exec", "env", "nice"}
_NOT_PLAIN = re.compile(r"[*?\[\]{}$`]|://")

# command -> (mode, options that take a value). Modes: read/write = every operand; cp = read all but the last,
# write the last; search = first operand is the pattern unless given by -e/-f; sed = like search, in place -> write.
_COMMANDS: dict[str, tuple[str, frozenset[str]]] = {}
for _names, _mode, _opts in (
    ("rm unlink touch shred", "write", ""),
    ("truncate", "write", "-s -r --size --reference"),
    ("mv", "write", "-S -t --suffix --target-directory"),
    ("tee", "write", ""),
    ("cp", "cp", "-S -t --suffix --target-directory"),
    ("cat less more nl wc bat stat file ls tree du", "read", "-L -I -P -d -b -s -w"),
    ("head tail", "read", "-n -c --lines --bytes"),
    ("grep egrep fgrep", "search", "-e -f -m -A -B -C --regexp --file --max-count"),
    ("rg", "search", "-e -f -g -t -T -m -A -B -C -j -M -E --glob --iglob --type --type-not --max-count --max-depth"
                     " --regexp --file --encoding"),
    ("sed", "sed", "-e -f -l --expression --file --line-length"),
):
    for _name in _names.split():
        _COMMANDS[_name] = (_mode, frozenset(_opts.split()))
_WORTH_LEXING = re.compile(r"[<>]|(?<![\w.-])(?:%s)(?![\w.-])" % "|".join(sorted(_COMMANDS) + ["git"]))


def _at(cwd: str | None, path: str) -> str | None:
    """A path as seen after any ``cd`` earlier in the command; None when that directory is unknown."""
    if path.startswith("/") or cwd == "":
        return path
    return posixpath.join(cwd, path) if cwd else None


def _operands(args: list[str], value_opts: frozenset[str]) -> tuple[list[str], list[str]]:
    """Split arguments into (options, operands), skipping the values of options that take one."""
    opts: list[str] = []
    operands: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            operands.extend(args[i + 1:])
            break
        if a.startswith("-") and len(a) > 1:
            opts.append(a)
            if a in value_opts and i + 1 < len(args):
                opts.append(args[i + 1])
                i += 1
        else:
            operands.append(a)
        i += 1
    return opts, operands


def _command(args: list[str], cwd: str | None, reads: list[str], writes: list[str]) -> str | None:
    """Collect the paths of one simple command; returns the directory in effect afterwards (``cd``)."""
    i = 0
    while i < len(args) and (_ASSIGN.match(args[i]) or args[i] in _PREFIXES):
        i += 1
    if i >= len(args):
        return cwd
    name, rest = posixpath.basename(args[i]), args[i + 1:]
    if name == "cd":
        if not rest or _NOT_PLAIN.search(rest[0]) or rest[0].startswith(("~", "-")):
            return None
        return _at(cwd, rest[0])
    if name == "git":
        # git [-C dir] mv|rm operands
        while rest and rest[0].startswith("-"):
            if rest[0] == "-C" and len(rest) > 1:
                cwd = _at(cwd, rest[1]) if cwd is not None else None
                rest = rest[2:]
            elif rest[0] == "-c" and len(rest) > 1:
                rest = rest[2:]
            else:
                rest = rest[1:]
        if not rest or rest[0] not in ("mv", "rm"):
            return cwd
        name, mode, value_opts = "git " + rest[0], "write", frozenset()
        rest = rest[1:]
    elif name in _COMMANDS:
        mode, value_opts = _COMMANDS[name]
    else:
        return cwd
    opts, operands = _operands(rest, value_opts)
    if mode in ("search", "sed"):
        given = any(o in ("-e", "-f", "--regexp", "--file", "--expression") or o.startswith(("--regexp=", "--file=",
                    "--expression=")) for o in opts)
        operands = [o for o in operands if o] if mode == "sed" else operands  # BSD sed: -i ''
        if not given:
            operands = operands[1:]
        in_place = mode == "sed" and any(o == "--in-place" or o.startswith("--in-place=") or
                                         (o.startswith("-") and not o.startswith("--") and "i" in o) for o in opts)
        mode = "write" if in_place else "read"
    if mode == "cp":
        targets = [(operands[:-1], reads), (operands[-1:], writes)]
    else:
        targets = [(operands, writes if mode == "write" else reads)]
    for paths, out in targets:
        for p in paths:
            if p and not _NOT_PLAIN.search(p):
                resolved = _at(cwd, p)
                if resolved:
                    out.append(resolved)
    return cwd


def shell_file_hints(command: str) -> tuple[list[str], list[str]]:
    """(paths read, paths written) visible in a shell command: rm/mv/cp/touch/tee/truncate, ``sed -i``, ``git mv``
    and ``git rm``, ``>``/``>>`` redirections; reads by cat/head/tail/less/nl/wc/ls/grep/rg/``sed -n``. ``cd`` is
    followed. Relative paths stay relative (to the command's working directory). Never raises."""
    if not command or not _WORTH_LEXING.search(command):  # most commands (pytest, npm, ...) name no file we know
        return [], []
    reads, writes = _shell_file_hints(command)
    return list(reads), list(writes)


@functools.lru_cache(maxsize=1024)
def _shell_file_hints(command: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    text = _HEREDOC.sub(lambda m: " " + m.group(3), command.replace("\\\n", " "))  # heredoc bodies are data
    if len(text) > 20_000:  # shlex is slow and such scripts are not "cheap visible cases"
        return (), ()
    lex = shlex.shlex(text, posix=True, punctuation_chars=_OPS)
    lex.whitespace = " \t\r"  # newlines separate commands: they come out as operator tokens
    lex.whitespace_split = True
    lex.commenters = ""
    try:
        tokens = list(lex)
    except ValueError:  # unbalanced quotes
        return (), ()
    reads: list[str] = []
    writes: list[str] = []
    cwd: str | None = ""
    args: list[str] = []
    redirect = ""
    comment = False
    for tok in tokens:
        is_op = bool(tok) and all(c in _OPS for c in tok)
        if comment:
            comment = not (is_op and "\n" in tok)
            if comment:
                continue
        if redirect:
            if redirect in (">", "<") and not is_op and not tok.startswith(("/dev/", "&")) \
                    and not _NOT_PLAIN.search(tok):
                resolved = _at(cwd, tok)
                if resolved:
                    (writes if redirect == ">" else reads).append(resolved)
            redirect = ""
            if not is_op:
                continue
        if is_op:
            if ">" in tok:
                if args and args[-1].isdigit():  # 2>file: the fd is not an argument
                    args.pop()
                redirect = "skip" if tok.endswith("&") else ">"
            elif "<" in tok:
                redirect = "<" if tok == "<" else "skip"  # << heredoc delimiter, <<< here-string
            else:
                if args:
                    cwd = _command(args, cwd, reads, writes)
                args = []
            continue
        if tok.startswith("#") and (not args or tok == "#"):  # a quoted "#x" argument (grep) stays an argument
            comment = True
            continue
        args.append(tok)
    if args:
        _command(args, cwd, reads, writes)
    return tuple(dict.fromkeys(reads)), tuple(dict.fromkeys(writes))


# --- format detection --------------------------------------------------------------------------------------------

def head_lines(path: str | os.PathLike[str], count: int = 8, limit: int = 65536) -> list[bytes]:
    """The first ``count`` complete lines of a file within its first ``limit`` bytes (for ``sniff``); [] for a
    folder or an unreadable file."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit)
    except (IsADirectoryError, PermissionError, FileNotFoundError, NotADirectoryError):
        return []
    lines = data.split(b"\n")
    if len(data) == limit:
        lines = lines[:-1]  # cut short
    return [line for line in lines[:count] if line.strip()]


def is_utf8(data: bytes) -> bool:
    """Whether ``data`` decodes as UTF-8 (a file, or a line of one, that a parser can read as it is)."""
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def is_binary(head: bytes) -> bool:
    return b"\x00" in head[:4096]


def json_objects(lines: list[bytes]) -> list[dict]:
    """The lines that decode to JSON objects."""
    out = []
    for raw in lines:
        try:
            obj = _JSON.decode(raw)
        except ValueError:  # msgspec.DecodeError, or invalid UTF-8 inside a string
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


_JSON = msgspec.json.Decoder()


def find_files(root: Path, match, prune=None) -> list[Path]:
    """Files below ``root`` whose name ``match(name)`` accepts, skipping folders ``prune(name)`` rejects; sorted.
    ``os.scandir`` based: a search of thousands of session files costs their directory entries only."""
    found: list[str] = []
    stack = [str(root)]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        if prune is None or not prune(e.name):
                            stack.append(e.path)
                    elif match(e.name):
                        found.append(e.path)
        except OSError:
            continue
    return [Path(p) for p in sorted(found)]
