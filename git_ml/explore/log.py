"""`git ml log`: `git log --oneline` with the chats behind each commit and the assistant's share at the end.

Commits come from `git log` itself (so ranges and paths mean what they mean to git), streamed and stopped as soon as
``-n`` commits are listed. Links are read in batches from the explore index; a commit without links of its own is
traced through post-rewrite records, stored patch ids and the hashes its message names, and its patch id is
computed only when its subject and per-file line counts equal those of a linked commit (never the squash-by-content
step).

JSON (stable; keys are only ever added): ``{"commits": [{"id", "date", "author", "subject", "chats": [chat ids],
"sessions": [session ids], "via": "link"|"rewrite"|"patch-id"|"message"|null}], "examined": N, "with_chats": K,
"with_session_only": S, "share": K / N}``. ``examined`` counts the commits read (before ``--ai-only`` / ``--no-ai``
filtering); ``share`` is the part of them with at least one linked chat.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

from git_ml.errors import GitMlError
from git_ml.explore.trace import Tracer

BATCH = 256


@dataclass
class Entry:
    id: str
    date: str
    author: str
    subject: str
    chats: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    via: str | None = None

    def to_json(self) -> dict:
        return {"id": self.id, "date": self.date, "author": self.author, "subject": self.subject,
                "chats": self.chats, "sessions": self.sessions, "via": self.via}


@dataclass
class LogResult:
    entries: list[Entry]
    examined: int
    with_chats: int
    with_session: int

    @property
    def share(self) -> float:
        return self.with_chats / self.examined if self.examined else 0.0

    def to_json(self) -> dict:
        return {"commits": [e.to_json() for e in self.entries], "examined": self.examined,
                "with_chats": self.with_chats, "with_session_only": self.with_session,
                "share": round(self.share, 4)}


def _git_log(cwd: str, revs: list[str], paths: list[str]):
    for r in revs:
        if r.startswith("-"):
            raise GitMlError(f"unknown option: {r}")
    cmd = ["git", "log", "-z", "--no-color", "--format=%H%x1f%ad%x1f%an%x1f%s", "--date=short", *revs, "--",
           *paths]
    env = dict(os.environ, LC_ALL="C")
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    return proc


def _records(proc):
    pending = b""
    for block in iter(lambda: proc.stdout.read1(1 << 16), b""):
        parts = (pending + block).split(b"\0")
        pending = parts.pop()
        for p in parts:
            if p:
                yield p.decode("utf-8", "replace").lstrip("\n").split("\x1f", 3)
    if pending.strip():
        yield pending.decode("utf-8", "replace").lstrip("\n").split("\x1f", 3)


def log(repo, ix, revs: list[str], paths: list[str], *, limit: int | None = None, ai: str = "all") -> LogResult:
    """``ai``: all | only | none."""
    from git_ml.explore.gitrepo import as_gitrepo

    tracer = Tracer(ix, as_gitrepo(repo))
    proc = _git_log(os.getcwd(), revs, paths)
    entries: list[Entry] = []
    examined = with_chats = with_session = 0
    rewritten = _rewritten_set(ix) if tracer.any_rewrites else set()
    done = False
    try:
        batch: list[list[str]] = []
        records = _records(proc)
        while not done:
            fields = next(records, None)
            if fields is not None and len(fields) == 4:
                batch.append(fields)
            want = BATCH if limit is None else max(1, min(BATCH, limit - len(entries)))
            if batch and (fields is None or len(batch) >= want):
                seen, done = _consume(ix, tracer, batch, rewritten, entries, limit, ai)
                examined += len(seen)
                with_chats += sum(1 for e in seen if e.chats)
                with_session += sum(1 for e in seen if not e.chats and e.sessions)
                batch = []
            if fields is None:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        err = proc.stderr.read().decode("utf-8", "replace")
        proc.stderr.close()
        code = proc.wait()
    if code != 0 and not done:
        first = next((ln for ln in err.splitlines() if ln.strip()), f"git log failed ({code})")
        raise GitMlError(first.removeprefix("fatal: "))
    return LogResult(entries, examined, with_chats, with_session)


def _rewritten_set(ix) -> set[str]:
    return {r[0] for r in ix.db.execute("SELECT DISTINCT new FROM rewrites")}


def _shared_patch_ids(ix, oids: list[str]) -> set[str]:
    q = ",".join("?" * len(oids))
    rows = ix.db.execute(
        f"SELECT c.id FROM commits c WHERE c.id IN ({q}) AND c.patch_id IS NOT NULL AND EXISTS "
        f"(SELECT 1 FROM commits o WHERE o.patch_id = c.patch_id AND o.id != c.id)", oids)
    return {r[0] for r in rows}


def _subject(ix, rec: bytes) -> str:
    import json

    return json.loads(ix.record("commits", rec)).get("message", "").split("\n", 1)[0]


def _same_shape_as_linked(ix, oids: list[str], linked: set[str]) -> set[str]:
    """Commits of ``oids`` without links (nor a stored patch id) with the subject and per-file line counts of a
    linked commit: candidates for a copy (a rebase or cherry-pick made elsewhere) that a computed patch id then
    confirms. The subject keeps this rare on long histories, where small changes often share their counts."""
    todo = [o for o in oids if o not in linked]
    if not todo:
        return set()
    q = ",".join("?" * len(todo))
    mine = ix.db.execute(f"SELECT id, shape, rec FROM commits WHERE id IN ({q}) AND patch_id IS NULL "
                         f"AND shape IS NOT NULL", todo).fetchall()
    if not mine:
        return set()
    shapes = sorted({shape for _, shape, _ in mine})
    q = ",".join("?" * len(shapes))
    theirs: dict[int, set[str]] = {}
    for shape, rec in ix.db.execute(f"SELECT DISTINCT l.shape, c.rec FROM links l JOIN commits c ON c.id = l.commit_id "
                                    f"WHERE l.shape IN ({q})", shapes):
        theirs.setdefault(shape, set()).add(_subject(ix, rec))
    return {oid for oid, shape, data in mine if shape in theirs and _subject(ix, data) in theirs[shape]}


def _consume(ix, tracer, batch, rewritten, entries, limit, ai) -> tuple[list[Entry], bool]:
    """Trace a batch of commits; returns the entries looked at and whether ``limit`` was reached."""
    oids = [f[0] for f in batch]
    links: dict[str, list[tuple]] = {}
    shared: set[str] = set()
    shaped: set[str] = set()
    if tracer.any_links:
        q = ",".join("?" * len(oids))
        for cid, chat, sess in ix.db.execute(
                f"SELECT commit_id, chat_id, session_id FROM links WHERE commit_id IN ({q}) "
                f"ORDER BY reason != 'files', abs(seconds), -score, chat_id", oids):
            links.setdefault(cid, []).append((chat, sess))
        shared = _shared_patch_ids(ix, oids)
        shaped = _same_shape_as_linked(ix, oids, set(links))
    seen: list[Entry] = []
    for oid, date, author, subject in batch:
        e = Entry(oid, date, author, subject)
        own = links.get(oid)
        if own:
            e.chats = list(dict.fromkeys(c for c, _ in own if c))
            e.sessions = list(dict.fromkeys(s for _, s in own if s))
            e.via = "link"
        elif tracer.any_links and (oid in rewritten or oid in shared or oid in shaped or _names_commits(subject)):
            t = tracer.trace(oid, deep=False, patch=oid in shaped)
            e.chats, e.sessions, e.via = t.chats, t.sessions, t.via or None
        seen.append(e)
        has = bool(e.chats)
        if (ai == "only" and not has) or (ai == "none" and has):
            continue
        entries.append(e)
        if limit is not None and len(entries) >= limit:
            return seen, True
    return seen, False


def _names_commits(subject: str) -> bool:
    # `git merge --squash` leaves "Squashed commit of the following:" as the subject unless edited; cherry-pick -x
    # puts its note in the body, which the index's record holds: checked by the tracer when the subject hints at it.
    return subject.startswith("Squashed commit of the following")


# ----- text -------------------------------------------------------------------------------------------------------
def render(result: LogResult, out) -> None:
    for e in result.entries:
        if e.chats:
            n = len(e.chats)
            mark = (f"[ai {n}]" if e.via in (None, "link") else f"[ai {n}*]", "ai")
        elif e.sessions:
            mark = ("[sess]", "session")
        else:
            mark = ("", None)
        out.write(out.fit((e.id[:10], "commit"), " ", (f"{mark[0]:<8}", mark[1]), f" {e.date} ", e.subject))
    if result.examined:
        pct = 100.0 * result.share
        tail = f"; {result.with_session} more made during an assistant session" if result.with_session else ""
        out.write(out.fit((f"{result.with_chats} of {result.examined} commits ({pct:.1f}%) have an assistant chat "
                           f"behind them{tail}", "dim")))
        if any(e.via not in (None, "link") for e in result.entries if e.chats):
            out.write(out.fit(("* found through rewritten history (rebase, amend, squash, patch id)", "dim")))
