"""contribute: opt-in flag, a per-repository HMAC key, and an export of aggregates only (no messages, code,
clear-text paths or names)."""

from __future__ import annotations

import hashlib
import hmac
import json
import stat

import pytest
from populated import START, iso, populate

from git_ml.dataset.contribute import commit_type, hash_path, load_key
from git_ml.schema import Chat
from git_ml.store.core import Store


@pytest.fixture
def data(repo):
    d = populate(repo)
    r = repo.open()
    Store(r).append("chats", [Chat(id="s:tools", session_id="s", assistant="claude-code", timestamp=iso(START),
                                   query="secret plan for Project Falcon", response="done",
                                   tool_counts={"Edit": 3, "mcp__acme_internal__deploy": 2, "Weird Name!": 1})])
    return d


def test_status_enable_disable(repo):
    res = repo.run("git-ml-contribute", "status")
    assert res.returncode == 0 and "contribution: disabled" in res.stdout and "co_change" in res.stdout
    assert "nothing is ever sent" in res.stdout
    res = repo.run("git-ml-contribute")  # no subcommand: status
    assert res.returncode == 0 and "contribution: disabled" in res.stdout
    res = repo.run("git-ml-contribute", "enable")
    assert res.returncode == 0, res.stderr
    assert repo.git("config", "ml.contribute").strip() == "true"
    key = repo.path / ".git" / "ml" / "contribute.key"
    assert key.exists() and stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    assert "enabled" in repo.run("git-ml-contribute", "status").stdout
    assert repo.run("git-ml-contribute", "disable").returncode == 0
    assert repo.git("config", "ml.contribute").strip() == "false"


def test_export_needs_opt_in(repo, data, tmp_path):
    out = tmp_path / "c.json"
    res = repo.run("git-ml-contribute", "export", "--output", str(out))
    assert res.returncode == 1 and "contribution is off" in res.stderr and res.stderr.count("\n") == 1
    assert not out.exists()


def test_export_holds_aggregates_only(repo, data, tmp_path):
    assert repo.run("git-ml-contribute", "enable").returncode == 0
    out = tmp_path / "c.json"
    res = repo.run("git-ml-contribute", "export", "--output", str(out), "--min-count", "2")
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    got = json.loads(text)
    assert set(got) == {"format", "generated", "repository", "counts", "commit_types", "files_per_commit",
                        "lines_per_commit", "hour_of_day", "day_of_week", "co_change", "tool_usage", "ratings",
                        "assistants"}
    assert got["counts"] == {"commits": 30, "chats": 8, "sessions": 2, "feedback": 4}
    assert sum(got["commit_types"].values()) == 30
    assert sum(got["files_per_commit"].values()) == 30 and got["files_per_commit"]["2"] >= 25
    assert sum(got["hour_of_day"]) == 30 and len(got["hour_of_day"]) == 24 and len(got["day_of_week"]) == 7
    assert got["tool_usage"] == {"Read": 12, "Edit": 9, "mcp": 2, "other": 1}
    assert got["ratings"] == {"good": 1, "neutral": 1, "bad": 1, "unrated": 5}
    # No clear text: no path, message, prompt, response, name, e-mail, commit id or MCP server name.
    r = repo.open()
    commits = list(Store(r).iter_records("commits"))
    forbidden = {"src/mod", "mod1.py", "change 1", "update module", "Project Falcon", "please change", "Ada",
                 "example.com", "acme_internal", "sess-a", "claude-x", "main"}
    forbidden |= {c.id[:12] for c in commits}
    for needle in forbidden:
        assert needle not in text, needle
    # Paths are HMAC-SHA256 under the repository's key, not plain hashes.
    key = (repo.path / ".git" / "ml" / "contribute.key").read_bytes()
    nodes = got["co_change"]["nodes"]
    assert hash_path(key, "src/mod1.py") in nodes
    assert hashlib.sha256(b"src/mod1.py").hexdigest()[:16] not in text
    assert hmac.new(key, b"src/mod1.py", hashlib.sha256).hexdigest()[:16] == hash_path(key, "src/mod1.py")
    for a, b, n in got["co_change"]["edges"]:
        assert a in nodes and b in nodes and n >= 2
    # Stable per repository: the same key gives the same digests.
    out2 = tmp_path / "c2.json"
    assert repo.run("git-ml-contribute", "export", "-o", str(out2), "--min-count", "2").returncode == 0
    assert json.loads(out2.read_text())["co_change"] == got["co_change"]


def test_min_count_suppresses_rare_pairs(repo, data, tmp_path):
    assert repo.run("git-ml-contribute", "enable").returncode == 0
    out = tmp_path / "c.json"
    assert repo.run("git-ml-contribute", "export", "-o", str(out), "--min-count", "1000").returncode == 0
    got = json.loads(out.read_text())
    assert got["co_change"]["edges"] == [] and got["co_change"]["nodes"] == {}


def test_keys_differ_between_repositories(tmp_path):
    import pygit2

    keys = []
    for name in ("a", "b"):
        r = pygit2.init_repository(str(tmp_path / name))
        keys.append(load_key(r))
        assert load_key(r) == keys[-1]  # created once
    assert keys[0] != keys[1]
    assert hash_path(keys[0], "x.py") != hash_path(keys[1], "x.py")


@pytest.mark.parametrize("message,kind", [
    ("feat(cli): add export", "feat"), ("fix: crash on empty store", "fix"), ("Fix typo in README", "fix"),
    ("Merge branch 'topic'", "merge"), ("Add a new reader", "feat"), ("Update documentation", "docs"),
    ("Bump version to 2.0", "chore"), ("Refactor the parser", "refactor"), ("xyz", "other"),
])
def test_commit_type(message, kind):
    assert commit_type(message) == kind


def test_empty_store_and_stdout(repo):
    assert repo.run("git-ml-contribute", "enable").returncode == 0
    res = repo.run("git-ml-contribute", "export", "-o", "-")
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["counts"] == {"commits": 0, "chats": 0, "sessions": 0, "feedback": 0}


def test_bad_input(repo, tmp_path):
    assert repo.run("git-ml-contribute", "enable").returncode == 0
    res = repo.run("git-ml-contribute", "export", "-o", str(tmp_path / "no" / "such" / "c.json"))
    assert res.returncode == 1 and "does not exist" in res.stderr
    res = repo.run("git-ml-contribute", "frobnicate")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    import subprocess

    res = subprocess.run(["git-ml-contribute", "status"], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 1 and "not a git repository" in res.stderr
