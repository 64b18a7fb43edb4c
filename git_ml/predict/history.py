"""The captured commits in history order, read through the store."""

from __future__ import annotations

from ..errors import GitMlError

NO_HISTORY = "no captured commits: run `git ml capture --backfill` first"


def open_store(repo):
    try:
        from ..store import Store
    except ImportError:
        raise GitMlError("the commit store is not available in this installation") from None
    return Store(repo)


def store_tip(repo) -> str | None:
    try:
        tip = open_store(repo).tip()
    except GitMlError:
        return None
    return str(tip) if tip is not None else None


def captured_commits(repo) -> tuple[list, str | None]:
    """Non-merge captured commits, oldest first, and the store tip they were read at.

    Order: a topological walk from HEAD (oldest first) over the commits that were captured; captured commits
    not reachable from HEAD (other branches) are left out, as they are not part of this history. Without a
    usable HEAD, the captured commits sorted by author time.
    """
    store = open_store(repo)
    tip = store.tip()
    by_id: dict[str, object] = {}
    for rec in store.iter_records("commits"):
        if not rec.is_merge and len(rec.parents) <= 1:
            by_id[rec.id] = rec
    if not by_id:
        return [], (str(tip) if tip is not None else None)
    ordered = []
    try:
        import pygit2

        if repo.head_is_unborn:
            raise KeyError
        walker = repo.walk(repo.head.target, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE)
        for c in walker:
            rec = by_id.get(str(c.id))
            if rec is not None:
                ordered.append(rec)
    except (KeyError, ValueError, AttributeError, pygit2.GitError):
        ordered = sorted(by_id.values(), key=lambda r: (r.time, r.id))
    return ordered, (str(tip) if tip is not None else None)
