"""Walk-forward evaluation, exactly the protocol of shared/datasets/README.md.

1. Non-merge commits in history order with at least one file entry; the first floor((1 - split) x count) train.
2. Query: the subject line. Answer: paths of the entries whose status is not D (the new path for R/C).
3. Scored when the answer has 1..30 paths and the subject does not match the bot pattern (unless all_commits).
4. Online: after its turn every test commit, scored or not, is learnt. Offline: the model stays as trained.
5. MRR over the top 10, P@1, mean recall at 5 and 10.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence

import numpy as np

from git_ml.predict.index import Index
from git_ml.predict.model import DEFAULT_WEIGHTS, FEATURES, fit_weights, rank
from git_ml.predict.text import subject

BOT = re.compile(
    r"^\W*(\[pre-commit\.ci\]|\[automated\]|\[bot\]|bump |build\(deps|chore\(deps|chore\(ci\): bump"
    r"|pre-commit autoupdate)",
    re.IGNORECASE,
)
MAX_ANSWER = 30
TOP = 10


def eligible(commits: Sequence) -> list:
    return [c for c in commits if c.files and not c.is_merge]


def answer(commit) -> list[str]:
    out: dict[str, None] = {}
    for entry in commit.files:
        if entry[0][:1] != "D":
            out[entry[1]] = None
    return list(out)


def is_bot(commit) -> bool:
    return BOT.match(subject(commit.message or "")) is not None


def split_point(count: int, split: float) -> int:
    return math.floor(count * (1.0 - split) + 1e-9)


def ltr_window(ntrain: int) -> int:
    """How many of the last training commits are replayed to learn the combination weights."""
    # a replayed query costs more as the history grows: fewer of them on long histories keeps train within budget
    return int(min(800 if ntrain <= 20_000 else 500, max(0, ntrain // 4)))


def replay_for_weights(ix: Index, commits: Sequence, all_commits: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """Score then learn each commit (online); collect (features, labels) of the scorable ones."""
    out = []
    for c in commits:
        ans = answer(c)
        if 1 <= len(ans) <= MAX_ANSWER and (all_commits or not is_bot(c)):
            fids = [ix.fid_of[p] for p in ans if p in ix.fid_of]
            if fids:
                q, _, _ = rank(ix, DEFAULT_WEIGHTS, subject(c.message or ""), c.author_email, top=1, when=c.time)
                y = np.isin(q.cand, fids).astype(np.float64)
                out.append((q.X, y))
        ix.learn(c)
    return out


def build(commits: Sequence, tune_window: int | None = None, all_commits: bool = False):
    """Learn ``commits`` (history order): bulk for the first part, then replay the last part online to fit
    the combination weights. Returns (index, weights) with every commit learnt and the index compacted."""
    ix = Index()
    n = len(commits)
    w_n = ltr_window(n) if tune_window is None else min(tune_window, n)
    for c in commits[: n - w_n]:
        ix.learn(c)
    ix.compact()
    queries = replay_for_weights(ix, commits[n - w_n :], all_commits) if w_n else []
    weights = fit_weights(queries)
    ix.compact()
    return ix, weights


def metrics(ranked: list[str], actual: set[str]) -> tuple[float, float, float, float]:
    rr = 0.0
    for i, p in enumerate(ranked[:TOP]):
        if p in actual:
            rr = 1.0 / (i + 1)
            break
    p1 = 1.0 if ranked and ranked[0] in actual else 0.0
    r5 = len(actual.intersection(ranked[:5])) / len(actual)
    r10 = len(actual.intersection(ranked[:10])) / len(actual)
    return rr, p1, r5, r10


def evaluate(commits: Sequence, split: float = 0.2, online: bool = True, all_commits: bool = False,
             predictions: Callable[[dict], None] | None = None, progress: Callable[[int], None] | None = None,
             tune_window: int | None = None) -> dict:
    """Run the protocol over ``commits`` (history order, oldest first). Returns the report as a dict."""
    commits = eligible(commits)
    ntrain = split_point(len(commits), split)
    ix, weights = build(commits[:ntrain], tune_window, all_commits)
    test = commits[ntrain:]
    n = skipped = 0
    sums = np.zeros(4)
    for c in test:
        ans = answer(c)
        if 1 <= len(ans) <= MAX_ANSWER:
            if not all_commits and is_bot(c):
                skipped += 1
            else:
                query = subject(c.message or "")
                q, order, _ = rank(ix, weights, query, c.author_email, top=TOP, when=c.time)
                ranked = [ix.paths[q.cand[i]] for i in order]
                sums += metrics(ranked, set(ans))
                n += 1
                if predictions is not None:
                    predictions({"commit": c.id, "query": query, "ranked": ranked, "actual": ans})
        if online:
            ix.learn(c)
        if progress is not None:
            progress(1)
    m = sums / max(n, 1)
    return {
        "n": n,
        "automated_skipped": skipped,
        "mrr": round(float(m[0]), 4),
        "p_at_1": round(float(m[1]), 4),
        "recall_at_5": round(float(m[2]), 4),
        "recall_at_10": round(float(m[3]), 4),
        "train_commits": ntrain,
        "test_commits": len(test),
        "weights": {k: round(float(v), 3) for k, v in zip(FEATURES, weights)},
    }


def dump_prediction(fh) -> Callable[[dict], None]:
    enc = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

    def write(obj: dict) -> None:
        fh.write(enc.encode(obj) + "\n")

    return write
