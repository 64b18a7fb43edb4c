"""Parsers of OpenCode, Amp, Cline, Roo Code, Windsurf, Continue and Factory Droid, on the hand-written fixtures in
tests/capture/fixtures/transcripts/<name>/ (see the README there for the public sources each structure was checked
against). Each test asserts the chats' queries (exactly what was typed), files modified (repository-relative),
tools, tokens and model, and the cases the format has: sub-agents, compaction, image prompts, malformed input.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from git_ml.capture.transcripts import amp, cline, continuedev, droid, opencode, registry, roo, windsurf

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "transcripts"
DEMO = "/home/dev/projects/demo"
MTIME = 1767780000  # 2026-01-07T10:00:00Z, set on formats that record no times


def by_query(result):
    return {c.query: c for c in result.chats}


def tokens(chat):
    return chat.query_tokens, chat.response_tokens, chat.cache_read_tokens, chat.cache_creation_tokens


# --- OpenCode ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def opencode_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("opencode")
    subprocess.run([sys.executable, str(FIXTURES / "opencode" / "make_opencode_fixtures.py"), str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    return out / "opencode"


OPENCODE_QUERIES = ["Add a --shout flag to the greet command, see @src/greet.py",
                    "Now check nothing else calls greet() with positional args.",
                    "The badge in this screenshot is wrong, fix README.md",
                    "rename timeout_s to timeout_seconds in config.toml"]


def test_opencode_database(opencode_data):
    db = opencode_data / "opencode.db"
    before = db.read_bytes()
    r = opencode.parse(db)
    assert db.read_bytes() == before  # opened read-only
    assert r.malformed == 0
    # the compaction request, its summary and the synthetic "continue" turn are no chats
    assert r.skipped == 3
    assert sorted(c.query for c in r.chats) == sorted(OPENCODE_QUERIES)
    assert [s.id for s in r.sessions] == ["ses_1f2e3d4c5bffHc9TqWm3Zr8Kp2Ld", "ses_1f2e3d4c4e77Kw2RtUv8Yb5Nc3Mf",
                                          "ses_1f2e3d4c3d10Pa1QsRt2Uv3Wx4Yz"]  # the sub-agent session is merged
    chats = by_query(r)
    first = chats[OPENCODE_QUERIES[0]]
    assert first.id == "ses_1f2e3d4c5bffHc9TqWm3Zr8Kp2Ld:msg_a1b2c3d00001Qx7LmN2pRt5vWy"
    assert first.files_modified == ["src/greet.py", "tests/test_shout.py"]
    assert first.files_referenced == ["src/greet.py", "src/cli.py"]  # the attachment, then the read tool
    assert first.tools_used == ["read", "edit", "write"]
    assert first.model == "claude-sonnet-4-5"
    assert tokens(first) == (5120, 410 + 96, 2048, 0)  # reasoning counts as response
    assert first.timestamp == "2026-06-01T07:48:20.000Z" and first.cwd == DEMO
    assert "Called the Read tool" not in first.query  # synthetic expansion of the attachment
    # the task tool's child session: its grep and tokens belong to the chat that started it
    second = chats[OPENCODE_QUERIES[1]]
    assert second.tool_counts == {"task": 1, "grep": 1}
    assert tokens(second) == (7300 + 2900, 220 + 80, 5100, 0)
    assert all("## Goal" not in c.response for c in r.chats)  # the compaction summary is nobody's response
    image = chats[OPENCODE_QUERIES[2]]
    assert (image.images, first.images) == (1, 0)
    assert image.model == "gpt-5"
    assert image.files_modified == ["README.md", "docs/usage.md"]  # apply_patch, multiedit
    assert image.files_referenced == []  # the image is no file; the failed read touched nothing
    assert image.tools_used == ["bash", "apply_patch", "multiedit", "read"]
    assert tokens(image) == (3300, 510 + 240, 0, 1200)
    other = chats[OPENCODE_QUERIES[3]]
    assert other.files_modified == ["config.toml"] and other.cwd == "/home/dev/projects/other"
    s1 = r.sessions[0]
    assert (s1.model, s1.cwd, s1.chat_count) == ("claude-sonnet-4-5", DEMO, 2)
    assert (s1.started_at, s1.ended_at) == ("2026-06-01T07:48:20.000Z", "2026-06-01T07:58:20.000Z")


def test_opencode_storage_folder_matches_database(opencode_data):
    from_db = opencode.parse(opencode_data / "opencode.db", repo_root="/work/clone/demo")
    from_files = opencode.parse(opencode_data / "storage", repo_root="/work/clone/demo")
    assert from_files.malformed == 0
    assert [c.id for c in from_files.chats] == [c.id for c in from_db.chats]
    assert from_files.chats == from_db.chats
    assert [s.id for s in from_files.sessions] == [s.id for s in from_db.sessions]
    # another machine's checkout of the same project maps onto this repository's paths
    assert by_query(from_db)[OPENCODE_QUERIES[0]].files_modified == ["src/greet.py", "tests/test_shout.py"]


def test_opencode_storage_unreadable_part_is_counted(opencode_data, tmp_path):
    # A part that cannot be read (here a folder where a file should be) is counted as malformed, the rest is read.
    storage = tmp_path / "storage"
    shutil.copytree(opencode_data / "storage", storage)
    part_dir = next(d for d in sorted((storage / "part").iterdir()) if any(d.glob("*.json")))
    (part_dir / "prt_unreadable.json").mkdir()
    r = opencode.parse(storage, repo_root="/work/clone/demo")
    assert r.malformed == 1
    assert len(r.chats) == len(opencode.parse(opencode_data / "storage", repo_root="/work/clone/demo").chats)


def _edit_two_sessions(opencode_data, tmp_path, edit):
    """A copy of the storage/ fixture whose first two session files ``edit(first, second)`` changed: (the copy, its
    parse before the change, the two sessions as changed)."""
    storage = tmp_path / "storage"
    shutil.copytree(opencode_data / "storage", storage)
    whole = opencode.parse(storage)
    a, b = sorted(storage.glob("session/*/*.json"))[:2]
    first, second = json.loads(a.read_text()), json.loads(b.read_text())
    edit(first, second)
    a.write_text(json.dumps(first))
    b.write_text(json.dumps(second))
    return storage, whole, first, second


def test_opencode_storage_files_of_unreachable_sessions_are_counted(opencode_data, tmp_path):
    # Sessions are read when built; two that are each other's parent are built by no one, yet their malformed files
    # still count, as for every session.
    def cycle(first, second):
        first["parentID"], second["parentID"] = second["id"], first["id"]

    storage, whole, first, second = _edit_two_sessions(opencode_data, tmp_path, cycle)
    for sid in (first["id"], second["id"]):
        (storage / "message" / sid).mkdir(exist_ok=True)
        (storage / "message" / sid / "msg_zz_broken.json").write_text("{")
    r = opencode.parse(storage)
    assert r.malformed == 2
    assert {s.id for s in r.sessions} == {s.id for s in whole.sessions} - {first["id"], second["id"]}


def test_opencode_storage_session_times_of_mixed_types(opencode_data, tmp_path):
    # A session's time.created as a numeric string, another's as an object: the sessions are still sorted (a
    # numeric string as its number, an object first) and read; comparing them raised TypeError before.
    def odd_times(first, second):
        first["time"]["created"] = str(first["time"]["created"])
        second["time"]["created"] = {"ms": 1}

    storage, whole, _, _ = _edit_two_sessions(opencode_data, tmp_path, odd_times)
    r = opencode.parse(storage)
    assert {s.id for s in r.sessions} == {s.id for s in whole.sessions}
    assert sorted(c.id for c in r.chats) == sorted(c.id for c in whole.chats)


def test_opencode_locations_candidates_and_sniff(opencode_data, tmp_path):
    assert opencode.locations(Path("/h"), {}) == [Path("/h/.local/share/opencode")]
    assert opencode.locations(Path("/h"), {"XDG_DATA_HOME": "/x"}) == [Path("/x/opencode")]
    assert opencode.candidates(opencode_data) == [opencode_data / "opencode.db"]
    storage_only = tmp_path / "data"
    shutil.copytree(opencode_data / "storage", storage_only / "storage")
    assert opencode.candidates(storage_only) == [storage_only]
    assert len(opencode.parse(storage_only).chats) == 4
    assert opencode.sniff(opencode_data / "opencode.db") and opencode.sniff(opencode_data / "storage")
    other_db = tmp_path / "state.vscdb"
    con = sqlite3.connect(other_db)
    con.execute("CREATE TABLE cursorDiskKV (key TEXT, value BLOB)")
    con.commit()
    con.close()
    assert not opencode.sniff(other_db)
    assert not opencode.sniff(FIXTURES / "claude_basic.jsonl")


def test_opencode_malformed_rows_are_counted(opencode_data, tmp_path):
    db = tmp_path / "opencode.db"
    shutil.copy(opencode_data / "opencode.db", db)
    con = sqlite3.connect(db)
    con.execute("UPDATE part SET data = '{not json' WHERE id = "
                "(SELECT id FROM part WHERE data LIKE '%step-start%' ORDER BY id LIMIT 1)")
    con.execute("ALTER TABLE message ADD COLUMN tokens_input INTEGER")  # newer versions add columns
    con.commit()
    con.close()
    r = opencode.parse(db)
    assert r.malformed == 1
    assert len(r.chats) == 4


# --- Amp ---------------------------------------------------------------------------------------------------------

AMP = FIXTURES / "amp" / "home"
AMP_THREAD = AMP / ".local/share/amp/threads/T-019e2a4b-6c7d-7e8f-9a0b-1c2d3e4f5a6b.json"


def test_amp_thread():
    r = amp.parse(AMP_THREAD)
    assert (r.malformed, r.skipped) == (0, 1)  # the compaction summary (info message)
    assert [c.query for c in r.chats] == [
        "add a --verbose flag to src/cli.py",
        "this screenshot shows the help text; use a subagent to find where it is built, then write docs/USAGE.md",
        "go ahead and create the usage doc now"]
    first, image, after = r.chats
    assert first.id == "T-019e2a4b-6c7d-7e8f-9a0b-1c2d3e4f5a6b:0"
    assert first.files_modified == ["src/cli.py"] and first.files_referenced == ["src/cli.py"]
    assert first.tools_used == ["Read", "edit_file"]
    assert first.model == "claude-sonnet-4-5-20250929"
    assert tokens(first) == (9 + 6 + 5, 60 + 110 + 20, 14200 + 14500, 14200 + 300 + 250)
    assert first.timestamp == "2026-05-07T10:00:05.000Z" and first.ended_at == "2026-05-07T10:00:14.000Z"
    assert first.response == "Adding the option.\n\n`--verbose` is now accepted by src/cli.py."
    assert (first.images, image.images) == (0, 1)
    assert image.tools_used == ["Task", "create_file"]
    assert image.files_modified == []  # the create_file call was cancelled
    assert after.files_modified == ["docs/USAGE.md"]
    assert all("User asked for" not in c.response for c in r.chats)
    [s] = r.sessions
    assert (s.id, s.cwd, s.model, s.chat_count) == ("T-019e2a4b-6c7d-7e8f-9a0b-1c2d3e4f5a6b", DEMO,
                                                    "claude-sonnet-4-5-20250929", 3)
    assert (s.started_at, s.ended_at) == ("2026-05-07T10:00:00.000Z", "2026-05-07T10:03:06.000Z")


def test_amp_legacy_and_truncated_threads(tmp_path):
    legacy = next((AMP / ".config/Code/User/globalStorage/sourcegraph.amp/threads3").glob("T-*.json"))
    r = amp.parse(legacy)
    assert [c.query for c in r.chats] == ["what does README.md say?", "thanks"]
    assert r.chats[0].files_referenced == ["README.md"] and r.chats[0].model is None
    cut = amp.parse(AMP / ".local/share/amp/threads/T-019e2a4b-0000-7000-8000-00000000abcd.json")
    assert (cut.malformed, cut.chats, cut.sessions) == (1, [], [])


def test_amp_openai_prompt_tokens(tmp_path):
    thread = {"id": "T-1", "created": 1, "messages": [
        {"role": "user", "messageId": 0, "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "messageId": 1, "content": [{"type": "text", "text": "hello"}],
         "usage": {"model": "gpt-5", "inputTokens": 0, "outputTokens": 7, "cacheCreationInputTokens": 900,
                   "cacheReadInputTokens": 100}}]}
    path = tmp_path / "T-1.json"
    path.write_text(json.dumps(thread))
    assert tokens(amp.parse(path).chats[0]) == (900, 7, 100, 0)


# --- Cline and Roo Code ------------------------------------------------------------------------------------------

CLINE = FIXTURES / "cline/.config/Code/User/globalStorage/saoudrizwan.claude-dev"
CLINE_TASK = CLINE / "tasks/1767607200000"
ROO = FIXTURES / "roo/.config/Code/User/globalStorage/rooveterinaryinc.roo-cline/tasks"
ROO_TASK = ROO / "0b7c2a9e-5d1f-4c3a-9e21-7a6f0d4c1b01"
ROO_CHILD = ROO / "0b7c2a9e-5d1f-4c3a-9e21-7a6f0d4c1b02"


def test_cline_task_xml_tools():
    r = cline.parse(CLINE_TASK)
    assert (r.malformed, r.skipped) == (0, 0)
    assert [c.query for c in r.chats] == ["Add a greet(name) function to src/app.py and a test for it.",
                                          "please also add a docstring to greet"]
    first, second = r.chats
    assert first.id == "1767607200000:1767607200100"
    assert first.files_modified == ["src/app.py", "tests/test_app.py"]  # relative and absolute paths
    assert first.files_referenced == ["src/app.py"]
    assert first.tools_used == ["read_file", "replace_in_file", "write_to_file", "attempt_completion"]
    assert first.model == "claude-sonnet-4-5-20250929"
    assert tokens(first) == (9120 + 770 + 410 + 300, 88 + 141 + 120 + 60, 9100 + 9800 + 10100, 9100)
    assert first.response == "Added greet() and a test."  # tool XML and <thinking> are not the response
    assert second.files_modified == ["src/app.py"] and tokens(second) == (300, 95, 10300, 0)
    assert all("environment_details" not in c.query for c in r.chats)
    [s] = r.sessions
    assert (s.id, s.assistant, s.cwd, s.model) == ("1767607200000", "cline", DEMO, "claude-sonnet-4-5-20250929")
    assert s.query_tokens == 10900  # the task's own total in taskHistory.json
    assert cline.project_of(CLINE_TASK) == DEMO


def test_cline_metrics_without_ui_and_denied_tool(tmp_path):
    task = tmp_path / "tasks" / "1767607200000"
    task.mkdir(parents=True)
    api = json.loads((CLINE_TASK / "api_conversation_history.json").read_text())
    # the user denies the write_to_file call
    api[6]["content"] = [{"type": "text", "text": "[write_to_file for 'tests/test_app.py'] Result:"},
                         {"type": "text", "text": "The user denied this operation."}]
    (task / "api_conversation_history.json").write_text(json.dumps(api))
    r = cline.parse(task)
    first = r.chats[0]
    assert first.files_modified == ["src/app.py"]
    assert "write_to_file" in first.tools_used
    # no ui_messages.json: the per-message metrics (prompt includes the cached part)
    assert tokens(first) == (9120 + 770 + 410 + 300, 88 + 141 + 120 + 60, 9100 + 9800 + 10100, 0)
    assert r.sessions[0].cwd == DEMO  # from the environment details: no taskHistory.json here


def test_cline_tool_output_is_never_a_prompt(tmp_path):
    task = tmp_path / "1767607200000"
    task.mkdir()
    api = json.loads((CLINE_TASK / "api_conversation_history.json").read_text())
    # the file read starts like a prompt wrapper: it is data
    api[2]["content"][1]["text"] = "<task>\nfrom a file\n</task>"
    # command output with feedback the person typed while it ran
    api[3]["content"][0]["text"] = "<execute_command>\n<command>pytest</command>\n</execute_command>"
    api[4]["content"] = [{"type": "text", "text": "[execute_command for 'pytest'] Result:"},
                         {"type": "text", "text": "Command is still running.\n\nThe user provided the following "
                                                  "feedback:\n<feedback>\nstop, use -x\n</feedback>"}]
    (task / "api_conversation_history.json").write_text(json.dumps(api))
    r = cline.parse(task)
    assert [c.query for c in r.chats] == ["Add a greet(name) function to src/app.py and a test for it.",
                                          "stop, use -x", "please also add a docstring to greet"]
    assert r.chats[0].tools_used == ["read_file", "execute_command"]


def test_roo_task_subtask_condense_image():
    r = roo.parse(ROO_TASK)
    assert (r.malformed, r.skipped) == (0, 1)  # the condense summary
    assert [c.query for c in r.chats] == ["Rename main() to run() in src/app.py and document it in docs/usage.md",
                                          "thanks, also mention run() in README.md"]
    first, second = r.chats
    assert first.assistant == "roo-code" and (first.images, second.images) == (1, 0)
    assert first.files_modified == ["src/app.py", "docs/usage.md"]
    assert first.files_referenced == ["src/app.py"]
    # the new_task sub-task ran execute_command; its tokens are the chat's too
    assert first.tools_used == ["read_file", "apply_diff", "write_to_file", "new_task", "execute_command",
                                "attempt_completion"]
    assert tokens(first) == (11200 + 500 + 1200 + 2100, 60 + 130 + 90 + 40, 11000, 11000 + 1100 + 2000)
    assert first.model == "anthropic/claude-sonnet-4.5"
    assert "Conversation Summary" not in first.response + second.response
    assert tokens(second) == (400, 70, 1100, 0)
    assert roo.parse(ROO_CHILD).chats == []  # merged into its parent
    assert roo.candidates(ROO) == [ROO_TASK]
    assert cline.candidates(CLINE / "tasks") == [CLINE_TASK]


def test_cline_and_roo_tell_each_other_apart(tmp_path):
    assert cline.sniff(CLINE_TASK) and not roo.sniff(CLINE_TASK)
    assert roo.sniff(ROO_TASK) and not cline.sniff(ROO_TASK)
    assert cline.sniff(CLINE_TASK / "ui_messages.json")
    moved = tmp_path / "task"  # outside the extension's folder: told by content
    shutil.copytree(ROO_CHILD, moved)
    assert roo.sniff(moved) and not cline.sniff(moved)
    home = Path("/h")
    assert Path("/h/.config/Code/User/globalStorage/saoudrizwan.claude-dev/tasks") in cline.locations(home, {})
    assert Path("/h/.cline/data/tasks") in cline.locations(home, {})
    assert Path("/d/tasks") in cline.locations(home, {"CLINE_DATA_DIR": "/d"})
    assert (Path("/h/Library/Application Support/Cursor/User/globalStorage/rooveterinaryinc.roo-cline/tasks")
            in roo.locations(home, {}))


# --- Continue ----------------------------------------------------------------------------------------------------

@pytest.fixture
def continue_sessions(tmp_path) -> Path:
    folder = tmp_path / "sessions"
    shutil.copytree(FIXTURES / "continue/.continue/sessions", folder)
    for p in folder.iterdir():
        os.utime(p, (MTIME + 86400, MTIME + 86400))  # a day after the first dateCreated
    return folder


def test_continue_cli_session_with_compaction(continue_sessions):
    path = continue_sessions / "5f0e8d3a-1c2b-4d5e-8f90-a1b2c3d4e5f6.json"
    r = continuedev.parse(path)
    assert (r.malformed, r.skipped) == (0, 1)  # the compaction summary item
    assert [c.query for c in r.chats] == ["Add a --verbose flag to the CLI in src/cli.py",
                                          "now write a CHANGELOG entry"]
    first, second = r.chats
    assert first.files_modified == ["src/cli.py"] and first.files_referenced == ["src/cli.py"]
    assert first.tools_used == ["Read", "Edit"] and second.files_modified == ["CHANGELOG.md"]
    assert first.model == "claude-sonnet-4-5"
    assert tokens(first) == (5400 - 4800, 140, 4800, 0)
    assert "Summary:" not in first.response + second.response
    assert first.timestamp == "2026-01-07T12:46:40.000Z"  # dateCreated of sessions.json
    assert first.ended_at == second.ended_at == "2026-01-08T10:00:00.000Z"  # the file's modification time
    [s] = r.sessions
    assert (s.cwd, s.query_tokens, s.response_tokens) == (DEMO, 11200 - 9600, 420)
    # compaction rewrites the history: the remaining prompt keeps its id
    data = json.loads(path.read_text())
    data["history"] = data["history"][6:]
    path.write_text(json.dumps(data))
    assert [c.id for c in continuedev.parse(path).chats] == [second.id]


def test_continue_ide_session_image_and_context(continue_sessions):
    r = continuedev.parse(continue_sessions / "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d.json")
    [chat] = r.chats
    assert chat.query == "Make the footer look like this" and chat.images == 1
    assert chat.files_referenced == ["src/footer.css"]  # the attached file: context, not query
    assert chat.files_modified == ["src/footer.css", "src/footer.test.css"]
    assert chat.tools_used == ["edit_existing_file", "create_new_file"]
    assert chat.model == "GPT-5" and chat.cwd == DEMO  # workspaceDirectory as a file:// URI
    assert not continuedev.sniff(continue_sessions / "sessions.json")
    assert continuedev.candidates(continue_sessions) == sorted(
        p for p in continue_sessions.glob("*.json") if p.name != "sessions.json")
    assert continuedev.locations(Path("/h"), {"CONTINUE_GLOBAL_DIR": "/c"}) == [Path("/c/sessions")]


def test_continue_editor_state_is_the_typed_text(tmp_path):
    state = {"type": "doc", "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "explain "}, {"type": "mention", "attrs": {"id": "x", "label": "utils.py"}}]}]}
    session = {"sessionId": "s1", "workspaceDirectory": DEMO, "history": [
        {"message": {"role": "user", "content": "explain ```utils.py\ndef f(): pass\n```"}, "editorState": state,
         "contextItems": []}]}
    path = tmp_path / "s1.json"
    path.write_text(json.dumps(session))
    assert continuedev.parse(path).chats[0].query == "explain @utils.py"


# --- Windsurf ----------------------------------------------------------------------------------------------------

def test_windsurf_transcript(tmp_path):
    path = tmp_path / "b3f1c2d4-0a9e-4e7b-9c11-2d3e4f5a6b7c.jsonl"
    shutil.copy(FIXTURES / "windsurf/.windsurf/transcripts" / path.name, path)
    os.utime(path, (MTIME, MTIME))
    r = windsurf.parse(path, model="Claude Sonnet 4.5")
    assert [c.query for c in r.chats] == ["Add input validation to src/form.ts", "also export it from src/index.ts"]
    first, second = r.chats
    assert first.id == "b3f1c2d4-0a9e-4e7b-9c11-2d3e4f5a6b7c:0"
    assert first.files_modified == ["src/form.ts"] and first.files_referenced == ["src/form.ts"]
    assert first.tools_used == ["view_file", "code_action", "run_command"]
    assert first.response == "I'll look at the form module first.\n\nValidation added and tests pass."
    assert second.files_modified == ["src/index.ts"]
    assert first.model == "Claude Sonnet 4.5" and first.timestamp == "2026-01-07T10:00:00.000Z"
    assert r.sessions[0].cwd == DEMO  # the run_command step's cwd
    assert windsurf.locations(Path("/h"), {}) == [Path("/h/.windsurf/transcripts")]


# --- Factory Droid -----------------------------------------------------------------------------------------------

DROID = FIXTURES / "droid/home/.factory/sessions"
DROID_MAIN = DROID / "-home-dev-projects-demo/4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d.jsonl"
DROID_WORKER = DROID / "-home-dev-projects-demo/9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a.jsonl"


def test_droid_session_worker_compaction_image():
    r = droid.parse(DROID_MAIN)
    assert r.malformed == 1  # the last line was cut off mid-write
    assert r.skipped == 3  # todo_state, the llm_only hook context, compaction_state
    assert [c.query for c in r.chats] == [
        "add a --verbose flag to src/cli.py",  # the <system-reminder> block is injected context
        "here is the help screen; have a worker check where help text is built, then write docs/USAGE.md",
        "ok, write docs/USAGE.md now"]
    first, image, after = r.chats
    assert first.id == "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d:u1"
    assert first.files_modified == ["src/cli.py"] and first.tools_used == ["Read", "Edit"]
    assert first.model == "claude-sonnet-4-5-20250929"  # from the .settings.json
    assert (first.images, image.images) == (0, 1)
    assert image.tools_used == ["Task", "Create", "Grep"]  # the worker's Grep is the calling chat's
    assert image.files_modified == []  # Create was cancelled
    assert after.files_modified == ["docs/USAGE.md"] and after.tools_used == ["ApplyPatch"]
    [s] = r.sessions
    assert (s.cwd, s.model, s.chat_count) == (DEMO, "claude-sonnet-4-5-20250929", 3)
    assert (s.query_tokens, s.response_tokens) == (1840 + 420, 612 + 75)  # settings totals, parent and worker
    assert droid.parse(DROID_WORKER).chats == []
    assert droid.candidates(DROID) == [DROID_MAIN, DROID / "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f.jsonl"]
    assert droid.project_of(DROID_MAIN) == DEMO


def test_droid_flat_layout_and_locations():
    r = droid.parse(DROID / "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f.jsonl", repo_root="/srv/demo")
    [chat] = r.chats
    assert chat.query == "what is in README.md?" and chat.files_referenced == ["README.md"]
    assert chat.model is None and r.sessions[0].query_tokens == 7300
    assert droid.locations(Path("/h"), {"FACTORY_HOME_OVERRIDE": "/f"}) == [Path("/f/.factory/sessions")]


# --- detection across formats ------------------------------------------------------------------------------------

MINE = ("opencode", "amp", "cline", "roo", "windsurf", "continue", "droid")


@pytest.fixture
def units(opencode_data, tmp_path) -> dict[str, list[Path]]:
    """Units of every assistant's fixtures, by --from name."""
    subprocess.run([sys.executable, str(FIXTURES / "cursor" / "make_cursor_fixtures.py"), str(tmp_path)], check=True,
                   capture_output=True)
    gemini = FIXTURES / "gemini/home/.gemini/tmp"
    copilot = FIXTURES / "copilot/home/.copilot/session-state"
    return {
        "opencode": [opencode_data / "opencode.db", opencode_data / "storage", opencode_data],
        "amp": [AMP_THREAD, *(AMP / ".config/Code/User/globalStorage/sourcegraph.amp/threads3").glob("*.json")],
        "cline": [CLINE_TASK, CLINE_TASK / "api_conversation_history.json"],
        "roo": [ROO_TASK, ROO_CHILD],
        "windsurf": [FIXTURES / "windsurf/.windsurf/transcripts/b3f1c2d4-0a9e-4e7b-9c11-2d3e4f5a6b7c.jsonl"],
        "continue": sorted(p for p in (FIXTURES / "continue/.continue/sessions").glob("*.json")
                           if p.name != "sessions.json"),
        "droid": [DROID_MAIN, DROID / "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f.jsonl"],
        "claude": [FIXTURES / "claude_basic.jsonl"],
        "codex": [FIXTURES / "codex_current.jsonl", FIXTURES / "codex_legacy.jsonl"],
        "aider": [FIXTURES / "aider_history.md"],
        "gemini": sorted(gemini.rglob("session-*.json*")),
        "copilot": sorted(copilot.rglob("*.jsonl")),
        "cursor": [tmp_path / "Cursor" / "User" / "globalStorage" / "state.vscdb"],
        "none": [FIXTURES / "continue/.continue/sessions/sessions.json", FIXTURES / "opencode" / "README.md",
                 FIXTURES / "opencode" / "make_opencode_fixtures.py", CLINE_TASK / "task_metadata.json"],
    }


def test_each_sniff_accepts_only_its_own_format(units):
    assert all(units.values())
    for name in MINE:
        module = registry.require(name)
        assert module.NAME == name and isinstance(module.ASSISTANT, str)
        for other, paths in units.items():
            for path in paths:
                assert module.sniff(path) == (other == name), (name, path)
        for path in units[name]:
            assert registry.detect(path) is module, path  # no earlier parser claims it under --from auto
