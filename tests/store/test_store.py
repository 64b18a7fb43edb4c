"""The store: appends, reads under the data model (dedup, latest wins, tombstones), atomicity, corruption."""

from __future__ import annotations

import pygit2
import pytest

from git_ml.errors import StoreBusy
from git_ml.schema import Commit, Tombstone
from git_ml.store.core import DATA_REF, LOCAL_REF, Store, content_name, decompress


def c(i, msg="m", at=""):
    return Commit(id=f"{i:040x}", message=msg, captured_at=at)


def test_append_and_read_back(repo):
    store = Store(repo.open())
    assert list(store.iter_records("commits")) == []
    store.append("commits", [c(1, "one"), c(2, "two")])
    store.append("commits", [c(3, "three")])
    got = {r.id: r.message for r in store.iter_records("commits")}
    assert got == {f"{1:040x}": "one", f"{2:040x}": "two", f"{3:040x}": "three"}
    # Never in the working tree or on a branch.
    assert repo.git("status", "--porcelain") == ""
    assert repo.git("for-each-ref", "refs/heads") == ""
    assert repo.git("rev-parse", DATA_REF).strip()


def test_layout_names_chunks_by_content(repo):
    store = Store(repo.open())
    store.append("commits", [c(1), c(2)])
    paths = repo.git("ls-tree", "-r", "--name-only", DATA_REF).split()
    assert len(paths) == 1
    stream, fan, name = paths[0].split("/")
    assert stream == "commits" and name.startswith(fan) and name.endswith(".2.jsonl.zst")
    blob = repo.git("rev-parse", f"{DATA_REF}:{paths[0]}").strip()
    raw = decompress(repo.open()[blob].data)
    assert content_name(raw, 2) == name
    assert raw.count(b"\n") == 2


def test_identical_records_stored_once_and_latest_version_wins(repo):
    store = Store(repo.open())
    store.append("commits", [c(1, "old", "2026-01-01T00:00:00.000000Z")])
    store.append("commits", [c(1, "old", "2026-01-01T00:00:00.000000Z")])  # byte-identical: same chunk name
    assert len(repo.git("ls-tree", "-r", "--name-only", DATA_REF).split()) == 1
    store.append("commits", [c(1, "new", "2026-02-01T00:00:00.000000Z")])
    records = list(store.iter_records("commits"))
    assert [r.message for r in records] == ["new"]
    # An older version appended later (e.g. from a clone that lagged) does not win.
    store.append("commits", [c(1, "older", "2025-12-01T00:00:00.000000Z")])
    assert [r.message for r in store.iter_records("commits")] == ["new"]


def test_tombstones_hide_records(repo):
    store = Store(repo.open())
    store.append("commits", [c(1), c(2)])
    store.append("tombstones", [Tombstone(id=f"commits:{1:040x}", stream="commits", target=f"{1:040x}",
                                          reason="test")])
    assert [r.id for r in store.iter_records("commits")] == [f"{2:040x}"]
    assert len(list(store.iter_records("commits", include_hidden=True))) == 2


def test_local_stream_goes_to_local_ref(repo):
    from git_ml.schema import Diff

    store = Store(repo.open())
    store.append("diffs", [Diff(id="a" * 40, text="+x\n")])
    assert store.tip(LOCAL_REF) is not None and store.tip(DATA_REF) is None
    assert [d.text for d in store.iter_records("diffs")] == ["+x\n"]


def test_reflog_says_what_was_appended(repo):
    store = Store(repo.open())
    store.append("commits", [c(1), c(2)], message="capture (test)")
    log = repo.git("reflog", "show", "--format=%gs", DATA_REF)
    assert "capture (test): 2 commits" in log


def test_corrupt_chunk_is_skipped_with_a_warning(repo):
    store = Store(repo.open())
    store.append("commits", [c(1)])
    store.append("commits", [c(2), c(3)])
    r = repo.open()
    tree = r.revparse_single(DATA_REF).peel(pygit2.Tree)
    # Replace one chunk's blob with garbage under the same name.
    victim = next(ch for ch in store.iter_chunks("commits") if ch.count == 2)
    bad = r.create_blob(b"not zstd at all")
    warnings = []
    s2 = Store(r, warn=warnings.append)
    s2.update(DATA_REF, adds={victim.path: bad}, message="corrupt it")
    assert [x.id for x in s2.iter_records("commits")] == [f"{1:040x}"]
    assert len(warnings) == 1 and victim.path in warnings[0] and "2 records" in warnings[0]
    assert tree is not None


def test_lock_held_gives_up_with_store_busy(repo):
    store = Store(repo.open())
    store.append("commits", [c(1)])
    lock = repo.path / ".git" / "refs" / "ml" / "data.lock"
    lock.write_text("")
    with pytest.raises(StoreBusy):
        store.append("commits", [c(2)], timeout=0.3)
    lock.unlink()
    assert [x.id for x in store.iter_records("commits")] == [f"{1:040x}"]


def test_stale_lock_of_a_killed_writer_is_broken(repo):
    import os
    import time

    store = Store(repo.open(), warn=lambda m: None)
    store.append("commits", [c(1)])
    lock = repo.path / ".git" / "refs" / "ml" / "data.lock"
    lock.write_text("")
    old = time.time() - 120
    os.utime(lock, (old, old))
    store.append("commits", [c(2)], timeout=0.5)
    assert not lock.exists()
    assert len(list(store.iter_records("commits"))) == 2
