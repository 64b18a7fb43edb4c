"""The stored prediction model read and scored with the standard library alone (the quick path's model).

Reads the model file that ``storage`` writes (JSON header, arrays viewed through ``memoryview`` over ``mmap``),
learns journal commits in plain Python (mirroring ``index.Index.learn``) and computes exactly the signals of
``model.features``, in the same order of float operations, so that both paths give the same ranking (tested).
Raises ``Unavailable`` whenever the file is not one it can read; the caller then takes the numpy path.
"""

from __future__ import annotations

import heapq
import json
import math
import mmap
import os
import sys

from git_ml.predict import MODEL_MAGIC, MODEL_VERSION
from git_ml.predict.signals import (
    AUTHOR_COMMITS,
    AUTHOR_DECAY,
    CANDIDATES_PER_SIGNAL,
    COCHANGE_HISTORY,
    HEAT_TAU,
    K1,
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
from git_ml.predict.text import Vocabulary, subject, tokens

_FMT = {"<i4": "i", "<f4": "f", "<f8": "d", "<i8": "q", "|u1": "B", "<u8": "Q"}
_AUTHOR_POW = [AUTHOR_DECAY**k for k in range(AUTHOR_COMMITS)]


class Unavailable(Exception):
    pass


def _idf(n: float, df: float) -> float:
    return math.log1p((n - df + 0.5) / (df + 0.5))


class _Post:
    """Base CSR (memoryviews) plus per-key overlay lists."""

    __slots__ = ("ptr", "ids", "w", "nb", "oi", "ow")

    def __init__(self, ptr, ids, w):
        self.ptr, self.ids, self.w = ptr, ids, w
        self.nb = len(ptr) - 1
        self.oi: dict[int, list[int]] = {}
        self.ow: dict[int, list[float]] = {}

    def add(self, key: int, i: int, w: float) -> None:
        li = self.oi.get(key)
        if li is None:
            self.oi[key] = [i]
            self.ow[key] = [w]
        else:
            li.append(i)
            self.ow[key].append(w)

    def parts(self, key: int):
        """(ids, weights) sequences: the base slice, then the overlay."""
        out = []
        if key < self.nb:
            a, b = self.ptr[key], self.ptr[key + 1]
            if b > a:
                out.append((self.ids[a:b], self.w[a:b]))
        li = self.oi.get(key)
        if li:
            out.append((li, self.ow[key]))
        return out

    def ids_of(self, key: int) -> list[int]:
        out: list[int] = []
        for ids, _ in self.parts(key):
            out.extend(ids)
        return out


class LiteModel(Vocabulary):
    def __init__(self, path: str):
        if sys.byteorder != "little":
            raise Unavailable("big-endian")
        try:
            fh = open(path, "rb")
        except OSError:
            raise Unavailable("no model") from None
        with fh:
            head = fh.read(12)
            if len(head) < 12 or head[:8] != MODEL_MAGIC:
                raise Unavailable("not a model")
            hlen = int.from_bytes(head[8:12], "little")
            try:
                h = json.loads(fh.read(hlen))
            except ValueError:
                raise Unavailable("bad header") from None
            if h.get("version") != MODEL_VERSION:
                raise Unavailable("other version")
            start = 12 + hlen
            start += (-start) % 16
            size = os.fstat(fh.fileno()).st_size
            self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size > start else None
        mv = memoryview(self._mm) if self._mm is not None else None
        arr = {}
        for name, (dtype, off, count) in h["arrays"].items():
            fmt = _FMT[dtype]
            if count == 0 or mv is None:
                arr[name] = []
            else:
                isz = int(dtype[2:]) if dtype[2:].isdigit() else 1
                arr[name] = mv[start + off : start + off + count * isz].cast(fmt)
        self.meta = h["meta"]
        self.weights = [float(x) for x in self.meta["weights"]]
        if len(self.weights) != NF:
            raise Unavailable("weights of another feature set")
        self.vocab: list[str] = h["vocab"]
        self.tid = dict(zip(self.vocab, range(len(self.vocab))))
        self.wcache: dict[str, tuple[int, ...]] = {}
        self.paths: list[str] = h["paths"]
        skip = set(h["unmapped"])
        self.fid_of = {p: f for f, p in enumerate(self.paths) if f not in skip}
        self.authors: list[str] = h["authors"]
        self.aid = dict(zip(self.authors, range(len(self.authors))))
        self.live = arr["live"].tolist() if len(arr["live"]) else []
        self.nchg = arr["nchg"].tolist() if len(arr["nchg"]) else []
        self.last = arr["last"].tolist() if len(arr["last"]) else []
        self.dl = arr["dl"].tolist() if len(arr["dl"]) else []
        self.heat = arr["heat"].tolist() if len(arr["heat"]) else []
        self.cb = h["ncommits"]
        self.ncommits = h["ncommits"]
        self.cdl_b, self.cnf_b, self.ctime_b = arr["cdl"], arr["cnf"], arr["ctime"]
        self.ctime_o: list[int] = []
        self.cf_ptr_b, self.cf_ids_b = arr["cf_ptr"], arr["cf_ids"]
        self.cdl_o: list[float] = []
        self.cnf_o: list[int] = []
        self.cf_o: list[list[int]] = []
        self.cdl_sum = float(sum(self.cdl_b)) if self.cb else 0.0
        for name in ("cterm", "fterm", "fcom", "pterm", "nterm", "acom"):
            setattr(self, name, _Post(arr[name + ".ptr"] or [0], arr[name + ".ids"], arr[name + ".w"]))
        self._learnt = arr["learnt"]
        if h.get("body"):
            raise Unavailable("model built over full messages")

    def matching_terms(self, signal: str, f: int, terms: list[int]) -> list[str]:
        """The query words whose ``signal`` postings (text, path or name) hold file ``f``."""
        post = {"text": self.fterm, "path": self.pterm, "name": self.nterm}[signal]
        return [self.vocab[t] for t in terms if f in post.ids_of(t)]

    def learnt_keys(self) -> set[int]:
        return set(self._learnt.tolist()) if len(self._learnt) else set()

    # -- per-commit accessors ---------------------------------------------------------------------------------------

    def cnf(self, c: int) -> int:
        return self.cnf_b[c] if c < self.cb else self.cnf_o[c - self.cb]

    def ctime(self, c: int) -> int:
        return self.ctime_b[c] if c < self.cb else self.ctime_o[c - self.cb]

    def cdl(self, c: int) -> float:
        return self.cdl_b[c] if c < self.cb else self.cdl_o[c - self.cb]

    def commit_files(self, c: int):
        if c < self.cb:
            return self.cf_ids_b[self.cf_ptr_b[c] : self.cf_ptr_b[c + 1]]
        return self.cf_o[c - self.cb]

    # -- learning (mirrors index.Index.learn in online mode) ---------------------------------------------------

    def _new_file(self, path: str) -> int:
        f = len(self.paths)
        self.paths.append(path)
        self.fid_of[path] = f
        self.live.append(1)
        self.nchg.append(0.0)
        self.last.append(-1)
        self.dl.append(0.0)
        self.heat.append(0.0)
        self._index_path(f, path)
        return f

    def learn(self, cid: str, message: str, author: str, when: int, files) -> None:
        if not files:
            return
        idx = self.ncommits
        fids: list[int] = []
        seen = set()
        fid_of = self.fid_of
        for entry in files:
            status, path, old = entry[0][:1], entry[1], entry[4]
            if status == "D":
                f = fid_of.get(path)
                if f is not None:
                    self.live[f] = 0
                continue
            if status == "R" and old:
                f = fid_of.get(old)
                if f is None or f in seen:
                    f = fid_of.get(path)
                    if f is None:
                        f = self._new_file(path)
                else:
                    del fid_of[old]
                    other = fid_of.get(path)
                    if other is not None and other != f:
                        self.live[other] = 0
                    fid_of[path] = f
                    self.paths[f] = path
                    self._index_path(f, path)
            else:
                f = fid_of.get(path)
                if f is None:
                    f = self._new_file(path)
            self.live[f] = 1
            if f not in seen:
                seen.add(f)
                fids.append(f)
        terms, tfs = self.text_terms(subject(message or ""))
        ntok = float(sum(tfs))
        for f in fids:
            self.nchg[f] += 1.0
            prev = self.last[f]
            self.heat[f] = 1.0 + (self.heat[f] * math.exp((prev - idx) / HEAT_TAU) if prev >= 0 else 0.0)
            self.last[f] = idx
            self.dl[f] += ntok
            self.fcom.add(f, idx, 1.0)
        for t, w in zip(terms, tfs):
            self.cterm.add(t, idx, w)
        for f in fids:
            for t, w in zip(terms, tfs):
                self.fterm.add(t, f, w)
        a = self.aid.get(author)
        if a is None:
            a = self.aid[author] = len(self.authors)
            self.authors.append(author)
        self.acom.add(a, idx, 1.0)
        self.cdl_o.append(ntok)
        self.cdl_sum += ntok
        self.cnf_o.append(len(fids))
        self.ctime_o.append(int(when or 0))
        self.cf_o.append(fids)
        self.ncommits += 1

    # -- scoring (mirrors model.features) ------------------------------------------------------------------------

    def features(self, text: str, author: str | None, seeds: list[int] | None, when: float | None = None):
        F = len(self.paths)
        C = self.ncommits
        seen_t: dict[int, None] = {}
        for t in tokens(text):
            i = self.tid.get(t)
            if i is not None:
                seen_t[i] = None
        terms = list(seen_t)
        if len(terms) > MAX_QUERY_TERMS:  # as model._specific_terms
            order = sorted(terms, key=lambda t: (sum(len(i) for i, _ in self.cterm.parts(t)), terms.index(t)))
            keep = set(order[:MAX_QUERY_TERMS])
            terms = [t for t in terms if t in keep]
        live = self.live
        text_s: dict[int, float] = {}
        vote_s: dict[int, float] = {}
        path_s: dict[int, float] = {}
        name_s: dict[int, float] = {}
        if terms and C:
            dl = self.dl
            ndocs = float(F - dl.count(0.0))
            avgdl = float(sum(dl) / ndocs) if ndocs else 1.0
            avgdl = max(avgdl, 1e-9)
            avgcdl = self.cdl_sum / C or 1.0
            cscore: dict[int, float] = {}
            nlive = float(sum(live)) or 1.0
            k1p = K1 + 1.0
            tget = text_s.get
            for t in terms:
                parts = self.fterm.parts(t)
                if len(parts) == 1 and t not in self.fterm.oi:
                    # the base alone: one posting per file, weights > 0
                    ids, ws = parts[0]
                    idf = _idf(ndocs, len(ids))
                    for f, v in zip(ids, ws):
                        text_s[f] = tget(f, 0.0) + idf * v * k1p / (v + K1 * (1.0 - B + B * dl[f] / avgdl))
                elif parts:
                    tf: dict[int, float] = {}
                    for ids, ws in parts:
                        for f, w in zip(ids, ws):
                            tf[f] = tf.get(f, 0.0) + w
                    nz = [f for f, v in tf.items() if v != 0.0]
                    idf = _idf(ndocs, len(nz))
                    for f in nz:
                        v = tf[f]
                        text_s[f] = tget(f, 0.0) + idf * v * k1p / (v + K1 * (1.0 - B + B * dl[f] / avgdl))
                parts = self.cterm.parts(t)
                n = sum(len(ids) for ids, _ in parts)
                if n:
                    idf = _idf(C, n)
                    if n > VOTE_POSTINGS:  # the most recent postings only, as model.features
                        need, kept = VOTE_POSTINGS, []
                        for ids, ws in reversed(parts):
                            take = min(need, len(ids))
                            kept.append((ids[len(ids) - take :], ws[len(ws) - take :]))
                            need -= take
                            if not need:
                                break
                        parts = kept[::-1]
                    cb, cdl_b, cdl_o = self.cb, self.cdl_b, self.cdl_o
                    get = cscore.get
                    for ids, ws in parts:
                        for c, w in zip(ids, ws):
                            cl = cdl_b[c] if c < cb else cdl_o[c - cb]
                            cscore[c] = get(c, 0.0) + idf * w * k1p / (w + K1 * (1.0 - B + B * cl / avgcdl))
                for post, out in ((self.pterm, path_s), (self.nterm, name_s)):
                    hit = set(post.ids_of(t))
                    if hit:
                        idf = _idf(nlive, float(sum(1 for f in hit if live[f])))
                        for f in hit:
                            out[f] = out.get(f, 0.0) + idf
            nzc = [(v, c) for c, v in cscore.items() if v != 0.0]
            if nzc:
                top = sorted(c for _, c in heapq.nlargest(VOTE_K, nzc))
                for c in top:
                    files = self.commit_files(c)
                    contrib = cscore[c] / math.sqrt(max(float(self.cnf(c)), 1.0))
                    for f in files:
                        vote_s[f] = vote_s.get(f, 0.0) + contrib
        author_s: dict[int, float] = {}
        session_s: dict[int, float] = {}
        a = self.aid.get(author) if author is not None else None
        if a is not None:
            cids = self.acom.ids_of(a)
            recent = cids[-AUTHOR_COMMITS:][::-1]
            for k, c in enumerate(recent):
                contrib = _AUTHOR_POW[k] / math.sqrt(max(float(self.cnf(c)), 1.0))
                for f in self.commit_files(c):
                    author_s[f] = author_s.get(f, 0.0) + contrib
            if when is not None:
                for c in recent:
                    dt = max(when - float(self.ctime(c)), 0.0)
                    contrib = math.exp(-dt / SESSION_SECONDS) / math.sqrt(max(float(self.cnf(c)), 1.0))
                    for f in self.commit_files(c):
                        session_s[f] = session_s.get(f, 0.0) + contrib
        co_s: dict[int, float] = {}
        if seeds:
            for s in seeds:
                cids = self.fcom.ids_of(s)
                if cids:
                    cnt: dict[int, int] = {}
                    for c in cids:
                        for f in self.commit_files(c):
                            cnt[f] = cnt.get(f, 0) + 1
                    n = len(cids)
                    for f, v in cnt.items():
                        co_s[f] = co_s.get(f, 0.0) + v / n
            for s in seeds:
                co_s.pop(s, None)
        last = self.last
        cand_set: set[int] = set()
        for sig in (text_s, vote_s, path_s, name_s, author_s, co_s):
            pos = [(v, f) for f, v in sig.items() if v > 0 and live[f]]
            if len(pos) > CANDIDATES_PER_SIGNAL:
                pos = heapq.nlargest(CANDIDATES_PER_SIGNAL, pos)
            cand_set.update(f for _, f in pos)
        cand_set.update(f for _, f in heapq.nlargest(RECENT_CANDIDATES,
                                                      ((last[f], f) for f in range(F) if live[f])))
        if seeds:
            cand_set.difference_update(seeds)
        cand = sorted(cand_set)
        n = len(cand)
        X = [[0.0] * NF for _ in range(n)]
        if n:
            cols = [
                _maxnorm([text_s.get(f, 0.0) for f in cand]),
                _maxnorm([vote_s.get(f, 0.0) for f in cand]),
                _maxnorm([path_s.get(f, 0.0) for f in cand]),
                _maxnorm([name_s.get(f, 0.0) for f in cand]),
            ]
            ages = [float(C - 1 - last[f]) for f in cand]
            cols.append([math.exp(-age / RECENT_TAU) for age in ages])
            cols.append([math.exp(-age / RECENT_SLOW_TAU) for age in ages])
            cols.append(_maxnorm([math.log1p(self.nchg[f]) for f in cand]))
            cols.append(_maxnorm([author_s.get(f, 0.0) for f in cand]))
            cols.append(_rank_feature([text_s.get(f, 0.0) for f in cand]))
            cols.append(_rank_feature([vote_s.get(f, 0.0) for f in cand]))
            cols.append(_maxnorm([math.log1p(self.heat[f] * math.exp(-age / HEAT_TAU))
                                  for f, age in zip(cand, ages)]))
            cols.append(_maxnorm(self._cochange_top([x + y for x, y in zip(cols[0], cols[1])], cand)))
            cols.append([session_s.get(f, 0.0) for f in cand])
            cols.append(_maxnorm([co_s.get(f, 0.0) for f in cand]))
            for j, col in enumerate(cols):
                for i, v in enumerate(col):
                    X[i][j] = v
        return cand, X, terms

    def _cochange_top(self, s: list[float], cand: list[int]) -> list[float]:
        out: dict[int, float] = {}
        pos = [i for i, v in enumerate(s) if v > 0]
        top = sorted(pos, key=lambda i: -s[i])[:TOP_COCHANGE]
        for i in top:
            f = cand[i]
            cids = self.fcom.ids_of(f)[-COCHANGE_HISTORY:]
            if cids:
                acc: dict[int, float] = {}
                get = acc.get
                for c in cids:
                    inv = 1.0 / float(self.cnf(c))
                    for g in self.commit_files(c):
                        acc[g] = get(g, 0.0) + inv
                scale = s[i] / len(cids)
                for g, v in acc.items():
                    out[g] = out.get(g, 0.0) + v * scale
                out[f] = 0.0
        return [out.get(f, 0.0) for f in cand]

    def rank(self, text: str, author: str | None = None, seeds: list[int] | None = None, top: int = 10,
             when: float | None = None):
        cand, X, terms = self.features(text, author, seeds, when)
        w = self.weights
        scores = []
        for row in X:
            s = 0.0
            for j in range(NF):
                s = s + row[j] * w[j]
            scores.append(s)
        paths = self.paths
        # the rounding of numpy.round(s, 9): rint(s * 1e9) / 1e9
        order = sorted(range(len(cand)), key=lambda i: (-(round(scores[i] * 1e9) / 1e9), paths[cand[i]]))[:top]
        return cand, X, terms, scores, order


def _maxnorm(v: list[float]) -> list[float]:
    m = max(v) if v else 0.0
    return [x / m for x in v] if m > 0 else v


def _rank_feature(v: list[float]) -> list[float]:
    out = [0.0] * len(v)
    pos = sorted((i for i, x in enumerate(v) if x > 0), key=lambda i: -v[i])
    for r, i in enumerate(pos):
        out[i] = 1.0 / (1.0 + r)
    return out
