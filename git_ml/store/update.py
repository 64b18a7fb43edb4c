"""Moving a store ref: compare-and-swap inside a libgit2 reference transaction, retried while another writer holds
or moves the ref, with the reflog kept for recovery.

Lock contention (the ref's lock held, the ref moved meanwhile) is retried until ``ml.lockTimeoutMs``; an I/O error
(disk full, read-only file system, quota, permission) is not contention: it is raised at once as ``StoreWriteError``
after the reflog is cut back to its length before the attempt, so nothing is left half-written.
"""

from __future__ import annotations

import errno
import random
import time
from collections.abc import Callable, Iterable

import pygit2

from git_ml.errors import GitMlError, StoreBusy
from git_ml.repo import common_dir, config_int
from git_ml.store.objects import signature
from git_ml.store.tree import all_present, edit_tree, tree_of

STALE_LOCK_SECONDS = 30.0  # a writer holds a ref's lock for milliseconds; an older lock is a killed writer's
_IO_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM, errno.EFBIG}
_IO_TEXTS = tuple(os_text.lower() for os_text in (
    "No space left on device", "Disk quota exceeded", "Read-only file system", "Input/output error",
    "Permission denied", "Operation not permitted", "File too large"))


class StoreWriteError(GitMlError):
    """The store's ref could not be written (an I/O error, not contention). Nothing was changed."""


class Moved(pygit2.GitError):
    """The ref moved between reading it and locking it (raised inside the transaction to abort it)."""


class Restart(Exception):
    """Chunks an update meant to remove are gone (another maintenance command ran): plan again."""


def tip_of(repo: pygit2.Repository, ref: str) -> pygit2.Oid | None:
    try:
        return repo.references[ref].target
    except KeyError:
        return None
    except pygit2.GitError as exc:
        raise GitMlError(f"cannot read {ref}: {exc}") from None


def io_error(exc: BaseException) -> bool:
    """True when ``exc`` is an I/O failure (disk full and the like) rather than lock contention."""
    if isinstance(exc, Moved):
        return False
    if isinstance(exc, OSError) and not isinstance(exc, pygit2.GitError):
        return True
    text = str(exc).lower()
    return any(t in text for t in _IO_TEXTS) or getattr(exc, "errno", None) in _IO_ERRNOS


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


def ensure_reflog(repo: pygit2.Repository, ref: str) -> None:
    """git keeps a reflog for refs outside refs/heads only when the log file exists: create it."""
    path = common_dir(repo) / "logs" / ref
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        except OSError:
            pass


def swap(repo: pygit2.Repository, ref: str, new: pygit2.Oid, old: pygit2.Oid | None, message: str) -> bool:
    """Compare-and-swap ``ref`` from ``old`` to ``new``. Raises Moved when it no longer points at ``old``,
    pygit2.GitError on contention and StoreWriteError on an I/O error (the reflog cut back to where it was)."""
    log = common_dir(repo) / "logs" / ref
    try:
        before = log.stat().st_size
    except OSError:
        before = None
    try:
        with repo.transaction() as txn:
            txn.lock_ref(ref)
            if tip_of(repo, ref) != old:
                raise Moved
            txn.set_target(ref, new, message=message)
    except Moved:
        raise
    except (OSError, pygit2.GitError) as exc:
        if not io_error(exc):
            raise
        _cut_reflog(log, before)
        raise StoreWriteError(f"cannot write {ref}: {str(exc).splitlines()[0] if str(exc) else exc!r}") from None
    return True


def _cut_reflog(log, size: int | None) -> None:
    """Undo a reflog line a failed transaction may have appended (or half-appended)."""
    if size is None:
        return
    try:
        if log.stat().st_size > size:
            with open(log, "r+b") as fh:
                fh.truncate(size)
    except OSError:
        pass


def update(repo: pygit2.Repository, ref: str, *, adds: dict[str, pygit2.Oid] | None = None,
           removes: Iterable[str] = (), message: str, new_root: bool = False,
           expect: pygit2.Oid | None | bool = False, timeout: float | None = None,
           warn: Callable[[str], None] | None = None) -> pygit2.Oid:
    """Add/remove chunk paths under ``ref`` atomically, retrying when another writer moved the ref meanwhile.

    ``expect`` (an oid or None) turns retrying off: the update applies only if the ref is still there.
    ``new_root`` writes a commit without parent so that removed chunks become unreachable (compaction).
    """
    adds = adds or {}
    removes = list(removes)
    if timeout is None:
        timeout = float(config_int(repo, "ml.lockTimeoutMs", 5000)) / 1000.0
    deadline = time.monotonic() + timeout
    delay = 0.002
    ensure_reflog(repo, ref)
    while True:
        old = tip_of(repo, ref)
        if expect is not False and old != expect:
            raise GitMlError(f"{ref} moved during the operation; nothing was changed, run it again")
        base = tree_of(repo, old)
        tree_oid = edit_tree(repo, base, adds, removes)
        parents = [] if (new_root or old is None) else [old]
        sig = signature()
        commit_oid = repo.create_commit(None, sig, sig, message + "\n", tree_oid, parents)
        try:
            if swap(repo, ref, commit_oid, old, message):
                return commit_oid
        except Moved:
            pass  # another writer moved the ref: build again on its tip
        except pygit2.GitError:
            # Locked by another writer: retry until the deadline. A lock older than any write takes was left
            # by a killed writer; left alone it would stop every writer after it.
            if break_stale_lock(repo, ref):
                if warn is not None:
                    warn(f"warning: removed a stale lock of {ref} left by an interrupted writer")
                continue
        if expect is not False:
            raise GitMlError(f"{ref} moved during the operation; nothing was changed, run it again")
        if time.monotonic() >= deadline:
            raise StoreBusy(f"could not update {ref} within {timeout:.1f}s: another git-ml process holds it")
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 0.1)


def apply_update(repo: pygit2.Repository, ref: str, tip, adds: dict, removes: list[str], message: str, *,
                 new_root: bool, timeout: float | None, warn: Callable[[str], None] | None = None) -> pygit2.Oid:
    """Compare-and-swap ``ref`` from ``tip`` with adds/removes; when the ref moved, carry on from the new tip as long
    as every removed chunk is still there (others only appended). Raises Restart otherwise."""
    removes = [p for p in removes if p not in adds]
    if timeout is None:
        timeout = float(config_int(repo, "ml.lockTimeoutMs", 5000)) / 1000.0
    deadline = time.monotonic() + timeout
    expect = tip
    while True:
        try:
            return update(repo, ref, adds=adds, removes=removes, message=message, new_root=new_root, expect=expect,
                          timeout=timeout, warn=warn)
        except (StoreWriteError, StoreBusy):
            raise
        except GitMlError:
            now = tip_of(repo, ref)
            if now is None or not all_present(tree_of(repo, now), removes):
                raise Restart() from None
            if time.monotonic() >= deadline:
                raise StoreBusy(f"could not update {ref} within {timeout:.1f}s: other writers keep it busy") from None
            expect = now
            time.sleep(0.005)
