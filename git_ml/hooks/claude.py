"""Claude Code hooks: merge our entries into ``.claude/settings.local.json`` (or the shared ``settings.json``).

Each event we use gets one entry calling the capture program, which reads the hook's JSON from stdin and finds
the repository from the event's ``cwd`` (so the command never changes directory and works from a subdirectory or
a worktree)::

    {"matcher": "", "hooks": [{"type": "command", "command": "\\"<ABS>/git-ml-capture\\" session", "timeout": 30}]}

Events: SessionStart, Stop, SubagentStop and SessionEnd. UserPromptSubmit is left out on purpose: its hooks run
before each prompt is handled, so a capture there would add an interpreter start to every prompt, and the
prompt reaches the transcript that Stop / SessionEnd capture anyway.

Matchers: Stop ignores ``matcher``, so ours has none; SessionStart (source), SubagentStop (agent type) and
SessionEnd (reason) filter on one, and ours is ``""`` (every value). The 30 s timeout also lifts SessionEnd's short
default budget.

The rest of the file is left alone: other settings, other hooks and the order of keys are kept, the JSON is
written with the file's indentation (2 spaces when new). Ours is recognised by its command
(``git-ml-capture" session``, with or without quotes). Uninstalling removes only ours and drops the matcher
groups, event lists and ``hooks`` object that removal emptied; a file left as ``{}`` by that (it held nothing
else) is deleted, with ``.claude/`` if that is then empty.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import NamedTuple

from git_ml.errors import GitMlError
from git_ml.fsutil import atomic_write
from git_ml.hooks.git import CAPTURE, find_executable, sh_quote

EVENTS = ("SessionStart", "Stop", "SubagentStop", "SessionEnd")
MATCHER_EVENTS = frozenset({"SessionStart", "SubagentStop", "SessionEnd"})
TIMEOUT = 30
LOCAL_FILE = "settings.local.json"
SHARED_FILE = "settings.json"

_OURS_RE = re.compile(r"""git-ml-capture["']?\s+session(?:\s|$)""")
_INDENT_RE = re.compile(r"\A\s*\{[ \t]*\r?\n([ \t]+)\S")


class ClaudeAction(NamedTuple):
    event: str
    path: Path
    action: str  # installed | already installed | updated | removed | not installed | (exclude note)


class ClaudeStatus(NamedTuple):
    path: Path
    event: str
    state: str  # installed | missing | stale-path | unreadable


# --------------------------------------------------------------------------------------------------------------
# Pure helpers over the decoded settings


def hook_command(capture: Path | str) -> str:
    """The command Claude Code runs: ``"<ABS>/git-ml-capture" session``."""
    return f"{sh_quote(str(capture))} session"


def is_our_command(command: object) -> bool:
    return isinstance(command, str) and _OURS_RE.search(command) is not None


def _entry(event: str, command: str) -> dict:
    group: dict = {}
    if event in MATCHER_EVENTS:
        group["matcher"] = ""
    group["hooks"] = [{"type": "command", "command": command, "timeout": TIMEOUT}]
    return group


def _our_positions(groups: list) -> list[tuple[int, int]]:
    found = []
    for gi, group in enumerate(groups):
        if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
            continue
        for hi, hook in enumerate(group["hooks"]):
            if isinstance(hook, dict) and is_our_command(hook.get("command")):
                found.append((gi, hi))
    return found


def _remove_positions(groups: list, positions: list[tuple[int, int]]) -> None:
    """Remove the hooks at ``positions``; drop a group whose ``hooks`` list this emptied."""
    touched: set[int] = set()
    for gi, hi in sorted(positions, reverse=True):
        del groups[gi]["hooks"][hi]
        touched.add(gi)
    for gi in sorted(touched, reverse=True):
        if not groups[gi]["hooks"]:
            del groups[gi]


def _hooks_object(data: dict, where: str, create: bool) -> dict | None:
    hooks = data.get("hooks")
    if hooks is None:
        if not create:
            return None
        hooks = data["hooks"] = {}
    if not isinstance(hooks, dict):
        raise GitMlError(f'{where}: "hooks" is not a JSON object; fix it by hand first')
    return hooks


def merge_hooks(data: dict, command: str, where: str = "settings") -> list[tuple[str, str]]:
    """Add or update our entry for every event in ``data`` (changed in place). Returns (event, action) pairs."""
    hooks = _hooks_object(data, where, create=True)
    assert hooks is not None
    results = []
    for event in EVENTS:
        groups = hooks.get(event)
        if groups is None:
            groups = hooks[event] = []
        elif not isinstance(groups, list):
            raise GitMlError(f'{where}: "hooks.{event}" is not a JSON list; fix it by hand first')
        found = _our_positions(groups)
        if not found:
            groups.append(_entry(event, command))
            results.append((event, "installed"))
            continue
        gi, hi = found[0]
        entry = groups[gi]["hooks"][hi]
        changed = entry.get("command") != command
        entry["command"] = command
        if len(found) > 1:  # duplicates of ours (hand edits): keep the first
            _remove_positions(groups, found[1:])
            changed = True
        results.append((event, "updated" if changed else "already installed"))
    return results


def remove_hooks(data: dict, where: str = "settings") -> list[tuple[str, str]]:
    """Remove every entry of ours from ``data`` (in place), from any event. Returns (event, "removed") pairs."""
    hooks = _hooks_object(data, where, create=False)
    if hooks is None:
        return []
    results = []
    for event in list(hooks):
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        found = _our_positions(groups)
        if not found:
            continue
        _remove_positions(groups, found)
        if not groups:
            del hooks[event]
        results.append((event, "removed"))
    if results and not hooks:
        del data["hooks"]
    return results


# --------------------------------------------------------------------------------------------------------------
# Files


def settings_path(repo, shared: bool = False) -> Path:
    """``<worktree root>/.claude/settings.local.json``, or ``settings.json`` when ``shared``."""
    from git_ml.repo import workdir

    root = workdir(repo)
    if root is None:
        raise GitMlError("Claude Code hooks need a working tree; this repository is bare")
    return root / ".claude" / (SHARED_FILE if shared else LOCAL_FILE)


def load_json(path: Path) -> tuple[dict, str | None]:
    """The decoded settings (``{}`` when the file is missing or blank) and the raw text (None when missing)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, None
    except (OSError, UnicodeDecodeError) as exc:
        raise GitMlError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not text.strip():
        return {}, text
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GitMlError(
            f"{path} is not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno}); fix it first"
        ) from None
    if not isinstance(data, dict):
        raise GitMlError(f"{path} does not hold a JSON object; fix it first")
    return data, text


def dump_json(data: dict, old_text: str | None) -> str:
    indent: str | int = 2
    if old_text:
        match = _INDENT_RE.match(old_text)
        if match:
            indent = match.group(1)
    return json.dumps(data, indent=indent, ensure_ascii=False) + "\n"


def write_text(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        atomic_write(path, text.encode("utf-8"), mode)
    except OSError as exc:
        raise GitMlError(f"cannot write {path}: {exc.strerror or exc}") from None


def exclude_local_file(repo, path: Path) -> ClaudeAction | None:
    """Make git ignore a local settings file (via ``info/exclude``) when nothing ignores it yet."""
    from git_ml.repo import common_dir, workdir

    root = workdir(repo)
    if root is None:
        return None
    rel = path.relative_to(root).as_posix()
    try:
        if repo.path_is_ignored(rel):
            return None
    except Exception:
        return None
    exclude = common_dir(repo) / "info" / "exclude"
    try:
        exclude.parent.mkdir(parents=True, exist_ok=True)
        old = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
        sep = "" if not old or old.endswith("\n") else "\n"
        with open(exclude, "a", encoding="utf-8") as fh:
            fh.write(f"{sep}/{rel}\n")
    except OSError:
        return None
    return ClaudeAction("git info/exclude", exclude, f"now ignores {rel}")


def install_claude_hooks(repo, shared: bool = False, exec_dir: str | os.PathLike | None = None) -> list[ClaudeAction]:
    """Merge our hooks into the settings file. Idempotent; updates the executable path when it changed."""
    capture = find_executable(CAPTURE, exec_dir)
    path = settings_path(repo, shared)
    data, old_text = load_json(path)
    results = merge_hooks(data, hook_command(capture), where=str(path))
    new_text = dump_json(data, old_text)
    if new_text != old_text:
        write_text(path, new_text)
    actions = [ClaudeAction(event, path, action) for event, action in results]
    if not shared:
        note = exclude_local_file(repo, path)
        if note is not None:
            actions.append(note)
    return actions


def uninstall_claude_hooks(repo, shared: bool = False) -> list[ClaudeAction]:
    """Remove our hooks from the settings file, leaving everything else as it was."""
    path = settings_path(repo, shared)
    data, old_text = load_json(path)
    results = remove_hooks(data, where=str(path))
    if not results:
        return [ClaudeAction(event, path, "not installed") for event in EVENTS]
    if data:
        write_text(path, dump_json(data, old_text))
    else:
        try:
            path.unlink()
            try:
                path.parent.rmdir()
            except OSError:
                pass  # not empty: other files stay
        except OSError as exc:
            raise GitMlError(f"cannot remove {path}: {exc.strerror or exc}") from None
    return [ClaudeAction(event, path, action) for event, action in results]


def has_our_hooks(repo, shared: bool = False) -> bool:
    """Whether the settings file holds any entry of ours (False when missing or unreadable)."""
    try:
        data, _ = load_json(settings_path(repo, shared))
        hooks = data.get("hooks")
    except GitMlError:
        return False
    if not isinstance(hooks, dict):
        return False
    return any(isinstance(groups, list) and _our_positions(groups) for groups in hooks.values())


def claude_hook_status(repo, exec_dir: str | os.PathLike | None = None) -> list[ClaudeStatus]:
    """For the local and the shared settings file, one row per event: installed, missing, stale-path (ours but
    calling another executable than the one ``find_executable`` picks now, or one that is gone) or unreadable."""
    try:
        expected: str | None = hook_command(find_executable(CAPTURE, exec_dir))
    except GitMlError:
        expected = None
    rows: list[ClaudeStatus] = []
    for shared in (False, True):
        path = settings_path(repo, shared)
        try:
            data, _ = load_json(path)
        except GitMlError:
            rows.extend(ClaudeStatus(path, event, "unreadable") for event in EVENTS)
            continue
        hooks = data.get("hooks")
        hooks = hooks if isinstance(hooks, dict) else {}
        for event in EVENTS:
            groups = hooks.get(event)
            found = _our_positions(groups) if isinstance(groups, list) else []
            if not found:
                rows.append(ClaudeStatus(path, event, "missing"))
                continue
            gi, hi = found[0]
            command = groups[gi]["hooks"][hi].get("command")
            if expected is None or command != expected:
                rows.append(ClaudeStatus(path, event, "stale-path"))
            else:
                rows.append(ClaudeStatus(path, event, "installed"))
    return rows
