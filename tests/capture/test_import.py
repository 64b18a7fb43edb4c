"""`git ml capture import`: the registry, refusals, idempotency, skipping unchanged files, the path rule."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from git_ml.capture.transcripts.paths import ProjectPaths
from git_ml.store.core import DATA_REF, Store

FIXTURES = Path(__file__).parent / "fixtures" / "transcripts"
OLD_LAYOUT = FIXTURES / "claude" / ".claude" / "projects" / "-home-dev-projects-demo-old"


def stored(repo, stream):
    return {r.id: r for r in Store(repo.open()).iter_records(stream)}


def claude_line(sid: str, n: int, cwd: str, kind: str, message: dict, ts: str) -> str:
    return json.dumps({"parentUuid": None, "isSidechain": False, "type": kind, "cwd": cwd, "sessionId": sid,
                       "uuid": f"u-{n}", "timestamp": ts, "message": message})


def claude_session(path: Path, sid: str, cwd: str, edit: str) -> Path:
    """One prompt whose reply edits ``edit`` (an absolute path as Claude Code writes it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [claude_line(sid, 1, cwd, "user", {"role": "user", "content": "Change the header"},
                         "2026-01-15T10:50:00.000Z"),
             claude_line(sid, 2, cwd, "assistant", {"id": "m1", "role": "assistant", "model": "claude-test",
                         "content": [{"type": "tool_use", "id": "t1", "name": "Edit",
                                      "input": {"file_path": edit, "old_string": "a", "new_string": "b"}},
                                     {"type": "text", "text": "Done."}]}, "2026-01-15T10:51:00.000Z")]
    path.write_text("\n".join(lines) + "\n")
    return path


# --- the path rule ------------------------------------------------------------------------------------------------

def test_path_rule_another_machine_subdirectory_and_worktree(tmp_path):
    # the example: recorded on another machine, imported into /home/me/demo
    p = ProjectPaths(None, "/Users/someone/projects/demo", "/home/me/demo")
    assert p.relative("/Users/someone/projects/demo/index.ts") == "index.ts"
    assert p.relative("src/a.ts") == "src/a.ts" and p.relative("/etc/hosts") is None
    # a subdirectory cwd of another machine: the root is the component named like this repository
    sub = ProjectPaths(None, "/Users/someone/projects/demo/web", "/home/me/demo")
    assert sub.root == "/Users/someone/projects/demo"
    assert sub.relative("app.ts") == "web/app.ts" and sub.relative("../index.ts") == "index.ts"
    # the root the transcript names wins
    named = ProjectPaths("/srv/x", "/srv/x/a/b", "/home/me/demo")
    assert named.relative("c.py") == "a/b/c.py"
    # a linked worktree that exists here: the nearest .git above the cwd
    main = tmp_path / "main"
    main.mkdir()
    subprocess.run(["git", "init", "-q", str(main)], check=True)
    subprocess.run(["git", "-C", str(main), "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    wt = tmp_path / "wt"
    subprocess.run(["git", "-C", str(main), "worktree", "add", "-q", str(wt)], check=True)
    (wt / "pkg").mkdir()
    linked = ProjectPaths(None, str(wt / "pkg"), str(main))
    assert linked.root == str(wt) and linked.relative(str(wt / "pkg" / "m.py")) == "pkg/m.py"
    assert linked.relative("n.py") == "pkg/n.py"


def test_import_from_another_checkout_links_by_relative_path(repo, tmp_path):
    repo.commit("initial", {"index.ts": "a\n"}, date="2026-01-15T09:00:00+0000")
    sha = repo.commit("header", {"index.ts": "b\n"}, date="2026-01-15T10:55:00+0000")
    assert repo.run("git-ml-capture", "--backfill").returncode == 0
    sid = "0a0a0a0a-0000-4000-8000-000000000001"
    path = claude_session(tmp_path / "t" / f"{sid}.jsonl", sid, "/Users/someone/projects/demo",
                          "/Users/someone/projects/demo/index.ts")
    out = repo.run("git-ml-capture", "import", "--json", str(path))
    assert out.returncode == 0, out.stderr
    [chat] = stored(repo, "chats").values()
    assert chat.files_modified == ["index.ts"]
    assert f"{sha}:{chat.id}" in stored(repo, "links")


# --- refusals -------------------------------------------------------------------------------------------------------

def test_wrong_format_is_refused_and_nothing_stored(repo, tmp_path):
    repo.commit("initial", {"a": "a\n"})
    aider = FIXTURES / "aider_history.md"
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("hello\nthis is not a transcript\n")
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 8)
    before = repo.git("for-each-ref", "refs/ml")
    for args in (["--from", "codex", str(aider)], ["--from", "claude", str(garbage)], [str(garbage)],
                 [str(binary)], ["--from", "gemini", str(binary)]):
        out = repo.run("git-ml-capture", "import", *args)
        assert out.returncode == 1, (args, out)
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert repo.git("for-each-ref", "refs/ml") == before


def test_a_sub_agent_file_named_alone_points_at_its_session(repo, tmp_path):
    repo.commit("initial", {"a": "a\n"})
    agents = FIXTURES / "claude_agents"
    session = agents / "a9a9a9a9-0000-4000-8000-000000000001.jsonl"
    before = repo.git("for-each-ref", "refs/ml")
    for part in (agents / "agent-a1.jsonl", agents / session.stem / "subagents" / "agent-c3.jsonl"):
        for how in (["--from", "claude"], []):
            out = repo.run("git-ml-capture", "import", *how, str(part))
            assert out.returncode == 1 and "Traceback" not in out.stderr
            assert out.stderr.strip().endswith(f"a Claude Code sub-agent's file; import its session instead: {session}")
    chats = FIXTURES / "gemini" / "home" / ".gemini" / "tmp" / "demo" / "chats"
    part = chats / "ebc39812-a947-4a42-9b0f-701477494459" / "3d9e61b0-27c4-4f4e-8d0a-9a1c55e2f7b3.jsonl"
    out = repo.run("git-ml-capture", "import", str(part))
    assert out.returncode == 1
    assert out.stderr.strip().endswith(f"a Gemini CLI sub-agent's file; import its session instead: "
                                       f"{chats / 'session-2026-05-04T09-12-ebc39812.jsonl'}")
    alone = tmp_path / "agent-a1.jsonl"  # copied without its session
    shutil.copy(agents / "agent-a1.jsonl", alone)
    out = repo.run("git-ml-capture", "import", str(alone))
    assert out.returncode == 1 and f"({tmp_path / session.name}, not found)" in out.stderr
    assert repo.git("for-each-ref", "refs/ml") == before


def test_older_claude_layout_is_idempotent(repo, tmp_path):
    repo.commit("initial", {"a": "a\n"})
    folder = tmp_path / "proj"
    shutil.copytree(OLD_LAYOUT, folder)
    first = json.loads(repo.run("git-ml-capture", "import", "--json", str(folder)).stdout)
    assert first["files"] == 1 and first["sessions"] == 1  # the agent file is merged, never its own session
    [session] = stored(repo, "sessions").values()
    assert "agent-" not in session.transcript_path and session.chat_count >= 1 and session.model
    tip = repo.git("rev-parse", DATA_REF)
    for _ in range(2):
        again = json.loads(repo.run("git-ml-capture", "import", "--json", str(folder)).stdout)
        assert again["sessions"] == 0 and again["chats"] == 0
        assert repo.git("rev-parse", DATA_REF) == tip
    again = json.loads(repo.run("git-ml-capture", "import", "--rescan", "--json", str(folder)).stdout)
    assert again["sessions"] == 0 and again["chats"] == 0 and repo.git("rev-parse", DATA_REF) == tip
    # naming the agent file itself is refused
    [agent] = folder.glob("agent-*.jsonl")
    assert repo.run("git-ml-capture", "import", "--from", "claude", str(agent)).returncode == 1


def test_a_parser_failing_on_one_unit_leaves_only_that_unit(repo, tmp_path):
    from types import SimpleNamespace

    from git_ml.capture.importer import import_transcripts
    from git_ml.capture.transcripts import claude

    repo.commit("initial", {"a": "a\n"})
    session = claude_session(tmp_path / "s1.jsonl", "a1b2c3d4-0000-4000-8000-000000000001", str(repo.path),
                             str(repo.path / "a"))

    def fails(path, root):
        raise TypeError("'<' not supported between instances of 'dict' and 'str'")

    broken = SimpleNamespace(NAME="opencode", parse=fails)
    report = import_transcripts(repo.open(), [(broken, tmp_path / "odd"), (claude, session)])
    assert report.errors == [f"{tmp_path / 'odd'}: not read, its opencode parser failed on it (TypeError)"]
    assert report.files == 1 and len(stored(repo, "chats")) == 1


def test_invalid_utf8_line_costs_that_line_only(repo, tmp_path):
    repo.commit("initial", {"a": "a\n"})
    sid = "0b0b0b0b-0000-4000-8000-000000000002"
    path = claude_session(tmp_path / f"{sid}.jsonl", sid, str(repo.path), str(repo.path / "a"))
    bad = claude_line(sid, 3, str(repo.path), "user", {"role": "user", "content": "broken XX"},
                      "2026-01-15T10:52:00.000Z").encode().replace(b"XX", b"\xff\xfe")
    good = claude_line(sid, 4, str(repo.path), "user", {"role": "user", "content": "next"},
                       "2026-01-15T10:53:00.000Z").encode()
    with open(path, "ab") as fh:
        fh.write(bad + b"\n" + good + b"\n")
    out = repo.run("git-ml-capture", "import", "--json", str(path))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["malformed_lines"] == 1 and data["chats"] == 2
    # the Stop hook reads the same file the same way
    payload = {"session_id": sid, "transcript_path": str(path), "cwd": str(repo.path), "hook_event_name": "Stop"}
    assert repo.run("git-ml-capture", "session", input=json.dumps(payload)).returncode == 0
    assert "UnicodeDecodeError" not in (repo.path / ".git" / "ml" / "capture.log").read_text() \
        if (repo.path / ".git" / "ml" / "capture.log").exists() else True


# --- default search -------------------------------------------------------------------------------------------------

def test_default_search_keeps_this_repository_and_its_worktrees(repo, tmp_path, sealed_env):
    repo.commit("initial", {"a": "a\n"})
    wt = tmp_path / "wt"
    repo.git("worktree", "add", "-q", str(wt))
    projects = sealed_env / ".claude" / "projects"
    mine = "0c0c0c0c-0000-4000-8000-000000000003"
    in_wt = "0c0c0c0c-0000-4000-8000-000000000004"
    other = "0c0c0c0c-0000-4000-8000-000000000005"
    claude_session(projects / "p1" / f"{mine}.jsonl", mine, str(repo.path.resolve()), str(repo.path / "a"))
    claude_session(projects / "p2" / f"{in_wt}.jsonl", in_wt, str(wt.resolve() / "sub"), str(wt / "a"))
    claude_session(projects / "p3" / f"{other}.jsonl", other, "/elsewhere/project", "/elsewhere/project/x")
    first = json.loads(repo.run("git-ml-capture", "import", "--json").stdout)
    assert set(stored(repo, "sessions")) == {mine, in_wt}
    assert first["files"] == 2
    chats = stored(repo, "chats")
    assert [c.files_modified for c in chats.values()] == [["a"], ["a"]], [(c.cwd, c.files_modified) for c in chats.values()]
    second = json.loads(repo.run("git-ml-capture", "import", "--json").stdout)
    assert second["files"] == 0 and second["unchanged_files"] == 3


# --- every assistant, end to end --------------------------------------------------------------------------------------

def test_import_every_assistant_stats_and_export(repo, tmp_path):
    repo.commit("initial", {"a": "a\n"})
    gemini = FIXTURES / "gemini" / "home" / ".gemini" / "tmp" / "demo" / "chats" / \
        "session-2026-05-04T09-12-ebc39812.jsonl"
    copilot = FIXTURES / "copilot" / "home" / ".copilot" / "session-state"
    codex = FIXTURES / "codex" / ".codex"
    out = repo.run("git-ml-capture", "import", "--json", str(gemini), str(copilot), str(codex))
    assert out.returncode == 0, out.stderr
    stats = json.loads(repo.run("git-ml-stats", "--json").stdout)
    assert stats["chats_by_assistant"] == {"gemini-cli": 4, "copilot-cli": 5, "codex": 3}
    assert "chats by assistant: copilot-cli 5, gemini-cli 4, codex 3" in repo.run("git-ml-stats").stdout
    rows = [json.loads(line) for line in repo.run("git-ml-export", "-t", "chat", "-o", "-").stdout.splitlines()]
    assert {r["context"]["assistant"] for r in rows} == {"gemini-cli", "copilot-cli", "codex"}
    # secrets in any assistant's text are redacted the same way
    secret = tmp_path / "session-2026-05-04T09-12-ebc39812.jsonl"
    secret.write_text(gemini.read_text().replace("thanks, that's all", "thanks, key AKIAZ3MMQ7RTP4XW2KQF"))
    assert repo.run("git-ml-capture", "import", "--from", "gemini", str(secret)).returncode == 0
    [chat] = [c for c in stored(repo, "chats").values() if c.query.startswith("thanks, key")]
    assert "AKIAZ3MMQ7RTP4XW2KQF" not in chat.query and chat.redactions.get("aws-access-key") == 1


def test_gemini_and_cursor_hooks_install_capture_uninstall(repo, tmp_path, sealed_env):
    repo.commit("initial", {"src/cli.py": "a\n"})
    out = repo.run("git-ml-install-hooks", "--gemini", "--cursor", "--copilot")
    assert out.returncode == 0, out.stderr
    settings = json.loads((repo.path / ".gemini" / "settings.json").read_text())
    [group] = settings["hooks"]["AfterAgent"]
    assert group["hooks"][0]["command"].endswith("session --from gemini")
    cursor_hooks = json.loads((repo.path / ".cursor" / "hooks.json").read_text())
    assert cursor_hooks["version"] == 1 and cursor_hooks["hooks"]["stop"][0]["command"].endswith("--from cursor")
    assert (repo.path / ".github" / "hooks" / "git-ml.json").exists()
    assert repo.git("status", "--porcelain") == ""  # created by us: kept out of git (info/exclude)
    again = repo.run("git-ml-install-hooks", "--gemini", "--no-git")
    assert "already installed" in again.stdout
    # an AfterAgent event: the chat file is read and stored
    chat = tmp_path / "chat" / "session-2026-05-04T09-12-ebc39812.jsonl"
    chat.parent.mkdir()
    src = FIXTURES / "gemini" / "home" / ".gemini" / "tmp" / "demo" / "chats" / chat.name
    chat.write_text(src.read_text().replace("/home/dev/projects/demo", str(repo.path)))
    event = {"session_id": "ebc39812-a947-4a42-9b0f-701477494459", "transcript_path": str(chat),
             "cwd": str(repo.path), "hook_event_name": "AfterAgent"}
    res = repo.run("git-ml-capture", "session", "--from", "gemini", input=json.dumps(event),
                   env={"GIT_ML_HOOK_SYNC": "1"})
    assert res.returncode == 0 and res.stdout.strip() == "{}"
    chats = stored(repo, "chats")
    assert len(chats) == 4 and all(c.assistant == "gemini-cli" for c in chats.values())
    assert any(c.files_modified == ["src/cli.py"] for c in chats.values())
    tip = repo.git("rev-parse", DATA_REF)
    repo.run("git-ml-capture", "session", "--from", "gemini", input=json.dumps(event), env={"GIT_ML_HOOK_SYNC": "1"})
    assert repo.git("rev-parse", DATA_REF) == tip  # nothing new
    # garbage on stdin never fails the assistant
    bad = repo.run("git-ml-capture", "session", "--from", "cursor", input="not json", env={"GIT_ML_HOOK_SYNC": "1"})
    assert bad.returncode == 0
    # doctor's view
    from git_ml.hooks import assistants

    status = assistants.status(repo.open())
    assert status["gemini"] == status["cursor"] == status["copilot"] == "installed"
    assert status["codex"] == "no hooks" and status["claude"] == "missing"
    out = repo.run("git-ml-install-hooks", "--uninstall")
    assert out.returncode == 0, out.stderr
    assert not (repo.path / ".gemini" / "settings.json").exists()
    assert not (repo.path / ".cursor" / "hooks.json").exists()
    assert not (repo.path / ".github" / "hooks" / "git-ml.json").exists()


def test_uninstall_keeps_other_hooks(repo):
    repo.commit("initial", {"a": "a\n"})
    other = {"hooks": {"AfterAgent": [{"matcher": "*", "hooks": [{"type": "command", "command": "notify"}]}]},
             "theme": "dark"}
    (repo.path / ".gemini").mkdir()
    (repo.path / ".gemini" / "settings.json").write_text(json.dumps(other))
    assert repo.run("git-ml-install-hooks", "--gemini", "--no-git").returncode == 0
    assert repo.run("git-ml-install-hooks", "--uninstall", "--no-git").returncode == 0
    assert json.loads((repo.path / ".gemini" / "settings.json").read_text()) == other


def test_cursor_stop_hook_reads_the_editor_database(repo, tmp_path, sealed_env):
    import subprocess
    import sys

    repo.commit("initial", {"src/net.py": "a\n"})
    out = tmp_path / "cur"
    subprocess.run([sys.executable, str(FIXTURES / "cursor" / "make_cursor_fixtures.py"), str(out)], check=True,
                   capture_output=True)
    shutil.copytree(out / "Cursor", sealed_env / ".config" / "Cursor")
    event = json.loads((out / "dot-cursor" / "hook-payloads" / "stop.json").read_text())
    event["workspace_roots"] = [str(repo.path)]
    res = repo.run("git-ml-capture", "session", "--from", "cursor", input=json.dumps(event))
    assert res.returncode == 0 and res.stdout.strip() == "{}"
    chats = stored(repo, "chats")
    assert [c.session_id for c in chats.values()] == [event["conversation_id"]]  # that conversation only
    [chat] = chats.values()
    assert chat.assistant == "cursor" and chat.files_modified == ["src/net.py", "README.md"]
