"""Predict which files a task will change, from the captured commit history.

The hook-side entry point lives here and stays light (no numpy, scipy or typer): ``note_commits`` appends the
newly captured commits to a journal (JSON Lines) under ``.git/ml/`` that the next ``git ml predict`` (or ``train``) applies to
the model. Everything heavier is in the submodules: ``text`` (tokenizer), ``index`` (statistics), ``model``
(signals and learnt weights), ``storage`` (model file and journal), ``evaluate`` (the walk-forward protocol).
"""

from __future__ import annotations

import os

MODEL_VERSION = 2  # bump whenever the statistics or the signals change
MODEL_MAGIC = b"GMLPRED1"  # the model file's first bytes (storage writes it, both paths read it)
MODEL_FILE = "predict.model"
JOURNAL_FILE = "predict.journal"
FOLD_AT = 256  # a journal this long is folded into the model file (numpy path); the quick path leaves it to it


def id_key(commit_id: str) -> int:
    """64-bit key of a commit id (a hash of it), for the set of learnt commits."""
    import hashlib

    return int.from_bytes(hashlib.blake2b(commit_id.encode(), digest_size=8).digest(), "little")


def journal_path(ml_dir: str | os.PathLike) -> str:
    return os.path.join(os.fspath(ml_dir), JOURNAL_FILE)


def note_commits(repo, commits: list) -> None:
    """Record newly captured commits for the model: one append to ``.git/ml/predict.journal``.

    Called by the commit-capture hook. Costs one small file append (well under a millisecond): the model applies
    the journal when it is next loaded, and folds it into the model file now and then. Merge commits are skipped
    (the model learns non-merge commits only), and nothing is written while no model exists. Never raises for I/O
    trouble: the journal is derived data and ``git ml predict train`` rebuilds everything from the store.
    """
    if not commits:
        return
    import msgspec

    from git_ml.repo import ml_dir

    enc = msgspec.json.Encoder()
    parts = []
    for c in commits:
        if getattr(c, "is_merge", False) or not getattr(c, "files", None):
            continue
        parts.append(enc.encode((c.id, c.message or "", c.author_email or "", int(c.time or 0), c.files)) + b"\n")
    if not parts:
        return
    try:
        ml = ml_dir(repo)
        if not os.path.exists(os.path.join(ml, MODEL_FILE)):
            return  # no model yet: its first build reads every captured commit from the store anyway
        path = journal_path(ml)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, b"".join(parts))
        finally:
            os.close(fd)
    except OSError:
        pass
