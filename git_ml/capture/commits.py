"""Commit records: one commit at a time through pygit2 (hooks), or whole histories through one streaming
``git log`` per core (backfill), which NOTES.md measured to be several times faster than pygit2 diff stats."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import threading
from collections.abc import Iterable, Iterator, Sequence

import pygit2

from git_ml.capture.redaction import redact
from git_ml.capture.redaction.records import redact_record
from git_ml.schema import Commit, Diff, iso_from_unix

DEFAULT_DIFF_LIMIT = 256 * 1024  # bytes of hunks kept per commit in refs/ml/local (ml.diffLimit)


def _local_time_fields(seconds: int, offset_minutes: int) -> tuple[str, int, int]:
    local = dt.datetime.fromtimestamp(seconds, dt.timezone(dt.timedelta(minutes=offset_minutes)))
    return local.isoformat(), local.hour, local.weekday()


def _merge_redactions(*counts: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in counts:
        for k, v in c.items():
            out[k] = out.get(k, 0) + v
    return out


def _totals(files: Sequence[tuple]) -> tuple[int, int]:
    ins = sum(f[2] or 0 for f in files)
    dels = sum(f[3] or 0 for f in files)
    return ins, dels


def make_commit(*, oid: str, parents: list[str], author: str, author_email: str, author_time: int,
                author_offset: int, committer: str, committer_time: int, committer_offset: int, message: str,
                files: list[tuple], branch: str | None, source: str, patch_id: str | None = None) -> Commit:
    timestamp, hour, weekday = _local_time_fields(author_time, author_offset)
    ins, dels = _totals(files)
    commit = Commit(
        id=oid, message=message.rstrip("\n"), author=author, author_email=author_email, timestamp=timestamp, time=author_time,
        committer=committer, committed_at=iso_from_unix(committer_time, committer_offset), branch=branch,
        parents=parents, is_merge=len(parents) > 1, files=files, files_changed=len(files), insertions=ins,
        deletions=dels, hour_of_day=hour, day_of_week=weekday, patch_id=patch_id, source=source,
    )
    commit.redactions = redact_record(commit)  # the message, and file paths and the branch name
    return commit


# ----- one commit through pygit2 ---------------------------------------------------------------------------------

_BINARY = getattr(pygit2, "GIT_DIFF_FLAG_BINARY", 1)


def commit_diff(repo: pygit2.Repository, commit: pygit2.Commit) -> pygit2.Diff:
    """The commit's change against its first parent (merges included, as `--diff-merges=first-parent`)."""
    if commit.parents:
        diff = repo.diff(commit.parents[0], commit)
    else:
        diff = commit.tree.diff_to_tree(swap=True)
    diff.find_similar()
    return diff


def files_of_diff(diff: pygit2.Diff) -> list[tuple]:
    files = []
    for patch in diff:
        delta = patch.delta
        status = delta.status_char()
        binary = bool(delta.flags & _BINARY) or delta.is_binary
        if binary:
            added = deleted = None
        else:
            _, added, deleted = patch.line_stats
        old = delta.old_file.path if status in ("R", "C") else None
        files.append((status, delta.new_file.path if status != "D" else delta.old_file.path, added, deleted, old))
    return files


def record_from_commit(repo: pygit2.Repository, commit: pygit2.Commit, *, branch: str | None, source: str,
                       diff_limit: int | None = DEFAULT_DIFF_LIMIT) -> tuple[Commit, Diff | None]:
    """A Commit record and (when ``diff_limit`` is not None) its bounded, redacted hunks for refs/ml/local."""
    diff = commit_diff(repo, commit)
    files = files_of_diff(diff)
    patch_id = None
    if len(commit.parents) <= 1 and files:
        if any(f[2] is None for f in files):
            patch_id = git_patch_id(repo.path, str(commit.id))
        else:
            try:
                patch_id = str(diff.patchid)  # libgit2 matches `git patch-id --stable` on text diffs
            except (pygit2.GitError, AttributeError):
                patch_id = git_patch_id(repo.path, str(commit.id))
    a, c = commit.author, commit.committer
    record = make_commit(
        oid=str(commit.id), parents=[str(p) for p in commit.parent_ids], author=a.name, author_email=a.email,
        author_time=a.time, author_offset=a.offset, committer=c.name, committer_time=c.time,
        committer_offset=c.offset, message=commit.message, files=files, branch=branch, source=source,
        patch_id=patch_id,
    )
    hunks = None
    if diff_limit is not None and files:
        hunks = _bounded_diff(diff, diff_limit, record.id)
    return record, hunks


def git_patch_id(git_dir: str, oid: str) -> str | None:
    """`git patch-id --stable` itself, for diffs with binary files, which libgit2 hashes differently."""
    env = dict(os.environ, GIT_DIR=git_dir)
    show = subprocess.run(["git", "show", "--format=", "--no-color", "--no-ext-diff", oid], capture_output=True,
                          env=env)
    if show.returncode != 0:
        return None
    out = subprocess.run(["git", "patch-id", "--stable"], input=show.stdout, capture_output=True, env=env)
    parts = out.stdout.split()
    return parts[0].decode() if out.returncode == 0 and parts else None


def _bounded_diff(diff: pygit2.Diff, limit: int, oid: str) -> Diff:
    parts: list[str] = []
    size = 0
    total = 0
    truncated = False
    for patch in diff:
        text = patch.text or ""
        total += len(text)
        if truncated:
            continue
        if size + len(text) > limit:
            # Keep whole files while they fit; a huge generated file is cut, not the whole commit.
            room = max(0, limit - size)
            if room:
                parts.append(text[:room])
                size += room
            truncated = True
            continue
        parts.append(text)
        size += len(text)
    clean, counts = redact("".join(parts))
    return Diff(id=oid, text=clean, bytes=total, truncated=truncated, redactions=counts)


# ----- whole histories through git log ---------------------------------------------------------------------------

_FORMAT = "%x01%H%x00%P%x00%an%x00%ae%x00%at%x00%ai%x00%cn%x00%ct%x00%ci%x00%B"
_LOG_ARGS = ["log", "-z", "--raw", "--numstat", "-M", "--no-abbrev", "--diff-merges=first-parent",
             "--no-walk=unsorted", "--stdin", "--no-color", "--no-ext-diff", "--no-textconv",
             f"--format={_FORMAT}"]


def _offset_minutes(iso_like: bytes) -> int:
    # git's %ai ends with "+0100"
    tz = iso_like.rsplit(b" ", 1)[-1]
    try:
        sign = -1 if tz[:1] == b"-" else 1
        return sign * (int(tz[1:3]) * 60 + int(tz[3:5]))
    except (ValueError, IndexError):
        return 0


def _parse_entries(rest: bytes) -> list[tuple]:
    tokens = rest.lstrip(b"\n").split(b"\0")
    raw: list[tuple[str, str, str | None]] = []
    stats: list[tuple[int | None, int | None]] = []
    i = 0
    n = len(tokens)
    while i < n:
        tok = tokens[i]
        if not tok or tok == b"\n":
            i += 1
            continue
        if tok[:1] == b":":
            status = tok.rsplit(b" ", 1)[-1].decode()
            letter = status[:1]
            if letter in ("R", "C"):
                old, new = tokens[i + 1], tokens[i + 2]
                raw.append((letter, _path(new), _path(old)))
                i += 3
            else:
                raw.append((letter, _path(tokens[i + 1]), None))
                i += 2
            continue
        parts = tok.split(b"\t")
        if len(parts) >= 2:
            added = None if parts[0] == b"-" else int(parts[0])
            deleted = None if parts[1] == b"-" else int(parts[1])
            stats.append((added, deleted))
            i += 3 if len(parts) == 3 and parts[2] == b"" else 1
            continue
        i += 1
    files = []
    for k, (letter, path, old) in enumerate(raw):
        added, deleted = stats[k] if k < len(stats) else (None, None)
        files.append((letter, path, added, deleted, old))
    return files


def _path(b: bytes) -> str:
    return b.decode("utf-8", "replace")


def _text(b: bytes) -> str:
    return b.decode("utf-8", "replace")


def _parse_commit(blob: bytes, branch: str | None, source: str) -> Commit | None:
    fields = blob.split(b"\0", 10)
    if len(fields) < 10:
        return None
    oid, parents, an, ae, at, ai, cn, ct, ci, message = fields[:10]
    rest = fields[10] if len(fields) > 10 else b""
    return make_commit(
        oid=oid.decode(), parents=parents.decode().split(), author=_text(an), author_email=_text(ae),
        author_time=int(at), author_offset=_offset_minutes(ai), committer=_text(cn), committer_time=int(ct),
        committer_offset=_offset_minutes(ci), message=_text(message), files=_parse_entries(rest), branch=branch,
        source=source,
    )


def _git_log_stream(git_dir: str, oids: Sequence[str], branch: str | None, source: str) -> Iterator[Commit]:
    env = dict(os.environ, GIT_DIR=git_dir, LC_ALL="C")
    env.pop("GIT_WORK_TREE", None)
    proc = subprocess.Popen(["git", *_LOG_ARGS], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)

    def feed() -> None:
        try:
            proc.stdin.write("".join(o + "\n" for o in oids).encode())
            proc.stdin.close()
        except OSError:
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    pending = b""
    try:
        for block in iter(lambda: proc.stdout.read(1 << 20), b""):
            pieces = (pending + block).split(b"\x01")
            pending = pieces.pop()
            for piece in pieces:
                if piece:
                    rec = _parse_commit(piece, branch, source)
                    if rec is not None:
                        yield rec
        if pending:
            rec = _parse_commit(pending, branch, source)
            if rec is not None:
                yield rec
    finally:
        proc.stdout.close()
        err = proc.stderr.read()
        code = proc.wait()
        feeder.join()
        if code != 0:
            from git_ml.errors import GitMlError

            raise GitMlError(f"git log failed: {err.decode(errors='replace').strip().splitlines()[-1:]}")


def stream_commits(git_dir: str, oids: Sequence[str], *, branch: str | None = None, source: str = "backfill",
                   workers: int | None = None) -> Iterator[Commit]:
    """Commit records for ``oids`` in the given order, computed by ``workers`` git processes in parallel."""
    workers = workers or min(2, os.cpu_count() or 1)
    if workers <= 1 or len(oids) < 2000:
        yield from _git_log_stream(git_dir, oids, branch, source)
        return
    # Split in contiguous slices; later slices are produced into queues while the first is yielded.
    import queue

    size = (len(oids) + workers - 1) // workers
    slices = [oids[i:i + size] for i in range(0, len(oids), size)]
    queues: list[queue.Queue] = [queue.Queue(maxsize=4096) for _ in slices[1:]]
    errors: list[BaseException] = []

    def produce(sl: Sequence[str], q: queue.Queue) -> None:
        try:
            batch: list[Commit] = []
            for rec in _git_log_stream(git_dir, sl, branch, source):
                batch.append(rec)
                if len(batch) >= 256:
                    q.put(batch)
                    batch = []
            if batch:
                q.put(batch)
        except BaseException as exc:  # handed to the consumer
            errors.append(exc)
        finally:
            q.put(None)

    threads = [threading.Thread(target=produce, args=(sl, q), daemon=True) for sl, q in zip(slices[1:], queues)]
    for t in threads:
        t.start()
    yield from _git_log_stream(git_dir, slices[0], branch, source)
    for q in queues:
        while (batch := q.get()) is not None:
            yield from batch
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def history(repo: pygit2.Repository, tips: Iterable[pygit2.Oid], hide: Iterable[pygit2.Oid] = ()) -> list[str]:
    """Commits reachable from ``tips`` and not from ``hide``, oldest first (topological)."""
    walker = repo.walk(None, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE)
    any_tip = False
    for t in tips:
        walker.push(t)
        any_tip = True
    if not any_tip:
        return []
    for h in hide:
        walker.hide(h)
    return [str(c.id) for c in walker]
