"""`git ml search`: ranked full-text search over prompts, responses and commit messages.

Documents live in the contentless FTS5 table of the explore index (``docs.py``), as predict's tokens of the text
(stems, identifier parts, stop words dropped), so that every query goes through the same tokenizer. Ranking is
two-stage: FTS5's BM25 (k1 1.2, b 0.75; term statistics of this store; column weights prompt 2.0, commit message 1.5, response 1.0) picks the candidates,
then each is rescored by the share of distinct query terms it holds and a bonus when the query's tokens occur in it
consecutively (the phrase itself):

    score = bm25 * (0.5 + 0.5 * coverage) * (1.5 if phrase else 1.0)

The candidates' tokens, which the table does not keep, are computed again from their records (50 at most).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from git_ml.dates import iso_to_unix
from git_ml.errors import GitMlError
from git_ml.explore.docs import CHAT, COMMIT, doc_record, doc_values
from git_ml.explore.text import doc_tokens, word_spans

WEIGHTS = (2.0, 1.0, 1.5)  # prompt, response, message
SNIPPET = 160


# ----- querying ---------------------------------------------------------------------------------------------------
@dataclass
class Hit:
    kind: str  # chat | commit
    id: str
    score: float
    date: str
    title: str
    snippet: str  # matches wrapped in ** **
    spans: list[tuple[int, int]] = field(default_factory=list)  # of the matches in ``plain``
    plain: str = ""
    commits: list[str] = field(default_factory=list)
    chats: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"kind": self.kind, "id": self.id, "score": round(self.score, 4), "date": self.date,
                "title": self.title, "snippet": self.snippet, "commits": self.commits, "chats": self.chats}


def parse_since(text: str | None) -> float | None:
    """A date as git takes it: ISO (2026-01-15, 2026-01-15T10:00) or approximate ("2 weeks ago", "yesterday")."""
    if not text:
        return None
    t = iso_to_unix(text if "T" in text or " " not in text else text.replace(" ", "T", 1))
    if t is not None:
        return t
    import re
    import subprocess

    # git's approxidate accepts anything (unknown words fall back to "now"): insist on something it understands.
    known = re.compile(r"\d|\b(now|today|yesterday|ago|noon|midnight|tea|last|second|minute|hour|day|week|month|"
                       r"year|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun)", re.I)
    if not known.search(text):
        raise GitMlError(f"cannot understand the date: {text}")
    out = subprocess.run(["git", "rev-parse", f"--since={text}"], capture_output=True, text=True)
    value = out.stdout.strip()
    if out.returncode == 0 and value.startswith("--max-age="):
        return float(value.split("=", 1)[1])
    raise GitMlError(f"cannot understand the date: {text}")


def _consecutive(query: list[str], doc: list[str]) -> bool:
    n = len(query)
    if n < 2:
        return bool(n) and query[0] in doc
    first = query[0]
    for i, tok in enumerate(doc):
        if tok == first and doc[i:i + n] == query:
            return True
    return False


def make_snippet(text: str, wanted: set[str], width: int = SNIPPET) -> tuple[str, list[tuple[int, int]]]:
    """The window of ``text`` with the most matched words, as one line, and the spans of those words in it."""
    flat = " ".join(text.split())
    spans = word_spans(flat, wanted)
    if not spans:
        cut = flat[:width]
        return (cut + "…" if len(flat) > width else cut), []
    best, best_n = 0, -1
    j = 0
    for i, (a, _b) in enumerate(spans):
        while j < len(spans) and spans[j][1] - a <= width:
            j += 1
        if j - i > best_n:
            best, best_n = i, j - i
    start = spans[best][0]
    # Some context before the first match, cut at a word boundary.
    lead = max(0, start - width // 5)
    if lead > 0:
        space = flat.rfind(" ", 0, lead + 1)
        lead = space + 1 if space >= 0 and start - space < width // 2 else lead
    end = min(len(flat), lead + width)
    if end < len(flat):
        space = flat.rfind(" ", lead, end)
        if space > start:
            end = space
    piece = flat[lead:end]
    prefix = "…" if lead > 0 else ""
    suffix = "…" if end < len(flat) else ""
    shift = len(prefix) - lead
    inner = [(a + shift, b + shift) for a, b in spans if a >= lead and b <= end]
    return prefix + piece + suffix, inner


def marked(text: str, spans: list[tuple[int, int]], left: str = "**", right: str = "**") -> str:
    out, pos = [], 0
    for a, b in spans:
        out += [text[pos:a], left, text[a:b], right]
        pos = b
    out.append(text[pos:])
    return "".join(out)


def search(ix, phrase: str, *, where: str = "all", since: str | None = None, author: str | None = None,
           limit: int = 10) -> list[Hit]:
    """Ranked hits for ``phrase`` in chats, commits or both."""
    if where not in ("chats", "commits", "all"):
        raise GitMlError(f"--in takes chats, commits or all, not {where!r}")
    if limit <= 0:
        return []
    query = doc_tokens(phrase)
    distinct = list(dict.fromkeys(query))
    if not distinct:
        raise GitMlError(f"nothing to search for in {phrase!r} (only stop words or too short)")
    ix.ensure_search()
    db = ix.db
    since_t = parse_since(since)
    match = " OR ".join(f'"{t}"' for t in distinct)
    conds, params = [], [match]
    like = f"%{author}%" if author else None
    kind_conds = []
    if where in ("commits", "all"):
        c = "(d.rowid / 256 IN (SELECT id FROM blocks WHERE stream = 'commits')"
        sub = []
        if since_t is not None:
            sub.append("time >= ?")
            params.append(since_t)
        if like:
            sub.append("author IN (SELECT id FROM authors WHERE name LIKE ?)")
            params.append(like)
        if sub:
            c += f" AND d.rowid IN (SELECT rec FROM commits WHERE {' AND '.join(sub)})"
        kind_conds.append(c + ")")
    if where in ("chats", "all"):
        c = "(d.rowid / 256 IN (SELECT id FROM blocks WHERE stream = 'chats')"
        sub = []
        if since_t is not None:
            sub.append("time >= ?")
            params.append(since_t)
        if like:
            sub.append("id IN (SELECT l.chat_id FROM links l JOIN commits c ON c.id = l.commit_id "
                       "WHERE c.author IN (SELECT id FROM authors WHERE name LIKE ?))")
            params.append(like)
        if sub:
            c += f" AND d.rowid IN (SELECT rec FROM chats WHERE {' AND '.join(sub)})"
        kind_conds.append(c + ")")
    conds.append("(" + " OR ".join(kind_conds) + ")")
    pool = max(50, limit * 5)
    sql = (f"SELECT d.rowid, bm25(docs, {WEIGHTS[0]}, {WEIGHTS[1]}, {WEIGHTS[2]}) FROM docs d "
           f"WHERE docs MATCH ? AND {' AND '.join(conds)} ORDER BY 2 LIMIT {pool}")
    try:
        rows = db.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        raise GitMlError(f"search failed: {exc}") from None
    wanted = set(distinct)
    scored = []
    records: dict[int, tuple[str, bytes]] = {}
    for rowid, bm in rows:
        found = doc_record(db, ix.records, rowid)
        if found is None:
            continue
        records[rowid] = found
        p, r, m = doc_values(*found)
        toks = [t for col in (p, r, m) for t in col.split()]
        have = wanted.intersection(toks)
        coverage = len(have) / len(wanted)
        phrase_bonus = 1.5 if len(query) > 1 and any(_consecutive(query, col.split()) for col in (p, r, m)) else 1.0
        scored.append((-bm * (0.5 + 0.5 * coverage) * phrase_bonus, rowid))
    scored.sort(key=lambda x: (-x[0], x[1]))
    hits = []
    for score, rowid in scored[:limit]:
        hits.append(_hit(ix, rowid, *records[rowid], score, wanted))
    return hits


def _hit(ix, rowid: int, stream: str, data: bytes, score: float, wanted: set[str]) -> Hit:
    if stream == "chats":
        chat = CHAT.decode(data)
        cid = chat.id
        q_snip, q_spans = make_snippet(chat.query, wanted)
        r_snip, r_spans = make_snippet(chat.response, wanted)
        # The title already shows the prompt: the response's snippet whenever it holds as much of the query.
        snip, spans = (r_snip, r_spans) if r_spans and len(r_spans) >= len(q_spans) else (q_snip, q_spans)
        commits = [c for c, *_ in ix.commits_of_chat(cid)]
        title = " ".join(chat.query.split())[:200]
        return Hit("chat", cid, score, chat.timestamp, title, marked(snip, spans), spans, snip,
                   commits=list(dict.fromkeys(commits)))
    c = COMMIT.decode(data)
    cid = c.id
    snip, spans = make_snippet(c.message, wanted)
    chats = [ch for ch, *_ in ix.links_of_commit(cid) if ch]
    return Hit("commit", cid, score, c.timestamp, c.message.split("\n", 1)[0], marked(snip, spans), spans, snip,
               chats=list(dict.fromkeys(chats)))
