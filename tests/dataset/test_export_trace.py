"""`git ml export --format agent-trace`: Agent Trace 0.1 records, valid against the spec's schema (written for this
project from the spec, tests/dataset/agent-trace.schema.json), with ranges, attribution and stable ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from git_ml.capture.pipeline import backfill
from git_ml.schema import Chat, Diff, Link
from git_ml.store.core import Store

SCHEMA = Path(__file__).with_name("agent-trace.schema.json")


def validator():
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("rfc3339_validator")  # without it, date-time is silently not checked
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.Draft202012Validator
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.fixture
def traced(repo):
    base = repo.commit("start", {"app.py": "a\nb\n", "notes.md": "n\n"}, date="2026-01-01T10:00:00Z")
    ai = repo.commit("ai change", {"app.py": "a\nnew 1\nnew 2\nb\nnew 3\n", "notes.md": "n\nhuman line\n"},
                     date="2026-01-01T11:00:00Z")
    plain = repo.commit("human only", {"notes.md": "n\nhuman line\nmore\n"}, date="2026-01-01T12:00:00Z")
    r = repo.open()
    store = Store(r)
    backfill(r, store)
    store.append("chats", [Chat(id="sess-t:u1", session_id="sess-t", assistant="claude-code",
                                model="claude-sonnet-4-5", timestamp="2026-01-01T10:50:00.000Z", query="add lines",
                                response="added", files_modified=["app.py"])])
    store.append("links", [Link(id=f"{ai}:sess-t:u1", commit=ai, chat_id="sess-t:u1", session_id="sess-t",
                                reason="files", score=0.5)])
    return {"base": base, "ai": ai, "plain": plain}


def test_records_validate_and_attribute_lines(repo, traced, tmp_path):
    out = tmp_path / "trace.jsonl"
    res = repo.run("git-ml-export", "--format", "agent-trace", "-o", str(out))
    assert res.returncode == 0, res.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 1  # only the commit with a chat behind it
    rec = records[0]
    errors = list(validator().iter_errors(rec))
    assert not errors, errors
    assert rec["vcs"] == {"type": "git", "revision": traced["ai"]}
    assert rec["tool"]["name"] == "git-ml" and rec["version"] == "0.1.0"
    files = {f["path"]: f["conversations"] for f in rec["files"]}
    (app,) = files["app.py"]
    assert app["contributor"] == {"type": "ai", "model_id": "anthropic/claude-sonnet-4-5"}
    assert app["url"] == "git-ml:chat/sess-t:u1"
    assert [(r["start_line"], r["end_line"]) for r in app["ranges"]] == [(2, 3), (5, 5)]
    import hashlib

    assert app["ranges"][0]["content_hash"] == "sha256:" + hashlib.sha256(b"new 1\nnew 2").hexdigest()
    (notes,) = files["notes.md"]
    assert notes["contributor"] == {"type": "human"} and "url" not in notes
    assert [(r["start_line"], r["end_line"]) for r in notes["ranges"]] == [(2, 2)]
    # Stable across runs; the url opens the chat in `git ml show`.
    again = tmp_path / "again.jsonl"
    assert repo.run("git-ml-export", "--format", "agent-trace", "-o", str(again)).returncode == 0
    assert again.read_bytes() == out.read_bytes()
    piped = repo.run("git-ml-export", "--format", "agent-trace", "-o", "-")
    assert piped.returncode == 0 and piped.stdout.encode() == out.read_bytes()
    shown = repo.run("git-ml-show", app["url"])
    assert shown.returncode == 0, shown.stderr
    assert "add lines" in shown.stdout


def test_hunks_from_the_local_ref_are_used(repo, traced, tmp_path):
    r = repo.open()
    text = ("diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,3 @@\n a\n+from hunks\n b\n")
    Store(r).append("diffs", [Diff(id=traced["ai"], text=text)])
    out = tmp_path / "t.jsonl"
    assert repo.run("git-ml-export", "--format", "agent-trace", "-o", str(out)).returncode == 0
    rec = json.loads(out.read_text())
    assert [f["path"] for f in rec["files"]] == ["app.py"]
    rng = rec["files"][0]["conversations"][0]["ranges"]
    assert rng[0]["start_line"] == 2 and rng[0]["content_hash"].endswith(
        __import__("hashlib").sha256(b"from hunks").hexdigest())


def test_schema_rejects_a_broken_record():
    v = validator()
    bad = {"version": "1.0", "id": "not-a-uuid", "timestamp": "yesterday",
           "files": [{"path": "x", "conversations": [{"ranges": [{"start_line": 0, "end_line": 1}]}]}]}
    assert len(list(v.iter_errors(bad))) >= 4
