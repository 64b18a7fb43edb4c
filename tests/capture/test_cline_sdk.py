"""Cline's SDK session folders (``~/.cline/data/sessions/<id>/``), read under ``--from cline``, on the hand-written
fixture in tests/capture/fixtures/transcripts/cline_sdk/ (see its README for the source it was shaped from): the
chats' queries (exactly what was typed), files, tools, tokens and model, the sub-agent merged into the chat that
started it, detection by content, malformed files counted, and `git ml capture import` with and without PATH."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from git_ml.capture.transcripts import cline, cline_sdk, registry
from git_ml.store.core import DATA_REF, Store

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "transcripts"
SID = "1780308000000_k3x9q"
SESSIONS = FIXTURES / "cline_sdk/home/.cline/data/sessions"
SESSION = SESSIONS / SID
DEMO = "/home/dev/projects/demo"


def tokens(chat):
    return chat.query_tokens, chat.response_tokens, chat.cache_read_tokens, chat.cache_creation_tokens


def copy_session(dst: Path, project: str = DEMO, sid: str = SID) -> Path:
    """The fixture session copied to ``dst/<sid>``, recording ``project`` as its cwd and workspace root."""
    out = dst / sid
    out.mkdir(parents=True)
    for p in SESSION.iterdir():
        name = p.name.replace(SID, sid)
        (out / name).write_text(p.read_text().replace(DEMO, project).replace(SID, sid))
    return out


def test_session_prompts_tools_tokens_and_subagent():
    r = cline.parse(SESSION)
    assert (r.malformed, r.skipped) == (0, 2)  # the compaction summary and the act-mode continuation notice
    assert [c.query for c in r.chats] == ["Add a --verbose flag to src/cli.py, like the sketch", "now run the tests",
                                          "/commit Write a commit message for the staged changes"]
    first, second, third = r.chats
    assert (first.id, first.prompt_uuid) == (f"{SID}:msg_p1", "msg_p1")
    assert (first.assistant, first.model, first.images) == ("cline", "claude-sonnet-4-6", 1)
    # the editor edit, and the sub-agent's apply_patch (a relative path); the failed edit changed nothing
    assert first.files_modified == ["src/cli.py", "tests/test_cli.py"]
    assert first.files_referenced == ["README.md", "src/cli.py"]  # the attached file, then read_files
    assert first.tools_used == ["read_files", "editor", "editor", "spawn_agent", "apply_patch"]
    # inputTokens include the cache reads and writes; the sub-agent's tokens are merged into the chat
    assert tokens(first) == (500 + 600 + 400 + 3000 + 3300, 150 + 420 + 60 + 200 + 20, 9000 + 11500 + 12600,
                             2500 + 300)
    assert first.response == "I'll read the CLI first.\n\nAdded the --verbose flag; a sub-agent wrote its test."
    assert (first.timestamp, first.ended_at) == ("2026-06-01T10:00:00.100Z", "2026-06-01T10:00:45.000Z")
    assert second.tools_used == ["run_commands"] and tokens(second) == (200 + 400, 52, 8800, 800)
    assert second.files_referenced == ["src/cli.py"]  # cat, a structured command
    assert third.tools_used == [] and tokens(third) == (0, 0, 0, 0)
    assert all("<" not in c.query for c in r.chats)  # no wrapper, no mode notice
    [s] = r.sessions
    assert (s.id, s.assistant, s.cwd, s.model, s.chat_count) == (SID, "cline", DEMO, "claude-sonnet-4-6", 3)
    assert (s.started_at, s.ended_at) == ("2026-06-01T10:00:00.000Z", "2026-06-01T10:03:00.000Z")
    assert s.query_tokens == sum(c.query_tokens for c in r.chats)
    # the same session from its manifest or any of its messages files
    for unit in (SESSION / f"{SID}.json", SESSION / f"{SID}.messages.json", SESSION / "agent_7f3k2.messages.json"):
        assert cline.parse(unit).chats == r.chats
    assert cline.project_of(SESSION) == DEMO and cline.project_of(SESSION / f"{SID}.json") == DEMO


def test_paths_follow_the_recorded_project():
    r = cline_sdk.parse(SESSION, repo_root="/srv/clone/demo")  # another clone: still repository-relative
    assert r.chats[0].files_modified == ["src/cli.py", "tests/test_cli.py"]


def test_typed_text():
    assert cline_sdk.typed_text('<user_input mode="plan">fix it</user_input>') == "fix it"
    assert cline_sdk.typed_text('<mode_notice>switched</mode_notice><user_input mode="act">go</user_input>') == "go"
    assert cline_sdk.typed_text('<user_command slash="team">do x</user_command>') == "/team do x"
    assert cline_sdk.typed_text("plain text") == "plain text"


def test_failed_tool_results():
    assert cline_sdk._failed({"is_error": True, "content": "boom"})
    assert cline_sdk._failed({"content": '{"query":"edit:a","result":"","success":false}'})
    assert cline_sdk._failed({"content": [{"query": "a", "success": False}]})
    assert not cline_sdk._failed({"content": [{"query": "a", "success": False}, {"query": "b", "success": True}]})
    assert not cline_sdk._failed({"content": '{"success" is a word here'})


def test_run_commands_shapes():
    shapes = ({"commands": ["cat a.py", {"command": "cat", "args": ["b.py"]}]}, {"command": "cat a.py"},
              {"command": "cat", "args": ["b.py"]}, ["cat a.py"], "cat a.py")
    assert [list(cline_sdk._commands(s)) for s in shapes] == [["cat a.py", "cat b.py"], ["cat a.py"], ["cat b.py"],
                                                               ["cat a.py"], ["cat a.py"]]


def test_sniff_auto_detect_and_locations():
    for unit in (SESSION, SESSION / f"{SID}.json", SESSION / f"{SID}.messages.json",
                 SESSION / "agent_7f3k2.messages.json"):
        assert cline.sniff(unit) and registry.detect(unit) is cline, unit  # no earlier parser claims it
        assert not any(m.sniff(unit) for m in registry.available() if m is not cline), unit
    classic = FIXTURES / "cline/.config/Code/User/globalStorage/saoudrizwan.claude-dev/tasks/1767607200000"
    others = [classic, classic / "task_metadata.json", FIXTURES / "continue/.continue/sessions/sessions.json",
              *(FIXTURES / "continue/.continue/sessions").glob("*-*.json"), FIXTURES / "claude_basic.jsonl",
              *(FIXTURES / "amp").rglob("T-*.json"), SESSIONS, FIXTURES / "cline_sdk/README.md"]
    assert not any(cline_sdk.sniff(p) for p in others)
    assert cline.candidates(SESSIONS) == [SESSION] and cline.candidates(SESSION) == [SESSION]
    home = Path("/h")
    assert Path("/h/.cline/data/sessions") in cline.locations(home, {})
    assert Path("/d/sessions") in cline.locations(home, {"CLINE_DATA_DIR": "/d"})
    assert Path("/c/data/sessions") in cline.locations(home, {"CLINE_DIR": "/c"})
    assert Path("/s") in cline.locations(home, {"CLINE_SESSION_DATA_DIR": "/s", "CLINE_DATA_DIR": "/d"})
    assert Path("/d/tasks") in cline.locations(home, {"CLINE_SESSION_DATA_DIR": "/s", "CLINE_DATA_DIR": "/d"})


def test_malformed_files_are_counted(tmp_path):
    folder = copy_session(tmp_path)
    lead = folder / f"{SID}.messages.json"
    data = json.loads(lead.read_text())
    data["messages"].insert(1, "not a message")
    lead.write_text(json.dumps(data))
    (folder / "agent_7f3k2.messages.json").write_text('{"version": 1, "agent": "subagent", "messages": [')
    r = cline.parse(folder)
    assert r.malformed == 2 and len(r.chats) == 3
    assert r.chats[0].files_modified == ["src/cli.py"]  # the sub-agent's file could not be read
    lead.write_bytes(b'{"version": 1, "agent": "lead", "sessionId": "x", "messages": [{"role": "us')
    r = cline.parse(folder)
    assert (r.malformed, r.chats) == (1, []) and r.sessions[0].cwd == DEMO  # the manifest still names the project
    (folder / f"{SID}.json").write_bytes(b"\xff\xfe not json")
    assert cline.parse(folder).malformed == 2


def stored(repo, stream):
    return {r.id: r for r in Store(repo.open()).iter_records(stream)}


def test_import_default_locations_keeps_this_repository(repo, tmp_path, sealed_env):
    project = str(repo.path.resolve())
    repo.commit("initial", {"src/cli.py": "a\n"}, date="2026-06-01T09:00:00+0000")
    sha = repo.commit("verbose flag", {"src/cli.py": "b\n", "tests/test_cli.py": "t\n"},
                      date="2026-06-01T10:04:00+0000")
    assert repo.run("git-ml-capture", "--backfill").returncode == 0
    sessions = sealed_env / ".cline" / "data" / "sessions"
    copy_session(sessions, project)
    copy_session(sessions, "/home/dev/projects/other", sid="1780308000001_zz9zz")
    broken = copy_session(sessions, project, sid="1780308000002_bad00")
    (broken / "1780308000002_bad00.messages.json").write_text("{ cut off")
    out = repo.run("git-ml-capture", "import", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["malformed_lines"] == 1
    assert {s.id for s in stored(repo, "sessions").values() if s.assistant == "cline"} == {SID, "1780308000002_bad00"}
    chats = stored(repo, "chats")
    first = chats[f"{SID}:msg_p1"]
    assert first.files_modified == ["src/cli.py", "tests/test_cli.py"] and first.assistant == "cline"
    assert f"{sha}:{first.id}" in stored(repo, "links")
    tip = repo.git("rev-parse", DATA_REF)
    again = json.loads(repo.run("git-ml-capture", "import", "--json").stdout)
    assert again["chats"] == 0 and repo.git("rev-parse", DATA_REF) == tip
    # $CLINE_SESSION_DATA_DIR moves the sessions
    moved = tmp_path / "elsewhere"
    copy_session(moved, project, sid="1780308000003_mv000")
    out = repo.run("git-ml-capture", "import", "--json", env={"CLINE_SESSION_DATA_DIR": str(moved)})
    assert out.returncode == 0, out.stderr
    assert "1780308000003_mv000" in stored(repo, "sessions")


def test_git_ml_capture_import_from_cline_path_and_refusals(repo, tmp_path):
    repo.commit("initial", {"a": "a\n"})
    folder = copy_session(tmp_path)
    before = repo.git("for-each-ref", "refs/ml")
    amp = next((FIXTURES / "amp").rglob("T-*.json"))
    for args in (["--from", "cline", str(amp)], ["--from", "roo", str(folder)],
                 ["--from", "continue", str(folder / f"{SID}.json")],
                 ["--from", "cline", str(FIXTURES / "continue/.continue/sessions/sessions.json")]):
        out = repo.run("git", "ml", "capture", "import", *args)
        assert out.returncode == 1, (args, out)
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert repo.git("for-each-ref", "refs/ml") == before
    out = repo.run("git", "ml", "capture", "import", "--from", "cline", "--json", str(folder))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["chats"] == 3
    assert {c.query for c in stored(repo, "chats").values()} >= {"now run the tests"}
    # the manifest file alone, under --from auto (the default)
    shutil.rmtree(folder)
    folder = copy_session(tmp_path, sid="1780308000004_au000")
    out = repo.run("git", "ml", "capture", "import", "--json", str(folder / "1780308000004_au000.json"))
    assert out.returncode == 0, out.stderr
    assert stored(repo, "sessions")["1780308000004_au000"].assistant == "cline"
