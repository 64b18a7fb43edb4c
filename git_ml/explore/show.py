"""`git ml show`: a commit with the session and chats behind it, or a chat or session with its commits.

``show(repo, arg)`` returns the JSON document (``--json`` prints it as is); ``render(doc, out)`` writes the text.

JSON (stable; keys are only ever added):

* commit: ``{"kind": "commit", "id", "captured": bool, "commit": {record, or from git when not captured},
  "via": "link"|"rewrite"|"patch-id"|"message"|"squash"|null, "sources": [commit ids whose links were used],
  "session": {session record}|null, "sessions": [ids], "chats": [{chat record..., "link": {"commit", "reason",
  "score", "seconds"}, "feedback": {feedback record}|null}]}``
* chat: ``{"kind": "chat", "id", "chat": {record}, "feedback": {...}|null, "session": {...}|null,
  "commits": [{"id", "subject", "reason", "score", "seconds"}]}``
* session: ``{"kind": "session", "id", "session": {record}|null, "chats": [{"id", "timestamp", "query",
  "files_modified", "commits": [ids]}], "commits": [{"id", "subject"}]}``

A chat that a link names but the store no longer holds (deleted by retention) appears as ``{"id", "missing": true}``.
"""

from __future__ import annotations

import json

from git_ml.explore.gitrepo import as_gitrepo
from git_ml.explore.render import short_chat
from git_ml.explore.resolve import resolve_target
from git_ml.explore.trace import Tracer

RESPONSE_LINES = 8
RESPONSE_CHARS = 800


def _load(data: bytes | None) -> dict | None:
    return json.loads(data) if data else None


def _git_commit_doc(repo, oid: str) -> dict:
    from git_ml.schema import iso_from_unix

    try:
        commit = repo.get(oid)
    except ValueError:
        commit = None
    if commit is None or commit.type_str != "commit":
        return {"id": oid}
    a, c = commit.author, commit.committer
    return {"id": oid, "message": commit.message.rstrip("\n"), "author": a.name,
            "author_email": a.email, "timestamp": iso_from_unix(a.time, a.offset),
            "committer": c.name, "committed_at": iso_from_unix(c.time, c.offset),
            "parents": [str(p) for p in commit.parent_ids]}


def _subject_of(repo, ix, oid: str) -> str:
    rec = _load(ix.commit_json(oid))
    if rec is not None:
        return rec.get("message", "").split("\n", 1)[0]
    return _git_commit_doc(repo, oid).get("message", "").split("\n", 1)[0]


def show(repo, ix, arg: str | None) -> dict:
    """The JSON document for ``arg`` (a revision, chat or session id or prefix; default HEAD)."""
    repo = as_gitrepo(repo)
    target = resolve_target(repo, ix, arg)
    if target.kind == "chat":
        return show_chat(repo, ix, target.id)
    if target.kind == "session":
        return show_session(repo, ix, target.id)
    return show_commit(repo, ix, target.id)


def show_commit(repo, ix, oid: str) -> dict:
    record = _load(ix.commit_json(oid))
    doc: dict = {"kind": "commit", "id": oid, "captured": record is not None,
                 "commit": record if record is not None else _git_commit_doc(repo, oid)}
    t = Tracer(ix, repo).trace(oid, deep=True, message=doc["commit"].get("message"))
    doc["via"] = t.via or None
    doc["sources"] = t.sources if t.via not in ("", "link") else []
    chats = []
    seen = set()
    for lk in t.links:
        if not lk.chat_id or lk.chat_id in seen:
            continue
        seen.add(lk.chat_id)
        chat = _load(ix.chat_json(lk.chat_id)) or {"id": lk.chat_id, "missing": True}
        chat["link"] = {"commit": lk.source, "reason": lk.reason, "score": lk.score, "seconds": lk.seconds}
        chat["feedback"] = _load(ix.feedback_of(lk.chat_id))
        chats.append(chat)
    sessions = t.sessions or list(dict.fromkeys(c.get("session_id") for c in chats if c.get("session_id")))
    doc["sessions"] = sessions
    doc["session"] = _load(ix.session_json(sessions[0])) if sessions else None
    if doc["session"] is None and sessions:
        doc["session"] = {"id": sessions[0], "missing": True}
    doc["chats"] = chats
    return doc


def show_chat(repo, ix, chat_id: str) -> dict:
    chat = _load(ix.chat_json(chat_id))
    commits = []
    seen = set()
    for cid, reason, score, seconds in ix.commits_of_chat(chat_id):
        if cid in seen:
            continue
        seen.add(cid)
        commits.append({"id": cid, "subject": _subject_of(repo, ix, cid), "reason": reason, "score": score,
                        "seconds": seconds})
    sid = (chat or {}).get("session_id") or chat_id.rpartition(":")[0]
    session = _load(ix.session_json(sid)) if sid else None
    return {"kind": "chat", "id": chat_id, "chat": chat, "feedback": _load(ix.feedback_of(chat_id)),
            "session": session, "commits": commits}


def show_session(repo, ix, session_id: str) -> dict:
    session = _load(ix.session_json(session_id))
    chats = []
    for data in ix.chats_of_session(session_id):
        c = json.loads(data)
        chats.append({"id": c["id"], "timestamp": c.get("timestamp", ""), "query": c.get("query", ""),
                      "files_modified": c.get("files_modified", []),
                      "commits": list(dict.fromkeys(r[0] for r in ix.commits_of_chat(c["id"])))})
    commits = [{"id": cid, "subject": _subject_of(repo, ix, cid)} for cid in ix.commits_of_session(session_id)]
    for ch in chats:
        for cid in ch["commits"]:
            if all(c["id"] != cid for c in commits):
                commits.append({"id": cid, "subject": _subject_of(repo, ix, cid)})
    return {"kind": "session", "id": session_id, "session": session, "chats": chats, "commits": commits}


# ----- text -------------------------------------------------------------------------------------------------------
def _short(oid: str, n: int = 10) -> str:
    return oid[:n]


def _tools(chat: dict) -> str:
    counts = chat.get("tool_counts") or {}
    if counts:
        return ", ".join(f"{k}×{v}" if v > 1 else k for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    return ", ".join(dict.fromkeys(chat.get("tools_used") or []))


def _files(out, label: str, files: list[str]) -> None:
    if files:
        out.write(out.fit((f"    {label:<10}", "dim"), ", ".join(files)))


def _text_block(out, label: str, text: str, full: bool, indent: str = "    ") -> None:
    lines = text.strip("\n").splitlines() or [""]
    shown = lines if full else lines[:RESPONSE_LINES]
    used = 0
    cut = False
    first = True
    for line in shown:
        if not full and used + len(line) > RESPONSE_CHARS:
            line = line[: max(0, RESPONSE_CHARS - used)]
            cut = True
        used += len(line)
        head = f"{indent}{label:<10}" if first else indent + " " * 10
        first = False
        if full:
            out.write(head + line)
        else:
            out.write(out.fit((head, "dim") if head.strip() else head, line))
        if cut:
            break
    if not full and (cut or len(lines) > len(shown)):
        rest = len(lines) - len(shown)
        more = f"{rest} more line{'s' if rest != 1 else ''}" if rest > 0 else "more"
        out.write(out.fit(indent + " " * 10, (f"… ({more}; --full shows everything)", "dim")))


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def _chat_block(out, chat: dict, full: bool, header: bool = True) -> None:
    if chat.get("missing"):
        out.write(out.fit(("chat ", "ai"), (chat["id"], "ai"), ("  (not in the store: deleted or not imported)",
                                                                   "dim")))
        return
    if header:
        out.write(out.fit(("chat ", "ai"), (chat["id"], "ai")))
        bits = [chat.get("timestamp", "")[:19].replace("T", " "), chat.get("model") or chat.get("assistant", "")]
        out.write(out.fit(("    when      ", "dim"), "  ".join(b for b in bits if b)))
        link = chat.get("link")
        if link:
            when = link.get("seconds", 0)
            if link.get("reason") == "files":
                rel = (f"files it modified, committed {_duration(abs(when))} "
                       f"{'after' if when >= 0 else 'before'} the chat ended")
            else:
                rel = f"{link.get('reason')}"
            src = link.get("commit", "")
            via = f" (as {src[:10]})" if src and src != chat.get("_commit") else ""
            out.write(out.fit(("    link      ", "dim"), rel + via))
    _text_block(out, "prompt", chat.get("query", ""), full)
    _text_block(out, "response", chat.get("response", ""), full)
    _files(out, "read", chat.get("files_referenced") or [])
    _files(out, "modified", chat.get("files_modified") or [])
    tools = _tools(chat)
    if tools:
        out.write(out.fit(("    tools     ", "dim"), tools))
    tok = [f"in {chat.get('query_tokens', 0):,}", f"out {chat.get('response_tokens', 0):,}"]
    if chat.get("cache_read_tokens"):
        tok.append(f"cache read {chat['cache_read_tokens']:,}")
    if chat.get("cache_creation_tokens"):
        tok.append(f"cache write {chat['cache_creation_tokens']:,}")
    if chat.get("duration_ms"):
        tok.append(f"{chat['duration_ms'] / 1000:.1f} s")
    out.write(out.fit(("    tokens    ", "dim"), ", ".join(tok)))
    fb = chat.get("feedback")
    if fb:
        comment = f" — {fb['comment']}" if fb.get("comment") else ""
        out.write(out.fit(("    feedback  ", "dim"), f"{fb.get('rating', '')}{comment}"))


def _session_line(out, session: dict | None, label: str = "session ") -> None:
    if not session:
        return
    if session.get("missing"):
        out.write(out.fit((label, "session"), (session["id"], "session")))
        return
    bits = [session.get("assistant", ""), session.get("model") or "",
            (session.get("started_at") or "")[:19].replace("T", " "),
            f"{session.get('chat_count', 0)} chats" if session.get("chat_count") else "",
            f"branch {session['branch']}" if session.get("branch") else ""]
    out.write(out.fit((label, "session"), (session["id"], "session"), ("  " + "  ".join(b for b in bits if b),
                                                                           "dim")))


def render(doc: dict, out, full: bool = False) -> None:
    kind = doc["kind"]
    if kind == "commit":
        _render_commit(doc, out, full)
    elif kind == "chat":
        chat = dict(doc["chat"] or {"id": doc["id"], "missing": True})
        chat["feedback"] = doc.get("feedback")
        _chat_block(out, chat, full)
        _session_line(out, doc.get("session"), "    session   ")
        if doc["commits"]:
            out.write(out.fit(("    commits", "dim")))
            for c in doc["commits"]:
                out.write(out.fit("      ", (_short(c["id"]), "commit"), f" {c['subject']}",
                                  (f"  [{c['reason']}]", "dim")))
        else:
            out.write(out.fit(("    commits   none linked", "dim")))
    else:
        _session_line(out, doc.get("session") or {"id": doc["id"], "missing": True})
        for ch in doc["chats"]:
            ts = ch["timestamp"][:19].replace("T", " ")
            commits = f"  → {', '.join(_short(c, 8) for c in ch['commits'])}" if ch["commits"] else ""
            out.write(out.fit("  ", (short_chat(ch["id"]), "ai"), f" {ts}  ",
                              " ".join(ch["query"].split()), (commits, "commit")))
        if doc["commits"]:
            out.write(out.fit(("commits", "dim")))
            for c in doc["commits"]:
                out.write(out.fit("  ", (_short(c["id"]), "commit"), f" {c['subject']}"))


def _render_commit(doc: dict, out, full: bool) -> None:
    rec = doc["commit"]
    n = len([c for c in doc["chats"]])
    mark = f"  [{n} chat{'s' if n != 1 else ''}]" if n else ("  [session]" if doc.get("sessions") else "")
    out.write(out.fit(("commit " + doc["id"], "commit"), (mark, "ai")))
    if rec.get("author"):
        email = f" <{rec['author_email']}>" if rec.get("author_email") else ""
        out.write(out.fit(f"Author: {rec['author']}{email}"))
    if rec.get("timestamp"):
        out.write(out.fit(f"Date:   {rec['timestamp']}"))
    if not doc["captured"]:
        out.write(out.fit(("(not captured: run `git ml capture` for this commit)", "dim")))
    out.write("")
    for line in (rec.get("message") or "").splitlines():
        out.write(out.fit("    " + line) if not full else "    " + line)
    files = rec.get("files") or []
    if files:
        out.write("")
        for status, path, added, deleted, old in files[:50] if not full else files:
            counts = f"+{added} -{deleted}" if added is not None else ("unknown" if status == "X" else "binary")
            name = f"{old} → {path}" if old else path
            out.write(out.fit(f" {status} ", (f"{counts:>12}", "dim"), f"  {name}"))
        if len(files) > 50 and not full:
            out.write(out.fit((f"   … {len(files) - 50} more files", "dim")))
        extra = f", patch-id {rec['patch_id'][:12]}" if rec.get("patch_id") else ""
        out.write(out.fit((f" {rec.get('files_changed', len(files))} files, +{rec.get('insertions', 0)} "
                           f"-{rec.get('deletions', 0)}{extra}", "dim")))
    via = doc.get("via")
    if via and via != "link":
        srcs = ", ".join(_short(s) for s in doc.get("sources", []))
        why = {"rewrite": "rewritten (amend/rebase) from", "patch-id": "same patch as", "message":
               "its message names", "squash": "squashes the content of"}.get(via, via)
        out.write("")
        out.write(out.fit((f"Conversation found through {via}: {why} {srcs}", "dim")))
    if doc.get("session") or doc["chats"]:
        out.write("")
        _session_line(out, doc.get("session"))
    for chat in doc["chats"]:
        out.write("")
        _chat_block(out, {**chat, "_commit": doc["id"]}, full)
    if not doc["chats"] and not doc.get("session"):
        out.write("")
        out.write(out.fit(("No assistant chat is linked to this commit.", "dim")))
