"""The model file and the journal under ``.git/ml/``.

Model file: ``GMLPRED1`` magic, a little-endian u32 header length, a JSON header (version, metadata, vocabulary,
paths, authors and a directory of arrays), then the raw little-endian arrays, 16-byte aligned. Loading maps the
file copy-on-write and views the arrays in place: nothing is parsed beyond the header, nothing is pickled. The
header is JSON so that the quick prediction path (``lite``) reads it with the standard library alone.

Journal: JSON Lines ``[id, message, author_email, time, files]`` appended by ``note_commits``.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import msgspec
import numpy as np

from git_ml.predict import JOURNAL_FILE, MODEL_FILE, MODEL_MAGIC, MODEL_VERSION, id_key
from git_ml.predict.index import Index, Postings, Vec

__all__ = ["Meta", "Header", "VersionMismatch", "JournalCommit", "id_key", "save", "load", "read_journal",
           "journal_files", "model_path"]
_VECS = ("live", "nchg", "last", "dl", "heat", "cdl", "cnf", "ctime", "cauth", "cf_ptr", "cf_ids")
_POSTINGS = ("cterm", "fterm", "fcom", "pterm", "nterm", "acom")


class Meta(msgspec.Struct, kw_only=True):
    version: int = MODEL_VERSION
    trained_at: str = ""
    updated_at: str = ""
    store_tip: str | None = None
    fitted_commits: int = 0  # commits learnt when the weights were last fitted
    tuned_queries: int = 0
    weights: list[float] = []


class Header(msgspec.Struct, kw_only=True):
    version: int
    meta: Meta
    body: bool
    ncommits: int
    vocab: list[str]
    paths: list[str]
    unmapped: list[int]  # fids whose path no longer maps to them (renamed over)
    authors: list[str]
    arrays: dict[str, tuple[str, int, int]]  # name -> (dtype, byte offset from data start, count)


class VersionMismatch(Exception):
    pass


class JournalCommit(msgspec.Struct, array_like=True):
    id: str
    message: str
    author_email: str
    time: int
    files: list[tuple[str, str, int | None, int | None, str | None]]
    is_merge: bool = False


def model_path(ml_dir: Path) -> Path:
    return Path(ml_dir) / MODEL_FILE


def save(path: Path, ix: Index, meta: Meta, learnt: np.ndarray) -> int:
    """Write the model atomically (temp file + rename). ``learnt``: sorted uint64 keys of the learnt commits."""
    if not ix.online or any(len(getattr(ix, p).coo_k) for p in _POSTINGS) or any(getattr(ix, p).dk_i for p in _POSTINGS):
        ix.compact()
    arrays: dict[str, np.ndarray] = {}
    for name in _VECS:
        arrays[name] = getattr(ix, name).view()
    for name in _POSTINGS:
        p: Postings = getattr(ix, name)
        arrays[name + ".ptr"] = p.ptr
        arrays[name + ".ids"] = p.ids
        arrays[name + ".w"] = p.w
    arrays["learnt"] = np.asarray(learnt, dtype=np.uint64)
    directory = {}
    off = 0
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        arrays[name] = a
        directory[name] = (a.dtype.str, off, int(a.size))
        off += (a.nbytes + 15) // 16 * 16
    fid_of = ix.fid_of
    unmapped = [f for f, p in enumerate(ix.paths) if fid_of.get(p) != f]
    header = Header(version=MODEL_VERSION, meta=meta, body=ix.body, ncommits=ix.ncommits, vocab=ix.vocab,
                    paths=ix.paths, unmapped=unmapped, authors=ix.authors, arrays=directory)
    hb = msgspec.json.encode(header)
    start = len(MODEL_MAGIC) + 4 + len(hb)
    pad = (-start) % 16
    path = Path(path)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(MODEL_MAGIC + len(hb).to_bytes(4, "little") + hb + b"\0" * pad)
        for name, a in arrays.items():
            fh.write(a.tobytes())
            fh.write(b"\0" * ((-a.nbytes) % 16))
    os.replace(tmp, path)
    return path.stat().st_size


def read_header(path: Path) -> tuple[Header, int, mmap.mmap | None]:
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:8] != MODEL_MAGIC:
            raise VersionMismatch("not a model file of this version")
        hlen = int.from_bytes(head[8:12], "little")
        hb = fh.read(hlen)
        try:
            header = msgspec.json.decode(hb, type=Header)
        except msgspec.DecodeError as exc:
            raise VersionMismatch(f"unreadable model header: {exc}") from None
        if header.version != MODEL_VERSION:
            raise VersionMismatch(f"model version {header.version}, this program writes {MODEL_VERSION}")
        from git_ml.predict.signals import NF

        if len(header.meta.weights) != NF:
            raise VersionMismatch("model weights of another feature set")
        start = 12 + hlen
        start += (-start) % 16
        size = os.fstat(fh.fileno()).st_size
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY) if size > start else None
    return header, start, mm


def load(path: Path) -> tuple[Index, Meta, np.ndarray]:
    try:
        return _load(path)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise VersionMismatch(f"unreadable model file: {exc}") from None


def _load(path: Path) -> tuple[Index, Meta, np.ndarray]:
    header, start, mm = read_header(path)
    arrays: dict[str, np.ndarray] = {}
    for name, (dtype, off, count) in header.arrays.items():
        if count == 0 or mm is None:
            arrays[name] = np.zeros(0, dtype=dtype)
        else:
            arrays[name] = np.frombuffer(mm, dtype=dtype, count=count, offset=start + off)
    ix = Index(body=header.body)
    ix.vocab = header.vocab
    ix.tid = dict(zip(header.vocab, range(len(header.vocab))))
    ix.paths = header.paths
    skip = set(header.unmapped)
    ix.fid_of = {p: f for f, p in enumerate(header.paths) if f not in skip}
    ix.authors = header.authors
    ix.aid = dict(zip(header.authors, range(len(header.authors))))
    for name in _VECS:
        setattr(ix, name, Vec.from_numpy(arrays[name]))
    for name in _POSTINGS:
        setattr(ix, name, Postings(arrays[name + ".ptr"], arrays[name + ".ids"], arrays[name + ".w"]))
    ix.ncommits = header.ncommits
    ix.go_online()
    return ix, header.meta, arrays["learnt"]


# -- journal ---------------------------------------------------------------------------------------------------------

_jdec = msgspec.json.Decoder(JournalCommit)


def read_journal(path: Path) -> list[JournalCommit]:
    """Commits of a journal file, in append order; a torn last line (crash mid-append) is ignored."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    out = []
    for line in data.split(b"\n"):
        if line.strip():
            try:
                out.append(_jdec.decode(line))
            except msgspec.DecodeError:
                pass
    return out


def journal_files(ml: Path) -> list[Path]:
    """The journal being folded (if a fold was interrupted) then the live journal."""
    out = sorted(Path(ml).glob(JOURNAL_FILE + ".fold*"))
    out.append(Path(ml) / JOURNAL_FILE)
    return out
