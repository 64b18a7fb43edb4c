"""Hooks of Gemini CLI, Cursor and GitHub Copilot CLI: merge our entries into the project's hook file.

| assistant | file | events | entry |
|---|---|---|---|
| Gemini CLI | ``.gemini/settings.json`` | AfterAgent (each turn), SessionEnd | ``{"matcher": "*", "hooks": [{"name": "git-ml-capture", "type": "command", "command": ..., "timeout": 10000}]}`` |
| Cursor | ``.cursor/hooks.json`` | stop, afterFileEdit | ``{"command": ...}`` under ``{"version": 1, "hooks": {...}}`` |
| Copilot CLI | ``.github/hooks/git-ml.json`` (ours alone) | agentStop, sessionEnd | ``{"type": "command", "bash": ..., "timeoutSec": 30}`` |

The command is ``"<ABS>/git-ml-capture" session --from NAME``: it reads the event on stdin, answers ``{}`` (Gemini
CLI and Cursor read the hook's stdout as JSON), forks the capture off and exits 0 at once, so the assistant never
waits for it and is never blocked (exit 2 would block; we never use it). None of these assistants has a local,
uncommitted variant of its project file, so ``install`` keeps the file out of git through ``.git/info/exclude`` when
git-ml created it, unless ``shared`` (the team commits it). Everything else in the file is kept; ``uninstall``
removes only our entries (and the file when nothing else is left in it). Recognised by the command
(``git-ml-capture" session --from NAME``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from git_ml.errors import GitMlError
from git_ml.hooks.claude import dump_json, exclude_local_file, load_json, write_text
from git_ml.hooks.git import CAPTURE, find_executable, sh_quote


class Spec(NamedTuple):
    label: str
    path: tuple[str, ...]
    events: tuple[str, ...]
    grouped: bool  # Claude-style matcher groups (Gemini) or flat entries (Cursor, Copilot)
    key: str  # where the command goes in an entry
    extra: dict
    top: dict  # keys the file needs besides "hooks"


SPECS: dict[str, Spec] = {
    "gemini": Spec("Gemini CLI", (".gemini", "settings.json"), ("AfterAgent", "SessionEnd"), True, "command",
                   {"name": "git-ml-capture", "type": "command", "timeout": 10000}, {}),
    "cursor": Spec("Cursor", (".cursor", "hooks.json"), ("stop", "afterFileEdit"), False, "command", {},
                   {"version": 1}),
    "copilot": Spec("Copilot CLI", (".github", "hooks", "git-ml.json"), ("agentStop", "sessionEnd"), False, "bash",
                    {"type": "command", "timeoutSec": 30}, {"version": 1}),
}


class Action(NamedTuple):
    event: str
    path: Path
    action: str


def hook_file(repo, name: str) -> Path:
    from git_ml.repo import workdir

    root = workdir(repo)
    if root is None:
        raise GitMlError(f"{SPECS[name].label} hooks need a working tree; this repository is bare")
    return root.joinpath(*SPECS[name].path)


def command(capture: Path | str, name: str) -> str:
    return f"{sh_quote(str(capture))} session --from {name}"


def _ours(name: str):
    pattern = re.compile(r"""git-ml-capture["']?\s+session\s+--from\s+%s(?:\s|$)""" % re.escape(name))
    return lambda value: isinstance(value, str) and pattern.search(value) is not None


def _entries(spec: Spec, groups: list, is_ours) -> list[tuple[list, int]]:
    """(list holding it, index) of each entry of ours under one event."""
    found = []
    if spec.grouped:
        for group in groups:
            if isinstance(group, dict) and isinstance(group.get("hooks"), list):
                found += [(group["hooks"], i) for i, h in enumerate(group["hooks"])
                          if isinstance(h, dict) and is_ours(h.get(spec.key))]
    else:
        found = [(groups, i) for i, h in enumerate(groups) if isinstance(h, dict) and is_ours(h.get(spec.key))]
    return found


def _new_entry(spec: Spec, cmd: str) -> dict:
    entry = {**spec.extra, spec.key: cmd}
    return {"matcher": "*", "hooks": [entry]} if spec.grouped else entry


def install(repo, name: str, shared: bool = False, exec_dir=None) -> list[Action]:
    spec = SPECS[name]
    cmd = command(find_executable(CAPTURE, exec_dir), name)
    path = hook_file(repo, name)
    data, old_text = load_json(path)
    for k, v in spec.top.items():
        data.setdefault(k, v)
    hooks = data.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise GitMlError(f'{path}: "hooks" is not a JSON object; fix it by hand first')
    is_ours = _ours(name)
    actions = []
    for event in spec.events:
        groups = hooks.setdefault(event, [])
        if not isinstance(groups, list):
            raise GitMlError(f'{path}: "hooks.{event}" is not a JSON list; fix it by hand first')
        found = _entries(spec, groups, is_ours)
        if not found:
            groups.append(_new_entry(spec, cmd))
            actions.append(Action(event, path, "installed"))
            continue
        holder, i = found[0]
        changed = holder[i].get(spec.key) != cmd
        holder[i][spec.key] = cmd
        actions.append(Action(event, path, "updated" if changed else "already installed"))
    new_text = dump_json(data, old_text)
    if new_text != old_text:
        write_text(path, new_text)
    if not shared and old_text is None:  # a file we created: keep it out of the team's commits
        note = exclude_local_file(repo, path)
        if note is not None:
            actions.append(Action(note.event, note.path, note.action))
    return actions


def uninstall(repo, name: str) -> list[Action]:
    spec = SPECS[name]
    path = hook_file(repo, name)
    data, old_text = load_json(path)
    hooks = data.get("hooks")
    if not isinstance(hooks, dict):
        return [Action(event, path, "not installed") for event in spec.events]
    is_ours = _ours(name)
    actions = []
    for event in list(hooks):
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        found = _entries(spec, groups, is_ours)
        if not found:
            continue
        for holder, i in sorted(found, key=lambda f: f[1], reverse=True):
            del holder[i]
        if spec.grouped:
            groups[:] = [g for g in groups if not (isinstance(g, dict) and g.get("hooks") == [])]
        if not groups:
            del hooks[event]
        actions.append(Action(event, path, "removed"))
    if not actions:
        return [Action(event, path, "not installed") for event in spec.events]
    if not hooks:
        del data["hooks"]
    if not data or data == spec.top:
        try:
            path.unlink()
            for parent in path.parents:  # folders we may have created, when now empty
                if parent == Path(repo.workdir).resolve() or parent.name not in (".gemini", ".cursor", "hooks",
                                                                                  ".github"):
                    break
                parent.rmdir()
        except OSError:
            pass
    else:
        write_text(path, dump_json(data, old_text))
    return actions


def installed(repo, name: str) -> bool:
    """Whether the project's hook file holds an entry of ours (False when missing or unreadable)."""
    try:
        data, _ = load_json(hook_file(repo, name))
    except GitMlError:
        return False
    hooks = data.get("hooks")
    if not isinstance(hooks, dict):
        return False
    spec, is_ours = SPECS[name], _ours(name)
    return any(isinstance(g, list) and _entries(spec, g, is_ours) for g in hooks.values())
