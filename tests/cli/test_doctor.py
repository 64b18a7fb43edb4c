"""git ml doctor: each finding with its fix, a non-zero exit when something needs action, the true uncaptured
count, bare repositories, SHA-256 repositories."""

from __future__ import annotations

import json
import subprocess

from conftest import make_history


def doctor(repo, *args, cwd=None):
    out = repo.run("git-ml-doctor", *args, cwd=cwd)
    assert "Traceback" not in out.stderr
    return out


def test_each_finding_says_its_fix_and_the_exit_status_tells(repo):
    repo.commit("one")
    out = doctor(repo)
    assert out.returncode == 1
    assert "hook post-commit   missing" in out.stdout and "run `git ml install-hooks`" in out.stdout
    assert "run `git ml capture --backfill`" in out.stdout
    assert repo.run("git-ml-install-hooks").returncode == 0
    assert repo.run("git-ml-capture", "-q").returncode == 0
    out = doctor(repo)
    assert out.returncode == 0 and "all good" in out.stdout, out.stdout
    hook = repo.path / ".git" / "hooks" / "post-commit"
    hook.chmod(0o644)
    out = doctor(repo)
    assert out.returncode == 1
    assert f"not executable: chmod +x {hook}" in out.stdout and "stale-path" not in out.stdout
    data = json.loads(doctor(repo, "--json").stdout)
    row = next(h for h in data["hooks"] if h["hook"] == "post-commit")
    assert row["state"] == "not-executable" and row["fix"] == f"not executable: chmod +x {hook}"
    assert data["findings"] == [{"what": "hook post-commit", "fix": f"not executable: chmod +x {hook}"}]


def test_uncaptured_counts_gaps_behind_captured_commits(repo):
    """A gap below a captured commit (a catch-up that hit its bound, a filter-branch, an unshallowed clone) is
    counted: the walk does not stop at the first captured commit."""
    make_history(repo, 6)
    assert repo.run("git-ml-capture", "-q", "HEAD").returncode == 0  # only the tip: 5 below it are not captured
    data = json.loads(doctor(repo, "--json").stdout)
    assert data["uncaptured"] == 5 and data["uncaptured_examined"] == 6 and not data["uncaptured_truncated"]
    assert "uncaptured commits behind HEAD: 5" in doctor(repo).stdout
    assert repo.run("git-ml-capture", "--backfill", "-q").returncode == 0
    assert json.loads(doctor(repo, "--json").stdout)["uncaptured"] == 0


def test_uncaptured_walk_is_bounded_and_says_so(repo, monkeypatch):
    from git_ml.capture.pipeline import CapturedIndex
    from git_ml.cli.doctor import uncaptured
    from git_ml.store.core import Store

    make_history(repo, 12)
    r = repo.open()
    assert uncaptured(r, CapturedIndex(r, Store(r)), limit=5) == (5, 0, 5, True)
    assert uncaptured(r, CapturedIndex(r, Store(r))) == (12, 0, 12, False)


def test_commits_made_with_collection_off_are_not_a_finding(repo):
    repo.commit("one")
    assert repo.run("git-ml-install-hooks").returncode == 0
    assert repo.run("git-ml-capture", "-q").returncode == 0
    repo.git("commit", "-q", "--allow-empty", "-m", "private", env={"ML_COLLECTION_ENABLED": "0",
                                                                   "GIT_ML_HOOK_SYNC": "1"})
    data = json.loads(doctor(repo, "--json").stdout)
    assert data["uncaptured"] == 0 and data["opted_out"] == 1 and data["findings"] == []
    out = doctor(repo)
    assert out.returncode == 0 and "made with collection off (left out on purpose): 1" in out.stdout


def test_bare_repository_reports_git_hooks_and_passes(repo, tmp_path):
    repo.commit("one")
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(bare)], check=True)
    assert repo.run("git-ml-install-hooks", cwd=bare).returncode == 0
    assert repo.run("git-ml-capture", "--backfill", "-q", cwd=bare).returncode == 0
    out = doctor(repo, cwd=bare)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "hook pre-push      installed" in out.stdout and "bare repository" in out.stdout
    data = json.loads(doctor(repo, "--json", cwd=bare).stdout)
    assert data["bare"] and data["claude_hooks"] == [] and {h["state"] for h in data["hooks"]} == {"installed"}


def test_sha256_repository_is_one_clear_line(tmp_path, repo):
    path = tmp_path / "s256"
    made = subprocess.run(["git", "init", "-q", "--object-format=sha256", str(path)], capture_output=True)
    if made.returncode != 0:
        import pytest

        pytest.skip("this git cannot create SHA-256 repositories")
    for exe in ("git-ml-doctor", "git-ml-capture", "git-ml-install-hooks"):
        out = repo.run(exe, cwd=path)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "SHA-256" in out.stderr, out.stderr
