"""`git ml chunk migrate`: a legacy .git-ml folder becomes records, once, redacted, with the folder left alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from git_ml.errors import GitMlError
from git_ml.store.core import Store
from git_ml.store.migrate import decode_chunked_line, encode_chunked_line, migrate

SECRET = "AKIA" + "Q3EGRZN7T2BVWXY5"  # an AWS access key id shape
H1, H2, H3, H4 = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)


def legacy_folder(root: Path) -> Path:
    """A folder of the layout the old system wrote (see git_ml/migrate.py)."""
    base = root / ".git-ml"
    (base / "tracked" / "chunked").mkdir(parents=True)
    (base / "chats" / "2025-12-16").mkdir(parents=True)
    (base / "chats" / "2025-12-17").mkdir(parents=True)
    (base / "commits").mkdir()
    commits = [
        {"hash": H1, "message": "feat: add parser", "author": "Ada Tester <ada@example.com>",
         "timestamp": "2025-12-16T10:00:00+01:00", "branch": "main", "files_changed": ["src/parser.py"],
         "insertions": 10, "deletions": 2, "hour_of_day": 10, "day_of_week": 1, "is_merge": False,
         "session_id": "sess-1", "related_chats": ["chat-1"]},
        {"hash": H2, "message": f"fix: rotate key {SECRET}", "author": "Bob", "timestamp": "2025-12-16T11:00:00Z",
         "branch": "main", "files_changed": ["a.py", "b.py"], "insertions": 3, "deletions": 1},
    ]
    (base / "tracked" / "commits.jsonl").write_text("".join(json.dumps(x) + "\n" for x in commits) + "not json\n")
    sessions = [{"id": "sess-1", "start_time": "2025-12-16T09:55:00Z", "end_time": "2025-12-16T10:30:00Z",
                 "chat_ids": ["chat-1", "chat-2"], "commits": [H1]}]
    (base / "tracked" / "sessions.jsonl").write_text("".join(json.dumps(x) + "\n" for x in sessions))
    orch = [{"id": "orch-1", "session_id": "sess-1", "started_at": "2025-12-16T10:00:00Z",
             "ended_at": "2025-12-16T10:20:00Z", "agents": ["explore", "implement", "review"], "commits": [H1]}]
    (base / "tracked" / "orchestration.jsonl").write_text("".join(json.dumps(x) + "\n" for x in orch))
    big_chat = {"id": "chat-3", "timestamp": "2025-12-17T08:00:00Z", "session_id": "sess-2",
                "query": "explain the module", "response": "word " * 3000, "files_referenced": ["m.py"],
                "files_modified": [], "tools_used": ["Read", "Read", "Grep"], "query_tokens": 5,
                "response_tokens": 3000, "user_feedback": None}
    big_commit = {"hash": H3, "message": "docs: long write-up\n\n" + "prose " * 1500, "author": "Ada",
                  "timestamp": "2025-12-17T09:00:00Z", "files_changed": ["README.md"], "insertions": 100,
                  "deletions": 0}
    small_session = {"id": "sess-2", "started_at": "2025-12-17T07:59:00Z", "chat_count": 1}
    chunk_lines = [encode_chunked_line("chat", big_chat), encode_chunked_line("commit", big_commit),
                   encode_chunked_line("session", small_session)]
    assert json.loads(chunk_lines[0])["compressed"] is True and "compressed" not in json.loads(chunk_lines[2])
    (base / "tracked" / "chunked" / "2025-12-17.jsonl").write_text("\n".join(chunk_lines) + "\n")
    chats = {
        "2025-12-16/chat-1.json": {"id": "chat-1", "timestamp": "2025-12-16T09:58:00Z", "session_id": "sess-1",
                                   "query": "add a parser", "response": f"done; export AWS_KEY={SECRET}",
                                   "files_referenced": ["src/parser.py"], "files_modified": ["src/parser.py"],
                                   "tools_used": ["Edit", "Bash", "Edit"], "query_tokens": 12,
                                   "response_tokens": 40, "user_feedback": "good"},
        "2025-12-16/chat-2.json": {"id": "chat-2", "timestamp": "2025-12-16T10:10:00Z", "session_id": "sess-1",
                                   "query": "and tests", "response": "ok", "files_referenced": [],
                                   "files_modified": ["tests/test_parser.py"], "tools_used": ["Write"],
                                   "query_tokens": 3, "response_tokens": 1, "user_feedback": None},
        "2025-12-17/broken.json": "{not json",
    }
    for name, obj in chats.items():
        (base / "chats" / name).write_text(obj if isinstance(obj, str) else json.dumps(obj))
    full = {**commits[0], "hunks": [
        {"file": "src/parser.py", "change_type": "modify", "start_line": 3, "function": "parse",
         "lines_added": ["    return tree", f"    key = '{SECRET}'"], "lines_removed": ["    pass"]},
        {"file": "src/new.py", "change_type": "add", "start_line": 1, "lines_added": ["x = 1"], "lines_removed": []},
    ]}
    (base / "commits" / f"{H1}.json").write_text(json.dumps(full))
    (base / "commits" / f"{H4}.json").write_text(json.dumps({"hash": "not-a-hash"}))
    return base


def by_id(repo, stream):
    return {r.id: r for r in Store(repo.open()).iter_records(stream)}


def test_chunked_line_encoding_round_trips():
    rec = {"id": "x", "text": "y" * 6000}
    line = json.loads(encode_chunked_line("chat", rec))
    assert line["encoding"] == "zlib+base64"
    assert decode_chunked_line(line) == ("chat", rec)
    assert decode_chunked_line(json.loads(encode_chunked_line("chat", {"id": "s"}))) == ("chat", {"id": "s"})
    assert decode_chunked_line({"hash": H1}) == (None, {"hash": H1})


def test_migrate_maps_every_kind_redacts_and_reports(repo):
    folder = legacy_folder(repo.path)
    report = migrate(repo.open())
    assert report.found == {"commit": 4, "chat": 3, "session": 2, "orchestration": 1}
    assert report.stored == {"commits": 3, "diffs": 1, "chats": 3, "feedback": 1, "sessions": 3}
    assert report.redactions >= 3
    assert any("not json" in u or "Expecting" in u for u in report.unreadable)
    assert any("broken.json" in u for u in report.unreadable)
    assert any("not-a-hash" in u for u in report.unreadable)
    commits = by_id(repo, "commits")
    assert set(commits) == {H1, H2, H3}
    one = commits[H1]
    assert one.author == "Ada Tester" and one.author_email == "ada@example.com" and one.source == "migrate"
    assert one.time == 1765875600 and one.related_chats == ["chat-1"] and one.session_id == "sess-1"
    assert sorted(one.files) == [("A", "src/new.py", 1, 0, None), ("M", "src/parser.py", 2, 1, None)]
    assert SECRET not in commits[H2].message and "[REDACTED:" in commits[H2].message
    assert commits[H2].files == [("M", "a.py", None, None, None), ("M", "b.py", None, None, None)]
    assert commits[H3].message.startswith("docs: long write-up")  # from a compressed chunked line
    diff = by_id(repo, "diffs")[H1]
    assert "+    return tree" in diff.text and SECRET not in diff.text and "@@ -3,1 +3,2 @@ parse" in diff.text
    chats = by_id(repo, "chats")
    assert set(chats) == {"sess-1:chat-1", "sess-1:chat-2", "sess-2:chat-3"}
    c1 = chats["sess-1:chat-1"]
    assert SECRET not in c1.response and c1.tool_counts == {"Edit": 2, "Bash": 1} and c1.prompt_uuid == "chat-1"
    assert c1.user_feedback == "good" and c1.timestamp == "2025-12-16T09:58:00.000000Z"
    assert len(chats["sess-2:chat-3"].response) > 5000
    [fb] = by_id(repo, "feedback").values()
    assert fb.chat_id == "sess-1:chat-1" and fb.rating == "good"
    sessions = by_id(repo, "sessions")
    assert sessions["sess-1"].chat_count == 2 and sessions["sess-1"].commits == [H1]
    assert sessions["orchestration:orch-1"].assistant == "orchestration"
    assert sessions["orchestration:orch-1"].chat_count == 3
    assert folder.is_dir()  # left in place


def test_migrate_twice_stores_nothing_new(repo):
    legacy_folder(repo.path)
    migrate(repo.open())
    tip = repo.git("rev-parse", "refs/ml/data")
    local = repo.git("rev-parse", "refs/ml/local")
    again = migrate(repo.open())
    assert again.stored == {}
    assert again.present == {"commits": 3, "diffs": 1, "chats": 3, "feedback": 1, "sessions": 3}
    assert repo.git("rev-parse", "refs/ml/data") == tip and repo.git("rev-parse", "refs/ml/local") == local


def test_a_later_capture_wins_over_the_imported_version(repo):
    legacy_folder(repo.path)
    migrate(repo.open())
    from git_ml.schema import Commit

    Store(repo.open()).append("commits", [Commit(id=H1, message="captured by git-ml")])
    assert by_id(repo, "commits")[H1].message == "captured by git-ml"


def test_cli_migrate(repo, tmp_path):
    folder = legacy_folder(tmp_path)
    proc = repo.run("git-ml-chunk", "migrate", str(folder), "--dry-run")
    assert proc.returncode == 0 and "would store" in proc.stdout, proc.stderr
    assert repo.git("for-each-ref", "refs/ml") == ""
    proc = repo.run("git-ml", "chunk", "migrate", str(folder))
    assert proc.returncode == 0, proc.stderr
    assert "stored 3 commits" in proc.stdout and "rm -rf" in proc.stdout and "left in place" in proc.stdout
    proc = repo.run("git-ml-chunk", "migrate", str(folder))
    assert "nothing new" in proc.stdout


def test_missing_folder_is_one_line(repo):
    with pytest.raises(GitMlError, match="no legacy git-ml folder"):
        migrate(repo.open())
    proc = repo.run("git-ml-chunk", "migrate", "/nonexistent/.git-ml")
    assert proc.returncode == 1 and "no legacy git-ml folder" in proc.stderr and "Traceback" not in proc.stderr
