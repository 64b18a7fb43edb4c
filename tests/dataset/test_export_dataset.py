"""`git ml export --format dataset`: a shared hive-partitioned Parquet dataset of many repositories, incremental,
safe for concurrent writers, read back with DuckDB and a Dask distributed cluster."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import Repo, make_history

from git_ml.capture.pipeline import backfill
from git_ml.schema import Chat, Feedback, Link, Tombstone
from git_ml.store.core import Store

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index")


def small_repo(path, n: int = 3, *, chat: bool = True, start: int = 1_700_000_000) -> Repo:
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    repo = Repo(path)
    shas = make_history(repo, n, start=start)
    r = repo.open()
    store = Store(r)
    backfill(r, store)
    if chat:
        store.append("chats", [Chat(id=f"s-{path.name}:p1", session_id=f"s-{path.name}", assistant="claude-code",
                                    model="claude-x", timestamp="2023-11-14T23:00:00.000Z",
                                    query=f"change {path.name}", response="done", files_modified=["src/mod1.py"],
                                    query_tokens=12, response_tokens=34, cache_read_tokens=5)])
        store.append("links", [Link(id=f"{shas[0]}:s-{path.name}:p1", commit=shas[0], chat_id=f"s-{path.name}:p1",
                                    session_id=f"s-{path.name}", reason="files", score=1.0)])
    return repo


def export_ds(repo: Repo, out, *args: str):
    return repo.run("git-ml-export", "--format", "dataset", "-o", str(out), "--json", *args)


def files_of(root) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*.parquet")}


def duck(root, sql_where: str = "true") -> list[tuple]:
    duckdb = pytest.importorskip("duckdb")
    return duckdb.sql(f"SELECT repo, type, id, schema_version, context.query_tokens FROM "
                      f"read_parquet('{root}/**/*.parquet', hive_partitioning=true) WHERE {sql_where} "
                      f"ORDER BY repo, type, id").fetchall()


@pytest.fixture
def two(tmp_path):
    return small_repo(tmp_path / "alpha"), small_repo(tmp_path / "beta", n=4)


def test_two_repositories_read_by_duckdb_and_dask(two, tmp_path, monkeypatch):
    a, b = two
    out = tmp_path / "ds"
    for repo, rid in ((a, "alpha"), (b, "beta")):
        res = export_ds(repo, out, "--repo-id", rid)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["dataset"]["added"] > 0
    assert sorted(files_of(out)) == ["type=chat/repo=alpha/part-000000.parquet",
                                     "type=chat/repo=beta/part-000000.parquet",
                                     "type=commit/repo=alpha/part-000001.parquet",
                                     "type=commit/repo=beta/part-000001.parquet"]
    rows = duck(out)
    assert [(r[0], r[1]) for r in rows].count(("alpha", "commit")) == 3
    assert [(r[0], r[1]) for r in rows].count(("beta", "commit")) == 4
    assert {r[3] for r in rows} == {1}
    assert ("alpha", "chat", "s-alpha:p1", 1, 12) in rows
    # The commit the chat produced sums its tokens.
    assert sorted(r[4] or 0 for r in rows if r[0] == "alpha" and r[1] == "commit") == [0, 0, 12]
    # One schema in every file.
    schemas = {str(pq.read_schema(p)) for p in out.rglob("*.parquet")}
    assert len(schemas) == 1

    distributed = pytest.importorskip("distributed")
    dd = pytest.importorskip("dask.dataframe")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        df = dd.read_parquet(str(out), filters=[("type", "==", "commit")]).compute()
    assert sorted(df["repo"].astype(str).unique()) == ["alpha", "beta"]
    assert len(df) == 7 and set(df["type"].astype(str)) == {"commit"}

    # Hugging Face datasets, streaming: it ignores the directory names, and the files carry repo and type.
    datasets = pytest.importorskip("datasets")
    for key, value in (("HF_HUB_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"), ("HF_HOME", str(tmp_path / "hf"))):
        monkeypatch.setenv(key, value)
    rows = datasets.load_dataset("parquet", data_files=f"{out}/type=chat/**/*.parquet", split="train", streaming=True)
    assert sorted((r["repo"], r["type"], r["id"]) for r in rows) == [("alpha", "chat", "s-alpha:p1"),
                                                                     ("beta", "chat", "s-beta:p1")]


def test_incremental_changes_and_nothing_new(tmp_path):
    repo = small_repo(tmp_path / "gamma")
    out = tmp_path / "ds"
    assert export_ds(repo, out).returncode == 0
    before = files_of(out)
    again = export_ds(repo, out)
    assert again.returncode == 0
    info = json.loads(again.stdout)["dataset"]
    assert info["written"] == [] and info["deleted"] == [] and files_of(out) == before

    # A new commit adds one row, in a new part file; the old parts are untouched.
    r = repo.open()
    repo.commit("one more change", {"src/new.py": "x\n"})
    backfill(r, Store(r))
    info = json.loads(export_ds(repo, out).stdout)["dataset"]
    assert (info["added"], info["replaced"], info["removed"]) == (1, 0, 0)
    after = files_of(out)
    assert all(after[k] == v for k, v in before.items())
    new = set(after) - set(before)
    assert len(new) == 1 and pq.read_metadata(out / new.pop()).num_rows == 1

    # A rating changes the chat's row: its part is rewritten in place; a tombstone removes a row.
    store = Store(r)
    store.append("feedback", [Feedback(id="s-gamma:p1@1", chat_id="s-gamma:p1", rating="good",
                                       time="2026-01-01T00:00:00Z")])
    info = json.loads(export_ds(repo, out).stdout)["dataset"]
    assert (info["added"], info["replaced"], info["removed"]) == (0, 1, 0)
    assert info["written"] == ["type=chat/repo=gamma/part-000000.parquet"]
    assert duck(out, "type = 'chat'")[0][2] == "s-gamma:p1"
    import duckdb

    assert duckdb.sql(f"SELECT rating, weight FROM read_parquet('{out}/type=chat/**/*.parquet')").fetchall() == \
        [("good", 1.0)]
    store.append("tombstones", [Tombstone(id="chats:s-gamma:p1", stream="chats", target="s-gamma:p1")])
    info = json.loads(export_ds(repo, out).stdout)["dataset"]
    assert info["removed"] == 1 and info["deleted"] == ["type=chat/repo=gamma/part-000000.parquet"]
    assert duck(out, "type = 'chat'") == []
    ids = [row[2] for row in duck(out)]
    assert len(ids) == len(set(ids)) == 4


def test_refusals_are_one_line(tmp_path):
    a = small_repo(tmp_path / "one", chat=False)
    b = small_repo(tmp_path / "two", chat=False, start=1_600_000_000)
    out = tmp_path / "ds"
    assert export_ds(a, out, "--repo-id", "shared").returncode == 0
    res = export_ds(b, out, "--repo-id", "shared")
    assert res.returncode == 1 and "repo id shared is taken" in res.stderr and res.stderr.count("\n") == 1
    # A dataset written by a newer schema.
    (out / "_git_ml" / "dataset.json").write_text('{"format": "git-ml dataset", "schema_version": 99}')
    res = export_ds(b, out)
    assert res.returncode == 1 and "newer" in res.stderr and res.stderr.count("\n") == 1
    # A file, a folder of other things, a bad id.
    (tmp_path / "file").write_text("x")
    res = export_ds(a, tmp_path / "file")
    assert res.returncode == 1 and "is a file" in res.stderr and res.stderr.count("\n") == 1
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    res = export_ds(a, tmp_path / "other")
    assert res.returncode == 1 and "not a git-ml dataset" in res.stderr
    res = export_ds(a, tmp_path / "fresh", "--repo-id", "no/slashes")
    assert res.returncode == 1 and "--repo-id" in res.stderr and res.stderr.count("\n") == 1


def test_repo_id_from_config_then_origin_without_credentials(tmp_path):
    from git_ml.dataset.export.identity import origin_id, repo_id

    repo = small_repo(tmp_path / "delta", n=1, chat=False)
    assert repo_id(repo.open()) == "delta"
    repo.git("remote", "add", "origin", "https://user:s3cret@github.com/Org/Proj.git")
    assert repo_id(repo.open()) == "github.com-org-proj"
    repo.git("config", "ml.datasetRepo", "team-proj")
    assert repo_id(repo.open()) == "team-proj"
    assert repo_id(repo.open(), "override") == "override"
    assert origin_id("git@gitlab.example.com:group/sub/app.git") == "gitlab.example.com-group-sub-app"
    assert origin_id("ssh://git@host:2222/x/y") == "host-x-y"


_WRITER = """
import sys
from git_ml.dataset.export.options import ExportOptions
from git_ml.dataset.export.run import export
from git_ml.repo import open_repository

out, paths = sys.argv[1], sys.argv[2:]
for path in paths:
    export(open_repository(path), out, ExportOptions(fmt="dataset", jobs=1))
"""


def test_concurrent_writers_lose_and_duplicate_nothing(tmp_path):
    repos = [small_repo(tmp_path / f"r{i:02d}", n=2 + i % 3) for i in range(20)]
    out = tmp_path / "ds"
    paths = [str(r.path) for r in repos]
    # Two processes at once, each exporting every repository (in opposite orders): same-repository writers meet.
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(out), *order], stderr=subprocess.PIPE, text=True)
             for order in (paths, paths[::-1])]
    for p in procs:
        _out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    rows = duck(out)
    keys = [(r[0], r[1], r[2]) for r in rows]
    assert len(keys) == len(set(keys))
    expected = sum((2 + i % 3) + 1 for i in range(20))  # commits, and one chat per repository
    assert len(keys) == expected
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]
