"""The one reader (issue 12): every command sees the same winners on a store with conflicting versions (later
captures, equal-captured_at ties, byte-identical copies) and tombstones."""

from __future__ import annotations

import json
from collections import Counter

import msgspec
import pytest
from populated import OLD_CHAT, conflicting_store

from git_ml.dataset.contribute import build_contribution
from git_ml.store import reader
from git_ml.store.core import Store
from git_ml.store.reconstruct import live_lines
from git_ml.store.retention import plan_cleanup


@pytest.fixture
def conflicted(repo):
    return conflicting_store(repo)


def lines_of(records) -> dict[str, bytes]:
    return {r.id: msgspec.json.encode(r) for r in records}


def stored_lines(store: Store, stream: str) -> list[bytes]:
    out = []
    for chunk in store.iter_chunks(stream):
        out.extend(store.read_lines(chunk))
    return out


def test_newer_is_the_documented_rule():
    assert reader.newer("2026-01-02", b"a", "2026-01-01", b"b")
    assert not reader.newer("2026-01-01", b"a", "2026-01-02", b"b")
    assert not reader.newer("2026-01-01", b"same", "2026-01-01", b"same")
    a, b = b'{"id":"x","n":1}', b'{"id":"x","n":2}'
    assert reader.newer("t", a, "t", b) == (reader.digest(a) > reader.digest(b)) != reader.newer("t", b, "t", a)


def test_current_and_store_read_the_oracle_winners(repo, conflicted):
    store = Store(repo.open())
    for stream in ("commits", "chats", "sessions", "tombstones"):
        want = conflicted["expected"][stream]
        assert lines_of(reader.current(store, stream).values()) == want, stream
        assert lines_of(store.iter_records(stream)) == want, stream
        recs = reader.current_records(store, stream)
        assert [r.id for r in recs] == [r.id for r in sorted(recs, key=lambda r: (r.captured_at, r.id))]
        streamed = [r for part in reader.iter_current(store, stream) for r in part]
        assert lines_of(streamed) == want and len(streamed) == len(want), stream
        assert store.count(stream) == len(want)
    hidden = reader.current(store, "commits", with_hidden=True)
    assert conflicted["hidden"]["commits"] <= hidden.keys()
    assert reader.hidden_ids(store) == conflicted["hidden"]


def test_a_slim_view_reads_the_same_winners(repo, conflicted):
    class Slim(msgspec.Struct):
        id: str
        captured_at: str = ""
        message: str = ""

    store = Store(repo.open())
    got = reader.current(store, "commits", Slim)
    want = {rid: json.loads(line)["message"] for rid, line in conflicted["expected"]["commits"].items()}
    assert {rid: r.message for rid, r in got.items()} == want


def test_compaction_keeps_exactly_what_the_reader_returns(repo, conflicted):
    assert sorted(live_lines(repo.open(), "commits")) == sorted(
        msgspec.json.encode(r) for r in reader.current_records(Store(repo.open()), "commits"))
    proc = repo.run("git", "ml", "chunk", "compact")
    assert proc.returncode == 0, proc.stderr
    store = Store(repo.open())
    for stream in ("commits", "chats"):
        want = conflicted["expected"][stream]
        assert sorted(stored_lines(store, stream)) == sorted(want.values()), stream
        assert lines_of(reader.current(store, stream).values()) == want


def test_reconstruct_writes_the_winners(repo, conflicted, tmp_path):
    out = tmp_path / "out"
    proc = repo.run("git", "ml", "chunk", "reconstruct", "-o", str(out), "--no-files")
    assert proc.returncode == 0, proc.stderr
    for stream in ("commits", "chats"):
        got = (out / f"{stream}.jsonl").read_bytes().splitlines()
        assert sorted(got) == sorted(conflicted["expected"][stream].values()), stream


def test_stats_counts_and_files_come_from_the_winners(repo, conflicted):
    proc = repo.run("git", "ml", "stats", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    exp = conflicted["expected"]
    assert data["commits"] == len(exp["commits"]) and data["chats"] == len(exp["chats"])
    paths = {p for p, _n in data["top_files"]}
    winners = {f[1] for line in exp["commits"].values() for f in json.loads(line).get("files", [])}
    for rid, lines in conflicted["losers"]["commits"].items():
        for line in lines:
            for f in json.loads(line).get("files", []):
                if f[1] not in winners:
                    assert f[1] not in paths, (rid, f[1])
    assert {p for p in winners if p.startswith("tie")} <= paths
    tools = dict(data["top_tools"])
    want = Counter(t for line in exp["chats"].values() for t in json.loads(line).get("tools_used", []))
    assert tools == dict(want)


def test_retention_plans_from_the_winners(repo, conflicted):
    plan = plan_cleanup(repo.open(), 365, streams=("chats",))
    exp = conflicted["expected"]["chats"]
    want = {rid for rid, line in exp.items() if json.loads(line).get("timestamp") == OLD_CHAT}
    assert plan.doomed.get("chats", set()) == want
    assert "sess-t:gone" not in plan.doomed.get("chats", set())


def test_contribute_aggregates_the_winners(repo, conflicted):
    repo.git("config", "ml.contribute", "true")
    data = build_contribution(repo.open())
    exp = conflicted["expected"]["commits"]
    assert data["counts"]["commits"] == len(exp)
    hours = [0] * 24
    for line in exp.values():
        hours[json.loads(line).get("hour_of_day", 0)] += 1
    assert data["hour_of_day"] == hours
