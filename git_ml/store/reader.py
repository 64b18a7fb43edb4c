"""The one reader: the current version of every id in a stream, tombstones applied.

The rule, for every command (stats, reports, retention, export, explore's index, contribute, predict, sync,
repair) and for compaction, which keeps exactly the lines this reader returns:

- **The latest captured version of an id wins**: the greater ``captured_at`` (ISO-8601 UTC text, so text order is
  time order).
- **Tie-break**: on equal ``captured_at``, the version whose stored JSON line has the greater
  ``blake2b(line, digest_size=8)`` digest wins. The digest depends only on the stored bytes, so every clone and
  every command picks the same winner whatever the chunk order.
- **Byte-identical lines are one version** (stored once by content; a copy in another chunk changes nothing).
- **Tombstones hide**: an id named by a tombstone of its stream (``tombstones`` stream: ``stream``, ``target``) is
  left out (``with_hidden=True`` keeps it). Tombstones themselves are never hidden.

Records are decoded with the caller's msgspec view (any Struct with ``id`` and ``captured_at``; fields it does not
name are skipped by msgspec, which is what keeps stats and exports fast). Raw lines are looked at only on a
``captured_at`` tie: the chunk of the earlier winner is then read again, so raw lines are never all held.

A chunk that does not decode is skipped whole with one warning (``store.skip_corrupt``); a chunk whose zstd frame
ends early keeps the complete lines before the cut and is reported as corrupt too.

``store`` is any object with ``repo``, ``iter_chunks(stream)`` and ``skip_corrupt(chunk, detail, kept=0)``
(``git_ml.store.core.Store``).
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import hashlib
import operator
from collections.abc import Iterable, Iterator

import msgspec

from git_ml import schema
from git_ml.errors import CorruptChunk, GitMlError
from git_ml.store.objects import Chunk, decoder, read_chunk


def digest(line: bytes) -> bytes:
    """The tie-break key of a stored line."""
    return hashlib.blake2b(line, digest_size=8).digest()


def newer(captured_a: str, line_a: bytes, captured_b: str, line_b: bytes) -> bool:
    """True when version a beats version b (see the module docstring). Byte-identical lines are one version: never
    newer than each other."""
    if captured_a != captured_b:
        return captured_a > captured_b
    if line_a == line_b:
        return False
    return digest(line_a) > digest(line_b)


def stream_type(stream: str) -> type:
    typ = schema.ALL_STREAMS.get(stream)
    if typ is None:
        raise GitMlError(f"unknown stream: {stream}")
    return typ


def _lines(raw: bytes) -> list[bytes]:
    """The record lines of a chunk, as ``decode_lines`` sees them (blank lines skipped)."""
    return [line for line in raw.split(b"\n") if line.strip()]


def decode_chunk(store, chunk: Chunk, view: type) -> tuple[list, bytes] | None:
    """(records decoded as ``view``, raw bytes) of one chunk; None (after a warning) when it does not decode."""
    try:
        data = read_chunk(store.repo, chunk)
    except CorruptChunk as exc:
        store.skip_corrupt(chunk, exc.detail)
        return None
    try:
        records = decoder(view).decode_lines(data.raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        store.skip_corrupt(chunk, f"bad record: {str(exc).splitlines()[0] if str(exc) else exc!r}")
        return None
    if data.damage:
        store.skip_corrupt(chunk, data.damage, kept=len(records))
    return records, data.raw


@contextlib.contextmanager
def no_gc():
    """Decoding tens of thousands of records allocates containers only, none of them cyclic: the cyclic collector
    would run hundreds of times for nothing (measured: typed decode of the git.git records 0.49 s -> 0.19 s)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Winners:
    """One pass over a stream: the winning version of each id and where it was (a position counting the records
    of the decoded chunks in order; ``place`` turns it into chunk number and index)."""

    def __init__(self, store, stream: str, view: type):
        self.store = store
        self.view = view
        self.chunks: list[Chunk] = []
        self.starts: list[int] = []  # position of each chunk's first record
        self.best: dict[str, object] = {}
        self.where: dict[str, int] = {}
        self._cached: tuple[int, list[bytes]] | None = None
        total = 0
        with no_gc():
            for chunk in store.iter_chunks(stream):
                got = decode_chunk(store, chunk, view)
                if got is None:
                    continue
                self.chunks.append(chunk)
                self.starts.append(total)
                self._add(total, *got)
                total += len(got[0])

    def place(self, pos: int) -> tuple[int, int]:
        ci = bisect.bisect_right(self.starts, pos) - 1
        return ci, pos - self.starts[ci]

    def _add(self, start: int, records: list, raw: bytes) -> None:
        best, where = self.best, self.where
        ids = [r.id for r in records]
        if best.keys().isdisjoint(ids) and len(set(ids)) == len(ids):  # the common case: no id seen before
            best.update(zip(ids, records))
            where.update(zip(ids, range(start, start + len(ids))))
            return
        lines: list[bytes] | None = None
        for i, rec in enumerate(records):
            rid = rec.id
            old = best.get(rid)
            if old is None:
                best[rid] = rec
                where[rid] = start + i
                continue
            if rec.captured_at != old.captured_at:
                if rec.captured_at > old.captured_at:
                    best[rid] = rec
                    where[rid] = start + i
                continue
            if lines is None:
                lines = _lines(raw)
            opos = where[rid]
            old_line = lines[opos - start] if opos >= start else self._line(opos)
            if newer(rec.captured_at, lines[i], old.captured_at, old_line):
                best[rid] = rec
                where[rid] = start + i

    def _line(self, pos: int) -> bytes:
        """A stored line of an earlier chunk, read again (ties are rare; the last chunk read is kept)."""
        ci, i = self.place(pos)
        if self._cached is None or self._cached[0] != ci:
            self._cached = (ci, _lines(read_chunk(self.store.repo, self.chunks[ci]).raw))
        return self._cached[1][i]


def hidden_from(tombstones: Iterable) -> dict[str, set[str]]:
    """The rule of tombstones: each hides its ``target`` id in its ``stream``."""
    out: dict[str, set[str]] = {}
    for t in tombstones:
        stream = getattr(t, "stream", "")
        target = getattr(t, "target", "")
        if stream and target and stream != "tombstones":
            out.setdefault(stream, set()).add(target)
    return out


def hidden_ids(store) -> dict[str, set[str]]:
    """Tombstoned ids per stream (from the current tombstones)."""
    return hidden_from(current(store, "tombstones", schema.Tombstone).values())


def current(store, stream: str, view: type | None = None, *, with_hidden: bool = False,
            hidden: dict[str, set[str]] | None = None) -> dict:
    """id -> the current version of each id of ``stream``, decoded as ``view`` (default: the stream's schema type);
    tombstoned ids left out unless ``with_hidden``. ``hidden`` passes tombstones already read (``hidden_ids``)."""
    view = view or stream_type(stream)
    stream_type(stream)
    best = _Winners(store, stream, view).best
    if not with_hidden and stream != "tombstones":
        gone = (hidden if hidden is not None else hidden_ids(store)).get(stream)
        if gone:
            for rid in gone & best.keys():
                del best[rid]
    return best


capture_key = operator.attrgetter("captured_at", "id")  # capture order: captured_at, then id


def current_records(store, stream: str, view: type | None = None, *, with_hidden: bool = False,
                    hidden: dict[str, set[str]] | None = None) -> list:
    """The current versions in capture order (captured_at, then id)."""
    recs = list(current(store, stream, view, with_hidden=with_hidden, hidden=hidden).values())
    recs.sort(key=capture_key)
    return recs


def iter_current(store, stream: str, view: type | None = None, *, with_hidden: bool = False,
                 hidden: dict[str, set[str]] | None = None) -> Iterator[list]:
    """The current versions chunk by chunk (chunk order, stored order within a chunk), holding only ids and places
    in memory besides one decoded chunk: a first pass decodes the envelopes (id, captured_at), the second decodes
    each chunk as ``view`` and yields its winners."""
    view = view or stream_type(stream)
    stream_type(stream)
    first = _Winners(store, stream, schema.Envelope)
    gone = set()
    if not with_hidden and stream != "tombstones":
        gone = (hidden if hidden is not None else hidden_ids(store)).get(stream, set())
    keep: dict[int, list[int]] = {}
    for rid, pos in first.where.items():
        if rid not in gone:
            ci, i = first.place(pos)
            keep.setdefault(ci, []).append(i)
    del first.best, first.where
    dec = decoder(view)
    for ci, chunk in enumerate(first.chunks):
        wanted = keep.get(ci)
        if not wanted:
            continue
        try:
            records = dec.decode_lines(read_chunk(store.repo, chunk).raw)
        except (CorruptChunk, msgspec.DecodeError, msgspec.ValidationError) as exc:
            store.skip_corrupt(chunk, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            continue
        wanted.sort()
        yield [records[i] for i in wanted]
