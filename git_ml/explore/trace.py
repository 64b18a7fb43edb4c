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
   changed are compared by content: a candidate counts when at least half of the lines it added (as a multiset,
   per file) are lines the squashed commit adds, one of them at least four non-blank characters long. The
   per-file line counts of the index rule most candidates out before any diff is read (the overlap cannot exceed
   the smaller count of each file). Blame then attributes each line to the candidate that added that very line.

Steps 2 (without stored patch ids) and 4 read diffs. `log` runs step 4 never and step 2's computation only for
commits whose shape matches a linked commit's (one query per batch), so it stays fast on long histories.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported for real only when a diff is needed
    import pygit2

SQUASH_WINDOW = 90 * 86400
MAX_CANDIDATES = 20
MAX_REWRITE_DEPTH = 50
_SQUASH_LINE = re.compile(r"^commit ([0-9a-f]{40})\s*$", re.M)
_CHERRY = re.compile(r"\(cherry picked from commit ([0-9a-f]{7,40})\)")


class LinkRef:
    """One link of a traced commit; ``source`` is the commit it belongs to (the traced commit itself, or one it was
    rewritten from)."""

    __slots__ = ("chat_id", "session_id", "reason", "score", "seconds", "source")

    def __init__(self, chat_id: str | None, session_id: str | None, reason: str, score: float, seconds: int,
                 source: str):
        self.chat_id, self.session_id, self.reason = chat_id, session_id, reason
        self.score, self.seconds, self.source = score, seconds, source


class Trace:
    """The chats behind a commit. ``via``: "" (none) | link | rewrite | patch-id | message | squash; ``added`` (for a
    squash): per source commit, the lines it added per path, for line-level blame."""

    __slots__ = ("commit", "via", "sources", "links", "added")

    def __init__(self, commit: str):
        self.commit = commit
        self.via = ""
        self.sources: list[str] = []
        self.links: list[LinkRef] = []
        self.added: dict[str, dict[str, set[str]]] = {}

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
        self._cache: dict[tuple, Trace] = {}
        self._patch_ids: dict[str, str | None] = {}
        self._added: dict[str, dict[str, list[str]]] = {}
        self._diffs: dict[str, pygit2.Diff | None] = {}
        self.any_links = ix.has_links()
        self.any_rewrites = ix.has_rewrites() if self.any_links else False

    # ----- public -------------------------------------------------------------------------------------------------
    def trace(self, oid: str, *, deep: bool = True, message: str | None = None, focus: str | None = None,
              patch: bool | None = None) -> Trace:
        """The chats behind ``oid``. ``focus``: only a file's lines matter (blame), so a squash's candidates must
        have changed that file."""
        patch = deep if patch is None else patch  # compute patch ids of same-shape candidates (step 2)
        key = (oid, deep, focus, patch)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._trace(oid, deep, message, focus, patch)
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

    def _trace(self, oid: str, deep: bool, message: str | None, focus: str | None = None,
               patch: bool = True) -> Trace:
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
        if patch and not cands:
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
        info = self._info(oid)
        text = message if message is not None else (info["message"] if info else None)
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
        if deep and info is not None and len(info["parents"]) == 1:
            self._squash(t, oid, info["time"], focus)
        return t

    def _info(self, oid: str) -> dict | None:
        """message, parents and committer time: from the captured record, else from git."""
        data = self.ix.commit_json(oid)
        if data is not None:
            rec = json.loads(data)
            from git_ml.dates import iso_to_unix

            when = iso_to_unix(rec.get("committed_at")) or rec.get("time", 0)
            return {"message": rec.get("message", ""), "parents": rec.get("parents", []), "time": int(when)}
        commit = self._commit(oid)
        if commit is None:
            return None
        return {"message": commit.message, "parents": [str(p) for p in commit.parent_ids],
                "time": commit.committer.time}

    def _take(self, t: Trace, commits: list[str], via: str) -> None:
        for c in commits:
            sources, links, _ = self._linked_or_rewritten(c)
            for s in sources:
                if s not in t.sources:
                    t.sources.append(s)
            t.links += links
        if t.links:
            t.via = via

    def _squash(self, t: Trace, oid: str, when: int, focus: str | None = None) -> None:
        stats = self.ix.commit_paths(oid)
        if stats is None:
            diff = self._diff(oid)
            if diff is None:
                return
            from git_ml.capture.commits import files_of_diff
            from git_ml.explore.db import parse_path_stats, path_stats

            stats = parse_path_stats(path_stats(files_of_diff(diff)))
        if not stats:
            return
        cands = []
        for cid, ctime, cstats in self.ix.linked_commits_between(when - SQUASH_WINDOW, when):
            if cid == oid or not cstats or not cstats.keys() <= stats.keys():
                continue
            if focus is not None and focus not in cstats:
                continue
            # Necessary for half of its added lines to be among ours: sum over paths of min(theirs, ours).
            theirs = sum(cstats.values())
            if theirs and 2 * sum(min(n, stats[p]) for p, n in cstats.items()) < theirs:
                continue
            cands.append((ctime, cid))
        if not cands:
            return
        mine = self.added_lines(oid)
        if not mine:
            return
        mine_counts = {p: Counter(v) for p, v in mine.items()}
        cands.sort(reverse=True)
        accepted = []
        for _, cid in cands[:MAX_CANDIDATES]:
            added = self.added_lines(cid)
            total = sum(len(v) for v in added.values())
            if not total:
                continue
            common = {p: Counter(v) & mine_counts.get(p, Counter()) for p, v in added.items()}
            hit = sum(sum(c.values()) for c in common.values())
            if hit * 2 < total or not any(_significant(ln) for c in common.values() for ln in c):
                continue
            other = self._commit(cid)
            mine_commit = self._commit(oid)
            if other is None or mine_commit is None:
                continue
            try:
                if self.repo.descendant_of(mine_commit.id, other.id):
                    continue  # already in its history: not squashed into it
            except Exception:  # pygit2.GitError: objects missing
                continue
            accepted.append(cid)
            t.added[cid] = {p: set(v) for p, v in added.items()}
        if accepted:
            self._take(t, accepted, "squash")

    # ----- git helpers --------------------------------------------------------------------------------------------
    def _commit(self, rev: str) -> pygit2.Commit | None:
        import pygit2

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
            # As capture.commits.commit_diff (the diff its patch ids and line counts come from), without importing
            # the capture side (redaction patterns) into a reading command.
            if commit.parents:
                diff = self.repo.diff(commit.parents[0], commit)
            else:
                diff = commit.tree.diff_to_tree(swap=True)
            diff.find_similar()
        if len(self._diffs) > 256:
            self._diffs.clear()
        self._diffs[oid] = diff
        return diff

    def patch_id(self, oid: str) -> str | None:
        """The commit's patch id (``git patch-id --stable``), computed once and kept in the index."""
        if oid in self._patch_ids:
            return self._patch_ids[oid]
        known, pid = self.ix.computed_patch_id(oid)
        if known:
            self._patch_ids[oid] = pid
            return pid
        pid = None
        commit = self._commit(oid)
        if commit is not None and len(commit.parents) <= 1:
            diff = self._diff(oid)
            if diff is not None and len(diff) > 0:
                binary = any(p.delta.is_binary for p in diff)
                try:
                    pid = None if binary else str(diff.patchid)
                except Exception:  # pygit2.GitError, or an old pygit2 without patchid
                    pid = None
                if pid is None:
                    # libgit2 hashes binary diffs differently from `git patch-id --stable`: ask git, as capture does.
                    from git_ml.capture.commits import git_patch_id

                    pid = git_patch_id(self.repo.path, oid)
        if commit is not None:
            self.ix.remember_patch_id(oid, pid)
        self._patch_ids[oid] = pid
        return pid

    def _shape_and_patch(self, oid: str) -> tuple[str | None, str | None]:
        diff = self._diff(oid)
        if diff is None:
            return None, None
        from git_ml.capture.commits import files_of_diff
        from git_ml.explore.db import shape_of

        return shape_of(files_of_diff(diff)), None

    def added_lines(self, oid: str) -> dict[str, list[str]]:
        """Lines a commit adds, per path (against its first parent; no rename detection, no context)."""
        got = self._added.get(oid)
        if got is not None:
            return got
        out: dict[str, list[str]] = {}
        commit = self._commit(oid)
        if commit is not None:
            try:
                if commit.parents:
                    diff = self.repo.diff(commit.parents[0], commit, context_lines=0)
                else:
                    diff = commit.tree.diff_to_tree(swap=True, context_lines=0)
                patches = list(diff)
            except Exception:  # pygit2.GitError: unreadable objects
                patches = []
            for patch in patches:
                try:
                    text = patch.text or ""
                except Exception:
                    continue
                lines = [ln[1:] for ln in text.split("\n") if ln[:1] == "+" and not ln.startswith("+++ ")]
                if lines:
                    out[patch.delta.new_file.path] = lines
        self._added[oid] = out
        return out


def _significant(line: str) -> bool:
    return len("".join(line.split())) >= 4
