"""The reading pass of an export: every record version becomes its row at once, encoded into a spill file; memory
keeps one small entry (``Cand``) per record id, the current version's.

Records are read chunk by chunk and decoded in slices of a few MB, so even a 64 MB chunk is never all objects at
once. Which version of an id is current is the store's one rule (``git_ml.store.reader``): the later
``captured_at`` wins; on a tie, the stored line with the greater digest (the lines are read again only then);
tombstoned ids are left out; a chunk that does not decode is warned about and skipped (DECISIONS).

Rewrites are resolved here too (DECISIONS "Rewrites are resolved at read time"): a commit superseded by a recorded
rewrite is left out (counted as ``rewritten``), links to it count for the live commit, and a chat's commits name the
live commits.

On Linux with two cores a forked worker (``worker.py``) reads about half of the chunks of a large store into its own
spill file; the entries are merged by the same rule, so the output does not depend on who read what.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import msgspec

from git_ml.capture.links import LinkIndex
from git_ml.dataset.export import records as R
from git_ml.dataset.export import worker
from git_ml.dataset.export.options import ExportOptions
from git_ml.dataset.export.spill import Spill
from git_ml.dataset.export.versions import History, Ties, hidden_ids, live_history
from git_ml.errors import CorruptChunk
from git_ml.store.core import Store
from git_ml.store.objects import decoder, read_chunk, stored_size

SLICE_BYTES = 4 << 20  # JSON bytes decoded at a time: a 64 MB chunk never becomes 64 MB of objects at once
PARALLEL_MIN_RECORDS = 20_000  # below this, a second process costs more than it saves
KINDS = {"chat": ("chats", R.ChatIn), "commit": ("commits", R.CommitIn)}
_ENC = msgspec.json.Encoder()


class Cand(msgspec.Struct, gc=False):
    """What memory keeps per record version: small, created in C, invisible to the garbage collector."""

    captured_at: str
    ts: float
    digest: int  # hash of the (input, output, diff) triple, for dedup
    off: int  # where the row sits in its spill (-1: left out, see reason)
    n: int
    kind: str
    reason: str | None
    id: str
    src: int = 0  # which spill holds the row
    ci: int = 0  # its chunk: an index into the work list
    li: int = 0  # its line in that chunk (for a tie of capture times)


class Work(msgspec.Struct, gc=False):
    """One chunk to read: its kind, the chunk, its record count and stored bytes (which share out the work)."""

    kind: str
    chunk: object
    records: int
    size: int


def chunk_slices(store: Store, chunk, typ: type, size: int = SLICE_BYTES) -> Iterator[tuple[list, int]]:
    """(records, index of the first one's line) of one chunk, decoded in slices of about ``size`` bytes of lines. A
    chunk that cannot be read or decompressed is skipped with one warning (DECISIONS); a bad line skips the rest of
    its chunk, likewise."""
    dec = decoder(typ)
    try:
        data = read_chunk(store.repo, chunk)
    except CorruptChunk as exc:
        store.skip_corrupt(chunk, exc.detail)
        return
    raw = data.raw
    start = 0
    first = 0
    n = len(raw)
    while start < n:
        end = raw.find(b"\n", min(n, start + size))
        end = n if end < 0 else end + 1
        try:
            records = dec.decode_lines(raw[start:end])
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            store.skip_corrupt(chunk, str(exc).splitlines()[0] if str(exc) else type(exc).__name__, kept=first)
            return
        start = end
        yield records, first
        first += len(records)
    if data.damage:  # a frame cut short: the complete lines before the cut were read
        store.skip_corrupt(chunk, data.damage, kept=first)


def decoded_slices(store: Store, stream: str, typ: type, size: int = SLICE_BYTES) -> Iterator[list]:
    """The records of a stream, chunk by chunk, in slices (see ``chunk_slices``)."""
    for chunk in store.iter_chunks(stream):
        for records, _first in chunk_slices(store, chunk, typ, size):
            yield records


@dataclass
class Context:
    """What every row needs besides its own record: built once, before the pass (and shared by a forked worker)."""

    opts: ExportOptions
    weights: dict[str, float]
    hidden: dict[str, set[str]]
    links: LinkIndex
    ratings: dict[str, str]
    diffs: dict[str, tuple[str, int, int, int]]  # commit -> (captured_at, offset, length, redactions)
    diff_spill: Spill | None
    history: History
    usage: dict[str, R.Usage]  # linked chat -> its model and tokens (what its commits sum)
    warn: Callable[[str], None] | None = None


def build_context(store: Store, opts: ExportOptions, weights: dict[str, float], directory: str | None,
                  warn=None) -> Context:
    hidden = hidden_ids(store)
    history = live_history(store)
    links = (history.relink(lk) for lk in store.iter_records("links"))
    ctx = Context(opts, weights, hidden, LinkIndex(links),
                  R.latest_ratings(store.iter_records("feedback")) if "chat" in opts.types else {}, {}, None,
                  history, {}, warn)
    if "commit" in opts.types and ctx.links.by_chat:
        ctx.usage = linked_usage(store, ctx.links.by_chat.keys() - hidden.get("chats", set()))
    if opts.include_diffs and "commit" in opts.types:
        ctx.diff_spill = Spill(directory)
        gone = hidden.get("diffs", set())
        for recs in decoded_slices(store, "diffs", R.DiffIn):
            for d in recs:
                if d.id in gone:
                    continue
                cur = ctx.diffs.get(d.id)
                if cur is None or d.captured_at > cur[0]:
                    data = d.text.encode()
                    redacted = sum(d.redactions.values()) if d.redactions else 0
                    ctx.diffs[d.id] = (d.captured_at, ctx.diff_spill.add(data), len(data), redacted)
    return ctx


def linked_usage(store: Store, chats) -> dict[str, R.Usage]:
    """Model and token counts of the current version of each chat in ``chats``."""
    best: dict[str, R.UsageIn] = {}
    for recs in decoded_slices(store, "chats", R.UsageIn):
        for c in recs:
            if c.id in chats:
                cur = best.get(c.id)
                if cur is None or c.captured_at > cur.captured_at:
                    best[c.id] = c
    return {cid: R.usage_of(c) for cid, c in best.items()}


def excluded(ts: float, rating: str | None, opts: ExportOptions, min_rank: int | None) -> str | None:
    """Why a row is left out by the filters (None: it is not)."""
    if opts.since is not None and ts < opts.since:
        return "before_since"
    if opts.until is not None and ts >= opts.until:
        return "after_until"
    if rating is None and opts.exclude_unrated:
        return "unrated"
    if min_rank is not None and R.rating_rank(rating) < min_rank:
        return "below_min_rating"
    return None


class _Pass:
    """The rows of one process's share of the chunks, into its spill."""

    def __init__(self, store: Store, ctx: Context, spill: Spill, src: int, ties: Ties):
        self.store, self.ctx, self.spill, self.src, self.ties = store, ctx, spill, src, ties
        opts = ctx.opts
        self.min_rank = R.RANK[opts.min_rating] if opts.min_rating else None
        self.unrated_weight = R.weight_of(None, ctx.weights)
        self.filtered = (opts.since is not None or opts.until is not None or self.min_rank is not None
                         or opts.exclude_unrated)
        self.messages = opts.style == "messages"
        self.cands: dict[str, dict[str, Cand]] = {kind: {} for kind in KINDS}

    def chat(self, rec):
        ts = R.chat_ts(rec) or 0.0
        ctx = self.ctx
        rating = ctx.ratings.get(rec.id)
        commits = ctx.links.commits_of(rec.id)
        if rec.commits:
            commits = [*commits, *map(ctx.history.live, rec.commits)]
        return R.chat_row(rec, ts, rating, ctx.weights["unrated" if rating is None else rating], commits), ts, rating

    def commit(self, rec):
        ts = float(rec.time) if rec.time else R.commit_ts(rec)
        ctx = self.ctx
        rid = rec.id
        diff = None
        redacted = 0
        if ctx.diffs:
            d = ctx.diffs.get(rid)
            if d is not None:
                diff = ctx.diff_spill.get(d[1], d[2]).decode()
                redacted = d[3]
        links = ctx.links
        if rid in links.by_commit:
            chats = links.chats_of(rid)
            usage = R.usage_sum([ctx.usage[c] for c in chats if c in ctx.usage])
            row = R.commit_row(rec, ts, self.unrated_weight, chats, links.session_of(rid), diff,
                               R.change_summary(rec), redacted, usage)
        else:
            row = R.commit_row(rec, ts, self.unrated_weight, (), None, diff, R.change_summary(rec), redacted)
        return row, ts, None

    def reason(self, kind: str, row, ts: float, rating: str | None) -> str | None:
        inp, outp = row.input, row.output
        if kind == "commit":
            size = len(inp)
            blank = size <= 2 or (size <= 256 and R.raw_blank(inp))
        else:
            blank = not inp or inp.isspace()
        if blank or ((not outp or outp.isspace()) and not row.context.diff):
            return "empty"
        if self.filtered:
            return excluded(ts, rating, self.ctx.opts, self.min_rank)
        return None

    def run(self, work: list[tuple[int, Work]], advance: Callable[[int], None]) -> dict[str, dict[str, Cand]]:
        for ci, item in work:
            stream, typ = KINDS[item.kind]
            gone = self.ctx.hidden.get(stream, set())
            for recs, first in chunk_slices(self.store, item.chunk, typ):
                advance(len(recs))
                self.slice(item.kind, recs, ci, first, gone)
        return self.cands

    def slice(self, kind: str, recs: list, ci: int, first: int, gone: set[str]) -> None:
        mine = self.cands[kind]
        build = self.chat if kind == "chat" else self.commit
        superseded = self.ctx.history.superseded if kind == "commit" else None
        out = bytearray()  # this slice's rows, encoded in place and written to the spill in one go
        base = self.spill.size
        encode_into = _ENC.encode_into
        for li, rec in enumerate(recs, first):
            rid = rec.id
            if gone and rid in gone:
                continue
            cur = mine.get(rid)
            if cur is not None and rec.captured_at <= cur.captured_at and (
                    rec.captured_at < cur.captured_at or not self.ties.newer(rec.captured_at, ci, li, cur)):
                continue
            if superseded is not None and superseded(rid):
                mine[rid] = Cand(rec.captured_at, 0.0, 0, -1, 0, kind, "rewritten", rid, self.src, ci, li)
                continue
            row, ts, rating = build(rec)
            reason = self.reason(kind, row, ts, rating)
            if reason is not None:
                mine[rid] = Cand(rec.captured_at, ts, 0, -1, 0, kind, reason, rid, self.src, ci, li)
                continue
            start = len(out)
            encode_into(R.as_messages(row) if self.messages else row, out, -1)
            n = len(out) - start
            out.append(10)  # newline
            inp = bytes(row.input) if kind == "commit" else row.input  # hashable, for the dedup key
            mine[rid] = Cand(rec.captured_at, ts, hash((inp, row.output, row.context.diff)), base + start, n, kind,
                             None, rid, self.src, ci, li)
        if out:
            self.spill.add(out)


def work_list(store: Store, opts: ExportOptions) -> list[Work]:
    """Every chunk to read, with its records and stored bytes (decoding costs by the byte more than by the record,
    so bytes share the work between processes)."""
    out = []
    for kind in ("chat", "commit"):
        if kind in opts.types:
            stream, _typ = KINDS[kind]
            for chunk in store.iter_chunks(stream):
                size = stored_size(store.repo, chunk.oid)  # 0 when unreadable: chunk_slices warns about it
                out.append(Work(kind, chunk, chunk.count or 1, size))
    return out


def process(store: Store, ctx: Context, work: list[tuple[int, Work]], spill: Spill, src: int,
            advance: Callable[[int], None], ties: Ties) -> dict[str, dict[str, Cand]]:
    """Rows of the chunks in ``work`` ([(index, Work)]) into ``spill``; the current version's entry per id."""
    return _Pass(store, ctx, spill, src, ties).run(work, advance)


def _halves(work: list[Work]) -> tuple[list, list, int]:
    """Greedy halves by stored bytes: (mine, theirs, records of theirs)."""
    mine, theirs = [], []
    weight = [0, 0]
    load = 0
    for ci, item in sorted(enumerate(work), key=lambda w: -w[1].size):
        side = 0 if weight[0] <= weight[1] else 1
        (mine if side == 0 else theirs).append((ci, item))
        weight[side] += item.size
        if side:
            load += item.records
    return mine, theirs, load


def collect(store: Store, opts: ExportOptions, spills: list[Spill], weights: dict[str, float],
            advance: Callable[[int], None] = lambda n: None, jobs: int = 1, warn=None) -> dict[str, dict[str, Cand]]:
    """Pass over the store: every record's row into a spill; per type, one entry per id (its current version).

    With ``jobs`` 2 (Linux, a large store) a forked worker takes about half of the chunks into its own spill
    (``spills`` gets it appended) while this process does the rest; the entries are merged by version. The
    result does not depend on how the chunks were shared: the write phase sorts the rows."""
    ctx = build_context(store, opts, weights, spills[0].directory, warn)
    try:
        work = work_list(store, opts)
        ties = Ties(store, [w.chunk for w in work])
        total = sum(w.records for w in work)
        if jobs < 2 or total < PARALLEL_MIN_RECORDS or len(work) < 2 or not hasattr(os, "fork") \
                or not sys.platform.startswith("linux"):
            return process(store, ctx, list(enumerate(work)), spills[0], 0, advance, ties)
        mine, theirs, load = _halves(work)
        spills.append(Spill(spills[0].directory))
        spills[0].flush()
        spill, src = spills[-1], len(spills) - 1
        child = worker.start(store, spill, [ctx.diff_spill], ctx.warn,
                             lambda own: process(own, ctx, theirs, spill, src, lambda n: None, Ties(own, ties.chunks)))
        cands = process(store, ctx, mine, spills[0], 0, advance, ties)
        other, size, corrupt = worker.join(child)
        advance(load)
        spills[-1].size = size
        for entry in corrupt:
            if entry not in store.report.corrupt:
                store.report.corrupt.append(entry)
        merge(cands, other, ties)
        return cands
    finally:
        if ctx.diff_spill is not None:
            ctx.diff_spill.close()


def merge(cands: dict[str, dict[str, Cand]], other: dict[str, list[tuple]], ties: Ties) -> None:
    """Entries found by the worker into ``cands``, by the store's rule of versions."""
    for kind, entries in other.items():
        by_id = cands.setdefault(kind, {})
        for e in entries:
            c = Cand(*e)
            cur = by_id.get(c.id)
            if cur is None or c.captured_at > cur.captured_at or (
                    c.captured_at == cur.captured_at and ties.newer(c.captured_at, c.ci, c.li, cur)):
                by_id[c.id] = c
