"""Raw-line scans of chunks and the selection compaction keeps.

Everything here works on the *raw lines* of chunks: a record is decoded only to learn its id, capture time and sort
key (and to check it against its schema, as readers do), and is written back byte for byte. Fields written by a newer
version of git-ml therefore survive a compaction by an older one.

``select`` applies the read rule of ``git_ml.store.reader`` (``newer``: the latest captured version of an id wins,
ties broken by the digest of the stored line, byte-identical lines are one; ``hidden_from``: tombstoned ids go) to
the lines of a scan, so compaction keeps exactly what the reader returns; it orders what is left by capture (then
record time, then id: history order, which compresses best and is the same on every clone). ``pack_lines`` cuts it
into chunks whose cuts depend only on the lines, so two clones that compact the same records write the same chunk
names and their trees coincide on sync.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import msgspec
import pygit2

from git_ml import schema
from git_ml.errors import CorruptChunk
from git_ml.store.objects import MAX_CHUNK_RAW, Chunk, content_name, decoder, read_chunk, split_lines
from git_ml.store.reader import hidden_from, newer, no_gc

# ----- reading chunks as raw lines -----------------------------------------------------------------------------------
# A decoded line is a tuple whose natural order is the compaction order:
#   (captured_at, record time, id, chunk name, index in chunk, raw bytes, typed record)
# Capture order is history order (a backfill stores its commits oldest first in one capture); the record's own
# time and its id break ties so that the order does not depend on how the records were chunked.
CAPTURED, TIME, ID, NAME, INDEX, RAW, REC = range(7)


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


def scan_chunks(repo: pygit2.Repository, stream: str, chunks: Iterable[Chunk], *, check_names: bool = False,
                on_chunk: Callable[[Chunk], None] | None = None) -> StreamScan:
    """Decode chunks of one stream into lines. A chunk that does not decode (or, with ``check_names``, whose
    content does not match its name) lands in ``corrupt`` whole: the reader skips it whole too."""
    with no_gc():
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
            data = read_chunk(repo, chunk)
            if data.damage:
                raise CorruptChunk(chunk.path, data.damage, chunk.count)
            raw, stored = data.raw, data.stored
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
    """The lines the reader returns (``reader.newer``; byte-identical lines are one; ``hidden_ids`` left out), in
    compaction order, and what was dropped."""
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
        keep.sort(key=lambda ln: (ln[CAPTURED], ln[ID], ln[NAME], ln[INDEX]))
    sel.keep = keep
    return sel


_order = operator.itemgetter(CAPTURED, TIME, ID, NAME, INDEX)


def _line_newer(a: tuple, b: tuple) -> bool:
    return newer(a[CAPTURED], a[RAW], b[CAPTURED], b[RAW])


def hidden_by(tombstone_lines: Iterable[tuple]) -> dict[str, set[str]]:
    """Tombstoned ids per stream, from decoded tombstone lines (``reader.hidden_from``)."""
    return hidden_from(line[REC] for line in tombstone_lines)


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
