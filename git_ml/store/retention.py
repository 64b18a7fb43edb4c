"""Retention: delete old conversation data (and, when asked, old commit records), or everything git-ml added.

``cleanup --days N`` (default ``git config ml.retentionDays``, else 730) applies to conversation data: chats,
sessions, feedback, and the links to removed chats or sessions. Commit records mirror history that the repository
keeps anyway; they go only with ``--streams commits`` (their diff hunks in ``refs/ml/local`` and their links go with
them). A record is old when its own time is: a chat's last activity (else its prompt time), a session's end (else
start), a feedback's time, a commit's author date.

How a deletion is written (DECISIONS: deletion is a tombstone):

1. A tombstone per deleted record (``<stream>:<id>``, reason, time) goes to the ``tombstones`` stream: readers hide
   the ids at once, and sync carries the tombstones, so a union merge with a clone that still has the records never
   brings them back.
2. Only the chunks that hold deleted records are rewritten, without those lines (the other lines byte for byte);
   chunks without deleted records are not touched.
3. Both happen in one atomic update per ref (``Store.update`` with adds and removes, retried on top of whatever a
   concurrent writer appended meanwhile, so nothing newer is lost), written as a **new root commit**: the old
   chunks are then reachable only from the ref's reflog (kept for recovery until it expires; ``git reflog expire
   --expire=now refs/ml/data && git gc --prune=now`` frees the space at once). An ordinary commit on top of the old
   tip would keep every deleted chunk reachable forever, which is not deletion.

Copies already pushed elsewhere go only when those clones sync (receiving the tombstones) and compact.
"""

from __future__ import annotations

import shutil
import time as _time
from dataclasses import dataclass, field

import msgspec
import pygit2

from git_ml import schema
from git_ml.dataset.export.records import parse_iso
from git_ml.errors import GitMlError
from git_ml.repo import config_get, ml_dir
from git_ml.store import reader
from git_ml.store.core import (
    DATA_REF,
    LOCAL_REF,
    Chunk,
    Store,
    chunk_path,
    compress,
    content_name,
    decoder,
    ref_for_stream,
)

DEFAULT_DAYS = 730
CONVERSATION = ("chats", "sessions", "feedback", "links")
CLEANABLE = ("chats", "sessions", "feedback", "links", "commits")
REWRITE_LEVEL = 10  # zstd level of rewritten chunks: a one-off cost, kept small on disk
DAY = 86400.0
PUSHED_NOTE = ("copies already pushed elsewhere go only when those clones sync (receiving the tombstones) and "
               "compact")


class _Times(msgspec.Struct):
    """Every field any cleanable stream dates or links its records by."""

    id: str
    captured_at: str = ""
    timestamp: str | None = None  # chats
    started_at: str | None = None  # sessions
    ended_at: str | None = None  # sessions, chats
    time: int | str | None = None  # commits (unix), feedback (ISO)
    chat_id: str | None = None  # feedback, links
    session_id: str | None = None  # links
    commit: str | None = None  # links


def retention_days(repo, days: int | None) -> int:
    if days is None:
        text = config_get(repo, "ml.retentionDays")
        if text is None:
            return DEFAULT_DAYS
        try:
            days = int(text)
        except ValueError:
            raise GitMlError(f"git config ml.retentionDays: not a number of days: {text!r}") from None
    if days < 0:
        raise GitMlError("the retention period must be 0 days or more")
    return days


def parse_streams(text: str | None) -> tuple[str, ...]:
    if not text:
        return CONVERSATION
    out: list[str] = []
    for part in text.split(","):
        name = part.strip().lower()
        if not name:
            continue
        if name == "all":
            out += [s for s in CLEANABLE if s not in out]
            continue
        if name == "conversations":
            out += [s for s in CONVERSATION if s not in out]
            continue
        if name not in CLEANABLE:
            raise GitMlError(f"unknown stream {name!r} for cleanup: expected {', '.join(CLEANABLE)}, "
                             "conversations or all")
        if name not in out:
            out.append(name)
    return tuple(out) or CONVERSATION


@dataclass
class CleanupPlan:
    days: int
    cutoff: float
    streams: tuple[str, ...]
    doomed: dict[str, set[str]] = field(default_factory=dict)  # stream -> ids to delete
    rewrites: dict[str, list[tuple[Chunk, list[bytes], int]]] = field(default_factory=dict)  # ref -> chunks
    oldest: str | None = None
    newest: str | None = None

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.doomed.values())

    def summary(self) -> dict:
        return {"days": self.days, "cutoff": _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(self.cutoff)),
                "streams": list(self.streams), "delete": {s: len(ids) for s, ids in self.doomed.items()},
                "sample": {s: sorted(ids)[:10] for s, ids in self.doomed.items()},
                "chunks_rewritten": sum(len(v) for v in self.rewrites.values()),
                "oldest_deleted": self.oldest, "newest_deleted": self.newest}


def _when(rec: _Times, stream: str) -> float | None:
    if stream == "chats":
        return parse_iso(rec.ended_at) or parse_iso(rec.timestamp) or parse_iso(rec.captured_at)
    if stream == "sessions":
        return parse_iso(rec.ended_at) or parse_iso(rec.started_at) or parse_iso(rec.captured_at)
    if stream == "commits":
        return float(rec.time) if isinstance(rec.time, int) and rec.time else parse_iso(rec.captured_at)
    if stream == "feedback":
        return (parse_iso(rec.time) if isinstance(rec.time, str) else None) or parse_iso(rec.captured_at)
    return None


def plan_cleanup(repo, days: int, streams: tuple[str, ...] = CONVERSATION, now: float | None = None) -> CleanupPlan:
    """What a cleanup would delete: ids per stream (with the cascades) and the chunks to rewrite."""
    now = _time.time() if now is None else now
    plan = CleanupPlan(days=days, cutoff=now - days * DAY, streams=streams)
    store = Store(repo)
    hidden = reader.hidden_ids(store)
    live = {s: reader.current(store, s, _Times, hidden=hidden)
            for s in ("chats", "sessions", "feedback", "links", "commits")}
    doomed: dict[str, set[str]] = {s: set() for s in ("chats", "sessions", "feedback", "links", "commits", "diffs")}
    times: list[float] = []
    for stream in ("chats", "sessions", "feedback", "commits"):
        if stream not in streams:
            continue
        for rid, rec in live[stream].items():
            t = _when(rec, stream)
            if t is not None and t < plan.cutoff:
                doomed[stream].add(rid)
                times.append(t)
    # Cascades: what refers to a deleted record goes with it.
    if doomed["chats"]:
        for rid, rec in live["feedback"].items():
            if rec.chat_id in doomed["chats"]:
                doomed["feedback"].add(rid)
    for rid, rec in live["links"].items():
        if (rec.chat_id and rec.chat_id in doomed["chats"]) or rec.commit in doomed["commits"] or \
                (not rec.chat_id and rec.session_id and rec.session_id in doomed["sessions"]):
            doomed["links"].add(rid)
    if doomed["commits"]:
        diffs = store.ids("diffs")
        doomed["diffs"] = (diffs & doomed["commits"]) - hidden.get("diffs", set())
    plan.doomed = {s: ids for s, ids in doomed.items() if ids}
    if times:
        plan.oldest = _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(min(times)))
        plan.newest = _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(max(times)))
    envelope = decoder(schema.Envelope)
    for stream, ids in plan.doomed.items():
        for chunk in store.iter_chunks(stream):
            try:
                lines = store.read_lines(chunk)
            except GitMlError as exc:
                store.skip_corrupt(chunk, str(exc))
                continue
            keep = []
            dropped = 0
            for line in lines:
                try:
                    rid = envelope.decode(line).id
                except (msgspec.DecodeError, msgspec.ValidationError):
                    keep.append(line)
                    continue
                if rid in ids:
                    dropped += 1
                else:
                    keep.append(line)
            if dropped:
                plan.rewrites.setdefault(ref_for_stream(stream), []).append((chunk, keep, dropped))
    return plan


def apply_cleanup(repo, plan: CleanupPlan, reason: str | None = None) -> dict[str, str]:
    """Append the tombstones and rewrite the affected chunks: one atomic update per ref, as a new root commit.
    Returns the new tip per ref updated."""
    if not plan.total:
        return {}
    store = Store(repo)
    stamp = schema.now_iso()
    why = reason or f"retention: older than {plan.days} days"
    tombs = [schema.Tombstone(id=f"{stream}:{rid}", captured_at=stamp, stream=stream, target=rid, reason=why)
             for stream, ids in sorted(plan.doomed.items()) for rid in sorted(ids)]
    edits: dict[str, tuple[dict, list]] = {DATA_REF: ({}, [])}
    raw = msgspec.json.Encoder().encode_lines(tombs)
    name = content_name(raw, len(tombs))
    edits[DATA_REF][0][chunk_path("tombstones", name)] = repo.create_blob(compress(raw, REWRITE_LEVEL))
    for ref, chunks in plan.rewrites.items():
        adds, removes = edits.setdefault(ref, ({}, []))
        for chunk, keep, _dropped in chunks:
            removes.append(chunk.path)
            if keep:
                data = b"".join(line + b"\n" for line in keep)
                path = chunk_path(chunk.stream, content_name(data, len(keep)))
                adds[path] = repo.create_blob(compress(data, REWRITE_LEVEL))
    counts = ", ".join(f"{len(ids)} {s}" for s, ids in sorted(plan.doomed.items()))
    tips = {}
    # The local ref first: if the data ref update failed after it, the hunks would be gone without tombstones,
    # which hides nothing that should stay; the other order could leave deleted diffs visible.
    for ref in sorted(edits, key=lambda r: r != LOCAL_REF):
        adds, removes = edits[ref]
        if store.tip(ref) is None and not adds:
            continue
        tips[ref] = str(store.update(ref, adds=adds, removes=removes, message=f"cleanup: {counts} ({why})",
                                     new_root=True))
    return tips


# ----- cleanup --all ----------------------------------------------------------------------------------------------
def everything_added(repo) -> dict:
    """What ``cleanup --all`` would remove."""
    from git_ml.hooks.claude import has_our_hooks, settings_path
    from git_ml.hooks.git import hook_status

    hooks = [str(h.path) for h in hook_status(repo) if h.ours]
    claude = [str(settings_path(repo, shared)) for shared in (False, True) if has_our_hooks(repo, shared)]
    refs = sorted(r for r in repo.references if r.startswith("refs/ml/"))
    directory = ml_dir(repo, create=False)
    size = 0
    if directory.is_dir():
        size = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
    return {"hooks": hooks, "claude_settings": claude, "refs": refs,
            "ml_dir": str(directory) if directory.exists() else None, "ml_dir_bytes": size}


def remove_everything(repo) -> dict:
    """Uninstall the hooks (git and Claude Code), delete refs/ml/* (with their reflogs) and .git/ml/."""
    from git_ml.hooks.claude import has_our_hooks, uninstall_claude_hooks
    from git_ml.hooks.git import uninstall_hooks

    found = everything_added(repo)
    done: dict = {"hooks": [], "claude_settings": [], "refs": [], "ml_dir": None}
    for action in uninstall_hooks(repo):
        if action.action != "not installed":
            done["hooks"].append(f"{action.hook}: {action.action}")
    for shared in (False, True):
        if has_our_hooks(repo, shared):
            for action in uninstall_claude_hooks(repo, shared=shared):
                if action.action == "removed":
                    done["claude_settings"].append(f"{action.path}: {action.event} removed")
    for ref in found["refs"]:
        try:
            repo.references.delete(ref)
        except (KeyError, pygit2.GitError) as exc:
            raise GitMlError(f"cannot delete {ref}: {exc}") from None
        done["refs"].append(ref)
    directory = ml_dir(repo, create=False)
    if directory.exists():
        try:
            shutil.rmtree(directory)
        except OSError as exc:
            raise GitMlError(f"cannot remove {directory}: {exc.strerror or exc}") from None
        done["ml_dir"] = str(directory)
    logs = ml_dir(repo, create=False).parent / "logs" / "refs" / "ml"
    if logs.is_dir():
        shutil.rmtree(logs, ignore_errors=True)
    return done
