"""Transcript parsers: Claude Code (incremental), Codex CLI rollouts, aider history.

Real-sample tests read /work/shared/samples/transcripts (copies of public test data, see the README there for
sources and licences: d-kimuson/claude-code-viewer MIT, codemie-ai/codemie-code Apache-2.0, madshn/localpush MIT,
daaain/claude-code-log MIT, BeehiveInnovations/zen-mcp-server Apache-2.0) and are skipped when it is absent.
Fixture tests use the small hand-written files in tests/fixtures/transcripts.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path

import pytest
from conftest import SHARED

from git_ml.capture.transcripts.aider import parse_aider
from git_ml.capture.transcripts.base import Exchange, shell_file_hints
from git_ml.capture.transcripts.claude import needs_restart, parse_claude, parse_claude_agent
from git_ml.capture.transcripts.codex import codex_session_cwd, parse_codex
from git_ml.capture.transcripts.paths import ProjectPaths

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "transcripts"
SAMPLES = SHARED / "samples" / "transcripts"


def sample(name: str) -> Path:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"shared samples not available ({path})")
    return path


def usage_once_per_message(path: Path, sidechain: bool | None = None) -> dict[str, int]:
    """Independent reference: per message.id the maximum of each usage field, summed."""
    per_id: dict[str, dict[str, int]] = {}
    for raw in path.read_text().splitlines():
        d = json.loads(raw)
        if d.get("type") != "assistant" or (sidechain is not None and bool(d.get("isSidechain")) != sidechain):
            continue
        u = d["message"].get("usage") or {}
        seen = per_id.setdefault(d["message"]["id"], {})
        for k in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
            seen[k] = max(seen.get(k, 0), u.get(k) or 0)
    total: dict[str, int] = {}
    for values in per_id.values():
        for k, v in values.items():
            total[k] = total.get(k, 0) + v
    return total


def line_offset(path: Path, needle: str) -> int:
    """Byte offset of the first line containing needle."""
    offset = 0
    for raw in path.read_bytes().splitlines(keepends=True):
        if needle.encode() in raw:
            return offset
        offset += len(raw)
    raise AssertionError(needle)


# --- Claude Code: real samples -----------------------------------------------------------------------------------

def test_sample_claude_init_command_and_tokens():
    path = sample("claude-code_ccviewer_1af7fc5e.jsonl")
    r = parse_claude(path, repo_root="/path/to/Demo")
    assert r.malformed == 0
    assert r.skipped == 1  # the isMeta expansion of /init
    [chat] = r.chats
    assert chat.query == "/init"
    assert chat.id == "1af7fc5e-8455-4414-9ccd-011d40f70b2a:e2ab9812-8be7-4e9e-8194-d9b7b9d6da14"
    assert chat.files_modified == ["CLAUDE.md"]
    assert chat.tool_counts == {"TodoWrite": 3, "Bash": 2, "Glob": 6, "Write": 1}
    assert chat.tools_used[:3] == ["TodoWrite", "Bash", "Glob"]
    assert chat.model == "claude-sonnet-4-20250514"
    assert chat.response.startswith("I'll analyze the codebase")
    assert chat.response.endswith("once you start building the project.")
    ref = usage_once_per_message(path)
    assert (chat.query_tokens, chat.response_tokens) == (ref["input_tokens"], ref["output_tokens"])
    assert chat.cache_read_tokens == ref["cache_read_input_tokens"]
    assert chat.cache_creation_tokens == ref["cache_creation_input_tokens"]
    naive = sum(json.loads(x)["message"]["usage"]["output_tokens"] for x in path.read_text().splitlines()
                if '"type":"assistant"' in x.replace(" ", ""))
    assert chat.response_tokens < naive  # streamed lines repeat the usage: not summed
    assert r.session.chat_count == 1 and r.session.response_tokens == chat.response_tokens
    assert chat.timestamp == "2025-09-03T00:47:19.293Z" and chat.ended_at == "2025-09-03T00:47:52.264Z"
    assert chat.duration_ms == 32971


def test_sample_claude_inline_sidechain():
    path = sample("claude-code_ccviewer_5c0375b4.jsonl")
    r = parse_claude(path, repo_root="/path/to/Demo")
    [chat] = r.chats
    assert chat.query.startswith("/orchestrator @CLAUDE.md")
    assert chat.tool_counts["Task"] == 3
    assert "todo-app/package.json" in chat.files_referenced  # read by a subagent (isSidechain lines)
    assert chat.files_modified == ["CLAUDE.md"]
    assert "Package.json Analysis Summary" in path.read_text()
    assert "Package.json Analysis Summary" not in chat.response  # subagent text is not the chat's answer
    assert chat.branch == "main"
    ref = usage_once_per_message(path)  # main chain and sidechain alike
    assert chat.query_tokens == ref["input_tokens"] and chat.response_tokens == ref["output_tokens"]


def test_sample_claude_v2_three_prompts():
    path = sample("claude-code_codemie_4c2ddfdc_v2.0.64.jsonl")
    r = parse_claude(path, repo_root="/tmp/private")
    assert [c.query for c in r.chats] == ["create hello.py, md and js", "update py with one liner comment",
                                          "delete js"]
    assert [c.files_modified for c in r.chats] == [["hello.py", "hello.md", "hello.js"], ["hello.py"], ["hello.js"]]
    assert r.chats[1].files_referenced == ["hello.py"]
    assert r.skipped == 6  # file-history-snapshot lines
    assert {c.branch for c in r.chats} == {"analytics-v2"}
    assert r.resume_offset == line_offset(path, '"content":"delete js"')
    assert r.end_offset == path.stat().st_size
    assert r.session.chat_count == 3
    assert r.resume_base.chat_count == 2
    assert r.session.query_tokens == sum(c.query_tokens for c in r.chats) == 33


def test_sample_claude_warmup_agent_is_not_attributed(tmp_path):
    main = sample("claude-code_codemie_4c2ddfdc_v2.0.64.jsonl")
    agent = sample("claude-code_codemie_agent-50243ee8_subagent.jsonl")
    run = parse_claude_agent(agent)
    assert (run.agent_id, run.prompt) == ("50243ee8", "Warmup")
    assert run.session_id == "4c2ddfdc-b619-4525-8d03-1950fb1b0257"
    assert run.chat.response_tokens == 237
    shutil.copy(main, tmp_path / "4c2ddfdc-b619-4525-8d03-1950fb1b0257.jsonl")
    shutil.copy(agent, tmp_path / "agent-50243ee8.jsonl")
    with_agents = parse_claude(tmp_path / "4c2ddfdc-b619-4525-8d03-1950fb1b0257.jsonl", "/tmp/private")
    without = parse_claude(main, "/tmp/private", subagents=False)
    assert with_agents.chats == without.chats  # the warmup ran before the first prompt


# --- Claude Code: fixtures ---------------------------------------------------------------------------------------

BASIC = FIXTURES / "claude_basic.jsonl"
BASIC_SID = "0f0e0d0c-1111-4222-8333-444455556666"


def test_claude_prompts_commands_and_counts():
    r = parse_claude(BASIC, repo_root="/repo")
    assert [c.query for c in r.chats] == ["Fix the bug in src/app.py", "Now add tests", "Run them"]
    assert [c.id for c in r.chats] == [f"{BASIC_SID}:u1", f"{BASIC_SID}:u2", f"{BASIC_SID}:u3"]
    assert [c.prompt_uuid for c in r.chats] == ["u1", "u2", "u3"]
    assert r.malformed == 1
    assert r.skipped == 5  # snapshot, isMeta, local-command output, interruption, summary; /model chat dropped
    assert all(c.assistant == "claude-code" and c.captured_at == "" for c in r.chats)
    assert r.chats[0].response == "Looking at it.\n\nFixed the bug."
    assert r.chats[0].branch == "feat/x" and r.chats[0].cwd == "/repo"
    assert r.chats[1].ended_at == "2025-01-01T10:02:10.000Z"  # the interruption marker closes it


def test_claude_files_relative_to_repo_root():
    chats = parse_claude(BASIC, repo_root="/repo").chats
    assert chats[0].files_referenced == ["src/app.py", "src"]  # /etc is outside the project: dropped
    assert chats[0].files_modified == ["src/app.py", "build/old.txt", "notes.txt", "docs/notes.txt"]
    assert chats[1].files_modified == ["tests/test_bug.py"]  # relative Write path resolved against cwd
    assert chats[2].files_modified == ["report.txt"]  # cd tests && ... > ../report.txt
    # without this repository's root: relative to the project the transcript recorded (its cwd /repo)
    assert parse_claude(BASIC).chats[0].files_modified[1] == "build/old.txt"
    # this repository nested below the recorded project: its files relative to this repository
    nested = parse_claude(BASIC, repo_root="/repo/src").chats
    assert nested[0].files_referenced == ["app.py"] and "build/old.txt" in nested[0].files_modified


def test_claude_tokens_counted_once_per_message_id():
    chat = parse_claude(BASIC, repo_root="/repo").chats[0]
    # m1 is streamed over three lines (output 5, 5, 40): counted once, with its final usage
    assert (chat.query_tokens, chat.response_tokens) == (10 + 3 + 4 + 2, 40 + 30 + 20 + 7)
    assert (chat.cache_read_tokens, chat.cache_creation_tokens) == (100 + 200, 20)
    assert chat.tools_used == ["Read", "Edit", "Bash", "Grep", "Glob"]


def test_claude_sidechain_work_belongs_to_parent_chat():
    chat = parse_claude(BASIC, repo_root="/repo").chats[1]
    assert chat.tools_used == ["Task", "Glob", "Read", "Write"]
    assert chat.files_referenced == ["tests/test_app.py"]
    assert chat.response == ""  # "SIDECHAIN TEXT" is the subagent's
    assert chat.query_tokens == 5 + 7 + 6 + 8 and chat.response_tokens == 9 + 9 + 11 + 50


def test_claude_incremental_resume(tmp_path):
    lines = BASIC.read_bytes().splitlines(keepends=True)
    cut = next(i for i, x in enumerate(lines) if b'"uuid":"s3"' in x)
    path = tmp_path / f"{BASIC_SID}.jsonl"
    path.write_bytes(b"".join(lines[:cut]))
    first = parse_claude(path, "/repo")
    assert [c.prompt_uuid for c in first.chats] == ["u1", "u2"]
    assert first.resume_offset == line_offset(path, '"uuid":"u2"')
    assert first.end_offset == path.stat().st_size
    assert "Write" not in first.chats[1].tools_used
    assert first.resume_base.chat_count == 1 and first.session.chat_count == 2

    with open(path, "ab") as f:
        f.write(b"".join(lines[cut:]))
    assert not needs_restart(path, first.resume_offset, first.head_hash)
    second = parse_claude(path, "/repo", first.resume_offset, base=first.resume_base)
    full = parse_claude(path, "/repo")
    assert [c.id for c in second.chats] == [first.chats[1].id, full.chats[2].id]
    assert second.chats == full.chats[1:]  # the unfinished chat comes back complete, same id
    assert second.chats[1].tools_used == ["Bash"]
    assert second.session == full.session  # totals cover the whole file thanks to the base
    assert second.session.chat_count == 3
    assert second.malformed == 0  # the fixture's malformed line is before the resume point: not re-read


def test_claude_partial_last_line_is_not_malformed(tmp_path):
    data = BASIC.read_bytes()
    cut = data.index(b'{"parentUuid":null', line_offset(BASIC, '"uuid":"c2"'))
    partial = data[:cut + 60]  # the last line is half written
    path = tmp_path / "t.jsonl"
    path.write_bytes(partial)
    r = parse_claude(path, "/repo")
    assert r.malformed == 1  # the one malformed line of the fixture, not the unfinished one
    assert r.end_offset == cut
    assert r.chats[-1].response == ""  # "All green." not seen yet
    path.write_bytes(data)
    again = parse_claude(path, "/repo", r.resume_offset, base=r.resume_base)
    assert again.chats[-1].response == "All green."
    assert again.session == parse_claude(path, "/repo").session


def test_claude_complete_line_without_newline_is_read(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(BASIC.read_bytes().rstrip(b"\n"))
    r = parse_claude(path, "/repo")
    assert r.chats[-1].response == "All green." and r.end_offset == path.stat().st_size


def test_needs_restart_on_truncation_or_rewrite(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(BASIC.read_bytes())
    r = parse_claude(path)
    assert not needs_restart(path, r.resume_offset, r.head_hash)
    path.write_bytes(BASIC.read_bytes()[:100])
    assert needs_restart(path, r.resume_offset, r.head_hash)
    lines = BASIC.read_bytes().splitlines(keepends=True)
    path.write_bytes(b'{"type":"summary","summary":"new"}\n' + b"".join(lines[1:]))
    assert needs_restart(path, r.resume_offset, r.head_hash)


AGENTS = FIXTURES / "claude_agents"
AGENTS_SID = "a9a9a9a9-0000-4000-8000-000000000001"


def test_claude_subagent_files_are_merged_into_the_spawning_chat():
    r = parse_claude(AGENTS / f"{AGENTS_SID}.jsonl", "/repo")
    first, second = r.chats
    # agent-a1: the Task result names it (toolUseResult.agentId)
    assert first.tools_used == ["Task", "Grep"] and first.files_referenced == ["pkg"]
    assert (first.query_tokens, first.response_tokens) == (10 + 10 + 100, 10 + 10 + 20)
    # agent-b2: matched by the Task prompt; subagents/agent-c3: by time (latest chat started before it)
    assert second.tools_used == ["Task", "Read", "Write"]  # agents merged in the order they started
    assert set(second.files_referenced) == {"docs/index.md"} and second.files_modified == ["notes.md"]
    everything = [f for c in r.chats for f in c.files_referenced + c.files_modified]
    assert "warmup.md" not in everything  # ran before the first prompt
    assert "other.md" not in everything  # another session's agent
    assert r.session.query_tokens == sum(c.query_tokens for c in r.chats)
    plain = parse_claude(AGENTS / f"{AGENTS_SID}.jsonl", "/repo", subagents=False)
    assert [c.tools_used for c in plain.chats] == [["Task"], ["Task"]]


def test_agent_merge_does_not_double_count():
    run = parse_claude_agent(AGENTS / "agent-a1.jsonl", "/repo")
    assert run.agent_id == "a1" and run.prompt == "List the modules" and run.session_id == AGENTS_SID
    assert run.chat.tools_used == ["Grep"] and run.chat.files_referenced == ["pkg"]
    ex = Exchange("s:1", "s", "2025-02-01T10:00:00.000Z")
    ex.merge(run.exchange)
    ex.merge(run.exchange)
    chat = ex.to_chat("claude-code")
    assert chat.tools_used == ["Grep"] and (chat.query_tokens, chat.response_tokens) == (100, 20)


# --- Codex --------------------------------------------------------------------------------------------------------

def test_sample_codex_synthetic():
    path = sample("codex_rollout_daaain-synthetic-2026-01-02.jsonl")
    r = parse_codex(path, "/workspace/synthetic-project")
    [chat] = r.chats
    assert chat.query == "List the synthetic files."
    assert chat.response == "The synthetic files are alpha.txt and beta.txt."  # once, not twice
    assert chat.tools_used == ["exec_command", "apply_patch", "mcp__synthetic__lookup"]
    assert chat.files_modified == ["gamma.txt"]
    assert chat.id == "11111111-1111-4111-8111-111111111111:0" and chat.model == "synthetic-model"
    assert r.malformed == 0 and r.skipped >= 2  # reasoning, the unknown record type, the duplicate user text
    assert codex_session_cwd(path) == "/workspace/synthetic-project"


def test_sample_codex_real_structure_tokens():
    path = sample("codex_rollout_localpush_sanitized-real_2026-02-23T20-34-25.jsonl")
    r = parse_codex(path)
    [chat] = r.chats
    assert chat.query == "[REDACTED_MESSAGE len=98 sha=c002ff99]"  # from the event, not the injected context
    assert chat.response.count("[REDACTED_TEXT") == 6 and "REDACTED_MESSAGE" not in chat.response
    # last total_token_usage: input 298373 of which 238848 cached, output 1123 (events are written twice)
    assert (chat.query_tokens, chat.cache_read_tokens, chat.response_tokens) == (298373 - 238848, 238848, 1123)
    assert chat.tool_counts["mcp__cloud-associates__execute_workflow"] == 3
    assert r.session.branch == chat.branch == "main"
    assert r.session.model == "gpt-5.3-codex" and r.session.cwd == "/redacted/path/ea96e59ed9"
    assert r.session.id == "019c8bfe-ec25-79e0-97d7-bda6a9c575ff"


def test_codex_current_layout_fixture():
    path = FIXTURES / "codex_current.jsonl"
    r = parse_codex(path, "/repo")
    assert [c.query for c in r.chats] == ["Rename foo to bar", "Thanks, now commit"]
    first, second = r.chats
    assert first.response == "Renamed foo to bar."  # response_item and agent_message: one copy
    assert second.response == "Committed."  # only an agent_message event: used
    assert first.tools_used == ["shell", "apply_patch"]
    assert first.files_modified == ["src/x.py", "src/y.py", "old.py"] and first.files_referenced == ["README.md"]
    # token_count totals 1000/200/50 (twice), 2500/1200/90, 4000/2000/120
    assert (first.query_tokens, first.cache_read_tokens, first.response_tokens) == (1300, 1200, 90)
    assert (second.query_tokens, second.cache_read_tokens, second.response_tokens) == (700, 800, 30)
    assert r.session.query_tokens == 2000 and r.session.response_tokens == 120
    assert r.malformed == 1  # "{not json at all"; the unfinished last line is not counted
    assert first.model == "gpt-test" and first.branch == "dev" and first.timestamp == "2025-03-01T09:00:01.001Z"
    assert r.session.chat_count == 2 and r.session.started_at == "2025-03-01T09:00:00.000Z"


def test_codex_legacy_layout_fixture():
    path = FIXTURES / "codex_legacy.jsonl"
    r = parse_codex(path, "/srv/app")
    [chat] = r.chats
    assert chat.query == "Delete the temp file" and chat.response == "Deleted tmp/scratch.txt."
    assert chat.tools_used == ["shell", "local_shell"]
    assert chat.files_modified == ["tmp/scratch.txt", "done.flag"]
    assert r.session.id == "5f5f5f5f-0000-4000-8000-00000000aaaa" and r.session.branch == "legacy-branch"
    assert r.session.cwd == "/srv/app" and chat.cwd == "/srv/app"
    assert codex_session_cwd(path) == "/srv/app"
    assert r.skipped == 4  # two state markers, the environment context, reasoning


# --- aider --------------------------------------------------------------------------------------------------------

def test_aider_sessions_and_chats(tmp_path):
    path = FIXTURES / "aider_history.md"
    r = parse_aider(path, repo_root=str(FIXTURES))
    assert len(r.sessions) == 2  # the third session has no input
    assert [s.chat_count for s in r.sessions] == [2, 1]
    assert [c.query for c in r.chats] == ["Make add() handle None\nand keep the docstring", "thanks",
                                          "/ask what does util do?"]
    assert r.skipped == 1  # /add never reached the model
    first, second, third = r.chats
    assert first.files_modified == ["src/calc.py"]
    assert first.response.startswith("I'll update the function.") and ">>>>>>> REPLACE" in first.response
    assert (first.query_tokens, first.response_tokens) == (2500, 1234)
    assert (second.query_tokens, second.cache_read_tokens, second.response_tokens) == (3100, 1200, 20)
    assert third.files_referenced == ["docs/readme.md"] and third.files_modified == ["src/util.py"]
    assert [s.model for s in r.sessions] == ["gpt-4o", "claude-3-5-sonnet"] and third.model == "claude-3-5-sonnet"
    sid = r.sessions[0].id
    assert [c.id for c in r.chats[:2]] == [f"{sid}:0", f"{sid}:1"] and r.sessions[1].id != sid
    assert first.timestamp.endswith("Z") and first.assistant == "aider"

    # ids depend on content, not on where the file is, and appending a session changes no earlier id
    copy = tmp_path / "elsewhere" / ".aider.chat.history.md"
    copy.parent.mkdir()
    copy.write_text(path.read_text() + "\n# aider chat started at 2025-05-01 08:00:00\n\n#### hello\n\nHi.\n")
    again = parse_aider(copy)
    assert [c.id for c in again.chats[:3]] == [c.id for c in r.chats] and len(again.chats) == 4


def test_aider_time_out_of_range_is_left_empty(tmp_path):
    # A header time that no UTC time matches (year 1, a day east of Greenwich) gives a chat without a time: the
    # parse does not fail.
    path = tmp_path / ".aider.chat.history.md"
    path.write_text("# aider chat started at 0001-01-01 00:00:00\n\n#### hi\n\nHello.\n")
    east = dt.timezone(dt.timedelta(hours=5))
    r = parse_aider(path, tz=east)
    assert [c.query for c in r.chats] == ["hi"] and r.chats[0].timestamp == "" and r.sessions[0].started_at == ""
    assert parse_aider(path).chats[0].query == "hi"  # this machine's zone


def test_sample_aider_history():
    path = sample("aider_chat_history_zen-mcp-server.md")
    r = parse_aider(path, repo_root="/home/dragonfsky/git/github/zen-mcp-server")
    assert r.chats == []  # every input in it is an aider command (/add, /copy-context) without a reply
    assert r.skipped == 8
    assert len(r.sessions) == 2 and all(s.chat_count == 0 for s in r.sessions)
    assert r.sessions[0].model == "gemini/gemini-2.5-pro-preview-06-05"


# --- robustness, helpers, speed -------------------------------------------------------------------------------------

def test_garbage_never_raises(tmp_path):
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"\x00\xff garbage\n[1,2]\n42\n{\"type\": 5}\n{\"type\":\"user\",\"message\":\"str\"}\n"
                     b"{\"type\":\"assistant\",\"message\":{\"content\":7}}\n\n{\"payload\":[]}\n"
                     b"{\"type\":[\"x\"],\"payload\":{}}\n")
    c = parse_claude(junk)
    assert c.chats == [] and c.malformed == 5 and c.skipped == 3
    x = parse_codex(junk)
    assert x.chats == [] and x.malformed == 3
    a = parse_aider(junk)
    assert a.chats == [] and a.malformed == 1
    with pytest.raises(OSError):
        parse_claude(tmp_path / "missing.jsonl")


def test_shell_file_hints():
    assert shell_file_hints("rm -f a.txt b.txt") == ([], ["a.txt", "b.txt"])
    assert shell_file_hints("git mv old.py new.py && touch x") == ([], ["old.py", "new.py", "x"])
    assert shell_file_hints("sed -i 's/a/b/' f.py") == ([], ["f.py"])
    assert shell_file_hints("sed -n '1,9p' f.py | head -n 3") == (["f.py"], [])
    assert shell_file_hints("cd sub && cat a > ../b 2>/dev/null") == (["sub/a"], ["sub/../b"])
    assert shell_file_hints("cat <<'EOF' > out.md\nrm -rf everything\nEOF") == ([], ["out.md"])
    assert shell_file_hints("rm *.pyc $TMP/x; python -c 'import os'") == ([], [])
    assert shell_file_hints("grep -rn '#include' src include") == (["src", "include"], [])
    assert shell_file_hints('echo "unbalanced') == ([], [])
    assert ProjectPaths(None, "/repo", "/repo").relative("sub/../b") == "b"


def test_parse_speed(tmp_path):
    """At least 10 MB/s on ~10 MB built by repeating the shared samples (measured ~80 MB/s); without them, a looser
    bound on the fixture, which is unusually dense in shell commands (measured ~20 MB/s)."""
    claude_samples = sorted(SAMPLES.glob("claude-code_*.jsonl")) if SAMPLES.exists() else []
    data = b"".join(p.read_bytes() for p in claude_samples if "agent-" not in p.name)
    target, minimum = (10_000_000, 10_000_000) if data else (5_000_000, 5_000_000)
    data = data or BASIC.read_bytes()
    copies = target // len(data) + 1
    path = tmp_path / "big.jsonl"
    path.write_bytes(data * copies)
    start = time.perf_counter()
    r = parse_claude(path, "/repo")
    elapsed = time.perf_counter() - start
    assert r.chats and r.malformed == (0 if claude_samples else copies)  # the fixture has one malformed line
    assert path.stat().st_size / elapsed > minimum
