"""Store reliability (issue 15): damaged chunks are named and what decodes is kept, missing objects are one
warning, disk-full during a ref update is an error (not contention) that leaves nothing half-written, bad output
paths are one line, and a manual capture drains the spool."""

from __future__ import annotations

import errno
import json
import time

import pygit2
import pytest

from git_ml.capture.git_hook import run_hook
from git_ml.errors import StoreBusy
from git_ml.schema import Commit
from git_ml.store import spool
from git_ml.store.core import DATA_REF, Store
from git_ml.store.objects import compress
from git_ml.store.update import StoreWriteError


def c(i: int, msg: str = "m") -> Commit:
    return Commit(id=f"{i:040x}", message=msg, time=1_700_000_000 + i)


def loose_path(repo, oid) -> object:
    h = str(oid)
    return repo.path / ".git" / "objects" / h[:2] / h[2:]


def replace_blob(store: Store, path: str, data: bytes) -> None:
    store.update(DATA_REF, adds={path: store.repo.create_blob(data)}, message="damage (test)")


def test_a_cut_zstd_frame_keeps_the_records_before_the_cut(repo):
    store = Store(repo.open())
    store.append("commits", [c(i, f"message {i} " + "abcdefghij" * (i % 50)) for i in range(3000)])
    [chunk] = list(store.iter_chunks("commits"))
    raw = b"".join(line + b"\n" for line in store.read_lines(chunk))
    data = compress(raw)
    replace_blob(store, chunk.path, data[: len(data) // 2])
    proc = repo.run("git", "ml", "stats", "--json")
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    assert 0 < stats["commits"] < 3000
    [(path, lost, detail)] = stats["corrupt"]
    assert path == chunk.path and lost == 3000 - stats["commits"] and "truncated" in detail
    assert len(proc.stderr.strip().splitlines()) == 1 and chunk.path in proc.stderr


def test_stats_on_a_missing_chunk_object_is_one_warning(repo):
    store = Store(repo.open())
    store.append("commits", [c(1)])
    store.append("commits", [c(2)])
    chunk = next(iter(store.iter_chunks("commits")))
    loose_path(repo, chunk.oid).unlink()
    proc = repo.run("git", "ml", "stats", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["commits"] == 1
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert chunk.path in proc.stderr


@pytest.mark.parametrize("target", ["file", "unwritable"])
def test_reconstruct_into_a_bad_path_is_one_line(repo, tmp_path, target):
    Store(repo.open()).append("commits", [c(1)])
    if target == "file":
        out = tmp_path / "taken"
        out.write_text("x")
    else:  # beneath a regular file: no user, root included, can create it
        (tmp_path / "plain").write_text("x")
        out = tmp_path / "plain" / "sub" / "dir"
    proc = repo.run("git", "ml", "chunk", "reconstruct", "-o", str(out))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and str(out) in proc.stderr


def _disk_full(monkeypatch, *, partial_reflog: bool = False):
    calls = []
    real = pygit2.Repository.transaction

    def transaction(self):
        calls.append(1)
        txn = real(self)

        class Failing:
            def __enter__(self_):
                return txn.__enter__()

            def __exit__(self_, *exc):
                txn.__exit__(ValueError, ValueError("abort"), None)  # roll back: nothing written
                if partial_reflog:  # what a full disk leaves: half a reflog line
                    with open(self.path + "logs/" + DATA_REF, "ab") as fh:
                        fh.write(b"0000 1111 git-ml <git-ml@localhost> 17")
                raise OSError(errno.ENOSPC, "No space left on device")

        return Failing()

    monkeypatch.setattr(pygit2.Repository, "transaction", transaction)
    return calls


@pytest.mark.parametrize("partial", [False, True])
def test_disk_full_during_the_ref_update_is_an_error_not_contention(repo, monkeypatch, partial):
    repo.git("config", "ml.lockTimeoutMs", "3000")
    store = Store(repo.open())
    store.append("commits", [c(1)])
    tip = store.tip()
    log = repo.path / ".git" / "logs" / DATA_REF
    before = log.read_bytes()
    calls = _disk_full(monkeypatch, partial_reflog=partial)
    started = time.monotonic()
    with pytest.raises(StoreWriteError) as err:
        store.append("commits", [c(2)])
    assert not isinstance(err.value, StoreBusy) and "No space left" in str(err.value)
    assert time.monotonic() - started < 1.0 and len(calls) == 1  # no retry loop
    assert Store(repo.open()).tip() == tip and log.read_bytes() == before  # nothing half-written


def test_a_hook_on_a_full_disk_logs_one_line_and_exits_0(repo, monkeypatch):
    repo.commit("one")
    Store(repo.open()).append("commits", [c(1)])
    repo.commit("two")
    monkeypatch.chdir(repo.path)
    _disk_full(monkeypatch)
    assert run_hook(["post-commit"]) == 0
    lines = (repo.path / ".git" / "ml" / "capture.log").read_text().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0]


def test_a_manual_capture_drains_the_spool(repo):
    sha = repo.commit("one")
    assert repo.run("git", "ml", "capture", "-q").returncode == 0
    r = repo.open()
    spool.write_spool(r, {"commits": [c(7)]})
    assert spool.pending(r)
    proc = repo.run("git", "ml", "capture", "-q", sha)  # already captured: nothing new of its own to store
    assert proc.returncode == 0, proc.stderr
    assert not spool.pending(repo.open())
    assert f"{7:040x}" in Store(repo.open()).ids("commits")


def test_a_truncated_loose_chunk_object_never_hangs_a_reader(repo):
    store = Store(repo.open())
    store.append("commits", [c(1)])
    first = {ch.path for ch in store.iter_chunks("commits")}
    store.append("commits", [c(2, "x" * 5000)])
    [chunk] = [ch for ch in store.iter_chunks("commits") if ch.path not in first]
    f = loose_path(repo, chunk.oid)
    f.chmod(0o644)
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    for args in (["stats", "--json"], ["chunk", "reconstruct", "-o", str(repo.path / "out")],
                 ["chunk", "stats"], ["chunk", "compact"], ["cleanup", "--dry-run", "--days", "1"]):
        proc = repo.run("timeout", "60", "git", "ml", *args)
        assert proc.returncode in (0, 1), (args, proc.returncode, proc.stderr)
        assert "Traceback" not in proc.stderr, args
    assert Store(repo.open()).count("commits") == 1


def test_io_errors_are_told_from_lock_contention():
    from git_ml.store.update import io_error

    assert io_error(pygit2.GitError("failed to write reference 'refs/ml/data': No space left on device"))
    assert io_error(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not io_error(pygit2.GitError("failed to lock file '/r/.git/refs/ml/data.lock' for writing: "))


def test_a_truncated_loose_store_tree_is_one_line_not_a_hang(repo):
    store = Store(repo.open())
    store.append("commits", [c(1)])
    stream_tree = store.tree()["commits"].id  # libgit2 never returns from reading this tree once it is cut
    f = loose_path(repo, stream_tree)
    f.chmod(0o644)
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    for args in (["stats", "--json"], ["chunk", "stats"], ["chunk", "verify"], ["chunk", "compact"]):
        proc = repo.run("timeout", "60", "git", "ml", *args)
        assert proc.returncode == 1, (args, proc.returncode, proc.stderr)
        assert "Traceback" not in proc.stderr and "damaged store tree" in proc.stderr, args
        assert len(proc.stderr.strip().splitlines()) == 1, args
