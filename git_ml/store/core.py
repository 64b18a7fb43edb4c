"""The store: zstd-compressed JSON Lines chunks in git objects under ``refs/ml/data`` and ``refs/ml/local``.

Layout of the commit a store ref points at::

    <stream>/<fan-out: 2 hex>/<content hash>.<record count>.jsonl.zst

The chunk name is a hash of its uncompressed lines, so two clones holding the same records hold the same path and
their trees merge by union. Fan-out keeps every tree an append rewrites small (O(chunks / 256)), and automatic
compaction (``compact.py``) keeps the count of small chunks bounded.

``Store`` is the face most callers use; the primitives live in leaf modules: ``objects`` (names, compression, the
one safe blob and chunk read), ``tree`` (walking and editing store trees), ``update`` (compare-and-swap with
retry), ``reader`` (the one read rule: latest captured version wins, tombstones hide), ``scan`` (raw-line scans and
the selection compaction keeps), ``compact``, ``stats``, ``reconstruct``, ``repair``, ``sync``, ``spool``,
``retention``, ``migrate``.

Appends build blob, trees and commit first and then move the ref with compare-and-swap inside a libgit2 reference
transaction: a crash at any point leaves the previous tip, and so the previous state, intact.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence

import msgspec
import pygit2

from git_ml import schema
from git_ml.errors import CorruptChunk, GitMlError
from git_ml.repo import config_int
from git_ml.store import reader
from git_ml.store.objects import (
    APPEND_LEVEL,
    AUTO_COMPACT_DEFAULT,
    CHUNK_SUFFIX,
    DATA_REF,
    ENCODER,
    LOCAL_REF,
    MAX_CHUNK_RAW,
    SMALL_CHUNK_BYTES,
    Chunk,
    ReadReport,
    chunk_path,
    compress,
    content_name,
    decoder,
    decompress,
    encode_lines,
    parse_count,
    read_blob,
    read_chunk,
    ref_for_stream,
    split_lines,
    stored_size,
)
from git_ml.store.tree import count_small_chunks, stream_chunks, tree_of
from git_ml.store.update import STALE_LOCK_SECONDS, break_stale_lock, swap, tip_of
from git_ml.store.update import update as update_ref

__all__ = [
    "APPEND_LEVEL", "AUTO_COMPACT_DEFAULT", "CHUNK_SUFFIX", "DATA_REF", "LOCAL_REF", "MAX_CHUNK_RAW",
    "SMALL_CHUNK_BYTES", "STALE_LOCK_SECONDS", "Chunk", "ReadReport", "Store", "break_stale_lock", "chunk_path",
    "chunk_stored_size", "compress", "content_name", "decoder", "decompress", "encode_lines", "parse_count",
    "read_blob", "ref_for_stream", "split_lines",
]


def chunk_stored_size(repo: pygit2.Repository, oid: pygit2.Oid) -> int:
    """Stored bytes of a chunk (0 when its object is missing)."""
    return stored_size(repo, oid)


class Store:
    """The records of one repository. Cheap to create; reads always see the current ref tips."""

    def __init__(self, repo: pygit2.Repository, *, warn=None):
        self.repo = repo
        self.report = ReadReport()
        self._warn = warn if warn is not None else _stderr_warning

    # ----- refs -------------------------------------------------------------------------------------------------
    def tip(self, ref: str = DATA_REF) -> pygit2.Oid | None:
        return tip_of(self.repo, ref)

    def tree(self, ref: str = DATA_REF) -> pygit2.Tree | None:
        tip = self.tip(ref)
        if tip is None:
            return None
        try:
            return tree_of(self.repo, tip)
        except (KeyError, pygit2.GitError) as exc:
            raise GitMlError(f"{ref} points at an unreadable object {tip}: {exc}") from None

    # ----- reading ----------------------------------------------------------------------------------------------
    def iter_chunks(self, stream: str, ref: str | None = None) -> Iterator[Chunk]:
        yield from stream_chunks(self.repo, self.tree(ref or ref_for_stream(stream)), stream)

    def read_lines(self, chunk: Chunk) -> list[bytes]:
        """The raw JSON lines of a chunk. Raises CorruptChunk when it does not decompress (whole)."""
        data = read_chunk(self.repo, chunk)
        if data.damage:
            raise CorruptChunk(chunk.path, data.damage, chunk.count)
        return split_lines(data.raw)

    def verify_chunk(self, chunk: Chunk) -> int:
        """Decode a chunk fully and check its name against its content. Returns the record count."""
        lines = self.read_lines(chunk)
        raw = b"".join(line + b"\n" for line in lines)
        if content_name(raw, len(lines)) != chunk.name:
            raise CorruptChunk(chunk.path, "content does not match its name", chunk.count)
        typ = schema.ALL_STREAMS.get(chunk.stream, schema.Envelope)
        try:
            decoder(typ).decode_lines(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise CorruptChunk(chunk.path, f"bad record: {exc}", chunk.count) from None
        return len(lines)

    def iter_chunk_records(self, chunk: Chunk, typ: type | None = None) -> list:
        """Records of one chunk, decoded. Raises CorruptChunk."""
        lines = self.read_lines(chunk)
        typ = typ or schema.ALL_STREAMS.get(chunk.stream, schema.Envelope)
        try:
            return decoder(typ).decode_lines(b"".join(line + b"\n" for line in lines))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise CorruptChunk(chunk.path, f"bad record: {exc}", chunk.count) from None

    def decoded_chunks(self, stream: str, typ: type) -> Iterator[tuple[Chunk, list]]:
        """Every version of every record of a stream, chunk by chunk, decoded as ``typ`` (no read rule applied:
        for scans that need all versions; readers of current records use ``git_ml.store.reader``)."""
        for chunk in self.iter_chunks(stream):
            got = reader.decode_chunk(self, chunk, typ)
            if got is not None:
                yield chunk, got[0]

    def skip_corrupt(self, chunk: Chunk, detail: str, kept: int = 0) -> None:
        """Warn (one line) about a chunk that did not decode, or only in part (``kept`` records), and list it in
        ``report``."""
        lost = None if chunk.count is None else max(chunk.count - kept, 0)
        self.report.corrupt.append((chunk.path, lost, detail))
        if kept:
            what = f"kept {kept} records, {lost if lost is not None else 'others'} lost"
            self._warn(f"warning: corrupt chunk {chunk.path} ({what}): {detail}")
        else:
            what = f"{lost} records" if lost is not None else "its records"
            self._warn(f"warning: skipping corrupt chunk {chunk.path} ({what} skipped): {detail}")

    _skip_corrupt = skip_corrupt  # the export package's name until it reads through ``reader``

    def hidden_ids(self, stream: str) -> set[str]:
        """Ids of ``stream`` deleted by tombstones."""
        if stream == "tombstones":
            return set()
        return reader.hidden_ids(self).get(stream, set())

    def iter_records(self, stream: str, *, include_hidden: bool = False) -> Iterator:
        """Every current record of a stream (``reader.current_records``: the latest captured version per id,
        tombstoned ids hidden), in capture order."""
        return iter(reader.current_records(self, stream, with_hidden=include_hidden))

    def ids(self, stream: str) -> set[str]:
        """Ids present in a stream (any version, tombstones not applied): cheap, decodes only the envelopes."""
        reader.stream_type(stream)
        out: set[str] = set()
        for _chunk, records in self.decoded_chunks(stream, schema.Envelope):
            out.update(r.id for r in records)
        return out

    def count(self, stream: str) -> int:
        """Current records of a stream (tombstoned ids hidden)."""
        return len(reader.current(self, stream, schema.Envelope))

    # ----- writing ----------------------------------------------------------------------------------------------
    def append(self, stream: str, records: Sequence[msgspec.Struct], *, message: str | None = None,
               level: int = APPEND_LEVEL, timeout: float | None = None) -> list[Chunk]:
        """Append records to a stream with one atomic ref update. Returns the chunks written (none if empty)."""
        return self.append_many({stream: records}, message=message, level=level, timeout=timeout)

    def append_many(self, batches: dict[str, Sequence[msgspec.Struct]], *, message: str | None = None,
                    level: int = APPEND_LEVEL, timeout: float | None = None) -> list[Chunk]:
        """Append to several streams; one ref update per ref touched (data, local)."""
        by_ref: dict[str, dict[str, bytes]] = {}
        written: list[Chunk] = []
        stamp = schema.now_iso()
        summary: dict[str, dict[str, int]] = {}
        for stream, records in batches.items():
            if not records:
                continue
            ref = ref_for_stream(stream)
            for rec in records:
                if not rec.captured_at:
                    rec.captured_at = stamp
            for raw, count in _pack(records):
                blob = self.repo.create_blob(compress(raw, level))
                name = content_name(raw, count)
                path = chunk_path(stream, name)
                by_ref.setdefault(ref, {})[path] = blob
                written.append(Chunk(stream, path, blob, 0))
                summary.setdefault(ref, {}).setdefault(stream, 0)
                summary[ref][stream] += count
        for ref, adds in by_ref.items():
            what = ", ".join(f"{n} {s}" for s, n in summary[ref].items())
            extra, removes, note = self._auto_compaction(ref)
            for path, oid in extra.items():
                adds.setdefault(path, oid)
            removes = [p for p in removes if p not in adds]
            self.update(ref, adds=adds, removes=removes, message=f"{message or 'append'}: {what}{note}",
                        timeout=timeout)
        return written

    def _auto_compaction(self, ref: str) -> tuple[dict[str, pygit2.Oid], list[str], str]:
        """Like `git gc --auto`: when ``ref`` holds more small chunks than ``ml.autoCompact`` (default 64, 0: off),
        merge them within this append's own ref update (chunks.plan_auto_compaction). The check reads only tree
        entries and object headers, and the maintenance module is imported only when a merge is due. A failure is
        logged, never raised: the append goes on without it."""
        try:
            threshold = config_int(self.repo, "ml.autoCompact", AUTO_COMPACT_DEFAULT)
            if threshold <= 0 or count_small_chunks(self.repo, self.tree(ref), stop_after=threshold) <= threshold:
                return {}, [], ""
            from git_ml.store.compact import plan_auto_compaction

            return plan_auto_compaction(self.repo, ref)
        except Exception as exc:  # noqa: BLE001 - maintenance must never cost an append
            try:
                from git_ml.store.spool import log

                log(self.repo, f"auto-compaction of {ref} skipped: {type(exc).__name__}: {exc}")
            except Exception:  # noqa: BLE001
                pass
            return {}, [], ""

    def update(self, ref: str, *, adds: dict[str, pygit2.Oid] | None = None, removes: Iterable[str] = (),
               message: str, new_root: bool = False, expect: pygit2.Oid | None | bool = False,
               timeout: float | None = None) -> pygit2.Oid:
        """Add/remove chunk paths under ``ref`` atomically (``update.update``: compare-and-swap with retry)."""
        return update_ref(self.repo, ref, adds=adds, removes=removes, message=message, new_root=new_root,
                          expect=expect, timeout=timeout, warn=self._warn)

    def swap(self, ref: str, new: pygit2.Oid, old: pygit2.Oid | None, message: str) -> bool:
        """Compare-and-swap ``ref`` from ``old`` to ``new`` once (``update.swap``)."""
        return swap(self.repo, ref, new, old, message)

    def ref_exists(self, ref: str = DATA_REF) -> bool:
        return self.tip(ref) is not None


def _pack(records: Sequence[msgspec.Struct]) -> Iterator[tuple[bytes, int]]:
    """Encode records into chunk-sized runs of JSON lines, dropping byte-identical duplicates."""
    seen: set[bytes] = set()
    buf: list[bytes] = []
    size = 0
    for rec in records:
        line = ENCODER.encode(rec)
        if line in seen:
            continue
        seen.add(line)
        if buf and size + len(line) + 1 > MAX_CHUNK_RAW:
            yield b"\n".join(buf) + b"\n", len(buf)
            buf, size = [], 0
        buf.append(line)
        size += len(line) + 1
    if buf:
        yield b"\n".join(buf) + b"\n", len(buf)


def _stderr_warning(message: str) -> None:
    sys.stderr.write(message + "\n")
