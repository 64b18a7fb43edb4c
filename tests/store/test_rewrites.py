"""Rewrites resolved at read time (issue 13 item 1): after an amend and an interactive squash, stats, contribute,
quality-report and predict's training read count the live commits only, and a chat linked to a rewritten commit
counts for the live one."""

from __future__ import annotations

import json

from git_ml.capture.links import find_links
from git_ml.dataset.contribute import build_contribution
from git_ml.dataset.reports import quality_report
from git_ml.predict.history import captured_commits
from git_ml.schema import Chat, Rewrite
from git_ml.store.core import Store
from git_ml.store.rewrites import LiveHistory, load_live_history


def rw(old: str, new: str, t: int) -> Rewrite:
    return Rewrite(id=f"{old}:{new}", old=old, new=new, kind="rebase", time=t, captured_at=f"2026-01-01T00:00:0{t}Z")


def test_chains_squashes_and_loops():
    h = LiveHistory([rw("a", "b", 1), rw("b", "c", 2), rw("x", "c", 3), rw("p", "q", 4), rw("q", "p", 5)])
    assert h.live("a") == h.live("b") == h.live("x") == "c" and h.live("never") == "never"
    assert h.dead >= {"a", "b", "x"} and not h.superseded("c")
    assert h.live_ids(["a", "x", "c", "z"]) == ["c", "z"]
    assert not LiveHistory([rw("s", "s", 1)]).dead


def test_amend_and_squash_leave_two_live_commits(repo):
    assert repo.run("git-ml-install-hooks").returncode == 0
    c1 = repo.commit("base", {"a.py": "a\n"}, date="2025-06-01T09:00:00+0000")
    c2 = repo.commit("add b", {"b.py": "b\n"}, date="2025-06-01T10:00:00+0000")
    c3 = repo.commit("add c", {"c.py": "c\n"}, date="2025-06-01T11:00:30+0000")
    store = Store(repo.open())
    store.append("chats", [Chat(id="s:c1", session_id="s", assistant="claude-code", timestamp="2025-06-01T11:00:00Z",
                                ended_at="2025-06-01T11:00:00Z", query="add c.py", response="done",
                                files_modified=["c.py"])])
    links = find_links(list(store.iter_records("commits")), list(store.iter_records("chats")))
    assert {lk.commit for lk in links} == {c3}
    store.append("links", links)
    repo.git("commit", "-q", "--amend", "-m", "add c.py")
    c3a = repo.git("rev-parse", "HEAD").strip()
    env = {"GIT_SEQUENCE_EDITOR": "sed -i -e '2s/^pick/squash/'", "GIT_EDITOR": "true"}
    repo.git("rebase", "-q", "-i", "HEAD~2", env=env)
    c23 = repo.git("rev-parse", "HEAD").strip()
    assert repo.git("rev-list", "--count", "HEAD").strip() == "2"

    store = Store(repo.open())
    assert {c1, c2, c3, c3a, c23} <= store.ids("commits")  # the old records stay
    history = load_live_history(store)
    assert history.dead == {c2, c3, c3a}
    assert history.live(c3) == history.live(c2) == c23 and history.live(c1) == c1

    proc = repo.run("git", "ml", "stats", "--json")
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    assert stats["commits"] == 2
    assert stats["linked"] == {"commits_with_chats": 1, "chats_with_commits": 1}

    repo.git("config", "ml.contribute", "true")
    assert build_contribution(repo.open())["counts"]["commits"] == 2
    assert quality_report(repo.open())["counts"]["commits"] == 2
    ordered, _tip = captured_commits(repo.open())
    assert [c.id for c in ordered] == [c1, c23]
