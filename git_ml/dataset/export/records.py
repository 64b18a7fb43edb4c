"""Training rows built from store records: the documented export format.

Records style (one row per chat or commit)::

    {"type": "chat" | "commit", "id": ..., "timestamp": "<ISO-8601 UTC>", "input": ..., "output": ...,
     "context": {"files": [...], "tools_used": [...], ...}, "session_id": ..., "rating": ..., "weight": ...}

Messages style (chat format)::

    {"messages": [{"role": "user", "content": ...}, {"role": "assistant", "content": ...}],
     "type": ..., "id": ..., "timestamp": ..., "session_id": ..., "rating": ..., "weight": ...}

A chat's input is its query and its output the assistant's response. A commit is a "task -> change" pair: its
message is the input, a summary of the change (totals, then one line per file) the output; with ``--include-diffs``
the diff hunks from the local ref go to ``context.diff`` (and, in messages style, after the summary).

The slim ``*In`` structs decode only the fields export uses: decoding skips the rest, which is most of the time
saved on a large store.
"""

from __future__ import annotations

import datetime as _dt
import time as _time

import msgspec

from git_ml.dataset.feedback import RANK, latest_feedback

RATINGS = ("bad", "neutral", "good")
DEFAULT_WEIGHTS = {"good": 1.0, "neutral": 0.5, "unrated": 0.5, "bad": 0.0}
SUMMARY_FILES = 100  # file lines of a commit's change summary; the rest are counted


# ----- what export reads ------------------------------------------------------------------------------------------
_EMPTY_JSON_STRING = msgspec.Raw(b'""')


class CommitIn(msgspec.Struct, kw_only=True):
    id: str
    captured_at: str = ""
    # Kept as its JSON text: copied into the row as is, never unescaped and escaped again (a tenth of the time).
    message: msgspec.Raw = _EMPTY_JSON_STRING
    time: int = 0
    committed_at: str = ""
    branch: str | None = None
    files: list[tuple[str, str, int | None, int | None, str | None]] = []
    files_changed: int = 0
    insertions: int = 0
    deletions: int = 0
    session_id: str | None = None
    related_chats: list[str] = []
    redactions: dict[str, int] = {}


class ChatIn(msgspec.Struct, kw_only=True):
    id: str
    captured_at: str = ""
    session_id: str = ""
    assistant: str = ""
    model: str | None = None
    timestamp: str = ""
    query: str = ""
    response: str = ""
    files_referenced: list[str] = []
    files_modified: list[str] = []
    tools_used: list[str] = []
    branch: str | None = None
    commits: list[str] = []
    redactions: dict[str, int] = {}
    query_tokens: int = 0
    response_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    cost_usd: float | None = None  # only where a transcript recorded a cost (none of today's parsers does)


class UsageIn(msgspec.Struct, kw_only=True):
    """A chat's model and token counts: what a commit row sums over the chats behind it."""

    id: str
    captured_at: str = ""
    model: str | None = None
    query_tokens: int = 0
    response_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    cost_usd: float | None = None


class DiffIn(msgspec.Struct, kw_only=True):
    id: str
    captured_at: str = ""
    text: str = ""
    redactions: dict[str, int] = {}


# ----- what export writes -----------------------------------------------------------------------------------------
class Context(msgspec.Struct):
    files: list[str]  # commit: paths changed; chat: files the assistant modified
    tools_used: list[str]  # chat: tools in order of first use; commit: []
    files_referenced: list[str]  # chat: files read or mentioned
    commits: list[str]  # chat: commits it produced (links)
    chats: list[str]  # commit: chats that produced it (links, nearest first)
    assistant: str | None
    model: str | None
    branch: str | None
    insertions: int | None
    deletions: int | None
    redactions: int  # secrets replaced by placeholders in this record (all kinds), its diff's included
    diff: str | None  # commit hunks (only with --include-diffs)
    query_tokens: int | None  # chat: its prompt tokens; commit: the sum over the chats behind it (None: no chat)
    response_tokens: int | None
    cache_read_tokens: int | None
    cache_creation_tokens: int | None
    cost_usd: float | None  # only where the transcript recorded a cost: never estimated from a price list


class RecordRow(msgspec.Struct):
    type: str
    id: str
    timestamp: _dt.datetime | str  # encoded as ISO-8601 UTC text
    input: str
    output: str
    context: Context
    session_id: str | None
    rating: str | None
    weight: float


class Message(msgspec.Struct):
    role: str
    content: str


class MessagesRow(msgspec.Struct):
    messages: list[Message]
    type: str
    id: str
    timestamp: _dt.datetime | str
    session_id: str | None
    rating: str | None
    weight: float
    model: str | None
    query_tokens: int | None
    response_tokens: int | None
    cache_read_tokens: int | None
    cache_creation_tokens: int | None
    cost_usd: float | None


class Usage(msgspec.Struct, gc=False):
    """Model and token counts of one chat, or summed over the chats behind a commit."""

    model: str | None = None
    query_tokens: int | None = None
    response_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    cost_usd: float | None = None


NO_USAGE = Usage()


def usage_of(c) -> Usage:
    return Usage(c.model, c.query_tokens, c.response_tokens, c.cache_read_tokens, c.cache_creation_tokens,
                 c.cost_usd)


def usage_sum(parts: list[Usage]) -> Usage:
    """Token counts added up; the model of the first (nearest) chat; a cost only when every chat recorded one."""
    if not parts:
        return NO_USAGE
    costs = [u.cost_usd for u in parts]
    return Usage(next((u.model for u in parts if u.model), None),
                 sum(u.query_tokens or 0 for u in parts), sum(u.response_tokens or 0 for u in parts),
                 sum(u.cache_read_tokens or 0 for u in parts), sum(u.cache_creation_tokens or 0 for u in parts),
                 None if None in costs else round(sum(costs), 6))


# ----- helpers ----------------------------------------------------------------------------------------------------
_DAYS: dict[int, str] = {}


def utc_iso(ts: float) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (whole seconds). The date part is cached per day: most rows share their day."""
    sec = int(ts)
    day, rest = divmod(sec, 86400)
    prefix = _DAYS.get(day)
    if prefix is None:
        prefix = _DAYS[day] = _time.strftime("%Y-%m-%dT", _time.gmtime(day * 86400))
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"{prefix}{h:02d}:{m:02d}:{s:02d}Z"


_UTC = _dt.timezone.utc
_fromtimestamp = _dt.datetime.fromtimestamp


def utc_time(ts: float) -> _dt.datetime:
    """A row's timestamp: msgspec encodes a UTC datetime as ``YYYY-MM-DDTHH:MM:SSZ`` in C (3x faster than
    formatting the text here)."""
    try:
        return _fromtimestamp(int(ts), _UTC)
    except (OverflowError, OSError, ValueError):  # a corrupt time: the epoch rather than a crash
        return _fromtimestamp(0, _UTC)


def parse_iso(text: str | None) -> float | None:
    if not text:
        return None
    try:
        d = _dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    return d.timestamp()


def commit_ts(c) -> float:
    """A commit's time for export: its author date (``time``, what `git log` shows), which needs no parsing."""
    return float(c.time) if c.time else (parse_iso(c.committed_at) or parse_iso(c.captured_at) or 0.0)


def chat_ts(c) -> float | None:
    return parse_iso(c.timestamp) or parse_iso(c.captured_at)


def unique(items) -> list[str]:
    return list(dict.fromkeys(items))


def change_summary(c) -> str:
    """``N files changed, I insertions(+), D deletions(-)`` then ``STATUS path (+a -d)`` per file."""
    files = c.files
    if not files:
        return ""
    n = c.files_changed or len(files)
    ins, dels = c.insertions, c.deletions
    head = (f"{n} file{'s' if n != 1 else ''} changed, {ins} insertion{'s' if ins != 1 else ''}(+), "
            f"{dels} deletion{'s' if dels != 1 else ''}(-)")
    lines = [head]
    lines += [(f"{st} {old} -> {path}" if old else f"{st} {path}")
              + ((" (unknown)" if st == "X" else " (binary)") if a is None or d is None else f" (+{a} -{d})")
              for st, path, a, d, old in (files if len(files) <= SUMMARY_FILES else files[:SUMMARY_FILES])]
    if len(files) > SUMMARY_FILES:
        lines.append(f"... and {len(files) - SUMMARY_FILES} more files")
    return "\n".join(lines)


def raw_text(raw) -> str:
    """The text of a JSON string kept as ``msgspec.Raw`` (or a str as is)."""
    return raw if isinstance(raw, str) else msgspec.json.decode(raw)


def raw_blank(raw) -> bool:
    """Whether a JSON string (``msgspec.Raw``) holds only whitespace, decoding only short ones."""
    if isinstance(raw, str):
        return not raw or raw.isspace()
    n = len(raw)
    if n <= 2:
        return True
    if n > 256:
        return False  # 250+ characters of escaped whitespace only: not a message anyone wrote
    text = msgspec.json.decode(raw)
    return not isinstance(text, str) or not text or text.isspace()


def weight_of(rating: str | None, weights: dict[str, float]) -> float:
    return weights["unrated" if rating is None else rating]


def rating_rank(rating: str | None) -> int:
    """bad < neutral < good; an unrated row sits with neutral (DECISIONS)."""
    return RANK.get(rating or "neutral", 1)


def latest_ratings(feedback) -> dict[str, str]:
    """The rating in force per chat id (the rule of ``git_ml.feedback.latest_feedback``)."""
    return {chat: fb.rating for chat, fb in latest_feedback(fb for fb in feedback
                                                            if fb.rating in RANK and fb.chat_id).items()}


# ----- row builders -----------------------------------------------------------------------------------------------
def chat_row(c: ChatIn, ts: float, rating: str | None, weight: float, commits: list[str]) -> RecordRow:
    """``commits``: the commits it produced (links, then the chat's own list), live ids."""
    ctx = Context(files=unique(c.files_modified), tools_used=unique(c.tools_used),
                  files_referenced=unique(c.files_referenced), commits=unique(commits), chats=[],
                  assistant=c.assistant or None, model=c.model, branch=c.branch, insertions=None, deletions=None,
                  redactions=sum(c.redactions.values()) if c.redactions else 0, diff=None,
                  query_tokens=c.query_tokens, response_tokens=c.response_tokens,
                  cache_read_tokens=c.cache_read_tokens, cache_creation_tokens=c.cache_creation_tokens,
                  cost_usd=c.cost_usd)
    return RecordRow(type="chat", id=c.id, timestamp=utc_time(ts), input=c.query, output=c.response, context=ctx,
                     session_id=c.session_id or None, rating=rating, weight=weight)


def commit_row(c: CommitIn, ts: float, weight: float, chats: list[str], session_id: str | None,
               diff: str | None, summary: str, diff_redactions: int = 0, usage: Usage = NO_USAGE) -> RecordRow:
    """``diff_redactions``: secrets replaced in the exported diff (counted with the record's own);
    ``usage``: the model and token counts of the chats behind it (``usage_sum``)."""
    ctx = Context([f[1] for f in c.files], [], [], [], unique([*chats, *c.related_chats]) if chats or
                  c.related_chats else [], None, usage.model, c.branch, c.insertions, c.deletions,
                  (sum(c.redactions.values()) if c.redactions else 0) + diff_redactions, diff, usage.query_tokens,
                  usage.response_tokens, usage.cache_read_tokens, usage.cache_creation_tokens, usage.cost_usd)
    return RecordRow("commit", c.id, utc_time(ts), c.message, summary, ctx, c.session_id or session_id, None, weight)


def as_messages(row: RecordRow) -> MessagesRow:
    answer = row.output
    if row.context.diff:
        answer = f"{answer}\n\n{row.context.diff}" if answer else row.context.diff
    x = row.context
    return MessagesRow([Message("user", row.input), Message("assistant", answer)], row.type, row.id, row.timestamp,
                       row.session_id, row.rating, row.weight, x.model, x.query_tokens, x.response_tokens,
                       x.cache_read_tokens, x.cache_creation_tokens, x.cost_usd)


def arrow_schema(style: str):
    """The Arrow schema of the rows (Parquet and Hugging Face formats)."""
    import pyarrow as pa

    common = [("type", pa.string()), ("id", pa.string()), ("timestamp", pa.string()),
              ("session_id", pa.string()), ("rating", pa.string()), ("weight", pa.float64())]
    usage = [("query_tokens", pa.int64()), ("response_tokens", pa.int64()), ("cache_read_tokens", pa.int64()),
             ("cache_creation_tokens", pa.int64()), ("cost_usd", pa.float64())]
    if style == "messages":
        msg = pa.struct([("role", pa.string()), ("content", pa.string())])
        return pa.schema([("messages", pa.list_(msg)), *common, ("model", pa.string()), *usage])
    ctx = pa.struct([
        ("files", pa.list_(pa.string())), ("tools_used", pa.list_(pa.string())),
        ("files_referenced", pa.list_(pa.string())), ("commits", pa.list_(pa.string())),
        ("chats", pa.list_(pa.string())), ("assistant", pa.string()), ("model", pa.string()),
        ("branch", pa.string()), ("insertions", pa.int64()), ("deletions", pa.int64()),
        ("redactions", pa.int64()), ("diff", pa.string()), *usage])
    t, i, ts, sid, rating, weight = common
    return pa.schema([t, i, ts, ("input", pa.string()), ("output", pa.string()), ("context", ctx), sid, rating,
                      weight])
