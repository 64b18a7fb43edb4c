"""Live capture from the hooks of assistants other than Claude Code (Gemini CLI, Cursor, Copilot CLI):
``git-ml-capture session --from NAME`` with the hook's JSON on stdin.

The parser module of NAME turns the event into ``(session id, transcript, project directory, ended)`` with its
``from_hook(event, home, env)``; the transcript is parsed whole (these files are small, and a Cursor database is
read for that conversation only) and what changed since the session's state file (``.git/ml/sessions/``) last saw
it is stored, exactly as for Claude Code (``sessions.store_session``): new or changed chats, the session, links to
recent commits; the commit hook links later commits through the same state. Never fails: errors go to
``.git/ml/capture.log`` and the exit status is 0.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from git_ml.capture.sessions import CaptureReport, load_state, save_state, store_session
from git_ml.errors import GitMlError
from git_ml.repo import current_branch, open_repository, workdir
from git_ml.schema import Session, now_iso
from git_ml.store import spool
from git_ml.store.core import Store


def hook_main(name: str, raw: str) -> int:
    repo = None
    try:
        try:
            event = json.loads(raw) if raw.strip() else {}
        except ValueError:
            event = None
        from git_ml.capture.transcripts import registry

        module = registry.require(name)
        if not isinstance(event, dict):
            event = {}
        sid, transcript, cwd, ended = module.from_hook(event, Path(os.path.expanduser("~")), os.environ)
        try:
            repo = open_repository(cwd or os.getcwd())
        except GitMlError:
            return 0  # the assistant runs outside a repository
        if not sid:
            raise GitMlError(f"{name} hook event without a session id: {raw[:80]!r}")
        from git_ml.repo import collection_enabled

        if collection_enabled(repo):
            capture(repo, module, sid, transcript, cwd, ended)
    except BaseException as exc:  # never break the assistant
        spool.log(repo, f"{name} hook: {type(exc).__name__}: {exc}")
    return 0


def capture(repo, module, sid: str, transcript: Path | None, cwd: str | None, ended: bool) -> CaptureReport:
    state = load_state(repo, sid)
    state.assistant = module.ASSISTANT
    if transcript is not None:
        state.transcript_path = str(transcript)
    if ended:
        state.ended_at = now_iso()
    report = CaptureReport()
    root = workdir(repo)
    chats = []
    session = None
    path = Path(state.transcript_path) if state.transcript_path else None
    if path is not None and path.exists():
        parsed = module.parse(path, str(root) if root else None, only={sid})
        report.malformed, report.skipped = parsed.malformed, parsed.skipped
        chats = [c for c in parsed.chats if c.session_id == sid]
        session = next((s for s in parsed.sessions if s.id == sid), None)
    if session is None:
        session = Session(id=sid, assistant=module.ASSISTANT, started_at=now_iso())
    session.ended_at = state.ended_at or session.ended_at
    session.cwd = session.cwd or cwd
    session.branch = session.branch or current_branch(repo)
    store = Store(repo, warn=lambda m: spool.log(repo, m))
    report = store_session(repo, store, state, chats, session, report)
    save_state(repo, state)
    return report
