"""What captured data reaches every export format: token counts, model and cost columns; the diff's redactions;
the `--format` spellings and the refusal of a file name for a directory format."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import make_history

from git_ml.capture.pipeline import backfill
from git_ml.schema import Chat, Diff, Link
from git_ml.store.core import Store

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402


@pytest.fixture
def usage(repo):
    shas = make_history(repo, 3)
    r = repo.open()
    store = Store(r)
    backfill(r, store)
    chats = [Chat(id=f"s:{i}", session_id="s", assistant="claude-code", model="claude-x",
                  timestamp=f"2023-11-15T0{i}:00:00.000Z", query=f"question {i}", response=f"answer {i}",
                  query_tokens=10 * (i + 1), response_tokens=100 * (i + 1), cache_read_tokens=i,
                  cache_creation_tokens=2 * i) for i in range(2)]
    store.append("chats", chats)
    store.append("links", [Link(id=f"{shas[1]}:s:{i}", commit=shas[1], chat_id=f"s:{i}", session_id="s",
                                reason="files", score=1.0, seconds=i) for i in range(2)])
    store.append("diffs", [Diff(id=shas[1], text="diff --git a/x b/x\n+token=[REDACTED]\n",
                                redactions={"api_key": 2})])
    return shas


def rows_by_id(rows):
    return {r["id"]: r for r in rows}


def test_tokens_and_cost_in_every_format(repo, usage, tmp_path):
    for fmt in ("jsonl", "csv", "parquet"):
        out = tmp_path / f"x.{fmt}"
        res = repo.run("git-ml-export", "-o", str(out))
        assert res.returncode == 0, res.stderr
        if fmt == "jsonl":
            rows = [json.loads(line) for line in out.read_text().splitlines()]
        elif fmt == "csv":
            rows = [dict(r, context=json.loads(r["context"])) for r in csv.DictReader(io.StringIO(out.read_text()))]
        else:
            rows = pq.read_table(out).to_pylist()
        by_id = rows_by_id(rows)
        chat = by_id["s:1"]["context"]
        assert (chat["query_tokens"], chat["response_tokens"], chat["cache_read_tokens"],
                chat["cache_creation_tokens"], chat["model"]) == (20, 200, 1, 2, "claude-x")
        assert chat["cost_usd"] in (None, "")  # no transcript recorded a cost: never estimated
        commit = by_id[usage[1]]["context"]
        assert (commit["query_tokens"], commit["response_tokens"], commit["cache_read_tokens"],
                commit["cache_creation_tokens"], commit["model"]) == (30, 300, 1, 2, "claude-x")
        assert by_id[usage[0]]["context"]["query_tokens"] is None  # no chat behind it
    # Messages style carries them at the top level.
    out = tmp_path / "m.jsonl"
    assert repo.run("git-ml-export", "-o", str(out), "--style", "messages").returncode == 0
    m = rows_by_id(json.loads(line) for line in out.read_text().splitlines())
    assert m["s:0"]["query_tokens"] == 10 and m["s:0"]["model"] == "claude-x" and m["s:0"]["cost_usd"] is None


def test_diff_redactions_are_counted_with_include_diffs(repo, usage, tmp_path):
    out = tmp_path / "d.jsonl"
    assert repo.run("git-ml-export", "-o", str(out), "-t", "commit", "--include-diffs").returncode == 0
    by_id = rows_by_id(json.loads(line) for line in out.read_text().splitlines())
    assert by_id[usage[1]]["context"]["redactions"] == 2
    assert repo.run("git-ml-export", "-o", str(out), "-t", "commit").returncode == 0
    by_id = rows_by_id(json.loads(line) for line in out.read_text().splitlines())
    assert by_id[usage[1]]["context"]["redactions"] == 0  # the diff is not exported: its secrets are not there


def test_hf_refuses_a_file_name_and_takes_huggingface(repo, usage, tmp_path):
    res = repo.run("git-ml-export", "--format", "hf", "-o", str(tmp_path / "dataset.json"))
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and "names a file" in res.stderr
    assert not (tmp_path / "dataset.json").exists()
    res = repo.run("git-ml-export", "--format", "huggingface", "-o", str(tmp_path / "hfdir"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "hfdir" / "README.md").is_file()
    res = repo.run("git-ml-export", "--format", "nope", "-o", str(tmp_path / "x"))
    assert res.returncode != 0 and "unknown format" in res.stderr and res.stderr.count("\n") == 1
