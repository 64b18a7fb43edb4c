"""What the command line uses: train, load (applying the journal), predict with explanations, stats."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from git_ml.errors import GitMlError
from git_ml.predict import FOLD_AT, JOURNAL_FILE, MODEL_VERSION
from git_ml.predict.explain import reasons
from git_ml.predict.history import NO_HISTORY, captured_commits
from git_ml.predict.index import Index
from git_ml.predict.model import FEATURES, rank, scores
from git_ml.predict.storage import Meta, VersionMismatch, id_key, journal_files, load, model_path, read_journal, save
from git_ml.repo import ml_dir
from git_ml.schema import now_iso

# Refit the weights (full train) once the model has grown by this fraction since the weights were fitted; the journal
# is folded into the model file once it holds FOLD_AT commits.
REFIT_GROWTH = 0.25


class Predictor:
    def __init__(self, ix: Index, meta: Meta, learnt: np.ndarray, path: Path | None = None):
        self.ix = ix
        self.meta = meta
        self.weights = np.asarray(meta.weights, dtype=np.float64)
        self.learnt_sorted = np.sort(np.asarray(learnt, dtype=np.uint64))
        self.learnt_extra: set[int] = set()
        self.path = path
        self.applied = 0

    def knows(self, commit_id: str) -> bool:
        k = id_key(commit_id)
        if k in self.learnt_extra:
            return True
        arr = self.learnt_sorted
        i = int(np.searchsorted(arr, np.uint64(k)))
        return i < len(arr) and int(arr[i]) == k

    def learn(self, commits) -> int:
        n = 0
        for c in commits:
            if c.is_merge or not c.files or self.knows(c.id):
                continue
            if self.ix.learn(c):
                self.learnt_extra.add(id_key(c.id))
                n += 1
        self.applied += n
        return n

    def learnt_keys(self) -> np.ndarray:
        extra = np.fromiter(self.learnt_extra, dtype=np.uint64, count=len(self.learnt_extra))
        return np.sort(np.concatenate((self.learnt_sorted, extra)))

    def save(self, path: Path | None = None) -> int:
        self.meta.updated_at = now_iso()
        return save(path or self.path, self.ix, self.meta, self.learnt_keys())

    def predict(self, task: str, top: int = 10, seeds: list[str] | None = None, author: str | None = None,
                explain: bool = False, when: float | None = None) -> list[dict]:
        ix = self.ix
        seed_ids = []
        for s in seeds or []:
            f = ix.fid_of.get(s)
            if f is None or not ix.live.a[f]:
                raise GitMlError(f"unknown seed file: {s} (not a file of the learnt history)")
            seed_ids.append(f)
        when = time.time() if when is None else when
        q, order, _ = rank(ix, self.weights, task, author, seed_ids or None, top=top, when=when)
        # the score shown is the model's probability that the file is the first one the task changes (softmax of
        # the linear scores over the query's candidates): same order, a scale a person can read
        out = []
        if not len(order):
            return out
        s = scores(q.X, self.weights)
        p = np.exp(s - s.max())
        p /= p.sum()
        for i in order.tolist():
            item = {"path": ix.paths[q.cand[i]], "score": round(float(p[i]), 4)}
            if explain:
                item["why"] = self._explain(q, i)
            out.append(item)
        return out

    def _explain(self, q, i: int) -> list[str]:
        ix = self.ix
        f = int(q.cand[i])

        def words(signal: str) -> list[str]:
            post = {"text": ix.fterm, "path": ix.pterm, "name": ix.nterm}[signal]
            return [ix.vocab[t] for t in q.terms if np.any(post.get(t)[0] == f)]

        return reasons((q.X[i] * self.weights).tolist(), words, ix.ncommits - 1 - int(ix.last.a[f]),
                       int(ix.nchg.a[f]))


def _author(repo) -> str | None:
    from git_ml.repo import config_get

    return os.environ.get("GIT_AUTHOR_EMAIL") or config_get(repo, "user.email") or os.environ.get("EMAIL")


def train(repo, commits=None, tip: str | None = None) -> dict:
    """Full rebuild from the captured commits (history order). Clears the journal it has absorbed."""
    from git_ml.predict.evaluate import build, eligible

    t0 = time.monotonic()
    ml = ml_dir(repo)
    # journals written before this point are covered by the store read below
    folding = _claim_journal(ml)
    if commits is None:
        commits, tip = captured_commits(repo)
    commits = eligible(commits)
    if not commits:
        raise GitMlError(NO_HISTORY)
    ix, weights = build(commits)
    meta = Meta(trained_at=now_iso(), updated_at=now_iso(), store_tip=tip, fitted_commits=ix.ncommits,
                weights=[float(w) for w in weights])
    keys = np.unique(np.fromiter((id_key(c.id) for c in commits), dtype=np.uint64, count=len(commits)))
    pred = Predictor(ix, meta, keys, model_path(ml))
    size = pred.save()
    for p in folding:
        _unlink(p)
    return {"commits": ix.ncommits, "files": int(ix.live.view().sum()), "vocabulary": len(ix.vocab),
            "bytes": size, "seconds": round(time.monotonic() - t0, 2),
            "weights": {k: round(float(v), 3) for k, v in zip(FEATURES, weights)}}


def _claim_journal(ml: Path) -> list[Path]:
    """Move the live journal aside (atomic rename) so that hooks appending from now on start a new one."""
    src = ml / JOURNAL_FILE
    claimed = [p for p in journal_files(ml)[:-1]]
    if src.exists():
        dst = ml / f"{JOURNAL_FILE}.fold{os.getpid()}.{time.time_ns()}"
        try:
            os.replace(src, dst)
            claimed.append(dst)
        except OSError:
            pass
    return claimed


def _note(message: str) -> None:
    import sys

    if sys.stderr.isatty():
        sys.stderr.write(message + "\n")


def _unlink(p: Path) -> None:
    try:
        os.unlink(p)
    except OSError:
        pass


def load_predictor(repo, auto_train: bool = True, fold: bool = True) -> Predictor:
    """The model with the journal applied. A missing or outdated model is rebuilt from the store."""
    ml = ml_dir(repo)
    path = model_path(ml)
    try:
        ix, meta, learnt = load(path)
        pred = Predictor(ix, meta, learnt, path)
    except FileNotFoundError:
        if not auto_train:
            raise GitMlError("no model yet: run `git ml predict train`") from None
        _note("building the prediction model from the captured commits (first use)")
        train(repo)
        return load_predictor(repo, auto_train=False, fold=fold)
    except VersionMismatch as exc:
        if not auto_train:
            raise GitMlError(f"model is outdated ({exc}): run `git ml predict train`") from None
        _note("rebuilding the prediction model (written by another version)")
        train(repo)
        return load_predictor(repo, auto_train=False, fold=fold)
    pending = []
    for jp in journal_files(ml):
        pending.extend(read_journal(jp))
    if pending:
        pred.learn(pending)
        if fold and len(pending) >= FOLD_AT:
            grown = pred.ix.ncommits > (1.0 + REFIT_GROWTH) * max(meta.fitted_commits, 1)
            if grown and auto_train:
                try:
                    train(repo)
                    return load_predictor(repo, auto_train=False, fold=False)
                except GitMlError:
                    pass
            claimed = _claim_journal(ml)
            # only what we read is folded; a concurrent append after the claim lands in the new journal
            again = []
            for jp in claimed:
                again.extend(read_journal(jp))
            pred.learn(again)
            pred.save()
            for jp in claimed:
                _unlink(jp)
    return pred


def stats(repo) -> dict:
    ml = ml_dir(repo)
    path = model_path(ml)
    if not path.exists():
        raise GitMlError("no model yet: run `git ml predict train`")
    pred = load_predictor(repo, auto_train=False, fold=False)
    ix = pred.ix
    pending = sum(len(read_journal(p)) for p in journal_files(ml))
    return {
        "version": MODEL_VERSION,
        "commits": ix.ncommits,
        "files": int(ix.live.view().sum()),
        "files_ever": len(ix.paths),
        "vocabulary": len(ix.vocab),
        "authors": len(ix.authors),
        "model_bytes": path.stat().st_size,
        "journal_commits": pending,
        "trained_at": pred.meta.trained_at,
        "updated_at": pred.meta.updated_at,
        "weights_fitted_at_commits": pred.meta.fitted_commits,
        "weights": {k: round(float(v), 3) for k, v in zip(FEATURES, pred.weights)},
    }


def author_of(repo) -> str | None:
    return _author(repo)
