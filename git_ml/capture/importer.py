"""Import of transcripts that already exist: Claude Code, Codex CLI and Aider files of this repository, where each
assistant keeps them or named on the command line. Idempotent: a chat or session identical to the stored version
(capture time aside) is not stored again; new ones are linked to the captured commits they produced.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import pygit2

from git_ml.capture.links import find_links, iso_to_unix, session_links
from git_ml.capture.sessions import CaptureReport, TextPolicy, digest, link_window, prepare_chat, prepare_session
from git_ml.errors import GitMlError
from git_ml.repo import workdir
from git_ml.schema import Chat, Link, Session
from git_ml.store.core import Store


def claude_project_slug(path: str | os.PathLike) -> str:
    """Claude Code's project folder name: the cwd with every non-alphanumeric character replaced by '-'."""
    return re.sub(r"[^A-Za-z0-9]", "-", os.fspath(path))


def inside(path: str | None, root: Path) -> bool:
    if not path:
        return False
    try:
        return Path(path).resolve().is_relative_to(root)
    except (OSError, ValueError):
        return False


def default_sources(repo: pygit2.Repository, kinds: Sequence[str]) -> list[tuple[str, Path]]:
    """Transcripts of this repository where each assistant keeps them."""
    root = workdir(repo)
    if root is None:
        return []
    home = Path(os.path.expanduser("~"))
    found: list[tuple[str, Path]] = []
    if "claude" in kinds:
        projects = home / ".claude" / "projects"
        slug = claude_project_slug(root)
        if projects.is_dir():
            for d in sorted(projects.iterdir()):
                # A session started in a subdirectory has the subdirectory's slug.
                if d.is_dir() and (d.name == slug or d.name.startswith(slug + "-")):
                    found += [("claude", p) for p in sorted(d.glob("*.jsonl"))]
    if "codex" in kinds:
        from git_ml.capture.transcripts.codex import codex_session_cwd

        sessions = home / ".codex" / "sessions"
        if sessions.is_dir():
            for p in sorted(sessions.rglob("rollout-*.jsonl")):
                if inside(codex_session_cwd(p), root):
                    found.append(("codex", p))
    if "aider" in kinds:
        p = root / ".aider.chat.history.md"
        if p.is_file():
            found.append(("aider", p))
    return found


def detect_kind(path: Path) -> str | None:
    if path.name.endswith(".md"):
        return "aider"
    if path.suffix != ".jsonl":
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    if b'"session_meta"' in head or b'"response_item"' in head or path.name.startswith("rollout-"):
        return "codex"
    return "claude"


def expand_paths(paths: Sequence[str], kind: str) -> list[tuple[str, Path]]:
    out = []
    for text in paths:
        p = Path(text).expanduser()
        if not p.exists():
            raise GitMlError(f"no such file or directory: {text}")
        files = sorted(p.rglob("*.jsonl")) + sorted(p.rglob(".aider.chat.history.md")) if p.is_dir() else [p]
        for f in files:
            k = kind if kind != "auto" else detect_kind(f)
            if k is None:
                raise GitMlError(f"cannot tell which assistant wrote {f}; name it with --from")
            out.append((k, f))
    return out


def parse_file(kind: str, path: Path, root: str | None):
    from git_ml.capture.transcripts import aider, claude, codex

    if kind == "claude":
        return claude.parse_claude(path, root)
    if kind == "codex":
        return codex.parse_codex(path, root)
    if kind == "aider":
        return aider.parse_aider(path, root)
    raise GitMlError(f"unknown assistant: {kind}")


def import_transcripts(repo: pygit2.Repository, sources: Sequence[tuple[str, Path]], *,
                       progress=None) -> CaptureReport:
    """Import transcripts idempotently: chats and sessions identical to stored ones are not stored again."""
    report = CaptureReport()
    store = Store(repo)
    root = workdir(repo)
    stored_chats = {c.id: digest(c) for c in store.iter_records("chats")}
    stored_sessions = {s.id: digest(s) for s in store.iter_records("sessions")}
    new_chats: list[Chat] = []
    new_sessions: list[Session] = []
    all_chats: list[Chat] = []
    all_sessions: list[Session] = []
    policy = TextPolicy.of(repo)
    for kind, path in sources:
        try:
            parsed = parse_file(kind, path, str(root) if root else None)
        except OSError as exc:
            report.errors.append(f"{path}: {exc.strerror or exc}")
            continue
        report.files += 1
        report.malformed += parsed.malformed
        report.skipped += parsed.skipped
        for chat in parsed.chats:
            prepare_chat(policy, chat)
            all_chats.append(chat)
            d = digest(chat)
            if stored_chats.get(chat.id) == d:
                report.unchanged += 1
                continue
            stored_chats[chat.id] = d
            new_chats.append(chat)
        for session in parsed.sessions:
            if kind == "claude":
                session.transcript_path = str(path)
            prepare_session(session)
            all_sessions.append(session)
            d = digest(session)
            if stored_sessions.get(session.id) != d:
                stored_sessions[session.id] = d
                new_sessions.append(session)
        if progress is not None:
            progress(1)
    links: list[Link] = []
    if new_chats or new_sessions:
        commits = list(store.iter_records("commits"))
        existing = store.ids("links")
        window = link_window(repo)
        spans = _closed_spans(new_sessions, all_chats)
        candidates = find_links(commits, new_chats, window) + session_links(commits, spans)
        links = [lk for lk in candidates if lk.id not in existing]
    batches = {"chats": new_chats, "sessions": new_sessions, "links": links}
    if any(batches.values()):
        store.append_many(batches, message="import transcripts")
    report.chats = len(new_chats)
    report.sessions = len(new_sessions)
    report.links = len(links)
    return report


def _closed_spans(sessions: Sequence[Session], chats: Sequence[Chat]) -> list[Session]:
    """Imported sessions are over: one without an end time ends at its last chat (for linking only)."""
    last: dict[str, str] = {}
    for c in chats:
        t = c.ended_at or c.timestamp
        if t and (c.session_id not in last or (iso_to_unix(t) or 0) > (iso_to_unix(last[c.session_id]) or 0)):
            last[c.session_id] = t
    out = []
    for s in sessions:
        end = s.ended_at or last.get(s.id) or s.started_at
        out.append(Session(id=s.id, started_at=s.started_at, ended_at=end))
    return out


def link_all(repo: pygit2.Repository) -> int:
    """Link every stored chat and session to the stored commits (after a backfill). Returns new links."""
    store = Store(repo)
    commits = list(store.iter_records("commits"))
    chats = list(store.iter_records("chats"))
    sessions = list(store.iter_records("sessions"))
    window = link_window(repo)
    existing = store.ids("links")
    spans = _closed_spans(sessions, chats)
    links = [lk for lk in find_links(commits, chats, window) + session_links(commits, spans)
             if lk.id not in existing]
    if links:
        store.append("links", links, message="link chats to commits")
    return len(links)
