"""Statistics of the learnt history: append-only postings over commits and files, with numpy at query time.

Everything here is additive over commits, learnt one commit at a time in history order, so a model updated commit
by commit holds the same statistics as a full rebuild over the same commits (only the float summation order may
differ, which ranking rounds away). Postings are a compact CSR base (built in bulk or loaded from disk) plus small
per-key deltas appended by later commits; a query reads ``base slice + delta``, nothing is rebuilt per query.
"""

from __future__ import annotations

import math
from array import array

import numpy as np

from git_ml.predict.signals import HEAT_TAU
from git_ml.predict.text import Vocabulary, subject, tokens

I32 = np.int32
F32 = np.float32


_TYPECODE = {"float64": "d", "int64": "q", "int32": "i", "uint8": "B", "float32": "f"}


class Vec:
    """A growable 1-d array: a stdlib ``array`` (fast scalar updates while learning) seen by numpy through
    ``a``, a zero-copy view made on demand (do not keep views across appends: a resize would be refused)."""

    __slots__ = ("arr", "dtype")

    def __init__(self, dtype, data=None):
        self.dtype = np.dtype(dtype)
        self.arr = array(_TYPECODE[self.dtype.name])
        if data is not None:
            self.arr.extend(data)

    @classmethod
    def from_numpy(cls, a: np.ndarray) -> Vec:
        v = cls(a.dtype)
        v.arr.frombytes(np.ascontiguousarray(a).tobytes())
        return v

    @property
    def a(self) -> np.ndarray:
        if not len(self.arr):
            return np.zeros(0, dtype=self.dtype)
        return np.frombuffer(self.arr, dtype=self.dtype)

    @property
    def n(self) -> int:
        return len(self.arr)

    def push(self, value) -> None:
        self.arr.append(value)

    def extend(self, values) -> None:
        self.arr.extend(values)

    def view(self) -> np.ndarray:
        return self.a


class Postings:
    """key -> (ids, weights): a CSR base plus appended deltas.

    In bulk mode additions go to one COO buffer that ``compact`` turns into the base; in online mode they go to
    per-key buffers that ``get`` concatenates onto the base slice (cached until the key grows again).
    """

    __slots__ = ("ptr", "ids", "w", "coo_k", "coo_i", "coo_w", "dk_i", "dk_w", "cache", "online")

    def __init__(self, ptr=None, ids=None, w=None):
        self.ptr = np.zeros(1, dtype=np.int64) if ptr is None else ptr
        self.ids = np.zeros(0, dtype=I32) if ids is None else ids
        self.w = np.zeros(0, dtype=F32) if w is None else w
        self.coo_k = array("i")
        self.coo_i = array("i")
        self.coo_w = array("f")
        self.dk_i: dict[int, array] = {}
        self.dk_w: dict[int, array] = {}
        self.cache: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}
        self.online = False

    def add(self, key: int, i: int, w: float) -> None:
        if self.online:
            di = self.dk_i.get(key)
            if di is None:
                self.dk_i[key] = array("i", (i,))
                self.dk_w[key] = array("f", (w,))
            else:
                di.append(i)
                self.dk_w[key].append(w)
        else:
            self.coo_k.append(key)
            self.coo_i.append(i)
            self.coo_w.append(w)

    def add_many(self, keys, i: int, ws) -> None:
        if self.online:
            for k, w in zip(keys, ws):
                self.add(k, i, w)
        else:
            self.coo_k.extend(keys)
            self.coo_i.extend([i] * len(keys))
            self.coo_w.extend(ws)

    def nkeys(self) -> int:
        return len(self.ptr) - 1

    def base(self, key: int):
        if key < len(self.ptr) - 1:
            a, b = self.ptr[key], self.ptr[key + 1]
            return self.ids[a:b], self.w[a:b]
        return self.ids[:0], self.w[:0]

    def get(self, key: int) -> tuple[np.ndarray, np.ndarray]:
        di = self.dk_i.get(key)
        if di is None:
            return self.base(key)
        hit = self.cache.get(key)
        if hit is not None and hit[2] == len(di):
            return hit[0], hit[1]
        if hit is None:
            bi, bw = self.base(key)
            start = 0
        else:
            bi, bw, start = hit
        ids = np.concatenate((bi, np.frombuffer(di, dtype=I32, count=len(di) - start, offset=4 * start)))
        ws = np.concatenate((bw, np.frombuffer(self.dk_w[key], dtype=F32, count=len(di) - start, offset=4 * start)))
        self.cache[key] = (ids, ws, len(di))
        return ids, ws

    def coo(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Everything as (keys, ids, weights), base first, then bulk buffer, then deltas."""
        nb = len(self.ptr) - 1
        ks = [np.repeat(np.arange(nb, dtype=I32), np.diff(self.ptr).astype(np.int64))]
        is_ = [self.ids]
        ws = [self.w]
        if len(self.coo_k):
            ks.append(np.frombuffer(self.coo_k, dtype=I32))
            is_.append(np.frombuffer(self.coo_i, dtype=I32))
            ws.append(np.frombuffer(self.coo_w, dtype=F32))
        for k in sorted(self.dk_i):
            di = self.dk_i[k]
            ks.append(np.full(len(di), k, dtype=I32))
            is_.append(np.frombuffer(di, dtype=I32))
            ws.append(np.frombuffer(self.dk_w[k], dtype=F32))
        return np.concatenate(ks), np.concatenate(is_), np.concatenate(ws)

    @classmethod
    def from_coo(cls, keys, ids, ws, nkeys: int, aggregate: bool = False) -> Postings:
        keys = np.asarray(keys, dtype=np.int64)
        ids = np.asarray(ids, dtype=np.int64)
        ws = np.asarray(ws, dtype=F32)
        if aggregate and len(keys):
            comb = keys * (int(ids.max()) + 1) + ids
            order = np.argsort(comb, kind="stable")
            comb = comb[order]
            starts = np.flatnonzero(np.r_[True, comb[1:] != comb[:-1]])
            keys = keys[order][starts]
            ids = ids[order][starts]
            ws = np.add.reduceat(ws[order].astype(np.float64), starts).astype(F32)
        else:
            order = np.lexsort((ids, keys))
            keys, ids, ws = keys[order], ids[order], ws[order]
        counts = np.bincount(keys, minlength=nkeys) if len(keys) else np.zeros(nkeys, dtype=np.int64)
        ptr = np.zeros(nkeys + 1, dtype=np.int64)
        np.cumsum(counts, out=ptr[1:])
        return cls(ptr, ids.astype(I32), ws)

    def compacted(self, nkeys: int, aggregate: bool = False, extra=None) -> Postings:
        k, i, w = self.coo()
        if extra is not None:
            k = np.concatenate((k, extra[0]))
            i = np.concatenate((i, extra[1]))
            w = np.concatenate((w, extra[2]))
        return Postings.from_coo(k, i, w, nkeys, aggregate)


def doc_text(message: str, body: bool) -> str:
    return message if body else subject(message)


class Index(Vocabulary):
    """The learnt statistics of one history. ``learn`` one commit at a time; ``compact`` folds buffers."""

    def __init__(self, body: bool = False):
        self.body = body
        self.vocab: list[str] = []
        self.tid: dict[str, int] = {}
        self.wcache: dict[str, tuple[int, ...]] = {}
        self.paths: list[str] = []
        self.fid_of: dict[str, int] = {}
        self.authors: list[str] = []
        self.aid: dict[str, int] = {}
        # per file
        self.live = Vec(np.uint8)
        self.nchg = Vec(np.float64)
        self.last = Vec(np.int64)
        self.dl = Vec(np.float64)
        self.heat = Vec(np.float64)  # changes, each decayed by exp(-commits since / HEAT_TAU), as of the last change
        # per commit
        self.cdl = Vec(F32)
        self.cnf = Vec(I32)
        self.ctime = Vec(np.int64)
        self.cauth = Vec(I32)
        self.cf_ptr = Vec(np.int64, [0])
        self.cf_ids = Vec(I32)
        # postings
        self.cterm = Postings()  # term -> commits (tf)
        self.fterm = Postings()  # term -> files (tf summed over the file's commits)
        self.fcom = Postings()  # file -> commits
        self.pterm = Postings()  # path token -> files
        self.nterm = Postings()  # file-name token -> files
        self.acom = Postings()  # author -> commits
        self.pending_fterm = 0  # cterm entries in the bulk buffer whose fterm expansion is still to do
        self.online = False
        self.ncommits = 0

    # -- building -------------------------------------------------------------------------------------------------

    def _new_file(self, path: str) -> int:
        f = len(self.paths)
        self.paths.append(path)
        self.fid_of[path] = f
        self.live.push(1)
        self.nchg.push(0.0)
        self.last.push(-1)
        self.dl.push(0.0)
        self.heat.push(0.0)
        self._index_path(f, path)
        return f

    def learn(self, commit) -> bool:
        """Learn one non-merge commit (a ``git_ml.schema.Commit`` or anything with message/files/author_email/time)."""
        if not commit.files:
            return False
        idx = self.ncommits
        live = self.live.arr
        fids: list[int] = []
        seen = set()
        fid_of = self.fid_of
        for entry in commit.files:
            status, path, old = entry[0][:1], entry[1], entry[4]
            if status == "D":
                f = fid_of.get(path)
                if f is not None:
                    live[f] = 0
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
                        live[other] = 0
                    fid_of[path] = f
                    self.paths[f] = path
                    self._index_path(f, path)
            else:
                f = fid_of.get(path)
                if f is None:
                    f = self._new_file(path)
            live[f] = 1
            if f not in seen:
                seen.add(f)
                fids.append(f)
        terms, tfs = self.text_terms(doc_text(commit.message or "", self.body))
        ntok = float(sum(tfs))
        nchg, last, dl, heat = self.nchg.arr, self.last.arr, self.dl.arr, self.heat.arr
        for f in fids:
            nchg[f] += 1.0
            prev = last[f]
            heat[f] = 1.0 + (heat[f] * math.exp((prev - idx) / HEAT_TAU) if prev >= 0 else 0.0)
            last[f] = idx
            dl[f] += ntok
            self.fcom.add(f, idx, 1.0)
        self.cterm.add_many(terms, idx, tfs)
        if self.online:
            for f in fids:
                self.fterm.add_many(terms, f, tfs)
        else:
            self.pending_fterm += len(terms)
        a = self.aid.get(commit.author_email)
        if a is None:
            a = self.aid[commit.author_email] = len(self.authors)
            self.authors.append(commit.author_email)
        self.acom.add(a, idx, 1.0)
        self.cdl.push(ntok)
        self.cnf.push(len(fids))
        self.ctime.push(int(commit.time or 0))
        self.cauth.push(a)
        self.cf_ids.extend(fids)
        self.cf_ptr.push(len(self.cf_ids.arr))
        self.ncommits += 1
        return True

    def compact(self) -> None:
        """Fold every buffer into CSR bases (bulk build, or before saving); afterwards learn in online mode."""
        nv = len(self.vocab)
        extra = None
        if not self.online and len(self.cterm.coo_k):
            # file documents of the commits learnt in bulk: expand (term, commit, tf) over the commit's files
            k = np.frombuffer(self.cterm.coo_k, dtype=I32)
            c = np.frombuffer(self.cterm.coo_i, dtype=I32)
            w = np.frombuffer(self.cterm.coo_w, dtype=F32)
            ptr = self.cf_ptr.view()
            cnt = (ptr[c.astype(np.int64) + 1] - ptr[c]).astype(np.int64)
            total = int(cnt.sum())
            starts = np.repeat(ptr[c], cnt)
            offs = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            files = self.cf_ids.view()[starts + offs]
            extra = (np.repeat(k, cnt), files, np.repeat(w, cnt))
        self.fterm = self.fterm.compacted(nv, aggregate=True, extra=extra)
        self.cterm = self.cterm.compacted(nv)
        self.pterm = self.pterm.compacted(nv, aggregate=True)
        self.nterm = self.nterm.compacted(nv, aggregate=True)
        self.fcom = self.fcom.compacted(len(self.paths))
        self.acom = self.acom.compacted(len(self.authors))
        self.pending_fterm = 0
        self.go_online()

    def go_online(self) -> None:
        self.online = True
        for p in (self.cterm, self.fterm, self.fcom, self.pterm, self.nterm, self.acom):
            p.online = True
            if len(p.coo_k):
                raise RuntimeError("compact before going online")

    # -- helpers for scoring ----------------------------------------------------------------------------------------

    def query_terms(self, text: str) -> list[int]:
        out: dict[int, None] = {}
        for t in tokens(text):
            i = self.tid.get(t)
            if i is not None:
                out[i] = None
        return list(out)

    def commit_files(self, c: int) -> np.ndarray:
        p = self.cf_ptr.a
        return self.cf_ids.a[p[c] : p[c + 1]]

    def files_of_commits(self, cs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Concatenated file ids of commits ``cs`` and, for each, the position of its commit in ``cs``."""
        ptr = self.cf_ptr.a
        cs = cs.astype(np.int64)
        cnt = ptr[cs + 1] - ptr[cs]
        total = int(cnt.sum())
        starts = np.repeat(ptr[cs], cnt)
        offs = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        return self.cf_ids.a[starts + offs], np.repeat(np.arange(len(cs)), cnt)


def bm25_idf(n: float, df: np.ndarray | float):
    return np.log1p((n - df + 0.5) / (df + 0.5))


__all__ = ["Index", "Postings", "Vec", "bm25_idf", "math"]
