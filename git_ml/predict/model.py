"""Ranking: signals over the learnt statistics, combined by weights learnt from the repository's own past.

Signals, for each file alive now (names as in ``signals.FEATURES``):
  text, text_rank   BM25 of the task against the subjects of the file's past commits (and its rank on it)
  vote, vote_rank   the 30 past commits most similar to the task (BM25 over subjects, recent postings of common
                    words only) vote for their files with similarity / sqrt(number of files)
  path, name        task words in the file's path and in its file name, idf-weighted
  recent, recent_slow, frequency, burst
                    commits since its last change (two scales), how often it changed, a decayed change count
  author, session   files the task's author changed in their last commits, and in the last hours
  cochange_top      files that changed together with the three best text matches
  cochange          files that changed together with the --seed files
Each is normalised over the candidates of the query (the union of each signal's best files and the most recently
changed ones); the score is a weighted sum. ``fit_weights`` learns the weights listwise (softmax over a query's
candidates) on queries replayed from the training history. ``lite_model.py`` computes the same features with the
standard library, operation for operation: change both together (and bump MODEL_VERSION).
"""

from __future__ import annotations

import math

import numpy as np

from git_ml.predict.index import Index, bm25_idf
from git_ml.predict.signals import (
    AUTHOR_COMMITS,
    AUTHOR_DECAY,
    CANDIDATES_PER_SIGNAL,
    COCHANGE,
    COCHANGE_HISTORY,
    FEATURES,
    HEAT_TAU,
    K1,
    LABELS,
    MAX_QUERY_TERMS,
    NF,
    RECENT_CANDIDATES,
    RECENT_SLOW_TAU,
    RECENT_TAU,
    SESSION_SECONDS,
    TOP_COCHANGE,
    VOTE_K,
    VOTE_POSTINGS,
    B,
)
from git_ml.predict.signals import DEFAULT_WEIGHTS as _DEFAULT

DEFAULT_WEIGHTS = np.array(_DEFAULT)
AUTHOR_POW = np.array([AUTHOR_DECAY**k for k in range(AUTHOR_COMMITS)])
__all__ = ["FEATURES", "LABELS", "DEFAULT_WEIGHTS", "features", "rank", "fit_weights"]


class Query:
    """Candidates of one query and their feature matrix."""

    __slots__ = ("cand", "X", "terms")

    def __init__(self, cand: np.ndarray, X: np.ndarray, terms: list[int]):
        self.cand = cand
        self.X = X
        self.terms = terms


def _maxnorm(v: np.ndarray) -> np.ndarray:
    m = v.max() if len(v) else 0.0
    return v / m if m > 0 else v


def _rank_feature(v: np.ndarray) -> np.ndarray:
    """1/(1+rank) among the candidates with a positive value, 0 for the others."""
    out = np.zeros(len(v))
    pos = np.flatnonzero(v > 0)
    if len(pos):
        order = pos[np.argsort(-v[pos], kind="stable")]
        out[order] = 1.0 / (1.0 + np.arange(len(order)))
    return out


def _specific_terms(terms: list[int], df) -> list[int]:
    """At most MAX_QUERY_TERMS terms, the rarest in commit messages (ties: the earlier in the task), in task order."""
    if len(terms) <= MAX_QUERY_TERMS:
        return terms
    keep = set(sorted(terms, key=lambda t: (df(t), terms.index(t)))[:MAX_QUERY_TERMS])
    return [t for t in terms if t in keep]


def _topk(ids: np.ndarray, vals: np.ndarray, k: int) -> np.ndarray:
    """The ids (ascending) of the k largest values; ties go to the larger id (the newer commit or file)."""
    n = len(ids)
    if n <= k:
        return ids
    kth = np.partition(vals, n - k)[n - k]
    above = ids[vals > kth]
    eq = ids[vals == kth]
    return np.sort(np.concatenate((above, eq[len(eq) - (k - len(above)) :])))


def _top_positive(v: np.ndarray, live: np.ndarray, k: int) -> np.ndarray:
    pos = np.flatnonzero((v > 0) & live)
    return _topk(pos, v[pos], k)


def _cochange_top(ix: Index, s: np.ndarray, cand: np.ndarray, F: int) -> np.ndarray:
    """How often each file changed together with the TOP_COCHANGE best text matches (their recent commits)."""
    out = np.zeros(F)
    pos = np.flatnonzero(s > 0)
    if not len(pos):
        return out
    top = pos[np.argsort(-s[pos], kind="stable")[:TOP_COCHANGE]]
    for k, f in enumerate(cand[top].tolist()):
        cids, _ = ix.fcom.get(f)
        cids = cids[-COCHANGE_HISTORY:]
        if len(cids):
            files, which = ix.files_of_commits(cids)
            nf = ix.cnf.a[cids].astype(np.float64)
            out += np.bincount(files, weights=(1.0 / nf)[which], minlength=F) * (s[top[k]] / len(cids))
            out[f] = 0.0
    return out


def features(ix: Index, text: str, author: str | None = None, seeds: list[int] | None = None,
             when: float | None = None) -> Query:
    F = len(ix.paths)
    C = ix.ncommits
    terms = _specific_terms(ix.query_terms(text), lambda t: len(ix.cterm.get(t)[0]))
    live = ix.live.a[:F].astype(bool)
    text_s = np.zeros(F)
    vote_s = np.zeros(F)
    path_s = np.zeros(F)
    name_s = np.zeros(F)
    if terms and C:
        dl = ix.dl.a[:F]
        ndocs = float(np.count_nonzero(dl))
        avgdl = float(dl.sum() / ndocs) if ndocs else 1.0
        knorm = K1 * (1.0 - B + B * dl / max(avgdl, 1e-9))
        cdl = ix.cdl.a[:C]
        avgcdl = float(cdl.sum(dtype=np.float64)) / C or 1.0
        cscore = np.zeros(C)
        nlive = float(live.sum()) or 1.0
        for t in terms:
            ids, w = ix.fterm.get(t)
            if len(ids):
                tf = np.bincount(ids, weights=w, minlength=F)
                nz = np.flatnonzero(tf)
                idf = bm25_idf(ndocs, len(nz))
                tfn = tf[nz]
                text_s[nz] += idf * tfn * (K1 + 1.0) / (tfn + knorm[nz])
            cids, cw = ix.cterm.get(t)
            if len(cids):
                idf = bm25_idf(C, len(cids))
                cids, cw = cids[-VOTE_POSTINGS:], cw[-VOTE_POSTINGS:]
                cw64 = cw.astype(np.float64)
                cdl64 = cdl[cids].astype(np.float64)
                cscore[cids] += idf * cw64 * (K1 + 1.0) / (cw64 + K1 * (1.0 - B + B * cdl64 / avgcdl))
            # fancy-index += adds once per distinct file even when a renamed file lists a token twice
            pids, _ = ix.pterm.get(t)
            if len(pids):
                hit = np.zeros(F, dtype=bool)
                hit[pids] = True
                path_s[pids] += bm25_idf(nlive, float(np.count_nonzero(hit & live)))
            nids, _ = ix.nterm.get(t)
            if len(nids):
                hit = np.zeros(F, dtype=bool)
                hit[nids] = True
                name_s[nids] += bm25_idf(nlive, float(np.count_nonzero(hit & live)))
        nzc = np.flatnonzero(cscore)
        if len(nzc):
            top = _topk(nzc, cscore[nzc], VOTE_K)
            files, which = ix.files_of_commits(top)
            nf = ix.cnf.a[top].astype(np.float64)
            contrib = (cscore[top] / np.sqrt(np.maximum(nf, 1.0)))[which]
            np.add.at(vote_s, files, contrib)
    author_s = np.zeros(F)
    session_s = np.zeros(F)
    a = ix.aid.get(author) if author is not None else None
    if a is not None:
        cids, _ = ix.acom.get(a)
        recent = cids[-AUTHOR_COMMITS:][::-1]
        if len(recent):
            files, which = ix.files_of_commits(recent)
            nf = ix.cnf.a[recent].astype(np.float64)
            contrib = (AUTHOR_POW[: len(recent)] / np.sqrt(np.maximum(nf, 1.0)))[which]
            np.add.at(author_s, files, contrib)
            if when is not None:
                dt = np.maximum(when - ix.ctime.a[recent].astype(np.float64), 0.0)
                contrib = (np.exp(-dt / SESSION_SECONDS) / np.sqrt(np.maximum(nf, 1.0)))[which]
                np.add.at(session_s, files, contrib)
    co_s = np.zeros(F)
    if seeds:
        for s in seeds:
            cids, _ = ix.fcom.get(s)
            if len(cids):
                files, _ = ix.files_of_commits(cids)
                co_s += np.bincount(files, minlength=F) / len(cids)
        co_s[seeds] = 0.0
    # candidates: the best files of each signal, plus the most recently changed files
    last = ix.last.a[:F]
    mask = np.zeros(F, dtype=bool)
    for sig in (text_s, vote_s, path_s, name_s, author_s, co_s):
        mask[_top_positive(sig, live, CANDIDATES_PER_SIGNAL)] = True
    livef = np.flatnonzero(live)
    if len(livef):
        mask[_topk(livef, last[livef], RECENT_CANDIDATES)] = True
    if seeds:
        mask[seeds] = False
    cand = np.flatnonzero(mask)
    n = len(cand)
    X = np.zeros((n, NF))
    if n:
        age = (C - 1 - last[cand]).astype(np.float64)
        X[:, 0] = _maxnorm(text_s[cand])
        X[:, 1] = _maxnorm(vote_s[cand])
        X[:, 2] = _maxnorm(path_s[cand])
        X[:, 3] = _maxnorm(name_s[cand])
        X[:, 4] = np.exp(-age / RECENT_TAU)
        X[:, 5] = np.exp(-age / RECENT_SLOW_TAU)
        X[:, 6] = _maxnorm(np.log1p(ix.nchg.a[cand]))
        X[:, 7] = _maxnorm(author_s[cand])
        X[:, 8] = _rank_feature(text_s[cand])
        X[:, 9] = _rank_feature(vote_s[cand])
        X[:, 10] = _maxnorm(np.log1p(ix.heat.a[cand] * np.exp(-age / HEAT_TAU)))
        X[:, 11] = _maxnorm(_cochange_top(ix, X[:, 0] + X[:, 1], cand, F)[cand])
        X[:, 12] = session_s[cand]
        X[:, 13] = _maxnorm(co_s[cand])
    return Query(cand, X, terms)


def scores(X: np.ndarray, weights) -> np.ndarray:
    """X @ weights, summed feature by feature in order (the quick path sums the same way, to the last bit)."""
    s = np.zeros(len(X))
    for j in range(X.shape[1]):
        s = s + X[:, j] * float(weights[j])
    return s


def rank(ix: Index, weights: np.ndarray, text: str, author: str | None = None, seeds: list[int] | None = None,
         top: int = 10, when: float | None = None) -> tuple[Query, np.ndarray, np.ndarray]:
    """Top files: (query, candidate positions in rank order, their scores). Ties break by path."""
    q = features(ix, text, author, seeds, when)
    if not len(q.cand):
        return q, np.zeros(0, dtype=np.int64), np.zeros(0)
    s = scores(q.X, weights)
    # round so that a different float summation order (incremental vs rebuilt) cannot swap equal scores
    key = np.round(s, 9)
    k = min(top, len(key))
    if len(key) > 4 * k + 16:
        part = np.argpartition(-key, k - 1)[:k]
        thresh = key[part].min()
        sel = np.flatnonzero(key >= thresh)
    else:
        sel = np.arange(len(key))
    paths = ix.paths
    order = sorted(sel.tolist(), key=lambda i: (-key[i], paths[q.cand[i]]))[:k]
    order = np.array(order, dtype=np.int64)
    return q, order, s[order]


def fit_weights(queries: list[tuple[np.ndarray, np.ndarray]], l2: float = 1e-2, iters: int = 30) -> np.ndarray:
    """Listwise learning to rank: maximise the softmax probability of a query's true files among its candidates.

    ``queries`` are (X, y) pairs; y marks the candidates that the commit really changed. Queries whose true files
    are not among the candidates carry no gradient and are dropped. The loss (mean over queries of the cross-entropy
    between the softmax of the scores and the true files, plus an L2 pull towards the default weights) is convex;
    damped Newton steps minimise it in a few iterations. The co-change weight (no seeds in replayed queries) is set
    afterwards to the largest learnt weight.
    """
    Xs, ys = [], []
    for X, y in queries:
        if len(X) and y.any():
            Xs.append(X)
            ys.append(y / y.sum())
    if len(Xs) < 20:
        return DEFAULT_WEIGHTS.copy()
    free = np.ones(NF, dtype=bool)
    free[COCHANGE] = False
    X = np.concatenate(Xs)[:, free]
    Y = np.concatenate(ys)
    lens = np.array([len(x) for x in Xs])
    starts = np.r_[0, np.cumsum(lens)[:-1]]
    Q = np.repeat(np.arange(len(Xs)), lens)
    nq = float(len(Xs))
    prior = DEFAULT_WEIGHTS[free]
    d = X.shape[1]

    def objective(w):
        s = X @ w
        smax = np.maximum.reduceat(s, starts)
        e = np.exp(s - smax[Q])
        z = np.add.reduceat(e, starts)
        lse = np.log(z) + smax
        f = float((lse[Q] * Y).sum() - (s * Y).sum()) / nq + 0.5 * l2 * float(((w - prior) ** 2).sum())
        return f, e / z[Q]

    w = prior.copy()
    f, p = objective(w)
    for _ in range(iters):
        g = X.T @ (p - Y) / nq + l2 * (w - prior)
        px = X * p[:, None]
        m = np.add.reduceat(px, starts)
        H = (px.T @ X - m.T @ m) / nq + l2 * np.eye(d)
        step = np.linalg.solve(H, g)
        t = 1.0
        while t > 1e-4:
            w_new = w - t * step
            f_new, p_new = objective(w_new)
            if f_new <= f - 1e-4 * t * float(g @ step):
                break
            t *= 0.5
        else:
            break
        done = f - f_new < 1e-7
        w, f, p = w_new, f_new, p_new
        if done:
            break
    out = DEFAULT_WEIGHTS.copy()
    out[free] = w
    out[COCHANGE] = max(float(w.max()), 1.0)
    return out


def loss(queries, w) -> float:
    total, n = 0.0, 0
    for X, y in queries:
        if len(X) and y.any():
            s = X @ w
            s = s - s.max()
            lp = s - math.log(np.exp(s).sum())
            total -= float((lp * y).sum() / y.sum())
            n += 1
    return total / max(n, 1)
