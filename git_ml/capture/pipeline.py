"""Capturing commits into the store: from hooks (HEAD plus what was missed), given revisions, or whole histories."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from git_ml.capture.commits import DEFAULT_DIFF_LIMIT, history, object_parents, record_from_commit, shallow_boundary
from git_ml.capture.optout import amended_from_skipped, note_skipped, skipped_ids
from git_ml.errors import StoreBusy
from git_ml.fsutil import atomic_write
from git_ml.repo import config_int, current_branch, ml_dir, resolve_commit
from git_ml.schema import Commit, Rewrite
from git_ml.store import spool
from git_ml.store.core import DATA_REF, Store

CATCH_UP_BOUND = 50  # uncaptured ancestors a hook capture takes along; beyond it, a hint to backfill
SKIPPED_WALK_BOUND = 2000  # commits made with collection off a catch-up walks through before it gives up
BACKFILL_BATCH = 20000  # records per ref update during a backfill (progress survives an interrupt)
BACKFILL_LEVEL = 9


@dataclass
class CaptureResult:
    captured: int = 0
    skipped: int = 0  # already in the store
    opted_out: int = 0  # made with collection off: left out until named explicitly
    failed: int = 0  # could not be recorded (logged); the others were
    completed: int = 0  # shallow-boundary records captured again with their files after unshallowing
    diffs: int = 0  # diff records stored by a backfill with diffs
    spooled: int = 0
    hints: list[str] = field(default_factory=list)
    records: list[Commit] = field(default_factory=list)


class CapturedIndex:
    """Ids of the commits already in the store, cached in ``.git/ml/cache/captured-commits`` (derived data).

    The file is the data ref's tip (20 bytes) followed by 20-byte commit ids. It is trusted only while the tip
    matches; otherwise it is rebuilt from the store's envelopes. A hook asks about a commit or two, so lookups
    scan the file's bytes instead of building a set of every id; captures append their ids and then write the
    new tip over the header, so a crash between the two leaves a mismatched tip, which means a rebuild.
    """

    def __init__(self, repo: pygit2.Repository, store: Store):
        self.repo = repo
        self.store = store
        self.path = ml_dir(repo) / "cache" / "captured-commits"
        self._data: bytes | None = None
        self._ids: set[bytes] | None = None
        self._new: set[bytes] = set()
        self._tip: pygit2.Oid | None = None

    def _bytes(self) -> bytes:
        if self._data is not None:
            return self._data
        tip = self.store.tip(DATA_REF)
        header = tip.raw if tip else b"\0" * 20
        try:
            data = self.path.read_bytes()
            if len(data) < 20 or data[:20] != header or (len(data) - 20) % 20:
                data = None
        except OSError:
            data = None
        if data is None:
            ids = set()
            for hexid in self.store.ids("commits"):
                try:
                    ids.add(bytes.fromhex(hexid))
                except ValueError:
                    pass
            data = header + b"".join(ids)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(self.path, data)
            except OSError:
                pass
        self._data, self._tip = data, tip
        return data

    def load(self) -> set[bytes]:
        """Every captured id (for a backfill, which asks about all of history)."""
        if self._ids is None:
            data = self._bytes()
            self._ids = {data[i:i + 20] for i in range(20, len(data), 20)} | self._new
        return self._ids

    def contains(self, oid: str | pygit2.Oid) -> bool:
        raw = oid.raw if isinstance(oid, pygit2.Oid) else bytes.fromhex(oid)
        if self._ids is not None:
            return raw in self._ids
        if raw in self._new:
            return True
        data = self._bytes()
        i = data.find(raw, 20)
        while i != -1 and (i - 20) % 20:
            i = data.find(raw, i + 1)
        return i != -1

    def added(self, oids: Iterable[str], new_tip: pygit2.Oid | None) -> None:
        """Record ids just appended. Kept only if the new tip directly follows the one the cache reflects."""
        self._bytes()
        new = [bytes.fromhex(o) for o in oids]
        self._new.update(new)
        if self._ids is not None:
            self._ids.update(new)
        commit = self.repo.get(new_tip) if new_tip is not None else None
        parent_ok = commit is not None and (
            (self._tip is None and not commit.parent_ids) or (self._tip in commit.parent_ids))
        if not parent_ok:
            self.invalidate()
            return
        try:
            with open(self.path, "ab") as fh:
                fh.write(b"".join(new))
            with open(self.path, "r+b") as fh:
                fh.write(new_tip.raw)
            self._tip = new_tip
        except OSError:
            self.invalidate()

    def invalidate(self) -> None:
        try:
            self.path.unlink()
        except OSError:
            pass


def diff_limit(repo: pygit2.Repository) -> int | None:
    limit = config_int(repo, "ml.diffLimit", DEFAULT_DIFF_LIMIT)
    return None if limit <= 0 else limit


def store_commits(repo: pygit2.Repository, store: Store, index: CapturedIndex, commits: Sequence[pygit2.Commit],
                  *, source: str, branch: str | None, extra: dict[str, list] | None = None,
                  spool_on_busy: bool = False, timeout: float | None = None) -> CaptureResult:
    """Build records for ``commits`` (skipping captured ones) and append them with their hunks. A commit whose
    record cannot be built or encoded is logged and left out: it never keeps the others from the store."""
    import msgspec

    result = CaptureResult()
    limit = diff_limit(repo)
    shallow = shallow_boundary(repo) if repo.is_shallow else set()
    records: list[Commit] = []
    diffs = []
    for commit in commits:
        if index.contains(commit.id):
            result.skipped += 1
            continue
        try:
            rec, hunks = record_from_commit(repo, commit, branch=branch, source=source, diff_limit=limit,
                                            shallow=shallow)
            msgspec.json.encode(rec)
            if hunks is not None:
                msgspec.json.encode(hunks)
        except Exception as exc:
            result.failed += 1
            spool.log(repo, f"capture of {commit.id}: {type(exc).__name__}: {exc}; other commits go on")
            continue
        records.append(rec)
        if hunks is not None:
            diffs.append(hunks)
    note_shallow(repo, [r.id for r in records if r.shallow])
    batches = {"commits": records, "diffs": diffs, **(extra or {})}
    if records:
        from git_ml.capture.sessions import annotate_commits

        links = annotate_commits(repo, records)  # fills session_id / related_chats from open sessions
        if links:
            batches["links"] = list(batches.get("links", [])) + links
    if not any(batches.values()):
        return result
    try:
        spool.drain(repo, store, timeout=timeout)
        before = store.tip(DATA_REF)
        store.append_many(batches, message=f"capture ({source})", timeout=timeout)
        after = store.tip(DATA_REF)
        if records and before != after:
            index.added((r.id for r in records), after)
    except StoreBusy:
        if not spool_on_busy:
            raise
        result.spooled = spool.write_spool(repo, batches)
        index.invalidate()
    result.captured = len(records)
    result.records = records
    return result


def uncaptured_ancestors(repo: pygit2.Repository, index: CapturedIndex, head: pygit2.Commit,
                         bound: int = CATCH_UP_BOUND, skipped: set[str] | frozenset = frozenset(),
                         ) -> tuple[list[pygit2.Commit], bool]:
    """Commits reachable from ``head`` that were never captured, oldest first, at most ``bound``.

    The walk stops at captured commits, so its cost is the size of the gap; it walks through skipped commits
    (made with collection off) without taking them. Returns (commits, overflowed).
    """
    found: list[pygit2.Commit] = []
    seen: set[pygit2.Oid] = set()
    stack = [head]
    overflow = False
    passed = 0  # skipped commits walked through: bounded too (a long stretch with capture off)
    while stack:
        commit = stack.pop()
        if commit.id in seen:
            continue
        seen.add(commit.id)
        if index.contains(commit.id):
            continue
        if skipped and str(commit.id) in skipped:
            passed += 1
            if passed > SKIPPED_WALK_BOUND:
                overflow = True
                break
            stack.extend(commit.parents)
            continue
        if len(found) >= bound:
            overflow = True
            break
        found.append(commit)
        stack.extend(commit.parents)
    found.sort(key=lambda c: (c.commit_time, c.author.time))
    return found, overflow


def capture_head(repo: pygit2.Repository, store: Store, *, source: str = "hook", spool_on_busy: bool = True,
                 timeout: float | None = None, extra: dict[str, list] | None = None) -> CaptureResult:
    """Capture HEAD and the uncaptured commits behind it (pulls, fast-forwards, `git am`, capture gaps)."""
    if repo.head_is_unborn:
        return CaptureResult()
    head = repo.head.peel(pygit2.Commit)
    index = CapturedIndex(repo, store)
    bound = config_int(repo, "ml.catchUpLimit", CATCH_UP_BOUND)
    skipped = skipped_ids(repo)
    if skipped and str(head.id) not in skipped and amended_from_skipped(repo, skipped, head):
        note_skipped(repo, [str(head.id)])
        skipped.add(str(head.id))
    todo, overflow = uncaptured_ancestors(repo, index, head, bound, skipped)
    result = store_commits(repo, store, index, todo, source=source, branch=current_branch(repo), extra=extra,
                           spool_on_busy=spool_on_busy, timeout=timeout)
    result.opted_out = int(str(head.id) in skipped)
    if overflow:
        hint = (f"more than {bound} commits behind HEAD were never captured; "
                "run `git ml capture --backfill` to import the history")
        result.hints.append(hint)
    return result


def capture_revisions(repo: pygit2.Repository, store: Store, revs: Sequence[str], *,
                      source: str = "manual") -> CaptureResult:
    commits = [resolve_commit(repo, rev) for rev in revs]
    index = CapturedIndex(repo, store)
    return store_commits(repo, store, index, commits, source=source, branch=current_branch(repo))


def record_rewrites(repo: pygit2.Repository, store: Store, kind: str, lines: Iterable[str], *,
                    spool_on_busy: bool = True) -> CaptureResult:
    """post-rewrite: remember old -> new so links to chats survive, and capture the new commits. A commit
    rewritten from a skipped one (collection was off) is skipped too, and its rewrite is not recorded."""
    import time

    pairs = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2:
            pairs.append((parts[0], parts[1]))
    skipped = skipped_ids(repo)
    if skipped:
        tainted = {new for old, new in pairs if old in skipped}  # a squash with any skipped part is skipped
        note_skipped(repo, sorted(tainted - skipped))
        pairs = [(old, new) for old, new in pairs if new not in tainted and new not in skipped]
    rewrites = [Rewrite(id=f"{old}:{new}", old=old, new=new, kind=kind, time=int(time.time()))
                for old, new in pairs]
    index = CapturedIndex(repo, store)
    commits = []
    for _, new in pairs:
        try:
            commits.append(repo[new].peel(pygit2.Commit))
        except (KeyError, ValueError, pygit2.GitError):
            continue
    return store_commits(repo, store, index, commits, source="rewrite", branch=current_branch(repo),
                         extra={"rewrites": rewrites}, spool_on_busy=spool_on_busy)


def parse_range(repo: pygit2.Repository, specs: Sequence[str]) -> tuple[list[pygit2.Oid], list[pygit2.Oid]]:
    """Revision arguments as git log takes them: ``A..B``, ``^A``, plain revisions (default HEAD)."""
    tips: list[pygit2.Oid] = []
    hide: list[pygit2.Oid] = []
    for spec in specs or ["HEAD"]:
        if ".." in spec and "..." not in spec:
            left, right = spec.split("..", 1)
            hide.append(resolve_commit(repo, left or "HEAD").id)
            tips.append(resolve_commit(repo, right or "HEAD").id)
        elif spec.startswith("^"):
            hide.append(resolve_commit(repo, spec[1:]).id)
        else:
            tips.append(resolve_commit(repo, spec).id)
    return tips, hide


SHALLOW_NOTE = "shallow-captured"  # .git/ml/: commits recorded at a shallow boundary, to complete after unshallowing
DIFF_BATCH_BYTES = 64 << 20  # diff text per ref update during a backfill with diffs


def shallow_captured(repo: pygit2.Repository) -> set[str]:
    try:
        return set((ml_dir(repo, create=False) / SHALLOW_NOTE).read_text(encoding="ascii").split())
    except OSError:
        return set()


def note_shallow(repo: pygit2.Repository, added: Iterable[str] = (), completed: Iterable[str] = ()) -> None:
    added, completed = set(added), set(completed)
    if not added and not completed:
        return
    ids = (shallow_captured(repo) | added) - completed
    path = ml_dir(repo) / SHALLOW_NOTE
    if ids:
        atomic_write(path, "".join(f"{o}\n" for o in sorted(ids)).encode("ascii"))
    else:
        path.unlink(missing_ok=True)


def backfill(repo: pygit2.Repository, store: Store, specs: Sequence[str] = (), *,
             progress: Callable[[int, int], None] | None = None, batch: int = BACKFILL_BATCH,
             diffs: bool = False) -> CaptureResult:
    """Import existing history idempotently: commits already captured are skipped, and so are commits made with
    collection off. Records of a shallow clone's boundary are stored again, complete, once their parents are
    here. With ``diffs``, the hunks of every commit in the range that has none yet go to refs/ml/local."""
    from git_ml.capture.gitlog import stream_commits

    result = CaptureResult()
    if repo.head_is_unborn and not specs:
        return result
    tips, hide = parse_range(repo, specs)
    oids = history(repo, tips, hide)
    index = CapturedIndex(repo, store)
    captured = index.load()
    opted_out = skipped_ids(repo)
    shallow = shallow_boundary(repo) if repo.is_shallow else set()
    incomplete = shallow_captured(repo) - shallow
    fresh = [o for o in oids if bytes.fromhex(o) not in captured or o in incomplete]
    todo = [o for o in fresh if o not in opted_out] if opted_out else fresh
    result.skipped = len(oids) - len(fresh)
    result.opted_out = len(fresh) - len(todo)
    branch = current_branch(repo) if not specs else None
    git_dir = str(Path(repo.path))
    pending: list[Commit] = []
    boundary: list[str] = []
    completed: list[str] = []
    done = 0

    def flush() -> None:
        nonlocal pending
        if not pending:
            return
        before = store.tip(DATA_REF)
        store.append("commits", pending, message="backfill", level=BACKFILL_LEVEL)
        after = store.tip(DATA_REF)
        if before != after:
            index.added((r.id for r in pending), after)
        note_shallow(repo, boundary, completed)
        boundary.clear()
        completed.clear()
        pending = []

    spool.drain(repo, store)
    for rec in stream_commits(git_dir, todo, branch=branch, shallow=shallow):
        if rec.shallow:
            rec.parents = object_parents(repo[rec.id])  # git log shows a boundary commit without its parents
            boundary.append(rec.id)
        elif rec.id in incomplete:
            completed.append(rec.id)
            result.completed += 1
        pending.append(rec)
        done += 1
        if progress is not None and done % 512 == 0:
            progress(done, len(todo))
        if len(pending) >= batch:
            flush()
    flush()
    if progress is not None and todo:
        progress(done, len(todo))
    result.captured = done - result.completed
    if diffs:
        wanted = [o for o in oids if o not in opted_out and o not in shallow]
        result.diffs = backfill_diffs(repo, store, wanted, progress=progress)
    return result


def backfill_diffs(repo: pygit2.Repository, store: Store, oids: Sequence[str], *,
                   progress: Callable[[int, int], None] | None = None) -> int:
    """Hunks (bounded by ``ml.diffLimit`` per commit, redacted) of the commits in ``oids`` that have none in
    refs/ml/local yet. Returns how many were stored."""
    from git_ml.capture.gitlog import stream_diffs

    limit = diff_limit(repo)
    if limit is None:
        return 0
    have = store.ids("diffs")
    todo = [o for o in oids if o not in have]
    pending: list = []
    size = stored = seen = 0
    for rec in stream_diffs(str(Path(repo.path)), todo, limit):
        pending.append(rec)
        size += len(rec.text)
        seen += 1
        if progress is not None and seen % 512 == 0:
            progress(seen, len(todo))
        if size >= DIFF_BATCH_BYTES or len(pending) >= BACKFILL_BATCH:
            store.append("diffs", pending, message="backfill diffs", level=BACKFILL_LEVEL)
            stored += len(pending)
            pending, size = [], 0
    if pending:
        store.append("diffs", pending, message="backfill diffs", level=BACKFILL_LEVEL)
        stored += len(pending)
    return stored


def in_progress_operation(repo: pygit2.Repository) -> str | None:
    """A rebase, am or multi-commit cherry-pick/revert in progress: capture waits for its end."""
    gitdir = Path(repo.path)
    if (gitdir / "rebase-merge").is_dir():
        return "rebase"
    if (gitdir / "rebase-apply").is_dir():
        return "am" if (gitdir / "rebase-apply" / "applying").exists() else "rebase"
    if (gitdir / "sequencer").is_dir():
        return "sequence"
    return None


def sequence_last_step(repo: pygit2.Repository) -> bool:
    """Whether the commit of a cherry-pick or revert series just made is its last (git keeps the step being made
    as the first line of ``sequencer/todo``, so the last step sees one line)."""
    try:
        lines = (Path(repo.path) / "sequencer" / "todo").read_text(errors="replace").splitlines()
    except OSError:
        return True  # the series is over
    return sum(1 for line in lines if line.strip() and not line.lstrip().startswith("#")) <= 1
