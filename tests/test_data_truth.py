"""Data truth (issue 13): after an amend, a commit made with collection off and an interactive squash, export,
stats, show, log and blame — run as installed executables — agree on which commits are live and on which chat
produced which commit."""

from __future__ import annotations

import datetime as dt
import json

from git_ml.schema import Chat, Link, Session
from git_ml.store.core import Store


def ml_json(repo, *args: str):
    proc = repo.run("git", "ml", *args)
    assert proc.returncode == 0, f"git ml {' '.join(args)}: {proc.stderr}"
    if "-o" in args:  # export -o - writes JSON Lines
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return json.loads(proc.stdout)


def test_rewrites_and_opt_out_agree_across_verbs(repo):
    assert repo.run("git", "ml", "install-hooks").returncode == 0
    c1 = repo.commit("base", {"a.py": "a = 1\n"})
    c2 = repo.commit("add b", {"b.py": "b = 1\n"})
    c3 = repo.commit("add c", {"c.py": "c = 1\nc += 1\n"})

    # The chat that wrote b.py and c.py, with its session, linked to the two commits it produced.
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    store = Store(repo.open())
    chat = Chat(id="sess-1:p1", session_id="sess-1", assistant="claude-code", model="claude-x", timestamp=now,
                ended_at=now, query="add b.py and c.py", response="added both", files_modified=["b.py", "c.py"])
    store.append("chats", [chat])
    store.append("sessions", [Session(id="sess-1", assistant="claude-code", started_at=now)])
    store.append("links", [Link(id=f"{c}:{chat.id}", commit=c, chat_id=chat.id, session_id="sess-1",
                                reason="files", score=1.0) for c in (c2, c3)])

    repo.git("commit", "-q", "--amend", "-m", "add c.py")
    c3a = repo.git("rev-parse", "HEAD").strip()
    repo.write("off.py", "off = 1\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "work with collection off", env={"ML_COLLECTION_ENABLED": "0"})
    off = repo.git("rev-parse", "HEAD").strip()
    # Squash the amended commit into "add b"; the collection-off commit is rebased on top (a new hash, still off).
    env = {"GIT_SEQUENCE_EDITOR": "sed -i -e '2s/^pick/squash/'", "GIT_EDITOR": "true"}
    repo.git("rebase", "-q", "-i", "HEAD~3", env=env)
    off2 = repo.git("rev-parse", "HEAD").strip()
    c23 = repo.git("rev-parse", "HEAD~1").strip()
    assert repo.git("rev-parse", "HEAD~2").strip() == c1 and len({c1, c2, c3, c3a, off, c23, off2}) == 7
    live = {c1, c23}

    rows = ml_json(repo, "export", "-t", "commit", "-o", "-", "--format", "jsonl")
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == live  # no rewritten-away commit, no commit made with collection off
    assert by_id[c23]["context"]["chats"] == [chat.id] and by_id[c23]["session_id"] == "sess-1"
    assert by_id[c1]["context"]["chats"] == []

    stats = ml_json(repo, "stats", "--json")
    assert stats["commits"] == len(live)
    assert stats["linked"] == {"commits_with_chats": 1, "chats_with_commits": 1}

    shown = ml_json(repo, "show", c23, "--json")
    assert shown["captured"] and [c["id"] for c in shown["chats"]] == by_id[c23]["context"]["chats"]
    head = ml_json(repo, "show", "HEAD", "--json")
    assert head["id"] == off2 and not head["captured"] and head["chats"] == []
    old = ml_json(repo, "show", c3, "--json")  # an old id still resolves (explore keeps the old records)
    assert [c["id"] for c in old["chats"]] == [chat.id]

    log = {c["id"]: c for c in ml_json(repo, "log", "--json")["commits"]}
    assert set(log) == {c1, c23, off2}  # git's history, annotated
    assert log[c23]["chats"] == by_id[c23]["context"]["chats"]
    assert log[c1]["chats"] == [] and log[off2]["chats"] == []

    blame = ml_json(repo, "blame", "c.py", "--json")
    assert [ln["commit"] for ln in blame["lines"]] == [c23, c23]
    assert [ln["chat"] for ln in blame["lines"]] == [chat.id, chat.id]
    assert blame["summary"]["ai_lines"] == blame["summary"]["lines"] == 2
    off_blame = ml_json(repo, "blame", "off.py", "--json")
    assert off_blame["summary"]["ai_lines"] == 0

    chats = ml_json(repo, "export", "-t", "chat", "-o", "-", "--format", "jsonl")
    assert [(r["id"], r["context"]["commits"]) for r in chats] == [(chat.id, [c23])]
