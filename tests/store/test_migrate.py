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
    assert report.stored == {"commits": 3, "diffs": 1, "chats": 3, "feedback": 1, "sessions": 3, "links": 3}
    assert report.redactions >= 3
    assert any("not json" in u or "Expecting" in u for u in report.unreadable)
    assert any("broken.json" in u for u in report.unreadable)
    assert any("not-a-hash" in u for u in report.unreadable)
    commits = by_id(repo, "commits")
    assert set(commits) == {H1, H2, H3}
    one = commits[H1]
    assert one.author == "Ada Tester" and one.author_email == "ada@example.com" and one.source == "migrate"
    assert one.time == 1765875600 and one.related_chats == ["sess-1:chat-1"] and one.session_id == "sess-1"
    assert sorted(one.files) == [("A", "src/new.py", 1, 0, None), ("M", "src/parser.py", 2, 1, None)]
    assert SECRET not in commits[H2].message and "[REDACTED:" in commits[H2].message
    assert commits[H2].files == [("X", "a.py", None, None, None), ("X", "b.py", None, None, None)]
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
    assert again.present == {"commits": 3, "diffs": 1, "chats": 3, "feedback": 1, "sessions": 3, "links": 3}
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


# ----- issue 13 item 6: legacy data in the seed's own schema ---------------------------------------------------------
def _legacy_on_real_history(repo) -> tuple[str, str, Path]:
    """Two real commits (the second captured by backfill first, as the README's order says), and a legacy folder
    describing both: a weekday name, related chats, no hunks, an orchestration run."""
    c1 = repo.commit("add parser", {"src/parser.py": "x = 1\n"}, date="2025-12-16T10:00:00+0100")
    c2 = repo.commit("add tests", {"tests/test_parser.py": "y = 2\n"}, date="2025-12-16T10:30:00+0100")
    assert repo.run("git", "ml", "capture", "--backfill", "-q").returncode == 0
    base = repo.path / ".git-ml"
    (base / "tracked").mkdir(parents=True)
    (base / "chats" / "2025-12-16").mkdir(parents=True)
    commits = [{"hash": c1, "message": "add parser", "author": "Ada <ada@example.com>",
                "timestamp": "2025-12-16T10:00:00+01:00", "files_changed": ["src/parser.py"],
                "day_of_week": "Tuesday", "hour_of_day": "10", "session_id": "sess-1", "related_chats": ["chat-1"]},
               {"hash": c2, "message": "add tests", "timestamp": "2025-12-16T10:30:00+01:00",
                "files_changed": ["tests/test_parser.py"], "day_of_week": "Tue", "session_id": "sess-1",
                "related_chats": ["chat-2"]}]
    (base / "tracked" / "commits.jsonl").write_text("".join(json.dumps(x) + "\n" for x in commits))
    orch = [{"id": "orch-1", "session_id": "sess-1", "task": "build the parser with tests",
             "started_at": "2025-12-16T09:00:00Z", "ended_at": "2025-12-16T09:40:00Z",
             "agents": ["explore", {"name": "implement", "status": "done"}, "review"], "commits": [c1]}]
    (base / "tracked" / "orchestration.jsonl").write_text("".join(json.dumps(x) + "\n" for x in orch))
    for n, (q, f) in enumerate((("add a parser", "src/parser.py"), ("and tests", "tests/test_parser.py")), 1):
        (base / "chats" / "2025-12-16" / f"chat-{n}.json").write_text(json.dumps(
            {"id": f"chat-{n}", "timestamp": f"2025-12-16T08:5{n}:00Z", "session_id": "sess-1", "query": q,
             "response": "done", "files_modified": [f], "tools_used": ["Edit"]}))
    return c1, c2, base


def test_weekday_names_migrate(repo):
    c1, c2, _base = _legacy_on_real_history(repo)
    proc = repo.run("git", "ml", "chunk", "migrate")
    assert proc.returncode == 0, proc.stderr
    # c2 was captured: its captured record stays current (its day is git's), c1 too; the legacy weekday parses.
    from git_ml.store.legacy import MigrateReport
    from git_ml.store.migrate import map_commit

    report = MigrateReport(Path("."))
    rec, _ = map_commit({"hash": "e" * 40, "timestamp": "2025-12-16T10:00:00Z", "day_of_week": "Tuesday"}, report,
                        None)
    assert rec.day_of_week == 1
    rec, _ = map_commit({"hash": "e" * 40, "timestamp": "2025-12-16T10:00:00Z", "day_of_week": "someday"}, report,
                        None)
    assert rec.day_of_week == 1  # unreadable: the timestamp's weekday


def test_related_chats_become_links_that_show_finds(repo):
    c1, c2, _base = _legacy_on_real_history(repo)
    before = by_id(repo, "commits")[c1]
    proc = repo.run("git", "ml", "chunk", "migrate")
    assert proc.returncode == 0, proc.stderr
    links = by_id(repo, "links")
    assert links[f"{c1}:sess-1:chat-1"].chat_id == "sess-1:chat-1" and links[f"{c1}:sess-1:chat-1"].reason == "legacy"
    assert links[f"{c2}:sess-1:chat-2"].commit == c2
    chats = by_id(repo, "chats")
    assert chats["sess-1:chat-1"].commits == [c1]
    commit = by_id(repo, "commits")[c1]
    # Migrated onto captured history: the captured record stays (files, times) and gains what it lacked.
    assert commit.files == before.files and commit.source == before.source
    assert commit.session_id == "sess-1" and commit.related_chats == ["sess-1:chat-1"]
    show = repo.run("git", "ml", "show", c1, "--json")
    assert show.returncode == 0, show.stderr
    assert "sess-1:chat-1" in [c["id"] for c in json.loads(show.stdout)["chats"]]
    assert migrate(repo.open()).stored == {}  # idempotent


def test_orchestration_keeps_task_agents_and_session(repo):
    c1, _c2, _base = _legacy_on_real_history(repo)
    migrate(repo.open())
    run = by_id(repo, "sessions")["orchestration:orch-1"]
    assert run.task == "build the parser with tests" and run.agents == ["explore", "implement", "review"]
    assert run.parent_session == "sess-1" and run.chat_count == 3 and run.commits == [c1]
    link = by_id(repo, "links")[f"{c1}:orchestration:orch-1"]
    assert link.session_id == "orchestration:orch-1" and link.chat_id == ""


def test_a_commit_without_hunks_is_unknown_not_binary(repo):
    c = repo.commit("legacy only", {"z.py": "z\n"})
    base = repo.path / ".git-ml" / "tracked"
    base.mkdir(parents=True)
    (base / "commits.jsonl").write_text(json.dumps({"hash": c, "message": "legacy only",
                                                    "timestamp": "2025-12-16T10:00:00Z",
                                                    "files_changed": ["z.py"]}) + "\n")
    migrate(repo.open())
    assert by_id(repo, "commits")[c].files == [("X", "z.py", None, None, None)]
    show = repo.run("git", "ml", "show", c)
    assert show.returncode == 0, show.stderr
    assert "unknown" in show.stdout and "binary" not in show.stdout
