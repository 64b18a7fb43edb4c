"""``git ml sync``: exchange ``refs/ml/data`` with a remote by union of chunks.

1. Fetch the remote's ``refs/ml/data`` into ``refs/ml/remotes/<remote>/data`` (forced: the remote may have been
   compacted, i.e. rewritten as a new root commit).
2. Merge by union of trees. Chunks are named by their content, so the chunks both sides hold coincide; nothing is
   assumed about ancestry, so a compaction on either side (a new root) merges like anything else. Reading
   deduplicates records by id (latest captured wins, tombstones hide), so the union holds every record once as far
   as every reader is concerned. When the union holds many records twice (both sides captured the same commits, or
   one side compacted), the merge is compacted before it is pushed.
3. Write a merge commit (parents: local tip, remote tip) and move the local ref with compare-and-swap.
4. Push it with ``--force-with-lease=refs/ml/data:<remote tip seen>``: the push applies only if the remote did not
   move since the fetch; otherwise fetch, merge and push again.

``refs/ml/local`` is never pushed: only the one refspec ``<oid>:refs/ml/data`` is.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pygit2

from git_ml import schema
from git_ml.errors import GitMlError
from git_ml.repo import config_get, config_int, workdir
from git_ml.store.compact import compact
from git_ml.store.core import DATA_REF, Store
from git_ml.store.objects import Chunk, signature
from git_ml.store.scan import scan_chunks
from git_ml.store.tree import edit_tree, iter_tree_chunks, tree_of
from git_ml.store.update import Moved, StoreWriteError, ensure_reflog

ATTEMPTS = 5
DEFAULT_COMPACT_MIN = 1000  # duplicate records a merge must create before sync compacts it (ml.syncCompactMin)


class SyncError(GitMlError):
    pass


@dataclass
class SyncResult:
    remote: str
    fetched: pygit2.Oid | None = None  # the remote tip the merge was made against
    local_before: pygit2.Oid | None = None
    local_after: pygit2.Oid | None = None
    pushed: bool = False
    action: str = ""  # up-to-date | fast-forward | merged | pushed-only | ...
    chunks_in: int = 0  # chunks the remote had that we lacked
    chunks_out: int = 0  # chunks we had that the remote lacked
    duplicates: int = 0  # records held twice in the union (by id)
    compacted: bool = False
    attempts: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def tracking_ref(remote: str) -> str:
    return f"refs/ml/remotes/{remote}/data"


def resolve_remote(repo: pygit2.Repository, remote: str | None) -> str:
    name = remote or config_get(repo, "ml.remote")
    if not name:
        raise SyncError("no remote given and ml.remote is not set: run `git config ml.remote origin` "
                        "(or `git ml sync REMOTE`)")
    names = set(repo.remotes.names())
    if name not in names:
        known = ", ".join(sorted(names)) or "none"
        where = "" if remote else " (from ml.remote)"
        raise SyncError(f"unknown remote: {name}{where}; configured remotes: {known}")
    return name


def _git(repo: pygit2.Repository, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cwd = workdir(repo) or repo.path
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    except OSError as exc:
        raise SyncError(f"cannot run git: {exc}") from None
    if check and proc.returncode != 0:
        raise SyncError(f"git {args[0]} failed: {_last_line(proc.stderr)}")
    return proc


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    fatal = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
    return (fatal or lines or ["(no message)"])[-1]


def fetch(repo: pygit2.Repository, remote: str) -> pygit2.Oid | None:
    """Fetch the remote's refs/ml/data into the remote-tracking ref. None when the remote has none."""
    track = tracking_ref(remote)
    proc = _git(repo, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote,
                f"+{DATA_REF}:{track}", check=False)
    if proc.returncode != 0:
        if "couldn't find remote ref" in proc.stderr:
            try:
                repo.references.delete(track)
            except (KeyError, pygit2.GitError):
                pass
            return None
        raise SyncError(f"cannot fetch {DATA_REF} from {remote}: {_last_line(proc.stderr)}")
    try:
        return repo.references[track].target
    except KeyError:
        return None


def _paths(repo, tree) -> dict[str, pygit2.Oid]:
    return {c.path: c.oid for c in iter_tree_chunks(repo, tree)}


def _sound(repo, path: str, oid) -> bool:
    stream = path.split("/", 1)[0]
    return not scan_chunks(repo, stream, [Chunk(stream, path, oid, 0)], check_names=True).corrupt


def union_tree(repo: pygit2.Repository, store: Store, local_tree, remote_tree,
               notes: list[str]) -> tuple[dict[str, pygit2.Oid], int, int]:
    """Chunks of the remote tree that the local one lacks (to add to it), and the counts each way. When both hold
    a path with different blobs (same records, compressed differently, or one damaged), a sound one is kept."""
    mine = _paths(repo, local_tree)
    theirs = _paths(repo, remote_tree)
    adds: dict[str, pygit2.Oid] = {}
    for path, oid in theirs.items():
        if path not in mine:
            adds[path] = oid
        elif mine[path] != oid and not _sound(repo, path, mine[path]) and _sound(repo, path, oid):
            adds[path] = oid
            notes.append(f"replaced damaged local chunk {path} by the remote's sound copy")
    outgoing = sum(1 for p in mine if p not in theirs)
    return adds, len([p for p in adds if p not in mine]), outgoing


def count_duplicates(repo: pygit2.Repository, local_tree, remote_tree) -> int:
    """Record ids held both by chunks only the local side has and by chunks only the remote side has."""
    mine = _paths(repo, local_tree)
    theirs = _paths(repo, remote_tree)
    def ids(paths: dict[str, pygit2.Oid], only: set[str]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        by_stream: dict[str, list] = {}
        for path in only:
            stream = path.split("/", 1)[0]
            by_stream.setdefault(stream, []).append(Chunk(stream, path, paths[path], 0))
        for stream, chunks in by_stream.items():
            out[stream] = {ln[2] for ln in scan_chunks(repo, stream, chunks).lines}
        return out

    a = ids(mine, set(mine) - set(theirs))
    b = ids(theirs, set(theirs) - set(mine))
    return sum(len(a[s] & b[s]) for s in a if s in b)


def _merge_commit(repo, store: Store, local, remote, adds, message: str) -> pygit2.Oid:
    base = tree_of(repo, local)
    tree = edit_tree(repo, base, adds, [])
    sig = signature()
    return repo.create_commit(None, sig, sig, message + "\n", tree, [local, remote])


def _set_local(repo, store: Store, new: pygit2.Oid, old: pygit2.Oid | None, message: str) -> bool:
    """Compare-and-swap the local data ref. False when it moved (a capture landed): merge again."""
    ensure_reflog(repo, DATA_REF)
    try:
        return store.swap(DATA_REF, new, old, message)
    except StoreWriteError:
        raise
    except (Moved, pygit2.GitError):
        return False


def push(repo: pygit2.Repository, remote: str, new: pygit2.Oid, expected: pygit2.Oid | None) -> str:
    """Push ``new`` to the remote's refs/ml/data if it still points at ``expected``. Returns ok | stale."""
    lease = f"--force-with-lease={DATA_REF}:{expected if expected is not None else ''}"
    proc = _git(repo, "push", "--porcelain", "--quiet", lease, remote, f"{new}:{DATA_REF}", check=False)
    out = proc.stdout + proc.stderr
    if proc.returncode == 0:
        return "ok"
    if "stale info" in out or "fetch first" in out or "non-fast-forward" in out or "cannot lock ref" in out:
        return "stale"
    raise SyncError(f"cannot push {DATA_REF} to {remote}: {_last_line(proc.stderr) or _last_line(proc.stdout)}")


def _merge(repo, store: Store, name: str, local, remote_tip, result: SyncResult, compact_after: str,
           threshold: int) -> pygit2.Oid | None:
    """The commit the local ref should point at after merging ``remote_tip`` into ``local``."""
    result.compacted = False
    result.duplicates = 0
    if remote_tip is None or remote_tip == local:
        result.action = "push" if remote_tip is None and local is not None else "up-to-date"
        if result.action == "push":
            result.chunks_out = len(_paths(repo, tree_of(repo, local)))
        return local
    remote_tree = tree_of(repo, remote_tip)
    if local is None:
        result.action = "fast-forward"
        result.chunks_in = len(_paths(repo, remote_tree))
        return remote_tip
    local_tree = tree_of(repo, local)
    adds, result.chunks_in, result.chunks_out = union_tree(repo, store, local_tree, remote_tree, result.notes)
    mine = _paths(repo, local_tree)
    if not adds:  # the remote has nothing we lack
        result.action = "push" if result.chunks_out else "up-to-date"
        return local
    if result.chunks_out == 0 and not any(p in mine for p in adds):
        result.action = "fast-forward"  # we have nothing the remote lacks: take its commit as it is
        return remote_tip
    result.action = "merged"
    if compact_after == "always":
        result.compacted = True
    elif compact_after == "auto":
        result.duplicates = count_duplicates(repo, local_tree, remote_tree)
        result.compacted = result.duplicates >= max(1, threshold)
    message = f"sync: merge {result.chunks_in} chunks from {name}, {result.chunks_out} local chunks not on {name}"
    return _merge_commit(repo, store, local, remote_tip, adds, message)


def sync(repo: pygit2.Repository, remote: str | None = None, *, compact_after: str = "auto", push_changes: bool = True,
         warn: Callable[[str], None] | None = None, log: Callable[[str], None] | None = None,
         local_timeout: float = 30.0) -> SyncResult:
    """Fetch, merge by union, push with compare-and-swap; retry when the remote or the local ref moved meanwhile.

    ``compact_after``: ``auto`` compacts the merge when it holds at least ``ml.syncCompactMin`` (1000) records twice,
    ``always`` after every merge, ``never``.
    """
    started = time.monotonic()
    name = resolve_remote(repo, remote)
    store = Store(repo, warn=warn)
    result = SyncResult(name)
    say = log or (lambda _m: None)
    threshold = config_int(repo, "ml.syncCompactMin", DEFAULT_COMPACT_MIN)
    result.local_before = store.tip(DATA_REF)
    for attempt in range(1, ATTEMPTS + 1):
        result.attempts = attempt
        remote_tip = fetch(repo, name)
        result.fetched = remote_tip
        # Merge against this remote tip; if a capture moves the local ref meanwhile, merge again (cheap: trees).
        deadline = time.monotonic() + local_timeout
        while True:
            local = store.tip(DATA_REF)
            new = _merge(repo, store, name, local, remote_tip, result, compact_after, threshold)
            if new == local or _set_local(repo, store, new, local, f"sync with {name}: {result.action}"):
                break
            if time.monotonic() >= deadline:
                raise SyncError("the local store kept moving during the sync (captures in progress); nothing was "
                                "changed, run it again")
            time.sleep(0.01)
        if result.compacted:
            say("compacting the merge")
            compact(repo, refs=[DATA_REF], warn=warn)
            new = store.tip(DATA_REF)
            # Compaction is deterministic: when the remote had compacted the same records, both trees are one.
            if (remote_tip is not None and new is not None and new != remote_tip
                    and tree_of(repo, new).id == tree_of(repo, remote_tip).id
                    and _set_local(repo, store, remote_tip, new, f"sync with {name}: same records as {name}")):
                new = remote_tip
        result.local_after = new
        if not push_changes or new is None or new == remote_tip:
            break
        status = push(repo, name, new, remote_tip)
        if status == "ok":
            result.pushed = True
            try:
                repo.references.create(tracking_ref(name), new, force=True)
            except pygit2.GitError:
                pass
            break
        say(f"{name} moved during sync; fetching again")
        time.sleep(0.05 * attempt)
    else:
        raise SyncError(f"{name} kept moving: gave up after {ATTEMPTS} attempts; nothing is lost, run it again")
    result.local_after = store.tip(DATA_REF)
    result.seconds = time.monotonic() - started
    return result


def describe(result: SyncResult) -> str:
    """One line for people: what came in, what went out."""
    parts = []
    if result.action == "merged":
        parts.append(f"merged: received {result.chunks_in} chunks")
    elif result.action == "fast-forward":
        parts.append(f"received {result.chunks_in} chunks" if result.chunks_in else "updated to the remote's state")
    if result.pushed:
        parts.append(f"sent {result.chunks_out} chunks" if result.chunks_out else f"pushed {DATA_REF}")
    elif result.action == "push":
        parts.append(f"{result.chunks_out} chunks not sent (--no-push)")
    if result.duplicates:
        parts.append(f"{result.duplicates} records were held on both sides")
    if result.compacted:
        parts.append("compacted")
    if not parts:
        parts.append("up to date")
    return f"{result.remote}: " + ", ".join(parts)


def streams_summary(repo: pygit2.Repository) -> dict[str, int]:
    store = Store(repo, warn=lambda _m: None)
    return {s: store.count(s) for s in schema.DATA_STREAMS}
