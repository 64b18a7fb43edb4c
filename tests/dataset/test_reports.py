"""stats (counts, ranges, bytes, top files and tools, --json shape), estimate (milestones, rates, ETA) and
quality-report (findings and verdicts)."""

from __future__ import annotations

import json

import pytest
from populated import START, iso, populate

from git_ml import schema
from git_ml.dataset.reports import MILESTONES, activity_rate, milestone_progress, quality_report
from git_ml.schema import Chat, Feedback, Session
from git_ml.store.core import DATA_REF, Store


@pytest.fixture
def data(repo):
    return populate(repo)


def test_stats_json_shape(repo, data):
    res = repo.run("git-ml-stats", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    for stream in schema.ALL_STREAMS:
        assert isinstance(out[stream], int)
    assert out["commits"] == 30 and out["chats"] == 7 and out["sessions"] == 2  # p5 is tombstoned
    assert out["feedback"] == 4 and out["links"] == 1 and out["tombstones"] == 1 and out["rewrites"] == 0
    assert out["diffs"] == 1
    for key in ("streams", "chunks", "stored_bytes", "refs", "corrupt", "commits_range"):
        assert key in out  # keys of the first version stay
    assert out["stored_bytes"] == sum(s["stored_bytes"] for s in out["streams"].values()) > 0
    assert out["ranges"]["commits"][0].startswith("2023-11-14T23:13:20")
    assert out["ranges"]["chats"][0] == iso(data["t0"])
    assert out["top_files"][0][1] >= out["top_files"][-1][1] and len(out["top_files"]) == 10
    assert out["top_tools"] == [["Read", 12], ["Edit", 6]]  # uses, 6 chats with tools
    assert out["ratings"] == {"good": 1, "neutral": 1, "bad": 1, "unrated": 4}
    assert out["linked"] == {"commits_with_chats": 1, "chats_with_commits": 1}


def test_stats_text_and_top(repo, data):
    res = repo.run("git-ml-stats", "--top", "3")
    assert res.returncode == 0, res.stderr
    assert "most changed files:" in res.stdout and "most used tools:" in res.stdout
    assert "ratings: 1 good, 1 neutral, 1 bad, 4 unrated" in res.stdout
    files = res.stdout.split("most changed files:\n")[1].split("most used tools")[0].strip().splitlines()
    assert len(files) == 3


def test_stats_empty_repository(repo):
    res = repo.run("git-ml-stats", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert all(out[s] == 0 for s in schema.ALL_STREAMS)
    assert out["top_files"] == [] and out["ranges"] == {}


def test_stats_fast_path_matches_store(repo, data):
    from git_ml.dataset.stats import store_stats

    r = repo.open()
    out = store_stats(r)
    store = Store(r)
    for stream in schema.ALL_STREAMS:
        assert out[stream] == store.count(stream), stream


def test_stats_corrupt_chunk_warns(repo, data):
    r = repo.open()
    store = Store(r)
    chunk = next(store.iter_chunks("sessions"))
    store.update(DATA_REF, adds={chunk.path: r.create_blob(b"garbage")}, message="corrupt")
    res = repo.run("git-ml-stats", "--json")
    assert res.returncode == 0
    assert "warning: skipping corrupt chunk sessions/" in res.stderr
    assert json.loads(res.stdout)["sessions"] == 0


def test_activity_rate_rules():
    now = 100 * 86400.0
    assert activity_rate([], now) is None
    old = [(now - 40 * 86400, now - 40 * 86400)]
    assert activity_rate(old, now) is None  # nothing in the window: unknown, not zero
    # Backfilled commits (captured now, made over the last 60 days, one a day): 30 per 30 days.
    backfill = [(now - d * 86400, now) for d in range(60)]
    assert activity_rate(backfill, now) == pytest.approx(30 / 30, rel=0.05)
    # Chats captured only for the last 3 days: rated over 3 days, not 30.
    recent = [(now - h * 3600, now - h * 3600) for h in range(72)]
    assert activity_rate(recent, now) == pytest.approx(24.0, rel=0.05)


def test_milestone_progress_and_eta():
    out = milestone_progress({"commits": 250, "sessions": 100, "chats": 0}, {"commits": 10.0, "sessions": None,
                                                                              "chats": 5.0}, now=0.0)
    fp = out[0]
    assert fp["name"] == "File Prediction" and not fp["reached"]
    assert fp["dimensions"]["commits"] == {"have": 250, "need": 500, "percent": 50.0, "remaining": 250,
                                           "eta_days": 25.0}
    assert fp["dimensions"]["sessions"]["eta_days"] == 0.0  # reached: no rate needed
    assert fp["eta_days"] == 40.0 and fp["eta_date"] == "1970-02-10" and fp["percent"] == 0.0
    cs = out[2]
    assert cs["eta_days"] is None  # sessions short and no rate
    assert [m["name"] for m in out] == [name for name, _ in MILESTONES]


def test_estimate_cli(repo, data):
    now = f"@{START + 31 * 3600}"
    res = repo.run("git-ml-estimate", "--json", "--now", now)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["counts"] == {"commits": 30, "sessions": 2, "chats": 7}
    assert out["rates_per_day"]["commits"] > 0
    assert out["milestones"][0]["dimensions"]["commits"]["percent"] == 6.0
    res = repo.run("git-ml-estimate", "--now", now)
    assert "File Prediction" in res.stdout and "ETA" in res.stdout
    # Far in the future: nothing in the last 30 days, so the ETA is unknown.
    res = repo.run("git-ml-estimate", "--now", "2099-01-01")
    assert "unknown" in res.stdout


def test_estimate_empty_store(repo):
    res = repo.run("git-ml-estimate", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["counts"] == {"commits": 0, "sessions": 0, "chats": 0}
    assert all(m["eta_days"] is None for m in out["milestones"])
    res = repo.run("git-ml-estimate", "--now", "not-a-date")
    assert res.returncode == 1 and res.stderr.count("\n") == 1


def test_quality_report_findings(repo, data):
    r = repo.open()
    Store(r).append("chats", [Chat(id="sess-b:tiny", session_id="sess-b", timestamp=iso(data["t0"] + 99999),
                                   query="ok?", response="Done.", redactions={"aws_key": 2, "api_key": 1})])
    out = quality_report(r)
    f = out["findings"]
    assert f["empty_responses"]["count"] == 1 and f["empty_responses"]["sample"] == ["sess-b:p6"]
    assert f["tiny_responses"]["sample"] == ["sess-b:tiny"]
    assert f["duplicate_chats"]["sample"] == ["sess-a:p3"]
    assert f["chats_without_commits"]["count"] == 7  # 8 chats, one linked
    assert f["commits_without_messages"]["count"] == 0
    assert f["unrated_chats"]["count"] == 5
    assert f["redactions"]["by_kind"] == {"api_key": 2, "aws_key": 2}
    assert f["redactions"]["by_stream"]["chats"] == {"api_key": 2, "aws_key": 2}
    assert out["usable"]["chats"] == 5  # 8 live chats less empty p6, duplicate p3, tiny
    assert [v["status"] for v in out["verdicts"]] == ["not yet"] * 3
    assert "more usable commits" in out["verdicts"][0]["verdict"]


def test_quality_report_outliers_and_cli(repo):
    r = repo.open()
    chats = [Chat(id=f"s:{i}", session_id="s", timestamp=iso(START + i), query=f"q{i}",
                  response="x" * (100 + i)) for i in range(40)]
    chats.append(Chat(id="s:huge", session_id="s", timestamp=iso(START + 99), query="q", response="y" * 100000))
    Store(r).append("chats", chats)
    res = repo.run("git-ml-quality-report", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    o = out["findings"]["size_outliers"]["chat_response_chars"]
    assert o["count"] == 1 and o["largest"] == [["s:huge", 100000]]
    res = repo.run("git-ml-quality-report")
    assert res.returncode == 0 and "verdicts:" in res.stdout and "large responses" in res.stdout


def test_quality_report_ready(repo, monkeypatch):
    import git_ml.dataset.reports as reports

    monkeypatch.setattr(reports, "MILESTONES", [("Tiny", {"commits": 0, "sessions": 1, "chats": 1})])
    r = repo.open()
    Store(r).append("chats", [Chat(id="s:1", session_id="s", timestamp=iso(START), query="do it",
                                   response="done, all tests pass")])
    Store(r).append("sessions", [Session(id="s", started_at=iso(START))])
    Store(r).append("feedback", [Feedback(id="s:1@x", chat_id="s:1", rating="good", time="2026")])
    v = quality_report(r)["verdicts"][0]
    assert v["status"] == "ready with caveats" and "not linked" in v["verdict"]


def test_reports_outside_a_repository(tmp_path):
    import subprocess

    for exe in ("git-ml-stats", "git-ml-estimate", "git-ml-quality-report"):
        res = subprocess.run([exe], cwd=tmp_path, capture_output=True, text=True)
        assert res.returncode == 1 and "not a git repository" in res.stderr and res.stderr.count("\n") == 1
