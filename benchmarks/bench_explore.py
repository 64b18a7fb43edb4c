"""Explore speed on the git.git replay with 10,000 synthetic linked chats.

    /work/venv/bin/pytest benchmarks/bench_explore.py --benchmark-columns=min,median,max -s

Targets (issue: Explore), wall time including interpreter start, index warm (built by a first, untimed run):
`git ml show` ≤ 150 ms; `git ml search` ≤ 300 ms; `git ml log -n 100` ≤ 300 ms; `git ml blame` of a ~2,000-line
file ≤ 1.5× `git blame` of it, measured side by side. The index (with its full-text side) at most 3× the store's
bytes, built in ≤ 10 s (issue 12).

The repository borrows the objects of a backfilled replay through ``objects/info/alternates`` (no copy of its
350 MB): GIT_ML_BENCH_EXPLORE_SOURCE names it, else /tmp/gitbf when present, else conftest's cached
``backfilled()`` replay. The synthetic data is deterministic (seeded): 1,000 sessions of 10 chats, each chat linked
to a commit of the history whose files it modified, prompts and responses made of words of that commit's message.
Skips when ../shared is absent.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CACHE, SHARED, backfilled, bench_env

CHATS = 10_000
PER_SESSION = 10
TARGET = CACHE / "explore-git"
BLAME_FILE = "graph.c"

pytestmark = pytest.mark.skipif(not (SHARED / "datasets").is_dir(), reason="../shared is absent")


def _source() -> Path:
    env = os.environ.get("GIT_ML_BENCH_EXPLORE_SOURCE")
    if env:
        return Path(env)
    if Path("/tmp/gitbf/.git").is_dir():
        return Path("/tmp/gitbf")
    return backfilled()


def _git(cwd: Path, *args: str, **kw) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=bench_env(),
                          **kw).stdout


def _words(message: str) -> list[str]:
    return [w for w in message.replace("\n", " ").split() if w.isalpha() and len(w) > 2] or ["change"]


def synthesize(repo_path: Path, n: int = CHATS, seed: int = 9) -> dict:
    """Append n chats in sessions of PER_SESSION, each linked to a commit it modified files of."""
    import pygit2

    from git_ml.schema import Chat, Feedback, Link, Session, iso_from_unix
    from git_ml.store.core import Store

    repo = pygit2.Repository(str(repo_path))
    store = Store(repo)
    commits = [c for c in store.iter_records("commits") if c.files and not c.is_merge]
    rng = random.Random(seed)
    picked = rng.sample(commits, n)
    picked.sort(key=lambda c: c.time)
    chats, sessions, links, feedback = [], [], [], []
    filler = ("Looking at the code, the change needs a small refactor of the helper and a test. "
              "I updated the function, kept the interface and ran the suite; everything passes.").split()
    for i in range(0, n, PER_SESSION):
        group = picked[i:i + PER_SESSION]
        sid = f"{rng.getrandbits(128):032x}"
        sid = f"{sid[:8]}-{sid[8:12]}-{sid[12:16]}-{sid[16:20]}-{sid[20:]}"
        for k, c in enumerate(group):
            uuid = f"{rng.getrandbits(128):032x}"
            cid = f"{sid}:{uuid}"
            words = _words(c.message)
            query = " ".join(rng.choice(words) for _ in range(12))
            response = " ".join(rng.choice(words + filler) for _ in range(120))
            files = [f[1] for f in c.files][:8]
            start = c.time - 600
            chats.append(Chat(id=cid, session_id=sid, assistant="claude-code", model="claude-bench",
                              timestamp=iso_from_unix(start), ended_at=iso_from_unix(start + 540),
                              prompt_uuid=uuid, query=query, response=response, files_modified=files,
                              files_referenced=files[:2], tools_used=["Read", "Edit"],
                              tool_counts={"Read": 1, "Edit": 1}, query_tokens=40, response_tokens=400))
            links.append(Link(id=f"{c.id}:{cid}", commit=c.id, chat_id=cid, session_id=sid, reason="files",
                              score=1.0, seconds=60))
            if k % 3 == 0:
                feedback.append(Feedback(id=f"{cid}@{iso_from_unix(start + 700)}", chat_id=cid, rating="good",
                                         time=iso_from_unix(start + 700)))
        sessions.append(Session(id=sid, assistant="claude-code", model="claude-bench",
                                started_at=iso_from_unix(group[0].time - 600),
                                ended_at=iso_from_unix(group[-1].time), chat_count=len(group)))
    store.append_many({"chats": chats, "sessions": sessions, "links": links, "feedback": feedback},
                      message="bench: synthetic chats", level=9)
    return {"linked": [c.id for c in picked], "chats": [c.id for c in chats]}


@pytest.fixture(scope="module")
def explore_repo() -> Path:
    src = _source()
    marker = TARGET / ".git" / "bench-ready"
    if not marker.exists():
        shutil.rmtree(TARGET, ignore_errors=True)
        TARGET.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", "-b", "main", str(TARGET)], check=True, env=bench_env())
        (TARGET / ".git" / "objects" / "info" / "alternates").write_text(str(src / ".git" / "objects") + "\n")
        for ref in ("refs/heads/main", "refs/ml/data"):
            _git(TARGET, "update-ref", ref, _git(src, "rev-parse", ref).strip())
        synthesize(TARGET)
        marker.write_text("ok\n")
    return TARGET


def _wall(cmd: list[str], cwd: Path, runs: int = 7) -> list[float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, env=bench_env(), stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return times


def _linked_commit(repo: Path) -> str:
    out = subprocess.run(["git-ml-log", "-n", "1", "--ai-only", "--json"], cwd=repo, check=True,
                         capture_output=True, text=True, env=bench_env()).stdout
    import json

    return json.loads(out)["commits"][0]["id"]


def _report(benchmark, name: str, times: list[float], target: float) -> float:
    med = statistics.median(times)
    benchmark.extra_info.update({f"{name}_median_ms": round(med * 1000), f"{name}_min_ms": round(min(times) * 1000)})
    print(f"\n{name}: median {med * 1000:.0f} ms, min {min(times) * 1000:.0f} ms (target {target * 1000:.0f} ms)")
    return med


def _store_bytes(repo: Path) -> int:
    listing = _git(repo, "ls-tree", "-r", "-l", "refs/ml/data")
    return sum(int(line.split()[3]) for line in listing.splitlines())


def test_index_size_and_build(benchmark):
    """On the backfilled replay itself (the store of issue 12's figure, no synthetic chats): a cold build
    (`log -n 1`), then the full-text side (the first `search`); the index against the store's bytes."""
    src = _source()
    plain_repo = CACHE / "explore-plain"
    shutil.rmtree(plain_repo, ignore_errors=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(plain_repo)], check=True, env=bench_env())
    (plain_repo / ".git" / "objects" / "info" / "alternates").write_text(str(src / ".git" / "objects") + "\n")
    for ref in ("refs/heads/main", "refs/ml/data"):
        _git(plain_repo, "update-ref", ref, _git(src, "rev-parse", ref).strip())
    index = plain_repo / ".git" / "ml" / "explore-v3.sqlite"
    build = benchmark.pedantic(lambda: _wall(["git-ml-log", "-n", "1"], plain_repo, runs=1)[0], rounds=1,
                               iterations=1)
    plain = index.stat().st_size
    fts = _wall(["git-ml-search", "warm up the index"], plain_repo, runs=1)[0]
    full = index.stat().st_size
    store = _store_bytes(plain_repo)
    benchmark.extra_info.update(build_s=round(build, 2), search_build_s=round(fts, 2), store_mb=round(store / 1e6, 1),
                                index_mb=round(full / 1e6, 1), ratio=round(full / store, 2))
    print(f"\nindex build {build:.1f} s ({plain / 1e6:.1f} MB), full-text build {fts:.1f} s; index {full / 1e6:.1f} MB "
          f"= {full / store:.2f}x the store's {store / 1e6:.1f} MB")
    assert full <= 3 * store


def test_show(explore_repo, benchmark):
    sha = _linked_commit(explore_repo)  # also builds the index (untimed)
    direct = benchmark.pedantic(lambda: _wall(["git-ml-show", sha], explore_repo, runs=15), rounds=1, iterations=1)
    via_git = _wall(["git", "ml", "show", sha], explore_repo, runs=15)
    # The floor on this machine at this moment: an interpreter that does nothing, and the dispatcher alone.
    floor = _wall([sys.executable, "-c", "pass"], explore_repo, runs=7)
    dispatcher = _wall(["git", "ml", "--version"], explore_repo, runs=7)
    _report(benchmark, "python -c pass", floor, 0.150)
    _report(benchmark, "git ml --version", dispatcher, 0.150)
    _report(benchmark, "git-ml-show", direct, 0.150)
    med = _report(benchmark, "git ml show", via_git, 0.150)
    assert med <= 0.150


def test_search(explore_repo, benchmark):
    _wall(["git-ml-search", "warm up the index"], explore_repo, runs=1)  # builds the full-text side (untimed)
    queries = ["memory leak in diff", "rebase interactive autosquash", "refactor the helper function"]
    times = benchmark.pedantic(
        lambda: [t for q in queries for t in _wall(["git-ml-search", *q.split()], explore_repo, runs=3)],
        rounds=1, iterations=1)
    assert _report(benchmark, "git-ml-search", times, 0.300) <= 0.300


def test_log_100(explore_repo, benchmark):
    _linked_commit(explore_repo)
    times = benchmark.pedantic(lambda: _wall(["git-ml-log", "-n", "100"], explore_repo), rounds=1, iterations=1)
    assert _report(benchmark, "git-ml-log -n 100", times, 0.300) <= 0.300


def test_blame_against_git_blame(explore_repo, benchmark):
    _linked_commit(explore_repo)
    lines = int(subprocess.run(["sh", "-c", f"git show HEAD:{BLAME_FILE} | wc -l"], cwd=explore_repo,
                               capture_output=True, text=True).stdout)
    git = _wall(["git", "blame", "HEAD", "--", BLAME_FILE], explore_repo, runs=3)
    ours = benchmark.pedantic(lambda: _wall(["git-ml-blame", BLAME_FILE, "HEAD"], explore_repo, runs=3), rounds=1,
                              iterations=1)
    ratio = statistics.median(ours) / statistics.median(git)
    benchmark.extra_info.update(lines=lines, git_blame_s=round(statistics.median(git), 2),
                                git_ml_blame_s=round(statistics.median(ours), 2), ratio=round(ratio, 3))
    print(f"\n{BLAME_FILE} ({lines} lines): git blame {statistics.median(git):.2f} s, "
          f"git ml blame {statistics.median(ours):.2f} s, ratio {ratio:.2f}")
    assert ratio <= 1.5
