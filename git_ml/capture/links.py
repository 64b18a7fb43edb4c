"""Links between commits and the chats that produced them.

A link is its own record (``links`` stream), so both directions are queryable without rewriting old chunks, and
whichever arrives first — the commit or the chat — the later capture makes the link. A commit belongs to a chat when
it was committed between the chat's prompt and a window after the chat's last activity, and the chat modified files
the commit changed; nearest in time first. A commit committed inside a session's span with no file overlap still
gets the session (reason ``session``) so that `show` can find the conversation around it. A session that ended
claims nothing after its end: neither its chats' windows nor its span reach past ``ended_at``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from git_ml.dates import iso_to_unix
from git_ml.schema import Chat, Commit, Link

DEFAULT_WINDOW = 30 * 60  # seconds after a chat's last activity during which its commits still count



def commit_time(commit: Commit) -> float:
    """When the commit was made: the committer date (an amend or rebase keeps the old author date)."""
    return iso_to_unix(commit.committed_at) or float(commit.time)


def chat_span(chat: Chat) -> tuple[float, float] | None:
    start = iso_to_unix(chat.timestamp)
    if start is None:
        return None
    end = iso_to_unix(chat.ended_at) or start
    return start, max(start, end)


def commit_paths(commit: Commit) -> set[str]:
    out = set()
    for f in commit.files:
        out.add(f[1])
        if f[4]:
            out.add(f[4])
    return out


def find_links(commits: Iterable[Commit], chats: Iterable[Chat], window: float = DEFAULT_WINDOW,
               session_ends: dict[str, float] | None = None) -> list[Link]:
    """Links for every (commit, chat) pair that belong together. Pure: the caller stores what is new.

    ``session_ends`` maps a closed session's id to its end (unix time): its chats claim no commit made after it."""
    ends = session_ends or {}
    timed = sorted(((commit_time(c), c) for c in commits), key=lambda x: x[0])
    times = [t for t, _ in timed]
    links: list[Link] = []
    for chat in chats:
        span = chat_span(chat)
        if span is None:
            continue
        start, end = span
        lo = bisect.bisect_left(times, start)
        hi = bisect.bisect_right(times, min(end + window, ends.get(chat.session_id, float("inf"))))
        modified = set(chat.files_modified)
        for t, commit in timed[lo:hi]:
            overlap = modified & commit_paths(commit) if modified else set()
            if overlap:
                score = len(overlap) / max(1, len(commit_paths(commit)))
                links.append(Link(id=f"{commit.id}:{chat.id}", commit=commit.id, chat_id=chat.id,
                                  session_id=chat.session_id, reason="files", score=round(score, 4),
                                  seconds=int(t - end)))
    return links


def session_links(commits: Iterable[Commit], sessions: Iterable) -> list[Link]:
    """Commits made while a session was open (no file evidence needed): reason ``session``. A session that ended
    claims commits up to its end only; one still open claims every later commit (its caller bounds how long a
    silent session counts as open)."""
    out = []
    spans = []
    for s in sessions:
        start = iso_to_unix(s.started_at)
        if start is None:
            continue
        end = iso_to_unix(s.ended_at)
        spans.append((s, start, end if end is not None else float("inf")))
    for c in commits:
        t = commit_time(c)
        for s, start, end in spans:
            if start <= t <= end:
                out.append(Link(id=f"{c.id}:{s.id}", commit=c.id, chat_id="", session_id=s.id, reason="session"))
    return out


class LinkIndex:
    """Both directions over the stored links: commit -> chats (nearest first), chat -> commits."""

    def __init__(self, links: Iterable[Link]):
        self.by_commit: dict[str, list[Link]] = {}
        self.by_chat: dict[str, list[Link]] = {}
        for link in links:
            self.by_commit.setdefault(link.commit, []).append(link)
            if link.chat_id:
                self.by_chat.setdefault(link.chat_id, []).append(link)
        for lst in self.by_commit.values():
            lst.sort(key=lambda lk: (lk.reason != "files", abs(lk.seconds), -lk.score, lk.chat_id))

    def chats_of(self, commit: str) -> list[str]:
        return [lk.chat_id for lk in self.by_commit.get(commit, ()) if lk.chat_id]

    def session_of(self, commit: str) -> str | None:
        for lk in self.by_commit.get(commit, ()):
            if lk.session_id:
                return lk.session_id
        return None

    def commits_of(self, chat_id: str) -> list[str]:
        return [lk.commit for lk in self.by_chat.get(chat_id, ())]
