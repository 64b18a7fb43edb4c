"""cleanup: retention of conversation data with tombstones and chunk rewrites (nothing newer lost), commits only
when asked, a new root so the space can be freed, and --all."""

from __future__ import annotations

import json

import pytest
from populated import START, iso, populate

from git_ml.schema import Chat
from git_ml.store.core import DATA_REF, LOCAL_REF, Store
from git_ml.store.retention import apply_cleanup, plan_cleanup


@pytest.fixture
def data(repo):
    d = populate(repo)
    d["cutoff"] = d["t0"] + 3 * 7200 + 1  # chats p0..p3 and session sess-a are older
    d["now"] = f"@{d['cutoff'] + 86400}"
    return d


def snapshot(repo) -> dict:
    store = Store(repo.open())
    return {s: {r.id: r for r in store.iter_records(s)}
            for s in ("commits", "chats", "sessions", "feedback", "links", "diffs", "tombstones")}


def test_dry_run_changes_nothing(repo, data):
    before = repo.git("rev-parse", DATA_REF)
    res = repo.run("git-ml-cleanup", "--days", "1", "--now", data["now"], "--dry-run")
    assert res.returncode == 0, res.stderr
    assert "would delete: 4 chats, 4 feedback, 1 links, 1 sessions" in res.stdout
    assert "pushed elsewhere" in res.stdout
    assert repo.git("rev-parse", DATA_REF) == before


def test_cleanup_deletes_old_conversations_and_keeps_the_rest(repo, data):
    before = snapshot(repo)
    res = repo.run("git-ml-cleanup", "--days", "1", "--now", data["now"], "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["delete"] == {"chats": 4, "sessions": 1, "feedback": 4, "links": 1}
    after = snapshot(repo)
    assert set(after["chats"]) == {"sess-b:p4", "sess-b:p6", "sess-b:p7"}
    assert set(after["sessions"]) == {"sess-b"} and after["feedback"] == {} and after["links"] == {}
    # Nothing newer is lost: every surviving record is exactly what it was.
    for stream in ("chats", "sessions", "commits", "diffs"):
        for rid, rec in after[stream].items():
            assert before[stream][rid] == rec
    assert after["commits"].keys() == before["commits"].keys()  # commits stay unless asked
    tombs = {t.id: t for t in after["tombstones"].values()}
    assert "chats:sess-a:p0" in tombs and tombs["chats:sess-a:p0"].reason == "retention: older than 1 days"
    # The deleted lines are physically gone from the tip's tree, and the tip is a new root.
    r = repo.open()
    store = Store(r)
    ids = set()
    for chunk in store.iter_chunks("chats"):
        ids |= {json.loads(line)["id"] for line in store.read_lines(chunk)}
    assert ids == {"sess-b:p4", "sess-b:p5", "sess-b:p6", "sess-b:p7"}  # p5 was tombstoned before
    assert r[store.tip(DATA_REF)].parents == []
    assert "cleanup:" in repo.git("reflog", "-1", DATA_REF)
    assert len(repo.git("reflog", DATA_REF).splitlines()) >= 2  # the old state stays recoverable


def test_only_affected_chunks_are_rewritten(repo, data):
    r = repo.open()
    store = Store(r)
    old_commit_chunks = {c.path for c in store.iter_chunks("commits")}
    old_chat_chunks = {c.path for c in store.iter_chunks("chats")}
    plan = plan_cleanup(r, 1, now=data["cutoff"] + 86400)
    assert {c.stream for ref in plan.rewrites.values() for c, _keep, _n in ref} == {"chats", "sessions",
                                                                                     "feedback", "links"}
    apply_cleanup(r, plan)
    assert {c.path for c in store.iter_chunks("commits")} == old_commit_chunks
    assert {c.path for c in store.iter_chunks("chats")} != old_chat_chunks


def test_records_appended_meanwhile_are_kept(repo, data):
    r = repo.open()
    plan = plan_cleanup(r, 1, now=data["cutoff"] + 86400)
    fresh = Chat(id="sess-c:new", session_id="sess-c", timestamp=iso(data["cutoff"] + 100), query="new",
                 response="arrived during the cleanup")
    Store(r).append("chats", [fresh])  # a concurrent writer moves the ref after the plan
    apply_cleanup(r, plan)
    chats = {c.id: c for c in Store(r).iter_records("chats")}
    assert chats["sess-c:new"].response == "arrived during the cleanup"
    assert "sess-a:p0" not in chats


def test_commits_only_when_asked(repo, data):
    shas = data["shas"]
    now = f"@{START + 10 * 3600 + 1 + 86400}"  # commits 1..10 (shas[0:10]) are older than 1 day
    res = repo.run("git-ml-cleanup", "--days", "1", "--now", now, "--streams", "commits", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["delete"] == {"commits": 10, "diffs": 1, "links": 1}  # with its diff and link
    after = snapshot(repo)
    assert set(after["commits"]) == set(shas[10:])
    assert len(after["chats"]) == 7  # conversation data untouched
    # Commit 6 (shas[5]) had a diff in the local ref and a link: both go with it.
    res = repo.run("git-ml-cleanup", "--days", "0", "--now", f"@{START + 31 * 3600}", "--streams", "all",
                   "--dry-run", "--json")
    assert json.loads(res.stdout)["delete"]["commits"] == 20


def test_commit_cascade_to_diffs_and_links(repo, data):
    r = repo.open()
    now = START + 6 * 3600 + 1 + 86400  # commits 1..6
    plan = plan_cleanup(r, 1, ("commits",), now=now)
    assert plan.doomed["diffs"] == {data["shas"][5]} and len(plan.doomed["links"]) == 1
    tips = apply_cleanup(r, plan)
    assert set(tips) == {DATA_REF, LOCAL_REF}
    store = Store(r)
    assert list(store.iter_records("diffs")) == []
    assert not any(True for c in store.iter_chunks("diffs"))


def test_retention_days_from_config(repo, data):
    repo.git("config", "ml.retentionDays", "1")
    res = repo.run("git-ml-cleanup", "--now", data["now"], "--dry-run")
    assert "older than 1 days" in res.stdout
    repo.git("config", "ml.retentionDays", "forever")
    res = repo.run("git-ml-cleanup", "--dry-run")
    assert res.returncode == 1 and "ml.retentionDays" in res.stderr and res.stderr.count("\n") == 1


def test_default_is_730_days_and_nothing_to_do(repo, data):
    res = repo.run("git-ml-cleanup", "--now", data["now"])
    assert res.returncode == 0 and "nothing older than 730 days" in res.stdout


def test_bad_arguments(repo, data):
    for args, needle in ((["--streams", "secrets"], "unknown stream"), (["--days", "-3"], "0 days or more"),
                         (["--all", "--days", "3"], "takes no --days")):
        res = repo.run("git-ml-cleanup", *args)
        assert res.returncode == 1 and needle in res.stderr and res.stderr.count("\n") == 1


def test_empty_store(repo):
    res = repo.run("git-ml-cleanup", "--days", "0")
    assert res.returncode == 0 and "nothing older" in res.stdout


def test_cleanup_all(repo, data):
    res = repo.run("git-ml-install-hooks")
    assert res.returncode == 0, res.stderr
    (repo.path / ".git" / "ml").mkdir(exist_ok=True)
    (repo.path / ".git" / "ml" / "capture.log").write_text("x\n")
    hooks = repo.path / ".git" / "hooks"
    assert (hooks / "post-commit").exists()
    res = repo.run("git-ml-cleanup", "--all")
    assert res.returncode == 1 and "add --yes" in res.stderr and "refs/ml/data" in res.stdout
    assert repo.git("for-each-ref", "refs/ml/").strip()
    res = repo.run("git-ml-cleanup", "--all", "--dry-run")
    assert res.returncode == 0 and "post-commit" in res.stdout
    res = repo.run("git-ml-cleanup", "--all", "--yes")
    assert res.returncode == 0, res.stderr
    assert repo.git("for-each-ref", "refs/ml/").strip() == ""
    assert not (repo.path / ".git" / "ml").exists()
    assert not (hooks / "post-commit").exists()
    assert not (repo.path / ".git" / "logs" / "refs" / "ml").exists()
    res = repo.run("git-ml-cleanup", "--all", "--dry-run")
    assert "nothing: git-ml left nothing here" in res.stdout
    repo.commit("life goes on")  # the repository still works
