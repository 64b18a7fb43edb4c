"""Cline tasks (and, through ``roo.py``, Roo Code's, which share the format): one folder per task.

Where: the editor's ``User/globalStorage/<extension id>/tasks/<task id>/`` (``saoudrizwan.claude-dev`` for Cline,
``rooveterinaryinc.roo-cline`` for Roo) of VS Code, Insiders, VSCodium, Cursor or Windsurf, under ``~/.config``
(Linux) or ``~/Library/Application Support`` (macOS); Cline's CLI and JetBrains hosts use
``$CLINE_DATA_DIR`` / ``$CLINE_DIR/data`` / ``~/.cline/data`` ``/tasks/<id>/``. Task ids: epoch ms (Cline), UUIDs
(Roo). The task's metadata (``HistoryItem``) is in ``<ext>/state/taskHistory.json`` (Cline) or the task's
``history_item.json`` / ``tasks/_index.json`` (Roo): ``cwdOnTaskInitialization`` / ``workspace`` is the project,
``modelId`` the model, ``parentTaskId`` / ``childIds`` link Roo sub-tasks.

``api_conversation_history.json`` is what the model saw: Anthropic messages (``role``, ``content`` blocks, ``ts`` ms)
plus Cline's ``modelInfo{modelId}`` and ``metrics{tokens{prompt (cached included), completion, cached}}`` or Roo's
``isSummary``/``condenseParent`` (non-destructive condensing). ``ui_messages.json`` is what the person saw:
``say: api_req_started`` carries each request's tokens (JSON text: ``tokensIn``, ``tokensOut``, ``cacheReads``,
``cacheWrites``), ``say: task`` / ``user_feedback`` the raw typed prompts.

A prompt is the person's text inside the wrappers the extension puts around it in a user message — ``<task>``
(first prompt, Cline), ``<user_message>`` (Roo, and resumed tasks), ``<feedback>`` (after a completion or a denied
tool), ``<answer>`` (to a follow-up question) — with its images. Everything else in user messages is not: tool
results (``[tool for 'path'] Result:`` text or ``tool_result`` blocks), ``<environment_details>`` (injected
context: open tabs, file lists, the working directory), task-resumption notices, condense summaries
(``isSummary``, ``## Conversation Summary``). Chat ids are ``<task id>:<ts of that message>``.

Tools are XML in the assistant's text in classic Cline (``<write_to_file><path>…``) and ``tool_use`` blocks in
newer builds and Roo; both are read. ``write_to_file``, ``replace_in_file``, ``apply_diff``, ``insert_content``,
``search_and_replace``, ``search_replace``, ``edit``, ``edit_file``, ``apply_patch`` modify their ``path`` /
``file_path`` (relative to the workspace, sometimes absolute); ``read_file``, ``list_files``, ``search_files``,
``list_code_definition_names`` read; ``execute_command`` runs ``command`` (in ``cwd``). A call the user denied or
that failed changed nothing. Tokens come from ``api_req_started`` (each request to the chat it belongs to), else
from Cline's per-message ``metrics``. Roo's ``new_task`` runs a sub-task in its own folder (``parentTaskId``): its
work is merged into the chat that started it; parsed alone while its parent is present, it yields nothing.
Cline's SDK session folders (``~/.cline/data/sessions/<id>/``, since mid-2026) are read by ``cline_sdk.py``.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from git_ml.capture.transcripts import cline_sdk
from git_ml.capture.transcripts.base import Exchange, ParseResult, session_of
from git_ml.capture.transcripts.tooluse import (
    JSON,
    MODIFY,
    READ,
    SHELL,
    apply_tool,
    editor_storage,
    head_bytes,
    iso_ms,
    load_json,
    paused_gc,
)

ASSISTANT = "cline"
NAME = "cline"
EXTENSION = "saoudrizwan.claude-dev"
ROO_EXTENSION = "rooveterinaryinc.roo-cline"
API = "api_conversation_history.json"
UI = "ui_messages.json"

TOOLS = {name: MODIFY for name in ("write_to_file", "replace_in_file", "apply_diff", "insert_content",
                                   "search_and_replace", "search_replace", "edit", "edit_file", "apply_patch")}
TOOLS.update({name: READ for name in ("read_file", "list_files", "search_files", "list_code_definition_names")})
TOOLS.update({"execute_command": SHELL})
_XML_TOOLS = (*TOOLS, "browser_action", "use_mcp_tool", "access_mcp_resource", "ask_followup_question",
              "attempt_completion", "new_task", "plan_mode_respond", "act_mode_respond", "load_mcp_documentation",
              "web_fetch", "condense", "summarize_task", "report_bug", "new_rule", "switch_mode", "update_todo_list",
              "codebase_search", "fetch_instructions", "use_subagents", "focus_chain")
_XML_TOOL = re.compile(r"<(%s)>(.*?)(?:</\1>|\Z)" % "|".join(_XML_TOOLS), re.S)
_XML_ARG = re.compile(r"<(path|file_path|command|cwd|result|message|diff|content|input)>\n?(.*?)\n?</\1>", re.S)
_THINKING = re.compile(r"<thinking>.*?(?:</thinking>|\Z)", re.S)
_WRAPPED = re.compile(r"<(task|user_message|feedback|answer)>\n?(.*?)\n?</\1>", re.S)
_PROMPT_STARTS = ("<task>", "<user_message>", "<feedback>", "<answer>", "The user has provided feedback",
                  "The user denied this operation and provided the following feedback", "[TASK RESUMPTION]")
_DENIED = "The user denied this operation"
_FEEDBACK = "the following feedback:"
_RESULT_HEADER = re.compile(r"\[(\w+)(?: for '.*')?\] Result:\s*$", re.S)
_DATA_TOOLS = frozenset({"read_file", "search_files", "list_files", "list_code_definition_names", "execute_command",
                         "use_mcp_tool", "access_mcp_resource", "web_fetch", "browser_action", "codebase_search",
                         "fetch_instructions", "load_mcp_documentation"})
_CWD = re.compile(r"# Current (?:Working|Workspace) Directory \((.+?)\) Files")
_MODEL = re.compile(r"<model>(.*?)</model>")


def _load_list(path: Path) -> tuple[list, int]:
    """A JSON array file: (its dict items, malformed count); a missing file is an empty list."""
    try:
        data = load_json(path)
    except FileNotFoundError:
        return [], 0
    except ValueError:  # msgspec.DecodeError, or invalid UTF-8
        return [], 1
    if not isinstance(data, list):
        return [], 1
    items = [x for x in data if isinstance(x, dict)]
    return items, len(data) - len(items)


@functools.lru_cache(maxsize=8)
def _history(path: str, mtime_ns: int) -> dict[str, dict]:
    """task id -> HistoryItem of a ``taskHistory.json`` or ``_index.json`` (cached per modification time)."""
    try:
        data = load_json(path)
    except (OSError, ValueError):  # ValueError: not JSON, or not UTF-8
        return {}
    entries = data.get("entries") if isinstance(data, dict) else data
    return {e["id"]: e for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)} \
        if isinstance(entries, list) else {}


def history_item(folder: Path) -> dict:
    """The task's HistoryItem: ``history_item.json`` (Roo), else the extension's index (``state/taskHistory.json``
    for Cline, ``tasks/_index.json`` for Roo); {} when none names it."""
    try:
        own = load_json(folder / "history_item.json")
        if isinstance(own, dict):
            return own
    except (OSError, ValueError):  # ValueError: not JSON, or not UTF-8
        pass
    for index in (folder.parent.parent / "state" / "taskHistory.json", folder.parent / "_index.json"):
        try:
            mtime = index.stat().st_mtime_ns
        except OSError:
            continue
        item = _history(str(index), mtime).get(folder.name)
        if item:
            return item
    return {}


def _texts(content: object) -> Iterable[str]:
    """The text of a message's blocks, tool results' text included."""
    if isinstance(content, str):
        yield content
        return
    for b in content if isinstance(content, list) else ():
        if not isinstance(b, dict):
            continue
        if b.get("type") == "text" and isinstance(b.get("text"), str):
            yield b["text"]
        elif b.get("type") == "tool_result":
            yield from _texts(b.get("content"))


def _typed(text: str, output: bool) -> list[str]:
    """The wrapped prompts in one text: a block that starts with a wrapper or a feedback notice, or, inside a
    tool's output (file contents, command output: ``output``), only feedback the extension appended to it."""
    if output:
        if _FEEDBACK not in text:
            return []
        text = text[text.index(_FEEDBACK):]
    elif not text.lstrip().startswith(_PROMPT_STARTS):
        return []
    return [m.group(2).strip() for m in _WRAPPED.finditer(text)]


def _prompt(content: object, tools: Mapping[str, str]) -> str | None:
    """The typed text of a user message (inside its wrappers), None when it holds none. ``tools``: tool call id ->
    name, to tell the output of a tool that returns data (a file read, a command) from a reply."""
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    found: list[str] = []
    output = False  # the previous block was the header of a data tool's result: this block is that data
    for b in blocks if isinstance(blocks, list) else ():
        if not isinstance(b, dict):
            continue
        if b.get("type") == "text" and isinstance(b.get("text"), str):
            found += _typed(b["text"], output)
            header = _RESULT_HEADER.match(b["text"])
            output = header is not None and header.group(1) in _DATA_TOOLS
        elif b.get("type") == "tool_result":
            data = tools.get(b.get("tool_use_id")) in _DATA_TOOLS  # type: ignore[arg-type]
            for text in _texts(b.get("content")):
                found += _typed(text, data)
            output = False
    images = isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "image" for b in content)
    typed = "\n\n".join(t for t in found if t)
    if typed or (found and images):
        return typed
    return None


def _environment(api: list[dict]) -> tuple[str | None, str | None]:
    """(cwd, model) named by the first ``<environment_details>`` of the history."""
    for msg in api:
        for text in _texts(msg.get("content")) if msg.get("role") == "user" else ():
            if "<environment_details>" in text:
                cwd, model = _CWD.search(text), _MODEL.search(text)
                return (cwd.group(1) if cwd else None), (model.group(1) if model else None)
    return None, None


class _Task:
    def __init__(self, folder: Path, repo_root: str | None) -> None:
        self.folder = folder
        self.repo_root = repo_root
        self.item = history_item(folder)
        self.api, bad_api = _load_list(folder / API)
        self.ui, bad_ui = _load_list(folder / UI)
        self.malformed = bad_api + bad_ui
        self.skipped = 0
        env_cwd, self.env_model = _environment(self.api)
        cwd = self.item.get("cwdOnTaskInitialization") or self.item.get("workspace")
        self.cwd: str | None = cwd if isinstance(cwd, str) and cwd else env_cwd
        model = self.item.get("modelId")
        self.model: str | None = model if isinstance(model, str) and model else None
        self.chats: list[Exchange] = []
        self.times: list[int] = []  # ts (ms) of each chat's prompt message, 0 when unknown
        self.ends: list[int] = []  # the last ts (ms) of each chat
        self.first_ts: int | None = None
        self.last_ts: int | None = None

    def _seen(self, ts: object) -> int | None:
        if not isinstance(ts, int) or isinstance(ts, bool):
            return None
        if self.first_ts is None or ts < self.first_ts:
            self.first_ts = ts
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts
        return ts

    def read(self) -> None:
        tid = self.folder.name
        failed = self._failed()
        tools = self._tool_names()
        model = self.env_model or self.model
        for i, msg in enumerate(self.api):
            raw_ts = self._seen(msg.get("ts"))
            content = msg.get("content")
            if msg.get("role") == "user":
                found = _MODEL.search(next((t for t in _texts(content) if "<environment_details>" in t), ""))
                model = found.group(1) if found else model
                query = None if msg.get("isSummary") else _prompt(content, tools)
                if query is None:
                    self._end(-1, raw_ts)
                    if msg.get("isSummary") or not content:
                        self.skipped += 1
                    continue
                key = str(raw_ts) if raw_ts else str(i)
                cur = Exchange(f"{tid}:{key}", tid, iso_ms(raw_ts) or "", query, key, self.cwd, None,
                               self.repo_root)
                cur.model = model
                cur.images = sum(1 for b in content if isinstance(b, dict) and b.get("type") == "image") \
                    if isinstance(content, list) else 0
                self.chats.append(cur)
                self.times.append(raw_ts or 0)
                self.ends.append(raw_ts or 0)
                continue
            if msg.get("role") != "assistant" or not self.chats:
                self.skipped += 1
                continue
            cur = self.chats[-1]
            self._end(-1, raw_ts)
            info = msg.get("modelInfo") if isinstance(msg.get("modelInfo"), dict) else {}
            if isinstance(info.get("modelId"), str):
                model = cur.model = info["modelId"]
            denied = i + 1 < len(self.api) and any(_DENIED in t for t in _texts(self.api[i + 1].get("content")))
            self._assistant(cur, content, failed, denied, f"{i}")
            metrics = msg.get("metrics") if isinstance(msg.get("metrics"), dict) else {}
            tokens = metrics.get("tokens") if isinstance(metrics.get("tokens"), dict) else None
            if tokens:
                prompt, out, cached = (tokens.get(k) if isinstance(tokens.get(k), int) else 0
                                       for k in ("prompt", "completion", "cached"))
                cur.add_usage(f"{self.folder.name}:metrics:{i}", [max(0, prompt - cached), out, cached, 0])
        self.model = model
        self._ui_tokens()
        for ex, end in zip(self.chats, self.ends):
            ex.seen(iso_ms(end))

    def _end(self, k: int, ts: int | None) -> None:
        """Chat ``k`` was active at ``ts`` (ms)."""
        if ts and self.ends and ts > self.ends[k]:
            self.ends[k] = ts

    def _assistant(self, cur: Exchange, content: object, failed: set[str], denied: bool, key: str) -> None:
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for n, b in enumerate(blocks if isinstance(blocks, list) else ()):
            if not isinstance(b, dict):
                continue
            if b.get("type") == "tool_use":
                name = b.get("name") if isinstance(b.get("name"), str) else "unknown"
                args = b.get("input") if isinstance(b.get("input"), dict) else {}
                tid = b.get("id") if isinstance(b.get("id"), str) else None
                apply_tool(cur, name, args, TOOLS, tid, self.cwd, failed=tid in failed)
                if name == "attempt_completion" and isinstance(args.get("result"), str):
                    cur.texts.append(args["result"])
            elif b.get("type") == "text" and isinstance(b.get("text"), str):
                text = _THINKING.sub("", b["text"])
                for m in _XML_TOOL.finditer(text):
                    args = {a.group(1): a.group(2) for a in _XML_ARG.finditer(m.group(2))}
                    apply_tool(cur, m.group(1), args, TOOLS, f"{key}.{n}.{m.start()}", self.cwd, failed=denied)
                    if m.group(1) == "attempt_completion" and args.get("result"):
                        cur.texts.append(args["result"].strip())
                rest = _XML_TOOL.sub("", text).strip()
                if rest:
                    cur.texts.append(rest)

    def _tool_names(self) -> dict[str, str]:
        """Native tool call id -> tool name."""
        out = {}
        for msg in self.api:
            if msg.get("role") == "assistant" and isinstance(msg.get("content"), list):
                for b in msg["content"]:
                    if isinstance(b, dict) and b.get("type") == "tool_use" and isinstance(b.get("id"), str):
                        out[b["id"]] = b.get("name")
        return out

    def _failed(self) -> set[str]:
        out = set()
        for msg in self.api:
            for b in msg.get("content") if isinstance(msg.get("content"), list) else ():
                if isinstance(b, dict) and b.get("type") == "tool_result" and isinstance(b.get("tool_use_id"), str):
                    if b.get("is_error") or any(t.lstrip().startswith(_DENIED) for t in _texts(b.get("content"))):
                        out.add(b["tool_use_id"])
        return out

    def _ui_tokens(self) -> None:
        """Each ``api_req_started`` to its chat: by order of prompts when the ui and the history agree on their
        number, else by time."""
        if not self.chats:
            return
        prompts = {i for i, m in enumerate(self.ui) if m.get("say") in ("task", "user_feedback")
                   or (i == 0 and m.get("say") == "text")}
        by_order = len(prompts) == len(self.chats)
        times = list(itertools.accumulate(self.times, max))  # chats without a ts keep the time before them
        requests = 0
        ordinal = -1
        for i, m in enumerate(self.ui):
            self._seen(m.get("ts"))
            if i in prompts:
                ordinal += 1
            if m.get("say") != "api_req_started" or not isinstance(m.get("text"), str):
                continue
            try:
                req = JSON.decode(m["text"])
            except ValueError:  # msgspec.DecodeError, or invalid UTF-8
                self.malformed += 1
                continue
            if not isinstance(req, dict):
                continue
            if by_order:
                k = max(0, ordinal)
            else:
                ts = m.get("ts") if isinstance(m.get("ts"), int) else 0
                k = max(0, bisect.bisect_right(times, ts) - 1)
            if requests == 0:  # the ui has the tokens: the history's metrics would count them twice
                for ex in self.chats:
                    ex.usage.clear()
            requests += 1
            values = [req.get(f) if isinstance(req.get(f), int) else 0
                      for f in ("tokensIn", "tokensOut", "cacheReads", "cacheWrites")]
            self.chats[k].add_usage(f"{self.folder.name}:ui:{i}", values)
            self._end(k, m.get("ts") if isinstance(m.get("ts"), int) else None)


def _children(folder: Path, item: dict) -> list[Path]:
    ids = item.get("childIds") if isinstance(item.get("childIds"), list) else []
    return [folder.parent / c for c in ids if isinstance(c, str) and (folder.parent / c).is_dir()]


def _parent_present(folder: Path, item: dict) -> bool:
    parent = item.get("parentTaskId")
    return isinstance(parent, str) and (folder.parent / parent).is_dir()


def _spawner(chats: list[Exchange], child: _Task) -> Exchange | None:
    """The chat whose ``new_task`` started a sub-task: the last one begun before the sub-task's first message."""
    start = iso_ms(child.first_ts)
    before = [ex for ex in chats if start and ex.timestamp and ex.timestamp <= start]
    return before[-1] if before else (chats[-1] if chats else None)


def task_folder(path: str | os.PathLike[str]) -> Path:
    """A task folder from itself or its conversation files."""
    path = Path(path)
    return path.parent if path.name in (API, UI) and path.is_file() else path


def parse_task(path: str | os.PathLike[str], repo_root: str | None = None, assistant: str = ASSISTANT, *,
               subtasks: bool = True) -> ParseResult:
    """Parse one task folder (or a file in it). Raises only OSError."""
    folder = task_folder(path)
    if not (folder / API).is_file() and not (folder / UI).is_file():
        raise FileNotFoundError(f"{folder}: no {API} or {UI}")
    task = _Task(folder, repo_root)
    if subtasks and _parent_present(folder, task.item):
        return ParseResult(skipped=1)  # a sub-task: merged into the parent's chat
    task.read()
    malformed, skipped = task.malformed, task.skipped
    children = _children(folder, task.item) if subtasks else []
    for child_folder in children:
        child = _Task(child_folder, repo_root)
        child.read()
        malformed += child.malformed
        target = _spawner(task.chats, child)
        for ex in child.chats if target is not None else ():
            target.merge(ex)
    out = [ex.to_chat(assistant) for ex in task.chats]
    session = session_of(out, id=folder.name, assistant=assistant, started_at=iso_ms(task.first_ts),
                         ended_at=iso_ms(task.last_ts), model=task.model, cwd=task.cwd, transcript_path=str(folder))
    return ParseResult(chats=out, sessions=[session], malformed=malformed, skipped=skipped, dependencies=children)


def flavour(path: str | os.PathLike[str]) -> str | None:
    """"cline" or "roo" for a task folder (or a file in it), None when it is not one: by the extension folder it
    sits in, else by Roo's own files and wrappers."""
    folder = task_folder(path)
    api, ui = folder / API, folder / UI
    if not api.is_file() and not ui.is_file():
        return None
    text = str(folder.absolute())
    if ROO_EXTENSION in text:
        return "roo"
    if EXTENSION in text or f"{os.sep}.cline{os.sep}" in text:
        return "cline"
    if (folder / "history_item.json").is_file():
        return "roo"
    head = head_bytes(ui, 4096) + head_bytes(api, 4096)
    if b'"say": "task"' in head or b'"say":"task"' in head or b"<task>" in head:
        return "cline"
    if b"<user_message>" in head or b"Current Workspace Directory" in head:
        return "roo"
    return "cline" if head.lstrip().startswith(b"[") else None


def task_candidates(location: Path) -> list[Path]:
    """Task folders at or below ``location`` (a task folder, ``tasks/`` or the extension folder), without the
    sub-tasks whose parent is present."""
    if (location / API).is_file() or (location / UI).is_file():
        return [location]
    tasks = location / "tasks" if (location / "tasks").is_dir() else location
    try:
        folders = sorted(p for p in tasks.iterdir() if (p / API).is_file() or (p / UI).is_file())
    except OSError:
        return []
    return [p for p in folders if not _parent_present(p, history_item(p))]


def task_project(path: str | os.PathLike[str]) -> str | None:
    folder = task_folder(path)
    item = history_item(folder)
    cwd = item.get("cwdOnTaskInitialization") or item.get("workspace")
    if isinstance(cwd, str) and cwd:
        return cwd
    m = _CWD.search(head_bytes(folder / API).decode("utf-8", "replace"))
    return m.group(1) if m else None


# --- registry contract (registry.py) -----------------------------------------------------------------------------

def parse(path: str | os.PathLike[str], repo_root: str | None = None, **kw: Any) -> ParseResult:
    if cline_sdk.sniff(path):
        return cline_sdk.parse(path, repo_root, **kw)
    with paused_gc():
        return parse_task(path, repo_root, ASSISTANT, **kw)


def sniff(path: str | os.PathLike[str]) -> bool:
    """A Cline task folder (or a file in one), or an SDK session folder (or its manifest or messages file)."""
    return flavour(path) == "cline" or cline_sdk.sniff(path)


def locations(home: Path, env: Mapping[str, str]) -> list[Path]:
    return [*(d / EXTENSION / "tasks" for d in editor_storage(home, env)), cline_sdk.data_dir(home, env) / "tasks",
            *cline_sdk.locations(home, env)]


def candidates(location: Path) -> list[Path]:
    return task_candidates(location) or cline_sdk.candidates(location)


def project_of(path: str | os.PathLike[str]) -> str | None:
    return cline_sdk.project_of(path) if cline_sdk.sniff(path) else task_project(path)
