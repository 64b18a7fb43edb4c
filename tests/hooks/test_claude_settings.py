"""Claude Code settings: merging our hooks into .claude/settings(.local).json without disturbing anything else."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from git_ml.errors import GitMlError
from git_ml.hooks import claude as cs
from git_ml.hooks.git import sh_quote
from git_ml.repo import open_repository

FAKE_CAPTURE = """#!/bin/sh
printf '%s\\n' "$@" > {log}/args
pwd > {log}/cwd
cat > {log}/stdin
"""


@pytest.fixture
def sealed(sealed_env):
    """The hermetic environment of conftest.py: temporary HOME, no system config, fixed identities and dates."""
    return sealed_env


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_fake(directory: Path, log: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    log.mkdir(parents=True, exist_ok=True)
    exe = directory / "git-ml-capture"
    exe.write_text(FAKE_CAPTURE.format(log=sh_quote(str(log))))
    exe.chmod(0o755)
    return exe


@pytest.fixture
def env(sealed, tmp_path, monkeypatch):
    exe = make_fake(tmp_path / "exe dir", tmp_path / "log")
    monkeypatch.setenv("GIT_ML_EXEC_DIR", str(exe.parent))
    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    git(root, "commit", "-q", "--allow-empty", "-m", "initial")

    class Env:
        pass

    e = Env()
    e.tmp, e.exe, e.root, e.log = tmp_path, exe, root, tmp_path / "log"
    e.repo = open_repository(root)
    e.local = root / ".claude" / "settings.local.json"
    e.shared = root / ".claude" / "settings.json"
    e.command = f'"{exe}" session'
    return e


USER_SETTINGS = """{
  "permissions": {
    "allow": ["Bash(npm run test:*)"],
    "deny": []
  },
  "hooks": {
    "PreToolUse": [
      {
        "matcher": "Bash",
        "hooks": [{"type": "command", "command": "echo pre"}]
      }
    ],
    "Stop": [
      {
        "hooks": [{"type": "command", "command": "notify-send done"}]
      }
    ]
  },
  "env": {"FOO": "bär"},
  "model": "opus"
}
"""


def test_fresh_install_creates_local_file(env):
    actions = cs.install_claude_hooks(env.repo)
    assert [(a.event, a.action) for a in actions[:4]] == [(e, "installed") for e in cs.EVENTS]
    assert all(a.path == env.local for a in actions[:4])
    assert not env.shared.exists()
    text = env.local.read_text()
    assert text.endswith("}\n")
    assert '\n  "hooks": {\n    "SessionStart": [' in text  # 2-space indentation
    data = json.loads(text)
    assert list(data["hooks"]) == list(cs.EVENTS)
    for event in cs.EVENTS:
        (group,) = data["hooks"][event]
        assert group["hooks"] == [{"type": "command", "command": env.command, "timeout": 30}]
        if event == "Stop":
            assert "matcher" not in group
        else:
            assert group["matcher"] == ""
    assert env.command.endswith('git-ml-capture" session')
    assert os.path.isabs(json.loads(text)["hooks"]["Stop"][0]["hooks"][0]["command"].split('"')[1])


def test_local_file_is_ignored_by_git(env):
    actions = cs.install_claude_hooks(env.repo)
    assert actions[-1].event == "git info/exclude"
    status = git(env.root, "status", "--porcelain", "--untracked-files=all").stdout.decode()
    assert ".claude" not in status
    assert (env.root / ".git" / "info" / "exclude").read_text().count("/.claude/settings.local.json") == 1
    # A second install adds nothing more.
    assert all(a.event in cs.EVENTS for a in cs.install_claude_hooks(env.repo))
    assert (env.root / ".git" / "info" / "exclude").read_text().count("/.claude/settings.local.json") == 1


def test_shared_file_is_not_excluded(env):
    actions = cs.install_claude_hooks(env.repo, shared=True)
    assert {a.path for a in actions} == {env.shared}
    assert not env.local.exists()
    status = git(env.root, "status", "--porcelain", "--untracked-files=all").stdout.decode()
    assert ".claude/settings.json" in status


def test_merge_keeps_other_settings_and_hooks(env):
    env.local.parent.mkdir()
    env.local.write_text(USER_SETTINGS)
    cs.install_claude_hooks(env.repo)
    data = json.loads(env.local.read_text())
    original = json.loads(USER_SETTINGS)
    assert list(data) == ["permissions", "hooks", "env", "model"]
    assert data["permissions"] == original["permissions"]
    assert data["env"] == {"FOO": "bär"} and data["model"] == "opus"
    assert "bär" in env.local.read_text()  # not escaped to \\u00e4
    assert data["hooks"]["PreToolUse"] == original["hooks"]["PreToolUse"]
    assert list(data["hooks"]) == ["PreToolUse", "Stop", "SessionStart", "SubagentStop", "SessionEnd"]
    stop = data["hooks"]["Stop"]
    assert stop[0] == original["hooks"]["Stop"][0]
    assert stop[1]["hooks"][0]["command"] == env.command


def test_idempotent_and_path_update(env, tmp_path):
    env.local.parent.mkdir()
    env.local.write_text(USER_SETTINGS)
    cs.install_claude_hooks(env.repo)
    first = env.local.read_bytes()
    mtime = env.local.stat().st_mtime_ns
    again = cs.install_claude_hooks(env.repo)
    assert {a.action for a in again} == {"already installed"}
    assert env.local.read_bytes() == first
    assert env.local.stat().st_mtime_ns == mtime

    moved = make_fake(tmp_path / "moved", tmp_path / "log2")
    updated = cs.install_claude_hooks(env.repo, exec_dir=moved.parent)
    assert {a.action for a in updated} == {"updated"}
    data = json.loads(env.local.read_text())
    for event in cs.EVENTS:
        commands = [h["command"] for g in data["hooks"][event] for h in g["hooks"] if cs.is_our_command(h["command"])]
        assert commands == [f'"{moved}" session']
    assert len(data["hooks"]["Stop"]) == 2  # updated in place, not appended


def test_duplicates_collapse_to_one(env):
    data = {"hooks": {"Stop": [
        {"hooks": [{"type": "command", "command": "git-ml-capture session"}]},
        {"hooks": [{"type": "command", "command": "/old/git-ml-capture session"}, {"type": "command", "command": "x"}]},
    ]}}
    results = dict(cs.merge_hooks(data, env.command))
    assert results["Stop"] == "updated"
    assert data["hooks"]["Stop"] == [
        {"hooks": [{"type": "command", "command": env.command}]},
        {"hooks": [{"type": "command", "command": "x"}]},
    ]


def test_uninstall_removes_only_ours(env):
    env.local.parent.mkdir()
    env.local.write_text(USER_SETTINGS)
    cs.install_claude_hooks(env.repo)
    # A hand edit put our command into a group next to someone else's hook.
    data = json.loads(env.local.read_text())
    data["hooks"]["PreToolUse"][0]["hooks"].append({"type": "command", "command": "git-ml-capture session"})
    env.local.write_text(json.dumps(data, indent=2) + "\n")

    actions = cs.uninstall_claude_hooks(env.repo)
    assert sorted(a.event for a in actions) == sorted(["PreToolUse", *cs.EVENTS])
    assert {a.action for a in actions} == {"removed"}
    assert json.loads(env.local.read_text()) == json.loads(USER_SETTINGS)
    assert {a.action for a in cs.uninstall_claude_hooks(env.repo)} == {"not installed"}


def test_uninstall_drops_what_it_emptied_and_keeps_other_empties(env):
    # Empty lists and groups that uninstall did not empty itself stay as they were.
    data = {"hooks": {"Stop": [], "PreToolUse": [{"matcher": "", "hooks": []}]}, "model": "x"}
    cs.merge_hooks(data, env.command)
    assert len(data["hooks"]["Stop"]) == 1
    del data["hooks"]["Stop"]
    cs.remove_hooks(data)
    assert data == {"hooks": {"PreToolUse": [{"matcher": "", "hooks": []}]}, "model": "x"}
    # Everything emptied by the removal goes, up to the "hooks" object itself.
    data = {"model": "x"}
    cs.merge_hooks(data, env.command)
    cs.remove_hooks(data)
    assert data == {"model": "x"}


def test_uninstall_deletes_file_holding_only_ours(env):
    cs.install_claude_hooks(env.repo)
    (env.root / ".claude" / "commands").mkdir()
    cs.uninstall_claude_hooks(env.repo)
    assert not env.local.exists()
    assert (env.root / ".claude" / "commands").is_dir()  # .claude kept: not empty
    cs.install_claude_hooks(env.repo, shared=True)
    (env.root / ".claude" / "commands").rmdir()
    cs.uninstall_claude_hooks(env.repo, shared=True)
    assert not (env.root / ".claude").exists()


@pytest.mark.parametrize("bad", ["{", '{"hooks": [1,]}', "// comment\n{}", "[1, 2]", '{"hooks": []}'])
def test_invalid_json_is_refused(env, bad):
    env.local.parent.mkdir()
    env.local.write_text(bad)
    with pytest.raises(GitMlError) as info:
        cs.install_claude_hooks(env.repo)
    message = str(info.value)
    assert "\n" not in message
    assert str(env.local) in message or "hooks" in message
    assert env.local.read_text() == bad
    with pytest.raises(GitMlError):
        cs.uninstall_claude_hooks(env.repo)
    assert env.local.read_text() == bad


def test_event_value_not_a_list_is_refused(env):
    env.local.parent.mkdir()
    env.local.write_text('{"hooks": {"Stop": {"command": "x"}}}\n')
    with pytest.raises(GitMlError, match="hooks.Stop"):
        cs.install_claude_hooks(env.repo)


def test_indentation_and_mode_are_kept(env):
    env.shared.parent.mkdir()
    env.shared.write_text('{\n    "model": "x"\n}\n')
    env.shared.chmod(0o640)
    cs.install_claude_hooks(env.repo, shared=True)
    text = env.shared.read_text()
    assert text.startswith('{\n    "model": "x",\n    "hooks": {\n        "SessionStart"')
    assert stat.S_IMODE(env.shared.stat().st_mode) == 0o640


def test_blank_file_is_treated_as_empty(env):
    env.local.parent.mkdir()
    env.local.write_text("\n")
    cs.install_claude_hooks(env.repo)
    assert set(json.loads(env.local.read_text())["hooks"]) == set(cs.EVENTS)


def test_from_subdirectory_and_worktree(env, tmp_path):
    sub = env.root / "src" / "pkg"
    sub.mkdir(parents=True)
    cs.install_claude_hooks(open_repository(sub))
    assert env.local.is_file()
    assert not (sub / ".claude").exists()

    wt = tmp_path / "wt"
    git(env.root, "worktree", "add", "-q", "-b", "wtb", str(wt))
    cs.install_claude_hooks(open_repository(wt))
    assert (wt / ".claude" / "settings.local.json").is_file()
    assert ".claude" not in git(wt, "status", "--porcelain", "--untracked-files=all").stdout.decode()


def test_bare_repository_is_refused(sealed, tmp_path, monkeypatch):
    git(tmp_path, "init", "-q", "--bare", str(tmp_path / "bare.git"))
    with pytest.raises(GitMlError, match="bare"):
        cs.install_claude_hooks(open_repository(tmp_path / "bare.git"), exec_dir=tmp_path)


def test_command_runs_from_a_subdirectory(env, tmp_path):
    odd = make_fake(tmp_path / 'odd "dir" $HOME `x`', env.log)
    cs.install_claude_hooks(env.repo, exec_dir=odd.parent)
    command = json.loads(env.local.read_text())["hooks"]["Stop"][0]["hooks"][0]["command"]
    sub = env.root / "deep" / "er"
    sub.mkdir(parents=True)
    payload = b'{"session_id": "s1", "cwd": "' + str(sub).encode() + b'", "hook_event_name": "Stop"}'
    for shell in ("sh", "bash"):
        proc = subprocess.run([shell, "-c", command], cwd=sub, input=payload)
        assert proc.returncode == 0
        assert (env.log / "args").read_text() == "session\n"
        assert (env.log / "stdin").read_bytes() == payload
        assert Path((env.log / "cwd").read_text().strip()) == sub  # the command does not cd anywhere


def test_status(env, tmp_path):
    rows = cs.claude_hook_status(env.repo)
    assert len(rows) == 8 and {r.state for r in rows} == {"missing"}
    cs.install_claude_hooks(env.repo)
    rows = cs.claude_hook_status(env.repo)
    assert {r.event: r.state for r in rows if r.path == env.local} == {e: "installed" for e in cs.EVENTS}
    assert {r.state for r in rows if r.path == env.shared} == {"missing"}
    other = make_fake(tmp_path / "other", tmp_path / "log3")
    assert {r.state for r in cs.claude_hook_status(env.repo, exec_dir=other.parent) if r.path == env.local} == {
        "stale-path"
    }
    env.shared.write_text("{not json")
    assert {r.state for r in cs.claude_hook_status(env.repo) if r.path == env.shared} == {"unreadable"}
    assert cs.has_our_hooks(env.repo) and not cs.has_our_hooks(env.repo, shared=True)


def test_is_our_command():
    assert cs.is_our_command('"/a b/git-ml-capture" session')
    assert cs.is_our_command("git-ml-capture session")
    assert cs.is_our_command("'/x/git-ml-capture' session --verbose")
    assert not cs.is_our_command("git-ml-capture sessions")
    assert not cs.is_our_command("/x/git-ml-capture --hook post-commit")
    assert not cs.is_our_command(None)
