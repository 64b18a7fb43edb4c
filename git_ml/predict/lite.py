"""The quick prediction path: answer `git ml predict "TASK"` with the standard library alone.

One prediction must answer within 150 ms including interpreter start; importing numpy and pygit2 alone takes longer
than that on a slow machine. ``predict`` reads the model file (``lite_model``), applies the journal in plain
Python and ranks, giving exactly the ranking of the numpy path (tested).

Whenever it cannot answer (no model, another version, a journal long enough to be worth folding, a big-endian
machine), ``predict`` returns None and the caller takes the numpy path, which trains or folds as needed.
"""

from __future__ import annotations

import json
import math
import os

from git_ml.predict import FOLD_AT, JOURNAL_FILE, MODEL_FILE, id_key
from git_ml.predict.gitdir import author_email, find_git_dirs, repo_path
from git_ml.predict.lite_model import LiteModel, Unavailable


def predict(task: str, top: int = 10, seeds: list[str] | None = None, explain: bool = False,
            start: str | None = None, when: float | None = None):
    """Ranked files as dicts, or None when the numpy path must take over."""
    found = find_git_dirs(start)
    if found is None:
        return None
    gitdir, work = found
    ml = os.path.join(gitdir, "ml")
    try:
        model = LiteModel(os.path.join(ml, MODEL_FILE))
    except Unavailable:
        return None
    except (ValueError, KeyError, TypeError, IndexError, OSError):
        return None  # unreadable: the numpy path rebuilds it
    pending = []
    for name in sorted(os.listdir(ml)):
        if name.startswith(JOURNAL_FILE + ".fold"):
            pending.extend(_read_journal(os.path.join(ml, name)))
    pending.extend(_read_journal(os.path.join(ml, JOURNAL_FILE)))
    if len(pending) >= FOLD_AT:
        return None
    if pending:
        learnt = model.learnt_keys()
        try:
            for cid, message, author, ctime, files in pending:
                k = id_key(cid)
                if k in learnt:
                    continue
                learnt.add(k)
                model.learn(cid, message, author, ctime, files)
        except (ValueError, TypeError, IndexError, KeyError, AttributeError):
            return None  # an entry this path does not understand: the numpy path validates every line
    seed_ids = []
    for s in seeds or []:
        s = repo_path(work, s)
        f = model.fid_of.get(s)
        if f is None or not model.live[f]:
            from git_ml.errors import GitMlError

            raise GitMlError(f"unknown seed file: {s} (not a file of the learnt history)")
        seed_ids.append(f)
    if when is None:
        import time

        when = time.time()
    cand, X, terms, scores, order = model.rank(task, author_email(gitdir, work), seed_ids or None, top, when)
    out = []
    if not order:
        return out
    m = max(scores)
    ex = [math.exp(s - m) for s in scores]
    z = sum(ex)
    if explain:
        from git_ml.predict.explain import reasons
    for i in order:
        item = {"path": model.paths[cand[i]], "score": round(ex[i] / z, 4)}
        if explain:
            f = cand[i]
            item["why"] = reasons([x * w for x, w in zip(X[i], model.weights)],
                                  lambda signal, f=f: model.matching_terms(signal, f, terms),
                                  model.ncommits - 1 - int(model.last[f]), int(model.nchg[f]))
        out.append(item)
    return out


def _read_journal(path: str) -> list:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return []
    out = []
    for line in data.split(b"\n"):
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out
