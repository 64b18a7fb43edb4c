"""`git ml sync`: clones exchange refs/ml/data through a bare remote by union of chunks, in any order, after
compactions on either side, with compare-and-swap pushes; refs/ml/local never leaves."""

from __future__ import annotations

import itertools
import subprocess

import pygit2
import pytest
from conftest import Repo

from git_ml.errors import GitMlError
from git_ml.schema import Chat, Commit, Diff, Feedback, Tombstone
from git_ml.store import compact as compact_mod
from git_ml.store import sync as sync_mod
from git_ml.store.core import DATA_REF, LOCAL_REF, Store


def c(i, msg="m", at=""):
    return Commit(id=f"{i:040x}", message=msg, captured_at=at)


@pytest.fixture
def net(tmp_path):
    """A bare remote and a factory of clones that have it as `origin` and ml.remote."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    made = {}

    def clone(name: str) -> Repo:
        path = tmp_path / name
        subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
        r = Repo(path)
        r.git("remote", "add", "origin", str(remote))
        r.git("config", "ml.remote", "origin")
        made[name] = r
        return r

    clone.remote = remote
    return clone


def ids(r: Repo, stream="commits") -> list[str]:
    return [x.id for x in Store(r.open(), warn=lambda m: None).iter_records(stream)]


def remote_ids(remote, stream="commits") -> list[str]:
    return [x.id for x in Store(pygit2.Repository(str(remote)), warn=lambda m: None).iter_records(stream)]


def capture(r: Repo, lo: int, hi: int, **kw):
    store = Store(r.open())
    for i in range(lo, hi):
        store.append("commits", [c(i, **kw)])


def sync(r: Repo, *args, **kw):
    return sync_mod.sync(r.open(), *args, **kw)


def assert_all(r: Repo, expected: set[str]):
    got = ids(r)
    assert len(got) == len(set(got)) and set(got) == expected


def test_two_clones_converge(net):
    a, b = net("a"), net("b")
    capture(a, 0, 10)
    capture(b, 5, 20)  # 5..9 captured on both sides (as after a pull)
    assert sync(a).pushed
    res = sync(b)
    assert res.action == "merged" and res.pushed and res.duplicates == 5
    assert sync(a).action == "fast-forward"
    want = {f"{i:040x}" for i in range(20)}
    assert_all(a, want)
    assert_all(b, want)
    assert set(remote_ids(net.remote)) == want
    # The merge commit has both tips as parents; the remote-tracking ref follows the remote.
    merge = b.open().revparse_single(DATA_REF)
    assert len(merge.parents) == 2
    assert b.git("rev-parse", "refs/ml/remotes/origin/data").strip() == str(merge.id)


@pytest.mark.parametrize("order", list(itertools.permutations("abc")))
def test_three_clones_in_any_order(net, order):
    clones = {n: net(n) for n in "abc"}
    capture(clones["a"], 0, 6)
    capture(clones["b"], 4, 12)
    capture(clones["c"], 10, 15)
    for name in order:
        sync(clones[name])
    capture(clones[order[0]], 100, 103)  # captures keep happening between rounds
    for name in order + order[:2]:
        sync(clones[name])
    want = {f"{i:040x}" for i in [*range(15), *range(100, 103)]}
    for r in clones.values():
        assert_all(r, want)
    assert set(remote_ids(net.remote)) == want


@pytest.mark.parametrize("who", ["local", "remote", "both"])
def test_sync_after_a_compaction_on_either_side(net, who):
    a, b = net("a"), net("b")
    capture(a, 0, 8)
    sync(a)
    sync(b)
    capture(a, 8, 10)
    capture(b, 10, 12)
    if who in ("remote", "both"):
        compact_mod.compact(a.open())
        sync(a)  # pushes a new root: not a fast-forward, the lease makes it safe
    if who in ("local", "both"):
        compact_mod.compact(b.open())
    res = sync(b)
    assert res.pushed
    sync(a)
    sync(b)
    want = {f"{i:040x}" for i in range(12)}
    assert_all(a, want)
    assert_all(b, want)
    # Old and new chunks holding the same records read as one copy; a compaction after that makes one chunk.
    compact_mod.compact(b.open())
    assert_all(b, want)
    assert len([p for p in b.git("ls-tree", "-r", "--name-only", DATA_REF).split()
                if p.startswith("commits/")]) == 1


def test_sync_compacts_a_merge_that_holds_many_records_twice(net):
    a, b = net("a"), net("b")
    a.git("config", "ml.syncCompactMin", "10")
    b.git("config", "ml.syncCompactMin", "10")
    capture(a, 0, 30)
    sync(a)
    Store(b.open()).append("commits", [c(i) for i in range(30)])  # the same commits, captured separately
    res = sync(b)
    assert res.duplicates == 30 and res.compacted
    assert len(b.git("ls-tree", "-r", "--name-only", DATA_REF).split()) == 1
    assert_all(b, {f"{i:040x}" for i in range(30)})
    res = sync(a)  # compacts the same records into the same chunks: adopts b's commit, pushes nothing
    assert res.compacted and not res.pushed
    assert a.git("rev-parse", DATA_REF) == b.git("rev-parse", DATA_REF)


def test_tombstones_and_feedback_travel(net):
    a, b = net("a"), net("b")
    Store(a.open()).append_many({"chats": [Chat(id="s:1", query="q1"), Chat(id="s:2", query="q2")],
                                 "feedback": [Feedback(id="s:1@1", chat_id="s:1", rating="bad", time="1",
                                                       captured_at="2026-01-01T00:00:00.000000Z")]})
    sync(a)
    sync(b)
    Store(b.open()).append_many({"tombstones": [Tombstone(id="chats:s:2", stream="chats", target="s:2")],
                                 "feedback": [Feedback(id="s:1@1", chat_id="s:1", rating="good", time="1",
                                                       captured_at="2026-02-01T00:00:00.000000Z")]})
    compact_mod.compact(b.open())  # the deleted chat is physically gone on b, its tombstone stays
    sync(b)
    sync(a)  # a still holds the chat in an old chunk: the union does not bring it back
    for r in (a, b):
        assert ids(r, "chats") == ["s:1"]
        assert [f.rating for f in Store(r.open()).iter_records("feedback")] == ["good"]


def test_never_pushes_the_local_ref(net):
    a = net("a")
    Store(a.open()).append_many({"commits": [c(1)], "diffs": [Diff(id=f"{1:040x}", text="+secret stuff")]})
    assert sync(a).pushed
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname)"], cwd=net.remote, capture_output=True,
                          text=True).stdout.split()
    assert refs == [DATA_REF]
    assert LOCAL_REF not in refs


def test_retries_when_the_remote_moves_during_the_sync(net, monkeypatch):
    a, b = net("a"), net("b")
    capture(a, 0, 3)
    sync(a)
    capture(a, 3, 5)
    capture(b, 10, 12)
    real_push = sync_mod.push
    moved = []

    def push_after_b(repo, remote, new, expected):
        if not moved:
            moved.append(1)
            sync_mod.sync(b.open())  # b pushes first: a's lease is now stale
        return real_push(repo, remote, new, expected)

    monkeypatch.setattr(sync_mod, "push", push_after_b)
    res = sync(a)
    assert res.pushed and res.attempts == 2
    want = {f"{i:040x}" for i in [*range(5), 10, 11]}
    assert set(remote_ids(net.remote)) == want
    assert_all(a, want)


def test_local_capture_during_merge_is_kept(net, monkeypatch):
    a, b = net("a"), net("b")
    capture(b, 0, 2)
    sync(b)
    capture(a, 5, 6)
    real = sync_mod._set_local
    done = []

    def capture_first(repo, store, new, old, message):
        if not done:
            done.append(1)
            capture(a, 6, 7)  # a hook lands between the merge and the ref update
        return real(repo, store, new, old, message)

    monkeypatch.setattr(sync_mod, "_set_local", capture_first)
    sync(a)
    assert_all(a, {f"{i:040x}" for i in (0, 1, 5, 6)})
    assert set(remote_ids(net.remote)) == {f"{i:040x}" for i in (0, 1, 5, 6)}


def test_no_remote_and_unknown_remote_are_clear_errors(net, tmp_path):
    a = net("a")
    a.git("config", "--unset", "ml.remote")
    with pytest.raises(GitMlError, match="ml.remote is not set"):
        sync(a)
    proc = a.run("git-ml-sync")
    assert proc.returncode == 1 and "ml.remote" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = a.run("git-ml", "sync", "nowhere")
    assert proc.returncode == 1 and "unknown remote: nowhere" in proc.stderr
    proc = subprocess.run(["git-ml-sync", "origin"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1 and "not a git repository" in proc.stderr and "Traceback" not in proc.stderr


def test_unreachable_remote_is_one_line(net, tmp_path):
    a = net("a")
    a.git("remote", "add", "gone", str(tmp_path / "does-not-exist.git"))
    capture(a, 0, 1)
    proc = a.run("git-ml-sync", "gone")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "gone" in proc.stderr


def test_cli_sync_reports_and_json(net):
    a = net("a")
    capture(a, 0, 2)
    proc = a.run("git-ml-sync")
    assert proc.returncode == 0 and "origin" in proc.stdout, proc.stderr
    proc = a.run("git-ml-sync", "--json")
    assert proc.returncode == 0 and '"action": "up-to-date"' in proc.stdout


def test_sync_with_the_pre_push_hook_installed(net):
    a = net("a")
    a.commit("first")
    assert a.run("git-ml-install-hooks").returncode == 0
    capture(a, 0, 2)
    res = sync(a)
    assert res.pushed
    assert set(remote_ids(net.remote)) >= {f"{i:040x}" for i in range(2)}


def _appender(path: str, lo: int, hi: int) -> None:
    store = Store(pygit2.Repository(path))
    for i in range(lo, hi):
        store.append("commits", [c(i)], timeout=60)


@pytest.mark.slow
def test_captures_running_while_both_clones_sync(net):
    import multiprocessing

    a, b = net("a"), net("b")
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_appender, args=(str(a.path), 0, 60)),
               ctx.Process(target=_appender, args=(str(b.path), 1000, 1060))]
    for w in writers:
        w.start()
    rounds = 0
    while any(w.is_alive() for w in writers) or rounds < 2:
        sync(a)
        sync(b)
        rounds += 1
    for w in writers:
        w.join(60)
        assert w.exitcode == 0
    sync(a)
    sync(b)
    sync(a)
    want = {f"{i:040x}" for i in [*range(60), *range(1000, 1060)]}
    assert_all(a, want)
    assert_all(b, want)
    assert set(remote_ids(net.remote)) == want
