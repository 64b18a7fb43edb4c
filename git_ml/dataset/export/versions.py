"""What export takes from the store's rules of versions (``git_ml.store.reader``): tombstones, the tie-break of
two versions captured at the same instant (their stored lines, read again only then), and the live history of
rewritten commits."""

from __future__ import annotations

import msgspec

from git_ml.store.core import Store
from git_ml.store.objects import read_chunk
from git_ml.store.reader import hidden_ids, newer
from git_ml.store.rewrites import load_live_history

__all__ = ["History", "Ties", "hidden_ids", "live_history"]


class Ties:
    """Resolves two versions of an id with the same ``captured_at`` by their stored lines (the store's rule). The
    lines of a chunk are read again only when a tie needs them; the last two chunks read are kept."""

    def __init__(self, store: Store, chunks: list):
        self.store = store
        self.chunks = chunks
        self._cache: dict[int, list[bytes]] = {}

    def line(self, ci: int, li: int) -> bytes:
        lines = self._cache.get(ci)
        if lines is None:
            raw = read_chunk(self.store.repo, self.chunks[ci]).raw
            lines = [line for line in raw.split(b"\n") if line.strip()]
            if len(self._cache) >= 2:
                self._cache.pop(next(iter(self._cache)))
            self._cache[ci] = lines
        return lines[li]

    def newer(self, captured_at: str, ci: int, li: int, cur) -> bool:
        """Whether the version at line ``li`` of chunk ``ci`` beats ``cur`` (an entry with ``ci``/``li``)."""
        if (ci, li) == (cur.ci, cur.li):
            return False
        return newer(captured_at, self.line(ci, li), cur.captured_at, self.line(cur.ci, cur.li))


class History:
    """The live history of rewritten commits, as export uses it (without rewrites: every commit is live)."""

    def __init__(self, live=None, superseded=None):
        self._live = live
        self._superseded = superseded

    def live(self, commit: str) -> str:
        return self._live(commit) if self._live is not None else commit

    def superseded(self, commit: str) -> bool:
        return self._superseded(commit) if self._superseded is not None else False

    def relink(self, link):
        """A link to a rewritten commit counts for the live one."""
        live = self.live(link.commit)
        return link if live == link.commit else msgspec.structs.replace(link, commit=live)


def live_history(store: Store) -> History:
    """The store's recorded rewrites, resolved (``git_ml.store.rewrites``)."""
    live = load_live_history(store)
    return History(live.live, live.superseded) if live else History()
