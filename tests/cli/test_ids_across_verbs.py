"""An id one verb prints is accepted by the others (feedback takes the short form show/log/search print)."""

from __future__ import annotations

import json

from git_ml.schema import Chat
from git_ml.store.core import Store

SID = "11111111-2222-4333-8444-555555555555"
OTHER = "11112222-0000-4000-8000-000000000000"


def _chats(repo) -> None:
    repo.commit("first")
    Store(repo.open()).append("chats", [
        Chat(id=f"{SID}:fb9e2eb5-0000-4000-8000-000000000001", session_id=SID, assistant="claude-code",
             timestamp="2026-01-15T10:50:00.000Z", prompt_uuid="fb9e2eb5-0000-4000-8000-000000000001",
             query="Fix the bug", response="Done."),
        Chat(id=f"{SID}:aa000000-0000-4000-8000-000000000002", session_id=SID, assistant="claude-code",
             timestamp="2026-01-15T10:52:00.000Z", prompt_uuid="aa000000-0000-4000-8000-000000000002",
             query="Explain it", response="Because."),
        Chat(id=f"{OTHER}:fb9e2eb5-1111-4000-8000-000000000003", session_id=OTHER, assistant="claude-code",
             timestamp="2026-01-15T11:00:00.000Z", prompt_uuid="fb9e2eb5-1111-4000-8000-000000000003",
             query="Another", response="Yes."),
    ])


def test_feedback_takes_the_short_form_show_prints(repo):
    _chats(repo)
    full = f"{SID}:fb9e2eb5-0000-4000-8000-000000000001"
    shown = json.loads(repo.run("git-ml-show", "11111111:fb9e2eb5", "--json").stdout)
    assert shown["id"] == full
    out = repo.run("git-ml-feedback", "11111111:fb9e2eb5", "-r", "good")
    assert out.returncode == 0, out.stderr
    assert full in out.stdout
    # the prompt prefix alone matches two sessions' chats: ambiguous, one line
    amb = repo.run("git-ml-feedback", "fb9e2eb5", "-r", "good")
    assert amb.returncode == 1 and "ambiguous" in amb.stderr and len(amb.stderr.strip().splitlines()) == 1
    # and the session prefix must match too
    none = repo.run("git-ml-feedback", "99999999:fb9e2eb5", "-r", "good")
    assert none.returncode == 1 and "no chat with id" in none.stderr


def test_feedback_accepts_the_seed_spelling_chat_id(repo):
    _chats(repo)
    out = repo.run("git-ml-feedback", "--chat-id", "11111111:aa000000", "--rating", "bad")
    assert out.returncode == 0, out.stderr
    shown = json.loads(repo.run("git-ml-feedback", "--show", "11111111:aa000000", "--json").stdout)
    assert shown["feedback"]["rating"] == "bad"
    both = repo.run("git-ml-feedback", "11111111:fb9e2eb5", "--chat-id", "11111111:aa000000", "-r", "good")
    assert both.returncode == 2 and "give the chat once" in both.stderr
