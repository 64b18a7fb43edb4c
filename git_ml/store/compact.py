"""Compaction, manual (``git ml chunk compact``) and automatic (folded into an append).

Compaction keeps, per stream, exactly the lines ``git_ml.store.reader`` returns (``scan.select``): one line per
record id, the current version; ids hidden by tombstones are dropped (the tombstones themselves stay, so a union
merge with a clone that still has the record does not bring it back), and so are byte-identical duplicates. What is
left is cut into chunks of about ``ml.chunkSize`` raw bytes.

A full compaction writes the ref as a new root commit so that the old chunks become unreachable (the reflog keeps
them until it expires); the automatic one, folded into an append (``core.Store.append_many``), only merges small
chunks. Chunks that do not decode are never touched by compaction: ``repair`` is the one command that removes them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pygit2
import zstandard

from git_ml.errors import GitMlError
from git_ml.repo import config_int
from git_ml.store.objects import (
    AUTO_COMPACT_DEFAULT,
    DATA_REF,
    MAX_CHUNK_RAW,
    REFS,
    SMALL_CHUNK_BYTES,
    Chunk,
    chunk_path,
    content_name,
    stored_size,
    write_blob,
)
from git_ml.store.reader import no_gc
from git_ml.store.scan import StreamScan, hidden_by, pack_lines, scan_chunks, select
from git_ml.store.tree import count_small_chunks, iter_tree_chunks, stream_chunks, tree_of
from git_ml.store.update import Restart, apply_update, tip_of

# Compaction's zstd setting. Measured on the 60,751 git.git commit records (70.6 MB of JSON Lines, 32 MiB chunks):
# level 9 19.9% in 2.1 s CPU; level 9 with min_match 6 19.5% in 2.2 s; level 10 19.6% in 3.2 s; level 12 19.4% in
# 4.5 s; level 3 22.6%. Hex hashes and repeated JSON keys make matches shorter than 6 bytes poor value.
COMPACT_LEVEL = 9
COMPACT_MIN_MATCH = 6
BEST_LEVEL = 16  # `compact --best`: 18.1% of raw, ~16x the CPU of the default
MINOR_LEVEL = 6  # automatic merges of small chunks: small inputs, on a hook's path
DEFAULT_CHUNK_SIZE = 32 << 20  # raw bytes per compacted chunk: ~6-10 MB stored, far below hosting limits
DEFAULT_AUTO_COMPACT = AUTO_COMPACT_DEFAULT  # small chunks in a ref beyond which an append merges them (0: never)


def compressor(level: int, *, min_match: int | None = COMPACT_MIN_MATCH, size: int = 0,
               threads: bool = True) -> zstandard.ZstdCompressor:
    threads = min(2, os.cpu_count() or 1) if threads and size >= (8 << 20) else 0
    kw = {"threads": threads} if threads > 1 else {}
    if min_match:
        kw["min_match"] = min_match
    params = zstandard.ZstdCompressionParameters.from_level(level, source_size=size, **kw)
    return zstandard.ZstdCompressor(compression_params=params)


def chunk_size_setting(repo: pygit2.Repository) -> int:
    size = config_int(repo, "ml.chunkSize", DEFAULT_CHUNK_SIZE)
    if size <= 0:
        size = DEFAULT_CHUNK_SIZE
    return min(size, MAX_CHUNK_RAW)


# ----- compaction ----------------------------------------------------------------------------------------------------
@dataclass
class StreamCompaction:
    stream: str
    chunks_before: int = 0
    chunks_after: int = 0
    records_before: int = 0  # lines
    records_after: int = 0
    duplicates: int = 0
    superseded: int = 0
    hidden: int = 0
    raw_before: int = 0
    raw_after: int = 0
    stored_before: int = 0
    stored_after: int = 0
    corrupt_left: list[str] = field(default_factory=list)


@dataclass
class CompactResult:
    ref: str
    old_tip: pygit2.Oid | None = None
    new_tip: pygit2.Oid | None = None
    streams: dict[str, StreamCompaction] = field(default_factory=dict)
    changed: bool = False
    seconds: float = 0.0
    message: str = ""

    def totals(self) -> dict:
        keys = ("chunks_before", "chunks_after", "records_before", "records_after", "duplicates", "superseded",
                "hidden", "raw_before", "raw_after", "stored_before", "stored_after")
        return {k: sum(getattr(s, k) for s in self.streams.values()) for k in keys}


def _plan(repo: pygit2.Repository, scans: dict[str, StreamScan], hidden: dict[str, set[str]], target: int,
          level: int, min_match: int | None, result: CompactResult, *, write: bool = True
          ) -> tuple[dict[str, pygit2.Oid | None], list[str]]:
    """Blobs for the compacted streams (written to the odb) and the chunk paths they replace."""
    adds: dict[str, pygit2.Oid] = {}
    removes: list[str] = []
    todo: list[tuple[str, bytes, StreamCompaction]] = []
    for stream, scan in scans.items():
        sel = select(scan, hidden.get(stream, frozenset()))
        info = StreamCompaction(stream, chunks_before=len(scan.chunks), records_before=len(scan.lines),
                                duplicates=sel.duplicates, superseded=sel.superseded, hidden=sel.hidden,
                                raw_before=scan.raw_bytes, stored_before=scan.stored_bytes,
                                corrupt_left=[c.path for c, _ in scan.corrupt])
        result.streams[stream] = info
        old_paths = {c.path: c.oid for c in scan.chunks}
        packed = pack_lines(sel.keep, target)
        new_paths: dict[str, tuple[bytes, int]] = {}
        for raw, count in packed:
            new_paths[chunk_path(stream, content_name(raw, count))] = (raw, count)
        info.chunks_after = len(new_paths)
        info.records_after = sum(c for _, c in packed)
        info.raw_after = sum(len(r) for r, _ in packed)
        if set(new_paths) == set(old_paths):  # already compact: keep the blobs as they are
            info.stored_after = info.stored_before
            continue
        for path, (raw, _count) in new_paths.items():
            if path in old_paths:
                info.stored_after += stored_size(repo, old_paths[path])
            else:
                todo.append((path, raw, info))
        removes.extend(p for p in old_paths if p not in new_paths)
    for (path, _raw, info), blob in zip(todo, compress_all([raw for _p, raw, _i in todo], level, min_match)):
        adds[path] = write_blob(repo, blob) if write else None
        info.stored_after += len(blob)
    return adds, removes


def compress_all(raws: list[bytes], level: int, min_match: int | None) -> list[bytes]:
    """Compress chunks, two at a time when there are two cores (zstd releases the GIL). One large chunk alone uses
    zstd's own worker threads instead."""
    workers = min(2, os.cpu_count() or 1, len(raws))
    if workers < 2 or sum(len(r) for r in raws) < (4 << 20):
        return [compressor(level, min_match=min_match, size=len(r), threads=len(raws) == 1).compress(r)
                for r in raws]
    from concurrent.futures import ThreadPoolExecutor

    order = sorted(range(len(raws)), key=lambda i: -len(raws[i]))  # largest first: the pool ends together
    out: list[bytes] = [b""] * len(raws)
    with ThreadPoolExecutor(workers) as pool:
        futures = {i: pool.submit(compressor(level, min_match=min_match, size=len(raws[i]), threads=False).compress,
                                  raws[i]) for i in order}
        for i, fut in futures.items():
            out[i] = fut.result()
    return out


def scan_ref(repo: pygit2.Repository, tree: pygit2.Tree | None, *, small_only: bool = False,
              progress: Callable[[Chunk], None] | None = None) -> dict[str, StreamScan]:
    by_stream: dict[str, list[Chunk]] = {}
    for chunk in iter_tree_chunks(repo, tree):
        by_stream.setdefault(chunk.stream, []).append(chunk)
    if small_only:
        by_stream = {s: [c for c in cs if stored_size(repo, c.oid) < SMALL_CHUNK_BYTES]
                     for s, cs in by_stream.items()}
        by_stream = {s: cs for s, cs in by_stream.items() if len(cs) >= 2}
    return {s: scan_chunks(repo, s, cs, on_chunk=progress) for s, cs in sorted(by_stream.items())}


def ref_tombstones(repo: pygit2.Repository, ref: str, scans: dict[str, StreamScan]) -> dict[str, set[str]]:
    """Tombstoned ids per stream, by the reader's rule: from ``scans`` when they hold all of the data ref's
    tombstones, otherwise from the data ref's tombstone chunks."""
    if "tombstones" in scans and ref == DATA_REF and not scans["tombstones"].corrupt:
        return hidden_by(select(scans["tombstones"]).keep)
    tree = tree_of(repo, tip_of(repo, DATA_REF))
    chunks = list(stream_chunks(repo, tree, "tombstones"))
    return hidden_by(select(scan_chunks(repo, "tombstones", chunks)).keep) if chunks else {}


def compact(repo: pygit2.Repository, *, refs: Iterable[str] = REFS, chunk_size: int | None = None,
            best: bool = False, level: int | None = None, dry_run: bool = False, timeout: float | None = None,
            warn: Callable[[str], None] | None = None, progress: Callable[[Chunk], None] | None = None
            ) -> list[CompactResult]:
    """Rewrite each ref's chunks into compact ones (one atomic update per ref, a new root commit).

    Appends that land meanwhile are carried over unchanged; if another maintenance command removed chunks
    meanwhile, the compaction starts again (at most three times).
    """
    target = chunk_size or chunk_size_setting(repo)
    lvl = level if level is not None else (BEST_LEVEL if best else COMPACT_LEVEL)
    results = []
    for ref in refs:
        for attempt in range(3):
            try:
                with no_gc():
                    results.append(_compact_ref(repo, ref, target, lvl, dry_run, timeout, warn, progress))
                break
            except Restart:
                if attempt == 2:
                    raise GitMlError(f"{ref} kept changing under compaction; nothing was changed, run it again")
    return results


def _compact_ref(repo, ref: str, target: int, level: int, dry_run: bool, timeout, warn,
                 progress) -> CompactResult:
    started = time.monotonic()
    result = CompactResult(ref)
    tip = tip_of(repo, ref)
    result.old_tip = result.new_tip = tip
    if tip is None:
        return result
    tree = tree_of(repo, tip)
    scans = scan_ref(repo, tree, progress=progress)
    for scan in scans.values():
        for chunk, detail in scan.corrupt:
            if warn is not None:
                warn(f"warning: corrupt chunk {chunk.path} left in place ({detail}); "
                     "`git ml chunk repair` removes it")
    hidden = ref_tombstones(repo, ref, scans)
    min_match = COMPACT_MIN_MATCH if level <= 12 else None  # the optimal parsers of high levels pick their own
    adds, removes = _plan(repo, scans, hidden, target, level, min_match, result, write=not dry_run)
    t = result.totals()
    result.message = (f"compact: {t['chunks_before']} chunks -> {t['chunks_after']}, "
                      f"{t['records_before']} records -> {t['records_after']} "
                      f"({t['duplicates']} duplicates, {t['superseded']} superseded, {t['hidden']} deleted dropped), "
                      f"new root")
    single_root = not repo[tip].parents
    if (not adds and not removes and single_root) or dry_run:
        result.seconds = time.monotonic() - started
        result.changed = bool(adds or removes or not single_root)  # with dry_run: would change
        return result
    result.new_tip = apply_update(repo, ref, tip, adds, removes, result.message, new_root=True, timeout=timeout,
                                  warn=warn)
    result.changed = True
    result.seconds = time.monotonic() - started
    return result


# ----- automatic compaction (called from core.Store.append_many) ---------------------------------------------------------
def auto_compact_setting(repo: pygit2.Repository) -> int:
    return config_int(repo, "ml.autoCompact", DEFAULT_AUTO_COMPACT)


def plan_auto_compaction(repo: pygit2.Repository, ref: str) -> tuple[dict[str, pygit2.Oid], list[str], str]:
    """When ``ref`` holds more small chunks than ``ml.autoCompact``: merge each stream's small chunks (same data
    model as compaction, at a fast level). Returns (adds, removes, note) to fold into the caller's ref update;
    empty when nothing is due. Removing the same small chunks twice (two writers racing) is harmless, and a merged
    chunk that another writer also wrote has the same name: nothing is lost, at worst a duplicate is kept until
    the next compaction."""
    threshold = auto_compact_setting(repo)
    if threshold <= 0:
        return {}, [], ""
    tree = tree_of(repo, tip_of(repo, ref))
    if tree is None:
        return {}, [], ""
    small = count_small_chunks(repo, tree)
    if small <= threshold:
        return {}, [], ""
    scans = scan_ref(repo, tree, small_only=True)
    if not scans:
        return {}, [], ""
    hidden = ref_tombstones(repo, ref, {})  # all of them (the scans hold only the small tombstone chunks)
    result = CompactResult(ref)
    adds, removes = _plan(repo, scans, hidden, MAX_CHUNK_RAW, MINOR_LEVEL, None, result)
    t = result.totals()
    note = f"; auto-compacted {t['chunks_before']} small chunks into {t['chunks_after']}"
    return adds, removes, note
