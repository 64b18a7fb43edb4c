"""Rewrites resolved at read time in every export: an amend and an interactive squash leave only the live commits,
which carry the chats and session of the commits they replaced; a chat names the live commits."""

from __future__ import annotations

import json

import pytest

from git_ml.schema import Chat, Link
from git_ml.store.core import Store

pa = pytest.importorskip("pyarrow")


@pytest.fixture
def rewritten(repo):
    assert repo.run("git-ml-install-hooks").returncode == 0
    repo.commit("base", {"calc.py": "# calc\n"}, date="2025-05-01T09:00:00+0000")
    a = repo.commit("add addition", {"calc.py": "# calc\ndef add(a, b):\n    return a + b\n"},
                    date="2025-05-01T10:00:00+0000")
    b = repo.commit("add subtraction", {"util.py": "def sub(a, b):\n    return a - b\n"},
                    date="2025-05-01T11:00:00+0000")
    c = repo.commit("add a note", {"notes.md": "notes\n"}, date="2025-05-01T12:00:00+0000")
    store = Store(repo.open())
    chats = {x: Chat(id=f"sess:{x}", session_id="sess", assistant="claude-code", model="claude-x",
                     timestamp=f"2025-05-01T{t}:59:00.000Z", query=f"please {x}", response=f"did {x}",
                     files_modified=[f], query_tokens=10, response_tokens=20)
             for x, t, f in (("a", "09", "calc.py"), ("b", "10", "util.py"), ("c", "11", "notes.md"))}
    store.append("chats", list(chats.values()))
    store.append("links", [Link(id=f"{sha}:sess:{x}", commit=sha, chat_id=f"sess:{x}", session_id="sess",
                                reason="files", score=1.0) for x, sha in (("a", a), ("b", b), ("c", c))])
    repo.git("commit", "-q", "--amend", "-m", "add a note, amended")
    # Squash the first two commits (what `rebase -i` with "squash" does), through the sequence editor.
    env = {"GIT_SEQUENCE_EDITOR": "sed -i -e '2s/^pick/squash/'", "GIT_EDITOR": "true"}
    repo.git("rebase", "-q", "-i", "HEAD~3", env=env)
    live = repo.git("rev-list", "--reverse", "HEAD").split()
    assert len(live) == 3
    return {"dead": {a, b, c}, "base": live[0], "ab": live[1], "c": live[2]}


def test_export_keeps_live_commits_with_the_chats_of_the_dead(repo, rewritten, tmp_path):
    out = tmp_path / "x.jsonl"
    res = repo.run("git-ml-export", "-o", str(out), "--json")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    commits = {r["id"]: r for r in rows if r["type"] == "commit"}
    assert set(commits) == {rewritten["base"], rewritten["ab"], rewritten["c"]}
    assert json.loads(res.stdout)["skipped"].get("rewritten", 0) >= 3
    assert set(commits[rewritten["ab"]]["context"]["chats"]) == {"sess:a", "sess:b"}
    assert commits[rewritten["ab"]]["session_id"] == "sess"
    assert commits[rewritten["ab"]]["context"]["query_tokens"] == 20
    assert commits[rewritten["c"]]["context"]["chats"] == ["sess:c"]
    chats = {r["id"]: r for r in rows if r["type"] == "chat"}
    assert chats["sess:a"]["context"]["commits"] == [rewritten["ab"]]
    assert chats["sess:c"]["context"]["commits"] == [rewritten["c"]]


def test_dataset_and_agent_trace_use_the_live_revision(repo, rewritten, tmp_path):
    ds = tmp_path / "ds"
    assert repo.run("git-ml-export", "--format", "dataset", "-o", str(ds)).returncode == 0
    duckdb = pytest.importorskip("duckdb")
    ids = {r[0] for r in duckdb.sql(f"SELECT id FROM read_parquet('{ds}/**/*.parquet', hive_partitioning=true) "
                                    f"WHERE type = 'commit'").fetchall()}
    assert ids == {rewritten["base"], rewritten["ab"], rewritten["c"]}
    trace = tmp_path / "t.jsonl"
    assert repo.run("git-ml-export", "--format", "agent-trace", "-o", str(trace)).returncode == 0
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    assert sorted(r["vcs"]["revision"] for r in records) == sorted([rewritten["ab"], rewritten["c"]])
    ab = next(r for r in records if r["vcs"]["revision"] == rewritten["ab"])
    urls = {f["path"]: f["conversations"][0].get("url") for f in ab["files"]}
    assert urls == {"calc.py": "git-ml:chat/sess:a", "util.py": "git-ml:chat/sess:b"}
