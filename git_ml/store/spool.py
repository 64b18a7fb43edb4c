"""Records that could not reach the store in time (a held lock, contention) wait in ``.git/ml/spool/``.

A spool file is written to a temporary name and renamed, so it is whole or absent. Any writer drains the spool
before its own append; a drained file is removed only after its records are in the store. Two drainers racing on
one file can both append it: the store counts byte-identical records once, so nothing is lost and nothing doubles.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import msgspec
import pygit2

from git_ml import schema
from git_ml.fsutil import atomic_write
from git_ml.repo import ml_dir

_ENCODER = msgspec.json.Encoder()
LOG_NAME = "capture.log"
LOG_MAX = 1 << 20


def spool_dir(repo: pygit2.Repository) -> Path:
    return ml_dir(repo) / "spool"


def write_spool(repo: pygit2.Repository, batches: dict[str, list]) -> int:
    """Write each stream's records to a spool file. Returns the number of records spooled."""
    directory = spool_dir(repo)
    directory.mkdir(parents=True, exist_ok=True)
    total = 0
    for stream, records in batches.items():
        if not records:
            continue
        stamp = schema.now_iso()
        for rec in records:
            if not rec.captured_at:
                rec.captured_at = stamp
        name = f"{time.time_ns()}-{os.getpid()}.{stream}.jsonl"
        atomic_write(directory / name, _ENCODER.encode_lines(records))
        total += len(records)
    return total


def pending(repo: pygit2.Repository) -> list[Path]:
    directory = spool_dir(repo)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name.endswith(".jsonl") and not p.name.startswith("."))


def drain(repo: pygit2.Repository, store, *, timeout: float | None = None) -> int:
    """Append every spooled record to the store, then remove the files. Returns the records moved."""
    files = pending(repo)
    if not files:
        return 0
    batches: dict[str, list] = {}
    readable: list[Path] = []
    for path in files:
        stream = path.name.split(".")[-2]
        typ = schema.ALL_STREAMS.get(stream)
        if typ is None:
            continue
        try:
            records = msgspec.json.Decoder(typ).decode_lines(path.read_bytes())
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            log(repo, f"spool: cannot read {path.name}: {exc}; moved aside")
            try:
                os.replace(path, path.with_suffix(".bad"))
            except OSError:
                pass
            continue
        batches.setdefault(stream, []).extend(records)
        readable.append(path)
    if not batches:
        return 0
    store.append_many(batches, message="drain spool", timeout=timeout)
    for path in readable:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    return sum(len(v) for v in batches.values())


def log(repo: pygit2.Repository | None, message: str) -> None:
    """Append one line to ``.git/ml/capture.log`` (rotated at 1 MiB). Never raises."""
    try:
        if repo is None:
            return
        path = ml_dir(repo) / LOG_NAME
        try:
            if path.stat().st_size > LOG_MAX:
                os.replace(path, path.with_suffix(".log.1"))
        except FileNotFoundError:
            pass
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        with open(path, "a", encoding="utf-8") as fh:
            for line in message.splitlines() or [""]:
                fh.write(f"{stamp} [{os.getpid()}] {line}\n")
    except Exception:
        pass


def recent_log(repo: pygit2.Repository, n: int = 10) -> list[str]:
    path = ml_dir(repo, create=False) / LOG_NAME
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:]
    except OSError:
        return []
