"""Verification and repair of the store's chunks.

``verify`` decodes every chunk of both refs, checks each name against its content and each record against its
schema, and names what is wrong; ``repair`` drops corrupt chunks in one atomic update per ref, keeps every line that
still decodes (stored again in a sound chunk), and says exactly which records were lost and which another chunk
still holds. Repair appends no tombstones unless asked: a chunk lost to damage is not a deletion, and a tombstone
would also hide the good copies other clones hold.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pygit2
import zstandard

from git_ml import schema
from git_ml.errors import GitMlError
from git_ml.repo import common_dir
from git_ml.store.compact import MINOR_LEVEL, compressor
from git_ml.store.core import Store
from git_ml.store.objects import (
    CHUNK_NAME_RE,
    REFS,
    Chunk,
    chunk_path,
    content_name,
    decoder,
    read_blob,
    read_chunk,
    ref_for_stream,
    split_lines,
    write_blob,
    zstd_prefix,
)
from git_ml.store.scan import ID, scan_chunks
from git_ml.store.tree import iter_tree_chunks, tree_of
from git_ml.store.update import STALE_LOCK_SECONDS, Restart, apply_update


@dataclass
class Problem:
    ref: str
    path: str
    detail: str
    records: int | None  # from the chunk's name


@dataclass
class VerifyReport:
    chunks: int = 0
    records: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(repo: pygit2.Repository, *, refs: Iterable[str] = REFS,
           progress: Callable[[Chunk], None] | None = None) -> VerifyReport:
    """Decode every chunk of the refs: names against content (hash and count), layout, records against schemas."""
    store = Store(repo)
    report = VerifyReport()
    for lock, age in stale_locks(repo):
        report.warnings.append(f"stale lock {lock} ({age:.0f} s old): a writer was killed while updating the ref, "
                               "and writers wait on it; `git ml chunk repair` removes it")
    for ref in refs:
        try:
            tip = store.tip(ref)
            tree = tree_of(repo, tip)
        except (GitMlError, KeyError, pygit2.GitError) as exc:
            report.problems.append(Problem(ref, ref, f"unreadable tip: {exc}", None))
            continue
        if tree is None:
            continue
        for top in tree:
            if top.type_str != "tree":
                report.warnings.append(f"{ref}: unexpected entry {top.name} (not a stream directory)")
            elif top.name not in schema.ALL_STREAMS:
                report.warnings.append(f"{ref}: stream {top.name} is unknown to this version (checked as envelopes)")
            elif schema.ALL_STREAMS.get(top.name) and ref != ref_for_stream(top.name):
                report.warnings.append(f"{ref}: stream {top.name} belongs in {ref_for_stream(top.name)}")
        by_stream: dict[str, list[Chunk]] = {}
        try:
            for chunk in iter_tree_chunks(repo, tree):
                by_stream.setdefault(chunk.stream, []).append(chunk)
        except (KeyError, pygit2.GitError) as exc:
            report.problems.append(Problem(ref, ref, f"unreadable tree: {exc}", None))
            continue
        for stream, chunks in sorted(by_stream.items()):
            for chunk in chunks:
                parts = chunk.path.split("/")
                if len(parts) != 3 or not CHUNK_NAME_RE.match(chunk.name) or parts[1] != chunk.name[:2]:
                    report.problems.append(Problem(ref, chunk.path, "misplaced or badly named chunk", chunk.count))
            scan = scan_chunks(repo, stream, chunks, check_names=True, on_chunk=progress)
            report.chunks += len(chunks)
            report.records += len(scan.lines)
            for chunk, detail in scan.corrupt:
                report.problems.append(Problem(ref, chunk.path, detail, chunk.count))
    return report


def stale_locks(repo: pygit2.Repository, older_than: float = STALE_LOCK_SECONDS) -> list[tuple[Path, float]]:
    """Lock files of the store's refs left by a writer that was killed inside its ref update (SIGKILL, power
    loss), with their age in seconds. Like git's own index.lock, they stop every later writer of that ref."""
    base = common_dir(repo) / "refs" / "ml"
    out = []
    now = time.time()
    try:
        candidates = list(base.rglob("*.lock")) if base.is_dir() else []
    except OSError:
        candidates = []
    for path in candidates:
        try:
            age = now - path.stat().st_mtime
        except OSError:
            continue
        if age >= older_than:
            out.append((path, age))
    return out


def remove_stale_locks(repo: pygit2.Repository, older_than: float = STALE_LOCK_SECONDS) -> list[Path]:
    removed = []
    for path, _age in stale_locks(repo, older_than):
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            pass
    return removed


@dataclass
class Salvage:
    ref: str
    path: str
    detail: str
    expected: int | None  # records according to the name
    kept: int = 0  # lines that still decode, stored again in a sound chunk
    lost_ids: list[str] = field(default_factory=list)  # ids of lines that no longer decode and exist nowhere else
    recovered_elsewhere: list[str] = field(default_factory=list)  # ids still held by another chunk
    lost_unknown: int = 0  # lines (or records per the name) whose id cannot be read

    @property
    def lost(self) -> int:
        return len(self.lost_ids) + self.lost_unknown


@dataclass
class RepairResult:
    salvaged: list[Salvage] = field(default_factory=list)
    tombstones: int = 0
    tips: dict[str, pygit2.Oid] = field(default_factory=dict)
    dry_run: bool = False
    locks_removed: list[str] = field(default_factory=list)


def _salvage_lines(repo: pygit2.Repository, chunk: Chunk) -> tuple[list[bytes], list[str], int]:
    """Lines of a damaged chunk that still decode as records of its stream, ids of lines that decode only as far as
    their id, and the number of lines (or bytes of a torn last line) that do not decode at all."""
    typ = schema.ALL_STREAMS.get(chunk.stream, schema.Envelope)
    try:
        data = read_blob(repo, chunk.oid, partial=True)
    except ValueError:
        return [], [], 0
    raw = b""
    try:
        raw = zstandard.ZstdDecompressor().decompress(data)
    except zstandard.ZstdError:
        try:
            raw = zstandard.ZstdDecompressor().decompressobj().decompress(data)
        except zstandard.ZstdError:
            # Decode block by block until the damage: whatever came out before it is still good.
            raw = zstd_prefix(data)
    torn = bool(raw) and not raw.endswith(b"\n")
    lines = split_lines(raw)
    if torn and lines:
        lines.pop()
    good, ids, unknown = [], [], 1 if torn else 0
    dec = decoder(typ)
    for line in lines:
        try:
            dec.decode(line)
            good.append(line)
            continue
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass
        try:
            ids.append(decoder(schema.Envelope).decode(line).id)
        except (msgspec.DecodeError, msgspec.ValidationError):
            unknown += 1
    return good, ids, unknown


def repair(repo: pygit2.Repository, *, refs: Iterable[str] = REFS, tombstone: bool = False, dry_run: bool = False,
           timeout: float | None = None, lock_age: float = STALE_LOCK_SECONDS) -> RepairResult:
    """Remove the chunks ``verify`` reports, keeping every line that still decodes (stored again in a sound chunk),
    with one atomic update per ref. Reports, per chunk, the ids lost, the ids still held elsewhere and the count of
    records whose id is unknowable.

    Ref lock files older than ``lock_age`` seconds (left by a killed writer) are removed first.

    Tombstones are appended only with ``tombstone=True``, for the lost ids that are known: a chunk lost to damage
    here is not a deletion, and a tombstone would also hide the sound copies other clones still have and that
    ``git ml sync`` would bring back.
    """
    store = Store(repo, warn=lambda _m: None)
    result = RepairResult(dry_run=dry_run)
    if dry_run:
        result.locks_removed = [str(p) for p, _a in stale_locks(repo, lock_age)]
    else:
        result.locks_removed = [str(p) for p in remove_stale_locks(repo, lock_age)]
    report = verify(repo, refs=refs)
    bad_by_ref: dict[str, list[Problem]] = {}
    for p in report.problems:
        if p.path != p.ref:
            bad_by_ref.setdefault(p.ref, []).append(p)
    lost_known: dict[str, list[tuple[str, str]]] = {}
    for ref, problems in bad_by_ref.items():
        tip = store.tip(ref)
        tree = tree_of(repo, tip)
        adds: dict[str, pygit2.Oid] = {}
        removes: list[str] = []
        salvages: list[Salvage] = []
        for p in problems:
            if p.path in removes:
                continue
            entry = tree[p.path]
            chunk = Chunk(p.path.split("/", 1)[0], p.path, entry.id, 0)
            good, ids, unknown = _salvage_lines(repo, chunk)
            sv = Salvage(ref, p.path, p.detail, p.records, kept=len(good))
            undecoded = len(good) + len(ids) + unknown
            if p.records is not None and p.records > undecoded:
                unknown += p.records - undecoded
            sv.lost_unknown = unknown
            sv.lost_ids = ids
            if good:
                raw = b"".join(x + b"\n" for x in good)
                path = chunk_path(chunk.stream, content_name(raw, len(good)))
                adds[path] = write_blob(repo, compressor(MINOR_LEVEL, min_match=None, size=len(raw)).compress(raw))
            if p.path not in adds:
                removes.append(p.path)
            salvages.append(sv)
        # Which of the known ids still exist after the repair (another chunk, another version)?
        remaining: dict[str, set[str]] = {}
        for sv in salvages:
            if sv.lost_ids:
                stream = sv.path.split("/", 1)[0]
                if stream not in remaining:
                    chunks = [c for c in iter_tree_chunks(repo, tree)
                              if c.stream == stream and c.path not in removes and c.path not in adds]
                    remaining[stream] = {ln[ID] for ln in scan_chunks(repo, stream, chunks).lines}
                    for path in adds:
                        if path.startswith(stream + "/"):
                            remaining[stream].update(_ids_of(repo, adds[path]))
                still = [i for i in sv.lost_ids if i in remaining[stream]]
                sv.recovered_elsewhere = still
                sv.lost_ids = [i for i in sv.lost_ids if i not in remaining[stream]]
                lost_known.setdefault(stream, []).extend((i, sv.path) for i in sv.lost_ids)
        result.salvaged.extend(salvages)
        if dry_run or (not adds and not removes):
            continue
        lost = sum(s.lost for s in salvages)
        message = (f"chunk repair: dropped {len(problems)} corrupt chunks, kept {sum(s.kept for s in salvages)} "
                   f"decodable records, lost {lost}: " + ", ".join(s.path for s in salvages))
        try:
            result.tips[ref] = apply_update(repo, ref, tip, adds, removes, message, new_root=False,
                                             timeout=timeout)
        except Restart:
            raise GitMlError(f"{ref} changed during the repair; nothing was changed, run it again") from None
    if tombstone and not dry_run and lost_known:
        stamp = schema.now_iso()
        stones = [schema.Tombstone(id=f"{stream}:{rid}", stream=stream, target=rid, captured_at=stamp,
                                   reason=f"chunk repair: lost with corrupt chunk {path}")
                  for stream, items in lost_known.items() for rid, path in items]
        store.append("tombstones", stones, message="chunk repair (tombstones)", timeout=timeout)
        result.tombstones = len(stones)
    return result


def _ids_of(repo, oid) -> set[str]:
    try:
        raw = read_chunk(repo, Chunk("", "", oid, 0)).raw
        return {e.id for e in decoder(schema.Envelope).decode_lines(raw)}
    except Exception:
        return set()


