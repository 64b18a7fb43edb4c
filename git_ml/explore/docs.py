"""The full-text side of the explore index: a contentless FTS5 table ``docs`` (prompt, response, message).

What is indexed is not the raw text but predict's tokens of it (``text.doc_text``: stems, identifier parts, stop
words dropped), so SQLite only splits on spaces and every query goes through the same tokenizer. The table keeps
the postings only (``content=''``: no copy of the text; positions are kept, as FTS5's BM25 needs them in a
contentless table). The tokens of a document are computed again from its record when they are
needed (rescoring a search's candidates, or removing a document, which a contentless table is told with the values
it was given). Computing them is deterministic, and a change of the tokenizer changes the index version.

A document's row id is its record's ``rec`` reference (``db.py``), which also names its stream (the block's).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import msgspec

from git_ml.explore.db import Records
from git_ml.explore.text import doc_text

DOC_STREAMS = ("chats", "commits")
CREATE = ("CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts5(prompt, response, message, content='', "
          "tokenize='unicode61')")
_INSERT = "INSERT INTO docs(rowid, prompt, response, message) VALUES(?,?,?,?)"
_DELETE = "INSERT INTO docs(docs, rowid, prompt, response, message) VALUES('delete',?,?,?,?)"


class ChatText(msgspec.Struct):
    id: str = ""
    query: str = ""
    response: str = ""
    timestamp: str = ""
    session_id: str = ""


class CommitText(msgspec.Struct):
    id: str = ""
    message: str = ""
    timestamp: str = ""
    author: str = ""


CHAT = msgspec.json.Decoder(ChatText)
COMMIT = msgspec.json.Decoder(CommitText)


def doc_values(stream: str, line: bytes) -> tuple[str, str, str]:
    """(prompt, response, message) tokens of a record line, as the table holds them."""
    try:
        if stream == "chats":
            c = CHAT.decode(line)
            return doc_text(c.query), doc_text(c.response), ""
        return "", "", doc_text(COMMIT.decode(line).message)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return "", "", ""


def _docs(stream: str, records: Records, recs: Iterable[int]) -> list[tuple]:
    return [(rec, *doc_values(stream, records.get(stream, rec))) for rec in recs]


def build_docs(db: sqlite3.Connection) -> None:
    """(Re)create the table from every commit and chat of the index."""
    db.execute("DROP TABLE IF EXISTS docs")
    db.execute(CREATE)
    records = Records(db)
    for stream in DOC_STREAMS:
        recs = [r[0] for r in db.execute(f"SELECT rec FROM {stream} ORDER BY rec")]
        db.executemany(_INSERT, _docs(stream, records, recs))
    db.execute("INSERT INTO docs(docs) VALUES('optimize')")  # one segment: smaller, and faster to query


def add_docs(db: sqlite3.Connection, stream: str, records: Records, recs: Iterable[int]) -> None:
    """Index the records ``recs`` (references) of ``stream``."""
    db.executemany(_INSERT, _docs(stream, records, recs))


def remove_docs(db: sqlite3.Connection, stream: str, records: Records, recs: Iterable[int]) -> None:
    """Take the records ``recs`` (references, indexed earlier) out of the table."""
    db.executemany(_DELETE, _docs(stream, records, recs))


def doc_record(db: sqlite3.Connection, records: Records, rowid: int) -> tuple[str, bytes] | None:
    """(stream, record line) of a document."""
    row = db.execute("SELECT stream FROM blocks WHERE id=?", (rowid // 256,)).fetchone()
    return (row[0], records.get(row[0], rowid)) if row else None
