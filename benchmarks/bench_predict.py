"""Benchmarks for git_ml.predict (pytest-benchmark).

    /work/venv/bin/pytest benchmarks/bench_predict.py --benchmark-columns=min,mean,max

History: the 60,751-commit git.git record of shared/datasets when present, else a generated history of 20,000
commits (same shape: subjects over a few hundred topics, 1-6 files each). Targets (issue 8, on git.git): train
<= 10 s, one `git ml predict` <= 150 ms wall including interpreter start, one incremental update <= 20 ms, online
evaluation of the last 20 % <= 120 s (measured by benchmarks/predict_eval.py).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest

from git_ml.predict import note_commits
from git_ml.predict.api import load_predictor, train
from git_ml.schema import Commit

ROOT = Path(__file__).resolve().parents[1]
GIT = ROOT.parent / "shared" / "datasets" / "git.history.jsonl.zst"
TASK = "fix memory leak when fetching packs over http"


def generated(n: int = 20_000, seed: int = 0) -> list[Commit]:
    rnd = random.Random(seed)
    topics = [(f"mod{t}", [f"src/mod{t}/f{j}.c" for j in range(6)]) for t in range(300)]
    words = [f"w{i}" for i in range(3000)]
    out = []
    for i in range(n):
        name, files = rnd.choice(topics)
        msg = f"{name}: " + " ".join(rnd.sample(words, 5))
        chosen = rnd.sample(files, rnd.randint(1, 6))
        out.append(Commit(id=f"{i:040x}", message=msg, author_email=f"a{i % 40}", time=i * 60,
                          files=[("M", f, 1, 1, None) for f in chosen]))
    return out


@pytest.fixture(scope="module")
def history() -> list[Commit]:
    if GIT.exists():
        from git_ml.predict.dataset import load_history

        return load_history(GIT)
    return generated()


@pytest.fixture(scope="module")
def trained(history, tmp_path_factory):
    path = tmp_path_factory.mktemp("predict") / "repo"
    repo = pygit2.init_repository(str(path))
    train(repo, commits=history[:-50])
    return repo, history


def test_train(benchmark, history, tmp_path):
    repo = pygit2.init_repository(str(tmp_path / "repo"))
    info = benchmark.pedantic(train, args=(repo,), kwargs={"commits": history}, rounds=1, iterations=1)
    assert info["commits"] > 0


def test_load_and_predict_in_process(benchmark, trained):
    repo, _ = trained

    def run():
        return load_predictor(repo, auto_train=False, fold=False).predict(TASK, top=10)

    assert len(benchmark(run)) == 10


def test_predict_cli_wall(benchmark, trained):
    """One `git-ml-predict TASK` as a user runs it: interpreter start, imports, model load, ranking, output."""
    repo, _ = trained
    exe = Path(sys.executable).parent / "git-ml-predict"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from git_ml.cli.predict import main; "
                                                                 "sys.exit(main())"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def run():
        return subprocess.run([*cmd, TASK], cwd=repo.workdir, env=env, capture_output=True, text=True)

    res = benchmark.pedantic(run, rounds=10, iterations=1, warmup_rounds=1)
    assert res.returncode == 0, res.stderr


def test_note_commits_one(benchmark, trained):
    """The hook's share: journal one captured commit."""
    repo, history = trained
    commit = history[-1]
    benchmark(note_commits, repo, [commit])


def test_apply_one_commit(benchmark, trained):
    """Learning one new commit into a loaded model (what applying a journal entry costs)."""
    repo, history = trained
    pred = load_predictor(repo, auto_train=False, fold=False)
    pending = iter(history[-50:])

    def run():
        pred.learn([next(pending)])

    benchmark.pedantic(run, rounds=40, iterations=1)


def test_online_step(benchmark, trained):
    """One step of the online evaluation loop: rank a subject, then learn its commit."""
    from git_ml.predict.model import rank
    from git_ml.predict.text import subject

    repo, history = trained
    pred = load_predictor(repo, auto_train=False, fold=False)
    pending = iter(history[-50:])

    def run():
        c = next(pending)
        rank(pred.ix, pred.weights, subject(c.message), c.author_email)
        pred.ix.learn(c)

    benchmark.pedantic(run, rounds=40, iterations=1)
