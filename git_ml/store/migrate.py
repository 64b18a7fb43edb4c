"""``git ml chunk migrate``: import the ``.git-ml/`` folder of the system git-ml replaces.

The legacy layout, as this importer reads it (every file optional)::

    .git-ml/
      tracked/commits.jsonl        one commit per line (metadata, no diff)
      tracked/sessions.jsonl       one session per line
      tracked/orchestration.jsonl  one orchestration run (a director session and its sub-agents) per line
      tracked/chunked/*.jsonl      mixed records, one per line:
                                     {"type": "commit"|"chat"|"session"|"orchestration", "data": {...}}
                                   a record whose JSON exceeds 5 KB is stored compressed:
                                     {"type": ..., "compressed": true, "encoding": "zlib+base64",
                                      "data": "<base64 of the zlib-deflated UTF-8 JSON of the record>"}
                                   (a bare record without "type"/"data" is accepted and its kind guessed)
      chats/YYYY-MM-DD/*.json      one chat per file: id, timestamp, session_id, query, response, files_referenced,
                                   files_modified, tools_used, query_tokens, response_tokens, user_feedback
      commits/*.json               one commit per file with its diff: the commit fields plus
                                   "hunks": [{"file", "change_type": add|modify|delete|rename, "old_path",
                                              "start_line", "function", "lines_added": [...],
                                              "lines_removed": [...]}]

Legacy commit fields: hash, message, author ("Name <email>" or a name), author_email, timestamp (ISO-8601),
branch, parents, is_merge, files_changed (list of paths), insertions, deletions, hour_of_day, day_of_week,
session_id, related_chats. Sessions: id (or session_id), start_time/started_at, end_time/ended_at, chat_ids or
chat_count, commits, model, cwd, branch. Orchestration runs: id, session_id, started_at, ended_at, agents,
commits, task.

Mapping: commits -> ``Commit`` (per-file line counts from the hunks when there are any; a path listed without
hunks gets status ``X``, git's letter for an unknown change, and unknown counts), the hunks of ``commits/*.json`` ->
``Diff`` in refs/ml/local (bounded by ``ml.diffLimit``); ``day_of_week`` as a number or a weekday name ("Tuesday");
chats -> ``Chat`` with id ``<session_id>:<legacy id>`` and, when ``user_feedback`` is a rating, a ``Feedback``
record; sessions -> ``Session``; orchestration runs -> ``Session`` with id ``orchestration:<id>``, assistant
``orchestration``, its ``task``, ``agents`` and directing session (``parent_session``). What the legacy data related
becomes ``Link`` records (reason ``legacy``): a commit's ``related_chats`` and a chat's commits (both rewritten to
the migrated chat ids), and the commits of sessions and orchestration runs (session links). Text (messages,
prompts, responses, diffs, tasks) goes through ``redact``. ``captured_at`` is the legacy record's own time.

Legacy data migrates onto captured history (the README's order: install-hooks, backfill, then migrate): a commit
already captured keeps its captured record, and a new version of it adds only what it lacks (session, related
chats, ...). Other records whose id is already in the store are skipped: running the import again stores nothing.
The legacy folder is left as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import msgspec
import pygit2

from git_ml import schema
from git_ml.capture.redaction import redact
from git_ml.capture.redaction.records import redact_record
from git_ml.errors import GitMlError
from git_ml.repo import config_int, workdir
from git_ml.schema import Chat, Commit, Diff, Feedback, Link, Session
from git_ml.store import reader
from git_ml.store.core import Store
from git_ml.store.legacy import (
    COMPRESS_ABOVE,
    MigrateReport,
    decode_chunked_line,
    encode_chunked_line,
    read_legacy,
)

__all__ = ["COMPRESS_ABOVE", "MigrateReport", "decode_chunked_line", "describe", "encode_chunked_line", "migrate",
           "read_legacy"]
UNKNOWN = "X"  # git's status letter for an unknown change: a legacy commit listed its paths without hunks
_WEEKDAYS = {name: i for i, names in enumerate(
    (("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed"), ("thursday", "thu", "thur", "thurs"),
     ("friday", "fri"), ("saturday", "sat"), ("sunday", "sun"))) for name in names}

_RATINGS = {"good": "good", "positive": "good", "+1": "good", "thumbs_up": "good", "up": "good",
            "bad": "bad", "negative": "bad", "-1": "bad", "thumbs_down": "bad", "down": "bad", "neutral": "neutral"}


# ----- time ------------------------------------------------------------------------------------------------------
def _parse_time(value) -> dt.datetime | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, (int, float)):
            return dt.datetime.fromtimestamp(float(value), dt.timezone.utc)
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        when = dt.datetime.fromisoformat(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        return when
    except (ValueError, OverflowError, OSError):
        return None


def _utc(when: dt.datetime | None) -> str:
    if when is None:
        return ""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _captured(*values) -> str:
    for v in values:
        stamp = _utc(_parse_time(v))
        if stamp:
            return stamp
    return "1970-01-01T00:00:00.000000Z"  # no time at all: older than anything git-ml captures


# ----- mapping -----------------------------------------------------------------------------------------------------
def _text(value, report: MigrateReport, counts: dict[str, int]) -> str:
    if not value:
        return ""
    clean, found = redact(str(value))
    for k, v in found.items():
        counts[k] = counts.get(k, 0) + v
        report.redactions += v
    return clean


def _author(rec: dict) -> tuple[str, str]:
    author = str(rec.get("author") or "")
    email = str(rec.get("author_email") or "")
    if "<" in author and author.endswith(">"):
        name, _, rest = author.partition("<")
        return name.strip(), email or rest[:-1].strip()
    return author, email


_STATUS = {"add": "A", "added": "A", "new": "A", "modify": "M", "modified": "M", "delete": "D", "deleted": "D",
           "remove": "D", "rename": "R", "renamed": "R", "copy": "C"}


def _files(rec: dict) -> list[tuple]:
    hunks = rec.get("hunks") or []
    if hunks:
        per: dict[str, list] = {}
        for h in hunks:
            path = str(h.get("file") or h.get("path") or "")
            if not path:
                continue
            entry = per.setdefault(path, [_STATUS.get(str(h.get("change_type", "")).lower(), "M"), path, 0, 0,
                                          h.get("old_path")])
            entry[2] += len(h.get("lines_added") or [])
            entry[3] += len(h.get("lines_removed") or [])
        listed = [f for f in rec.get("files_changed") or [] if isinstance(f, str) and f not in per]
        return [tuple(v) for v in per.values()] + [(UNKNOWN, f, None, None, None) for f in listed]
    files = rec.get("files_changed") or rec.get("files") or []
    out = []
    for f in files:
        if isinstance(f, str):  # a path without hunks: neither the change nor its line counts are known
            out.append((UNKNOWN, f, None, None, None))
        elif isinstance(f, (list, tuple)) and len(f) >= 2:
            out.append((str(f[0]), str(f[1]), f[2] if len(f) > 2 else None, f[3] if len(f) > 3 else None,
                        f[4] if len(f) > 4 else None))
    return out


def _diff_text(rec: dict) -> str:
    out = []
    for h in rec.get("hunks") or []:
        path = h.get("file") or h.get("path") or "?"
        old = h.get("old_path") or path
        start = h.get("start_line") or 0
        added = h.get("lines_added") or []
        removed = h.get("lines_removed") or []
        out.append(f"--- a/{old}\n+++ b/{path}\n@@ -{start},{len(removed)} +{start},{len(added)} @@"
                   f"{' ' + h['function'] if h.get('function') else ''}\n")
        out.extend(f"-{line}\n" for line in removed)
        out.extend(f"+{line}\n" for line in added)
    return "".join(out)


def _small_int(value, bound: int, default: int) -> int:
    """An hour or weekday number as the legacy system wrote it (int or digits), else ``default``."""
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    return n if 0 <= n < bound else default


def _weekday(value, default: int) -> int:
    """Monday 0 .. Sunday 6 from a number or a weekday name ("Tuesday", "tue"), as the original system wrote it."""
    if isinstance(value, str) and value.strip().lower() in _WEEKDAYS:
        return _WEEKDAYS[value.strip().lower()]
    return _small_int(value, 7, default)


def map_commit(rec: dict, report: MigrateReport, diff_limit: int | None) -> tuple[Commit | None, Diff | None]:
    oid = str(rec.get("hash") or rec.get("id") or "").strip().lower()
    if len(oid) not in (40, 64) or any(c not in "0123456789abcdef" for c in oid):
        return None, None
    counts: dict[str, int] = {}
    when = _parse_time(rec.get("timestamp") or rec.get("date"))
    name, email = _author(rec)
    files = _files(rec)
    ins = rec.get("insertions")
    dels = rec.get("deletions")
    if ins is None:
        ins = sum(f[2] or 0 for f in files)
    if dels is None:
        dels = sum(f[3] or 0 for f in files)
    parents = [str(p) for p in rec.get("parents") or []]
    commit = Commit(
        id=oid, captured_at=_captured(rec.get("captured_at"), rec.get("timestamp")),
        message=_text(rec.get("message"), report, counts), author=name, author_email=email,
        timestamp=when.isoformat() if when else "", time=int(when.timestamp()) if when else 0,
        branch=rec.get("branch") or None, parents=parents,
        is_merge=bool(rec.get("is_merge", len(parents) > 1)), files=files,
        files_changed=len(files) if files else int(rec.get("files_changed_count") or 0),
        insertions=int(ins or 0), deletions=int(dels or 0),
        hour_of_day=_small_int(rec.get("hour_of_day"), 24, when.hour if when else 0),
        day_of_week=_weekday(rec.get("day_of_week"), when.weekday() if when else 0),
        session_id=rec.get("session_id") or None,
        related_chats=[str(c) for c in rec.get("related_chats") or []], source="migrate")
    diff = None
    text = _diff_text(rec)
    if text and diff_limit != 0:
        dcounts: dict[str, int] = {}
        clean = _text(text, report, dcounts)
        total = len(clean.encode("utf-8"))
        truncated = diff_limit is not None and total > diff_limit
        if truncated:
            clean = clean.encode("utf-8")[:diff_limit].decode("utf-8", "ignore")
        diff = Diff(id=oid, captured_at=commit.captured_at, text=clean, bytes=total, truncated=truncated,
                    redactions=dcounts)
    commit.redactions = counts
    return commit, diff


def map_chat(rec: dict, report: MigrateReport) -> tuple[Chat | None, Feedback | None]:
    legacy = str(rec.get("id") or rec.get("chat_id") or "").strip()
    if not legacy:
        return None, None
    session = str(rec.get("session_id") or "")
    cid = f"{session}:{legacy}" if session else f"legacy:{legacy}"
    counts: dict[str, int] = {}
    when = _parse_time(rec.get("timestamp"))
    tools = [str(t) for t in rec.get("tools_used") or []]
    tool_counts: dict[str, int] = {}
    for t in tools:
        tool_counts[t] = tool_counts.get(t, 0) + 1
    feedback = rec.get("user_feedback")
    chat = Chat(
        id=cid, captured_at=_captured(rec.get("captured_at"), rec.get("timestamp")), session_id=session,
        assistant=str(rec.get("assistant") or "claude-code"), model=rec.get("model") or None,
        timestamp=_utc(when), prompt_uuid=legacy, query=_text(rec.get("query"), report, counts),
        response=_text(rec.get("response"), report, counts),
        files_referenced=[str(f) for f in rec.get("files_referenced") or []],
        files_modified=[str(f) for f in rec.get("files_modified") or []], tools_used=tools, tool_counts=tool_counts,
        query_tokens=int(rec.get("query_tokens") or 0), response_tokens=int(rec.get("response_tokens") or 0),
        user_feedback=str(feedback) if feedback not in (None, "") and not isinstance(feedback, dict) else None,
        commits=[str(c) for c in rec.get("related_commits") or rec.get("commits") or []], redactions=counts)
    rating = feedback.get("rating") if isinstance(feedback, dict) else feedback
    rating = _RATINGS.get(str(rating).strip().lower()) if rating not in (None, "") else None
    fb = None
    if rating:
        stamp = chat.timestamp or chat.captured_at
        comment = feedback.get("comment") if isinstance(feedback, dict) else None
        fb = Feedback(id=f"{cid}@{stamp}", captured_at=chat.captured_at, chat_id=cid, rating=rating,
                      comment=_text(comment, report, {}) or None, time=stamp)
        if isinstance(feedback, dict):
            chat.user_feedback = rating
    return chat, fb


def map_session(rec: dict, *, orchestration: bool = False) -> Session | None:
    sid = str(rec.get("orchestration_id") if orchestration and rec.get("orchestration_id") else
              rec.get("id") or rec.get("session_id") or "").strip()
    if not sid:
        return None
    started = _utc(_parse_time(rec.get("started_at") or rec.get("start_time")))
    ended = _utc(_parse_time(rec.get("ended_at") or rec.get("end_time")))
    chats = rec.get("chat_ids")
    agents = rec.get("agents") or []
    agent_names = [_agent_name(a) for a in agents] if isinstance(agents, list) else []
    task = rec.get("task") or rec.get("description") or rec.get("goal")
    return Session(
        id=f"orchestration:{sid}" if orchestration else sid,
        captured_at=_captured(rec.get("captured_at"), rec.get("ended_at") or rec.get("end_time"),
                              rec.get("started_at") or rec.get("start_time")),
        assistant="orchestration" if orchestration else str(rec.get("assistant") or "claude-code"),
        started_at=started or None, ended_at=ended or None, end_reason=rec.get("end_reason") or None,
        model=rec.get("model") or None, cwd=rec.get("cwd") or None, branch=rec.get("branch") or None,
        chat_count=len(agents) if orchestration else (len(chats) if isinstance(chats, list) else
                                                       int(rec.get("chat_count") or 0)),
        commits=[str(c) for c in rec.get("commits") or []],
        task=redact(str(task))[0] if orchestration and task else None,
        agents=[a for a in agent_names if a] if orchestration else [],
        parent_session=str(rec["session_id"]) if orchestration and rec.get("session_id") else None)


def _agent_name(agent) -> str:
    if isinstance(agent, dict):
        for key in ("name", "id", "role", "type", "agent"):
            if agent.get(key):
                return str(agent[key])
        return ""
    return str(agent) if agent is not None else ""


def default_path(repo: pygit2.Repository) -> Path:
    root = workdir(repo)
    if root is None:
        raise GitMlError("a bare repository has no .git-ml folder: give its path")
    return root / ".git-ml"


def migrate(repo: pygit2.Repository, path: str | Path | None = None, *, dry_run: bool = False,
            warn: Callable[[str], None] | None = None) -> MigrateReport:
    root = Path(path) if path is not None else default_path(repo)
    if not root.is_dir():
        raise GitMlError(f"no legacy git-ml folder at {root}")
    if not any((root / p).exists() for p in ("tracked", "chats", "commits")):
        raise GitMlError(f"{root} does not look like a legacy git-ml folder (no tracked/, chats/ or commits/)")
    report = MigrateReport(root, dry_run=dry_run)
    legacy = read_legacy(root, report)
    limit = config_int(repo, "ml.diffLimit", 256 * 1024)
    limit = None if limit < 0 else limit
    batches: dict[str, list] = {"commits": [], "diffs": [], "chats": [], "feedback": [], "sessions": []}
    for rec in legacy["commit"].values():
        commit, diff = map_commit(rec, report, limit)
        if commit is None:
            report.unreadable.append(f"commit {rec.get('hash') or rec.get('id')!r}: not a commit hash")
            continue
        batches["commits"].append(commit)
        if diff is not None:
            batches["diffs"].append(diff)
    for rec in legacy["chat"].values():
        chat, fb = map_chat(rec, report)
        if chat is not None:
            batches["chats"].append(chat)
        if fb is not None:
            batches["feedback"].append(fb)
    for rec in legacy["session"].values():
        s = map_session(rec)
        if s is not None:
            batches["sessions"].append(s)
    for rec in legacy["orchestration"].values():
        s = map_session(rec, orchestration=True)
        if s is not None:
            batches["sessions"].append(s)
    for stream in ("commits", "chats", "sessions"):  # names too: file paths, branches, tools, working directories
        for record in batches[stream]:
            found = redact_record(record)
            if found and stream != "sessions":
                record.redactions = {k: record.redactions.get(k, 0) + found.get(k, 0) for k in {*record.redactions, *found}}
            report.redactions += sum(found.values())
    store = Store(repo, warn=warn)
    batches["links"] = _links(batches, report)
    captured = reader.current(store, "commits")
    todo: dict[str, list] = {}
    for stream, records in batches.items():
        if not records:
            continue
        have = store.ids(stream)
        fresh, seen = [], set()
        for r in records:
            if r.id in seen:
                report.bump(report.present, stream)
                continue
            seen.add(r.id)
            if stream == "commits" and r.id in captured:
                r = _fill_in(captured[r.id], r)  # the captured record wins; the legacy one adds what it lacks
                if r is None:
                    report.bump(report.present, stream)
                    continue
            elif r.id in have:
                report.bump(report.present, stream)
                continue
            fresh.append(r)
        fresh.sort(key=lambda r: (r.captured_at, r.id))
        if fresh:
            todo[stream] = fresh
            report.stored[stream] = len(fresh)
    if todo and not dry_run:
        store.append_many(todo, message=f"migrate {root.name}")
    return report


_FILL = ("session_id", "related_chats", "branch", "message", "author", "author_email")


def _fill_in(captured: Commit, legacy: Commit) -> Commit | None:
    """A new version of a captured commit with the fields it lacks taken from the legacy one (None when it lacks
    nothing). It is stamped now, so it is the current version."""
    changes = {f: getattr(legacy, f) for f in _FILL if getattr(legacy, f) and not getattr(captured, f)}
    if not changes:
        return None
    return msgspec.structs.replace(captured, captured_at=schema.now_iso(), **changes)


def _links(batches: dict[str, list], report: MigrateReport) -> list[Link]:
    """Link records for what the legacy data related: a commit's ``related_chats`` and a chat's commits (reason
    ``legacy``), and the commits of sessions and orchestration runs (session links, no chat). A commit's
    ``related_chats`` and a chat's ``commits`` are rewritten to the migrated ids on both sides."""
    by_legacy: dict[str, str] = {}
    chats = {c.id: c for c in batches["chats"]}
    for chat in batches["chats"]:
        by_legacy.setdefault(chat.prompt_uuid or chat.id, chat.id)
        by_legacy.setdefault(chat.id, chat.id)
    links: dict[str, Link] = {}

    def add(commit: str, chat_id: str, session_id: str | None, stamp: str) -> None:
        other = chat_id or session_id or ""
        links.setdefault(f"{commit}:{other}", Link(id=f"{commit}:{other}", captured_at=stamp, commit=commit,
                                                   chat_id=chat_id, session_id=session_id or None, reason="legacy"))

    for commit in batches["commits"]:
        named = []
        for legacy_id in commit.related_chats:
            cid = by_legacy.get(legacy_id) or by_legacy.get(f"{commit.session_id}:{legacy_id}")
            if cid is None:
                report.unreadable.append(f"commit {commit.id[:12]}: related chat {legacy_id!r} not found")
                continue
            named.append(cid)
            add(commit.id, cid, chats[cid].session_id or None, commit.captured_at)
            if commit.id not in chats[cid].commits:
                chats[cid].commits.append(commit.id)
        commit.related_chats = named
    for chat in batches["chats"]:
        for cid in chat.commits:
            add(cid, chat.id, chat.session_id or None, chat.captured_at)
    for session in batches["sessions"]:
        for cid in session.commits:
            add(cid, "", session.id, session.captured_at)
    return list(links.values())


def describe(report: MigrateReport) -> list[str]:
    kinds = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in report.found.items() if n) or "nothing"
    lines = [f"read {kinds} from {report.source}"]
    stored = ", ".join(f"{n} {s}" for s, n in report.stored.items()) or "nothing new"
    lines.append(("would store " if report.dry_run else "stored ") + stored)
    if report.present:
        lines.append("already in the store (skipped): " + ", ".join(f"{n} {s}" for s, n in report.present.items()))
    if report.redactions:
        lines.append(f"redacted {report.redactions} secrets")
    if report.unreadable:
        lines.append(f"{len(report.unreadable)} entries could not be read:")
        lines.extend(f"  {u}" for u in report.unreadable[:20])
        if len(report.unreadable) > 20:
            lines.append(f"  ... and {len(report.unreadable) - 20} more")
    if not report.dry_run:
        lines.append(f"{report.source} was left in place; once `git ml stats` shows what you expect, remove it "
                     f"with `rm -rf {report.source}` (and `git rm -r --cached {report.source.name}` if it was "
                     "committed).")
    return lines
