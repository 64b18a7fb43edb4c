"""The store: zstd-compressed JSON Lines chunks in git objects under ``refs/ml/data`` and ``refs/ml/local``.

Layout of the commit a store ref points at::

    <stream>/<fan-out: 2 hex>/<content hash>.<record count>.jsonl.zst

The chunk name is a hash of its uncompressed lines, so two clones holding the same records hold the same path and
their trees merge by union. Fan-out keeps every tree an append rewrites small (O(chunks / 256)), and automatic
compaction (``chunks.py``) keeps the count of small chunks bounded.

Appends build blob, trees and commit first and then move the ref with compare-and-swap inside a libgit2 reference
transaction: a crash at any point leaves the previous tip, and so the previous state, intact. Reading applies the
data model of DECISIONS.md: byte-identical lines count once, a later version of an id hides earlier ones, and
tombstoned ids are hidden.
"""

from __future__ import annotations

import hashlib
import random
import sys
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import msgspec
import pygit2
import zstandard

from git_ml import schema
from git_ml.errors import CorruptChunk, GitMlError, StoreBusy
from git_ml.repo import common_dir, config_int

DATA_REF = "refs/ml/data"
LOCAL_REF = "refs/ml/local"
CHUNK_SUFFIX = ".jsonl.zst"
APPEND_LEVEL = 3  # appends are small and on the hook's path: fast beats tight
SIGNATURE_NAME = "git-ml"
SIGNATURE_EMAIL = "git-ml@localhost"
# A chunk blob stays far below what hosting services reject (GitHub: 100 MB hard, 50 MB warning).
MAX_CHUNK_RAW = 64 << 20
SMALL_CHUNK_BYTES = 256 << 10  # stored bytes below which a chunk counts as small (automatic compaction)
AUTO_COMPACT_DEFAULT = 64  # small chunks in a ref beyond which an append merges them (ml.autoCompact; 0: never)

_ENCODER = msgspec.json.Encoder()
_DECODERS: dict[type, msgspec.json.Decoder] = {}
_ENVELOPE_DECODER = msgspec.json.Decoder(schema.Envelope)


def decoder(typ: type) -> msgspec.json.Decoder:
    dec = _DECODERS.get(typ)
    if dec is None:
        dec = _DECODERS[typ] = msgspec.json.Decoder(typ)
    return dec


def ref_for_stream(stream: str) -> str:
    if stream in schema.LOCAL_STREAMS:
        return LOCAL_REF
    if stream in schema.DATA_STREAMS:
        return DATA_REF
    raise GitMlError(f"unknown stream: {stream}")


def content_name(raw: bytes, count: int) -> str:
    digest = hashlib.blake2b(raw, digest_size=20).hexdigest()
    return f"{digest}.{count}{CHUNK_SUFFIX}"


def chunk_path(stream: str, name: str) -> str:
    return f"{stream}/{name[:2]}/{name}"


def parse_count(name: str) -> int | None:
    """Record count encoded in a chunk name (``<hash>.<count>.jsonl.zst``)."""
    stem = name[: -len(CHUNK_SUFFIX)] if name.endswith(CHUNK_SUFFIX) else name
    _, _, count = stem.rpartition(".")
    return int(count) if count.isdigit() else None


@dataclass(frozen=True, slots=True)
class Chunk:
    stream: str
    path: str  # path inside the store tree
    oid: pygit2.Oid
    size: int  # stored (compressed) bytes

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def count(self) -> int | None:
        return parse_count(self.name)


@dataclass(slots=True)
class ReadReport:
    """What a read skipped: corrupt chunks (path, records lost) are warned about and counted, never fatal."""

    corrupt: list[tuple[str, int | None, str]] = field(default_factory=list)


def encode_lines(records: Iterable[msgspec.Struct]) -> bytes:
    return _ENCODER.encode_lines(list(records))


def compress(raw: bytes, level: int = APPEND_LEVEL) -> bytes:
    return zstandard.ZstdCompressor(level=level).compress(raw)


def decompress(data: bytes) -> bytes:
    dctx = zstandard.ZstdDecompressor()
    try:
        return dctx.decompress(data)
    except zstandard.ZstdError:
        # Frames written without a content size need the streaming reader.
        return dctx.decompressobj().decompress(data)


def split_lines(raw: bytes) -> list[bytes]:
    lines = raw.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return lines


def signature() -> pygit2.Signature:
    return pygit2.Signature(SIGNATURE_NAME, SIGNATURE_EMAIL)


def read_blob(repo: pygit2.Repository, oid: pygit2.Oid, *, partial: bool = False) -> bytes:
    """The content of a blob. A loose object is inflated here rather than by libgit2: libgit2 1.9 never returns
    from reading a truncated loose object (measured with pygit2 1.21), and a damaged chunk must be reported, not
    hang every reader. Packed objects (and alternates) go through libgit2. Raises ValueError when damaged."""
    hexid = str(oid)
    path = common_dir(repo) / "objects" / hexid[:2] / hexid[2:]
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        try:
            return repo[oid].read_raw()
        except (KeyError, pygit2.GitError) as exc:
            raise ValueError(f"unreadable object: {exc}") from None
    except OSError as exc:
        raise ValueError(f"unreadable object file: {exc}") from None
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data)
    except zlib.error as exc:
        if not partial:
            raise ValueError(f"damaged object file: {exc}") from None
        out = _inflate_prefix(data)
    if not inflater.eof and not partial:
        raise ValueError("truncated object file")
    header, _, body = out.partition(b"\0")
    if partial:
        return body
    kind, _, size = header.partition(b" ")
    if kind != b"blob" or not size.isdigit() or int(size) != len(body):
        raise ValueError("damaged object file: bad header")
    return body


def _inflate_prefix(data: bytes) -> bytes:
    """What inflates of a damaged zlib stream before the damage."""
    inflater = zlib.decompressobj()
    out = []
    for i in range(0, len(data), 4096):
        try:
            out.append(inflater.decompress(data[i:i + 4096]))
        except zlib.error:
            break
    return b"".join(out)


STALE_LOCK_SECONDS = 30.0  # a writer holds a ref's lock for milliseconds; an older lock is a killed writer's


def break_stale_lock(repo: pygit2.Repository, ref: str, older_than: float = STALE_LOCK_SECONDS) -> bool:
    """Remove ``<ref>.lock`` left by a writer killed inside its ref update; otherwise it would stop every later
    writer (hooks would spool for ever). Returns True when a lock was removed."""
    path = common_dir(repo) / (ref + ".lock")
    try:
        if time.time() - path.stat().st_mtime < older_than:
            return False
        path.unlink()
        return True
    except OSError:
        return False


class Store:
    """The records of one repository. Cheap to create; reads always see the current ref tips."""

    def __init__(self, repo: pygit2.Repository, *, warn=None):
        self.repo = repo
        self.report = ReadReport()
        self._warn = warn if warn is not None else _stderr_warning

    # ----- refs -------------------------------------------------------------------------------------------------
    def tip(self, ref: str = DATA_REF) -> pygit2.Oid | None:
        try:
            return self.repo.references[ref].target
        except KeyError:
            return None
        except pygit2.GitError as exc:
            raise GitMlError(f"cannot read {ref}: {exc}") from None

    def tree(self, ref: str = DATA_REF) -> pygit2.Tree | None:
        tip = self.tip(ref)
        if tip is None:
            return None
        try:
            return self.repo[tip].peel(pygit2.Tree)
        except (KeyError, pygit2.GitError) as exc:
            raise GitMlError(f"{ref} points at an unreadable object {tip}: {exc}") from None

    # ----- reading ----------------------------------------------------------------------------------------------
    def iter_chunks(self, stream: str, ref: str | None = None) -> Iterator[Chunk]:
        tree = self.tree(ref or ref_for_stream(stream))
        if tree is None or stream not in tree:
            return
        yield from _walk_chunks(self.repo, stream, tree[stream], stream)

    def read_lines(self, chunk: Chunk) -> list[bytes]:
        """The raw JSON lines of a chunk. Raises CorruptChunk when it does not decompress or match its name."""
        try:
            data = read_blob(self.repo, chunk.oid)
        except ValueError as exc:
            raise CorruptChunk(chunk.path, str(exc), chunk.count) from None
        try:
            raw = decompress(data)
        except zstandard.ZstdError as exc:
            raise CorruptChunk(chunk.path, f"not zstd data: {exc}", chunk.count) from None
        return split_lines(raw)

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

    def _decoded_chunks(self, stream: str, typ: type) -> Iterator[tuple[Chunk, list]]:
        dec = decoder(typ)
        for chunk in self.iter_chunks(stream):
            try:
                data = read_blob(self.repo, chunk.oid)
                raw = decompress(data)
                records = dec.decode_lines(raw)
            except (ValueError, zstandard.ZstdError, msgspec.DecodeError, msgspec.ValidationError) as exc:
                self._skip_corrupt(chunk, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                continue
            yield chunk, records

    def _skip_corrupt(self, chunk: Chunk, detail: str) -> None:
        self.report.corrupt.append((chunk.path, chunk.count, detail))
        lost = f"{chunk.count} records" if chunk.count is not None else "its records"
        self._warn(f"warning: skipping corrupt chunk {chunk.path} ({lost} skipped): {detail}")

    def hidden_ids(self, stream: str) -> set[str]:
        """Ids of ``stream`` deleted by tombstones."""
        if stream == "tombstones":
            return set()
        return {t.target for t in self.iter_records("tombstones") if t.stream == stream}

    def iter_records(self, stream: str, *, include_hidden: bool = False) -> Iterator:
        """Every live record of a stream, one version per id (the latest captured), oldest capture first."""
        typ = schema.ALL_STREAMS.get(stream)
        if typ is None:
            raise GitMlError(f"unknown stream: {stream}")
        best: dict[str, msgspec.Struct] = {}
        for _chunk, records in self._decoded_chunks(stream, typ):
            for rec in records:
                old = best.get(rec.id)
                if old is None or _newer(rec, old):
                    best[rec.id] = rec
        hidden = set() if include_hidden else self.hidden_ids(stream)
        live = [r for r in best.values() if r.id not in hidden] if hidden else list(best.values())
        live.sort(key=_capture_key)
        return iter(live)

    def ids(self, stream: str) -> set[str]:
        """Ids present in a stream (any version, tombstones not applied): cheap, decodes only the envelopes."""
        out: set[str] = set()
        for _chunk, records in self._decoded_chunks(stream, schema.Envelope):
            out.update(r.id for r in records)
        return out

    def count(self, stream: str) -> int:
        return sum(1 for _ in self.iter_records(stream))

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
            from git_ml.store.chunks import plan_auto_compaction

            return plan_auto_compaction(self, ref)
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
        """Add/remove chunk paths under ``ref`` atomically, retrying when another writer moved the ref meanwhile.

        ``expect`` (an oid or None) turns retrying off: the update applies only if the ref is still there.
        ``new_root`` writes a commit without parent so that removed chunks become unreachable (compaction).
        """
        adds = adds or {}
        removes = list(removes)
        if timeout is None:
            timeout = float(config_int(self.repo, "ml.lockTimeoutMs", 5000)) / 1000.0
        deadline = time.monotonic() + timeout
        delay = 0.002
        _ensure_reflog(self.repo, ref)
        while True:
            old = self.tip(ref)
            if expect is not False and old != expect:
                raise GitMlError(f"{ref} moved during the operation; nothing was changed, run it again")
            base = self.repo[old].peel(pygit2.Tree) if old is not None else None
            tree_oid = _edit_tree(self.repo, base, adds, removes)
            parents = [] if (new_root or old is None) else [old]
            sig = signature()
            commit_oid = self.repo.create_commit(None, sig, sig, message + "\n", tree_oid, parents)
            try:
                if self._swap(ref, commit_oid, old, message):
                    return commit_oid
            except _Moved:
                pass  # another writer moved the ref: build again on its tip
            except pygit2.GitError:
                # Locked by another writer: retry until the deadline. A lock older than any write takes was left
                # by a killed writer; left alone it would stop every writer after it.
                if break_stale_lock(self.repo, ref):
                    self._warn(f"warning: removed a stale lock of {ref} left by an interrupted writer")
                    continue
            if expect is not False:
                raise GitMlError(f"{ref} moved during the operation; nothing was changed, run it again")
            if time.monotonic() >= deadline:
                raise StoreBusy(f"could not update {ref} within {timeout:.1f}s: another git-ml process holds it")
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.1)

    def _swap(self, ref: str, new: pygit2.Oid, old: pygit2.Oid | None, message: str) -> bool:
        """Compare-and-swap ``ref`` from ``old`` to ``new``. False when it no longer points at ``old``."""
        with self.repo.transaction() as txn:
            txn.lock_ref(ref)
            if self.tip(ref) != old:
                raise _Moved
            txn.set_target(ref, new, message=message)
        return True

    def ref_exists(self, ref: str = DATA_REF) -> bool:
        return self.tip(ref) is not None


class _Moved(pygit2.GitError):
    """The ref moved between reading it and locking it (raised inside the transaction to abort it)."""


def _newer(a, b) -> bool:
    if a.captured_at != b.captured_at:
        return a.captured_at > b.captured_at
    if a == b:
        return False
    return _ENCODER.encode(a) > _ENCODER.encode(b)


def _capture_key(rec) -> str:
    return rec.captured_at


def _pack(records: Sequence[msgspec.Struct]) -> Iterator[tuple[bytes, int]]:
    """Encode records into chunk-sized runs of JSON lines, dropping byte-identical duplicates."""
    seen: set[bytes] = set()
    buf: list[bytes] = []
    size = 0
    for rec in records:
        line = _ENCODER.encode(rec)
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


def _walk_chunks(repo: pygit2.Repository, stream: str, entry, prefix: str) -> Iterator[Chunk]:
    if entry.type_str != "tree":
        return
    tree = repo[entry.id]
    for item in tree:
        path = f"{prefix}/{item.name}"
        if item.type_str == "tree":
            yield from _walk_chunks(repo, stream, item, path)
        elif item.name.endswith(CHUNK_SUFFIX):
            yield Chunk(stream, path, item.id, 0)


def _edit_tree(repo: pygit2.Repository, base: pygit2.Tree | None, adds: dict[str, pygit2.Oid],
               removes: Sequence[str]) -> pygit2.Oid:
    """A new tree: ``base`` with blob paths added and removed. Only the trees on touched paths are rewritten."""
    plan: dict[str, tuple[dict, list]] = {}
    for path, oid in adds.items():
        head, _, rest = path.partition("/")
        plan.setdefault(head, ({}, []))[0][rest] = oid
    for path in removes:
        head, _, rest = path.partition("/")
        plan.setdefault(head, ({}, []))[1].append(rest)
    builder = repo.TreeBuilder(base) if base is not None else repo.TreeBuilder()
    for head, (sub_adds, sub_removes) in plan.items():
        if "" in sub_adds:  # a blob at this level
            builder.insert(head, sub_adds.pop(""), pygit2.GIT_FILEMODE_BLOB)
        if "" in sub_removes:
            sub_removes.remove("")
            if builder.get(head) is not None:
                builder.remove(head)
        if not sub_adds and not sub_removes:
            continue
        existing = base[head] if base is not None and head in base else None
        sub_base = repo[existing.id] if existing is not None and existing.type_str == "tree" else None
        sub_oid = _edit_tree(repo, sub_base, sub_adds, sub_removes)
        if len(repo[sub_oid]) == 0:
            if builder.get(head) is not None:
                builder.remove(head)
        else:
            builder.insert(head, sub_oid, pygit2.GIT_FILEMODE_TREE)
    return builder.write()


def _ensure_reflog(repo: pygit2.Repository, ref: str) -> None:
    """git keeps a reflog for refs outside refs/heads only when the log file exists: create it."""
    path = common_dir(repo) / "logs" / ref
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        except OSError:
            pass


def _stderr_warning(message: str) -> None:
    sys.stderr.write(message + "\n")


def count_small_chunks(repo: pygit2.Repository, tree: pygit2.Tree | None, *, stop_after: int | None = None) -> int:
    """Chunks under a store tree whose blob is smaller than SMALL_CHUNK_BYTES, from tree entries and object headers
    only (nothing is decompressed). Stops counting past ``stop_after``."""
    if tree is None:
        return 0
    count = 0
    stack = [tree]
    while stack:
        for item in stack.pop():
            if item.type_str == "tree":
                stack.append(repo[item.id])
            elif item.name.endswith(CHUNK_SUFFIX):
                try:
                    small = repo.odb.read_header(item.id)[1] < SMALL_CHUNK_BYTES
                except (KeyError, pygit2.GitError, ValueError):
                    small = False
                if small:
                    count += 1
                    if stop_after is not None and count > stop_after:
                        return count
    return count


def chunk_stored_size(repo: pygit2.Repository, oid: pygit2.Oid) -> int:
    return repo.odb.read_header(oid)[1]
