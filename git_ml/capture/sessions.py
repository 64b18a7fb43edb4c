"""Assistant sessions into the store from Claude Code hook events (incremental), the chat side of the links between
chats and commits, and the commit side the commit hook uses (imports of existing files: ``importer.py``).

Per-session progress lives in ``.git/ml/sessions/<id>.json`` (derived, disposable): where the transcript was read
up to, a digest of every chat already stored (so an unchanged chat is not stored again), and the recent chats'
times and modified files, which the commit hook uses to link a new commit without reading the store.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pygit2

from git_ml.capture.links import DEFAULT_WINDOW, find_links, session_links
from git_ml.capture.redaction.records import redact_record
from git_ml.dates import iso_to_unix
from git_ml.errors import GitMlError
from git_ml.fsutil import atomic_write
from git_ml.repo import config_bool, config_int, current_branch, ml_dir, open_repository, workdir
from git_ml.schema import Chat, Commit, Link, Session, now_iso
from git_ml.store import spool
from git_ml.store.core import Store

RECENT_CHATS = 50  # chats per session kept in its state file for the commit hook's linking
MAX_TEXT = 64 * 1024  # characters of a query or response kept (ml.maxTextChars)
_STATE_ENCODER = msgspec.json.Encoder()
_DIGEST_ENCODER = msgspec.json.Encoder(order="deterministic")


class ChatRef(msgspec.Struct, omit_defaults=True):
    id: str
    timestamp: str = ""
    ended_at: str | None = None
    files_modified: list[str] = []


class SessionState(msgspec.Struct, omit_defaults=True):
    session_id: str
    assistant: str = "claude-code"
    transcript_path: str | None = None
    resume_offset: int = 0
    head_hash: str = ""
    base: Session | None = None
    started_at: str | None = None
    ended_at: str | None = None
    end_reason: str | None = None
    stored: dict[str, str] = {}  # chat id -> digest of the version stored
    session_digest: str = ""
    recent: list[ChatRef] = []
    links: list[str] = []  # link ids already stored (bounded)


_STATE_DECODER = msgspec.json.Decoder(SessionState)


def digest(record: msgspec.Struct) -> str:
    """Content identity of a record without its capture time: equal digests mean nothing new to store."""
    saved = record.captured_at
    record.captured_at = ""
    try:
        return hashlib.blake2b(_DIGEST_ENCODER.encode(record), digest_size=16).hexdigest()
    finally:
        record.captured_at = saved


# ----- privacy ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TextPolicy:
    """What of a chat's text is kept: read from git config once per run, not per chat."""

    limit: int = MAX_TEXT
    keep_text: bool = True

    @classmethod
    def of(cls, repo: pygit2.Repository) -> "TextPolicy":
        return cls(config_int(repo, "ml.maxTextChars", MAX_TEXT), config_bool(repo, "ml.captureResponses", True))


def prepare_chat(policy: TextPolicy, chat: Chat) -> Chat:
    """Redact every text field and name (paths, tools, branch), bound the texts' size, and honour
    ``ml.captureResponses false`` (metadata only)."""
    if not policy.keep_text:
        chat.query = ""
        chat.response = ""
    chat.redactions = redact_record(chat)
    for name in ("query", "response"):
        text = getattr(chat, name)
        if policy.limit > 0 and len(text) > policy.limit:
            setattr(chat, name, text[:policy.limit] + f"\n[truncated {len(text) - policy.limit} characters]")
    return chat


def prepare_session(session: Session) -> Session:
    """Redact the names a session record carries (working directory, branch, transcript path)."""
    redact_record(session)
    return session


# ----- state -----------------------------------------------------------------------------------------------------

def _state_path(repo: pygit2.Repository, session_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", session_id)[:100] or "session"
    return ml_dir(repo) / "sessions" / f"{safe}.json"


def load_state(repo: pygit2.Repository, session_id: str) -> SessionState:
    path = _state_path(repo, session_id)
    try:
        state = _STATE_DECODER.decode(path.read_bytes())
        if state.session_id == session_id:
            return state
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        pass
    return SessionState(session_id=session_id)


def save_state(repo: pygit2.Repository, state: SessionState) -> None:
    path = _state_path(repo, state.session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, _STATE_ENCODER.encode(state))


def active_states(repo: pygit2.Repository, window: float) -> list[SessionState]:
    """Sessions touched within ``window`` seconds (by their state file), newest first."""
    directory = ml_dir(repo) / "sessions"
    if not directory.is_dir():
        return []
    now = time.time()
    found = []
    for path in directory.glob("*.json"):
        try:
            mtime = path.stat().st_mtime
            if now - mtime > window:
                continue
            found.append((mtime, _STATE_DECODER.decode(path.read_bytes())))
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            continue
    found.sort(key=lambda x: -x[0])
    return [s for _, s in found]


def link_window(repo: pygit2.Repository) -> float:
    return float(config_int(repo, "ml.linkWindowMinutes", DEFAULT_WINDOW // 60) * 60)


# ----- linking ---------------------------------------------------------------------------------------------------

def annotate_commits(repo: pygit2.Repository, commits: Sequence[Commit]) -> list[Link]:
    """Commit side of linking (run by the commit hook): give each new commit the open session and the chats whose
    modified files it changed, from the sessions' state files; returns the link records to store with it."""
    window = link_window(repo)
    states = active_states(repo, window)
    if not states or not commits:
        return []
    chats = [Chat(id=ref.id, session_id=s.session_id, timestamp=ref.timestamp, ended_at=ref.ended_at,
                  files_modified=ref.files_modified) for s in states for ref in s.recent]
    ends = {s.session_id: end for s in states if (end := iso_to_unix(s.ended_at)) is not None}
    links = find_links(commits, chats, window, ends)
    open_sessions = [Session(id=s.session_id, started_at=s.started_at or (s.recent[0].timestamp if s.recent else None),
                             ended_at=s.ended_at) for s in states]
    links += session_links(commits, open_sessions)
    by_commit: dict[str, list[Link]] = {}
    for link in links:
        by_commit.setdefault(link.commit, []).append(link)
    for commit in commits:
        mine = sorted(by_commit.get(commit.id, ()), key=lambda lk: (abs(lk.seconds), -lk.score))
        chat_links = [lk for lk in mine if lk.chat_id]
        commit.related_chats = [lk.chat_id for lk in chat_links]
        if mine:
            commit.session_id = (chat_links[0] if chat_links else mine[0]).session_id
    return links


def recent_commits(repo: pygit2.Repository, since: float, limit: int = 200) -> list[Commit]:
    """Commits on HEAD committed after ``since`` (unix time), as records (chat side of linking)."""
    from git_ml.capture.commits import record_from_commit

    if repo.head_is_unborn:
        return []
    out = []
    branch = current_branch(repo)
    walker = repo.walk(repo.head.target, pygit2.enums.SortMode.TIME)
    for commit in walker:
        if commit.commit_time < since or len(out) >= limit:
            break
        rec, _ = record_from_commit(repo, commit, branch=branch, source="link", diff_limit=None)
        out.append(rec)
    return out


# ----- the Claude Code hook --------------------------------------------------------------------------------------

@dataclass
class CaptureReport:
    sessions: int = 0
    chats: int = 0  # chats stored (new or changed)
    unchanged: int = 0
    links: int = 0
    skipped: int = 0
    malformed: int = 0
    files: int = 0
    unchanged_files: int = 0  # import: units not read again (same size and mtime)
    errors: list[str] = field(default_factory=list)


def hook_main(stdin=None) -> int:
    """Entry of `git-ml-capture session`: one hook event on stdin; never fails, never blocks the assistant."""
    import json
    import sys

    repo = None
    try:
        raw = (stdin or sys.stdin).read()
        try:
            event = json.loads(raw) if raw.strip() else {}
        except ValueError:
            event = None
        cwd = (event.get("cwd") if isinstance(event, dict) else None) or os.getcwd()
        try:
            repo = open_repository(cwd)
        except GitMlError:
            return 0  # the assistant runs outside a repository: nothing of ours to record
        if not isinstance(event, dict):
            raise GitMlError(f"hook input is not a JSON object: {raw[:80]!r}")
        from git_ml.repo import collection_enabled

        if not collection_enabled(repo):
            return 0
        handle_event(repo, event)
        from git_ml.dataset.milestones import after_capture

        after_capture(repo, Store(repo), None)
    except BaseException as exc:  # never break the assistant's session
        spool.log(repo, f"session hook: {type(exc).__name__}: {exc}")
    return 0


def handle_event(repo: pygit2.Repository, event: dict) -> CaptureReport:
    session_id = str(event.get("session_id") or "")
    if not session_id:
        raise GitMlError("hook event without session_id")
    name = str(event.get("hook_event_name") or "")
    transcript = event.get("transcript_path")
    state = load_state(repo, session_id)
    if transcript:
        state.transcript_path = str(transcript)
    if name == "SessionStart" and not state.started_at:
        state.started_at = now_iso()
    if name == "SessionEnd":
        state.ended_at = now_iso()
        state.end_reason = str(event.get("reason") or "") or None
    problem = _transcript_problem(state.transcript_path)
    if problem:
        # A session without its transcript would store a version with no chats, model or tokens over a good one:
        # keep the times in the state (linking uses them) and store nothing. A transcript that does not exist yet
        # at SessionStart is normal (Claude Code writes it with the first prompt).
        save_state(repo, state)
        if not (name == "SessionStart" and problem == "does not exist"):
            spool.log(repo, f"session {session_id[:8]} {name or 'event'}: transcript {problem}: "
                            f"{state.transcript_path or '(none given)'}; nothing stored")
        return CaptureReport()
    store = Store(repo, warn=lambda m: spool.log(repo, m))
    report = capture_claude_transcript(repo, store, state, cwd=event.get("cwd"))
    save_state(repo, state)
    return report


def _transcript_problem(path: str | None) -> str | None:
    """Why the session's transcript cannot be read, or None when it is a readable file."""
    if not path:
        return "path missing from the event"
    if os.path.isdir(path):
        return "is a directory"
    if not os.path.exists(path):
        return "does not exist"
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        return "is not a readable file"
    return None


def capture_claude_transcript(repo: pygit2.Repository, store: Store, state: SessionState,
                              cwd: str | None = None) -> CaptureReport:
    """Read the transcript from where the last capture stopped, store new or changed chats, the session, links."""
    from git_ml.capture.transcripts.claude import needs_restart, parse_claude

    report = CaptureReport()
    root = workdir(repo)
    path = state.transcript_path
    chats: list[Chat] = []
    session: Session | None = None
    if path and os.path.isfile(path):
        if needs_restart(path, state.resume_offset, state.head_hash):
            state.resume_offset, state.base = 0, None
        parsed = parse_claude(path, str(root) if root else None, state.resume_offset, base=state.base)
        report.malformed += parsed.malformed
        report.skipped += parsed.skipped
        state.resume_offset = parsed.resume_offset
        state.head_hash = parsed.head_hash
        state.base = parsed.resume_base
        chats = [c for c in parsed.chats if c.session_id == state.session_id or not c.session_id]
        session = parsed.session
    if session is None:
        session = Session(id=state.session_id, assistant=state.assistant)
    session.id = state.session_id
    session.assistant = session.assistant or state.assistant
    session.transcript_path = state.transcript_path
    session.started_at = _earliest(state.started_at, session.started_at)
    session.ended_at = state.ended_at or session.ended_at
    session.end_reason = state.end_reason or session.end_reason
    session.cwd = session.cwd or cwd
    session.branch = session.branch or current_branch(repo)
    return store_session(repo, store, state, chats, session, report)


def store_session(repo: pygit2.Repository, store: Store, state: SessionState, chats: list[Chat], session: Session,
                  report: CaptureReport) -> CaptureReport:
    """Store the chats of a session that changed since ``state`` last saw them, the session if it changed, and
    the links of the new chats to recent commits (any assistant's hook capture ends here)."""
    prepare_session(session)
    new_chats = []
    policy = TextPolicy.of(repo)
    for chat in chats:
        chat.session_id = session.id
        prepare_chat(policy, chat)
        d = digest(chat)
        if state.stored.get(chat.id) == d:
            report.unchanged += 1
            continue
        state.stored[chat.id] = d
        new_chats.append(chat)
    _remember_recent(state, chats)
    sessions = []
    d = digest(session)
    if d != state.session_digest:
        state.session_digest = d
        sessions.append(session)

    links: list[Link] = []
    if new_chats:
        earliest = min((iso_to_unix(c.timestamp) or time.time()) for c in new_chats)
        commits = recent_commits(repo, earliest)
        links = [lk for lk in find_links(commits, new_chats, link_window(repo)) if lk.id not in state.links]
        state.links = (state.links + [lk.id for lk in links])[-500:]
    batches = {"chats": new_chats, "sessions": sessions, "links": links}
    if any(batches.values()):
        try:
            spool.drain(repo, store)
            store.append_many(batches, message=f"capture session {state.session_id[:8]}")
        except Exception:
            spool.write_spool(repo, batches)
            raise
    report.chats = len(new_chats)
    report.sessions = len(sessions)
    report.links = len(links)
    return report


def _earliest(a: str | None, b: str | None) -> str | None:
    vals = [v for v in (a, b) if v]
    return min(vals, key=lambda v: iso_to_unix(v) or 0) if vals else None


def _remember_recent(state: SessionState, chats: Iterable[Chat]) -> None:
    by_id = {r.id: r for r in state.recent}
    for c in chats:
        by_id[c.id] = ChatRef(id=c.id, timestamp=c.timestamp, ended_at=c.ended_at,
                              files_modified=list(c.files_modified))
    state.recent = sorted(by_id.values(), key=lambda r: r.timestamp)[-RECENT_CHATS:]
