"""Chunk statistics (``git ml chunk stats``) and the byte measures of the ratio targets."""

from __future__ import annotations

from collections.abc import Iterable

import pygit2

from git_ml import schema
from git_ml.store.compact import auto_compact_setting, chunk_size_setting, ref_tombstones, scan_ref
from git_ml.store.objects import DATA_REF, REFS, SMALL_CHUNK_BYTES, ref_for_stream, stored_size
from git_ml.store.scan import StreamScan, select
from git_ml.store.tree import iter_tree_chunks, tree_bytes, tree_of
from git_ml.store.update import tip_of


def chunk_stats(repo: pygit2.Repository, *, refs: Iterable[str] = REFS) -> dict:
    """Per stream: chunks, small chunks, records stored / live, raw and stored bytes, ratio, and what a compaction
    would drop (duplicates, superseded versions, deleted records)."""
    streams: dict[str, dict] = {}
    tree_total = 0
    hidden_all: dict[str, set[str]] | None = None
    scans_all: list[tuple[str, StreamScan]] = []
    for ref in refs:
        tree = tree_of(repo, tip_of(repo, ref))
        if tree is None:
            continue
        tree_total += tree_bytes(repo, tree)
        scans = scan_ref(repo, tree)
        if ref == DATA_REF:
            hidden_all = ref_tombstones(repo, ref, scans)
        scans_all.extend((ref, s) for s in scans.values())
    if hidden_all is None:
        hidden_all = ref_tombstones(repo, DATA_REF, {})
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
    totals["tree_bytes"] = tree_total
    totals["ratio"] = round((totals["stored_bytes"] + tree_total) / totals["raw_bytes"], 4) \
        if totals["raw_bytes"] else None
    return {"streams": streams, "total": totals, "small_chunk_bytes": SMALL_CHUNK_BYTES,
            "auto_compact": auto_compact_setting(repo), "chunk_size": chunk_size_setting(repo)}


def reachable_bytes(repo: pygit2.Repository, ref: str = DATA_REF) -> int:
    """Stored bytes of every blob and tree reachable from the tip's tree (the measure of the ratio targets)."""
    tree = tree_of(repo, tip_of(repo, ref))
    if tree is None:
        return 0
    return tree_bytes(repo, tree) + sum(stored_size(repo, c.oid) for c in iter_tree_chunks(repo, tree))
