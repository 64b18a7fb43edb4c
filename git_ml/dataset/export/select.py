"""The selection of an export: the entries left out by the reading pass are counted by reason, the rest put in
time order, identical input/output pairs deduplicated (the earliest is kept, so a duplicate can never sit in a later
split), then cut into the time splits: split boundaries fall between two whole seconds, so every row of a later
split is strictly later than every row of an earlier one."""

from __future__ import annotations

from git_ml.dataset.export.collect import Cand
from git_ml.dataset.export.options import ExportOptions


def kept(cands: dict, opts: ExportOptions, skipped: dict[str, int]) -> list[Cand]:
    """The entries not left out, in time order, deduplicated unless ``--no-dedup``; ``skipped`` counts the rest."""
    live = []
    for c in (c for by_id in cands.values() for c in by_id.values()):
        if c.reason is not None:
            skipped[c.reason] = skipped.get(c.reason, 0) + 1
        else:
            live.append(c)
    live.sort(key=lambda c: (c.ts, c.kind, c.id))
    if not opts.dedup:
        return live
    seen: set[int] = set()
    out = []
    for c in live:
        if c.digest in seen:
            skipped["duplicate"] = skipped.get("duplicate", 0) + 1
            continue
        seen.add(c.digest)
        out.append(c)
    return out


def select(cands: dict, opts: ExportOptions, skipped: dict[str, int]) -> dict[str, list[Cand]]:
    """Filtered, deduplicated rows in time order, cut into the splits (later splits strictly later)."""
    live = kept(cands, opts, skipped)
    splits = opts.splits or [("train", 1.0)]
    out: dict[str, list[Cand]] = {}
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
