"""From a commit to the chats behind it, through rewritten history.

A commit's chats are its own links when it has any. Otherwise it may be a rewritten copy of commits that were linked
when they were made, and these are tried in order, each step only when the ones before found nothing:

1. ``rewrite``: the post-rewrite records (amend, rebase, and the squash/fixup of an interactive rebase, which maps
   several old commits to one new one), followed new -> old transitively.
2. ``patch-id``: captured commits with the same patch id (a rebase or cherry-pick made elsewhere, or without the
   hooks). A stored patch id is compared directly; without one (backfilled records), the per-file line counts
   (``shape``) select the candidates first and patch ids are computed only for those.
3. ``message``: hashes the commit message names: `git merge --squash` writes "Squashed commit of the following:"
   followed by ``commit <hash>`` lines, `cherry-pick -x` writes "(cherry picked from commit <hash>)".
4. ``squash``: content. For a squash merge made elsewhere (a hosting service's "squash and merge") nothing above
   holds, so the linked commits made up to 90 days before it that are not its ancestors and changed only files it
   changed are compared by content: a candidate counts when at least half of the lines it added (ignoring lines
   with fewer than four non-blank characters) are lines the squashed commit adds. Blame then attributes each line
   to the candidate that added that very line.

Steps 2 (without stored patch ids) and 4 read diffs, so `log` runs only the cheap steps (``deep=False``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pygit2

SQUASH_WINDOW = 90 * 86400
MAX_CANDIDATES = 20
MAX_REWRITE_DEPTH = 50
_SQUASH_LINE = re.compile(r"^commit ([0-9a-f]{40})\s*$", re.M)
_CHERRY = re.compile(r"\(cherry picked from commit ([0-9a-f]{7,40})\)")


@dataclass
class LinkRef:
    chat_id: str | None
    session_id: str | None
    reason: str
    score: float
    seconds: int
    source: str  # the commit the link belongs to (the traced commit itself, or what it was rewritten from)


@dataclass
class Trace:
    commit: str
    via: str = ""  # "" | link | rewrite | patch-id | message | squash
    sources: list[str] = field(default_factory=list)
    links: list[LinkRef] = field(default_factory=list)
    # squash: per source commit, the lines it added per path (for line-level blame)
    added: dict[str, dict[str, set[str]]] = field(default_factory=dict)

    @property
    def chats(self) -> list[str]:
        return list(dict.fromkeys(lk.chat_id for lk in self.links if lk.chat_id))

    @property
    def sessions(self) -> list[str]:
        return list(dict.fromkeys(lk.session_id for lk in self.links if lk.session_id))


class Tracer:
    """Traces commits against one index, caching diffs and results for the life of a command."""

    def __init__(self, ix, repo: pygit2.Repository):
        self.ix = ix
        self.repo = repo
        self._cache: dict[tuple[str, bool], Trace] = {}
        self._patch_ids: dict[str, str | None] = {}
        self._added: dict[str, dict[str, list[str]]] = {}
        self._diffs: dict[str, pygit2.Diff | None] = {}
        self.any_links = ix.has_links()
        self.any_rewrites = ix.has_rewrites() if self.any_links else False

    # ----- public -------------------------------------------------------------------------------------------------
    def trace(self, oid: str, *, deep: bool = True, message: str | None = None) -> Trace:
        key = (oid, deep)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._trace(oid, deep, message)
        return hit

    # ----- steps --------------------------------------------------------------------------------------------------
    def _links(self, oid: str) -> list[LinkRef]:
        return [LinkRef(c, s, r, sc, se, oid) for c, s, r, sc, se in self.ix.links_of_commit(oid)]

    def _linked_or_rewritten(self, start: str) -> tuple[list[str], list[LinkRef], bool]:
        """Links of ``start`` or, failing that, of what it was rewritten from (transitively)."""
        own = self._links(start)
        if own or not self.any_rewrites:
            return ([start] if own else []), own, False
        sources, links = [], []
        seen = {start}
        frontier = [start]
        depth = 0
        while frontier and depth < MAX_REWRITE_DEPTH:
            depth += 1
            nxt = []
            for new in frontier:
                for old in self.ix.rewritten_from(new):
                    if old in seen:
                        continue
                    seen.add(old)
                    lk = self._links(old)
                    if lk:
                        sources.append(old)
                        links += lk
                    nxt.append(old)  # an old commit may itself have been rewritten from older ones
            frontier = nxt
        return sources, links, bool(sources)

    def _trace(self, oid: str, deep: bool, message: str | None) -> Trace:
        t = Trace(oid)
        if not self.any_links:
            return t
        sources, links, rewritten = self._linked_or_rewritten(oid)
        if links:
            t.via = "rewrite" if rewritten else "link"
            t.sources, t.links = sources, links
            return t
        row = self.ix.commit_row(oid)  # (patch_id, shape, time) or None
        # 2. patch id
        pid = row[0] if row else None
        cands: list[str] = []
        if pid:
            cands = [c for c in self.ix.commits_with_patch_id(pid) if c != oid]
        if deep and not cands:
            shape = row[1] if row else None
            if row is None:
                shape, pid = self._shape_and_patch(oid)
            if shape:
                same = [(c, p) for c, p in self.ix.linked_with_shape(shape) if c != oid]
                if same:
                    pid = pid or self.patch_id(oid)
                    cands = [c for c, p in same if pid and (p or self.patch_id(c)) == pid]
        if cands:
            self._take(t, cands, "patch-id")
            if t.links:
                return t
        # 3. hashes named in the message
        commit = self._commit(oid)
        text = message if message is not None else (commit.message if commit is not None else None)
        if text:
            named = _SQUASH_LINE.findall(text) if "Squashed commit of the following" in text else []
            named += _CHERRY.findall(text)
            full = []
            for h in named:
                if len(h) == 40:
                    full.append(h)
                else:
                    c = self._commit(h)
                    if c is not None:
                        full.append(str(c.id))
            if full:
                self._take(t, full, "message")
                if t.links:
                    return t
        # 4. squash by content
        if deep and commit is not None and len(commit.parents) == 1:
            self._squash(t, commit)
        return t

    def _take(self, t: Trace, commits: list[str], via: str) -> None:
        for c in commits:
            sources, links, _ = self._linked_or_rewritten(c)
            for s in sources:
                if s not in t.sources:
                    t.sources.append(s)
            t.links += links
        if t.links:
            t.via = via

    def _squash(self, t: Trace, commit: pygit2.Commit) -> None:
        oid = str(commit.id)
        paths_list = self.ix.commit_paths(oid)
        if paths_list is None:
            diff = self._diff(oid)
            paths_list = [] if diff is None else sorted(
                {p for d in diff.deltas for p in (d.old_file.path, d.new_file.path)})
        paths = set(paths_list)
        if not paths:
            return
        when = commit.committer.time
        cands = []
        for cid, ctime, cpaths in self.ix.linked_commits_between(when - SQUASH_WINDOW, when):
            if cid == oid or not cpaths:
                continue
            if set(cpaths.split("\n")) <= paths:
                cands.append((ctime, cid))
        if not cands:
            return
        mine = self.added_lines(oid)
        if not mine:
            return
        mine_sets = {p: set(v) for p, v in mine.items()}
        cands.sort(reverse=True)
        accepted = []
        for _, cid in cands[:MAX_CANDIDATES]:
            theirs = self.added_lines(cid)
            lines = [(p, ln) for p, v in theirs.items() for ln in v if _significant(ln)]
            if not lines:
                continue
            hit = sum(1 for p, ln in lines if ln in mine_sets.get(p, ()))
            if hit * 2 < len(lines):
                continue
            other = self._commit(cid)
            if other is None:
                continue
            try:
                if self.repo.descendant_of(commit.id, other.id):
                    continue  # already in its history: not squashed into it
            except pygit2.GitError:
                continue
            accepted.append(cid)
            t.added[cid] = {p: set(v) for p, v in theirs.items()}
        if accepted:
            self._take(t, accepted, "squash")

    # ----- git helpers --------------------------------------------------------------------------------------------
    def _commit(self, rev: str) -> pygit2.Commit | None:
        try:
            return self.repo.revparse_single(rev).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            return None

    def _diff(self, oid: str) -> pygit2.Diff | None:
        if oid in self._diffs:
            return self._diffs[oid]
        commit = self._commit(oid)
        diff = None
        if commit is not None:
            from ..capture.commits import commit_diff

            diff = commit_diff(self.repo, commit)
        if len(self._diffs) > 256:
            self._diffs.clear()
        self._diffs[oid] = diff
        return diff

    def patch_id(self, oid: str) -> str | None:
        if oid in self._patch_ids:
            return self._patch_ids[oid]
        pid = None
        commit = self._commit(oid)
        if commit is not None and len(commit.parents) <= 1:
            diff = self._diff(oid)
            if diff is not None and len(diff) > 0:
                from ..capture.commits import files_of_diff, git_patch_id

                if any(f[2] is None for f in files_of_diff(diff)):
                    pid = git_patch_id(self.repo.path, oid)
                else:
                    try:
                        pid = str(diff.patchid)
                    except (pygit2.GitError, AttributeError):
                        pid = git_patch_id(self.repo.path, oid)
        self._patch_ids[oid] = pid
        return pid

    def _shape_and_patch(self, oid: str) -> tuple[str | None, str | None]:
        diff = self._diff(oid)
        if diff is None:
            return None, None
        from ..capture.commits import files_of_diff
        from .index import shape_of

        return shape_of(files_of_diff(diff)), None

    def added_lines(self, oid: str) -> dict[str, list[str]]:
        """Lines a commit adds, per path (its diff against the first parent)."""
        got = self._added.get(oid)
        if got is not None:
            return got
        out: dict[str, list[str]] = {}
        diff = self._diff(oid)
        if diff is not None:
            for patch in diff:
                path = patch.delta.new_file.path
                try:
                    hunks = patch.hunks
                except pygit2.GitError:
                    continue
                lines = [ln.content.rstrip("\n") for h in hunks for ln in h.lines if ln.origin == "+"]
                if lines:
                    out[path] = lines
        self._added[oid] = out
        return out

    def _deleted_paths(self, oid: str) -> set[str]:
        diff = self._diff(oid)
        out = set()
        if diff is not None:
            for d in diff.deltas:
                out.add(d.old_file.path)
        return out


def _significant(line: str) -> bool:
    return len("".join(line.split())) >= 4
