"""Chunk lifecycle: compaction (manual and automatic), verify, repair, reconstruct, stats, and the CLI around them."""

from __future__ import annotations

import json
import subprocess

import msgspec
import pygit2
import pytest

from git_ml.schema import Chat, Commit, Diff, Tombstone
from git_ml.store import compact as compact_mod
from git_ml.store import objects as objects_mod
from git_ml.store import reconstruct as reconstruct_mod
from git_ml.store import repair as repair_mod
from git_ml.store import stats as stats_mod
from git_ml.store import tree as tree_mod
from git_ml.store import update as update_mod
from git_ml.store.core import DATA_REF, LOCAL_REF, Store, chunk_path, compress, content_name, decompress


def c(i, msg="m", at="", **kw):
    return Commit(id=f"{i:040x}", message=msg, captured_at=at, **kw)


def at(n: int) -> str:
    return f"2026-01-01T00:00:{n:02d}.000000Z"


def tree_paths(repo, ref=DATA_REF) -> list[str]:
    out = repo.git("ls-tree", "-r", "--name-only", ref, check=False).split()
    return out


def read(store, stream="commits"):
    return {r.id: r for r in store.iter_records(stream)}


def put_raw(store: Store, stream: str, lines: list[bytes], *, name_from: bytes | None = None,
            blob: bytes | None = None) -> str:
    """Put a chunk in the store by hand: its raw lines (named after ``name_from`` if given) or any blob."""
    raw = b"".join(x + b"\n" for x in lines)
    named = name_from if name_from is not None else raw
    path = chunk_path(stream, content_name(named, named.count(b"\n")))
    oid = store.repo.create_blob(blob if blob is not None else compress(raw))
    store.update(DATA_REF if stream != "diffs" else LOCAL_REF, adds={path: oid}, message="test: put chunk")
    return path


# ----- compaction ------------------------------------------------------------------------------------------------
def test_compact_keeps_the_read_view_and_drops_what_readers_hide(repo):
    store = Store(repo.open())
    store.append("commits", [c(1, "one", at(1)), c(2, "two", at(1))])
    store.append("commits", [c(1, "one", at(1))])  # byte-identical again (same chunk name: coincides)
    store.append("commits", [c(2, "two v2", at(5)), c(3, "three", at(2))])
    store.append("commits", [c(2, "two v0", at(0))])  # an older version arriving late: loses
    store.append("commits", [c(4, "four", at(3))])
    store.append("tombstones", [Tombstone(id=f"commits:{4:040x}", stream="commits", target=f"{4:040x}",
                                          reason="test")])
    before = {k: v.message for k, v in read(store).items()}
    results = compact_mod.compact(store.repo)
    data = results[0]
    assert data.changed and data.ref == DATA_REF
    t = data.totals()
    assert t["superseded"] == 2 and t["hidden"] == 1
    after = {k: v.message for k, v in read(Store(repo.open())).items()}
    assert after == before == {f"{1:040x}": "one", f"{2:040x}": "two v2", f"{3:040x}": "three"}
    # One chunk per stream; the tombstone stays; the deleted record and old versions are physically gone.
    paths = tree_paths(repo)
    assert len([p for p in paths if p.startswith("commits/")]) == 1
    assert len([p for p in paths if p.startswith("tombstones/")]) == 1
    lines = reconstruct_mod.live_lines(repo.open(), "commits", include_hidden=True)
    assert len(lines) == 3 and b"four" not in b"".join(lines) and b"two v0" not in b"".join(lines)
    # A new root commit (old chunks unreachable once the reflog expires), and the reflog says what was done.
    assert repo.git("rev-list", "--count", DATA_REF).strip() == "1"
    log = repo.git("reflog", "show", "--format=%gs", DATA_REF)
    assert "compact:" in log.splitlines()[0] and "superseded" in log.splitlines()[0]
    assert repair_mod.verify(repo.open()).ok


def test_compact_keeps_fields_of_newer_versions_and_capture_order(repo):
    store = Store(repo.open())
    future = [json.dumps({"id": f"{i:040x}", "captured_at": at(10 - i), "message": f"m{i}",
                          "field_from_the_future": {"x": i}}, separators=(",", ":")).encode() for i in range(5)]
    put_raw(store, "commits", future[:2])
    put_raw(store, "commits", future[2:])
    compact_mod.compact(store.repo)
    lines = reconstruct_mod.live_lines(repo.open(), "commits")
    assert sorted(lines) == sorted(future)  # byte for byte
    assert lines == sorted(future, key=lambda b: json.loads(b)["captured_at"])  # capture order


def test_compaction_is_deterministic_whatever_the_chunking(tmp_path):
    recs = [c(i, f"message {i}", at(i % 7), time=1_600_000_000 + i) for i in range(60)]
    trees = []
    for k, split in enumerate((1, 7, 60)):
        path = tmp_path / f"r{k}"
        subprocess.run(["git", "init", "-q", str(path)], check=True)
        store = Store(pygit2.Repository(str(path)))
        for i in range(0, 60, split):
            store.append("commits", recs[i:i + split])
        compact_mod.compact(store.repo)
        trees.append(store.repo.revparse_single(DATA_REF).peel(pygit2.Tree).id)
    assert trees[0] == trees[1] == trees[2]


def test_compact_splits_at_the_configured_chunk_size_and_is_idempotent(repo):
    repo.git("config", "ml.chunkSize", "4k")
    store = Store(repo.open())
    store.append("commits", [c(i, "x" * 200, at(i % 60)) for i in range(100)])
    compact_mod.compact(store.repo)
    paths = [p for p in tree_paths(repo) if p.startswith("commits/")]
    assert 6 <= len(paths) <= 9  # ~30 KB of lines in chunks of ~4 KB, balanced
    assert sum(objects_mod.parse_count(p.rsplit("/", 1)[1]) for p in paths) == 100
    tip = store.tip()
    again = compact_mod.compact(store.repo)
    assert not again[0].changed and store.tip() == tip
    assert len(read(Store(repo.open()))) == 100


def test_compact_leaves_corrupt_chunks_for_repair(repo):
    store = Store(repo.open())
    store.append("commits", [c(1, "a", at(1))])
    store.append("commits", [c(2, "b", at(2))])
    bad = put_raw(store, "commits", [b"x"], blob=b"garbage, not zstd")
    warnings = []
    compact_mod.compact(store.repo, warn=warnings.append)
    assert bad in tree_paths(repo)
    assert any(bad in w for w in warnings)
    assert set(read(Store(repo.open(), warn=lambda m: None))) == {f"{1:040x}", f"{2:040x}"}


def test_compact_local_ref_applies_tombstones_of_the_data_ref(repo):
    store = Store(repo.open())
    store.append_many({"commits": [c(1), c(2)], "diffs": [Diff(id=f"{1:040x}", text="+a"),
                                                           Diff(id=f"{2:040x}", text="+b")]})
    store.append("tombstones", [Tombstone(id=f"diffs:{1:040x}", stream="diffs", target=f"{1:040x}")])
    results = compact_mod.compact(store.repo)
    assert [r.ref for r in results] == [DATA_REF, LOCAL_REF]
    assert reconstruct_mod.live_lines(repo.open(), "diffs", include_hidden=True) == [
        msgspec.json.encode(Diff(id=f"{2:040x}", text="+b", captured_at=read(store, "diffs")[f"{2:040x}"].captured_at))]


def test_compact_carries_appends_that_land_meanwhile(repo, monkeypatch):
    store = Store(repo.open())
    store.append("commits", [c(1)])
    store.append("commits", [c(2)])
    real_update = update_mod.update
    calls = []

    def racing_update(repo_, ref, **kw):
        if kw.get("new_root") and not calls:
            calls.append(1)
            Store(repo_).append("commits", [c(3)])  # another writer wins the race
        return real_update(repo_, ref, **kw)

    monkeypatch.setattr(update_mod, "update", racing_update)
    compact_mod.compact(store.repo)
    assert set(read(Store(repo.open()))) == {f"{i:040x}" for i in (1, 2, 3)}


# ----- automatic compaction ----------------------------------------------------------------------------------------
def test_auto_compaction_keeps_small_chunks_bounded_within_the_appends(repo):
    repo.git("config", "ml.autoCompact", "8")
    store = Store(repo.open())
    for i in range(30):
        store.append("commits", [c(i)])
        assert tree_mod.count_small_chunks(store.repo, tree_mod.tree_of(store.repo, store.tip())) <= 9
    assert len(read(store)) == 30
    # Folded into the appends: still one commit per append, and the reflog says so.
    assert repo.git("rev-list", "--count", DATA_REF).strip() == "30"
    assert "auto-compacted" in repo.git("reflog", "show", "--format=%gs", DATA_REF)


def test_auto_compaction_off_with_zero(repo):
    repo.git("config", "ml.autoCompact", "0")
    store = Store(repo.open())
    for i in range(12):
        store.append("commits", [c(i)])
    assert len(tree_paths(repo)) == 12


def test_a_failing_auto_compaction_never_fails_the_append(repo, monkeypatch):
    repo.git("config", "ml.autoCompact", "1")

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(compact_mod, "plan_auto_compaction", boom)
    store = Store(repo.open())
    for i in range(3):
        store.append("commits", [c(i)])
    assert len(read(store)) == 3
    log = (repo.path / ".git" / "ml" / "capture.log").read_text()
    assert "auto-compaction" in log and "disk on fire" in log


# ----- verify and repair -------------------------------------------------------------------------------------------
def test_verify_names_a_garbage_chunk_and_repair_drops_it(repo):
    store = Store(repo.open())
    store.append("commits", [c(1)])
    store.append("chats", [Chat(id="s:1", query="q")])
    victim = put_raw(store, "commits", [msgspec.json.encode(c(7)), msgspec.json.encode(c(8))],
                     blob=b"\x00garbage" * 10)
    report = repair_mod.verify(repo.open())
    assert not report.ok and [p.path for p in report.problems] == [victim]
    assert report.problems[0].records == 2
    # Other streams (and the other chunk of the stream) still read.
    assert [x.id for x in Store(repo.open(), warn=lambda m: None).iter_records("chats")] == ["s:1"]
    result = repair_mod.repair(repo.open())
    assert len(result.salvaged) == 1
    sv = result.salvaged[0]
    assert sv.path == victim and sv.kept == 0 and sv.lost_unknown == 2 and sv.lost == 2
    assert victim not in tree_paths(repo)
    assert repair_mod.verify(repo.open()).ok
    assert "chunk repair" in repo.git("reflog", "show", "--format=%gs", DATA_REF).splitlines()[0]


def test_repair_keeps_lines_that_still_decode_and_names_the_lost_ids(repo):
    store = Store(repo.open())
    store.append("commits", [c(1, "elsewhere too")])
    good = msgspec.json.encode(c(2, "fine"))
    bad_known = b'{"id":"' + b"3" * 40 + b'","message":42}'  # valid JSON, wrong type: id known
    dup_known = b'{"id":"' + f"{1:040x}".encode() + b'","files":"nope"}'  # bad, but id 1 exists elsewhere
    torn = b'{"id":"broken'
    lines = [good, bad_known, dup_known, torn]
    victim = put_raw(store, "commits", lines)
    report = repair_mod.verify(repo.open())
    assert [p.path for p in report.problems] == [victim]
    result = repair_mod.repair(repo.open())
    sv = result.salvaged[0]
    assert sv.kept == 1 and sv.lost_ids == ["3" * 40] and sv.recovered_elsewhere == [f"{1:040x}"]
    assert sv.lost_unknown == 1 and sv.lost == 2
    assert set(read(Store(repo.open()))) == {f"{1:040x}", f"{2:040x}"}
    assert repair_mod.verify(repo.open()).ok
    assert result.tombstones == 0


def test_repair_salvages_the_start_of_a_truncated_chunk(repo):
    store = Store(repo.open())
    recs = [c(i, f"message {i} " + "abcdefghij" * (i % 50), at(1)) for i in range(3000)]
    store.append("commits", recs)
    [chunk] = list(store.iter_chunks("commits"))
    data = store.repo[chunk.oid].read_raw()
    # zstd level 3 writes blocks of at most 128 KiB: cut in the middle of the frame.
    cut = put_raw(store, "commits", [], name_from=decompress(data), blob=data[: len(data) // 2])
    assert cut == chunk.path
    warnings = []
    # Readers keep the complete lines before the cut, and say so (issue 15: a cut frame was dropped whole).
    kept = len(list(Store(repo.open(), warn=warnings.append).iter_records("commits")))
    assert 0 < kept < 3000
    assert warnings and chunk.path in warnings[0] and f"kept {kept} records, {3000 - kept} lost" in warnings[0]
    result = repair_mod.repair(repo.open())
    sv = result.salvaged[0]
    assert sv.kept == kept and sv.kept + sv.lost_unknown == 3000
    assert len(read(Store(repo.open()))) == sv.kept
    assert repair_mod.verify(repo.open()).ok


def test_repair_tombstones_only_when_asked(repo):
    store = Store(repo.open())
    put_raw(store, "commits", [b'{"id":"' + b"5" * 40 + b'","message":1}'])
    result = repair_mod.repair(repo.open(), tombstone=True)
    assert result.tombstones == 1
    [t] = list(Store(repo.open()).iter_records("tombstones"))
    assert t.target == "5" * 40 and t.stream == "commits" and "repair" in t.reason


def test_repair_dry_run_changes_nothing(repo):
    store = Store(repo.open())
    victim = put_raw(store, "commits", [b"x"], blob=b"junk")
    tip = store.tip()
    result = repair_mod.repair(repo.open(), dry_run=True)
    assert result.salvaged[0].path == victim and store.tip() == tip


# ----- reconstruct and stats ---------------------------------------------------------------------------------------
def test_reconstruct_writes_json_files_and_jsonl(repo, tmp_path):
    store = Store(repo.open())
    store.append("commits", [c(1, "one", at(1)), c(2, "two", at(2))])
    store.append("chats", [Chat(id="sess/1:p 1", query="hello", captured_at=at(3)),
                           Chat(id="sess/1:p_1", query="other", captured_at=at(4))])
    store.append("diffs", [Diff(id=f"{1:040x}", text="+x\n")])
    out = tmp_path / "out"
    counts = reconstruct_mod.reconstruct(repo.open(), out)
    assert counts["commits"] == 2 and counts["chats"] == 2 and counts["diffs"] == 1
    lines = (out / "commits.jsonl").read_bytes().splitlines()
    assert [json.loads(x)["message"] for x in lines] == ["one", "two"]
    one = json.loads((out / "commits" / f"{1:040x}.json").read_text())
    assert one["message"] == "one" and one["id"] == f"{1:040x}"
    chat_files = sorted(p.name for p in (out / "chats").iterdir())
    assert len(chat_files) == 2 and len(set(chat_files)) == 2
    assert {json.loads((out / "chats" / n).read_text())["query"] for n in chat_files} == {"hello", "other"}
    assert (out / "diffs.jsonl").exists()


def test_stats_count_duplicates_and_small_chunks(repo):
    store = Store(repo.open())
    store.append("commits", [c(1, "a", at(1))])
    store.append("commits", [c(1, "a2", at(2)), c(2, "b", at(2))])
    data = stats_mod.chunk_stats(repo.open())
    s = data["streams"]["commits"]
    assert s["chunks"] == 2 and s["small_chunks"] == 2 and s["records"] == 2 and s["records_stored"] == 3
    assert s["superseded"] == 1 and s["dedup_savings_bytes"] > 0 and 0 < s["ratio"]
    assert data["streams"]["chats"]["chunks"] == 0
    assert data["total"]["raw_bytes"] == s["raw_bytes"]


# ----- command line ------------------------------------------------------------------------------------------------
def test_cli_stats_verify_compact_repair(repo):
    store = Store(repo.open())
    for i in range(5):
        store.append("commits", [c(i)])
    proc = repo.run("git-ml-chunk", "stats", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["streams"]["commits"]["records"] == 5
    proc = repo.run("git-ml-chunk", "compact")
    assert proc.returncode == 0 and "5 chunks -> 1" in proc.stdout, proc.stdout + proc.stderr
    assert repo.run("git-ml-chunk", "verify").returncode == 0
    victim = put_raw(Store(repo.open()), "chats", [b"x"], blob=b"junk")
    proc = repo.run("git-ml-chunk", "verify")
    assert proc.returncode == 1 and victim in proc.stdout
    proc = repo.run("git-ml", "chunk", "repair")
    assert proc.returncode == 0 and victim in proc.stdout and "1 records" in proc.stdout, proc.stdout + proc.stderr
    assert repo.run("git-ml-chunk", "verify").returncode == 0


def test_cli_reconstruct(repo, tmp_path):
    Store(repo.open()).append("commits", [c(1, "one")])
    proc = repo.run("git-ml-chunk", "reconstruct", "--output", str(tmp_path / "o"), "--no-files")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / "commits.jsonl").exists() and not (tmp_path / "o" / "commits").exists()


@pytest.mark.parametrize("args", [["stats"], ["verify"], ["compact"], ["repair"], ["migrate"],
                                  ["reconstruct", "-o", "x"]])
def test_cli_outside_a_repository_is_one_line(tmp_path, args):
    proc = subprocess.run(["git-ml-chunk", *args], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "not a git repository" in proc.stderr


def test_cli_bad_arguments(repo):
    proc = repo.run("git-ml-chunk", "compact", "--chunk-size", "lots")
    assert proc.returncode == 1 and "not a size" in proc.stderr and "Traceback" not in proc.stderr
    proc = repo.run("git-ml-chunk", "stats", "--ref", "nope")
    assert proc.returncode == 1 and "--ref" in proc.stderr


def test_repair_removes_a_stale_ref_lock(repo):
    import os
    import time

    store = Store(repo.open())
    store.append("commits", [c(1)])
    lock = repo.path / ".git" / "refs" / "ml" / "data.lock"
    lock.write_text("")
    assert repair_mod.verify(repo.open()).warnings == []  # fresh: a writer may hold it
    old = time.time() - 120
    os.utime(lock, (old, old))
    assert any("stale lock" in w for w in repair_mod.verify(repo.open()).warnings)
    proc = repo.run("git-ml-chunk", "repair")
    assert proc.returncode == 0 and "removed stale lock" in proc.stdout
    assert not lock.exists()
    store.append("commits", [c(2)])
    assert len(read(Store(repo.open()))) == 2
