"""Export the store as training data: JSON Lines, CSV, Parquet or a Hugging Face dataset directory.

How it runs, in bounded memory:

1. **Read** each stream chunk by chunk (one decoded chunk in memory at a time). Every record version becomes its
   training row at once, encoded as one JSON line into a spill file on disk; memory keeps only a small entry per
   record id (capture time, row time, a hash of the input/output pair, where its row sits in the spill).
   A later version of an id replaces the entry, tombstoned ids are skipped, corrupt chunks are warned about and
   skipped (DECISIONS). Chunks are decoded in slices of a few MB, so even a 64 MB chunk is never all objects at
   once. On Linux with two cores a forked worker reads about half of the chunks of a large store into its own
   spill file; the entries are merged by version, and the output does not depend on who read what.
2. **Select**: filters (type, time, rating, empty rows), time order, dedup of identical input/output pairs (the
   earliest is kept, so a duplicate can never sit in a later split), then the time split: split boundaries fall
   between two whole seconds, so every row of a later split is strictly later than every row of an earlier one.
3. **Write** the selected lines, in time order, to temporary files beside the output, renamed into place at the end
   (a crash leaves the previous output untouched).
"""

from __future__ import annotations

import gc
import mmap
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from git_ml.capture.links import LinkIndex
from git_ml.dataset.export import records as R
from git_ml.dataset.export.options import FORMATS, STYLES, ExportOptions, parse_weights
from git_ml.errors import GitMlError
from git_ml.store.core import DATA_REF, Store

SHARD_BYTES = 256 << 20  # JSON bytes of rows per Parquet shard of a Hugging Face export
HF_MARKER = "# git-ml export"
_ENC = msgspec.json.Encoder()


@dataclass
class ExportResult:
    rows: int = 0
    outputs: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> type -> rows
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> records left out
    corrupt: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"rows": self.rows, "outputs": self.outputs, "counts": self.counts, "skipped": self.skipped,
                "corrupt_chunks": [list(c) for c in self.corrupt]}


# ----- the spill file ---------------------------------------------------------------------------------------------
class Spill:
    """Encoded rows in a temporary file, read back by (offset, length) through a memory map. The map's pages are
    given back every ``DROP_BYTES`` read (madvise), so the rows never pile up in the process's memory."""

    DROP_BYTES = 8 << 20

    def __init__(self, directory: str | None = None):
        self.directory = directory
        self._fh = tempfile.TemporaryFile(dir=directory, prefix=".git-ml-export-")
        self.size = 0
        self._map = None
        self._read = 0

    def add(self, data: bytes) -> int:
        off = self.size
        self._fh.write(data)
        self.size += len(data)
        return off

    def get(self, off: int, n: int) -> bytes:
        m = self._map
        if m is None or off + n > len(m):
            self._remap()
            m = self._map
        self._read += n
        if self._read >= self.DROP_BYTES:
            self._read = 0
            if hasattr(m, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
                m.madvise(mmap.MADV_DONTNEED)
        return m[off:off + n]

    def _remap(self) -> None:
        if self._map is not None and not isinstance(self._map, bytes):
            self._map.close()
        self._fh.flush()
        self._map = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ) if self.size else b""

    def close(self) -> None:
        if self._map is not None and not isinstance(self._map, bytes):
            self._map.close()
        self._fh.close()


# ----- reading ----------------------------------------------------------------------------------------------------
class _Cand(msgspec.Struct, gc=False):
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


SLICE_BYTES = 4 << 20  # JSON bytes decoded at a time: a 64 MB chunk never becomes 64 MB of objects at once
PARALLEL_MIN_RECORDS = 20_000  # below this, a second process costs more than it saves


def chunk_slices(store: Store, chunk, typ: type, size: int = SLICE_BYTES) -> Iterator[list]:
    """The records of one chunk, decoded in slices of about ``size`` bytes of lines. A chunk that cannot be read
    or decompressed is skipped with one warning (DECISIONS); a bad line skips the rest of its chunk, likewise."""
    import pygit2
    import zstandard

    from git_ml.store.core import decoder, decompress

    dec = decoder(typ)
    try:
        raw = decompress(store.repo[chunk.oid].read_raw())
    except (KeyError, pygit2.GitError, zstandard.ZstdError) as exc:
        store._skip_corrupt(chunk, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return
    start = 0
    n = len(raw)
    while start < n:
        end = raw.find(b"\n", min(n, start + size))
        end = n if end < 0 else end + 1
        try:
            records = dec.decode_lines(raw[start:end])
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            store._skip_corrupt(chunk, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return
        start = end
        yield records


def decoded_slices(store: Store, stream: str, typ: type, size: int = SLICE_BYTES) -> Iterator[list]:
    """The records of a stream, chunk by chunk, in slices (see ``chunk_slices``)."""
    for chunk in store.iter_chunks(stream):
        yield from chunk_slices(store, chunk, typ, size)


def _tombstoned(store: Store) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for t in store.iter_records("tombstones"):
        out.setdefault(t.stream, set()).add(t.target)
    return out


_KINDS = {"chat": ("chats", R.ChatIn), "commit": ("commits", R.CommitIn)}


@dataclass
class _Context:
    """What every row needs besides its own record: built once, before the pass (and shared by a forked worker)."""

    opts: ExportOptions
    weights: dict[str, float]
    hidden: dict[str, set[str]]
    links: LinkIndex
    ratings: dict[str, str]
    diffs: dict[str, tuple[str, int, int]]
    diff_spill: "Spill | None"


def _context(store: Store, opts: ExportOptions, weights: dict[str, float], directory: str | None) -> _Context:
    hidden = _tombstoned(store)
    ctx = _Context(opts, weights, hidden, LinkIndex(store.iter_records("links")),
                   R.latest_ratings(store.iter_records("feedback")) if "chat" in opts.types else {}, {}, None)
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
                    ctx.diffs[d.id] = (d.captured_at, ctx.diff_spill.add(data), len(data))
    return ctx


def _process(store: Store, ctx: _Context, work: list, spill: Spill, src: int,
             advance: Callable[[int], None]) -> dict[str, dict[str, _Cand]]:
    """Rows of the chunks in ``work`` ([(kind, chunk)]) into ``spill``; the latest version's entry per id."""
    opts, weights, links, ratings, diffs = ctx.opts, ctx.weights, ctx.links, ctx.ratings, ctx.diffs
    min_rank = R.RANK[opts.min_rating] if opts.min_rating else None
    unrated_weight = R.weight_of(None, weights)
    by_commit = links.by_commit
    has_links = bool(by_commit)
    style_messages = opts.style == "messages"
    encode_into = _ENC.encode_into
    filtered = opts.since is not None or opts.until is not None or min_rank is not None or opts.exclude_unrated
    chat_row, commit_row, summary_of = R.chat_row, R.commit_row, R.change_summary
    cands: dict[str, dict[str, _Cand]] = {kind: {} for kind in _KINDS}  # type -> id -> latest version's entry
    for kind, chunk in work:
        stream, typ = _KINDS[kind]
        gone = ctx.hidden.get(stream, set())
        mine = cands[kind]
        for recs in chunk_slices(store, chunk, typ):
            advance(len(recs))
            out = bytearray()  # this slice's rows, encoded in place and written to the spill in one go
            base = spill.size
            for rec in recs:
                rid = rec.id
                if gone and rid in gone:
                    continue
                cur = mine.get(rid)
                if cur is not None and rec.captured_at < cur.captured_at:
                    continue
                if kind == "chat":
                    ts = R.chat_ts(rec) or 0.0
                    rating = ratings.get(rid)
                    row = chat_row(rec, ts, rating, weights["unrated" if rating is None else rating],
                                   links.commits_of(rid))
                else:
                    ts = float(rec.time) if rec.time else R.commit_ts(rec)
                    rating = None
                    diff = None
                    if diffs:
                        d = diffs.get(rid)
                        if d is not None:
                            diff = ctx.diff_spill.get(d[1], d[2]).decode()
                    if has_links and rid in by_commit:
                        row = commit_row(rec, ts, unrated_weight, links.chats_of(rid), links.session_of(rid), diff,
                                         summary_of(rec))
                    else:
                        row = commit_row(rec, ts, unrated_weight, (), None, diff, summary_of(rec))
                inp, outp = row.input, row.output
                if kind == "commit":
                    size = len(inp)
                    blank = size <= 2 or (size <= 256 and R.raw_blank(inp))
                    inp = bytes(inp)  # hashable, for the dedup key
                else:
                    blank = not inp or inp.isspace()
                if blank or ((not outp or outp.isspace()) and not row.context.diff):
                    reason = "empty"
                elif filtered:
                    reason = _excluded(ts, rating, opts, min_rank)
                else:
                    reason = None
                if reason is not None:
                    if cur is None or rec.captured_at > cur.captured_at:
                        mine[rid] = _Cand(rec.captured_at, ts, 0, -1, 0, kind, reason, rid, src)
                    continue
                start = len(out)
                encode_into(R.as_messages(row) if style_messages else row, out, -1)
                n = len(out) - start
                if cur is not None and rec.captured_at == cur.captured_at and cur.off >= 0:
                    # Same capture time, other content (abnormal): keep one deterministically.
                    prev = spill.get(cur.off, cur.n) if cur.off < base else bytes(out[cur.off - base:
                                                                                     cur.off - base + cur.n])
                    if bytes(out[start:]) <= prev:
                        del out[start:]
                        continue
                out.append(10)  # newline
                mine[rid] = _Cand(rec.captured_at, ts, hash((inp, outp, row.context.diff)), base + start, n, kind,
                                  None, rid, src)
            if out:
                spill.add(out)
    return cands


def _work(store: Store, opts: ExportOptions) -> list[tuple[str, object, int, int]]:
    """(kind, chunk, records, stored bytes) of every chunk to read; the bytes share the work between processes
    (decoding costs by the byte more than by the record)."""
    from git_ml.store.core import chunk_stored_size

    out = []
    for kind in ("chat", "commit"):
        if kind in opts.types:
            stream, _typ = _KINDS[kind]
            for chunk in store.iter_chunks(stream):
                try:
                    size = chunk_stored_size(store.repo, chunk.oid)
                except Exception:  # unreadable: chunk_slices warns about it
                    size = 0
                out.append((kind, chunk, chunk.count or 1, size))
    return out


def _newer(a: _Cand, b: _Cand, spills: list[Spill]) -> bool:
    """Whether entry ``a`` is a later version than ``b`` (same id, found by different workers)."""
    if a.captured_at != b.captured_at:
        return a.captured_at > b.captured_at
    if a.off < 0 or b.off < 0:
        return b.off < 0 and a.off >= 0
    return spills[a.src].get(a.off, a.n) > spills[b.src].get(b.off, b.n)


def collect(store: Store, opts: ExportOptions, spills: list[Spill], weights: dict[str, float],
            advance: Callable[[int], None] = lambda n: None, jobs: int = 1) -> dict[str, dict[str, _Cand]]:
    """Pass over the store: every record's row into a spill; per type, one entry per id (its latest version).

    With ``jobs`` 2 (Linux, a large store) a forked worker takes about half of the chunks into its own spill
    (``spills`` gets it appended) while this process does the rest; the entries are merged by version. The
    result does not depend on how the chunks were shared: the write phase sorts the rows."""
    ctx = _context(store, opts, weights, spills[0].directory)
    try:
        work = _work(store, opts)
        total = sum(w[2] for w in work)
        if jobs < 2 or total < PARALLEL_MIN_RECORDS or len(work) < 2 or not hasattr(os, "fork") \
                or not sys.platform.startswith("linux"):
            return _process(store, ctx, [(k, c) for k, c, _n, _b in work], spills[0], 0, advance)
        mine, theirs = [], []
        weight = [0, 0]
        load = [0, 0]
        for kind, chunk, n, size in sorted(work, key=lambda w: -w[3]):  # greedy halves by stored bytes
            side = 0 if weight[0] <= weight[1] else 1
            (mine if side == 0 else theirs).append((kind, chunk))
            weight[side] += size
            load[side] += n
        spills.append(Spill(spills[0].directory))
        spills[0]._fh.flush()
        child = _fork_worker(store, ctx, theirs, spills[-1], len(spills) - 1)
        cands = _process(store, ctx, mine, spills[0], 0, advance)
        other, size, corrupt = _join_worker(child)
        advance(load[1])
        spills[-1].size = size
        for entry in corrupt:
            if entry not in store.report.corrupt:
                store.report.corrupt.append(entry)
        for kind, entries in other.items():
            by_id = cands.setdefault(kind, {})
            for e in entries:
                c = _Cand(*e)
                cur = by_id.get(c.id)
                if cur is None or _newer(c, cur, spills):
                    by_id[c.id] = c
        return cands
    finally:
        if ctx.diff_spill is not None:
            ctx.diff_spill.close()


def _fork_worker(store: Store, ctx: _Context, work: list, spill: Spill, src: int) -> tuple[int, int]:
    """Start a child process that runs ``_process`` over ``work``; its result comes back through a pipe."""
    import pickle

    import pygit2

    rfd, wfd = os.pipe()
    # Nothing buffered may be inherited: the child would write it a second time through the shared descriptors.
    sys.stdout.flush()
    sys.stderr.flush()
    for shared in (ctx.diff_spill, spill):
        if shared is not None:
            shared._fh.flush()
    pid = os.fork()
    if pid == 0:  # the worker: never returns
        code = 0
        try:
            os.close(rfd)
            # Its own repository handle: nothing of libgit2's state is shared with the parent.
            own = Store(pygit2.Repository(store.repo.path), warn=store._warn)
            cands = _process(own, ctx, work, spill, src, lambda n: None)
            spill._fh.flush()
            entries = {kind: [(c.captured_at, c.ts, c.digest, c.off, c.n, c.kind, c.reason, c.id, c.src)
                              for c in by_id.values()] for kind, by_id in cands.items()}
            payload = pickle.dumps(("ok", entries, spill.size, own.report.corrupt), protocol=5)
        except BaseException as exc:  # reported by the parent as one line
            payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"), protocol=5)
            code = 1
        try:
            with os.fdopen(wfd, "wb") as fh:
                fh.write(payload)
        finally:
            os._exit(code)
    os.close(wfd)
    return pid, rfd


def _join_worker(child: tuple[int, int]):
    import pickle

    pid, rfd = child
    with os.fdopen(rfd, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    try:
        result = pickle.loads(data)
    except Exception:
        raise GitMlError("the export worker process died (see the messages above)") from None
    if result[0] != "ok":
        raise GitMlError(f"export worker failed: {result[1]}")
    return result[1], result[2], result[3]


def _excluded(ts: float, rating: str | None, opts: ExportOptions, min_rank: int | None) -> str | None:
    if opts.since is not None and ts < opts.since:
        return "before_since"
    if opts.until is not None and ts >= opts.until:
        return "after_until"
    if rating is None and opts.exclude_unrated:
        return "unrated"
    if min_rank is not None and R.rating_rank(rating) < min_rank:
        return "below_min_rating"
    return None


def select(cands: dict, opts: ExportOptions, skipped: dict[str, int]) -> dict[str, list[_Cand]]:
    """Filtered, deduplicated rows in time order, cut into the splits (later splits strictly later)."""
    live = []
    for c in (c for by_id in cands.values() for c in by_id.values()):
        if c.reason is not None:
            skipped[c.reason] = skipped.get(c.reason, 0) + 1
        else:
            live.append(c)
    live.sort(key=lambda c: (c.ts, c.kind, c.id))
    if opts.dedup:
        seen: set[int] = set()
        kept = []
        for c in live:
            if c.digest in seen:
                skipped["duplicate"] = skipped.get("duplicate", 0) + 1
                continue
            seen.add(c.digest)
            kept.append(c)
        live = kept
    splits = opts.splits or [("train", 1.0)]
    out: dict[str, list[_Cand]] = {}
    n = len(live)
    start = 0
    cum = 0.0
    for i, (name, frac) in enumerate(splits):
        cum += frac
        end = n if i == len(splits) - 1 else max(start, min(n, round(cum * n)))
        # Never cut inside one second: the rows of a later split are strictly later.
        while 0 < end < n and int(live[end].ts) == int(live[end - 1].ts):
            end += 1
        out[name] = live[start:end]
        start = end
    return out


# ----- writing ----------------------------------------------------------------------------------------------------
def _split_path(output: Path, split: str, many: bool) -> Path:
    if not many:
        return output
    suffix = "".join(output.suffixes[-1:])
    stem = output.name[: len(output.name) - len(suffix)] if suffix else output.name
    return output.with_name(f"{stem}.{split}{suffix}")


def _temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _check_hf_target(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise GitMlError(f"{path} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()):
        readme = path / "README.md"
        try:
            ours = HF_MARKER in readme.read_text(encoding="utf-8", errors="replace")
        except OSError:
            ours = False
        if not ours:
            raise GitMlError(f"{path} is not empty and not a git-ml export: choose another --output")


def _lines(spills: list[Spill], rows: list[_Cand], advance) -> Iterator[bytes]:
    if len(spills) == 1:
        get = spills[0].get
        for c in rows:
            advance(1)
            yield get(c.off, c.n)
        return
    for c in rows:
        advance(1)
        yield spills[c.src].get(c.off, c.n)


def export(repo, output: str, opts: ExportOptions, *, progress: Callable[[str, int | None], object] | None = None,
           warn=None) -> ExportResult:
    """Export the store of ``repo`` to ``output`` (``-``: standard output, JSONL or CSV without splits)."""
    # The pass creates millions of small acyclic objects: the cyclic collector would rescan them all, again and
    # again (it tripled the time on git.git). Nothing here makes cycles, so it waits until the end.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _export(repo, output, opts, progress=progress, warn=warn)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        raise GitMlError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        if enabled:
            gc.enable()


def _export(repo, output: str, opts: ExportOptions, *, progress, warn) -> ExportResult:
    if opts.fmt not in FORMATS:
        raise GitMlError(f"unknown format {opts.fmt!r}: expected one of {', '.join(FORMATS)}")
    if opts.style not in STYLES:
        raise GitMlError(f"unknown style {opts.style!r}: expected records or messages")
    if opts.min_rating is not None and opts.min_rating not in R.RANK:
        raise GitMlError(f"--min-rating must be bad, neutral or good (not {opts.min_rating!r})")
    if opts.since is not None and opts.until is not None and opts.since >= opts.until:
        raise GitMlError("--since must be earlier than --until")
    to_stdout = output == "-"
    if to_stdout and (opts.fmt not in ("jsonl", "csv") or (opts.splits and len(opts.splits) > 1)):
        raise GitMlError("--output - (standard output) takes jsonl or csv without --split")
    if opts.fmt in ("parquet", "hf"):
        # Checked now, imported after the reading pass (which may fork: no Arrow threads may exist by then).
        from git_ml.dataset.export.writers import check_pyarrow

        check_pyarrow()
    out_path = Path(output).expanduser() if not to_stdout else None
    if out_path is not None:
        parent = out_path.resolve().parent
        if not parent.is_dir():
            raise GitMlError(f"directory {parent} does not exist")
        if opts.fmt == "hf":
            _check_hf_target(out_path)
        elif out_path.is_dir():
            raise GitMlError(f"{out_path} is a directory: --format {opts.fmt} writes a file")
    weights = {k: float(v) for k, v in (opts.weights if opts.weights is not None
                                        else parse_weights(None, repo)).items()}
    missing = set(R.DEFAULT_WEIGHTS) - set(weights)
    if missing:
        raise GitMlError(f"weights missing for: {', '.join(sorted(missing))}")

    store = Store(repo, warn=warn) if warn is not None else Store(repo)
    result = ExportResult()
    total = 0
    for kind, stream in (("chat", "chats"), ("commit", "commits")):
        if kind in opts.types:
            total += sum(c.count or 0 for c in store.iter_chunks(stream))
    bar = progress("export: reading", total or None) if progress else None
    spills = [Spill(str(out_path.resolve().parent) if out_path is not None else None)]
    temps: list[Path] = []
    try:
        jobs = opts.jobs if opts.jobs > 0 else min(2, os.cpu_count() or 1)
        cands = collect(store, opts, spills, weights, bar.advance if bar else (lambda n: None), jobs=jobs)
        if bar:
            bar.close()
        schema = None
        if opts.fmt in ("parquet", "hf"):
            from git_ml.dataset.export.writers import require_pyarrow

            require_pyarrow()
            schema = R.arrow_schema(opts.style)
        chosen = select(cands, opts, result.skipped)
        del cands
        for split, rows in chosen.items():
            counts = result.counts.setdefault(split, {"chat": 0, "commit": 0})
            for c in rows:
                counts[c.kind] += 1
        result.rows = sum(len(rows) for rows in chosen.values())
        result.corrupt = list(store.report.corrupt)
        wbar = progress("export: writing", result.rows or None) if progress else None
        advance = wbar.advance if wbar else (lambda n: None)
        if to_stdout:
            rows = next(iter(chosen.values()))
            _write_file(sys.stdout.buffer, opts, schema, _lines(spills, rows, advance), None)
            sys.stdout.buffer.flush()
            result.outputs = ["-"]
        elif opts.fmt == "hf":
            result.outputs = [str(_write_hf(out_path, opts, schema, chosen, spills, advance, store, result, temps))]
        else:
            many = len(chosen) > 1
            finals = []
            for split, rows in chosen.items():
                final = _split_path(out_path, split, many)
                tmp = _temp_beside(final)
                temps.append(tmp)
                if opts.fmt == "parquet":
                    from git_ml.dataset.export.writers import write_parquet

                    write_parquet(str(tmp), schema, _lines(spills, rows, advance))
                else:
                    # No fsync: the rename makes the new file appear whole or not at all, which is what an
                    # export needs (it can be run again); syncing 100 MB would cost more than the export.
                    with open(tmp, "wb") as fh:
                        _write_file(fh, opts, schema, _lines(spills, rows, advance), None)
                finals.append((tmp, final))
            for tmp, final in finals:
                os.replace(tmp, final)
                temps.remove(tmp)
            result.outputs = [str(f) for _, f in finals]
        if wbar:
            wbar.close()
    finally:
        for spill in spills:
            spill.close()
        for tmp in temps:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                try:
                    tmp.unlink()
                except OSError:
                    pass
    return result


def _write_file(fh, opts: ExportOptions, schema, lines: Iterator[bytes], _unused) -> int:
    from git_ml.dataset.export.writers import write_csv, write_jsonl

    if opts.fmt == "csv":
        return write_csv(fh, opts.style, lines)
    return write_jsonl(fh, lines)


def _write_hf(out_path: Path, opts: ExportOptions, schema, chosen: dict[str, list[_Cand]], spills: list[Spill], advance,
              store: Store, result: ExportResult, temps: list[Path]) -> Path:
    """A directory `datasets.load_dataset` reads: data/<split>-NNNNN-of-NNNNN.parquet and README.md."""
    from git_ml.dataset.export.card import render_card
    from git_ml.dataset.export.writers import write_parquet

    tmp = _temp_beside(out_path)
    if tmp.exists():
        shutil.rmtree(tmp)
    temps.append(tmp)
    (tmp / "data").mkdir(parents=True)
    shards: dict[str, list[str]] = {}
    for split, rows in chosen.items():
        groups: list[list[_Cand]] = [[]]
        size = 0
        for c in rows:
            if size and size + c.n > SHARD_BYTES:
                groups.append([])
                size = 0
            groups[-1].append(c)
            size += c.n
        names = []
        for i, group in enumerate(groups):
            name = f"data/{split}-{i:05d}-of-{len(groups):05d}.parquet"
            write_parquet(str(tmp / name), schema, _lines(spills, group, advance))
            names.append(name)
        shards[split] = names
    tip = store.tip(DATA_REF)
    from git_ml.schema import now_iso

    card = render_card(schema, opts.style, shards, result.counts, opts.describe(),
                       {"exported_at": now_iso()[:19] + "Z", "data_tip": str(tip) if tip else None})
    (tmp / "README.md").write_text(card, encoding="utf-8")
    old = None
    if out_path.exists():
        old = out_path.with_name(f".{out_path.name}.old-{os.getpid()}")
        os.replace(out_path, old)
    os.replace(tmp, out_path)
    temps.remove(tmp)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out_path
