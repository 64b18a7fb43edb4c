"""Rewrites resolved at read time (DECISIONS "Rewrites are resolved at read time").

git's post-rewrite hook reports ``old new`` pairs for ``commit --amend`` and ``rebase`` (a squash or fixup maps
several old commits to one new one); capture stores each pair in the ``rewrites`` stream (``schema.Rewrite``). A
commit that a recorded rewrite replaced by another is *superseded*: it is not a live commit. Counts, exports,
training and reports use the live commit at the end of its chain (amend -> rebase -> squash ...), and the links,
session and chats of a dead commit follow the chain to it. The old records stay in the store (explore resolves old
ids). Commits of other branches that were never rewritten are real work and stay live.

When one commit was rewritten more than once (rewritten again from a restored branch), the latest rewrite (its
``time``, then ``captured_at``) is the one followed. A chain that loops back ends at the commit where the loop
closes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from git_ml import schema
from git_ml.store import reader


class LiveHistory:
    """old -> new as recorded by rewrites, resolved to the live end of each chain."""

    def __init__(self, rewrites: Iterable = ()):
        step: dict[str, str] = {}
        for rw in sorted(rewrites, key=lambda r: (r.time, r.captured_at, r.id)):
            if rw.old and rw.new and rw.old != rw.new:
                step[rw.old] = rw.new
        self._step = step
        self._live: dict[str, str] = {}
        self.dead: set[str] = {old for old in step if self.live(old) != old}

    def live(self, commit_id: str) -> str:
        """The live commit ``commit_id`` became (itself when never rewritten)."""
        done = self._live.get(commit_id)
        if done is not None:
            return done
        seen = [commit_id]
        cur = commit_id
        while cur in self._step:
            nxt = self._step[cur]
            if nxt in seen:  # a loop: stop where it closes
                break
            seen.append(nxt)
            cur = nxt
        for cid in seen:
            self._live[cid] = cur
        return cur

    def superseded(self, commit_id: str) -> bool:
        """True when a recorded rewrite replaced ``commit_id`` by another commit."""
        return commit_id in self.dead

    def __bool__(self) -> bool:
        return bool(self._step)

    def live_only(self, commits: Mapping) -> dict:
        """``commits`` (id -> record) without the superseded ones."""
        if not self.dead:
            return dict(commits)
        return {cid: rec for cid, rec in commits.items() if cid not in self.dead}

    def live_ids(self, ids: Iterable[str]) -> list[str]:
        """Commit ids mapped to their live commits, each once, in first-seen order."""
        out: dict[str, None] = {}
        for cid in ids:
            if cid:
                out.setdefault(self.live(cid), None)
        return list(out)


def load_live_history(store) -> LiveHistory:
    """The rewrites of ``store`` (current versions, tombstones applied), resolved."""
    return LiveHistory(reader.current(store, "rewrites", schema.Rewrite).values())
