"""Commit capture: records, backfill idempotence, revisions, the disabled switch, bad input, rewrites, the spool."""

from __future__ import annotations

import json

import pytest
from conftest import make_history

from git_ml.capture.pipeline import CapturedIndex, backfill, capture_head, record_rewrites
from git_ml.store.core import DATA_REF, LOCAL_REF, Store


def records(repo, stream="commits"):
    return {r.id: r for r in Store(repo.open()).iter_records(stream)}


def test_capture_records_every_field(repo):
    repo.commit("first", {"a.py": "one\ntwo\n"})
    sha = repo.commit("Add feature\n\nLonger body.", {"a.py": "one\nthree\n", "b.bin": "\0\1\2"},
                      date="2026-03-04T22:15:00+0200")
    result = repo.run("git-ml-capture")
    assert result.returncode == 0, result.stderr
    rec = records(repo)[sha]
    assert rec.message == "Add feature\n\nLonger body."
    assert rec.author == "Ada Tester" and rec.author_email == "ada@example.com"
    assert rec.timestamp == "2026-03-04T22:15:00+02:00"
    assert (rec.hour_of_day, rec.day_of_week) == (22, 2)  # a Wednesday, author's local time
    assert rec.branch == "main"
    assert rec.parents == [repo.git("rev-parse", "HEAD~1").strip()] and not rec.is_merge
    assert sorted(rec.files) == [("A", "b.bin", None, None, None), ("M", "a.py", 1, 1, None)]
    assert (rec.files_changed, rec.insertions, rec.deletions) == (2, 1, 1)
    expected_patch_id = repo.git("show", "HEAD").strip()
    patch_id = repo.run("sh", "-c", "git show HEAD | git patch-id --stable").stdout.split()[0]
    assert rec.patch_id == patch_id and expected_patch_id
    assert rec.session_id is None and rec.related_chats == []
    # Hunks go to the local ref only.
    diffs = records(repo, "diffs")
    assert "+three" in diffs[sha].text
    assert "three" not in repo.git("cat-file", "-p", f"{DATA_REF}^{{tree}}")


def test_diff_hunks_are_bounded(repo):
    repo.git("config", "ml.diffLimit", "100")
    sha = repo.commit("big", {"gen.txt": "".join(f"line {i}\n" for i in range(1000))})
    assert repo.run("git-ml-capture").returncode == 0
    diff = records(repo, "diffs")[sha]
    assert diff.truncated and len(diff.text) <= 100 and diff.bytes > 5000


def test_rename_is_recorded_with_old_path(repo):
    repo.commit("add", {"old.py": "".join(f"x{i}\n" for i in range(50))})
    repo.git("mv", "old.py", "new.py")
    repo.git("commit", "-q", "-m", "rename")
    repo.run("git-ml-capture")
    rec = records(repo)[repo.git("rev-parse", "HEAD").strip()]
    assert rec.files == [("R", "new.py", 0, 0, "old.py")]


def test_backfill_is_idempotent_and_matches_git_log(repo):
    shas = make_history(repo, 30)
    first = repo.run("git-ml-capture", "--backfill")
    assert first.returncode == 0, first.stderr
    assert "30 commits captured" in first.stdout
    again = repo.run("git-ml-capture", "--backfill")
    assert "0 commits captured, 30 already captured" in again.stdout
    got = records(repo)
    assert set(got) == set(shas)
    numstat = repo.git("log", "--numstat", "--format=%H", "-1", shas[10]).split("\n")
    lines = [line.split("\t") for line in numstat[1:] if "\t" in line]
    assert sorted((p, int(a), int(d)) for a, d, p in lines) == sorted(
        (f[1], f[2], f[3]) for f in got[shas[10]].files)
    # The ref moved once for the backfill and not at all for the no-op rerun.
    assert int(repo.git("rev-list", "--count", DATA_REF).strip()) == 1


def test_backfill_range_and_then_the_rest(repo):
    shas = make_history(repo, 12)
    out = repo.run("git-ml-capture", "--backfill", f"{shas[4]}..{shas[8]}")
    assert "4 commits captured" in out.stdout, out.stderr
    assert set(records(repo)) == set(shas[5:9])
    out = repo.run("git-ml-capture", "--backfill")
    assert "8 commits captured, 4 already captured" in out.stdout


def test_capture_given_revisions(repo):
    shas = make_history(repo, 5)
    out = repo.run("git-ml-capture", shas[1], "HEAD~1")
    assert out.returncode == 0
    assert set(records(repo)) == {shas[1], shas[3]}


@pytest.mark.parametrize("how", ["env", "config"])
def test_disabled_switch_writes_nothing(repo, how):
    repo.commit("one")
    env = {}
    if how == "env":
        env["ML_COLLECTION_ENABLED"] = "0"
    else:
        repo.git("config", "ml.enabled", "false")
    out = repo.run("git-ml-capture", env=env)
    assert out.returncode == 0 and "disabled" in out.stdout
    out = repo.run("git-ml-capture", "--hook", "post-commit", env=env)
    assert out.returncode == 0
    assert repo.git("for-each-ref", "refs/ml") == ""


def test_bad_input_is_one_line_and_nonzero(repo, tmp_path):
    repo.commit("one")
    out = repo.run("git-ml-capture", "no-such-rev")
    assert out.returncode == 1
    assert out.stderr.strip() == "git ml capture: unknown revision: no-such-rev"
    out = repo.run("git-ml-capture", cwd=tmp_path)
    assert out.returncode == 1 and "not a git repository" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    out = repo.run("git-ml-stats", cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr


def test_hook_capture_takes_uncaptured_ancestors(repo):
    shas = make_history(repo, 6)
    r = repo.open()
    store = Store(r)
    result = capture_head(r, store)
    assert result.captured == 6 and not result.hints
    assert set(records(repo)) == set(shas)
    assert capture_head(r, store).captured == 0


def test_hook_capture_bounded_catch_up_hints_backfill(repo):
    make_history(repo, 12)
    repo.git("config", "ml.catchUpLimit", "5")
    r = repo.open()
    result = capture_head(r, Store(r))
    assert result.captured == 5 and "--backfill" in result.hints[0]


def test_rewrites_are_recorded(repo):
    old = repo.commit("one")
    repo.git("commit", "-q", "--amend", "-m", "one, amended")
    new = repo.git("rev-parse", "HEAD").strip()
    r = repo.open()
    record_rewrites(r, Store(r), "amend", [f"{old} {new}"])
    rw = records(repo, "rewrites")
    assert rw[f"{old}:{new}"].kind == "amend"
    assert new in records(repo)


def test_busy_store_spools_and_next_capture_drains(repo):
    first = repo.commit("one")
    r = repo.open()
    Store(r).append("tombstones", [])  # nothing: the ref does not exist yet
    lock = repo.path / ".git" / "refs" / "ml"
    lock.mkdir(parents=True, exist_ok=True)
    (lock / "data.lock").write_text("")
    repo.git("config", "ml.lockTimeoutMs", "200")
    out = repo.run("git-ml-capture", "--hook", "post-commit")
    assert out.returncode == 0 and out.stdout == "" and out.stderr == ""
    assert list((repo.path / ".git" / "ml" / "spool").glob("*.commits.jsonl"))
    assert "spooled" in (repo.path / ".git" / "ml" / "capture.log").read_text()
    (lock / "data.lock").unlink()
    second = repo.commit("two")
    assert repo.run("git-ml-capture", "--hook", "post-commit").returncode == 0
    assert {first, second} <= set(records(repo))
    assert not list((repo.path / ".git" / "ml" / "spool").glob("*.jsonl"))


def test_captured_index_survives_foreign_appends(repo):
    shas = make_history(repo, 3)
    r = repo.open()
    store = Store(r)
    capture_head(r, store)
    idx = CapturedIndex(r, store)
    assert all(idx.contains(s) for s in shas)
    # Another writer appends: the cache notices the tip moved and rebuilds.
    from git_ml.schema import Commit

    store.append("commits", [Commit(id="f" * 40)])
    assert CapturedIndex(r, store).contains("f" * 40)


def test_stats_json_has_every_stream_count(repo):
    make_history(repo, 4)
    repo.run("git-ml-capture", "--backfill")
    out = repo.run("git-ml-stats", "--json")
    data = json.loads(out.stdout)
    assert data["commits"] == 4
    for stream in ("chats", "sessions", "feedback", "links", "rewrites", "tombstones", "diffs"):
        assert data[stream] == 0
    assert data["stored_bytes"] > 0 and data["chunks"] >= 1
    text = repo.run("git-ml-stats").stdout
    assert "commits" in text and "4" in text


def test_backfill_in_library_reports_progress(repo):
    make_history(repo, 3)
    seen = []
    r = repo.open()
    backfill(r, Store(r), progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (3, 3)
    assert repo.git("for-each-ref", "--format=%(refname)", "refs/ml").split() == [DATA_REF]
    assert LOCAL_REF not in repo.git("for-each-ref")


def commit_with(repo, message, env=None, files=None, *args):
    for name, text in (files or {f"{message.split()[0]}.txt": message + "\n"}).items():
        repo.write(name, text)
    repo.git("add", "-A")
    repo.git("commit", "-q", *args, "-m", message, env=env)
    return repo.git("rev-parse", "HEAD").strip()


@pytest.mark.parametrize("how", ["env", "config"])
def test_commit_made_with_collection_off_is_never_taken_implicitly(repo, how):
    assert repo.run("git-ml-install-hooks").returncode == 0
    first = commit_with(repo, "first on")
    if how == "env":
        off = commit_with(repo, "private work", {"ML_COLLECTION_ENABLED": "0"})
    else:
        repo.git("config", "ml.enabled", "false")
        off = commit_with(repo, "private work")
        repo.git("config", "ml.enabled", "true")
    assert (repo.path / ".git" / "ml" / "skipped").read_text().split() == [off]
    after = commit_with(repo, "third on")
    assert set(records(repo)) == {first, after}  # the catch-up walked past it
    out = repo.run("git-ml-capture", "--backfill")
    assert "0 commits captured" in out.stdout and "1 made with collection off left out" in out.stdout
    out = repo.run("git-ml-capture")
    assert off not in records(repo)
    doctor = json.loads(repo.run("git-ml-doctor", "--json").stdout)
    assert doctor["uncaptured"] == 0  # left out on purpose is not a gap
    out = repo.run("git-ml-capture", off)  # named explicitly: taken
    assert out.returncode == 0 and "captured 1 commits" in out.stdout
    assert off in records(repo)


def test_rewrites_of_a_skipped_commit_stay_skipped(repo):
    assert repo.run("git-ml-install-hooks").returncode == 0
    base = commit_with(repo, "base on")
    off = {"ML_COLLECTION_ENABLED": "0"}
    a = commit_with(repo, "private one", off)
    b = commit_with(repo, "private two", off)
    repo.git("commit", "-q", "--amend", "-m", "private two, amended")  # collection on again
    amended = repo.git("rev-parse", "HEAD").strip()
    # A rebase (collection on) that rewrites both private commits onto a new base.
    repo.git("checkout", "-q", "-b", "side", base)
    side = commit_with(repo, "side on")
    repo.git("checkout", "-q", "main")
    repo.git("rebase", "-q", "side")
    rebased = repo.git("rev-list", f"{side}..HEAD").split()
    assert len(rebased) == 2 and set(rebased).isdisjoint({a, b, amended})
    repo.run("git-ml-capture", "--backfill")
    got = records(repo)
    assert {base, side} <= set(got)
    assert not ({a, b, amended} | set(rebased)) & set(got)
    assert not [r for r in records(repo, "rewrites").values() if r.new in rebased or r.new == amended]


def write_bytes_name(repo, name: bytes, data: bytes = b"x\n"):
    import os

    with open(os.path.join(bytes(repo.path), name), "wb") as fh:
        fh.write(data)


def test_non_utf8_and_control_byte_paths_are_lossless_and_block_nothing(repo, tmp_path):
    import base64

    from git_ml.capture.commits import path_bytes

    assert repo.run("git-ml-install-hooks").returncode == 0
    repo.commit("first", {"a.txt": "a\n"})
    write_bytes_name(repo, b"caf\xe9.txt")
    write_bytes_name(repo, b"p\x01q.txt")
    write_bytes_name(repo, b"ok\\xe9.txt")  # a valid UTF-8 name that looks like the escape
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "odd names\x01 and a control byte in the message")
    odd = repo.git("rev-parse", "HEAD").strip()
    after = repo.commit("after", {"b.txt": "b\n"})
    got = records(repo)
    assert {odd, after} <= set(got)  # the odd commit did not stop the next capture
    rec = got[odd]
    assert sorted(f[1] for f in rec.files) == ["caf\\xe9.txt", "ok\\xe9.txt", "p\x01q.txt"]
    assert rec.raw_paths == {"caf\\xe9.txt": base64.b64encode(b"caf\xe9.txt").decode()}
    assert {path_bytes(rec, f[1]) for f in rec.files} == {b"caf\xe9.txt", b"p\x01q.txt", b"ok\\xe9.txt"}
    log = repo.path / ".git" / "ml" / "capture.log"
    assert not log.exists() or "capture of" not in log.read_text()
    # Backfill in a clone stores the same paths, the whole message and the file list after it.
    clone = tmp_path / "clone"
    repo.git("clone", "-q", str(repo.path), str(clone))
    from conftest import Repo

    other = Repo(clone)
    out = other.run("git-ml-capture", "--backfill")
    assert out.returncode == 0 and "3 commits captured" in out.stdout, out.stderr
    back = records(other)[odd]
    assert back.message == rec.message and "\x01" in back.message
    assert sorted(back.files) == sorted(rec.files) and back.raw_paths == rec.raw_paths


def test_one_commit_that_cannot_be_recorded_does_not_block_the_others(repo, monkeypatch):
    from git_ml.capture import pipeline

    shas = make_history(repo, 4)
    real = pipeline.record_from_commit

    def failing(r, commit, **kw):
        if str(commit.id) == shas[1]:
            raise UnicodeEncodeError("utf-8", "x", 0, 1, "surrogates not allowed")
        return real(r, commit, **kw)

    monkeypatch.setattr(pipeline, "record_from_commit", failing)
    r = repo.open()
    result = capture_head(r, Store(r))
    assert result.captured == 3 and result.failed == 1
    assert set(records(repo)) == set(shas) - {shas[1]}
    assert f"capture of {shas[1]}" in (repo.path / ".git" / "ml" / "capture.log").read_text()


def test_backfill_parses_without_separator_bytes(repo):
    from git_ml.capture.gitlog import parse_log

    # A path holding \x01, a rename, a binary file, an empty message, and a commit without changes.
    write_bytes_name(repo, b"x\x01y.txt", b"one\n")
    write_bytes_name(repo, b"bin.dat", b"\0\1\2")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "a\x01b")
    repo.git("mv", "x\x01y.txt", "z.txt")
    repo.git("commit", "-q", "--allow-empty-message", "-m", "")
    repo.git("commit", "-q", "--allow-empty", "-m", "nothing")
    out = repo.run("git-ml-capture", "--backfill")
    assert out.returncode == 0 and "3 commits captured" in out.stdout, out.stderr
    shas = repo.git("rev-list", "--reverse", "HEAD").split()
    got = records(repo)
    assert sorted(got[shas[0]].files) == [("A", "bin.dat", None, None, None), ("A", "x\x01y.txt", 1, 0, None)]
    assert got[shas[0]].message == "a\x01b"
    assert got[shas[1]].files == [("R", "z.txt", 0, 0, "x\x01y.txt")] and got[shas[1]].message == ""
    assert got[shas[2]].files == [] and got[shas[2]].message == "nothing"
    # Split anywhere, the stream parses the same; an unknown token is skipped, not taken for a commit.
    raw = subprocess_bytes(repo)
    for step in (1, 7, 4096):
        blocks = [raw[i:i + step] for i in range(0, len(raw), step)]
        parsed = {r.id: r.files for r in parse_log(blocks, shas)}
        assert parsed == {s: got[s].files for s in shas}


def subprocess_bytes(repo) -> bytes:
    import subprocess

    from git_ml.capture.gitlog import LOG_FORMAT

    return subprocess.run(["git", "log", "-z", "--raw", "--numstat", "-M", "--no-abbrev", f"--format={LOG_FORMAT}"],
                          cwd=repo.path, capture_output=True, check=True).stdout


def test_shallow_boundary_is_marked_and_completed_after_unshallowing(repo, tmp_path):
    from conftest import Repo

    shas = make_history(repo, 6)
    clone = tmp_path / "shallow"
    repo.git("clone", "-q", "--depth", "2", f"file://{repo.path}", str(clone))
    other = Repo(clone)
    assert other.run("git-ml-capture").returncode == 0  # the hook's way: HEAD and what is behind it
    got = records(other)
    assert set(got) == set(shas[4:])
    edge = got[shas[4]]
    assert edge.shallow and edge.files == [] and edge.files_changed == 0
    assert edge.parents == [shas[3]]  # the real parent, though it is not in the clone
    assert not got[shas[5]].shallow and got[shas[5]].files
    out = other.run("git-ml-capture", "--backfill")
    assert "0 commits captured" in out.stdout, out.stdout
    other.git("fetch", "-q", "--unshallow")
    out = other.run("git-ml-capture", "--backfill")
    assert out.returncode == 0, out.stderr
    assert "4 commits captured" in out.stdout and "1 shallow-boundary commits completed" in out.stdout, out.stdout
    got = records(other)
    assert set(got) == set(shas) and not any(r.shallow for r in got.values())
    repo.run("git-ml-capture", "--backfill")
    full = records(repo)
    assert sorted(got[shas[4]].files) == sorted(full[shas[4]].files) and got[shas[4]].files
    out = other.run("git-ml-capture", "--backfill")
    assert "0 commits captured, 6 already captured" in out.stdout


def test_backfill_with_diffs_stores_bounded_hunks(repo, tmp_path):
    from conftest import Repo

    shas = make_history(repo, 5)
    big = repo.commit("big", {"gen.txt": "".join(f"line {i}\n" for i in range(2000))})
    out = repo.run("git-ml-capture", "--backfill")
    assert "6 commits captured" in out.stdout
    assert LOCAL_REF not in repo.git("for-each-ref")  # a plain backfill stores no diffs
    repo.git("config", "ml.diffLimit", "5000")
    out = repo.run("git-ml-capture", "--backfill", "--diffs")
    assert out.returncode == 0 and "diffs of 6 commits stored" in out.stdout, out.stdout + out.stderr
    diffs = records(repo, "diffs")
    assert set(diffs) == set(shas) | {big}
    assert diffs[big].truncated and len(diffs[big].text) <= 5000 and diffs[big].bytes > 20000
    # The same hunks as the hook stores for the same commit (pygit2 there, git log here).
    clone = tmp_path / "clone"
    repo.git("clone", "-q", str(repo.path), str(clone))
    other = Repo(clone)
    other.run("git-ml-capture", shas[2])
    assert records(other, "diffs")[shas[2]].text == diffs[shas[2]].text
    out = repo.run("git-ml-capture", "--backfill", "--diffs")
    assert "diffs of 0 commits stored" in out.stdout
    bad = repo.run("git-ml-capture", "--diffs")
    assert bad.returncode == 1 and "--backfill" in bad.stderr


def test_cherry_pick_and_revert_series_are_captured_when_they_end(repo):
    assert repo.run("git-ml-install-hooks").returncode == 0
    repo.commit("base", {"a.txt": "a\n"})
    repo.git("checkout", "-q", "-b", "side")
    for i in range(3):
        repo.commit(f"side {i}", {f"s{i}.txt": f"{i}\n"})
    repo.git("checkout", "-q", "main")
    repo.git("cherry-pick", "main..side")
    picked = repo.git("rev-list", "HEAD~3..HEAD").split()
    assert len(picked) == 3 and set(picked) <= set(records(repo))
    repo.git("revert", "--no-edit", "HEAD~2..HEAD")
    reverted = repo.git("rev-list", "HEAD~2..HEAD").split()
    assert set(reverted) <= set(records(repo))


def test_am_series_is_taken_by_the_next_capture_command(repo, tmp_path):
    assert repo.run("git-ml-install-hooks").returncode == 0
    repo.commit("base", {"a.txt": "a\n"})
    repo.git("checkout", "-q", "-b", "side")
    for i in range(2):
        repo.commit(f"patch {i}", {f"p{i}.txt": f"{i}\n"})
    repo.git("format-patch", "-q", "-o", str(tmp_path / "patches"), "main")
    repo.git("checkout", "-q", "main")
    repo.commit("main moves on", {"m.txt": "m\n"})
    repo.git("am", "-q", *sorted(str(p) for p in (tmp_path / "patches").iterdir()))
    applied = repo.git("rev-list", "HEAD~2..HEAD").split()
    out = repo.run("git-ml-capture")
    assert out.returncode == 0 and "captured 2 commits" in out.stdout, out.stdout + out.stderr
    assert set(applied) <= set(records(repo))


def test_manual_capture_drains_the_spool(repo):
    sha = repo.commit("one")
    lock = repo.path / ".git" / "refs" / "ml"
    lock.mkdir(parents=True, exist_ok=True)
    (lock / "data.lock").write_text("")
    repo.git("config", "ml.lockTimeoutMs", "200")
    assert repo.run("git-ml-capture", "--hook", "post-commit").returncode == 0
    assert list((repo.path / ".git" / "ml" / "spool").glob("*.jsonl"))
    (lock / "data.lock").unlink()
    out = repo.run("git-ml-capture")
    assert out.returncode == 0 and "spooled" in out.stdout, out.stdout + out.stderr
    assert sha in records(repo) and not list((repo.path / ".git" / "ml" / "spool").glob("*.jsonl"))


def test_merge_made_with_collection_off_is_skipped_but_fast_forwarded_commits_are_not(repo):
    assert repo.run("git-ml-install-hooks").returncode == 0
    off = {"ML_COLLECTION_ENABLED": "0"}
    repo.commit("base", {"a.txt": "a\n"})
    repo.git("checkout", "-q", "-b", "theirs")
    theirs = repo.commit("their work", {"t.txt": "t\n"})
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--ff-only", "theirs", env=off)  # a fast-forward: someone else's commit
    repo.git("checkout", "-q", "-b", "other", "HEAD~1")
    repo.commit("other work", {"o.txt": "o\n"})
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-edit", "other", env=off)  # a merge commit made now, with capture off
    merge = repo.git("rev-parse", "HEAD").strip()
    skipped = (repo.path / ".git" / "ml" / "skipped").read_text().split()
    assert skipped == [merge] and theirs not in skipped
