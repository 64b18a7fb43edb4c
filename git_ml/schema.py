"""Record types of every stream, as msgspec Structs.

Schema evolution: new fields always get defaults, and decoding ignores fields it does not know, so data written by
a newer version stays readable. Every record has a stable ``id`` and a ``captured_at`` time (ISO-8601 UTC): two
records with the same id are versions of one thing, and the latest captured wins (ties: the greater encoding).
"""

from __future__ import annotations

import datetime as _dt

import msgspec

# One file entry of a commit: [status, path, added, deleted, old_path]; added/deleted are None for binary files.
# Status "X" (git's letter for an unknown change): legacy data that listed the path without its change, whose
# line counts (None) are unknown rather than binary.
FileEntry = tuple[str, str, "int | None", "int | None", "str | None"]


class Record(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """The base of every stream's record. ``gc=False`` (inherited): the garbage collector does not track records,
    since their fields hold only strings, numbers and containers of those, which cannot form a cycle through one;
    a parse or a read builds and frees hundreds of thousands of them (half the cost of the pass that follows a
    parse). A field added to a record must keep to such types (a test checks)."""

    id: str
    captured_at: str = ""


class Commit(Record, kw_only=True, omit_defaults=True):
    """A commit as captured. ``id`` is the full commit hash."""

    message: str = ""
    author: str = ""
    author_email: str = ""
    timestamp: str = ""  # author date, ISO-8601 with the author's offset
    time: int = 0  # author date, unix seconds (sorting and rates without parsing)
    committer: str = ""
    committed_at: str = ""
    branch: str | None = None
    parents: list[str] = []
    is_merge: bool = False
    files: list[tuple[str, str, int | None, int | None, str | None]] = []
    files_changed: int = 0
    insertions: int = 0
    deletions: int = 0
    hour_of_day: int = 0
    day_of_week: int = 0  # Monday 0 .. Sunday 6, in the author's local time
    patch_id: str | None = None
    session_id: str | None = None
    related_chats: list[str] = []
    redactions: dict[str, int] = {}
    source: str = ""  # hook, backfill, catch-up, rewrite, manual
    raw_paths: dict[str, str] = {}  # path as stored -> base64 of its bytes, for paths that are not UTF-8
    shallow: bool = False  # at a shallow clone's boundary: parents absent, files unknown (empty) until unshallowed


class Diff(Record, kw_only=True, omit_defaults=True):
    """Full diff hunks of one commit (local-only ref). ``id`` is the commit hash."""

    text: str = ""
    bytes: int = 0  # size of the full diff before truncation
    truncated: bool = False
    redactions: dict[str, int] = {}


class Rewrite(Record, kw_only=True, omit_defaults=True):
    """old -> new commit mapping from post-rewrite (amend, rebase). ``id`` is ``old:new``."""

    old: str = ""
    new: str = ""
    kind: str = ""  # amend | rebase
    time: int = 0


class Chat(Record, kw_only=True, omit_defaults=True):
    """One exchange with an assistant. ``id`` is ``<session_id>:<prompt uuid>``."""

    session_id: str = ""
    assistant: str = ""  # claude-code | codex | aider
    model: str | None = None
    timestamp: str = ""  # prompt time, ISO-8601 UTC
    ended_at: str | None = None
    duration_ms: int | None = None
    prompt_uuid: str | None = None
    query: str = ""  # what the person typed (never injected context or summaries)
    images: int = 0  # images attached to the prompt (their data is not kept)
    response: str = ""
    files_referenced: list[str] = []
    files_modified: list[str] = []
    tools_used: list[str] = []  # tool names in order of use
    tool_counts: dict[str, int] = {}
    query_tokens: int = 0
    response_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    branch: str | None = None
    cwd: str | None = None
    user_feedback: str | None = None
    commits: list[str] = []
    redactions: dict[str, int] = {}


class Session(Record, kw_only=True, omit_defaults=True):
    """One assistant session. ``id`` is the assistant's session id."""

    assistant: str = ""
    started_at: str | None = None
    ended_at: str | None = None
    end_reason: str | None = None
    model: str | None = None
    cwd: str | None = None
    branch: str | None = None
    transcript_path: str | None = None
    chat_count: int = 0
    query_tokens: int = 0
    response_tokens: int = 0
    commits: list[str] = []
    # An orchestration run (a director session and its sub-agents, migrated from legacy data): what it was asked
    # to do, its agents, and the session that directed it.
    task: str | None = None
    agents: list[str] = []
    parent_session: str | None = None


class Feedback(Record, kw_only=True, omit_defaults=True):
    """A rating of a chat. ``id`` is ``<chat id>@<time>``; the latest per chat wins."""

    chat_id: str = ""
    rating: str = ""  # bad | neutral | good
    comment: str | None = None
    time: str = ""


class Link(Record, kw_only=True, omit_defaults=True):
    """A commit produced in a chat. ``id`` is ``<commit>:<chat id>``."""

    commit: str = ""
    chat_id: str = ""
    session_id: str | None = None
    reason: str = ""  # files | session | legacy (related in migrated legacy data)
    score: float = 0.0  # share of the commit's files the chat modified
    seconds: int = 0  # commit time minus the chat's last activity (nearest first)


class Tombstone(Record, kw_only=True, omit_defaults=True):
    """Deletion of a record. ``id`` is ``<stream>:<record id>``."""

    stream: str = ""
    target: str = ""
    reason: str = ""


class Envelope(msgspec.Struct, gc=False):
    """What store maintenance needs of any record, whatever its stream or version."""

    id: str
    captured_at: str = ""


# Streams of refs/ml/data (shareable) and refs/ml/local (never leaves the machine).
DATA_STREAMS: dict[str, type[Record]] = {
    "commits": Commit,
    "chats": Chat,
    "sessions": Session,
    "feedback": Feedback,
    "links": Link,
    "rewrites": Rewrite,
    "tombstones": Tombstone,
}
LOCAL_STREAMS: dict[str, type[Record]] = {"diffs": Diff}
ALL_STREAMS: dict[str, type[Record]] = {**DATA_STREAMS, **LOCAL_STREAMS}


def now_iso() -> str:
    """Current UTC time, ISO-8601 with microseconds, so that string order is time order."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_from_unix(seconds: int, offset_minutes: int = 0) -> str:
    tz = _dt.timezone(_dt.timedelta(minutes=offset_minutes))
    return _dt.datetime.fromtimestamp(seconds, tz).isoformat()
