"""Chunk lifecycle: statistics, compaction (manual and automatic), reconstruction (verification and repair:
``repair.py``).

Everything here works on the *raw lines* of chunks: a record is decoded only to learn its id, capture time and sort
key (and to check it against its schema, as readers do), and is written back byte for byte. Fields written by a newer
version of git-ml therefore survive a compaction by an older one.

Compaction keeps, per stream, one line per record id: the latest captured version (the read rule of
``Store.iter_records``), drops ids hidden by tombstones (the tombstones themselves stay, so a union merge with a
clone that still has the record does not bring it back) and byte-identical duplicates, orders what is left by
capture (then record time, then id: history order, which compresses best and is the same on every clone), and cuts
it into chunks of about ``ml.chunkSize`` raw bytes. The order and the cuts depend only on the live records, so two
clones that compact the same records write the same chunk names and their trees coincide on sync.

A full compaction writes the ref as a new root commit so that the old chunks become unreachable (the reflog keeps
them until it expires); the automatic one, folded into an append (``Store.append_many``), only merges small chunks.
Chunks that do not decode are never touched by compaction: ``repair`` is the one command that removes them.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import operator
import os
import re
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pygit2
import zstandard

from git_ml import schema
from git_ml.errors import CorruptChunk, GitMlError
from git_ml.repo import common_dir, config_get, config_int
from git_ml.store.core import (
    AUTO_COMPACT_DEFAULT,
    CHUNK_SUFFIX,
    DATA_REF,
    LOCAL_REF,
    MAX_CHUNK_RAW,
    SMALL_CHUNK_BYTES,
    Chunk,
    Store,
    _newer,
    chunk_path,
    content_name,
    count_small_chunks,
    decoder,
    parse_count,
    read_blob,
    ref_for_stream,
    split_lines,
)

REFS = (DATA_REF, LOCAL_REF)
# Compaction's zstd setting. Measured on the 60,751 git.git commit records (70.6 MB of JSON Lines, 32 MiB chunks):
# level 9 19.9% in 2.1 s CPU; level 9 with min_match 6 19.5% in 2.2 s; level 10 19.6% in 3.2 s; level 12 19.4% in
# 4.5 s; level 3 22.6%. Hex hashes and repeated JSON keys make matches shorter than 6 bytes poor value.
COMPACT_LEVEL = 9
COMPACT_MIN_MATCH = 6
BEST_LEVEL = 16  # `compact --best`: 18.1% of raw, ~16x the CPU of the default
MINOR_LEVEL = 6  # automatic merges of small chunks: small inputs, on a hook's path
DEFAULT_CHUNK_SIZE = 32 << 20  # raw bytes per compacted chunk: ~6-10 MB stored, far below hosting limits
DEFAULT_AUTO_COMPACT = AUTO_COMPACT_DEFAULT  # small chunks in a ref beyond which an append merges them (0: never)
_CHUNK_NAME = re.compile(r"^[0-9a-f]{40}\.[0-9]+\.jsonl\.zst$")


# ----- reading chunks as raw lines -----------------------------------------------------------------------------------
# A decoded line is a tuple whose natural order is the compaction order:
#   (captured_at, record time, id, chunk name, index in chunk, raw bytes, typed record)
# Capture order is history order (a backfill stores its commits oldest first in one capture); the record's own
# time and its id break ties so that the order does not depend on how the records were chunked.
CAPTURED, TIME, ID, _NAME, _INDEX, RAW, REC = range(7)


def _time_field(typ: type) -> str | None:
    fields = getattr(typ, "__struct_fields__", ())
    for name in ("time", "timestamp"):
        if name in fields:
            return name
    return None


@dataclass
class StreamScan:
    """The decodable lines of a set of chunks of one stream, and the chunks that did not decode."""

    stream: str
    chunks: list[Chunk] = field(default_factory=list)  # the chunks read
    lines: list[tuple] = field(default_factory=list)
    corrupt: list[tuple[Chunk, str]] = field(default_factory=list)
    stored_bytes: int = 0
    raw_bytes: int = 0


def tree_of(repo: pygit2.Repository, tip: pygit2.Oid | None) -> pygit2.Tree | None:
    if tip is None:
        return None
    return repo[tip].peel(pygit2.Tree)


def iter_tree_chunks(repo: pygit2.Repository, tree: pygit2.Tree | None) -> Iterator[Chunk]:
    """Every chunk under a store tree, any stream (also streams this version does not know)."""
    if tree is None:
        return
    for top in tree:
        if top.type_str == "tree":
            yield from _walk(repo, top.name, repo[top.id], top.name)


def _walk(repo, stream: str, tree: pygit2.Tree, prefix: str) -> Iterator[Chunk]:
    for item in tree:
        path = f"{prefix}/{item.name}"
        if item.type_str == "tree":
            yield from _walk(repo, stream, repo[item.id], path)
        elif item.name.endswith(CHUNK_SUFFIX):
            yield Chunk(stream, path, item.id, 0)


def stored_size(repo: pygit2.Repository, oid: pygit2.Oid) -> int:
    try:
        return repo.odb.read_header(oid)[1]
    except (KeyError, pygit2.GitError, ValueError):
        return 0


def _read_raw(repo: pygit2.Repository, chunk: Chunk) -> tuple[bytes, int]:
    """Decompressed bytes and stored size of a chunk. Raises CorruptChunk."""
    try:
        data = read_blob(repo, chunk.oid)
    except ValueError as exc:
        raise CorruptChunk(chunk.path, str(exc), chunk.count) from None
    try:
        raw = zstandard.ZstdDecompressor().decompress(data)
    except zstandard.ZstdError:
        try:
            dobj = zstandard.ZstdDecompressor().decompressobj()
            raw = dobj.decompress(data)
            if not dobj.eof:
                raise CorruptChunk(chunk.path, "truncated zstd data", chunk.count)
        except zstandard.ZstdError as exc:
            raise CorruptChunk(chunk.path, f"not zstd data: {exc}", chunk.count) from None
    return raw, len(data)


@contextlib.contextmanager
def _no_gc():
    """Decoding tens of thousands of records allocates containers only, none of them cyclic: the cyclic collector
    would run hundreds of times for nothing (measured: typed decode of the git.git records 0.49 s -> 0.19 s)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def scan_chunks(repo: pygit2.Repository, stream: str, chunks: Iterable[Chunk], *, check_names: bool = False,
                on_chunk: Callable[[Chunk], None] | None = None) -> StreamScan:
    """Decode chunks of one stream into lines. A chunk that does not decode (or, with ``check_names``, whose
    content does not match its name) lands in ``corrupt`` whole: the reader skips it whole too."""
    with _no_gc():
        return _scan(repo, stream, chunks, check_names, on_chunk)


def _scan(repo, stream, chunks, check_names, on_chunk) -> StreamScan:
    typ = schema.ALL_STREAMS.get(stream, schema.Envelope)
    dec = decoder(typ)
    tfield = _time_field(typ)
    scan = StreamScan(stream)
    out = scan.lines
    for chunk in chunks:
        if on_chunk is not None:
            on_chunk(chunk)
        try:
            raw, stored = _read_raw(repo, chunk)
            lines = split_lines(raw)
            if check_names and content_name(b"".join(x + b"\n" for x in lines), len(lines)) != chunk.name:
                raise CorruptChunk(chunk.path, "content does not match its name", chunk.count)
            try:
                recs = dec.decode_lines(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise CorruptChunk(chunk.path, f"bad record: {str(exc).splitlines()[0]}", chunk.count) from None
            if len(recs) != len(lines):
                raise CorruptChunk(chunk.path, "blank or split lines", chunk.count)
        except CorruptChunk as exc:
            scan.corrupt.append((chunk, exc.detail))
            continue
        scan.chunks.append(chunk)
        scan.stored_bytes += stored
        scan.raw_bytes += len(raw)
        name = chunk.name
        if tfield is None:
            out.extend((r.captured_at, "", r.id, name, i, line, r) for i, (line, r) in enumerate(zip(lines, recs)))
        else:
            out.extend((r.captured_at, getattr(r, tfield), r.id, name, i, line, r)
                       for i, (line, r) in enumerate(zip(lines, recs)))
    return scan


@dataclass
class Selection:
    """The outcome of the data model on a scan: the lines to keep, in order, and what was dropped."""

    keep: list[tuple]
    duplicates: int = 0  # byte-identical copies
    superseded: int = 0  # older versions of an id
    hidden: int = 0  # records deleted by a tombstone
    dropped_bytes: int = 0  # raw bytes of all of those


def select(scan: StreamScan, hidden_ids: set[str] | frozenset = frozenset()) -> Selection:
    best: dict[str, tuple] = {}
    sel = Selection([])
    for line in scan.lines:
        rid = line[ID]
        old = best.get(rid)
        if old is None:
            best[rid] = line
            continue
        raw = line[RAW]
        if raw == old[RAW]:  # byte-identical: one copy
            sel.duplicates += 1
            sel.dropped_bytes += len(raw) + 1
            continue
        sel.superseded += 1
        if _line_newer(line, old):
            best[rid] = line
            sel.dropped_bytes += len(old[RAW]) + 1
        else:
            sel.dropped_bytes += len(raw) + 1
    if hidden_ids:
        keep = []
        for line in best.values():
            if line[ID] in hidden_ids:
                sel.hidden += 1
                sel.dropped_bytes += len(line[RAW]) + 1
            else:
                keep.append(line)
    else:
        keep = list(best.values())
    try:
        keep.sort(key=_order)
    except TypeError:  # record times of mixed types (a schema change): capture order, then id
        keep.sort(key=lambda ln: (ln[CAPTURED], ln[ID], ln[_NAME], ln[_INDEX]))
    sel.keep = keep
    return sel


_order = operator.itemgetter(CAPTURED, TIME, ID, _NAME, _INDEX)


def _line_newer(a: tuple, b: tuple) -> bool:
    if a[CAPTURED] != b[CAPTURED]:
        return a[CAPTURED] > b[CAPTURED]
    if isinstance(a[REC], schema.Envelope):
        return a[RAW] > b[RAW]
    return _newer(a[REC], b[REC])


def hidden_by(tombstone_lines: Iterable[tuple]) -> dict[str, set[str]]:
    """Tombstoned ids per stream, from decoded tombstone lines."""
    out: dict[str, set[str]] = {}
    for line in tombstone_lines:
        rec = line[REC]
        stream = getattr(rec, "stream", "")
        target = getattr(rec, "target", "")
        if stream and target:
            out.setdefault(stream, set()).add(target)
    return out


def pack_lines(lines: list[tuple], target: int) -> list[tuple[bytes, int]]:
    """Cut ordered lines into chunks of about ``target`` raw bytes, balanced (the cuts depend only on the lines)."""
    if not lines:
        return []
    total = sum(len(ln[RAW]) + 1 for ln in lines)
    target = max(1, min(target, MAX_CHUNK_RAW))
    parts = max(1, -(-total // target))
    share = total / parts
    out: list[tuple[bytes, int]] = []
    buf: list[bytes] = []
    size = 0
    done = 0
    for ln in lines:
        raw = ln[RAW]
        n = len(raw) + 1
        if buf and (size + n > MAX_CHUNK_RAW or (len(out) < parts - 1 and done + size >= share * (len(out) + 1))):
            out.append((b"".join(x + b"\n" for x in buf), len(buf)))
            done += size
            buf, size = [], 0
        buf.append(raw)
        size += n
    if buf:
        out.append((b"".join(x + b"\n" for x in buf), len(buf)))
    return out


def write_blob(repo: pygit2.Repository, data: bytes) -> pygit2.Oid:
    """Store a blob. A large chunk blob is zstd data that zlib cannot shrink: it is written as a loose object in
    zlib's stored mode (what `git -c core.looseCompression=0 hash-object -w` writes), 3-4x faster than libgit2's
    default deflate; `git gc` packs it as usual."""
    if len(data) < (1 << 20) or (config_get(repo, "extensions.objectformat") or "sha1").lower() != "sha1":
        return repo.create_blob(data)
    header = b"blob %d\0" % len(data)
    digest = hashlib.sha1(header)
    digest.update(data)
    hexid = digest.hexdigest()
    oid = pygit2.Oid(hex=hexid)
    if repo.odb.exists(oid):
        return oid
    directory = common_dir(repo) / "objects" / hexid[:2]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f"tmp_obj_{os.getpid()}_{time.monotonic_ns()}"
        comp = zlib.compressobj(0)
        with open(tmp, "wb") as fh:
            fh.write(comp.compress(header))
            fh.write(comp.compress(data))
            fh.write(comp.flush())
        os.chmod(tmp, 0o444)
        os.replace(tmp, directory / hexid[2:])
    except OSError:
        return repo.create_blob(data)
    return oid


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


def _scan_ref(repo: pygit2.Repository, tree: pygit2.Tree | None, *, small_only: bool = False,
              progress: Callable[[Chunk], None] | None = None) -> dict[str, StreamScan]:
    by_stream: dict[str, list[Chunk]] = {}
    for chunk in iter_tree_chunks(repo, tree):
        by_stream.setdefault(chunk.stream, []).append(chunk)
    if small_only:
        by_stream = {s: [c for c in cs if stored_size(repo, c.oid) < SMALL_CHUNK_BYTES]
                     for s, cs in by_stream.items()}
        by_stream = {s: cs for s, cs in by_stream.items() if len(cs) >= 2}
    return {s: scan_chunks(repo, s, cs, on_chunk=progress) for s, cs in sorted(by_stream.items())}


def _tombstones(store: Store, ref: str, scans: dict[str, StreamScan]) -> dict[str, set[str]]:
    if "tombstones" in scans and ref == DATA_REF and not scans["tombstones"].corrupt:
        return hidden_by(select(scans["tombstones"]).keep)
    out: dict[str, set[str]] = {}
    for t in store.iter_records("tombstones"):
        out.setdefault(t.stream, set()).add(t.target)
    return out


def compact(repo: pygit2.Repository, *, refs: Iterable[str] = REFS, chunk_size: int | None = None,
            best: bool = False, level: int | None = None, dry_run: bool = False, timeout: float | None = None,
            warn: Callable[[str], None] | None = None, progress: Callable[[Chunk], None] | None = None
            ) -> list[CompactResult]:
    """Rewrite each ref's chunks into compact ones (one atomic update per ref, a new root commit).

    Appends that land meanwhile are carried over unchanged; if another maintenance command removed chunks
    meanwhile, the compaction starts again (at most three times).
    """
    store = Store(repo, warn=warn)
    target = chunk_size or chunk_size_setting(repo)
    lvl = level if level is not None else (BEST_LEVEL if best else COMPACT_LEVEL)
    results = []
    for ref in refs:
        for attempt in range(3):
            try:
                with _no_gc():
                    results.append(_compact_ref(repo, store, ref, target, lvl, dry_run, timeout, warn, progress))
                break
            except _Restart:
                if attempt == 2:
                    raise GitMlError(f"{ref} kept changing under compaction; nothing was changed, run it again")
    return results


class _Restart(Exception):
    pass


def _compact_ref(repo, store: Store, ref: str, target: int, level: int, dry_run: bool, timeout, warn,
                 progress) -> CompactResult:
    started = time.monotonic()
    result = CompactResult(ref)
    tip = store.tip(ref)
    result.old_tip = result.new_tip = tip
    if tip is None:
        return result
    tree = tree_of(repo, tip)
    scans = _scan_ref(repo, tree, progress=progress)
    for scan in scans.values():
        for chunk, detail in scan.corrupt:
            if warn is not None:
                warn(f"warning: corrupt chunk {chunk.path} left in place ({detail}); "
                     "`git ml chunk repair` removes it")
    hidden = _tombstones(store, ref, scans)
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
    result.new_tip = _apply(repo, store, ref, tip, adds, removes, result.message, new_root=True, timeout=timeout)
    result.changed = True
    result.seconds = time.monotonic() - started
    return result


def _apply(repo, store: Store, ref: str, tip, adds: dict, removes: list[str], message: str, *, new_root: bool,
           timeout: float | None) -> pygit2.Oid:
    """Compare-and-swap ``ref`` from ``tip`` with adds/removes; when the ref moved, carry on from the new tip as long
    as every removed chunk is still there (others only appended)."""
    removes = [p for p in removes if p not in adds]
    if timeout is None:
        timeout = float(config_int(repo, "ml.lockTimeoutMs", 5000)) / 1000.0
    deadline = time.monotonic() + timeout
    expect = tip
    while True:
        try:
            return store.update(ref, adds=adds, removes=removes, message=message, new_root=new_root, expect=expect,
                                timeout=timeout)
        except GitMlError:
            now = store.tip(ref)
            if now is None or not _all_present(repo, tree_of(repo, now), removes):
                raise _Restart() from None
            if time.monotonic() >= deadline:
                from git_ml.errors import StoreBusy

                raise StoreBusy(f"could not update {ref} within {timeout:.1f}s: other writers keep it busy") from None
            expect = now
            time.sleep(0.005)


def _all_present(repo, tree: pygit2.Tree | None, paths: Iterable[str]) -> bool:
    if tree is None:
        return False
    for path in paths:
        try:
            tree[path]
        except KeyError:
            return False
    return True


# ----- automatic compaction (called from Store.append_many) ---------------------------------------------------------
def auto_compact_setting(repo: pygit2.Repository) -> int:
    return config_int(repo, "ml.autoCompact", DEFAULT_AUTO_COMPACT)


def plan_auto_compaction(store: Store, ref: str) -> tuple[dict[str, pygit2.Oid], list[str], str]:
    """When ``ref`` holds more small chunks than ``ml.autoCompact``: merge each stream's small chunks (same data
    model as compaction, at a fast level). Returns (adds, removes, note) to fold into the caller's ref update;
    empty when nothing is due. Removing the same small chunks twice (two writers racing) is harmless, and a merged
    chunk that another writer also wrote has the same name: nothing is lost, at worst a duplicate is kept until
    the next compaction."""
    repo = store.repo
    threshold = auto_compact_setting(repo)
    if threshold <= 0:
        return {}, [], ""
    tip = store.tip(ref)
    tree = tree_of(repo, tip)
    if tree is None:
        return {}, [], ""
    small = count_small_chunks(repo, tree)
    if small <= threshold:
        return {}, [], ""
    scans = _scan_ref(repo, tree, small_only=True)
    if not scans:
        return {}, [], ""
    hidden = _tombstones(store, ref, {})  # all of them (the scans hold only the small tombstone chunks)
    result = CompactResult(ref)
    adds, removes = _plan(repo, scans, hidden, MAX_CHUNK_RAW, MINOR_LEVEL, None, result)
    t = result.totals()
    note = f"; auto-compacted {t['chunks_before']} small chunks into {t['chunks_after']}"
    return adds, removes, note


# ----- statistics -----------------------------------------------------------------------------------------------------
def chunk_stats(repo: pygit2.Repository, *, refs: Iterable[str] = REFS) -> dict:
    """Per stream: chunks, small chunks, records stored / live, raw and stored bytes, ratio, and what a compaction
    would drop (duplicates, superseded versions, deleted records)."""
    store = Store(repo, warn=lambda _m: None)
    streams: dict[str, dict] = {}
    tree_bytes = 0
    hidden_all: dict[str, set[str]] | None = None
    scans_all: list[tuple[str, StreamScan]] = []
    for ref in refs:
        tip = store.tip(ref)
        tree = tree_of(repo, tip)
        if tree is None:
            continue
        tree_bytes += _tree_bytes(repo, tree)
        scans = _scan_ref(repo, tree)
        if ref == DATA_REF:
            hidden_all = _tombstones(store, ref, scans)
        scans_all.extend((ref, s) for s in scans.values())
    if hidden_all is None:
        hidden_all = _tombstones(store, DATA_REF, {})
    totals = {"chunks": 0, "small_chunks": 0, "records_stored": 0, "records": 0, "raw_bytes": 0, "stored_bytes": 0,
              "dedup_savings_bytes": 0, "corrupt_chunks": 0}
    for ref, scan in scans_all:
        sel = select(scan, hidden_all.get(scan.stream, frozenset()))
        small = sum(1 for c in scan.chunks if stored_size(repo, c.oid) < SMALL_CHUNK_BYTES)
        corrupt_stored = sum(stored_size(repo, c.oid) for c, _ in scan.corrupt)
        info = {
            "ref": ref,
            "chunks": len(scan.chunks) + len(scan.corrupt),
            "small_chunks": small,
            "corrupt_chunks": len(scan.corrupt),
            "records_stored": len(scan.lines),
            "records": len(sel.keep),
            "duplicates": sel.duplicates,
            "superseded": sel.superseded,
            "deleted": sel.hidden,
            "raw_bytes": scan.raw_bytes,
            "stored_bytes": scan.stored_bytes + corrupt_stored,
            "ratio": round(scan.stored_bytes / scan.raw_bytes, 4) if scan.raw_bytes else None,
            "dedup_savings_bytes": sel.dropped_bytes,
        }
        streams[scan.stream] = info
        for k in totals:
            totals[k] += info[k]
    for stream in schema.ALL_STREAMS:
        streams.setdefault(stream, {"ref": ref_for_stream(stream), "chunks": 0, "small_chunks": 0, "corrupt_chunks": 0,
                                    "records_stored": 0, "records": 0, "duplicates": 0, "superseded": 0,
                                    "deleted": 0, "raw_bytes": 0, "stored_bytes": 0, "ratio": None,
                                    "dedup_savings_bytes": 0})
    totals["tree_bytes"] = tree_bytes
    totals["ratio"] = round((totals["stored_bytes"] + tree_bytes) / totals["raw_bytes"], 4) \
        if totals["raw_bytes"] else None
    return {"streams": streams, "total": totals, "small_chunk_bytes": SMALL_CHUNK_BYTES,
            "auto_compact": auto_compact_setting(repo), "chunk_size": chunk_size_setting(repo)}


def _tree_bytes(repo: pygit2.Repository, tree: pygit2.Tree) -> int:
    total = stored_size(repo, tree.id)
    for item in tree:
        if item.type_str == "tree":
            total += _tree_bytes(repo, repo[item.id])
    return total


def reachable_bytes(repo: pygit2.Repository, ref: str = DATA_REF) -> int:
    """Stored bytes of every blob and tree reachable from the tip's tree (the measure of the ratio targets)."""
    tree = tree_of(repo, Store(repo).tip(ref))
    if tree is None:
        return 0
    return _tree_bytes(repo, tree) + sum(stored_size(repo, c.oid) for c in iter_tree_chunks(repo, tree))


# ----- reconstruction ----------------------------------------------------------------------------------------------
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(record_id: str) -> str:
    """A file name for a record id: readable, and distinct for distinct ids (a short hash is added whenever the id
    had to be changed)."""
    name = _UNSAFE.sub("_", record_id).strip("._") or "record"
    if name != record_id or len(name) > 120:
        import hashlib

        name = f"{name[:100]}-{hashlib.blake2b(record_id.encode(), digest_size=5).hexdigest()}"
    return name


def live_lines(repo: pygit2.Repository, stream: str, *, warn: Callable[[str], None] | None = None,
               include_hidden: bool = False) -> list[bytes]:
    """The live records of a stream as their stored JSON lines, in capture order (the read rule, byte for byte)."""
    store = Store(repo, warn=warn)
    ref = ref_for_stream(stream)
    tree = tree_of(repo, store.tip(ref))
    chunks = [c for c in iter_tree_chunks(repo, tree) if c.stream == stream]
    scan = scan_chunks(repo, stream, chunks)
    for chunk, detail in scan.corrupt:
        store._skip_corrupt(chunk, detail)
    hidden = set() if include_hidden or stream == "tombstones" else \
        {t.target for t in store.iter_records("tombstones") if t.stream == stream}
    return [ln[RAW] for ln in select(scan, hidden).keep]


def reconstruct(repo: pygit2.Repository, output: Path, *, streams: Iterable[str] | None = None,
                files: bool = True, warn: Callable[[str], None] | None = None) -> dict[str, int]:
    """Write every live record back out as plain JSON: ``DIR/<stream>.jsonl`` (the stored lines) and, with
    ``files``, one indented ``DIR/<stream>/<id>.json`` per record."""
    import json

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
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


__all__ = [
    "COMPACT_LEVEL", "DEFAULT_AUTO_COMPACT", "DEFAULT_CHUNK_SIZE", "SMALL_CHUNK_BYTES", "CompactResult",
    "chunk_stats", "compact", "count_small_chunks", "iter_tree_chunks", "live_lines", "plan_auto_compaction",
    "reachable_bytes", "reconstruct", "safe_name", "parse_count",
]
