"""``git ml chunk reconstruct``: every current record written back out as plain JSON (the reader's rule, byte for
byte: ``scan.select`` keeps the lines ``reader.current`` returns)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import pygit2

from git_ml import schema
from git_ml.errors import GitMlError
from git_ml.store import reader
from git_ml.store.core import Store
from git_ml.store.objects import DATA_REF, ref_for_stream
from git_ml.store.scan import RAW, scan_chunks, select

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(record_id: str) -> str:
    """A file name for a record id: readable, and distinct for distinct ids (a short hash is added whenever the id
    had to be changed)."""
    name = _UNSAFE.sub("_", record_id).strip("._") or "record"
    if name != record_id or len(name) > 120:
        name = f"{name[:100]}-{hashlib.blake2b(record_id.encode(), digest_size=5).hexdigest()}"
    return name


def live_lines(repo: pygit2.Repository, stream: str, *, warn: Callable[[str], None] | None = None,
               include_hidden: bool = False) -> list[bytes]:
    """The live records of a stream as their stored JSON lines, in capture order (the read rule, byte for byte)."""
    store = Store(repo, warn=warn)
    chunks = list(store.iter_chunks(stream))
    scan = scan_chunks(repo, stream, chunks)
    for chunk, detail in scan.corrupt:
        store.skip_corrupt(chunk, detail)
    hidden = set() if include_hidden else reader.hidden_ids(store).get(stream, set())
    return [ln[RAW] for ln in select(scan, hidden).keep]


def reconstruct(repo: pygit2.Repository, output: Path, *, streams: Iterable[str] | None = None,
                files: bool = True, warn: Callable[[str], None] | None = None) -> dict[str, int]:
    """Write every live record back out as plain JSON: ``DIR/<stream>.jsonl`` (the stored lines) and, with
    ``files``, one indented ``DIR/<stream>/<id>.json`` per record. An existing file or an unwritable path is a
    GitMlError (one line)."""
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise GitMlError(f"{output} exists and is not a directory")
    try:
        output.mkdir(parents=True, exist_ok=True)
        return _write(repo, output, streams, files, warn)
    except OSError as exc:
        raise GitMlError(f"cannot write to {output}: {exc.strerror or exc}") from None


def _write(repo, output: Path, streams, files: bool, warn) -> dict[str, int]:
    import json

    counts: dict[str, int] = {}
    for stream in streams or schema.ALL_STREAMS:
        if stream not in schema.ALL_STREAMS:
            raise GitMlError(f"unknown stream: {stream}")
        lines = live_lines(repo, stream, warn=warn)
        counts[stream] = len(lines)
        if not lines:
            continue
        tmp = output / f".{stream}.jsonl.tmp"
        with open(tmp, "wb") as fh:
            for line in lines:
                fh.write(line + b"\n")
        os.replace(tmp, output / f"{stream}.jsonl")
        if files:
            directory = output / stream
            directory.mkdir(exist_ok=True)
            for line in lines:
                obj = json.loads(line)
                (directory / f"{safe_name(str(obj.get('id', '')))}.json").write_text(
                    json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return counts


def raw_jsonl_bytes(repo: pygit2.Repository, ref: str = DATA_REF) -> int:
    """Bytes of the live records of a ref's streams as JSON Lines (what ``reconstruct`` writes)."""
    streams = [s for s in schema.ALL_STREAMS if ref_for_stream(s) == ref]
    return sum(len(x) + 1 for s in streams for x in live_lines(repo, s, warn=lambda _m: None))
