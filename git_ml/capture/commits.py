"""Commit records: one commit at a time through pygit2 (hooks); whole histories go through ``gitlog.py``.

Paths are bytes in git. A path that is valid UTF-8 is stored as it is; any other is stored as its UTF-8 decoding
with each undecodable byte written ``\\xNN`` (Python's backslashreplace), and the record's ``raw_paths`` maps that
text to the path's exact bytes (base64), so nothing is lost and the hook and backfill store the same thing.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import subprocess
from collections.abc import Iterable, Sequence

import pygit2

from git_ml.capture.redaction import redact
from git_ml.capture.redaction.records import redact_record
from git_ml.repo import common_dir
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


def decode_path(raw: bytes, raw_paths: dict[str, str]) -> str:
    """A path as text; a path that is not UTF-8 is escaped and its bytes noted in ``raw_paths`` (see above)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "backslashreplace")
        raw_paths[text] = base64.b64encode(raw).decode("ascii")
        return text


def path_bytes(commit: Commit, path: str) -> bytes:
    """The exact bytes of a path of ``commit``'s file list."""
    raw = commit.raw_paths.get(path)
    return base64.b64decode(raw) if raw is not None else path.encode("utf-8")


def make_commit(*, oid: str, parents: list[str], author: str, author_email: str, author_time: int,
                author_offset: int, committer: str, committer_time: int, committer_offset: int, message: str,
                files: list[tuple], branch: str | None, source: str, patch_id: str | None = None,
                raw_paths: dict[str, str] | None = None, shallow: bool = False) -> Commit:
    timestamp, hour, weekday = _local_time_fields(author_time, author_offset)
    ins, dels = _totals(files)
    commit = Commit(
        id=oid, message=message.rstrip("\n"), author=author, author_email=author_email, timestamp=timestamp, time=author_time,
        committer=committer, committed_at=iso_from_unix(committer_time, committer_offset), branch=branch,
        parents=parents, is_merge=len(parents) > 1, files=files, files_changed=len(files), insertions=ins,
        deletions=dels, hour_of_day=hour, day_of_week=weekday, patch_id=patch_id, source=source,
        raw_paths=raw_paths or {}, shallow=shallow,
    )
    commit.redactions = redact_record(commit)  # the message, and file paths and the branch name
    if commit.redactions and commit.raw_paths:  # a redacted path's exact bytes would carry the secret: drop them
        kept = {f[1] for f in commit.files} | {f[4] for f in commit.files if len(f) > 4 and f[4]}
        commit.raw_paths = {k: v for k, v in commit.raw_paths.items() if k in kept}
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


def files_of_diff(diff: pygit2.Diff, raw_paths: dict[str, str] | None = None) -> list[tuple]:
    """``[status, path, added, deleted, old_path]`` per file; non-UTF-8 paths noted in ``raw_paths``."""
    raw_paths = {} if raw_paths is None else raw_paths
    files = []
    for patch in diff:
        delta = patch.delta
        status = delta.status_char()
        binary = bool(delta.flags & _BINARY) or delta.is_binary
        if binary:
            added = deleted = None
        else:
            _, added, deleted = patch.line_stats
        old = decode_path(delta.old_file.raw_path, raw_paths) if status in ("R", "C") else None
        new = delta.new_file.raw_path if status != "D" else delta.old_file.raw_path
        files.append((status, decode_path(new, raw_paths), added, deleted, old))
    return files


def shallow_boundary(repo: pygit2.Repository) -> set[str]:
    """Commits at the edge of a shallow clone (their parents are not here): ``.git/shallow``."""
    try:
        return set((common_dir(repo) / "shallow").read_text(encoding="ascii").split())
    except OSError:
        return set()


def object_parents(commit: pygit2.Commit) -> list[str]:
    """The parents written in the commit object (a shallow clone hides a boundary commit's parents)."""
    out = []
    for line in commit.read_raw().split(b"\n"):
        if not line:
            break
        if line.startswith(b"parent "):
            out.append(line[7:].decode("ascii", "replace"))
    return out


def record_from_commit(repo: pygit2.Repository, commit: pygit2.Commit, *, branch: str | None, source: str,
                       diff_limit: int | None = DEFAULT_DIFF_LIMIT,
                       shallow: set[str] | frozenset = frozenset()) -> tuple[Commit, Diff | None]:
    """A Commit record and (when ``diff_limit`` is not None) its bounded, redacted hunks for refs/ml/local.

    A commit at a shallow clone's boundary (in ``shallow``) is recorded with its real parents, ``shallow: true``
    and no file list: without its parents what it changed is unknown (a backfill after unshallowing completes it).
    """
    a, c = commit.author, commit.committer
    if shallow and str(commit.id) in shallow:
        record = make_commit(
            oid=str(commit.id), parents=object_parents(commit), author=a.name, author_email=a.email,
            author_time=a.time, author_offset=a.offset, committer=c.name, committer_time=c.time,
            committer_offset=c.offset, message=commit.message, files=[], branch=branch, source=source,
            shallow=True)
        return record, None
    diff = commit_diff(repo, commit)
    raw_paths: dict[str, str] = {}
    files = files_of_diff(diff, raw_paths)
    patch_id = None
    if len(commit.parents) <= 1 and files:
        if any(f[2] is None for f in files):
            patch_id = git_patch_id(repo.path, str(commit.id))
        else:
            try:
                patch_id = str(diff.patchid)  # libgit2 matches `git patch-id --stable` on text diffs
            except (pygit2.GitError, AttributeError):
                patch_id = git_patch_id(repo.path, str(commit.id))
    record = make_commit(
        oid=str(commit.id), parents=[str(p) for p in commit.parent_ids], author=a.name, author_email=a.email,
        author_time=a.time, author_offset=a.offset, committer=c.name, committer_time=c.time,
        committer_offset=c.offset, message=commit.message, files=files, branch=branch, source=source,
        patch_id=patch_id, raw_paths=raw_paths,
    )
    hunks = None
    if diff_limit is not None and files:
        hunks = bound_hunks(record.id, (patch.text or "" for patch in diff), diff_limit)
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


def bound_hunks(oid: str, texts: Iterable[str], limit: int) -> Diff:
    """The Diff record of a commit from its per-file patch texts: whole files while they fit in ``limit``, the
    first file that does not fit cut at it, the rest left out; redacted."""
    parts: list[str] = []
    size = 0
    total = 0
    truncated = False
    for text in texts:
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
