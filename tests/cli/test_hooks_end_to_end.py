"""The installed hooks with the real capture program: commits, amends, rebases, pulls, detached capture, doctor."""

from __future__ import annotations

import json
import time

from git_ml.store.core import Store


def ids(repo, stream="commits"):
    return {r.id: r for r in Store(repo.open()).iter_records(stream)}


def test_commit_amend_and_rebase_are_captured(repo):
    base = repo.commit("base", {"a.txt": "1\n"})
    assert repo.run("git-ml-install-hooks").returncode == 0
    first = repo.commit("first", {"b.txt": "1\n"})
    assert {base, first} <= set(ids(repo))  # the hook also took the uncaptured parent
    repo.git("commit", "-q", "--amend", "-m", "first, amended")
    amended = repo.git("rev-parse", "HEAD").strip()
    assert amended in ids(repo)
    assert f"{first}:{amended}" in ids(repo, "rewrites")
    # A rebase: post-commit defers while it runs, post-rewrite records the mapping and captures the results.
    repo.git("checkout", "-q", "-b", "side", base)
    side = repo.commit("side work", {"c.txt": "1\n"})
    repo.git("rebase", "-q", "main")
    rebased = repo.git("rev-parse", "HEAD").strip()
    rw = ids(repo, "rewrites")
    assert rw[f"{side}:{rebased}"].kind == "rebase"
    assert ids(repo)[rebased].patch_id == ids(repo)[side].patch_id


def test_pull_brings_commits_that_the_next_capture_takes(repo, tmp_path):
    repo.commit("one")
    upstream = tmp_path / "up"
    repo.git("clone", "-q", str(repo.path), str(upstream))
    from conftest import Repo

    up = Repo(upstream)
    pulled = [up.commit(f"upstream {i}") for i in range(3)]
    assert repo.run("git-ml-install-hooks").returncode == 0
    repo.git("pull", "-q", "--ff-only", str(upstream), "main")  # post-merge hook
    assert set(pulled) <= set(ids(repo))


def test_detached_capture_lands_shortly_after_the_commit(repo):
    repo.commit("one")
    assert repo.run("git-ml-install-hooks").returncode == 0
    env_async = {"GIT_ML_HOOK_SYNC": "0"}
    repo.write("x.txt", "x\n")
    repo.git("add", "x.txt")
    repo.git("commit", "-q", "-m", "detached", env=env_async)
    sha = repo.git("rev-parse", "HEAD").strip()
    deadline = time.time() + 20
    while time.time() < deadline and sha not in ids(repo):
        time.sleep(0.2)
    assert sha in ids(repo)


def test_hooks_never_fail_a_commit(repo):
    repo.commit("one")
    assert repo.run("git-ml-install-hooks").returncode == 0
    # A store that cannot be written (the ref name is taken by a directory) must not fail the commit.
    (repo.path / ".git" / "refs" / "ml" / "data").mkdir(parents=True)
    (repo.path / ".git" / "refs" / "ml" / "data" / "x").write_text("")
    out = repo.run("git", "commit", "-q", "--allow-empty", "-m", "still works")
    assert out.returncode == 0 and out.stderr == ""
    assert (repo.path / ".git" / "ml" / "capture.log").exists()


def test_doctor_reports_hooks_lag_and_errors(repo):
    for i in range(3):
        repo.commit(f"c{i}")
    out = repo.run("git-ml-doctor", "--json")
    assert out.returncode == 1, out.stderr  # hooks missing, commits not captured: something to do
    data = json.loads(out.stdout)
    assert data["uncaptured"] == 3 and data["enabled"]
    assert {h["state"] for h in data["hooks"]} == {"missing"}
    repo.run("git-ml-install-hooks")
    repo.run("git-ml-capture", "--backfill")
    data = json.loads(repo.run("git-ml-doctor", "--json").stdout)
    assert data["uncaptured"] == 0
    assert {h["state"] for h in data["hooks"]} == {"installed"}
    text = repo.run("git-ml-doctor").stdout
    assert "uncaptured commits behind HEAD: 0" in text


def test_pre_push_refuses_local_ref(repo, tmp_path):
    repo.commit("one")
    repo.run("git-ml-capture")
    bare = tmp_path / "remote.git"
    repo.git("init", "-q", "--bare", str(bare))
    repo.git("remote", "add", "origin", str(bare))
    repo.run("git-ml-install-hooks")
    out = repo.run("git", "push", "-q", "origin", "refs/ml/local:refs/ml/local")
    assert out.returncode != 0 and "refs/ml/local" in out.stderr
    out = repo.run("git", "push", "-q", "origin", "main")
    assert out.returncode == 0
