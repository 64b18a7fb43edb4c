"""`git ml chunk redact`: the current rules over records stored before them (both refs), append-only."""

import json
import random
import string

from git_ml.schema import Chat, Commit, Diff
from git_ml.store.core import DATA_REF, LOCAL_REF, Store
from git_ml.store.reredact import later

_rng = random.Random(99)


def token() -> str:
    return "hf_" + "".join(_rng.choice(string.ascii_letters) for _ in range(34))


def _stored_lines(store: Store, stream: str) -> bytes:
    return b"\n".join(line for chunk in store.iter_chunks(stream) for line in store.read_lines(chunk))


def _seed(repo):
    """Records as an older git-ml stored them: the secrets went in (appended past capture, as old data is)."""
    secret, path_secret, diff_secret = token(), token(), token()
    store = Store(repo.open())
    sha = "ab" * 20
    store.append("commits", [Commit(id=sha, message=f"use {secret}", branch=f"wip/{path_secret}",
                                    files=[("A", f"cfg/{path_secret}.txt", 1, 0, None)],
                                    captured_at="2026-01-01T00:00:00.000000Z")])
    store.append("diffs", [Diff(id=sha, text=f"+HF_TOKEN={diff_secret}\n", captured_at="2026-01-01T00:00:00.000000Z")])
    store.append("chats", [Chat(id="s:1", session_id="s", query="hello", files_modified=[f"x/{path_secret}"],
                                captured_at="2026-01-01T00:00:00.000000Z"),
                           Chat(id="s:2", session_id="s", query="no secret here",
                                captured_at="2026-01-01T00:00:00.000000Z")])
    return sha, secret, path_secret, diff_secret


def test_chunk_redact_rewrites_both_refs(repo):
    repo.commit("first", {"a.txt": "a\n"})
    sha, secret, path_secret, diff_secret = _seed(repo)

    dry = repo.run("git-ml-chunk", "redact", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would store redacted versions of 1 commits, 1 chats, 1 diffs" in dry.stdout
    assert secret.encode() in _stored_lines(Store(repo.open()), "commits")  # nothing written

    result = repo.run("git-ml-chunk", "redact")
    assert result.returncode == 0, result.stderr
    assert "stored redacted versions of 1 commits, 1 chats, 1 diffs" in result.stdout
    assert "refs/ml/data and refs/ml/local" in result.stdout
    assert "Copies already pushed keep the old versions" in result.stdout

    store = Store(repo.open())
    commit = {c.id: c for c in store.iter_records("commits")}[sha]
    assert commit.message == "use [REDACTED:huggingface-token]"
    assert commit.branch == "wip/[REDACTED:huggingface-token]"
    assert commit.files[0][1] == "cfg/[REDACTED:huggingface-token].txt"
    assert commit.redactions == {"huggingface-token": 3}
    assert commit.captured_at > "2026-01-01T00:00:00.000000Z"
    diff = {d.id: d for d in store.iter_records("diffs")}[sha]
    assert diff.text == "+HF_TOKEN=[REDACTED:huggingface-token]\n"
    chats = {c.id: c for c in store.iter_records("chats")}
    assert chats["s:1"].files_modified == ["x/[REDACTED:huggingface-token]"]
    assert chats["s:2"].captured_at == "2026-01-01T00:00:00.000000Z"  # unchanged records keep their version
    # compaction dropped the old versions: no chunk under either ref holds a secret any more
    for stream in ("commits", "diffs", "chats"):
        raw = _stored_lines(store, stream)
        assert all(s.encode() not in raw for s in (secret, path_secret, diff_secret)), stream
    assert store.tip(DATA_REF) and store.tip(LOCAL_REF)

    again = repo.run("git-ml-chunk", "redact", "--json")
    assert again.returncode == 0, again.stderr
    out = json.loads(again.stdout)
    assert out["changed"] == {} and out["checked"]["commits"] == 1


def test_chunk_redact_on_an_empty_store(repo):
    repo.commit("first", {"a.txt": "a\n"})
    result = repo.run("git-ml-chunk", "redact")
    assert result.returncode == 0, result.stderr
    assert "nothing new to redact" in result.stdout


def test_new_version_is_later_even_after_a_clock_ahead():
    now = "2026-12-01T10:00:00.000000Z"
    assert later("2026-01-01T00:00:00.000000Z", now) == now
    assert later("2027-01-01T00:00:00.000000Z", now) == "2027-01-01T00:00:00.000001Z"
    assert later("2027-01-01T00:00:00Z", now) > "2027-01-01T00:00:00Z"
