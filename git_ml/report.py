"""Summaries of the store for `stats` and `doctor`."""

from __future__ import annotations

import pygit2

from . import schema
from .store import Store, chunk_stored_size


def store_stats(repo: pygit2.Repository) -> dict:
    """Every known stream's record count as a top-level key (0 when empty); everything else under other keys."""
    store = Store(repo)
    out: dict = {}
    streams: dict[str, dict] = {}
    total_chunks = 0
    total_bytes = 0
    for stream in schema.ALL_STREAMS:
        chunks = list(store.iter_chunks(stream))
        stored = sum(chunk_stored_size(repo, c.oid) for c in chunks)
        records = list(store.iter_records(stream)) if chunks else []
        out[stream] = len(records)
        streams[stream] = {"chunks": len(chunks), "stored_bytes": stored}
        total_chunks += len(chunks)
        total_bytes += stored
        if stream == "commits" and records:
            times = [r.time for r in records if r.time]
            if times:
                out["commits_range"] = [schema.iso_from_unix(min(times)), schema.iso_from_unix(max(times))]
    out["streams"] = streams
    out["chunks"] = total_chunks
    out["stored_bytes"] = total_bytes
    out["refs"] = {ref: (str(store.tip(ref)) if store.tip(ref) else None) for ref in ("refs/ml/data", "refs/ml/local")}
    out["corrupt"] = [list(c) for c in store.report.corrupt]
    return out
