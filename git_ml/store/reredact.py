"""Re-run the current redaction rules over a store (``git ml chunk redact``).

Records captured before a rule existed may hold a secret it now finds. Every current record of every stream
(``reader.iter_current``: the winner per id, so the store's one rule decides what is current) goes through
``redact_record`` again: texts, diff hunks of ``refs/ml/local``, file paths, branch names, tool names. Redaction is
idempotent, so records redacted by the same rules do not change; a record that does change is appended as a new
version of the same id with a later ``captured_at``, which makes it the one every reader returns. Then compaction
rewrites the refs, dropping the old versions (``compact``: superseded versions go), so the secrets are no longer
reachable from the refs' tips. They stay in this repository's reflog and objects until those expire (``git reflog
expire --expire=now refs/ml/data refs/ml/local`` and ``git gc --prune=now`` remove them at once).

Copies already pushed are out of reach: a remote and other clones keep the old versions until they receive the new
ones (``git ml sync``) and compact; from then on they read the redacted version too.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

from git_ml import schema
from git_ml.capture.redaction.records import redact_record
from git_ml.store import reader
from git_ml.store.compact import compact
from git_ml.store.objects import ref_for_stream

__all__ = ["ReredactReport", "later", "reredact"]


@dataclass
class ReredactReport:
    checked: dict[str, int] = field(default_factory=dict)  # current records read, per stream
    changed: dict[str, int] = field(default_factory=dict)  # records given a new, redacted version, per stream
    found: dict[str, int] = field(default_factory=dict)  # secrets replaced, per kind
    refs: list[str] = field(default_factory=list)  # refs written (and compacted)
    dry_run: bool = False

    @property
    def total_changed(self) -> int:
        return sum(self.changed.values())


def later(captured_at: str, stamp: str) -> str:
    """A ``captured_at`` that beats ``captured_at``: ``stamp`` (now), or one microsecond later when the old one is
    not earlier (a clock that was ahead)."""
    if captured_at < stamp:
        return stamp
    try:
        when = _dt.datetime.strptime(captured_at, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return captured_at + "1"  # not our format: still greater as text
    return (when + _dt.timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _merge(counts: dict[str, int], found: dict[str, int]) -> None:
    for kind, n in found.items():
        counts[kind] = counts.get(kind, 0) + n


def reredact(store, *, dry_run: bool = False, streams=None, warn=None, progress=None) -> ReredactReport:
    """Redact every current record again; append and compact what changed (see the module docstring)."""
    report = ReredactReport(dry_run=dry_run)
    stamp = schema.now_iso()
    hidden = reader.hidden_ids(store)
    batches: dict[str, list] = {}
    for stream in streams or schema.ALL_STREAMS:
        checked = 0
        for records in reader.iter_current(store, stream, hidden=hidden):
            for record in records:
                checked += 1
                found = redact_record(record)
                if not found:
                    continue
                if isinstance(getattr(record, "redactions", None), dict):
                    _merge(record.redactions, found)
                record.captured_at = later(record.captured_at, stamp)
                _merge(report.found, found)
                batches.setdefault(stream, []).append(record)
            if progress is not None:
                progress(len(records))
        report.checked[stream] = checked
        if stream in batches:
            report.changed[stream] = len(batches[stream])
    report.refs = sorted({ref_for_stream(s) for s in batches})
    if dry_run or not batches:
        return report
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.found.items()))
    store.append_many(batches, message=f"redact: new versions with the current rules ({kinds})")
    compact(store.repo, refs=report.refs, warn=warn)
    return report
