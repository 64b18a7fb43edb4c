"""Export: the documented row format, every output format read back by pyarrow (and datasets / duckdb when they
are installed), filters, time splits without leakage, dedup, weights, diffs, atomic writes and bad input."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
from populated import START, expected_chat_ids, iso, populate

from git_ml.schema import Chat
from git_ml.store.core import DATA_REF, Store

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402


def read_jsonl(path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def run_export(repo, *args):
    return repo.run("git-ml-export", *args)


@pytest.fixture
def data(repo):
    return populate(repo)


def test_jsonl_records_match_the_store(repo, data, tmp_path):
    out = tmp_path / "x.jsonl"
    res = run_export(repo, "--output", str(out))
    assert res.returncode == 0, res.stderr
    rows = read_jsonl(out)
    chats = {r["id"]: r for r in rows if r["type"] == "chat"}
    commits = {r["id"]: r for r in rows if r["type"] == "commit"}
    assert set(chats) == expected_chat_ids()
    assert set(commits) == set(data["shas"])
    for row in rows:
        assert set(row) == {"type", "id", "timestamp", "input", "output", "context", "session_id", "rating",
                            "weight"}
        assert row["timestamp"].endswith("Z") and len(row["timestamp"]) == 20
        assert {"files", "tools_used"} <= set(row["context"])
    # Time order.
    assert [r["timestamp"] for r in rows] == sorted(r["timestamp"] for r in rows)
    c0 = chats["sess-a:p0"]
    assert c0["output"] == "second version of the answer"  # the latest version wins
    assert c0["rating"] == "good" and c0["weight"] == 1.0  # the latest rating wins
    assert c0["context"]["commits"] == [data["shas"][5]]
    assert chats["sess-a:p1"]["rating"] == "bad" and chats["sess-a:p1"]["weight"] == 0.0
    assert chats["sess-a:p1"]["context"]["redactions"] == 1
    assert chats["sess-a:p2"]["weight"] == 0.5 and chats["sess-b:p4"]["rating"] is None
    p1 = chats["sess-a:p1"]
    assert p1["input"] == "please change module 1" and p1["session_id"] == "sess-a"
    assert p1["context"]["tools_used"] == ["Read", "Edit"] and p1["context"]["files_referenced"] == ["README.md"]
    assert p1["timestamp"] == iso(data["t0"] + 7200)[:19] + "Z"
    c5 = commits[data["shas"][5]]
    assert c5["input"] == "change 6: update module 6"
    assert c5["output"].startswith("2 files changed") and "M src/mod6.py (+" in c5["output"]
    assert c5["context"]["chats"] == ["sess-a:p0"] and c5["session_id"] == "sess-a"
    assert c5["context"]["diff"] is None and c5["rating"] is None and c5["weight"] == 0.5
    assert "left out" in res.stderr and "1 duplicate" in res.stderr


def test_messages_style(repo, data, tmp_path):
    out = tmp_path / "m.jsonl"
    assert run_export(repo, "-o", str(out), "--style", "messages").returncode == 0
    rows = read_jsonl(out)
    assert len(rows) == len(data["shas"]) + len(expected_chat_ids())
    for row in rows:
        roles = [m["role"] for m in row["messages"]]
        assert roles == ["user", "assistant"] and all(m["content"] for m in row["messages"])
    commit = next(r for r in rows if r["id"] == data["shas"][0])
    assert commit["messages"][0]["content"] == "change 1: update module 1"
    assert "files changed" in commit["messages"][1]["content"] or "file changed" in commit["messages"][1]["content"]


def test_parquet_csv_and_jsonl_agree(repo, data, tmp_path):
    for fmt in ("jsonl", "csv", "parquet"):
        res = run_export(repo, "-o", str(tmp_path / f"x.{fmt}"))
        assert res.returncode == 0, res.stderr
    rows = read_jsonl(tmp_path / "x.jsonl")
    table = pq.read_table(tmp_path / "x.parquet")
    assert table.num_rows == len(rows)
    assert table.column_names == ["type", "id", "timestamp", "input", "output", "context", "session_id", "rating",
                                  "weight"]
    assert table.to_pylist() == rows
    with open(tmp_path / "x.csv", newline="", encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    assert [r["id"] for r in got] == [r["id"] for r in rows]
    assert json.loads(got[0]["context"]) == rows[0]["context"]
    assert [float(r["weight"]) for r in got] == [r["weight"] for r in rows]


def test_hf_directory_loads(repo, data, tmp_path):
    out = tmp_path / "ds"
    res = run_export(repo, "-o", str(out), "--format", "hf", "--split", "train=0.8,test=0.2")
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in (out / "data").iterdir())
    assert names == ["test-00000-of-00001.parquet", "train-00000-of-00001.parquet"]
    card = (out / "README.md").read_text()
    head = card.split("---")[1]
    for needle in ("configs:", "data_files:", "split: train", "path: data/train-*.parquet", "features:",
                   "- name: context", "sequence: string", "dtype: float64", "license:"):
        assert needle in head
    assert "## Provenance" in card and "## Redaction" in card and "## Licence" in card
    train = pq.read_table(out / "data" / names[1])
    test = pq.read_table(out / "data" / names[0])
    assert train.num_rows + test.num_rows == len(data["shas"]) + len(expected_chat_ids())
    assert max(train.column("timestamp").to_pylist()) < min(test.column("timestamp").to_pylist())
    # A second export replaces the first one.
    res = run_export(repo, "-o", str(out), "--format", "hf", "--type", "chat", "--style", "messages")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (out / "data").iterdir()) == ["train-00000-of-00001.parquet"]
    assert "list:" in (out / "README.md").read_text().split("---")[1]


def test_hf_loads_with_datasets(repo, data, tmp_path):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "ds"
    for style in ("records", "messages"):
        res = run_export(repo, "-o", str(out), "--format", "hf", "--style", style, "--split", "train=0.8,test=0.2")
        assert res.returncode == 0, res.stderr
        ds = datasets.load_dataset(str(out))
        rows = {s: pq.read_table(out / "data" / f"{s}-00000-of-00001.parquet").num_rows for s in ("train", "test")}
        assert {s: ds[s].num_rows for s in ("train", "test")} == rows
        first = ds["train"][0]
        assert ("messages" in first) == (style == "messages")


def test_parquet_with_duckdb(repo, data, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    out = tmp_path / "x.parquet"
    assert run_export(repo, "-o", str(out)).returncode == 0
    con = duckdb.connect()  # a connection's execute() result has fetchone() in every duckdb version
    n_chat, n_commit = con.execute(
        f"select count(*) filter (where type = 'chat'), count(*) filter (where type = 'commit') from '{out}'"
    ).fetchone()
    assert (n_chat, n_commit) == (len(expected_chat_ids()), len(data["shas"]))
    files = con.execute(f"select context.files from '{out}' where id = '{data['shas'][5]}'").fetchone()[0]
    assert "src/mod6.py" in files


def test_hf_refuses_a_foreign_directory(repo, data, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    res = run_export(repo, "-o", str(out), "--format", "hf")
    assert res.returncode == 1 and "not a git-ml export" in res.stderr
    assert (out / "notes.txt").read_text() == "precious"


def test_time_split_has_no_leakage(repo, data, tmp_path):
    out = tmp_path / "s.jsonl"
    res = run_export(repo, "-o", str(out), "--split", "train=0.7,validation=0.1,test=0.2")
    assert res.returncode == 0, res.stderr
    parts = [read_jsonl(tmp_path / f"s.{name}.jsonl") for name in ("train", "validation", "test")]
    assert not out.exists()
    total = sum(len(p) for p in parts)
    assert total == len(data["shas"]) + len(expected_chat_ids())
    for earlier, later in zip(parts, parts[1:]):
        if earlier and later:
            assert max(r["timestamp"] for r in earlier) < min(r["timestamp"] for r in later)
    assert abs(len(parts[0]) - 0.7 * total) <= 2
    pairs = [{(r["input"], r["output"]) for r in p} for p in parts]
    assert not (pairs[0] & pairs[2]) and not (pairs[0] & pairs[1])


def test_split_keeps_one_second_together(repo, tmp_path):
    r = repo.open()
    store = Store(r)
    store.append("chats", [Chat(id=f"s:{i}", session_id="s", timestamp="2026-01-01T00:00:00Z", query=f"q{i}",
                                response=f"r{i}") for i in range(10)])
    out = tmp_path / "o.jsonl"
    assert run_export(repo, "-o", str(out), "--split", "train=0.5,test=0.5").returncode == 0
    assert len(read_jsonl(tmp_path / "o.train.jsonl")) == 10
    assert read_jsonl(tmp_path / "o.test.jsonl") == []


def test_filters(repo, data, tmp_path):
    def ids(*args):
        out = tmp_path / "f.jsonl"
        res = run_export(repo, "-o", str(out), *args)
        assert res.returncode == 0, res.stderr
        return {r["id"] for r in read_jsonl(out)}

    assert ids("--type", "chat") == expected_chat_ids()
    assert ids("--type", "commits") == set(data["shas"])
    assert ids("--min-rating", "good") == {"sess-a:p0"}
    assert ids("--type", "chat", "--exclude-unrated") == {"sess-a:p0", "sess-a:p1", "sess-a:p2"}
    assert ids("--type", "chat", "--min-rating", "neutral") == expected_chat_ids() - {"sess-a:p1"}
    shas = data["shas"]
    got = ids("--type", "commit", "--since", f"@{START + 10 * 3600}", "--until", f"@{START + 20 * 3600}")
    assert got == set(shas[9:19])
    got = ids("--type", "commit", "--until", "2000-01-01")
    assert got == set()


def test_weights_from_config_and_option(repo, data, tmp_path):
    out = tmp_path / "w.jsonl"
    repo.git("config", "ml.weight.unrated", "0.25")
    repo.git("config", "ml.weight.good", "2")
    assert run_export(repo, "-o", str(out)).returncode == 0
    rows = {r["id"]: r for r in read_jsonl(out)}
    assert rows["sess-a:p0"]["weight"] == 2.0 and rows[data["shas"][0]]["weight"] == 0.25
    assert rows["sess-a:p2"]["weight"] == 0.5
    assert run_export(repo, "-o", str(out), "--weights", "neutral=0.1,good=1").returncode == 0
    rows = {r["id"]: r for r in read_jsonl(out)}
    assert rows["sess-a:p0"]["weight"] == 1.0 and rows["sess-a:p2"]["weight"] == 0.1
    res = run_export(repo, "-o", str(out), "--weights", "great=3")
    assert res.returncode == 1 and res.stderr.count("\n") == 1
    repo.git("config", "ml.weight.bad", "lots")
    res = run_export(repo, "-o", str(out))
    assert res.returncode == 1 and "ml.weight.bad" in res.stderr


def test_dedup_and_no_dedup(repo, data, tmp_path):
    out = tmp_path / "d.jsonl"
    assert run_export(repo, "-o", str(out), "--type", "chat", "--no-dedup").returncode == 0
    assert {r["id"] for r in read_jsonl(out)} == expected_chat_ids() | {"sess-a:p3"}


def test_include_diffs(repo, data, tmp_path):
    out = tmp_path / "d.jsonl"
    assert run_export(repo, "-o", str(out), "--type", "commit", "--include-diffs").returncode == 0
    rows = {r["id"]: r for r in read_jsonl(out)}
    assert "+line 6" in rows[data["shas"][5]]["context"]["diff"]
    assert rows[data["shas"][4]]["context"]["diff"] is None
    assert run_export(repo, "-o", str(out), "--type", "commit", "--include-diffs", "--style",
                      "messages").returncode == 0
    rows = {r["id"]: r for r in read_jsonl(out)}
    assert rows[data["shas"][5]]["messages"][1]["content"].endswith("+line 6\n")


def test_stdout_and_json_summary(repo, data, tmp_path):
    res = run_export(repo, "-o", "-", "--type", "chat")
    assert res.returncode == 0, res.stderr
    assert {json.loads(line)["id"] for line in res.stdout.splitlines()} == expected_chat_ids()
    res = run_export(repo, "-o", str(tmp_path / "j.jsonl"), "--json")
    summary = json.loads(res.stdout)
    assert summary["rows"] == len(data["shas"]) + len(expected_chat_ids())
    assert summary["skipped"] == {"duplicate": 1, "empty": 1}
    assert summary["counts"]["train"]["chat"] == len(expected_chat_ids())


def test_empty_store_and_missing_streams(repo, tmp_path):
    repo.commit("only commit")
    for fmt in ("jsonl", "csv", "parquet"):
        res = run_export(repo, "-o", str(tmp_path / f"e.{fmt}"))
        assert res.returncode == 0, res.stderr
    assert (tmp_path / "e.jsonl").read_bytes() == b""
    assert pq.read_table(tmp_path / "e.parquet").num_rows == 0
    res = run_export(repo, "-o", str(tmp_path / "hf"), "-f", "hf")
    assert res.returncode == 0, res.stderr
    assert pq.read_table(tmp_path / "hf" / "data" / "train-00000-of-00001.parquet").num_rows == 0


@pytest.mark.parametrize("args,needle", [
    (["--format", "xml"], "unknown format"),
    (["--split", "train=0.9,test=0.2"], "add up to 1"),
    (["--split", "train"], "NAME=FRACTION"),
    (["--since", "yesterday-ish"], "not a time"),
    (["--min-rating", "great"], "--min-rating"),
    (["--type", "session"], "unknown --type"),
    (["--style", "prose"], "unknown style"),
])
def test_bad_arguments_are_one_line(repo, data, tmp_path, args, needle):
    res = run_export(repo, "-o", str(tmp_path / "x.jsonl"), *args)
    assert res.returncode == 1, res.stderr
    assert needle in res.stderr and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert not (tmp_path / "x.jsonl").exists()


def test_not_a_repository(tmp_path):
    res = subprocess.run(["git-ml-export", "-o", str(tmp_path / "x.jsonl")], cwd=tmp_path, capture_output=True,
                         text=True)
    assert res.returncode == 1 and "not a git repository" in res.stderr and res.stderr.count("\n") == 1


def test_missing_output_directory(repo, data, tmp_path):
    res = run_export(repo, "-o", str(tmp_path / "nope" / "x.jsonl"))
    assert res.returncode == 1 and "does not exist" in res.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_output_is_one_line(repo, data, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        res = run_export(repo, "-o", str(locked / "x.jsonl"))
        assert res.returncode == 1 and "cannot write" in res.stderr and res.stderr.count("\n") == 1
    finally:
        locked.chmod(0o700)


def test_missing_pyarrow_is_one_line(repo, data, tmp_path, monkeypatch):
    from git_ml.dataset.export.options import ExportOptions
    from git_ml.dataset.export.run import export
    from git_ml.errors import GitMlError

    for name in [m for m in sys.modules if m == "pyarrow" or m.startswith("pyarrow.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(GitMlError, match=r"pip install 'git-ml\[export\]'"):
        export(repo.open(), str(tmp_path / "x.parquet"), ExportOptions(fmt="parquet"))
    # JSONL does not need it.
    res = export(repo.open(), str(tmp_path / "x.jsonl"), ExportOptions(fmt="jsonl"))
    assert res.rows > 0


def test_failed_export_keeps_the_previous_file(repo, data, tmp_path, monkeypatch):
    from git_ml.dataset.export import writers
    from git_ml.dataset.export.options import ExportOptions
    from git_ml.dataset.export.run import export

    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "keep.jsonl"
    out.write_text("previous\n")

    def boom(fh, lines):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(writers, "write_jsonl", boom)
    from git_ml.errors import GitMlError

    with pytest.raises(GitMlError, match="disk full"):
        export(repo.open(), str(out), ExportOptions())
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["keep.jsonl"]


def test_corrupt_chunk_is_skipped_with_a_warning(repo, data, tmp_path):
    r = repo.open()
    store = Store(r)
    chunk = next(store.iter_chunks("chats"))
    bad = r.create_blob(b"not zstd at all")
    store.update(DATA_REF, adds={chunk.path: bad}, message="corrupt for a test")
    out = tmp_path / "c.jsonl"
    res = run_export(repo, "-o", str(out))
    assert res.returncode == 0
    assert "warning: skipping corrupt chunk chats/" in res.stderr
    assert {r["type"] for r in read_jsonl(out)} >= {"commit"}


def test_bounded_reading_uses_a_spill_file(repo, data, tmp_path):
    """Rows go through a spill file; memory holds one small entry per record (not the rows)."""
    from git_ml.dataset.export.collect import collect
    from git_ml.dataset.export.options import ExportOptions, parse_weights
    from git_ml.dataset.export.spill import Spill

    spills = [Spill(str(tmp_path))]
    try:
        cands = collect(Store(repo.open()), ExportOptions(), spills, parse_weights(None), jobs=1)
        assert spills[0].size > 0 and len(spills) == 1
        entries = [c for by_id in cands.values() for c in by_id.values()]
        assert set(cands) == {"chat", "commit"}
        assert not hasattr(entries[0], "__dict__")  # slotted entry: capture time, time, hash, offset, length
        rows = [json.loads(spills[0].get(c.off, c.n)) for c in entries if c.off >= 0]
        assert len(rows) == len([c for c in entries if c.reason is None])
        assert {r["id"] for r in rows} == {c.id for c in entries if c.reason is None}
    finally:
        for spill in spills:
            spill.close()


def test_two_processes_give_the_same_output(repo, data, tmp_path, monkeypatch):
    import git_ml.dataset.export.collect as export_mod
    from git_ml.dataset.export.options import ExportOptions
    from git_ml.dataset.export.run import export

    r = repo.open()
    # More chunks, and versions of one chat spread over them, so that both processes have work and must merge.
    store = Store(r)
    for i in range(6):
        store.append("chats", [Chat(id=f"sess-c:{i}", session_id="sess-c", timestamp=iso(START + i * 60),
                                    query=f"question {i}", response=f"answer {i}") for i in range(i, 12)])
    store.append("chats", [Chat(id="sess-c:3", session_id="sess-c", timestamp=iso(START + 180), query="question 3",
                                response="the final answer")])
    monkeypatch.setattr(export_mod, "PARALLEL_MIN_RECORDS", 1)
    outs = {}
    for jobs in (1, 2):
        for fmt in ("jsonl", "parquet"):
            out = tmp_path / f"j{jobs}.{fmt}"
            res = export(r, str(out), ExportOptions(fmt=fmt, jobs=jobs, splits=[("train", 0.5), ("test", 0.5)]))
            outs[(jobs, fmt)] = res
    for split in ("train", "test"):
        assert (tmp_path / f"j1.{split}.jsonl").read_bytes() == (tmp_path / f"j2.{split}.jsonl").read_bytes()
        assert pq.read_table(tmp_path / f"j1.{split}.parquet").equals(pq.read_table(tmp_path / f"j2.{split}.parquet"))
    for jobs in (1, 2):
        export(r, str(tmp_path / f"d{jobs}.jsonl"), ExportOptions(jobs=jobs, include_diffs=True))
    assert (tmp_path / "d1.jsonl").read_bytes() == (tmp_path / "d2.jsonl").read_bytes()
    assert b"+line 6" in (tmp_path / "d2.jsonl").read_bytes()
    rows = [json.loads(line) for split in ("train", "test") for line in open(tmp_path / f"j2.{split}.jsonl")]
    assert {r["id"]: r["output"] for r in rows}["sess-c:3"] == "the final answer"
    assert outs[(1, "jsonl")].as_dict() == outs[(2, "jsonl")].as_dict() | {"outputs": outs[(1, "jsonl")].outputs}


def test_worker_failure_is_one_line(repo, data, tmp_path, monkeypatch):
    import git_ml.dataset.export.collect as export_mod
    from git_ml.dataset.export.options import ExportOptions
    from git_ml.dataset.export.run import export
    from git_ml.errors import GitMlError

    monkeypatch.setattr(export_mod, "PARALLEL_MIN_RECORDS", 1)
    real = export_mod.process

    def flaky(store, ctx, work, spill, src, advance, ties):
        if src == 1:
            raise RuntimeError("boom in the worker")
        return real(store, ctx, work, spill, src, advance, ties)

    monkeypatch.setattr(export_mod, "process", flaky)
    with pytest.raises(GitMlError, match="export worker failed: RuntimeError: boom in the worker"):
        export(repo.open(), str(tmp_path / "x.jsonl"), ExportOptions(jobs=2))
    assert not (tmp_path / "x.jsonl").exists()


def test_versions_with_the_same_capture_time_resolve_deterministically(repo, tmp_path):
    r = repo.open()
    a = Chat(id="s:1", captured_at="2026-01-01T00:00:00.000000Z", session_id="s", timestamp=iso(START),
             query="q", response="answer A")
    b = Chat(id="s:1", captured_at="2026-01-01T00:00:00.000000Z", session_id="s", timestamp=iso(START),
             query="q", response="answer B")
    Store(r).append("chats", [a, b])
    Store(r).append("chats", [b, a])  # the other order, in another chunk
    out = tmp_path / "t.jsonl"
    assert run_export(repo, "-o", str(out)).returncode == 0
    rows = read_jsonl(out)
    # The store's rule: the stored line with the greater blake2b digest wins, whatever the order.
    import hashlib

    lines = Store(r).read_lines(next(Store(r).iter_chunks("chats")))
    best = max(lines, key=lambda line: hashlib.blake2b(line, digest_size=8).digest())
    assert [row["output"] for row in rows] == [json.loads(best)["response"]]


def test_through_the_dispatcher_and_csv_to_stdout(repo, data):
    res = repo.run("git", "ml", "export", "-o", "-", "--format", "csv", "--type", "chat", "--style", "messages")
    assert res.returncode == 0, res.stderr
    got = list(csv.DictReader(res.stdout.splitlines()))
    assert {r["id"] for r in got} == expected_chat_ids()
    assert json.loads(got[0]["messages"])[0]["role"] == "user"
