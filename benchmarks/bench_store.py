"""Chunk lifecycle and sync on the git.git replay (60,751 commit records): compaction time and stored size, size
against the legacy storage format, sync to a fresh bare remote, and the cost automatic compaction adds to an append.

    /work/venv/bin/pytest benchmarks/bench_store.py -p no:cacheprovider -s --benchmark-columns=min,mean,max

The records come from a repository whose refs/ml/data holds a backfill: $GIT_ML_BENCH_SOURCE if set, else the
cached backfilled replay of conftest.py (GIT_ML_BENCH_HISTORY picks the dataset; without ../shared a generated
history). Only refs/ml/data is fetched into a fresh bare repository per test, so the source is never changed.

Targets (issue 5): compact of the 60k records ≤ 5 s; stored bytes (blobs and trees reachable from the tip after
compact) ≤ 20% of the records as JSON Lines (as `chunk reconstruct` writes them) and ≤ 0.6× the legacy format
(JSON Lines, each record over 5 KB zlib-compressed and base64-encoded); sync of the 60k records to a fresh bare
remote ≤ 10 s.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import zlib
from pathlib import Path

import pygit2
import pytest
from conftest import HISTORY, backfilled, bench_env

from git_ml.schema import Commit
from git_ml.store import compact as compact_mod
from git_ml.store import reconstruct as reconstruct_mod
from git_ml.store import repair as repair_mod
from git_ml.store import stats as stats_mod
from git_ml.store.core import DATA_REF, Store
from git_ml.store.sync import sync

FULL = HISTORY == "git"  # the targets are stated for git.git


def source() -> Path:
    path = os.environ.get("GIT_ML_BENCH_SOURCE")
    if path:
        return Path(path)
    return backfilled()


@pytest.fixture
def store_repo(tmp_path) -> pygit2.Repository:
    """A bare repository holding only the source's refs/ml/data (as backfill wrote it: uncompacted)."""
    src = source()
    dest = tmp_path / "store.git"
    subprocess.run(["git", "init", "-q", "--bare", str(dest)], check=True, env=bench_env())
    subprocess.run(["git", "fetch", "-q", str(src), f"{DATA_REF}:{DATA_REF}"], cwd=dest, check=True,
                   env=bench_env())
    repo = pygit2.Repository(str(dest))
    if Store(repo).tip() is None:
        pytest.skip(f"{src} has no {DATA_REF}")
    return repo


def legacy_bytes(lines: list[bytes]) -> tuple[int, int]:
    """Bytes of the records stored as the legacy system did: JSON Lines, a record over 5 KB as
    {"compressed": true, "encoding": "zlib+base64", "data": ...}; and the same file deflated whole (a git blob)."""
    out = []
    for line in lines:
        if len(line) > 5 * 1024:
            data = base64.b64encode(zlib.compress(line)).decode()
            line = json.dumps({"compressed": True, "encoding": "zlib+base64", "data": data}).encode()
        out.append(line + b"\n")
    text = b"".join(out)
    return len(text), len(zlib.compress(text, 6))


def test_compact_time_and_ratio(store_repo, benchmark):
    before = stats_mod.reachable_bytes(store_repo)
    results = benchmark.pedantic(lambda: compact_mod.compact(store_repo, refs=[DATA_REF]), rounds=1, iterations=1)
    seconds = benchmark.stats.stats.max
    stored = stats_mod.reachable_bytes(store_repo)
    lines = reconstruct_mod.live_lines(store_repo, "commits")
    raw = sum(len(x) + 1 for x in lines)
    legacy, legacy_deflated = legacy_bytes(lines)
    t = results[0].totals()
    benchmark.extra_info.update(records=len(lines), raw_bytes=raw, stored_before=before, stored_after=stored,
                                ratio=round(stored / raw, 4), legacy_bytes=legacy,
                                vs_legacy=round(stored / legacy, 4), legacy_deflated=legacy_deflated,
                                chunks_after=t["chunks_after"])
    print(f"\ncompact: {t['records_before']} records, {t['chunks_before']} -> {t['chunks_after']} chunks in "
          f"{seconds:.2f} s; stored {before:,} -> {stored:,} bytes = {stored / raw:.1%} of {raw:,} raw; "
          f"legacy format {legacy:,} bytes ({stored / legacy:.2f}x), legacy file deflated {legacy_deflated:,}")
    assert repair_mod.verify(store_repo).ok
    if FULL:
        assert seconds <= 5.0
    assert stored <= 0.20 * raw
    assert stored <= 0.6 * legacy


def test_compact_best(store_repo, benchmark):
    """`compact --best` (zstd 19): how much further a slower setting goes."""
    benchmark.pedantic(lambda: compact_mod.compact(store_repo, refs=[DATA_REF], best=True), rounds=1, iterations=1)
    stored = stats_mod.reachable_bytes(store_repo)
    raw = sum(len(x) + 1 for x in reconstruct_mod.live_lines(store_repo, "commits"))
    benchmark.extra_info.update(ratio=round(stored / raw, 4))
    print(f"\ncompact --best: {benchmark.stats.stats.max:.1f} s, {stored / raw:.1%} of raw")


def test_sync_to_a_fresh_bare_remote(store_repo, tmp_path, benchmark):
    compact_mod.compact(store_repo, refs=[DATA_REF])
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True, env=bench_env())
    store_repo.remotes.create("bench", str(remote))
    result = benchmark.pedantic(lambda: sync(store_repo, "bench"), rounds=1, iterations=1)
    assert result.pushed
    n = sum(1 for _ in Store(pygit2.Repository(str(remote))).iter_records("commits"))
    benchmark.extra_info.update(records=n)
    print(f"\nsync of {n} records to a fresh bare remote: {benchmark.stats.stats.max:.2f} s")
    if FULL:
        assert benchmark.stats.stats.max <= 10.0


def test_sync_merge_of_diverged_clones(store_repo, tmp_path, benchmark):
    """Both sides hold the 60k records plus their own new captures: fetch, union, merge commit, push."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True, env=bench_env())
    store_repo.remotes.create("bench", str(remote))
    sync(store_repo, "bench")
    other = pygit2.Repository(str(remote))
    Store(other).append("commits", [Commit(id=f"{i:040x}", message="remote side") for i in range(100)])
    Store(store_repo).append("commits", [Commit(id=f"{i:040x}", message="local side") for i in range(100, 200)])
    result = benchmark.pedantic(lambda: sync(store_repo, "bench"), rounds=1, iterations=1)
    assert result.action == "merged" and result.pushed
    print(f"\nsync with a diverged remote: {benchmark.stats.stats.max:.2f} s")


def test_auto_compaction_check_on_the_append_path(tmp_path, benchmark):
    """What every append pays for automatic compaction when nothing is due: walking tree entries and object headers
    of a store holding 60 small chunks plus a few large ones."""
    path = tmp_path / "r.git"
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True, env=bench_env())
    repo = pygit2.Repository(str(path))
    store = Store(repo)
    for i in range(60):
        store.append("commits", [Commit(id=f"{i:040x}", message=f"m{i}")])
    store_ = Store(repo)
    adds = benchmark(lambda: store_._auto_compaction(DATA_REF))
    assert adds == ({}, [], "")
    print(f"\nauto-compaction check: {benchmark.stats.stats.mean * 1e3:.2f} ms per append")
    assert benchmark.stats.stats.mean < 0.01


def test_auto_compaction_merge(tmp_path, benchmark):
    """The occasional append that merges 65 small chunks."""
    path = tmp_path / "r.git"
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True, env=bench_env())
    repo = pygit2.Repository(str(path))
    repo.config["ml.autoCompact"] = 0
    store = Store(repo)
    for i in range(65):
        store.append("commits", [Commit(id=f"{j:040x}", message=f"m{j} " * 20) for j in range(i * 20, i * 20 + 20)])
    del repo.config["ml.autoCompact"]  # back to the default, 64
    repo = pygit2.Repository(str(path))  # libgit2 caches the configuration it read
    store = Store(repo)
    t = time.perf_counter()
    plan = compact_mod.plan_auto_compaction(store.repo, DATA_REF)
    seconds = time.perf_counter() - t
    assert len(plan[1]) == 65
    benchmark.extra_info.update(merge_s=round(seconds, 4))
    benchmark.pedantic(lambda: compact_mod.plan_auto_compaction(store.repo, DATA_REF), rounds=3, iterations=1)
    print(f"\nmerging 65 small chunks (1,300 records): {benchmark.stats.stats.mean * 1e3:.1f} ms")
    assert benchmark.stats.stats.mean < 0.25


def test_verify_and_stats(store_repo, benchmark):
    compact_mod.compact(store_repo, refs=[DATA_REF])
    report = benchmark.pedantic(lambda: repair_mod.verify(store_repo), rounds=1, iterations=1)
    assert report.ok
    t = time.perf_counter()
    stats_mod.chunk_stats(store_repo)
    print(f"\nverify {report.records} records: {benchmark.stats.stats.max:.2f} s; "
          f"chunk stats: {time.perf_counter() - t:.2f} s")


@pytest.mark.skipif(not os.environ.get("GIT_ML_BENCH_LEVELS"), reason="set GIT_ML_BENCH_LEVELS=1 (about 2 minutes)")
def test_compression_settings_table(store_repo, benchmark):
    """The measurements behind compaction's setting: zstd levels and min_match on the records in capture order
    (24 MiB chunks, one thread, CPU seconds), record order, and a trained dictionary."""
    import random

    import zstandard

    lines = reconstruct_mod.live_lines(store_repo, "commits")
    raw = b"".join(x + b"\n" for x in lines)
    P = zstandard.ZstdCompressionParameters

    def ratio(params, data=raw, dict_data=None) -> tuple[float, float]:
        t = time.process_time()
        comp = zstandard.ZstdCompressor(compression_params=params, dict_data=dict_data)
        size = sum(len(comp.compress(data[i:i + (24 << 20)])) for i in range(0, len(data), 24 << 20))
        return size / len(data), time.process_time() - t

    rows = []
    for name, params in [("level 3", P.from_level(3)), ("level 6", P.from_level(6)), ("level 9", P.from_level(9)),
                         ("level 9, min_match 6 (default)", P.from_level(9, min_match=6)),
                         ("level 10", P.from_level(10)), ("level 12, min_match 6", P.from_level(12, min_match=6)),
                         ("level 16 (--best)", P.from_level(16))]:
        r, cpu = ratio(params)
        rows.append(f"{name:<32} {r:6.2%} {cpu:6.2f} s")
    by_id = b"".join(x + b"\n" for x in sorted(lines, key=lambda b: json.loads(b)["id"]))
    rows.append(f"{'sorted by id instead':<32} {ratio(P.from_level(9, min_match=6), by_id)[0]:6.2%}")
    sample = random.Random(1).sample(lines[: len(lines) // 2], min(5000, len(lines) // 2))
    dictionary = zstandard.train_dictionary(112_640, sample, level=9)
    rows.append(f"{'with a 110 KB dictionary':<32} "
                f"{ratio(P.from_level(9, min_match=6), dict_data=dictionary)[0]:6.2%}")
    test = lines[len(lines) // 2: len(lines) // 2 + 2000]
    plain = sum(len(x) + 1 for x in test)
    for label, dict_data in (("1-record chunks", None), ("1-record chunks + dictionary", dictionary)):
        comp = zstandard.ZstdCompressor(level=3, dict_data=dict_data)
        size = sum(len(comp.compress(x + b"\n")) for x in test)
        rows.append(f"{label:<32} {size / plain:6.2%}")
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    print("\n" + "\n".join(rows))
