"""Git hooks: install, chaining, uninstall, hooksPath, worktrees, pre-push policy, status, the CLI.

Hooks run for real (``git commit``, ``git push``) against a fake ``git-ml-capture`` that records each call's
arguments and stdin; ``GIT_ML_EXEC_DIR`` points the installer at it.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from git_ml.errors import ExitCode, GitMlError
from git_ml.hooks import git as hooks
from git_ml.hooks.git import (
    HOOK_NAMES,
    MARKER,
    ORIG_SUFFIX,
    check_pre_push,
    find_executable,
    hook_status,
    hooks_dir,
    install_hooks,
    installed_capture_path,
    uninstall_hooks,
)
from git_ml.hooks.scripts import team_line
from git_ml.repo import open_repository

FAKE_CAPTURE = """#!/bin/sh
# Test double for git-ml-capture: records argv (one per line) and stdin of each call in its own directory.
log={log}
n=$(ls "$log" | wc -l | tr -d ' ')
call="$log/$(printf %03d "$n")"
mkdir "$call"
for a in "$@"; do printf '%s\\n' "$a"; done > "$call/args"
cat > "$call/stdin"
echo FAKE-CAPTURE-STDOUT
echo FAKE-CAPTURE-STDERR >&2
exit "${{FAKE_CAPTURE_STATUS:-0}}"
"""


@pytest.fixture
def sealed(sealed_env):
    """The hermetic environment of conftest.py: temporary HOME, no system config, fixed identities and dates."""
    return sealed_env


def git(cwd, *args, input=None, check=True):
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.decode()}")
    return proc


def make_repo(path: Path, commit: bool = True) -> Path:
    git(path.parent, "init", "-q", "-b", "main", str(path))
    if commit:
        git(path, "commit", "-q", "--allow-empty", "-m", "initial")
    return path


def make_fake(directory: Path, log: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    log.mkdir(parents=True, exist_ok=True)
    exe = directory / "git-ml-capture"
    exe.write_text(FAKE_CAPTURE.format(log=hooks.sh_quote(str(log))))
    exe.chmod(0o755)
    return exe


def calls(log: Path) -> list[dict]:
    out = []
    for call in sorted(log.iterdir()):
        args = (call / "args").read_text().splitlines()
        out.append({"args": args, "stdin": (call / "stdin").read_bytes()})
    return out


@pytest.fixture
def env(sealed, tmp_path, monkeypatch):
    """A repository with one commit and a fake capture executable that GIT_ML_EXEC_DIR points at."""
    log = tmp_path / "calls"
    exe = make_fake(tmp_path / "exe", log)
    monkeypatch.setenv("GIT_ML_EXEC_DIR", str(exe.parent))
    repo_path = make_repo(tmp_path / "repo")

    class Env:
        pass

    e = Env()
    e.home, e.tmp, e.log, e.exe, e.path = sealed, tmp_path, log, exe, repo_path
    e.repo = open_repository(repo_path)
    e.hooks = repo_path / ".git" / "hooks"
    return e


def head(path: Path) -> str:
    return git(path, "rev-parse", "HEAD").stdout.decode().strip()


# --------------------------------------------------------------------------------------------------------------
# find_executable


def test_find_executable_env_and_argument(env, tmp_path):
    assert find_executable() == env.exe
    other = make_fake(tmp_path / "other", tmp_path / "other-log")
    assert find_executable(exec_dir=other.parent) == other
    with pytest.raises(GitMlError, match="has no executable git-ml-capture"):
        find_executable(exec_dir=tmp_path / "nowhere")


def test_find_executable_prefers_running_program_dir(sealed, tmp_path, monkeypatch):
    checkout_bin = tmp_path / "checkout" / "bin"
    exe = make_fake(checkout_bin, tmp_path / "log")
    launcher = checkout_bin / "git-ml-install-hooks"
    launcher.write_text("#!/bin/sh\n")
    launcher.chmod(0o755)
    monkeypatch.setattr(sys, "argv", [str(launcher)])
    assert find_executable() == exe
    # Run through a symlink in a directory without the capture: the resolved directory is used.
    links = tmp_path / "links"
    links.mkdir()
    (links / "git-ml-install-hooks").symlink_to(launcher)
    monkeypatch.setattr(sys, "argv", [str(links / "git-ml-install-hooks")])
    assert find_executable() == exe


def test_find_executable_not_found_is_one_line(sealed, tmp_path, monkeypatch):
    import sysconfig

    nothing = tmp_path / "nothing"
    nothing.mkdir()
    monkeypatch.setattr(sys, "argv", [str(nothing / "prog")])
    monkeypatch.setattr(sysconfig, "get_path", lambda name, *a, **k: str(nothing))
    monkeypatch.setattr(hooks, "__file__", str(nothing / "pkg" / "hooks.py"))
    monkeypatch.setenv("PATH", str(nothing))
    with pytest.raises(GitMlError) as info:
        find_executable()
    assert "cannot find the git-ml-capture executable" in str(info.value)
    assert "\n" not in str(info.value)
    # PATH is the last resort.
    exe = make_fake(tmp_path / "onpath", tmp_path / "log")
    monkeypatch.setenv("PATH", str(exe.parent))
    assert find_executable() == exe


# --------------------------------------------------------------------------------------------------------------
# Install into a fresh repository


def test_install_fresh_repo(env):
    actions = install_hooks(env.repo)
    assert [(a.hook, a.action) for a in actions] == [(name, "installed") for name in HOOK_NAMES]
    for name in HOOK_NAMES:
        path = env.hooks / name
        assert path.is_file()
        assert path.stat().st_mode & stat.S_IXUSR
        text = path.read_text()
        assert text.startswith("#!/bin/sh\n")
        assert MARKER in text
        assert f'git_ml_capture="{env.exe}"' in text
        assert Path(str(env.exe)).is_absolute()
        assert installed_capture_path(path) == env.exe
        assert f"--hook {name}" in text
        assert not (env.hooks / (name + ORIG_SUFFIX)).exists()
        assert subprocess.run(["sh", "-n", str(path)]).returncode == 0


def test_hooks_run_on_commit_and_swallow_output_and_failures(env, monkeypatch):
    install_hooks(env.repo)
    monkeypatch.setenv("FAKE_CAPTURE_STATUS", "9")
    proc = git(env.path, "commit", "--allow-empty", "-m", "second")
    out = proc.stdout + proc.stderr
    assert b"FAKE-CAPTURE" not in out
    assert [c["args"] for c in calls(env.log)] == [["--hook", "post-commit"]]
    # Run directly: the capture fails, the hook still exits 0.
    direct = subprocess.run([str(env.hooks / "post-commit")], cwd=env.path, capture_output=True)
    assert direct.returncode == 0
    assert direct.stdout == b"" and direct.stderr == b""


def test_install_is_idempotent_and_updates_path(env, tmp_path):
    install_hooks(env.repo)
    before = {name: ((env.hooks / name).read_bytes(), (env.hooks / name).stat().st_mtime_ns) for name in HOOK_NAMES}
    again = install_hooks(env.repo)
    assert {a.action for a in again} == {"already installed"}
    after = {name: ((env.hooks / name).read_bytes(), (env.hooks / name).stat().st_mtime_ns) for name in HOOK_NAMES}
    assert before == after
    assert sorted(p.name for p in env.hooks.iterdir() if not p.name.endswith(".sample")) == sorted(HOOK_NAMES)

    moved = make_fake(tmp_path / "new place", tmp_path / "calls2")
    updated = install_hooks(env.repo, exec_dir=moved.parent)
    assert {a.action for a in updated} == {"updated"}
    for name in HOOK_NAMES:
        assert installed_capture_path(env.hooks / name) == moved
        assert str(env.exe) not in (env.hooks / name).read_text()
    git(env.path, "commit", "-q", "--allow-empty", "-m", "after move")
    assert [c["args"] for c in calls(tmp_path / "calls2")] == [["--hook", "post-commit"]]
    assert calls(env.log) == []


def test_paths_with_shell_characters_are_quoted(env, tmp_path):
    odd = make_fake(tmp_path / 'we"ird $HOME `x` \\dir', tmp_path / "odd-log")
    install_hooks(env.repo, exec_dir=odd.parent)
    assert installed_capture_path(env.hooks / "post-commit") == odd
    git(env.path, "commit", "-q", "--allow-empty", "-m", "odd")
    assert [c["args"] for c in calls(tmp_path / "odd-log")] == [["--hook", "post-commit"]]


# --------------------------------------------------------------------------------------------------------------
# Chaining an existing hook


def write_hook(path: Path, body: str, mode: int = 0o755) -> bytes:
    data = body.encode()
    path.write_bytes(data)
    path.chmod(mode)
    return data


def test_chain_existing_post_commit(env, tmp_path, monkeypatch):
    """A shell hook keeps its name and place: our block goes after its #! line, and comes out byte for byte."""
    marker = tmp_path / "orig-ran"
    original = write_hook(env.hooks / "post-commit", f'#!/bin/sh\necho "ran $# $(basename "$0")" >> "{marker}"\nexit 3\n')
    actions = {a.hook: a.action for a in install_hooks(env.repo)}
    assert actions["post-commit"] == "chained existing hook"
    assert actions["post-merge"] == "installed"
    text = (env.hooks / "post-commit").read_bytes()
    assert text.startswith(b"#!/bin/sh\n# >>> " + MARKER.encode()) and text.endswith(original[len("#!/bin/sh\n"):])
    assert not (env.hooks / ("post-commit" + ORIG_SUFFIX)).exists()
    assert not (env.hooks / hooks.CHAINED_DIR).exists()

    git(env.path, "commit", "-q", "--allow-empty", "-m", "chained")
    assert marker.read_text() == "ran 0 post-commit\n"
    assert [c["args"] for c in calls(env.log)] == [["--hook", "post-commit"]]

    # The original's exit status is the hook's status, even when the capture itself fails.
    monkeypatch.setenv("FAKE_CAPTURE_STATUS", "1")
    direct = subprocess.run([str(env.hooks / "post-commit"), "a", "b"], cwd=env.path)
    assert direct.returncode == 3
    assert marker.read_text() == "ran 0 post-commit\nran 2 post-commit\n"
    # A second install keeps the chain as it is.
    assert {a.action for a in install_hooks(env.repo)} == {"already installed"}
    assert {a.hook: a.action for a in uninstall_hooks(env.repo)}["post-commit"] == "restored original"
    assert (env.hooks / "post-commit").read_bytes() == original


def test_non_executable_original_is_not_run(env, tmp_path):
    marker = tmp_path / "orig-ran"
    write_hook(env.hooks / "post-commit", f'#!/bin/sh\ntouch "{marker}"\nexit 5\n', mode=0o644)
    install_hooks(env.repo)
    direct = subprocess.run([str(env.hooks / "post-commit")], cwd=env.path)
    assert direct.returncode == 0  # git would not have run it either
    assert not marker.exists()


def test_post_rewrite_stdin_reaches_both(env, tmp_path):
    orig_in = tmp_path / "orig.stdin"
    orig_args = tmp_path / "orig.args"
    write_hook(env.hooks / "post-rewrite", f'#!/bin/sh\necho "$@" > "{orig_args}"\ncat > "{orig_in}"\n')
    install_hooks(env.repo)
    old = head(env.path)
    git(env.path, "commit", "-q", "--amend", "--allow-empty", "-m", "amended")
    new = head(env.path)
    expected = f"{old} {new}\n".encode()
    assert orig_in.read_bytes() == expected
    assert orig_args.read_text() == "amend\n"
    rewrite = [c for c in calls(env.log) if c["args"][:2] == ["--hook", "post-rewrite"]]
    assert rewrite == [{"args": ["--hook", "post-rewrite", "amend"], "stdin": expected}]

    # Byte-exact pass-through, trailing blank lines included, straight into the script.
    data = b"a1 b1\na2 b2 extra\n\n\n"
    proc = subprocess.run([str(env.hooks / "post-rewrite"), "rebase"], cwd=env.path, input=data)
    assert proc.returncode == 0
    assert orig_in.read_bytes() == data
    assert calls(env.log)[-1] == {"args": ["--hook", "post-rewrite", "rebase"], "stdin": data}


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_scripts_under_other_shells(env, tmp_path, shell):
    orig_in = tmp_path / "orig.stdin"
    write_hook(env.hooks / "pre-push", f'#!/bin/sh\ncat > "{orig_in}"\n')
    install_hooks(env.repo)
    sha = "b" * 40
    normal = f"refs/heads/main {sha} refs/heads/main {'0' * 40}\n\n".encode()
    proc = subprocess.run([shell, str(env.hooks / "pre-push"), "origin", "/r"], cwd=env.path, input=normal)
    assert proc.returncode == 0
    assert orig_in.read_bytes() == normal
    assert calls(env.log)[-1] == {"args": ["--hook", "pre-push", "origin", "/r"], "stdin": normal}
    private = f"refs/heads/main {sha} refs/heads/main {'0' * 40}\nrefs/ml/local {sha} refs/ml/local {'0' * 40}\n"
    proc = subprocess.run(
        [shell, str(env.hooks / "pre-push"), "origin", "/r"], cwd=env.path, input=private.encode(), capture_output=True
    )
    assert proc.returncode == 1
    assert proc.stderr.count(b"\n") == 1 and b"refusing to push refs/ml/local" in proc.stderr
    deletion = f"(delete) {'0' * 40} refs/ml/local {sha}\n".encode()
    proc = subprocess.run([shell, str(env.hooks / "pre-push"), "origin", "/r"], cwd=env.path, input=deletion)
    assert proc.returncode == 0


def test_post_rewrite_status_is_the_originals(env, tmp_path):
    write_hook(env.hooks / "post-rewrite", "#!/bin/sh\nexit 4\n")
    install_hooks(env.repo)
    proc = subprocess.run([str(env.hooks / "post-rewrite"), "amend"], cwd=env.path, input=b"x y\n")
    assert proc.returncode == 4
    assert calls(env.log)[-1]["stdin"] == b"x y\n"


def test_post_merge_passes_squash_flag(env):
    install_hooks(env.repo)
    git(env.path, "checkout", "-q", "-b", "topic")
    git(env.path, "commit", "-q", "--allow-empty", "-m", "topic work")
    git(env.path, "checkout", "-q", "main")
    before = len(calls(env.log))
    git(env.path, "merge", "-q", "--ff-only", "topic")
    merge_calls = [c["args"] for c in calls(env.log)[before:]]
    assert merge_calls == [["--hook", "post-merge", "0"]]


def test_conflicting_chained_hook_refuses_and_changes_nothing(env):
    foreign = write_hook(env.hooks / "pre-push", "#!/usr/bin/env ruby\nputs 'foreign'\n")
    (env.hooks / hooks.CHAINED_DIR).mkdir()
    leftover = write_hook(env.hooks / hooks.CHAINED_DIR / "pre-push", "#!/bin/sh\necho older\n")
    with pytest.raises(GitMlError, match="already exists"):
        install_hooks(env.repo)
    assert (env.hooks / "pre-push").read_bytes() == foreign
    assert (env.hooks / hooks.CHAINED_DIR / "pre-push").read_bytes() == leftover
    assert not (env.hooks / "post-commit").exists()  # nothing half-installed


# --------------------------------------------------------------------------------------------------------------
# Uninstall


def test_uninstall_restores_byte_for_byte(env, tmp_path):
    body = "#!/bin/sh\r\n# windows line endings, no final newline\r\nexit 0"
    original = write_hook(env.hooks / "post-commit", body, 0o750)
    target = tmp_path / "shared-hook"
    write_hook(target, "#!/bin/sh\nexit 0\n")
    (env.hooks / "post-merge").symlink_to(target)
    install_hooks(env.repo)
    assert (env.hooks / "post-merge").is_file() and not (env.hooks / "post-merge").is_symlink()

    actions = {a.hook: a.action for a in uninstall_hooks(env.repo)}
    assert actions == {
        "post-commit": "restored original",
        "post-rewrite": "removed",
        "post-merge": "restored original",
        "pre-push": "removed",
    }
    assert (env.hooks / "post-commit").read_bytes() == original
    assert stat.S_IMODE((env.hooks / "post-commit").stat().st_mode) == 0o750
    assert (env.hooks / "post-merge").is_symlink()
    assert os.readlink(env.hooks / "post-merge") == str(target)
    assert not (env.hooks / "post-rewrite").exists()
    assert not (env.hooks / "pre-push").exists()
    assert not list(env.hooks.glob("*" + ORIG_SUFFIX))
    assert {a.action for a in uninstall_hooks(env.repo)} == {"not installed"}
    assert (env.hooks / "post-commit").read_bytes() == original


def test_uninstall_leaves_foreign_hooks(env):
    install_hooks(env.repo)
    replaced = write_hook(env.hooks / "post-commit", "#!/bin/sh\necho someone else\n")
    actions = {a.hook: a.action for a in uninstall_hooks(env.repo)}
    assert actions["post-commit"] == "not installed"
    assert (env.hooks / "post-commit").read_bytes() == replaced


# --------------------------------------------------------------------------------------------------------------
# core.hooksPath and worktrees


def test_relative_hooks_path_from_subdirectory(env):
    git(env.path, "config", "core.hooksPath", ".githooks")
    sub = env.path / "a" / "b"
    sub.mkdir(parents=True)
    repo = open_repository(sub)
    assert hooks_dir(repo) == env.path / ".githooks"
    install_hooks(repo)
    assert (env.path / ".githooks" / "post-commit").is_file()
    assert not (env.hooks / "post-commit").exists()
    assert not hooks.is_outside_repository(repo, hooks_dir(repo))
    git(sub, "commit", "-q", "--allow-empty", "-m", "from a subdirectory")
    assert [c["args"] for c in calls(env.log)] == [["--hook", "post-commit"]]


def test_absolute_and_tilde_hooks_path(env, tmp_path):
    shared = tmp_path / "shared hooks"
    git(env.path, "config", "core.hooksPath", str(shared))
    repo = open_repository(env.path)
    assert hooks_dir(repo) == shared
    install_hooks(repo)
    assert (shared / "pre-push").is_file()
    assert hooks.is_outside_repository(repo, shared)
    git(env.path, "commit", "-q", "--allow-empty", "-m", "shared hooks")
    assert [c["args"] for c in calls(env.log)] == [["--hook", "post-commit"]]

    git(env.path, "config", "core.hooksPath", "~/my-hooks")
    repo = open_repository(env.path)
    assert hooks_dir(repo) == env.home / "my-hooks"


def test_linked_worktree_uses_common_hooks(env, tmp_path):
    wt = tmp_path / "wt"
    git(env.path, "worktree", "add", "-q", "-b", "wtb", str(wt))
    repo = open_repository(wt)
    assert hooks_dir(repo) == (env.path / ".git" / "hooks").resolve()
    install_hooks(repo)
    assert (env.hooks / "post-commit").is_file()
    assert not (env.path / ".git" / "worktrees" / "wt" / "hooks").exists()
    git(wt, "commit", "-q", "--allow-empty", "-m", "in the worktree")
    assert [c["args"] for c in calls(env.log)] == [["--hook", "post-commit"]]
    assert {a.action for a in install_hooks(open_repository(env.path))} == {"already installed"}


def test_missing_hooks_dir_is_created(env):
    for p in env.hooks.iterdir():
        p.unlink()
    env.hooks.rmdir()
    install_hooks(env.repo)
    assert sorted(p.name for p in env.hooks.iterdir()) == sorted(HOOK_NAMES)


# --------------------------------------------------------------------------------------------------------------
# pre-push


@pytest.fixture
def remote(env, tmp_path):
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(env.path, "remote", "add", "origin", str(bare))
    git(tmp_path, "init", "-q", "--bare", str(tmp_path / "backup.git"))
    git(env.path, "remote", "add", "backup", str(tmp_path / "backup.git"))
    git(env.path, "update-ref", "refs/ml/local", "HEAD")
    git(env.path, "update-ref", "refs/ml/data", "HEAD")
    return bare


def remote_refs(bare: Path) -> set[str]:
    out = git(bare, "for-each-ref", "--format=%(refname)").stdout.decode().split()
    return set(out)


def test_pre_push_runs_capture_with_args_and_stdin(env, remote):
    install_hooks(env.repo)
    git(env.path, "push", "-q", "origin", "main")
    push = [c for c in calls(env.log) if c["args"][:2] == ["--hook", "pre-push"]]
    assert len(push) == 1
    assert push[0]["args"] == ["--hook", "pre-push", "origin", str(remote)]
    sha = head(env.path)
    assert push[0]["stdin"] == f"refs/heads/main {sha} refs/heads/main {'0' * 40}\n".encode()
    assert "refs/heads/main" in remote_refs(remote)


def test_pre_push_refuses_local_ref_even_without_capture(env, remote):
    install_hooks(env.repo)
    proc = git(env.path, "push", "origin", "refs/ml/local", check=False)
    assert proc.returncode != 0
    assert b"refusing to push refs/ml/local" in proc.stderr
    proc = git(env.path, "push", "--mirror", "origin", check=False)
    assert proc.returncode != 0
    proc = git(env.path, "push", "origin", "refs/ml/local:refs/heads/sneaky", check=False)
    assert proc.returncode != 0
    assert remote_refs(remote) == set()

    # The sh check holds when the executable is gone (a deleted virtualenv).
    env.exe.unlink()
    proc = git(env.path, "push", "origin", "refs/ml/local", check=False)
    assert proc.returncode != 0
    assert remote_refs(remote) == set()
    git(env.path, "push", "-q", "origin", "main")
    assert remote_refs(remote) == {"refs/heads/main"}


def test_pre_push_status_counts(env, remote, monkeypatch, tmp_path):
    install_hooks(env.repo)
    (env.path / ".git" / "ml").mkdir()
    monkeypatch.setenv("FAKE_CAPTURE_STATUS", "1")
    proc = git(env.path, "push", "origin", "main", check=False)
    assert proc.returncode == 0  # a failing git-ml never blocks a push: logged instead
    assert b"FAKE-CAPTURE-STDERR" in proc.stderr  # our part's messages reach the user
    assert remote_refs(remote) == {"refs/heads/main"}
    log = (env.path / ".git" / "ml" / "capture.log").read_text()
    assert "pre-push:" in log and "exited 1 (push not blocked)" in log
    git(remote, "update-ref", "-d", "refs/heads/main")
    monkeypatch.setenv("FAKE_CAPTURE_STATUS", "0")

    # An original pre-push hook runs first with the same stdin; if it refuses, the push is refused.
    uninstall_hooks(env.repo)
    seen = tmp_path / "orig-pre-push.stdin"
    write_hook(env.hooks / "pre-push", f'#!/bin/sh\ncat > "{seen}"\nexit "${{ORIG_STATUS:-0}}"\n')
    install_hooks(env.repo)
    monkeypatch.setenv("ORIG_STATUS", "1")
    assert git(env.path, "push", "origin", "main", check=False).returncode != 0
    assert remote_refs(remote) == set()
    monkeypatch.setenv("ORIG_STATUS", "0")
    git(env.path, "push", "-q", "origin", "main")
    assert remote_refs(remote) == {"refs/heads/main"}
    sha = head(env.path)
    assert seen.read_bytes() == f"refs/heads/main {sha} refs/heads/main {'0' * 40}\n".encode()
    assert calls(env.log)[-1]["stdin"] == seen.read_bytes()


def test_check_pre_push_policy(env):
    sha = "a" * 40
    zero = "0" * 40
    repo = env.repo

    ok, msgs = check_pre_push(repo, "origin", "/x", [f"refs/heads/main {sha} refs/heads/main {zero}"])
    assert ok and msgs == []

    ok, msgs = check_pre_push(repo, "origin", "/x", [f"refs/ml/local {sha} refs/ml/local {zero}", ""])
    assert not ok
    assert len(msgs) == 1 and "refusing" in msgs[0] and "refs/ml/local" in msgs[0] and "\n" not in msgs[0]

    ok, msgs = check_pre_push(repo, "origin", "/x", [f"refs/heads/x {sha} refs/ml/local-copy {zero}"])
    assert not ok
    ok, msgs = check_pre_push(repo, "origin", "/x", [f"refs/ml/local {sha} refs/heads/backup {zero}"])
    assert not ok
    # Deleting it on the remote sends nothing.
    ok, msgs = check_pre_push(repo, "origin", "/x", [f"(delete) {zero} refs/ml/local {sha}"])
    assert ok and msgs == []

    # Other refs/ml/* refs: allowed, with a warning when the remote is not ml.remote (any remote when unset).
    data = [f"refs/ml/data {sha} refs/ml/data {zero}"]
    ok, msgs = check_pre_push(repo, "origin", "/x", data)
    assert ok and len(msgs) == 1 and "ml.remote, which is not set" in msgs[0]
    git(env.path, "config", "ml.remote", "origin")
    repo = open_repository(env.path)
    assert check_pre_push(repo, "origin", "/x", data) == (True, [])
    ok, msgs = check_pre_push(repo, "backup", "/b", data)
    assert ok and len(msgs) == 1 and "warning" in msgs[0] and "backup" in msgs[0] and "origin" in msgs[0]
    git(env.path, "config", "ml.remote", "backup")
    repo = open_repository(env.path)
    assert check_pre_push(repo, "backup", "/b", data) == (True, [])
    ok, msgs = check_pre_push(repo, "origin", "/x", data)
    assert ok and len(msgs) == 1
    # ml.remote given as a URL matches a push to that URL.
    git(env.path, "config", "ml.remote", "/b")
    repo = open_repository(env.path)
    assert check_pre_push(repo, "/b", "/b", data) == (True, [])

    # Mixed: one refusal, one warning, one message each.
    ok, msgs = check_pre_push(
        repo,
        "origin",
        "/x",
        [f"refs/ml/local {sha} refs/ml/local {zero}", *data, f"refs/heads/main {sha} refs/heads/main {zero}"],
    )
    assert not ok and len(msgs) == 2


# --------------------------------------------------------------------------------------------------------------
# Status


def test_hook_status_states(env, tmp_path):
    rows = hook_status(env.repo)
    assert [(r.hook, r.state, r.chained) for r in rows] == [(n, "missing", False) for n in HOOK_NAMES]
    write_hook(env.hooks / "post-merge", "#!/bin/sh\n")
    assert {r.hook: r.state for r in hook_status(env.repo)}["post-merge"] == "foreign"

    install_hooks(env.repo)
    rows = {r.hook: r for r in hook_status(env.repo)}
    assert {n: r.state for n, r in rows.items()} == {n: "installed" for n in HOOK_NAMES}
    assert rows["post-merge"].chained and not rows["post-commit"].chained
    assert rows["pre-push"].path == env.hooks / "pre-push"

    other = make_fake(tmp_path / "other", tmp_path / "other-log")
    assert {r.state for r in hook_status(env.repo, exec_dir=other.parent)} == {"other-install"}
    (env.hooks / "post-commit").chmod(0o644)
    rows = {r.hook: r for r in hook_status(env.repo)}
    assert rows["post-commit"].state == "not-executable"
    assert rows["post-commit"].fix == f"not executable: chmod +x {env.hooks / 'post-commit'}"
    (env.hooks / "post-commit").chmod(0o755)
    env.exe.unlink()
    assert {r.state for r in hook_status(env.repo)} == {"stale-path"}  # GIT_ML_EXEC_DIR now has none


# --------------------------------------------------------------------------------------------------------------
# The command line


def run_cli(monkeypatch, cwd: Path, *args: str) -> int:
    from git_ml.cli import install_hooks as cli

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["git-ml-install-hooks", *args])
    return cli.main()


def test_cli_install_status_uninstall(env, monkeypatch, capsys):
    original = write_hook(env.hooks / "post-commit", "#!/bin/sh\nexit 0\n")
    assert run_cli(monkeypatch, env.path) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "post-commit: chained existing hook (.git/hooks/post-commit)",
        "post-rewrite: installed (.git/hooks/post-rewrite)",
        "post-merge: installed (.git/hooks/post-merge)",
        "pre-push: installed (.git/hooks/pre-push)",
    ]
    assert not (env.path / ".claude").exists()

    assert run_cli(monkeypatch, env.path) == 0
    assert all(line.split(": ")[1].startswith("already installed") for line in capsys.readouterr().out.splitlines())

    assert run_cli(monkeypatch, env.path, "--status") == 0
    status = capsys.readouterr().out
    assert f"executable: {env.exe}" in status
    assert "post-commit" in status and "installed" in status and "runs the hook that was there" in status
    assert "Claude SessionStart" in status and "missing" in status

    assert run_cli(monkeypatch, env.path, "--uninstall") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "post-commit: restored original (.git/hooks/post-commit)"
    assert out[1] == "post-rewrite: removed (.git/hooks/post-rewrite)"
    assert len(out) == 4
    assert (env.hooks / "post-commit").read_bytes() == original


def test_cli_claude_flags(env, monkeypatch, capsys):
    assert run_cli(monkeypatch, env.path, "--claude", "--no-git") == 0
    out = capsys.readouterr().out
    assert "Claude Code SessionStart: installed (.claude/settings.local.json)" in out
    assert "post-commit" not in out
    assert not (env.hooks / "post-commit").exists()

    assert run_cli(monkeypatch, env.path, "--shared", "--no-git") == 0
    assert "Claude Code Stop: installed (.claude/settings.json)" in capsys.readouterr().out

    # --uninstall takes the local entries away; the shared file is the team's: only with --shared.
    assert run_cli(monkeypatch, env.path, "--uninstall", "--no-git") == 0
    out = capsys.readouterr().out
    assert "Claude Code Stop: removed (.claude/settings.local.json)" in out
    assert "add --shared to remove them" in out
    assert (env.path / ".claude" / "settings.json").exists()
    assert run_cli(monkeypatch, env.path, "--uninstall", "--no-git", "--shared") == 0
    assert not (env.path / ".claude").exists()


def test_cli_errors_are_one_line(env, monkeypatch, capsys, tmp_path):
    assert run_cli(monkeypatch, env.path, "--no-git") == 1
    err = capsys.readouterr().err
    assert err == "git ml install-hooks: nothing to install: --no-git needs --claude, --gemini, --cursor or --copilot\n"

    assert run_cli(monkeypatch, env.path, "--shared", "--local") == 1
    assert capsys.readouterr().err.count("\n") == 1

    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert run_cli(monkeypatch, outside) == 1
    err = capsys.readouterr().err
    assert err.startswith("git ml install-hooks: not a git repository") and err.count("\n") == 1

    monkeypatch.setenv("GIT_ML_EXEC_DIR", str(tmp_path / "missing"))
    assert run_cli(monkeypatch, env.path) == 1
    err = capsys.readouterr().err
    assert "has no executable git-ml-capture" in err and err.count("\n") == 1
    assert not (env.hooks / "post-commit").exists()


def test_cli_notes_shared_hooks_dir(env, monkeypatch, capsys, tmp_path):
    git(env.path, "config", "core.hooksPath", str(tmp_path / "global-hooks"))
    assert run_cli(monkeypatch, env.path) == 0
    out = capsys.readouterr().out
    assert "outside this repository" in out
    assert (tmp_path / "global-hooks" / "post-commit").is_file()


# --------------------------------------------------------------------------------------------------------------
# Hook managers, tracked hooks directories, broken installs (issue 15, items 4 and 5)

DISPATCHER = """#!/bin/sh
# a hook manager's dispatcher (husky 4, lefthook-style): the hook is named by $0, helpers sit beside it
hook=$(basename "$0")
. "$(dirname "$0")/_/runner.sh"
"""
RUNNER = """run_gate() {{ echo "$hook $*" >> "{log}"; cat > "{log}.stdin"; exit "${{GATE_STATUS:-0}}"; }}
case $hook in pre-push|post-commit) run_gate "$@" ;; *) exit 0 ;; esac
"""


def test_basename_dispatcher_keeps_running_with_its_gate(env, remote, monkeypatch, tmp_path):
    log = tmp_path / "gate.log"
    (env.hooks / "_").mkdir()
    (env.hooks / "_" / "runner.sh").write_text(RUNNER.format(log=log))
    for name in ("pre-push", "post-commit"):
        write_hook(env.hooks / name, DISPATCHER)
    install_hooks(env.repo)
    git(env.path, "commit", "-q", "--allow-empty", "-m", "dispatched")
    assert log.read_text() == "post-commit \n"
    assert [c["args"] for c in calls(env.log)] == [["--hook", "post-commit"]]

    monkeypatch.setenv("GATE_STATUS", "1")  # the team's pre-push gate refuses: the push is refused
    assert git(env.path, "push", "origin", "main", check=False).returncode != 0
    assert remote_refs(remote) == set()
    assert log.read_text().splitlines()[-1] == f"pre-push origin {remote}"
    monkeypatch.setenv("GATE_STATUS", "0")
    git(env.path, "push", "-q", "origin", "main")
    assert remote_refs(remote) == {"refs/heads/main"}
    sha = head(env.path)
    pushed = f"refs/heads/main {sha} refs/heads/main {'0' * 40}\n".encode()
    assert (tmp_path / "gate.log.stdin").read_bytes() == pushed  # the gate read the same stdin as git-ml
    assert [c for c in calls(env.log) if c["args"][:2] == ["--hook", "pre-push"]][-1]["stdin"] == pushed
    # refs/ml/local is still refused, before the gate
    assert git(env.path, "push", "origin", "refs/ml/local", check=False).returncode != 0


def test_non_shell_dispatcher_moves_aside_under_its_own_name(env, tmp_path):
    seen = tmp_path / "argv0"
    write_hook(env.hooks / "post-commit",
               f"#!{sys.executable}\nimport os, sys\nopen({str(seen)!r}, 'w').write(os.path.basename(sys.argv[0]))\n")
    assert {a.hook: a.action for a in install_hooks(env.repo)}["post-commit"] == "chained existing hook"
    assert (env.hooks / hooks.CHAINED_DIR / "post-commit").is_file()
    git(env.path, "commit", "-q", "--allow-empty", "-m", "ruby-style hook")
    assert seen.read_text() == "post-commit"
    assert [c["args"] for c in calls(env.log)] == [["--hook", "post-commit"]]
    uninstall_hooks(env.repo)
    assert not (env.hooks / hooks.CHAINED_DIR).exists()
    assert "basename" in (env.hooks / "post-commit").read_text()


def test_older_install_is_converted_and_restored(env, tmp_path):
    """Hooks installed by an older version (original renamed to <hook>.git-ml-orig) get the original back under
    its own name."""
    original = write_hook(env.hooks / ("post-commit" + ORIG_SUFFIX), DISPATCHER)
    write_hook(env.hooks / "post-commit", f"#!/bin/sh\n# {MARKER}: post-commit (older layout)\n")
    install_hooks(env.repo)
    assert not (env.hooks / ("post-commit" + ORIG_SUFFIX)).exists()
    text = (env.hooks / "post-commit").read_bytes()
    assert text.startswith(b"#!/bin/sh\n# >>> ") and text.endswith(original[len("#!/bin/sh\n"):])
    uninstall_hooks(env.repo)
    assert (env.hooks / "post-commit").read_bytes() == original


def test_tracked_hooks_path_is_left_alone(env, monkeypatch, capsys):
    team = env.path / ".githooks"
    team.mkdir()
    original = write_hook(team / "pre-push", "#!/bin/sh\nnpm test\n")
    git(env.path, "add", ".githooks")
    git(env.path, "commit", "-q", "-m", "team hooks")
    git(env.path, "config", "core.hooksPath", ".githooks")
    repo = open_repository(env.path)
    assert hooks.tracked_hooks_dir(repo)
    assert {a.action for a in install_hooks(repo)} == {"left alone (tracked by the repository)"}
    assert (team / "pre-push").read_bytes() == original
    assert sorted(p.name for p in team.iterdir()) == ["pre-push"]
    assert run_cli(monkeypatch, env.path) == 0
    out = capsys.readouterr().out
    assert "is tracked by this repository" in out
    assert '.githooks/pre-push: if command -v git-ml-capture' in out and str(env.exe) not in out
    assert (team / "pre-push").read_bytes() == original
    # a team hook with the line is reported as such
    write_hook(team / "post-commit", "#!/bin/sh\n" + team_line("post-commit") + "\n")
    rows = {r.hook: r.state for r in hook_status(open_repository(env.path))}
    assert rows["post-commit"] == "team" and rows["pre-push"] == rows["post-merge"] == "team-missing"


def test_broken_install_never_blocks_a_push(env, remote):
    """git-ml-capture is there but cannot run (its Python removed by an upgrade): the push goes through, logged;
    the refs/ml/local guard still holds."""
    install_hooks(env.repo)
    (env.path / ".git" / "ml").mkdir()
    env.exe.write_text("#!/nonexistent/venv/bin/python3\nimport git_ml\n")
    proc = git(env.path, "push", "origin", "main", check=False)
    assert proc.returncode == 0, proc.stderr
    assert remote_refs(remote) == {"refs/heads/main"}
    assert "push not blocked" in (env.path / ".git" / "ml" / "capture.log").read_text()
    assert git(env.path, "push", "origin", "refs/ml/local", check=False).returncode != 0
    assert remote_refs(remote) == {"refs/heads/main"}


def test_team_pre_push_line_blocks_only_a_refusal(env, remote, monkeypatch, tmp_path):
    """The suggested line for a tracked pre-push hook: a git-ml that fails to run never blocks the push; its
    refusal (exit status REFUSED, a push of refs/ml/local) does."""
    team = env.path / ".githooks"
    team.mkdir()
    write_hook(team / "pre-push", "#!/bin/sh\n" + team_line("pre-push") + "\n")
    git(env.path, "config", "core.hooksPath", ".githooks")
    monkeypatch.setenv("PATH", f"{env.exe.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CAPTURE_STATUS", "1")  # broken: a failed import, a removed interpreter
    assert git(env.path, "push", "origin", "main", check=False).returncode == 0
    assert remote_refs(remote) == {"refs/heads/main"}
    monkeypatch.setenv("FAKE_CAPTURE_STATUS", str(int(ExitCode.REFUSED)))
    assert git(env.path, "push", "backup", "main", check=False).returncode != 0
    # the real executable refuses refs/ml/local with that status
    real = Path(sys.executable).parent / "git-ml-capture"
    if real.exists():
        env.exe.unlink()
        monkeypatch.setenv("PATH", f"{real.parent}{os.pathsep}{os.environ['PATH']}")
        proc = git(env.path, "push", "origin", "refs/ml/local", check=False)
        assert proc.returncode != 0 and b"refs/ml/local" in proc.stderr
        assert remote_refs(remote) == {"refs/heads/main"}
