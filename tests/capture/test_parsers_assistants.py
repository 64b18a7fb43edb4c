"""Parsers on the hand-written fixtures of each assistant (tests/capture/fixtures/transcripts/<name>/README.md says
what each exercises and which public source its structure was checked against)."""

from __future__ import annotations

from pathlib import Path

from git_ml.capture.transcripts import claude, codex, registry

FIX = Path(__file__).parent / "fixtures" / "transcripts"
CLAUDE = FIX / "claude" / ".claude" / "projects"
CODEX = FIX / "codex" / ".codex" / "sessions" / "2026" / "03" / "14"
REPO = "/home/me/demo"  # this checkout; the fixtures were recorded in /home/dev/projects/demo


def test_registry_lists_every_assistant():
    assert registry.NAMES == ("claude", "codex", "gemini", "copilot", "cursor", "opencode", "amp", "cline", "roo",
                              "windsurf", "continue", "droid", "aider")
    for module in registry.available():
        assert module.NAME in registry.NAMES and module.ASSISTANT
        assert callable(module.parse) and callable(module.sniff) and callable(module.locations)


def test_claude_prompts_are_what_a_person_typed():
    path = CLAUDE / "-home-dev-projects-demo" / "3f6a2b1c-9d8e-4f70-a1b2-c3d4e5f60718.jsonl"
    r = claude.parse(path, REPO)
    queries = [c.query for c in r.chats]
    assert len(queries) == 4  # no compaction summary, interruption, /exit echo, caveat, title line
    assert not any("continued from a previous conversation" in q or "interrupted" in q for q in queries)
    assert queries[1].startswith("Use the Write tool instead") and r.chats[1].images == 1
    assert r.chats[0].files_modified == ["src/header.css", "docs/header.md"]  # absolute and relative: both relative
    assert "Grep" in r.chats[1].tools_used  # the sub-agent's work, merged
    assert r.session.chat_count == 4 and r.malformed == 0


def test_codex_newer_rollout_and_subagent():
    main = CODEX / "rollout-2026-03-14T10-00-00-019d0a11-2b3c-7d4e-8f50-6a7b8c9d0e1f.jsonl"
    child = CODEX / "rollout-2026-03-14T10-02-16-019d0a14-5e6f-7a8b-9c0d-1e2f3a4b5c6d.jsonl"
    r = codex.parse(main, REPO)
    assert [c.query[:20] for c in r.chats] == ["Make the header matc", "rename .header to .s", "ok, do the rename bu"]
    first, _, third = r.chats
    assert first.images == 1 and "<image" not in first.query
    assert first.files_modified == ["src/header.css", "docs/header.md"]  # relative and absolute apply_patch paths
    assert "exec_command" in third.tools_used and third.files_referenced == ["src/header.css"]  # the sub-agent's
    alone = codex.parse(child, REPO)
    assert alone.sessions == [] and alone.chats == []  # a sub-agent rollout is never a session of its own
    assert codex.sniff(main) and not claude.sniff(main) and claude.sniff(
        CLAUDE / "-home-dev-projects-demo" / "3f6a2b1c-9d8e-4f70-a1b2-c3d4e5f60718.jsonl")


GEMINI = FIX / "gemini" / "home" / ".gemini" / "tmp"


def test_gemini_jsonl_rewind_compression_subagent_image():
    from git_ml.capture.transcripts import gemini

    path = GEMINI / "demo" / "chats" / "session-2026-05-04T09-12-ebc39812.jsonl"
    assert gemini.sniff(path) and not claude.sniff(path) and not codex.sniff(path)
    r = gemini.parse(path, REPO)
    # m-u1 (its typed text, not the @file expansion), m-u2 (image), m-u3, m-u6; m-u4 rewound, /compress and the
    # <state_snapshot> summary are no prompts; the truncated last line is malformed
    assert [c.query for c in r.chats] == ["@src/cli.py add a --verbose flag and tell me what changed",
                                          "Here is a screenshot of the current help text; does anything else "
                                          "print progress?", "write a short docs/USAGE.md", "thanks, that's all"]
    first, second, third, _ = r.chats
    assert r.malformed == 1 and r.session.cwd == "/home/dev/projects/demo"  # from .project_root
    assert first.files_modified == ["src/cli.py"] and first.files_referenced == ["src/cli.py"]
    assert first.tools_used == ["read_file", "replace"] and first.model == "gemini-2.5-pro"
    # input includes cached; a message id written three times counts once (its last copy)
    assert (first.query_tokens, first.cache_read_tokens) == (9120, 16100)
    assert second.images == 1 and "grep_search" in second.tools_used  # the sub-agent's call, merged
    assert third.files_modified == [] and third.response == ""  # cancelled write; the summary's reply is not its
    assert r.session.id == "ebc39812-a947-4a42-9b0f-701477494459" and r.session.chat_count == 4
    # the sub-agent's own file is no session
    [sub] = (GEMINI / "demo" / "chats" / r.session.id).glob("*.jsonl")
    assert gemini.parse(sub, REPO).sessions == []


def test_gemini_legacy_json_in_a_hash_folder():
    from git_ml.capture.transcripts import gemini

    [path] = GEMINI.glob("db5f*/chats/session-*.json")
    assert gemini.sniff(path)
    r = gemini.parse(path, "/home/dev/projects/demo")  # sha256 of this root is the folder's projectHash
    assert r.session.cwd == "/home/dev/projects/demo"
    assert [c.files_modified for c in r.chats] == [[], ["NOTES.md"]]
    assert r.chats[0].files_referenced == ["src/cli.py"]  # the older absolute_path argument
    assert gemini.parse(path, "/elsewhere").session.cwd is None


COPILOT = FIX / "copilot" / "home" / ".copilot" / "session-state"


def test_copilot_events_subagent_abort_compaction_image():
    from git_ml.capture.transcripts import copilot

    path = COPILOT / "7b1f0c2e-4d5a-4e8b-9c6d-2a3b4c5d6e7f" / "events.jsonl"
    assert copilot.sniff(path) and not any(m.sniff(path) for m in (claude, codex))
    r = copilot.parse(path, REPO)
    assert [c.query for c in r.chats] == ["add a --verbose flag to src/cli.py", "does the help output in this "
                                          "screenshot look right? see @README.md too", "ok, create docs/USAGE.md again"]
    first, second, third = r.chats
    assert first.files_modified == ["src/cli.py"] and first.files_referenced == ["src/cli.py"]
    assert (first.query_tokens, first.response_tokens, first.cache_read_tokens) == (140, 48, 11000)
    assert second.images == 1 and second.files_referenced == ["README.md"] and "grep" in second.tools_used
    assert second.files_modified == []  # the create was cancelled by the abort
    assert "Help text comes from" not in second.response  # the sub-agent's text is not the reply
    assert third.files_modified == ["docs/USAGE.md"] and third.model == "gpt-5"
    assert r.session.cwd == "/home/dev/projects/demo" and r.malformed == 1


def test_copilot_older_bare_layout():
    from git_ml.capture.transcripts import copilot

    path = COPILOT / "0c9d8e7f-1a2b-4c3d-8e9f-112233445566.jsonl"
    r = copilot.parse(path, REPO)
    assert r.session.cwd == "/home/dev/projects/demo"  # from the trust notice
    assert r.chats[0].files_referenced == ["README.md"]  # arguments as a JSON string
    assert copilot.candidates(COPILOT) == [COPILOT / "7b1f0c2e-4d5a-4e8b-9c6d-2a3b4c5d6e7f" / "events.jsonl", path]


def cursor_fixtures(tmp_path: Path) -> Path:
    import subprocess
    import sys

    subprocess.run([sys.executable, str(FIX / "cursor" / "make_cursor_fixtures.py"), str(tmp_path)], check=True,
                   capture_output=True)
    return tmp_path


def test_cursor_editor_database(tmp_path):
    from git_ml.capture.transcripts import cursor

    db = cursor_fixtures(tmp_path) / "Cursor" / "User" / "globalStorage" / "state.vscdb"
    assert cursor.sniff(db) and not any(m.sniff(db) for m in (claude, codex))
    r = cursor.parse(db, REPO)
    by_id = {s.id[:8]: s for s in r.sessions}
    assert by_id["3c1d8e2a"].cwd == "/home/dev/projects/demo"  # workspaceIdentifier
    assert by_id["9a7f0b3c"].cwd == "/home/dev/projects/other"  # legacy row: via workspaceStorage
    first = next(c for c in r.chats if c.session_id.startswith("3c1d8e2a"))
    assert first.query.startswith("Make the retry delay configurable") and first.images == 1
    assert first.files_modified == ["src/net.py", "README.md"]  # edit_file_v2 absolute, search_replace relative
    assert first.files_referenced == ["src/net.py"] and first.model == "claude-4.5-sonnet-thinking"
    assert (first.query_tokens, first.response_tokens) == (18234, 412)
    only = cursor.parse(db, REPO, only={by_id["3c1d8e2a"].id})
    assert [s.id for s in only.sessions] == [by_id["3c1d8e2a"].id]


def test_cursor_agent_transcript_and_cli_store(tmp_path):
    from git_ml.capture.transcripts import cursor

    root = cursor_fixtures(tmp_path) / "dot-cursor"
    [transcript] = (root / "projects").glob("*/agent-transcripts/*/*.jsonl")
    r = cursor.parse(transcript, REPO)
    [chat] = r.chats  # the injected "<user_query>The above subagent result..." is no prompt
    assert chat.query == "add a /health route like in the screenshot" and chat.images == 1
    assert chat.timestamp == "2026-06-02T07:15:00Z"  # 9:15 AM (UTC+2)
    assert chat.files_modified == ["src/routes.py", "README.md"] and "Glob" in chat.tools_used  # sub-agent merged
    assert r.session.cwd == "/home/dev/projects/demo"  # the folder's slug matched to the paths it names
    [store] = (root / "chats").glob("*/*/store.db")
    assert cursor.sniff(store)
    s = cursor.parse(store, REPO)
    assert [c.query for c in s.chats] == ["bump the version in pyproject.toml to 0.3.0"]  # <user_info> injected
    assert s.chats[0].files_modified == ["pyproject.toml"] and s.session.cwd == "/home/dev/projects/other"
    assert s.session.model == "gpt-5"
