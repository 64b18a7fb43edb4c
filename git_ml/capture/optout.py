"""Commits made with collection off are remembered as skipped (``.git/ml/skipped``, one hash a line).

Catch-up and backfill never take a skipped commit; only naming it (`git ml capture REV`) does. A rewrite of a
skipped commit (amend, rebase, squash) is skipped too. The hook notes the commit with a single append: nothing here
imports more than the repository access the hook already has.
"""

from __future__ import annotations

from collections.abc import Iterable

import pygit2

from git_ml.repo import ml_dir

SKIPPED_NAME = "skipped"


def skipped_ids(repo: pygit2.Repository) -> set[str]:
    """Hashes of the commits made with collection off (empty when there are none: one failed stat)."""
    try:
        text = (ml_dir(repo, create=False) / SKIPPED_NAME).read_text(encoding="ascii", errors="replace")
    except OSError:
        return set()
    return {line.strip() for line in text.splitlines() if len(line.strip()) >= 40}


def note_skipped(repo: pygit2.Repository, oids: Iterable[str]) -> None:
    """Append ``oids`` to the skipped list (one small O_APPEND write: concurrent hooks do not interleave lines)."""
    data = "".join(f"{oid}\n" for oid in oids if oid)
    if data:
        with open(ml_dir(repo) / SKIPPED_NAME, "a", encoding="ascii") as fh:
            fh.write(data)


def made_now(repo: pygit2.Repository, hook: str, args: list[str], stdin_lines: list[str]) -> list[str]:
    """The commits a hook reports as just made: HEAD after a commit, the merge commit after a merge (not the
    commits a fast-forward brought in: they are someone else's work), the new commits of a rewrite."""
    if hook == "post-rewrite":
        return [parts[1] for parts in (line.split() for line in stdin_lines) if len(parts) >= 2]
    if repo.head_is_unborn:
        return []
    head = repo.head.peel(pygit2.Commit)
    if hook == "post-commit":
        return [str(head.id)]
    if hook == "post-merge" and len(head.parent_ids) > 1:
        try:
            before = repo.revparse_single("ORIG_HEAD").peel(pygit2.Commit).id
        except (KeyError, ValueError, pygit2.GitError):
            return []
        return [str(head.id)] if head.parent_ids[0] == before else []
    return []


def amended_from_skipped(repo: pygit2.Repository, skipped: set[str], head: pygit2.Commit) -> bool:
    """Whether HEAD is an amend of a skipped commit (post-commit runs before post-rewrite says so)."""
    if not skipped:
        return False
    try:
        entry = next(iter(repo.head.log()))
    except (StopIteration, pygit2.GitError, KeyError):
        return False
    return (entry.oid_new == head.id and entry.message.startswith("commit (amend)")
            and str(entry.oid_old) in skipped)
