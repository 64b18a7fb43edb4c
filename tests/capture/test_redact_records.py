"""Everything that reaches the store passes through redaction: names too (file paths, branches, tools, cwd)."""

import random
import string

from git_ml.capture.redaction.records import redact_record, redact_texts
from git_ml.capture.sessions import TextPolicy, prepare_chat
from git_ml.schema import Chat, Commit, Session
from git_ml.store.core import Store

_rng = random.Random(77)
ALNUM = string.ascii_letters + string.digits


def token() -> str:
    return "glpat-" + "".join(_rng.choice(ALNUM) for _ in range(20))


def test_commit_branch_and_paths_are_redacted_in_the_store(repo):
    secret, other = token(), token()
    repo.git("checkout", "-q", "-b", f"fix/{secret}")
    sha = repo.commit(f"rotate {other}", {f"keys/{secret}.txt": "x\n", "ok.py": f"TOKEN = '{other}'\n"})
    assert repo.run("git-ml-capture").returncode == 0
    rec = {r.id: r for r in Store(repo.open()).iter_records("commits")}[sha]
    assert rec.branch == "fix/[REDACTED:gitlab-token]"
    assert rec.message == "rotate [REDACTED:gitlab-token]"
    assert sorted(f[1] for f in rec.files) == ["keys/[REDACTED:gitlab-token].txt", "ok.py"]
    assert rec.redactions == {"gitlab-token": 3}
    diff = {r.id: r for r in Store(repo.open()).iter_records("diffs")}[sha]
    assert secret not in diff.text and other not in diff.text


def test_chat_names_and_tools_are_redacted():
    secret = token()
    chat = Chat(id="s:1", query=f"use {secret}", response="done", files_referenced=[f"/tmp/{secret}/a.py", "b.py"],
                files_modified=["c.py"], tools_used=["Read", f"mcp-{secret}"], tool_counts={"Read": 2, f"mcp-{secret}": 1},
                branch=f"wip-{secret}", cwd=f"/home/me/{secret}")
    prepare_chat(TextPolicy(), chat)
    assert secret not in repr(chat)
    assert chat.files_referenced == ["/tmp/[REDACTED:gitlab-token]/a.py", "b.py"]
    assert chat.tool_counts == {"Read": 2, "mcp-[REDACTED:gitlab-token]": 1}
    assert chat.redactions == {"gitlab-token": 6}


def test_session_fields_are_redacted():
    secret = token()
    session = Session(id="s", cwd=f"/w/{secret}", branch=secret, transcript_path=f"/t/{secret}.jsonl")
    assert redact_record(session) == {"gitlab-token": 3}
    assert secret not in repr(session)


def test_nothing_to_redact_leaves_the_record_alone():
    commit = Commit(id="a" * 40, message="Fix the tokenizer", branch="main", files=[("M", "src/token.py", 1, 0, None)])
    assert redact_record(commit) == {}
    assert commit.files == [("M", "src/token.py", 1, 0, None)] and commit.branch == "main"


def test_texts_are_redacted_each_alone_when_a_match_spans_them():
    # A private key block across two texts would take the separator: then each text goes alone.
    body = "\n".join("".join(_rng.choice(ALNUM) for _ in range(64)) for _ in range(4))
    texts = ["-----BEGIN PRIVATE KEY-----\n" + body, body + "\n-----END PRIVATE KEY-----", "plain"]
    out, counts = redact_texts(texts)
    assert len(out) == 3 and out[2] == "plain"
