"""Explore (`show`, `log`, `blame`, `search`) on real temporary repositories with imported transcripts.

Chats come from the parser over the test fixture transcript (and the shared samples when present); commits are
captured by `git-ml-capture` (hooks or `--backfill`); links are computed by ``git_ml.links`` as the session
pipeline stores them.
"""

from __future__ import annotations

import json

import pytest
from conftest import ROOT

from git_ml.capture.links import find_links
from git_ml.capture.transcripts.claude import parse_claude
from git_ml.schema import Chat, Feedback, Link, Session, Tombstone
from git_ml.store.core import Store

FIXTURE = ROOT / "tests" / "capture" / "fixtures" / "transcripts" / "claude_basic.jsonl"
SID = "0f0e0d0c-1111-4222-8333-444455556666"
U1, U2, U3 = f"{SID}:u1", f"{SID}:u2", f"{SID}:u3"


def store(repo) -> Store:
    return Store(repo.open())


def link_everything(repo) -> list[Link]:
    """Links between every stored commit and chat (what the session pipeline appends)."""
    s = store(repo)
    commits = list(s.iter_records("commits"))
    chats = list(s.iter_records("chats"))
    have = {lk.id for lk in s.iter_records("links")}
    new = [lk for lk in find_links(commits, chats) if lk.id not in have]
    if new:
        s.append("links", new)
    return new


def chat(cid: str, ts: str, query: str, response: str, modified: list[str], **kw) -> Chat:
    sid, _, uuid = cid.rpartition(":")
    return Chat(id=cid, session_id=sid, assistant="claude-code", model="claude-test", timestamp=ts,
                ended_at=kw.pop("ended_at", ts), prompt_uuid=uuid, query=query, response=response,
                files_modified=modified, **kw)


def git_ml(repo, verb: str, *args: str, **kw):
    return repo.run(f"git-ml-{verb}", *args, **kw)


def as_json(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def explored(repo):
    """A repository whose first commits were written in the fixture's Claude session."""
    repo.commit("Initial layout", {"README.md": "# demo\n", "src/app.py": "def main():\n    return 0\n"},
                date="2025-01-01T09:00:00+0000")
    a = repo.commit("Fix the crash in app", {"src/app.py": "def main():\n    return compute() or 0\n"},
                    date="2025-01-01T10:00:30+0000")
    b = repo.commit("Add a regression test", {"tests/test_bug.py": "def test_bug():\n    assert True\n"},
                    date="2025-01-01T10:02:30+0000")
    c = repo.commit("Update the guide", {"docs/guide.md": "Guide\n"}, date="2025-01-02T08:00:00+0000")
    assert git_ml(repo, "capture", "--backfill", "-q").returncode == 0
    parsed = parse_claude(FIXTURE, "/repo")
    s = store(repo)
    s.append_many({"chats": parsed.chats, "sessions": parsed.sessions})
    s.append("feedback", [Feedback(id=f"{U1}@2025-01-01T11:00:00Z", chat_id=U1, rating="good",
                                   comment="exactly right", time="2025-01-01T11:00:00Z")])
    links = link_everything(repo)
    assert {(lk.commit, lk.chat_id) for lk in links} == {(a, U1), (b, U2)}
    repo.a, repo.b, repo.c = a, b, c
    return repo


# ----- show -------------------------------------------------------------------------------------------------------
def test_show_commit_with_its_chat_session_and_feedback(explored):
    doc = as_json(git_ml(explored, "show", explored.a, "--json"))
    assert doc["kind"] == "commit" and doc["id"] == explored.a and doc["captured"]
    assert doc["via"] == "link"
    assert doc["commit"]["message"] == "Fix the crash in app"
    assert [c["id"] for c in doc["chats"]] == [U1]
    chat = doc["chats"][0]
    assert chat["query"] == "Fix the bug in src/app.py"
    assert "src/app.py" in chat["files_modified"]
    assert chat["feedback"]["rating"] == "good"
    assert chat["link"]["reason"] == "files" and chat["link"]["commit"] == explored.a
    assert doc["session"]["id"] == SID

    text = git_ml(explored, "show", explored.a)
    assert text.returncode == 0, text.stderr
    out = text.stdout
    assert f"commit {explored.a}" in out and "Fix the bug in src/app.py" in out
    assert "good — exactly right" in out and "\033[" not in out  # not a terminal: no colour
    assert all(len(line) <= 80 for line in out.splitlines())


def test_show_defaults_to_head_and_says_when_nothing_is_linked(explored):
    doc = as_json(git_ml(explored, "show", "--json"))
    assert doc["id"] == explored.c and doc["chats"] == [] and doc["via"] is None
    assert "No assistant chat" in git_ml(explored, "show").stdout


def test_show_chat_and_session_by_prefix(explored):
    doc = as_json(git_ml(explored, "show", U1, "--json"))
    assert doc["kind"] == "chat" and doc["chat"]["response"].endswith("Fixed the bug.")
    assert [c["id"] for c in doc["commits"]] == [explored.a]
    assert doc["commits"][0]["subject"] == "Fix the crash in app"
    assert doc["feedback"]["rating"] == "good" and doc["session"]["id"] == SID

    doc = as_json(git_ml(explored, "show", SID[:8], "--json"))
    assert doc["kind"] == "session" and doc["id"] == SID
    assert [c["id"] for c in doc["chats"]] == [U1, U2, U3]
    assert {c["id"] for c in doc["commits"]} == {explored.a, explored.b}
    text = git_ml(explored, "show", SID[:8]).stdout
    assert "Fix the bug in src/app.py" in text and explored.a[:8] in text


def test_show_full_prints_whole_responses(explored):
    long = "\n".join(f"step {i}: something was done" for i in range(40))
    store(explored).append("chats", [chat(f"{SID}:u9", "2025-01-01T10:05:00Z", "Explain", long, [])])
    short = git_ml(explored, "show", f"{SID}:u9").stdout
    assert "step 39" not in short and "--full" in short
    full = git_ml(explored, "show", f"{SID}:u9", "--full").stdout
    assert "step 39: something was done" in full


def test_ambiguous_prefix_lists_candidates(explored):
    other = "0f0e0d0c-9999-4222-8333-444455556666"
    store(explored).append("sessions", [Session(id=other, assistant="codex", started_at="2025-02-01T00:00:00Z")])
    r = git_ml(explored, "show", "0f0e0d0c")
    assert r.returncode == 1
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and "ambiguous" in err and SID in err and other in err
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("verb,args,needle", [
    ("show", ["no-such-thing"], "unknown revision"),
    ("show", [f"{SID}:nope"], "unknown revision"),
    ("log", ["no-such-branch"], "no-such-branch"),
    ("blame", ["missing.py"], "missing.py"),
    ("blame", ["src/app.py", "no-such-rev"], "no-such-rev"),
    ("blame", ["src/app.py", "-L", "9,2"], "line range"),
    ("search", ["the", "--in", "nowhere"], "--in"),
    ("search", ["the"], "nothing to search"),
    ("search", ["crash", "--since", "not a date at all"], "date"),
])
def test_bad_input_is_one_line(explored, verb, args, needle):
    r = git_ml(explored, verb, *args)
    assert r.returncode != 0
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("verb,args", [("show", []), ("log", []), ("blame", ["a.txt"]), ("search", ["x"])])
def test_empty_store_says_how_to_capture(repo, verb, args):
    repo.commit("one", {"a.txt": "a\n"})
    r = git_ml(repo, verb, *args)
    assert r.returncode == 1
    assert "git ml capture --backfill" in r.stderr and "git ml capture import" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_not_a_repository(tmp_path):
    import subprocess

    r = subprocess.run(["git-ml-show"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 1 and "not a git repository" in r.stderr


# ----- log --------------------------------------------------------------------------------------------------------
def test_log_marks_counts_filters_and_share(explored):
    r = git_ml(explored, "log")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(explored.c[:10]) and "[ai" not in lines[0]
    assert lines[1].startswith(explored.b[:10]) and "[ai 1]" in lines[1]
    assert lines[2].startswith(explored.a[:10]) and "[ai 1]" in lines[2] and "Fix the crash in app" in lines[2]
    assert lines[-1].startswith("2 of 4 commits (50.0%)")

    doc = as_json(git_ml(explored, "log", "--json"))
    assert [c["id"] for c in doc["commits"]] == [explored.c, explored.b, explored.a,
                                                 explored.git("rev-parse", "HEAD~3").strip()]
    assert doc["commits"][2]["chats"] == [U1] and doc["commits"][2]["via"] == "link"
    assert (doc["examined"], doc["with_chats"], doc["share"]) == (4, 2, 0.5)

    only = as_json(git_ml(explored, "log", "--ai-only", "--json"))
    assert [c["id"] for c in only["commits"]] == [explored.b, explored.a]
    none = as_json(git_ml(explored, "log", "--no-ai", "--json"))
    assert explored.a not in [c["id"] for c in none["commits"]] and len(none["commits"]) == 2
    one = as_json(git_ml(explored, "log", "-n", "1", "--ai-only", "--json"))
    assert [c["id"] for c in one["commits"]] == [explored.b] and one["examined"] == 2
    assert [c["id"] for c in as_json(git_ml(explored, "log", "-2", "--json"))["commits"]] == [explored.c,
                                                                                           explored.b]
    paths = as_json(git_ml(explored, "log", "--json", "--", "src/app.py"))
    assert [c["id"] for c in paths["commits"]][0] == explored.a and paths["examined"] == 2
    rng = as_json(git_ml(explored, "log", f"{explored.a}..HEAD", "--json"))
    assert [c["id"] for c in rng["commits"]] == [explored.c, explored.b]


def test_output_fits_the_width(explored):
    explored.commit("A very long subject " * 10, {"x.txt": "x\n"})
    out = git_ml(explored, "log", env={"COLUMNS": "50"}).stdout
    assert all(len(line) <= 50 for line in out.splitlines())
    assert "…" in out.splitlines()[0]


def test_color_only_when_asked_off_a_terminal(explored):
    assert "\033[" not in git_ml(explored, "log").stdout
    assert "\033[33m" in git_ml(explored, "log", "--color").stdout
    explored.git("config", "color.ui", "always")
    assert "\033[" in git_ml(explored, "log").stdout
    assert "\033[" not in git_ml(explored, "log", "--no-color").stdout


# ----- blame ------------------------------------------------------------------------------------------------------
def test_blame_attributes_lines_to_the_chat(explored):
    doc = as_json(git_ml(explored, "blame", "src/app.py", "--json"))
    assert doc["file"] == "src/app.py"
    first, second = doc["lines"]
    assert first["commit"] == explored.git("rev-parse", "HEAD~3").strip() and first["chat"] is None
    assert second["commit"] == explored.a and second["chat"] == U1
    assert second["prompt"] == "Fix the bug in src/app.py" and second["text"] == "    return compute() or 0"
    assert doc["summary"] == {"lines": 2, "ai_lines": 1, "commits": 1, "chats": 1, "share": 0.5}
    text = git_ml(explored, "blame", "src/app.py", env={"COLUMNS": "140"}).stdout
    assert "Fix the bug in src/app.py" in text and "1 of 2 lines (50.0%)" in text
    ranged = as_json(git_ml(explored, "blame", "src/app.py", "-L", "2,2", "--json"))
    assert [ln["line"] for ln in ranged["lines"]] == [2]
    old = as_json(git_ml(explored, "blame", "src/app.py", "HEAD~3", "--json"))
    assert all(ln["chat"] is None for ln in old["lines"])


def test_blame_needs_the_chat_to_have_modified_the_file(explored):
    # The commit touched two files, the chat only one of them.
    s = store(explored)
    sha = explored.commit("Two files", {"src/app.py": "x = 1\n", "other.py": "y = 2\n"},
                          date="2025-01-03T10:00:30+0000")
    assert git_ml(explored, "capture", "-q").returncode == 0
    s.append("chats", [chat(f"{SID}:u7", "2025-01-03T10:00:00Z", "Touch other", "ok", ["other.py"])])
    link_everything(explored)
    assert as_json(git_ml(explored, "show", sha, "--json"))["chats"][0]["id"] == f"{SID}:u7"
    lines = as_json(git_ml(explored, "blame", "src/app.py", "--json"))["lines"]
    assert lines[0]["commit"] == sha and lines[0]["chat"] is None
    assert as_json(git_ml(explored, "blame", "other.py", "--json"))["lines"][0]["chat"] == f"{SID}:u7"


# ----- rewritten history ------------------------------------------------------------------------------------------
def _feature_with_chats(repo, hooks: bool):
    """main: base, then an unrelated commit; feature: two commits written in two chats."""
    if hooks:
        assert git_ml(repo, "install-hooks").returncode == 0
    repo.commit("base", {"calc.py": "# calculator\n", "notes.md": "notes\n"}, date="2025-05-01T09:00:00+0000")
    repo.git("checkout", "-q", "-b", "feature")
    f1 = repo.commit("Add addition", {"calc.py": "# calculator\ndef add(a, b):\n    return a + b\n"},
                     date="2025-05-01T10:00:30+0000")
    f2 = repo.commit("Add subtraction", {"calc.py": "# calculator\ndef add(a, b):\n    return a + b\n"
                                                   "def subtract(a, b):\n    return a - b\n",
                                         "util.py": "def clamp(x):\n    return max(0, x)\n"},
                     date="2025-05-01T11:00:30+0000")
    repo.git("checkout", "-q", "main")
    m = repo.commit("Unrelated note", {"notes.md": "notes\nmore\n"}, date="2025-05-01T12:00:00+0000")
    if not hooks:
        # Capture single commits (with patch ids), as a hook would have.
        assert git_ml(repo, "capture", "-q", f1, f2, m).returncode == 0
    assert git_ml(repo, "capture", "--backfill", "-q", "--all" if False else "HEAD").returncode == 0
    s = store(repo)
    s.append("chats", [
        chat("feat-session:c1", "2025-05-01T10:00:00Z", "Add an add function to calc.py",
             "I added add(a, b) to calc.py.", ["calc.py"]),
        chat("feat-session:c2", "2025-05-01T11:00:00Z", "Now subtraction, and a clamp helper",
             "Added subtract and clamp.", ["calc.py", "util.py"]),
    ])
    links = link_everything(repo)
    assert {(lk.commit, lk.chat_id) for lk in links} >= {(f1, "feat-session:c1"), (f2, "feat-session:c2")}
    return f1, f2


@pytest.mark.parametrize("hooks", [True, False])
def test_rebase_resolves_through_rewrites_or_patch_ids(repo, hooks):
    f1, f2 = _feature_with_chats(repo, hooks)
    repo.git("checkout", "-q", "feature")
    repo.git("rebase", "-q", "main")
    n1, n2 = repo.git("rev-parse", "HEAD~1", "HEAD").split()
    assert (n1, n2) != (f1, f2)
    if not hooks:
        assert git_ml(repo, "capture", "-q", n1, n2).returncode == 0
    via = "rewrite" if hooks else "patch-id"
    doc = as_json(git_ml(repo, "show", n2, "--json"))
    assert doc["via"] == via and doc["sources"] == [f2]
    assert [c["id"] for c in doc["chats"]] == ["feat-session:c2"]
    assert "Conversation found through" in git_ml(repo, "show", n2).stdout

    log = as_json(git_ml(repo, "log", "-n", "3", "--json"))["commits"]
    assert [(c["id"], c["chats"], c["via"]) for c in log[:2]] == [(n2, ["feat-session:c2"], via),
                                                                 (n1, ["feat-session:c1"], via)]
    assert "[ai 1*]" in git_ml(repo, "log", "-n", "2").stdout

    lines = as_json(git_ml(repo, "blame", "calc.py", "--json"))["lines"]
    assert [ln["chat"] for ln in lines] == [None] + ["feat-session:c1"] * 2 + ["feat-session:c2"] * 2
    assert {ln["via"] for ln in lines[1:]} == {via}


def test_rebase_of_backfilled_commits_resolves_by_shape_and_patch_id(repo):
    """Neither rewrites nor stored patch ids (backfill records have none): patch ids are computed on demand."""
    f1, f2 = _feature_with_chats(repo, hooks=False)
    repo.git("checkout", "-q", "feature")
    repo.git("rebase", "-q", "main")
    n2 = repo.git("rev-parse", "HEAD").strip()
    assert git_ml(repo, "capture", "--backfill", "-q").returncode == 0
    doc = as_json(git_ml(repo, "show", n2, "--json"))
    assert doc["via"] == "patch-id" and [c["id"] for c in doc["chats"]] == ["feat-session:c2"]
    log = as_json(git_ml(repo, "log", "-n", "2", "--json"))["commits"]
    assert [(c["chats"], c["via"]) for c in log] == [(["feat-session:c2"], "patch-id"),
                                                     (["feat-session:c1"], "patch-id")]


def test_amend_resolves_through_post_rewrite(repo):
    assert git_ml(repo, "install-hooks").returncode == 0
    repo.commit("base", {"a.py": "a\n"}, date="2025-06-01T09:00:00+0000")
    old = repo.commit("Tweak", {"a.py": "a\nb\n"}, date="2025-06-01T10:00:30+0000")
    store(repo).append("chats", [chat("s:c1", "2025-06-01T10:00:00Z", "add b to a.py", "done", ["a.py"])])
    link_everything(repo)
    repo.git("commit", "-q", "--amend", "-m", "Tweak a.py")
    new = repo.git("rev-parse", "HEAD").strip()
    doc = as_json(git_ml(repo, "show", "--json"))
    assert doc["id"] == new and doc["via"] == "rewrite" and doc["sources"] == [old]
    assert [c["id"] for c in doc["chats"]] == ["s:c1"]


def test_interactive_squash_maps_both_commits(repo):
    f1, f2 = _feature_with_chats(repo, hooks=True)
    repo.git("checkout", "-q", "feature")
    # Squash the two feature commits into one (what `rebase -i` with "squash" does), through the sequence editor.
    env = {"GIT_SEQUENCE_EDITOR": "sed -i -e '2s/^pick/squash/'", "GIT_EDITOR": "true"}
    repo.git("rebase", "-q", "-i", "main", env=env)
    new = repo.git("rev-parse", "HEAD").strip()
    assert repo.git("rev-list", "--count", "main..HEAD").strip() == "1"
    doc = as_json(git_ml(repo, "show", new, "--json"))
    assert doc["via"] == "rewrite" and set(doc["sources"]) == {f1, f2}
    assert {c["id"] for c in doc["chats"]} == {"feat-session:c1", "feat-session:c2"}
    lines = as_json(git_ml(repo, "blame", "util.py", "--json"))["lines"]
    assert {ln["chat"] for ln in lines} == {"feat-session:c2"}


def test_squash_merge_with_gits_message_names_the_commits(repo):
    f1, f2 = _feature_with_chats(repo, hooks=True)
    repo.git("merge", "-q", "--squash", "feature")
    repo.git("commit", "-q", "--no-edit")
    sq = repo.git("rev-parse", "HEAD").strip()
    assert "Squashed commit of the following" in repo.git("log", "-1", "--format=%B")
    doc = as_json(git_ml(repo, "show", sq, "--json"))
    assert doc["via"] == "message" and set(doc["sources"]) == {f1, f2}
    log = as_json(git_ml(repo, "log", "-n", "1", "--json"))["commits"][0]
    assert log["id"] == sq and set(log["chats"]) == {"feat-session:c1", "feat-session:c2"}


def test_squash_merge_made_elsewhere_resolves_by_content(repo):
    """A squash merge with its own message (as a hosting service writes it): each line goes to the chat of the
    feature commit that added it."""
    f1, f2 = _feature_with_chats(repo, hooks=True)
    repo.git("merge", "-q", "--squash", "feature")
    when = "2025-05-03T09:00:00+0000"
    repo.git("commit", "-q", "-m", "Calculator (#12)", env={"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when})
    sq = repo.git("rev-parse", "HEAD").strip()
    doc = as_json(git_ml(repo, "show", sq, "--json"))
    assert doc["via"] == "squash" and set(doc["sources"]) == {f1, f2}
    lines = as_json(git_ml(repo, "blame", "calc.py", "--json"))["lines"]
    assert [ln["commit"] for ln in lines[1:]] == [sq] * 4
    assert [ln["chat"] for ln in lines] == [None] + ["feat-session:c1"] * 2 + ["feat-session:c2"] * 2
    assert {ln["via"] for ln in lines[1:]} == {"squash"}
    text = git_ml(repo, "blame", "calc.py", env={"COLUMNS": "120"}).stdout
    assert "4 of 5 lines (80.0%) trace back to 2 assistant chats in 1 commit" in text


def test_unrelated_later_commit_is_not_taken_for_a_squash(repo):
    _feature_with_chats(repo, hooks=True)
    # Same file, different content: no link may be inferred.
    sha = repo.commit("Rewrite calc", {"calc.py": "# calculator v2\ndef mul(a, b):\n    return a * b\n"},
                      date="2025-05-02T09:00:00+0000")
    doc = as_json(git_ml(repo, "show", sha, "--json"))
    assert doc["via"] is None and doc["chats"] == []


# ----- search -----------------------------------------------------------------------------------------------------
@pytest.fixture
def searchable(explored):
    store(explored).append("chats", [
        chat(f"{SID}:s1", "2025-01-05T10:00:00Z", "Why is the parser slow?",
             "The tokenizer rebuilt its regular expression on every call; caching the compiled pattern made "
             "parsing four times faster.", ["src/parser.py"]),
        chat(f"{SID}:s2", "2025-03-05T10:00:00Z", "Write release notes",
             "Release notes drafted for version two.", ["NOTES.md"]),
    ])
    return explored


def test_search_finds_a_chat_by_a_phrase_from_its_response(searchable):
    hits = as_json(git_ml(searchable, "search", "caching the compiled pattern", "--json"))
    assert hits[0]["kind"] == "chat" and hits[0]["id"] == f"{SID}:s1"
    assert set(hits[0]) >= {"kind", "id", "score", "snippet", "commits"}
    assert "**caching**" in hits[0]["snippet"] and "**compiled**" in hits[0]["snippet"]
    assert hits[0]["score"] > 0
    text = git_ml(searchable, "search", "compiled", "pattern")
    assert text.returncode == 0 and f"{SID[:8]}:s1" in text.stdout and "**compiled**" in text.stdout
    # The short id text output prints resolves back to the chat.
    assert as_json(git_ml(searchable, "show", f"{SID[:8]}:s1", "--json"))["id"] == f"{SID}:s1"


def test_search_shares_predicts_tokenizer(searchable):
    # "cached" and "caching" meet at one stem; identifiers split into their parts.
    hits = as_json(git_ml(searchable, "search", "cached patterns", "--json"))
    assert hits and hits[0]["id"] == f"{SID}:s1"


def test_search_commits_filters_and_linked_commits(searchable):
    hits = as_json(git_ml(searchable, "search", "crash", "--json"))
    assert [(h["kind"], h["id"]) for h in hits] == [("commit", searchable.a)]
    assert hits[0]["chats"] == [U1]
    bug = as_json(git_ml(searchable, "search", "bug", "--in", "chats", "--json"))
    assert bug[0]["id"] == U1 and bug[0]["commits"] == [searchable.a]
    assert all(h["kind"] == "commit" for h in as_json(git_ml(searchable, "search", "bug test", "--in", "commits",
                                                               "--json")))
    since = as_json(git_ml(searchable, "search", "release notes parser", "--since", "2025-02-01", "--json"))
    assert [h["id"] for h in since] == [f"{SID}:s2"]
    assert as_json(git_ml(searchable, "search", "crash", "--author", "nobody", "--json")) == []
    assert as_json(git_ml(searchable, "search", "crash", "--author", "ada@", "--json"))[0]["id"] == searchable.a
    assert len(as_json(git_ml(searchable, "search", "the bug test app", "--limit", "1", "--json"))) == 1
    none = git_ml(searchable, "search", "zebra")
    assert none.returncode == 1 and "no match" in none.stdout


def test_search_index_follows_new_records_and_tombstones(searchable):
    assert as_json(git_ml(searchable, "search", "zeppelin", "--json")) == []
    s = store(searchable)
    s.append("chats", [chat(f"{SID}:z1", "2025-01-06T10:00:00Z", "zeppelin route", "A zeppelin flies.", [])])
    assert [h["id"] for h in as_json(git_ml(searchable, "search", "zeppelin", "--json"))] == [f"{SID}:z1"]
    s.append("tombstones", [Tombstone(id=f"chats:{SID}:z1", stream="chats", target=f"{SID}:z1",
                                      reason="cleanup")])
    assert as_json(git_ml(searchable, "search", "zeppelin", "--json")) == []
    assert git_ml(searchable, "show", f"{SID}:z1").returncode == 1


def test_search_non_ascii_prompt(explored):
    store(explored).append("chats", [chat("jp:1", "2025-01-07T10:00:00Z", "CLAUDE.md を最新の状態にアップデート",
                                          "更新しました", [])])
    hits = as_json(git_ml(explored, "search", "最新の状態", "--json"))
    assert hits and hits[0]["id"] == "jp:1"


# ----- the index ----------------------------------------------------------------------------------------------------
def test_index_is_updated_incrementally_and_rebuilt_after_compaction(explored):
    from git_ml.explore.index import Index
    from git_ml.store.core import DATA_REF

    r = explored.open()
    ix = Index.open(r)
    path = ix.path

    def build_id(ix):
        return ix.db.execute("SELECT value FROM meta WHERE key='built'").fetchone()[0]

    built = build_id(ix)
    assert ix.counts()["chats"] == 3
    store(explored).append("chats", [chat(f"{SID}:n1", "2025-01-08T10:00:00Z", "new", "new", [])])
    ix = Index.open(explored.open())
    assert ix.counts()["chats"] == 4 and build_id(ix) == built  # updated in place
    # A newer version of a chat wins.
    store(explored).append("chats", [chat(f"{SID}:n1", "2025-01-08T10:00:00Z", "newer", "v2", [],
                                          captured_at="2099-01-01T00:00:00.000000Z")])
    ix = Index.open(explored.open())
    assert json.loads(ix.chat_json(f"{SID}:n1"))["query"] == "newer"
    # Chunks removed (compaction, repair): the index is rebuilt, not patched.
    s = store(explored)
    s.update(DATA_REF, removes=[c.path for c in s.iter_chunks("chats")], message="drop the chats")
    ix = Index.open(explored.open())
    assert build_id(ix) != built and ix.path == path
    assert ix.counts()["chats"] == 0 and ix.counts()["commits"] == 4


def test_shared_sample_transcript(repo, shared):
    """The real Claude Code sample: three prompts that create, edit and delete files."""
    sample = shared / "samples" / "transcripts" / "claude-code_codemie_4c2ddfdc_v2.0.64.jsonl"
    parsed = parse_claude(sample, "/tmp/private")
    repo.commit("Hello files", {"hello.py": "print('hi')\n", "hello.md": "# hi\n", "hello.js": "1\n"},
                date="2025-12-10T19:38:05+0000")
    sha = repo.commit("Comment hello.py", {"hello.py": "# Simple hello world program\nprint('hi')\n"},
                      date="2025-12-10T19:38:20+0000")
    assert git_ml(repo, "capture", "--backfill", "-q").returncode == 0
    store(repo).append_many({"chats": parsed.chats, "sessions": parsed.sessions})
    link_everything(repo)
    doc = as_json(git_ml(repo, "show", sha, "--json"))
    assert doc["chats"][0]["query"] == "update py with one liner comment"
    assert doc["session"]["model"] == "claude-sonnet-4-5-20250929"
    lines = as_json(git_ml(repo, "blame", "hello.py", "--json"))["lines"]
    assert lines[0]["prompt"] == "update py with one liner comment"
    hits = as_json(git_ml(repo, "search", "one-liner comment", "--in", "chats", "--json"))
    assert hits[0]["id"].endswith("1baa8499-96cb-4978-a5c7-10cc98d3b517") and hits[0]["commits"] == [sha]


def test_blame_from_a_subdirectory_and_a_worktree(explored, tmp_path):
    doc = as_json(explored.run("git-ml-blame", "app.py", "--json", cwd=explored.path / "src"))
    assert doc["lines"][1]["chat"] == U1
    wt = tmp_path / "wt"
    explored.git("worktree", "add", "-q", str(wt), "HEAD")
    doc = as_json(explored.run("git-ml-show", explored.a, "--json", cwd=wt))
    assert [c["id"] for c in doc["chats"]] == [U1]
    assert not (wt / ".git" / "ml").exists()  # the index lives in the common git dir


def test_show_a_commit_only_the_store_knows(explored):
    """A captured commit rewritten away and pruned from git is still shown from its record."""
    gone = explored.commit("Temporary work", {"src/app.py": "tmp\n"}, date="2025-01-01T10:00:50+0000")
    assert git_ml(explored, "capture", "-q").returncode == 0
    store(explored).append("links", [Link(id=f"{gone}:{U1}", commit=gone, chat_id=U1, session_id=SID,
                                          reason="files", score=1.0, seconds=41)])
    explored.git("reset", "-q", "--hard", "HEAD~1")
    explored.git("reflog", "expire", "--expire=now", "--all")
    explored.git("gc", "-q", "--prune=now")
    assert explored.git("cat-file", "-t", gone, check=False) == ""
    doc = as_json(git_ml(explored, "show", gone[:12], "--json"))
    assert doc["id"] == gone and doc["captured"] and doc["commit"]["message"] == "Temporary work"
    assert [c["id"] for c in doc["chats"]] == [U1]


def test_session_only_link_shows_the_session(explored):
    store(explored).append("links", [Link(id=f"{explored.c}:{SID}", commit=explored.c, chat_id="", session_id=SID,
                                          reason="session")])
    doc = as_json(git_ml(explored, "show", explored.c, "--json"))
    assert doc["chats"] == [] and doc["session"]["id"] == SID and doc["sessions"] == [SID]
    log = as_json(git_ml(explored, "log", "-n", "1", "--json"))
    assert log["commits"][0]["sessions"] == [SID] and log["with_session_only"] == 1 and log["with_chats"] == 0
    assert "[sess]" in git_ml(explored, "log", "-n", "1").stdout


def test_corrupt_chunk_is_skipped_with_one_warning(explored):
    from git_ml.store.core import DATA_REF

    r = explored.open()
    blob = r.create_blob(b"not zstd at all")
    store(explored).update(DATA_REF, adds={"chats/ab/abcdef.3.jsonl.zst": blob}, message="corrupt")
    res = git_ml(explored, "show", explored.a, "--json")
    assert res.returncode == 0
    assert res.stderr.count("warning: skipping corrupt chunk chats/ab/abcdef.3.jsonl.zst") == 1
    assert [c["id"] for c in json.loads(res.stdout)["chats"]] == [U1]


def test_end_to_end_with_capture_import(repo, tmp_path):
    """The whole path as a user takes it: backfill, `git ml capture import` of a transcript (the fixture, moved
    into this repository), then show, log, blame and search."""
    repo.commit("Initial layout", {"src/app.py": "def main():\n    return 0\n"}, date="2025-01-01T09:00:00+0000")
    a = repo.commit("Fix the crash in app", {"src/app.py": "def main():\n    return compute() or 0\n"},
                    date="2025-01-01T10:00:30+0000")
    assert git_ml(repo, "capture", "--backfill", "-q").returncode == 0
    transcript = tmp_path / "session.jsonl"
    transcript.write_text(FIXTURE.read_text().replace('"/repo', f'"{repo.path}'))
    imported = git_ml(repo, "capture", "import", "--from", "claude", str(transcript))
    assert imported.returncode == 0, imported.stderr
    doc = as_json(git_ml(repo, "show", "--json"))
    assert doc["id"] == a and [c["id"] for c in doc["chats"]] == [U1]
    assert as_json(git_ml(repo, "log", "--json"))["with_chats"] == 1
    assert as_json(git_ml(repo, "blame", "src/app.py", "--json"))["lines"][1]["chat"] == U1
    hits = as_json(git_ml(repo, "search", "Looking at it", "--in", "chats", "--json"))
    assert hits[0]["id"] == U1 and hits[0]["commits"] == [a]


def test_automatic_compaction_keeps_the_index_incremental(explored):
    from git_ml.explore.index import Index

    explored.git("config", "ml.autoCompact", "3")
    ix = Index.open(explored.open())

    def build_id(ix):
        return ix.db.execute("SELECT value FROM meta WHERE key='built'").fetchone()[0]

    built = build_id(ix)
    s = store(explored)
    before = len(list(s.iter_chunks("chats")))
    for i in range(6):
        s.append("chats", [chat(f"{SID}:ac{i}", f"2025-01-09T10:0{i}:00Z", f"compaction {i}", "ok", [])])
        ix = Index.open(explored.open())
        assert ix.counts()["chats"] == 4 + i
    assert len(list(s.iter_chunks("chats"))) < before + 6  # small chunks were merged on the way
    assert build_id(ix) == built  # never rebuilt
    assert as_json(git_ml(explored, "show", f"{SID}:ac0", "--json"))["chat"]["query"] == "compaction 0"


def test_concurrent_commands_share_one_index(explored):
    import subprocess

    # No index yet, and the store moves on: four readers at once build/update it without stepping on each other.
    store(explored).append("chats", [chat(f"{SID}:cc", "2025-01-10T10:00:00Z", "concurrent", "ok", [])])
    procs = [subprocess.Popen(["git-ml-show", f"{SID}:cc", "--json"], cwd=explored.path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert json.loads(out)["chat"]["query"] == "concurrent"


def test_truncated_chunk_object_is_named_and_skipped_without_hanging(explored):
    """A loose object cut in half (libgit2 never returns from reading one): every explore verb finishes, names the
    chunk once, and answers from the rest of the store."""
    import os
    import subprocess

    entries = [ln.split("\t", 1) for ln in explored.git("ls-tree", "-r", "refs/ml/data").splitlines()]
    oid, path = next((meta.split()[2], p) for meta, p in entries if p.startswith("chats/"))
    obj = explored.path / ".git" / "objects" / oid[:2] / oid[2:]
    assert obj.is_file()
    os.chmod(obj, 0o644)
    os.truncate(obj, obj.stat().st_size // 2)
    warned = 0
    for args in (["show", explored.a, "--json"], ["log", "-n", "5"], ["search", "regression"],
                 ["blame", "src/app.py"]):
        res = subprocess.run(["git", "ml", *args], cwd=explored.path, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, (args, res.stderr)
        warned += res.stderr.count(f"warning: skipping corrupt chunk {path}")
    assert warned == 1  # by the command that built the index
    log = subprocess.run(["git", "ml", "log", "--json"], cwd=explored.path, capture_output=True, text=True,
                         timeout=60)
    assert len(json.loads(log.stdout)["commits"]) == 4


# ----- the one reader: the index keeps the versions the store's reader returns -------------------------------------
@pytest.mark.parametrize("built_at", ["end", "middle", "start"])
def test_show_and_search_see_the_readers_winners(repo, built_at):
    """Conflicting versions, ties broken by digest, byte-identical copies and tombstones: `show` and `search` see
    the versions ``git_ml.store.reader.current`` returns, whether the index was built at the end (a full build) or
    at an earlier tip and then brought up to date by incremental merges."""
    from populated import conflicting_store

    from git_ml.explore.text import doc_tokens
    from git_ml.store import reader

    data = conflicting_store(repo)
    s = store(repo)
    for stream in ("commits", "chats"):
        current = reader.current(s, stream)
        assert set(current) == set(data["expected"][stream])
    tips = repo.git("rev-list", "--first-parent", "refs/ml/data").split()
    if built_at != "end":
        final = tips[0]
        back = tips[len(tips) // 2] if built_at == "middle" else tips[-2]
        repo.git("update-ref", "refs/ml/data", back)
        assert git_ml(repo, "log", "-n", "1").returncode == 0
        repo.git("update-ref", "refs/ml/data", final)
    for sha, line in data["expected"]["commits"].items():
        doc = as_json(git_ml(repo, "show", sha, "--json"))
        assert doc["captured"] and doc["commit"] == json.loads(line), sha
    for sha in data["hidden"]["commits"]:
        assert as_json(git_ml(repo, "show", sha, "--json"))["captured"] is False
    for cid, line in data["expected"]["chats"].items():
        assert as_json(git_ml(repo, "show", cid, "--json"))["chat"] == json.loads(line), cid
    assert git_ml(repo, "show", "sess-t:gone", "--json").returncode == 1
    for word in ("feat", "fix"):
        hits = as_json(git_ml(repo, "search", word, "--in", "commits", "--limit", "100", "--json"))
        want = {i for i, line in data["expected"]["commits"].items()
                if doc_tokens(word)[0] in doc_tokens(json.loads(line)["message"])}
        assert {h["id"] for h in hits} == want, word
    hits = as_json(git_ml(repo, "search", "answer", "--in", "chats", "--limit", "100", "--json"))
    assert {h["id"]: h["snippet"] for h in hits} == {
        cid: f"**answer** {json.loads(line)['response'].split(' ', 1)[1]}"
        for cid, line in data["expected"]["chats"].items() if "answer" in json.loads(line)["response"]}
