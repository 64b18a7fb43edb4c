"""Every assistant git-ml reads, by its ``--from`` name, and the contract each parser module keeps.

A parser module (``git_ml/capture/transcripts/<module>.py``) exposes:

- ``ASSISTANT: str`` — the name stored in ``Chat.assistant`` / ``Session.assistant`` (e.g. ``"gemini-cli"``);
- ``NAME: str`` — the ``--from`` name (e.g. ``"gemini"``);
- ``parse(path, repo_root=None, **kw) -> ParseResult`` — chats and sessions of one unit (a file, a task folder or a
  database); pure (no store, no git, no redaction); raises only ``OSError``; malformed lines or rows are counted in
  ``malformed``, never raised. Paths go through ``paths.ProjectPaths`` (the one path rule). Every session's ``cwd``
  is the project directory it recorded (the importer keeps only this repository's sessions by it);
- ``sniff(path) -> bool`` — a cheap content check: is this file, folder or database this format? (read a few KB);
- ``locations(home: Path, env: Mapping[str, str]) -> list[Path]`` — where the assistant keeps its transcripts by
  default (files, folders or databases; missing ones are fine, they are skipped).

Optional:

- ``candidates(location: Path) -> Iterable[Path]`` — the units inside a folder (default: every file below it that
  ``sniff`` accepts). Sub-agent files that belong to a parent session must not be listed;
- ``project_of(path) -> str | None`` — the project directory a unit recorded, read cheaply (a header line), so a
  search of the default locations parses only this repository's sessions (default: parse and read the sessions'
  ``cwd``). Units holding several projects (databases) return None and are filtered after parsing;
- ``project_locations(root: Path) -> list[Path]`` — places inside a checkout (Aider writes its history there);
- ``read_with(path) -> Path | None`` — for a file that is part of another unit (a sub-agent's file), the unit it is
  read with (which may be missing), so that naming the part alone gets a useful error; None for anything else;
- ``from_hook(event, home, env) -> (session id, transcript path, project directory, ended)`` — for assistants whose
  hooks call ``git-ml-capture session --from NAME`` (``capture/live.py``); ``parse`` then also receives
  ``only={session id}`` (a database may use it to read that conversation only).

Module names: the ``module`` column below (``continue`` is a Python keyword: its module is ``continuedev.py``).

The order of ``ASSISTANTS`` is the order ``--from auto`` tries ``sniff`` in: the more specific formats first.
``hooks`` names the ``install-hooks`` option giving live capture, None when the assistant is read on import only
(and by the post-commit capture's incremental import). A module listed here that this version does not ship is
reported as unavailable, never half-used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from git_ml.errors import GitMlError


@dataclass(frozen=True)
class Assistant:
    name: str  # --from NAME
    module: str  # module under git_ml.capture.transcripts
    label: str  # for people
    hooks: str | None = None  # install-hooks option giving live capture


ASSISTANTS: tuple[Assistant, ...] = (
    Assistant("claude", "claude", "Claude Code", "--claude"),
    Assistant("codex", "codex", "Codex CLI"),
    Assistant("gemini", "gemini", "Gemini CLI", "--gemini"),
    Assistant("copilot", "copilot", "GitHub Copilot CLI", "--copilot"),
    Assistant("cursor", "cursor", "Cursor", "--cursor"),
    Assistant("opencode", "opencode", "OpenCode"),
    Assistant("amp", "amp", "Amp"),
    Assistant("cline", "cline", "Cline"),
    Assistant("roo", "roo", "Roo Code"),
    Assistant("windsurf", "windsurf", "Windsurf"),
    Assistant("continue", "continuedev", "Continue"),
    Assistant("droid", "droid", "Factory Droid"),
    Assistant("aider", "aider", "Aider"),
)
NAMES: tuple[str, ...] = tuple(a.name for a in ASSISTANTS)
_BY_NAME = {a.name: a for a in ASSISTANTS}
_PACKAGE = "git_ml.capture.transcripts"


def info(name: str) -> Assistant:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise GitMlError(f"--from must be one of {', '.join(NAMES)}, auto (not {name!r})") from None


def load(name: str) -> ModuleType | None:
    """The parser module of ``name``; None when this version does not ship it."""
    a = info(name)
    try:
        return importlib.import_module(f"{_PACKAGE}.{a.module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{_PACKAGE}.{a.module}":
            return None
        raise


def require(name: str) -> ModuleType:
    module = load(name)
    if module is None:
        raise GitMlError(f"this version of git-ml cannot read {info(name).label} transcripts yet")
    return module


def available() -> list[ModuleType]:
    """Parser modules shipped, in sniffing order."""
    return [m for m in (load(a.name) for a in ASSISTANTS) if m is not None]


def detect(path: Path) -> ModuleType | None:
    """The first parser whose ``sniff`` accepts ``path`` (``--from auto``)."""
    for module in available():
        try:
            if module.sniff(path):
                return module
        except OSError:
            return None
    return None


def read_with(modules: list[ModuleType], path: Path) -> tuple[ModuleType, Path] | None:
    """(module, the unit it reads ``path`` with) when ``path`` is a part of another unit of one of ``modules``."""
    for module in modules:
        own = getattr(module, "read_with", None)
        try:
            unit = own(path) if own is not None else None
        except OSError:
            unit = None
        if unit is not None:
            return module, unit
    return None


def candidates(module: ModuleType, location: Path) -> list[Path]:
    """The units (files, task folders, databases) of ``module``'s format at ``location``."""
    if location.is_file():
        return [location]
    if not location.is_dir():
        return []
    own = getattr(module, "candidates", None)
    if own is not None:
        return list(own(location))
    found = []
    for p in sorted(location.rglob("*")):
        try:
            if p.is_file() and module.sniff(p):
                found.append(p)
        except OSError:
            continue
    return found
