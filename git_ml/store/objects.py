"""Stored objects: chunk names, compression, and the one safe way to read a blob and a chunk.

A chunk is a zstd-compressed blob of JSON Lines stored under ``<stream>/<fan-out: 2 hex>/<content hash>.<record
count>.jsonl.zst``. Every read of a stored object goes through :func:`read_blob` (libgit2 hangs on a truncated
loose object) and every read of a chunk through :func:`read_chunk` (a cut zstd frame keeps its complete lines).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec
import pygit2
import zstandard

from git_ml import schema
from git_ml.errors import CorruptChunk, GitMlError
from git_ml.repo import common_dir, config_get

DATA_REF = "refs/ml/data"
LOCAL_REF = "refs/ml/local"
REFS = (DATA_REF, LOCAL_REF)
CHUNK_SUFFIX = ".jsonl.zst"
APPEND_LEVEL = 3  # appends are small and on the hook's path: fast beats tight
SIGNATURE_NAME = "git-ml"
SIGNATURE_EMAIL = "git-ml@localhost"
# A chunk blob stays far below what hosting services reject (GitHub: 100 MB hard, 50 MB warning).
MAX_CHUNK_RAW = 64 << 20
SMALL_CHUNK_BYTES = 256 << 10  # stored bytes below which a chunk counts as small (automatic compaction)
CHUNK_NAME_RE = re.compile(r"^[0-9a-f]{40}\.[0-9]+\.jsonl\.zst$")  # what content_name writes
AUTO_COMPACT_DEFAULT = 64  # small chunks in a ref beyond which an append merges them (ml.autoCompact; 0: never)

ENCODER = msgspec.json.Encoder()
_DECODERS: dict[type, msgspec.json.Decoder] = {}


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
    """What a read skipped: corrupt chunks (path, records lost, detail) are warned about and counted, never
    fatal."""

    corrupt: list[tuple[str, int | None, str]] = field(default_factory=list)


def encode_lines(records: Iterable[msgspec.Struct]) -> bytes:
    return ENCODER.encode_lines(list(records))


def compress(raw: bytes, level: int = APPEND_LEVEL) -> bytes:
    return zstandard.ZstdCompressor(level=level).compress(raw)


def decompress(data: bytes) -> bytes:
    """The content of a zstd frame. Raises zstandard.ZstdError when it is not zstd data or ends early."""
    dctx = zstandard.ZstdDecompressor()
    try:
        return dctx.decompress(data)
    except zstandard.ZstdError:
        # Frames written without a content size need the streaming reader.
        dobj = dctx.decompressobj()
        raw = dobj.decompress(data)
        if not dobj.eof:
            raise zstandard.ZstdError("truncated zstd data") from None
        return raw


def split_lines(raw: bytes) -> list[bytes]:
    lines = raw.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return lines


def signature() -> pygit2.Signature:
    return pygit2.Signature(SIGNATURE_NAME, SIGNATURE_EMAIL)


def _loose(repo: pygit2.Repository, oid: pygit2.Oid):
    hexid = str(oid)
    return common_dir(repo) / "objects" / hexid[:2] / hexid[2:]


def _inflate(data: bytes, kind: bytes | None, partial: bool) -> bytes:
    """The body of a loose object file (header checked against ``kind`` unless ``partial``)."""
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
    found, _, size = header.partition(b" ")
    if (kind is not None and found != kind) or not size.isdigit() or int(size) != len(body):
        raise ValueError("damaged object file: bad header")
    return body


def read_blob(repo: pygit2.Repository, oid: pygit2.Oid, *, partial: bool = False) -> bytes:
    """The content of a blob. A loose object is inflated here rather than by libgit2: libgit2 1.9 never returns
    from reading a truncated loose object (measured with pygit2 1.21), and a damaged chunk must be reported, not
    hang every reader. Packed objects (and alternates) go through libgit2. Raises ValueError when damaged or
    missing."""
    try:
        data = _loose(repo, oid).read_bytes()
    except FileNotFoundError:
        try:
            return repo[oid].read_raw()
        except (KeyError, pygit2.GitError) as exc:
            raise ValueError(f"unreadable object: {exc}") from None
    except OSError as exc:
        raise ValueError(f"unreadable object file: {exc}") from None
    return _inflate(data, b"blob", partial)


def load_object(repo: pygit2.Repository, oid: pygit2.Oid, kind: str) -> pygit2.Object:
    """A store tree or commit, read by libgit2 once its loose object file (if it is loose) is known to be whole: a
    truncated loose tree hangs libgit2 as a truncated blob does. Raises ValueError when damaged or missing."""
    try:
        data = _loose(repo, oid).read_bytes()
    except FileNotFoundError:
        data = None
    except OSError as exc:
        raise ValueError(f"unreadable object file: {exc}") from None
    if data is not None:
        _inflate(data, kind.encode(), False)
    try:
        return repo[oid]
    except (KeyError, pygit2.GitError) as exc:
        raise ValueError(f"unreadable object: {exc}") from None


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


@dataclass(slots=True)
class ChunkData:
    """The decompressed lines of a chunk. ``damage`` is set when the zstd frame ended early: ``raw`` then holds
    the complete lines that did decode (the cut last line is dropped)."""

    raw: bytes
    stored: int
    damage: str = ""


def read_chunk(repo: pygit2.Repository, chunk: Chunk) -> ChunkData:
    """A chunk's JSON Lines. Raises CorruptChunk when nothing of it decodes; a frame cut short keeps what
    decodes and says so in ``damage``."""
    try:
        data = read_blob(repo, chunk.oid)
    except ValueError as exc:
        raise CorruptChunk(chunk.path, str(exc), chunk.count) from None
    dctx = zstandard.ZstdDecompressor()
    try:
        return ChunkData(dctx.decompress(data), len(data))
    except zstandard.ZstdError:
        pass
    dobj = dctx.decompressobj()
    try:
        raw = dobj.decompress(data)
    except zstandard.ZstdError as exc:
        raw = b""
        error = str(exc)
    else:
        if dobj.eof:
            return ChunkData(raw, len(data))
        error = "truncated zstd data"
    if not raw:
        # a damaged middle: decode piecewise to keep what precedes the damage
        raw = zstd_prefix(data)
    kept = raw[: raw.rfind(b"\n") + 1]
    if not kept:
        raise CorruptChunk(chunk.path, f"not zstd data: {error}", chunk.count)
    return ChunkData(kept, len(data), error)


def zstd_prefix(data: bytes) -> bytes:
    """What decodes of a damaged zstd frame before the damage (block by block)."""
    dobj = zstandard.ZstdDecompressor().decompressobj()
    out = []
    for i in range(0, len(data), 4096):
        try:
            out.append(dobj.decompress(data[i:i + 4096]))
        except zstandard.ZstdError:
            break
    return b"".join(out)


def stored_size(repo: pygit2.Repository, oid: pygit2.Oid) -> int:
    """Stored bytes of an object from its header (0 when it cannot be read)."""
    try:
        return repo.odb.read_header(oid)[1]
    except (KeyError, pygit2.GitError, ValueError):
        return 0


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
