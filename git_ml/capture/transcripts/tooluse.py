"""Helpers shared by the parsers of OpenCode, Amp, Cline/Roo, Windsurf, Continue and Droid: tool tables (which
tool names modify or read which argument), millisecond times, ``file://`` URIs and guarded JSON loading.

A tool table maps a tool name to what it does with its arguments: ``MODIFY`` (the path arguments are files the
tool changed), ``READ`` (files or folders it looked at), ``SHELL`` (a command line, mined with
``Exchange.add_shell``). Any string argument holding an ``*** Begin Patch`` envelope names the files it changes,
whatever the tool is called.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import gc
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

import msgspec

from git_ml.capture.transcripts.base import Exchange, patch_files

MODIFY = "modify"
READ = "read"
SHELL = "shell"

# Argument names that hold one path, across the assistants (camelCase for OpenCode, snake_case elsewhere).
PATH_KEYS = ("file_path", "filePath", "filepath", "path", "notebook_path", "absolute_path", "absolute_path_uri",
             "target_file")
_LIST_KEYS = ("edits", "files", "paths")
_SHELL_KEYS = ("command", "cmd", "command_line", "commandLine")
_CWD_KEYS = ("cwd", "workdir", "working_directory")

JSON = msgspec.json.Decoder()
_EPOCH = _dt.datetime(1970, 1, 1)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


def iso_ms(value: object) -> str | None:
    """An epoch-milliseconds number (or numeric string) as ISO-8601 UTC with milliseconds, ``...T10:00:08.000Z``:
    the spelling the JSONL assistants use, so that string order is time order across parsers."""
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return _iso_ms(int(value))


@functools.lru_cache(maxsize=4096)
def _iso_ms(value: int) -> str | None:
    try:
        return (_EPOCH + _dt.timedelta(milliseconds=value)).isoformat(timespec="milliseconds") + "Z"
    except OverflowError:
        return None


def iso_mtime(path: str | os.PathLike[str]) -> str | None:
    """A file's modification time in the same spelling, for formats that record no time at all."""
    try:
        return iso_ms(int(os.stat(path).st_mtime * 1000))
    except OSError:
        return None


def from_uri(value: object) -> str | None:
    """A filesystem path from a ``file://`` URI (percent-decoded), a plain path as given, None otherwise."""
    if isinstance(value, str):  # (first: the abstract Mapping check is slow)
        return _from_uri(value) if value else None
    if isinstance(value, Mapping):  # some editors store {"fsPath": ..., "path": ...}
        value = value.get("fsPath") or value.get("path")
    if not isinstance(value, str) or not value:
        return None
    return _from_uri(value)


@functools.lru_cache(maxsize=4096)  # the same few paths come back all through a transcript
def _from_uri(value: str) -> str | None:
    if value.startswith("file://"):
        return unquote(urlsplit(value).path) or None
    if "://" in value or _SCHEME.match(value):  # other URLs, data: URLs
        return None
    return value


def load_json(path: str | os.PathLike[str]) -> object:
    """A whole-file JSON document; raises OSError (unreadable) or ValueError (not JSON, not UTF-8)."""
    return JSON.decode(Path(path).read_bytes())


def load_object(path: str | os.PathLike[str], list_key: str) -> dict | None:
    """A whole-file JSON object holding a list under ``list_key``; None when the file is not one (not JSON, not
    UTF-8, cut off mid-write, another shape): the caller counts it as one malformed unit. Raises only OSError."""
    try:
        data = load_json(path)
    except ValueError:  # msgspec.DecodeError, or invalid UTF-8
        return None
    if not isinstance(data, dict) or not isinstance(data.get(list_key), list):
        return None
    return data


def first_json_line(path: str | os.PathLike[str], limit: int = 1 << 16) -> object:
    """The decoded first line of a JSON Lines file, None when it is absent or not JSON."""
    try:
        with open(path, "rb") as f:
            raw = f.readline(limit)
        return JSON.decode(raw)
    except (OSError, ValueError):  # ValueError: not JSON, or not UTF-8
        return None


def _paths(args: Mapping) -> Iterable[object]:
    for key in PATH_KEYS:
        if key in args:
            yield args[key]
    for key in _LIST_KEYS:
        items = args.get(key)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, str):
                    yield item
                elif isinstance(item, Mapping):
                    for k in PATH_KEYS:
                        if k in item:
                            yield item[k]


def apply_tool(ex: Exchange, name: str, args: object, table: Mapping[str, str], tool_id: str | None = None,
               cwd: str | None = None, failed: bool = False) -> bool:
    """Record one tool call in ``ex``: its name, and the files it modified or read according to ``table`` (looked up
    as given, then lower-cased); a ``failed`` call (an error, cancelled or rejected) touched no file. Returns False
    when the tool id was already recorded (nothing is added twice)."""
    if not ex.add_tool(name, tool_id):
        return False
    if failed or not isinstance(args, dict | Mapping):  # (dict first: the abstract check is slow)
        return True
    kind = table.get(name) or table.get(name.lower())
    for value in args.values():
        if isinstance(value, str) and "*** Begin Patch" in value:
            for p in patch_files(value):
                ex.modify(p, cwd)
    if kind == MODIFY:
        for p in _paths(args):
            ex.modify(from_uri(p), cwd)
    elif kind == READ:
        for p in _paths(args):
            ex.reference(from_uri(p), cwd)
    elif kind == SHELL:
        where = next((args[k] for k in _CWD_KEYS if isinstance(args.get(k), str)), None) or cwd
        command = next((args[k] for k in _SHELL_KEYS if isinstance(args.get(k), str)), None)
        ex.add_shell(command, where)
    return True



EDITORS = ("Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf")


def editor_storage(home: Path, env: Mapping[str, str]) -> list[Path]:
    """``User/globalStorage`` of the VS Code family of editors (where extensions keep their data), on Linux
    (``$XDG_CONFIG_HOME``, default ``~/.config``) and macOS (``~/Library/Application Support``)."""
    bases = [Path(env["XDG_CONFIG_HOME"])] if env.get("XDG_CONFIG_HOME") else []
    bases += [home / ".config", home / "Library" / "Application Support"]
    seen: dict[Path, None] = {}
    for base in bases:
        for editor in EDITORS:
            seen[base / editor / "User" / "globalStorage"] = None
    return list(seen)


def data_home(home: Path, env: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME``, default ``~/.local/share`` (used on macOS too by the CLI assistants that follow XDG)."""
    return Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else home / ".local" / "share"


def head_bytes(path: str | os.PathLike[str], limit: int = 65536) -> bytes:
    """The first ``limit`` bytes of a file, b"" for a folder or an unreadable file (for ``sniff`` of JSON
    documents, which may be a single long line)."""
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError:
        return b""


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a parse builds its many small objects, none of which form cycles
    to collect: otherwise each collection rescans everything built so far, which halves parsing speed on large
    transcripts. The previous state is restored."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
