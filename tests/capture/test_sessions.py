"""Assistant sessions: Claude Code hook events, incremental capture, imports, links to commits, privacy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from git_ml.store.core import DATA_REF, Store

SID = "5e55a0e1-0000-4000-8000-00000000abcd"


class Transcript:
    """Writes Claude Code transcript lines the way Claude Code does (one JSON object per line, appended)."""

    def __init__(self, path: Path, cwd: Path, session: str = SID):
        self.path, self.cwd, self.session = path, str(cwd), session
        self.n = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")

    def _line(self, kind: str, message: dict, ts: str, **extra) -> None:
        self.n += 1
        line = {"parentUuid": None, "isSidechain": False, "userType": "external", "cwd": self.cwd,
                "sessionId": self.session, "version": "2.0.0", "gitBranch": "main", "type": kind,
                "message": message, "uuid": f"u-{self.n}", "timestamp": ts, **extra}
        with open(self.path, "a") as fh:
            fh.write(json.dumps(line) + "\n")

    def prompt(self, text: str, ts: str) -> None:
        self._line("user", {"role": "user", "content": text}, ts)

    def reply(self, text: str, ts: str, *, edit: str | None = None, read: str | None = None,
              tokens: tuple[int, int] = (100, 20)) -> None:
        content = []
        if read:
            content.append({"type": "tool_use", "id": f"t-read-{self.n}", "name": "Read",
                            "input": {"file_path": f"{self.cwd}/{read}"}})
        if edit:
            content.append({"type": "tool_use", "id": f"t-edit-{self.n}", "name": "Edit",
                            "input": {"file_path": f"{self.cwd}/{edit}", "old_string": "a", "new_string": "b"}})
        content.append({"type": "text", "text": text})
        self._line("assistant", {"id": f"msg-{self.n}", "type": "message", "role": "assistant",
                                 "model": "claude-test", "content": content,
                                 "usage": {"input_tokens": tokens[0], "output_tokens": tokens[1]}}, ts)


def hook(repo, event: str, transcript: Transcript | None = None, cwd: Path | None = None, **extra):
    payload = {"session_id": SID, "transcript_path": str(transcript.path) if transcript else "",
               "cwd": str(cwd or repo.path), "hook_event_name": event, **extra}
    out = repo.run("git-ml-capture", "session", input=json.dumps(payload), cwd=cwd or repo.path)
    assert out.returncode == 0 and out.stdout == "" and out.stderr == "", out
    return out


def stored(repo, stream):
    return {r.id: r for r in Store(repo.open()).iter_records(stream)}


@pytest.fixture
def t(repo, tmp_path):
    repo.commit("initial", {"src/app.py": "a\n", "README.md": "hi\n"}, date="2026-01-15T09:00:00+0000")
    return Transcript(tmp_path / "claude" / f"{SID}.jsonl", repo.path)


def test_hook_events_capture_incrementally(repo, t):
    hook(repo, "SessionStart", t, source="startup")
    assert stored(repo, "sessions")[SID].started_at
    t.prompt("Fix the bug in src/app.py", "2026-01-15T10:50:00.000Z")
    t.reply("Fixed it.", "2026-01-15T10:51:00.000Z", edit="src/app.py", read="README.md")
    hook(repo, "Stop", t)
    chats = stored(repo, "chats")
    assert list(chats) == [f"{SID}:u-1"]
    chat = chats[f"{SID}:u-1"]
    assert chat.query == "Fix the bug in src/app.py" and chat.response == "Fixed it."
    assert chat.files_modified == ["src/app.py"] and chat.files_referenced == ["README.md"]
    assert chat.tools_used == ["Read", "Edit"] and chat.assistant == "claude-code"
    assert (chat.query_tokens, chat.response_tokens) == (100, 20)
    # The same Stop again stores nothing new.
    tip = repo.git("rev-parse", DATA_REF)
    hook(repo, "Stop", t)
    assert repo.git("rev-parse", DATA_REF) == tip
    # A new turn: only it is read; the session's totals cover both.
    t.prompt("Now add a test", "2026-01-15T10:55:00.000Z")
    t.reply("Added.", "2026-01-15T10:56:00.000Z", edit="tests/test_app.py", tokens=(50, 10))
    hook(repo, "Stop", t)
    assert set(stored(repo, "chats")) == {f"{SID}:u-1", f"{SID}:u-3"}
    hook(repo, "SessionEnd", t, reason="exit")
    session = stored(repo, "sessions")[SID]
    assert session.ended_at and session.end_reason == "exit"
    assert session.chat_count == 2 and session.query_tokens == 150 and session.response_tokens == 30


def test_commit_after_chat_is_linked_by_the_commit_hook(repo, t):
    repo.run("git-ml-install-hooks")
    hook(repo, "SessionStart", t)
    t.prompt("Fix the bug", "2026-01-15T10:50:00.000Z")
    t.reply("Done.", "2026-01-15T10:51:00.000Z", edit="src/app.py")
    hook(repo, "Stop", t)
    sha = repo.commit("Fix the bug", {"src/app.py": "b\n"})  # committed 11:00Z by the fixed date
    commit = stored(repo, "commits")[sha]
    assert commit.session_id == SID and commit.related_chats == [f"{SID}:u-1"]
    assert f"{sha}:{SID}:u-1" in stored(repo, "links")


def test_commit_before_stop_is_linked_by_the_stop_hook(repo, t):
    hook(repo, "SessionStart", t)
    t.prompt("Fix the bug", "2026-01-15T10:50:00.000Z")
    sha = repo.commit("Fix the bug", {"src/app.py": "b\n"})
    t.reply("Done, committed.", "2026-01-15T11:01:00.000Z", edit="src/app.py")
    hook(repo, "Stop", t)
    links = stored(repo, "links")
    assert links[f"{sha}:{SID}:u-1"].reason == "files"


def test_hook_from_a_subdirectory_and_outside_a_repository(repo, t, tmp_path):
    sub = repo.path / "src"
    t.prompt("hello", "2026-01-15T10:50:00.000Z")
    t.reply("hi", "2026-01-15T10:50:30.000Z")
    hook(repo, "Stop", t, cwd=sub)
    assert len(stored(repo, "chats")) == 1
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    out = repo.run("git-ml-capture", "session", input=json.dumps({"session_id": "x", "cwd": str(outside),
                                                                  "hook_event_name": "Stop"}), cwd=outside)
    assert out.returncode == 0
    bad = repo.run("git-ml-capture", "session", input="{not json", cwd=repo.path)
    assert bad.returncode == 0 and bad.stderr == ""
    assert "session hook" in (repo.path / ".git" / "ml" / "capture.log").read_text()


def test_rewritten_transcript_is_reread(repo, t):
    t.prompt("first", "2026-01-15T10:50:00.000Z")
    t.reply("one", "2026-01-15T10:50:30.000Z")
    hook(repo, "Stop", t)
    t.path.write_text("")  # /clear starts a new file at the same path
    t.n = 10
    t.prompt("second", "2026-01-15T10:52:00.000Z")
    t.reply("two", "2026-01-15T10:52:30.000Z")
    hook(repo, "Stop", t)
    assert {c.query for c in stored(repo, "chats").values()} == {"first", "second"}


def test_secrets_are_redacted_and_responses_can_be_left_out(repo, t):
    t.prompt("use key AKIAZ3MMQ7RTP4XW2KQF please", "2026-01-15T10:50:00.000Z")
    t.reply("ok, password = 'hunter2hunter2'", "2026-01-15T10:50:30.000Z")
    hook(repo, "Stop", t)
    chat = next(iter(stored(repo, "chats").values()))
    assert "AKIAZ3MMQ7RTP4XW2KQF" not in chat.query and "[REDACTED:aws-access-key]" in chat.query
    assert "hunter2hunter2" not in chat.response
    assert chat.redactions.get("aws-access-key") == 1
    repo.git("config", "ml.captureResponses", "false")
    t.prompt("another", "2026-01-15T10:51:00.000Z")
    t.reply("secret text", "2026-01-15T10:51:30.000Z")
    hook(repo, "Stop", t)
    latest = stored(repo, "chats")[f"{SID}:u-3"]
    assert latest.response == "" and latest.query == ""


def test_import_is_idempotent_and_links_backfilled_history(repo, t):
    t.prompt("Fix the bug", "2026-01-15T10:50:00.000Z")
    t.reply("Done.", "2026-01-15T10:51:00.000Z", edit="src/app.py")
    sha = repo.commit("Fix the bug", {"src/app.py": "b\n"})
    assert repo.run("git-ml-capture", "--backfill").returncode == 0
    out = repo.run("git-ml-capture", "import", "--from", "claude", "--json", str(t.path))
    assert out.returncode == 0, out.stderr
    counts = json.loads(out.stdout)
    assert counts["chats"] == 1 and counts["sessions"] == 1 and counts["links"] >= 1
    assert stored(repo, "links")[f"{sha}:{SID}:u-1"].reason == "files"
    tip = repo.git("rev-parse", DATA_REF)
    again = json.loads(repo.run("git-ml-capture", "import", "--json", str(t.path)).stdout)
    assert again["chats"] == 0 and again["sessions"] == 0 and again["unchanged_files"] == 1
    assert repo.git("rev-parse", DATA_REF) == tip
    forced = json.loads(repo.run("git-ml-capture", "import", "--rescan", "--json", str(t.path)).stdout)
    assert forced["chats"] == 0 and forced["unchanged"] == 1  # read again: the same chat, not stored twice
    assert repo.git("rev-parse", DATA_REF) == tip


def test_import_default_location_and_malformed_lines(repo, tmp_path, sealed_env):
    from git_ml.capture.importer import claude_project_slug

    folder = sealed_env / ".claude" / "projects" / claude_project_slug(repo.path.resolve())
    t = Transcript(folder / f"{SID}.jsonl", repo.path.resolve())
    t.prompt("hello", "2026-01-15T10:50:00.000Z")
    with open(t.path, "a") as fh:
        fh.write("{this is not json\n")
    t.reply("hi", "2026-01-15T10:50:30.000Z")
    out = repo.run("git-ml-capture", "import", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["files"] == 1 and data["chats"] == 1 and data["malformed_lines"] == 1


def test_import_shared_samples(repo, shared):
    samples = shared / "samples" / "transcripts"
    out = repo.run("git-ml-capture", "import", "--json", str(samples))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["files"] == 6 and data["chats"] >= 5 and data["sessions"] >= 4  # the agent file is no session
    assert not any("agent-" in (s.transcript_path or "") for s in stored(repo, "sessions").values())
    chats = stored(repo, "chats")
    assert {c.assistant for c in chats.values()} >= {"claude-code", "codex"}
    again = json.loads(repo.run("git-ml-capture", "import", "--json", str(samples)).stdout)
    assert again["chats"] == 0


def test_import_bad_input(repo, tmp_path):
    out = repo.run("git-ml-capture", "import", str(tmp_path / "missing.jsonl"))
    assert out.returncode == 1 and "no such file" in out.stderr and "Traceback" not in out.stderr
    out = repo.run("git-ml-capture", "import", "--from", "chatgpt", str(tmp_path))
    assert out.returncode == 1 and "--from" in out.stderr
    out = repo.run("git-ml-capture", "import")
    assert out.returncode == 1 and "no transcripts" in out.stderr


def test_feedback_cli(repo, t):
    t.prompt("Fix the bug", "2026-01-15T10:50:00.000Z")
    t.reply("Done.", "2026-01-15T10:51:00.000Z", edit="src/app.py")
    t.prompt("Explain it", "2026-01-15T10:52:00.000Z")
    t.reply("Because.", "2026-01-15T10:53:00.000Z")
    hook(repo, "Stop", t)
    listed = json.loads(repo.run("git-ml-feedback", "--list", "--json").stdout)
    assert [row["id"] for row in listed] == [f"{SID}:u-3", f"{SID}:u-1"]
    out = repo.run("git-ml-feedback", "u-1", "--rating", "bad", "--comment", "wrong fix")
    assert out.returncode == 0, out.stderr
    out = repo.run("git-ml-feedback", f"{SID}:u-1", "--rating", "good")
    assert out.returncode == 0
    shown = json.loads(repo.run("git-ml-feedback", "--show", "u-1", "--json").stdout)
    assert shown["feedback"]["rating"] == "good" and shown["chat"]["query"] == "Fix the bug"
    listed = json.loads(repo.run("git-ml-feedback", "--list", "--json").stdout)
    assert [row["id"] for row in listed] == [f"{SID}:u-3"]
    amb = repo.run("git-ml-feedback", SID[:4], "--rating", "good")
    assert amb.returncode == 1 and "ambiguous" in amb.stderr
    bad = repo.run("git-ml-feedback", "u-3", "--rating", "great")
    assert bad.returncode == 1 and "rating must be one of" in bad.stderr
    assert len(stored(repo, "feedback")) == 2


def test_claude_settings_hook_command_runs(repo, t):
    out = repo.run("git-ml-install-hooks", "--claude", "--no-git")
    assert out.returncode == 0, out.stderr
    settings = json.loads((repo.path / ".claude" / "settings.local.json").read_text())
    command = settings["hooks"]["Stop"][0]["hooks"][0]["command"]
    t.prompt("hello", "2026-01-15T10:50:00.000Z")
    t.reply("hi", "2026-01-15T10:50:30.000Z")
    payload = json.dumps({"session_id": SID, "transcript_path": str(t.path), "cwd": str(repo.path / "src"),
                          "hook_event_name": "Stop"})
    res = repo.run("sh", "-c", command, input=payload, cwd=repo.path / "src")
    assert res.returncode == 0
    assert len(stored(repo, "chats")) == 1


def test_detached_session_hook_returns_at_once_and_captures(repo, t):
    import time

    t.prompt("hello", "2026-01-15T10:50:00.000Z")
    t.reply("hi", "2026-01-15T10:50:30.000Z")
    payload = {"session_id": SID, "transcript_path": str(t.path), "cwd": str(repo.path), "hook_event_name": "Stop"}
    out = repo.run("git-ml-capture", "session", input=json.dumps(payload), env={"GIT_ML_HOOK_SYNC": "0"})
    assert out.returncode == 0 and out.stdout == "" and out.stderr == ""
    deadline = time.time() + 20
    while time.time() < deadline and not stored(repo, "chats"):
        time.sleep(0.2)
    assert len(stored(repo, "chats")) == 1


def test_session_links_stop_at_the_session_end():
    from git_ml.capture.links import find_links, session_links
    from git_ml.schema import Chat, Commit, Session

    def commit(i, at):
        return Commit(id=f"{i:040x}", committed_at=at, files=[("M", "a.py", 1, 0, None)])

    during, after = commit(1, "2026-01-15T10:30:00+00:00"), commit(2, "2026-01-15T11:10:00+00:00")
    closed = Session(id="s", started_at="2026-01-15T10:00:00Z", ended_at="2026-01-15T11:00:00Z")
    still_open = Session(id="s", started_at="2026-01-15T10:00:00Z")
    assert [lk.commit for lk in session_links([during, after], [closed])] == [during.id]
    assert [lk.commit for lk in session_links([during, after], [still_open])] == [during.id, after.id]
    chat = Chat(id="s:u1", session_id="s", timestamp="2026-01-15T10:50:00Z", ended_at="2026-01-15T10:55:00Z",
                files_modified=["a.py"])
    # Within the chat's window: linked while the session is open, not once it ended before the commit.
    assert [lk.commit for lk in find_links([after], [chat])] == [after.id]
    end = 1768474800.0  # 2026-01-15T11:00:00Z
    assert find_links([after], [chat], session_ends={"s": end}) == []


def test_ended_session_claims_no_later_commit(repo, t):
    import datetime as dt

    repo.run("git-ml-install-hooks")
    now = dt.datetime.now(dt.timezone.utc)

    def iso(minutes):
        return (now + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    hook(repo, "SessionStart", t)
    t.prompt("Fix the bug", iso(-5))
    t.reply("Done.", iso(-4), edit="src/app.py")
    hook(repo, "Stop", t)
    hook(repo, "SessionEnd", t, reason="exit")
    later = (now + dt.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    sha = repo.commit("Fix the bug", {"src/app.py": "b\n"}, date=later)
    commit = stored(repo, "commits")[sha]
    assert commit.session_id is None and commit.related_chats == []
    assert not [lk for lk in stored(repo, "links").values() if lk.commit == sha]


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_session_event_without_a_readable_transcript_stores_nothing_and_logs(repo, t, tmp_path, kind):
    hook(repo, "SessionStart", t)
    t.prompt("Fix the bug", "2026-01-15T10:50:00.000Z")
    t.reply("Done.", "2026-01-15T10:51:00.000Z", edit="src/app.py")
    hook(repo, "Stop", t)
    before = stored(repo, "sessions")[SID]
    assert before.chat_count == 1
    if kind == "directory":
        path = tmp_path / "a-folder"
        path.mkdir()
    else:
        path = tmp_path / "gone.jsonl"
    payload = {"session_id": SID, "cwd": str(repo.path), "hook_event_name": "Stop", "transcript_path": str(path)}
    out = repo.run("git-ml-capture", "session", input=json.dumps(payload))
    assert out.returncode == 0 and out.stderr == ""
    assert stored(repo, "sessions")[SID] == before  # no version without chats over the good one
    log = (repo.path / ".git" / "ml" / "capture.log").read_text().splitlines()
    assert len([line for line in log if "transcript" in line]) == 1, log
