"""Tests of git_ml.predict and git-ml-predict: hermetic (temp repos, synthetic histories), plus the shared
datasets when present (skipped cleanly otherwise)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pygit2
import pytest
from conftest import ROOT as PROJECT_ROOT
from conftest import SHARED as SHARED_ROOT

from git_ml.schema import Commit

SHARED = SHARED_ROOT / "datasets"
ROOT = PROJECT_ROOT


def dataset(name: str, limit: int | None = None) -> list[Commit]:
    path = SHARED / f"{name}.history.jsonl.zst"
    if not path.exists():
        pytest.skip(f"shared dataset {path} not present")
    from git_ml.predict.dataset import load_history

    return load_history(path, limit)


# -- synthetic histories ----------------------------------------------------------------------------------------------

TOPICS = {
    "auth": ["src/auth/login.py", "src/auth/tokens.py", "tests/test_auth.py"],
    "parser": ["src/parser/lexer.py", "src/parser/grammar.py", "tests/test_parser.py"],
    "network": ["src/net/httpClient.py", "src/net/retry_policy.py", "tests/test_net.py"],
    "docs": ["docs/index.md", "README.md"],
}
WORDS = {
    "auth": ["login", "token", "password", "session expiry", "oauth"],
    "parser": ["lexer", "grammar", "syntax error", "parse tree", "tokenizer"],
    "network": ["http client", "retry", "timeout", "proxy", "connection pool"],
    "docs": ["documentation", "typo", "readme", "install guide", "docs"],
}


def synthetic(n: int = 300, seed: int = 0) -> list[Commit]:
    rnd = random.Random(seed)
    out = []
    live: set[str] = set()
    parent: list[str] = []
    for i in range(n):
        topic = rnd.choice(sorted(TOPICS))
        files = rnd.sample(TOPICS[topic], rnd.randint(1, len(TOPICS[topic])))
        words = rnd.sample(WORDS[topic], 2)
        msg = f"{rnd.choice(['Fix', 'Improve', 'Refactor'])} {words[0]} and {words[1]}\n\nBody about {topic}."
        entries = [("M" if f in live else "A", f, rnd.randint(1, 9), rnd.randint(0, 5), None) for f in files]
        live.update(files)
        cid = f"{i:040x}"
        out.append(Commit(id=cid, message=msg, author_email=f"dev{i % 3}@example.com", time=1_600_000_000 + 600 * i,
                          parents=parent, files=entries))
        parent = [cid]
    return out


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """An empty repository as the current directory, no GIT_DIR from outside."""
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    path = tmp_path / "repo"
    r = pygit2.init_repository(str(path))
    r.config["user.email"] = "dev1@example.com"
    monkeypatch.chdir(path)
    return r


@pytest.fixture
def captured(monkeypatch):
    """Make the store read return a given list of commits (the store is tested elsewhere)."""
    box: dict[str, list] = {"commits": []}

    def fake(repo):
        return list(box["commits"]), ("f" * 40 if box["commits"] else None)

    import git_ml.predict.api as api
    import git_ml.predict.history as history

    monkeypatch.setattr(history, "captured_commits", fake)
    monkeypatch.setattr(api, "captured_commits", fake)
    return box


def run_cli(args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    from git_ml.cli import predict as cli

    monkeypatch.setattr(sys, "argv", ["git-ml-predict", *args])
    code = cli.main()
    out, err = capsys.readouterr()
    return code, out, err


# -- tokenizer ---------------------------------------------------------------------------------------------------------


def test_tokens_split_identifiers_and_paths():
    from git_ml.predict.text import path_tokens, subject, tokens

    assert tokens("Fix getRemoteURL in http_client") == ["fix", "getremoteurl", "get", "remot", "url",
                                                         "httpclient", "http", "client"]
    assert tokens("the and of 12345 x") == []
    assert tokens("fixes fixed fixing") == ["fix", "fix", "fix"]
    assert path_tokens("src/net/httpClient.py") == ["src", "net", "httpclient", "http", "client"]
    assert subject("one\ntwo") == "one"


# -- the model ------------------------------------------------------------------------------------------------------


def test_ranks_the_topic_files_first():
    from git_ml.predict.evaluate import build
    from git_ml.predict.model import rank

    commits = synthetic(400)
    ix, w = build(commits)
    q, order, scores = rank(ix, w, "retry timeout in the proxy", top=3)
    top = {ix.paths[q.cand[i]] for i in order}
    assert top <= set(TOPICS["network"])
    assert list(scores) == sorted(scores, reverse=True)


def test_only_live_files_and_renames_keep_history():
    from git_ml.predict.index import Index
    from git_ml.predict.model import DEFAULT_WEIGHTS, rank

    ix = Index()
    def mk(i, msg, files):
        return Commit(id=f"{i:040x}", message=msg, author_email="a", time=i, files=files)
    ix.learn(mk(1, "add frobnicator", [("A", "frob.py", 1, 0, None), ("A", "old.py", 1, 0, None)]))
    ix.learn(mk(2, "tune frobnicator", [("M", "frob.py", 1, 0, None)]))
    ix.learn(mk(3, "move frobnicator", [("R100", "core/frob.py", 0, 0, "frob.py")]))
    ix.learn(mk(4, "drop old", [("D", "old.py", 0, 1, None)]))
    ix.compact()
    q, order, _ = rank(ix, DEFAULT_WEIGHTS, "frobnicator bug", top=10)
    ranked = [ix.paths[q.cand[i]] for i in order]
    assert ranked[0] == "core/frob.py"
    assert "old.py" not in ranked and "frob.py" not in ranked


def test_storage_roundtrip(tmp_path):
    from git_ml.predict.evaluate import build
    from git_ml.predict.model import rank
    from git_ml.predict.storage import Meta, load, save

    commits = synthetic(200)
    ix, w = build(commits)
    save(tmp_path / "m", ix, Meta(weights=[float(x) for x in w]), np.zeros(0, np.uint64))
    ix2, meta, _ = load(tmp_path / "m")
    assert meta.weights == pytest.approx(list(w))
    for text in ("login token", "grammar", "docs typo"):
        q1, o1, s1 = rank(ix, w, text)
        q2, o2, s2 = rank(ix2, np.array(meta.weights), text)
        assert [ix.paths[q1.cand[i]] for i in o1] == [ix2.paths[q2.cand[i]] for i in o2]
        assert np.allclose(s1, s2)


def _rankings(pred_or_ix, weights, queries):
    from git_ml.predict.model import rank

    out = []
    for text, author in queries:
        q, order, _ = rank(pred_or_ix, weights, text, author)
        out.append([pred_or_ix.paths[q.cand[i]] for i in order])
    return out


def _check_incremental_equals_rebuild(repo, captured, commits, cut, queries):
    from git_ml.predict import note_commits
    from git_ml.predict.api import load_predictor, train
    from git_ml.predict.index import Index

    captured["commits"] = commits[:cut]
    train(repo)
    for c in commits[cut:]:
        note_commits(repo, [c])  # one call per commit, as the hook does
    pred = load_predictor(repo, auto_train=False, fold=False)
    assert pred.ix.ncommits == len(commits)
    full = Index()
    for c in commits:
        full.learn(c)
    full.compact()
    assert _rankings(pred.ix, pred.weights, queries) == _rankings(full, pred.weights, queries)


def test_incremental_equals_full_rebuild_synthetic(repo, captured):
    commits = synthetic(300, seed=3)
    queries = [(c.message.split("\n")[0], c.author_email) for c in synthetic(40, seed=9)]
    _check_incremental_equals_rebuild(repo, captured, commits, 200, queries)


def test_incremental_equals_full_rebuild_requests(repo, captured):
    from git_ml.predict.evaluate import eligible

    commits = eligible(dataset("requests", 1400))
    queries = [(c.message.split("\n")[0], c.author_email) for c in dataset("requests")[1400:1460]]
    _check_incremental_equals_rebuild(repo, captured, commits, 1000, queries)


def test_journal_fold_keeps_rankings(repo, captured, monkeypatch):
    import git_ml.predict.api as api
    from git_ml.predict import note_commits
    from git_ml.predict.api import load_predictor, train

    commits = synthetic(260, seed=5)
    captured["commits"] = commits[:200]
    train(repo)
    note_commits(repo, commits[200:])
    before = load_predictor(repo, auto_train=False, fold=False)
    queries = [("retry proxy", None), ("fix lexer", "dev1@example.com"), ("readme typo", None)]
    expect = _rankings(before.ix, before.weights, queries)
    monkeypatch.setattr(api, "FOLD_AT", 10)
    monkeypatch.setattr(api, "REFIT_GROWTH", 10.0)
    load_predictor(repo, auto_train=False)  # folds the journal into the model file
    ml = Path(repo.path) / "ml"
    assert not (ml / "predict.journal").exists()
    after = load_predictor(repo, auto_train=False, fold=False)
    assert after.ix.ncommits == 260
    assert _rankings(after.ix, after.weights, queries) == expect
    # a commit noted twice (hook + later re-capture) is learnt once
    note_commits(repo, commits[-3:])
    assert load_predictor(repo, auto_train=False, fold=False).ix.ncommits == 260


# -- the evaluation protocol -----------------------------------------------------------------------------------------


def test_protocol_n_typer():
    from git_ml.predict.evaluate import evaluate

    report = evaluate(dataset("typer"))
    assert report["n"] == 249
    assert 0.0 <= report["mrr"] <= 1.0 and report["recall_at_10"] >= report["recall_at_5"]


def test_protocol_n_requests_offline():
    from git_ml.predict.evaluate import evaluate

    report = evaluate(dataset("requests"), online=False, tune_window=0)
    assert report["n"] == 898


def test_online_evaluation_does_not_leak(monkeypatch):
    """A query never sees its own commit: at scoring time, the commit is not learnt yet (and every earlier
    test commit is)."""
    from git_ml.predict import evaluate as ev
    from git_ml.predict.index import Index

    commits = synthetic(300, seed=11)
    # every test commit also adds a brand-new file named after a unique word of its subject
    for i in range(240, 300):
        c = commits[i]
        commits[i] = Commit(id=c.id, message=f"zzq{i} " + c.message, author_email=c.author_email, time=c.time,
                            files=c.files + [("A", f"new/zzq{i}.py", 3, 0, None)])
    learnt: list[str] = []
    orig = Index.learn

    def spy(self, commit):
        learnt.append(commit.id)
        return orig(self, commit)

    monkeypatch.setattr(Index, "learn", spy)
    seen = []

    def check(pred):
        assert pred["commit"] not in learnt
        i = int(pred["commit"], 16)
        assert learnt[-1] == f"{i - 1:040x}"  # online: the previous commit was learnt
        assert f"new/zzq{i}.py" not in pred["ranked"]
        seen.append(pred)

    report = ev.evaluate(commits, predictions=check)
    assert report["n"] == len(seen) == 60


# -- command line ----------------------------------------------------------------------------------------------------


def test_cli_predict_json_and_explain(repo, captured, monkeypatch, capsys):
    captured["commits"] = synthetic(300)
    code, out, err = run_cli(["train"], monkeypatch, capsys)
    assert code == 0, err
    assert "trained on 300 commits" in out
    code, out, err = run_cli(["fix the lexer grammar", "--top", "3", "--json"], monkeypatch, capsys)
    assert code == 0, err
    items = json.loads(out)
    assert len(items) == 3 and all(set(x) == {"path", "score"} for x in items)
    assert items[0]["path"] in TOPICS["parser"]
    code, out, err = run_cli(["--explain", "fix", "the", "lexer"], monkeypatch, capsys)
    assert code == 0 and "src/parser" in out and "- " in out
    code, out, err = run_cli(["login", "--seed", "src/auth/tokens.py", "--json"], monkeypatch, capsys)
    assert code == 0, err
    assert "src/auth/tokens.py" not in [x["path"] for x in json.loads(out)]


def test_cli_subcommands_and_forced_text(repo, captured, monkeypatch, capsys):
    captured["commits"] = synthetic(200)
    code, out, _ = run_cli(["stats"], monkeypatch, capsys)
    assert code == 1  # no model yet
    run_cli(["train"], monkeypatch, capsys)
    code, out, _ = run_cli(["stats", "--json"], monkeypatch, capsys)
    info = json.loads(out)
    assert code == 0 and info["commits"] == 200 and info["vocabulary"] > 10 and info["model_bytes"] > 0
    code, out, _ = run_cli(["--json", "--", "train", "the", "model"], monkeypatch, capsys)
    assert code == 0 and isinstance(json.loads(out), list)


def test_cli_evaluate_json_and_predictions(repo, captured, monkeypatch, capsys, tmp_path):
    captured["commits"] = synthetic(300)
    pfile = tmp_path / "pred.jsonl"
    code, out, err = run_cli(["evaluate", "--json", "--predictions", str(pfile)], monkeypatch, capsys)
    assert code == 0, err
    rep = json.loads(out)
    assert set(rep) == {"n", "automated_skipped", "mrr", "p_at_1", "recall_at_5", "recall_at_10"}
    lines = [json.loads(x) for x in pfile.read_text().splitlines()]
    assert len(lines) == rep["n"] == 60
    assert set(lines[0]) == {"commit", "query", "ranked", "actual"} and len(lines[0]["ranked"]) <= 10
    code, out, _ = run_cli(["evaluate", "--offline", "--split", "0.5"], monkeypatch, capsys)
    assert code == 0 and "n " in out and "MRR@10" in out


@pytest.mark.parametrize(
    "args, needle",
    [
        (["   "], "empty task"),
        (["--top", "0", "x"], "--top"),
        (["evaluate", "--split", "2"], "--split"),
    ],
)
def test_cli_bad_input_one_line(repo, captured, monkeypatch, capsys, args, needle):
    captured["commits"] = synthetic(50)
    code, out, err = run_cli(args, monkeypatch, capsys)
    assert code == 2  # a usage error, as for every verb
    assert err.startswith("git ml predict")
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_no_history(repo, captured, monkeypatch, capsys):
    for args in (["train"], ["fix something"], ["evaluate"]):
        code, out, err = run_cli(args, monkeypatch, capsys)
        assert code == 1 and "git ml capture --backfill" in err and len(err.strip().splitlines()) == 1


def test_cli_unknown_seed(repo, captured, monkeypatch, capsys):
    captured["commits"] = synthetic(80)
    code, out, err = run_cli(["login", "--seed", "no/such/file.py"], monkeypatch, capsys)
    assert code == 1 and "unknown seed file: no/such/file.py" in err


def test_outdated_or_corrupt_model_is_rebuilt(repo, captured, monkeypatch, capsys):
    import git_ml.predict.storage as storage
    from git_ml.predict import lite
    from git_ml.predict.api import load_predictor

    captured["commits"] = synthetic(120)
    run_cli(["train"], monkeypatch, capsys)
    model = Path(repo.path) / "ml" / "predict.model"
    data = model.read_bytes()
    # a model written by another version of the program
    old = data.replace(b'"version":%d' % storage.MODEL_VERSION, b'"version":0', 1)
    assert old != data
    model.write_bytes(old)
    with pytest.raises(storage.VersionMismatch):
        storage.load(model)
    assert lite.predict("login") is None
    code, out, err = run_cli(["login", "--json"], monkeypatch, capsys)  # rebuilt on the way
    assert code == 0 and json.loads(out), err
    assert storage.load(model)[0].ncommits == 120
    for junk in (b"GMLPRED1garbage", b"not a model at all", b""):
        model.write_bytes(junk)
        code, out, err = run_cli(["login"], monkeypatch, capsys)
        assert code == 0 and "Traceback" not in err, err
    assert load_predictor(repo).ix.ncommits == 120


# -- the hook path --------------------------------------------------------------------------------------------------


def test_note_commits_is_light_and_fast(repo, captured, tmp_path):
    from git_ml.predict import note_commits
    from git_ml.predict.api import train

    journal = Path(repo.path) / "ml" / "predict.journal"
    note_commits(repo, synthetic(3))
    assert not journal.exists()  # no model yet: nothing to journal, train reads the store
    captured["commits"] = synthetic(50)
    train(repo)
    code = (
        "import sys, time\n"
        "from git_ml.repo import open_repository\n"
        "from git_ml.schema import Commit\n"
        "import git_ml.predict as p\n"
        "r = open_repository()\n"
        "c = Commit(id='a'*40, message='fix x', author_email='e', time=1, files=[('M','a.py',1,0,None)])\n"
        "t = time.perf_counter(); p.note_commits(r, [c]); dt = time.perf_counter() - t\n"
        "bad = [m for m in ('numpy', 'scipy', 'typer', 'click') if m in sys.modules]\n"
        "print(dt, bad)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=repo.workdir)
    assert res.returncode == 0, res.stderr
    dt, bad = res.stdout.split(" ", 1)
    assert bad.strip() == "[]"
    assert float(dt) < 0.02
    from git_ml.predict.storage import read_journal

    assert [c.id for c in read_journal(Path(repo.path) / "ml" / "predict.journal")] == ["a" * 40]


def test_cli_seed_takes_several_files_and_never_joins_the_task(repo, captured, monkeypatch, capsys):
    """`--seed a.py b.py` seeds both files (b.py used to become part of the task); the task comes before --seed,
    or after --; -h is the help, like every verb; a ./-prefixed seed keeps its leading dot."""
    from git_ml.predict.gitdir import repo_path

    captured["commits"] = synthetic(300)
    assert run_cli(["train"], monkeypatch, capsys)[0] == 0
    code, out, err = run_cli(["login", "--seed", "src/auth/tokens.py", "src/auth/login.py", "--json"], monkeypatch,
                             capsys)
    assert code == 0, err
    paths = [x["path"] for x in json.loads(out)]
    assert "src/auth/tokens.py" not in paths and "src/auth/login.py" not in paths
    code, out, err = run_cli(["login", "--seed", "src/auth/tokens.py", "no/such/b.py"], monkeypatch, capsys)
    assert code == 1 and "unknown seed file: no/such/b.py" in err
    code, out, err = run_cli(["--seed", "src/auth/tokens.py", "src/auth/login.py"], monkeypatch, capsys)
    assert code == 2 and "give the task first" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli(["--seed", "src/auth/tokens.py", "--json", "--", "login", "form"], monkeypatch, capsys)
    assert code == 0 and json.loads(out), err
    for flag in ("-h", "--help"):
        code, out, err = run_cli([flag], monkeypatch, capsys)
        assert code == 0 and out.startswith("Usage: git ml predict") and "--seed FILE..." in out
    code, out, err = run_cli(["fix", "--no-such-option"], monkeypatch, capsys)
    assert code == 2 and err.startswith("git ml predict: no such option") and len(err.strip().splitlines()) == 1
    assert repo_path(None, "./.github/workflows/ci.yml") == ".github/workflows/ci.yml"
    assert repo_path(repo.workdir, "./.github/x") == ".github/x"


def test_click_commands_cover_every_form():
    from git_ml.cli.predict import click_commands

    names = [n for n, _ in click_commands()]
    assert names == ["git-ml-predict", "git ml predict train", "git ml predict evaluate", "git ml predict stats"]


# -- through the real store ------------------------------------------------------------------------------------------


def test_train_and_evaluate_through_the_store(repo, monkeypatch, capsys):
    """Commits captured into the store out of order are learnt in history order (walk from HEAD)."""
    store_mod = pytest.importorskip("git_ml.store.core")
    from git_ml.predict.history import captured_commits

    sig = pygit2.Signature("Ada", "ada@example.com", 1_700_000_000, 0)
    parent = []
    records = []
    contents: dict[str, bytes] = {}
    for i, c in enumerate(synthetic(60, seed=21)):
        for status, path, *_ in c.files:
            contents[path] = f"{path} v{i}\n".encode()
        builder = repo.TreeBuilder()
        # a flat tree keyed by the full path is enough here: only ids and order matter to the model
        for path, data in sorted(contents.items()):
            builder.insert(path.replace("/", "_"), repo.create_blob(data), pygit2.GIT_FILEMODE_BLOB)
        oid = repo.create_commit("refs/heads/main" if i else "refs/heads/main", sig, sig, c.message,
                                 builder.write(), parent)
        parent = [oid]
        records.append(Commit(id=str(oid), message=c.message, author_email=c.author_email, time=c.time + i,
                              parents=[str(p) for p in parent[:0]], files=c.files))
    repo.set_head("refs/heads/main")
    shuffled = records[:]
    random.Random(1).shuffle(shuffled)
    store_mod.Store(repo).append("commits", shuffled)
    ordered, tip = captured_commits(repo)
    assert [c.id for c in ordered] == [c.id for c in records] and tip
    code, out, err = run_cli(["train"], monkeypatch, capsys)
    assert code == 0 and "trained on 60 commits" in out, err
    code, out, err = run_cli(["evaluate", "--json"], monkeypatch, capsys)
    assert code == 0, err
    assert json.loads(out)["n"] == 12
    code, out, err = run_cli(["retry", "timeout", "--json"], monkeypatch, capsys)
    assert code == 0 and json.loads(out), err


# -- the quick path (standard library only) ------------------------------------------------------------------------


def _check_lite_equals_numpy(repo, captured, monkeypatch, commits, cut, njournal, queries):
    from git_ml.predict import lite, note_commits
    from git_ml.predict.api import load_predictor, train

    captured["commits"] = commits[:cut]
    train(repo)
    note_commits(repo, commits[cut : cut + njournal])
    pred = load_predictor(repo, auto_train=False, fold=False)
    for text, author in queries:
        monkeypatch.setenv("GIT_AUTHOR_EMAIL", author)
        quick = lite.predict(text, top=10, when=1_600_100_000, explain=True)
        full = pred.predict(text, top=10, author=author, when=1_600_100_000, explain=True)
        assert quick is not None
        assert [x["path"] for x in quick] == [x["path"] for x in full], text
        # one explanation function: the same reasons (percentages may round apart by one)
        assert [[w.rsplit(":", 1)[0] for w in x["why"]] for x in quick] == \
            [[w.rsplit(":", 1)[0] for w in x["why"]] for x in full], text
        assert [x["score"] for x in quick] == pytest.approx([x["score"] for x in full], abs=2e-4)


def test_lite_equals_numpy_synthetic(repo, captured, monkeypatch):
    commits = synthetic(300, seed=4)
    queries = [(c.message.split("\n")[0], c.author_email) for c in synthetic(30, seed=8)]
    _check_lite_equals_numpy(repo, captured, monkeypatch, commits, 250, 30, queries)


def test_lite_equals_numpy_requests(repo, captured, monkeypatch):
    from git_ml.predict.evaluate import eligible

    commits = eligible(dataset("requests", 1500))
    queries = [(c.message.split("\n")[0], c.author_email) for c in commits[1300:1400]]
    monkeypatch.setattr(commits[0], "time", commits[0].time)  # (times are real ones here)
    _check_lite_equals_numpy(repo, captured, monkeypatch, commits, 1200, 100, queries)


def test_lite_defers_to_numpy_path_when_it_cannot_answer(repo, captured, monkeypatch):
    from git_ml.predict import lite, note_commits
    from git_ml.predict.api import train

    assert lite.predict("anything") is None  # no model yet
    commits = synthetic(300, seed=6)
    captured["commits"] = commits[:20]
    train(repo)
    note_commits(repo, commits[20:])  # a journal long enough to fold
    assert lite.predict("login token") is None


def test_cli_quick_path_imports_no_numpy(repo, captured):
    from git_ml.predict.api import train

    captured["commits"] = synthetic(100)
    train(repo)
    code = (
        "import sys\n"
        "sys.argv = ['git-ml-predict', 'fix the lexer', '--json']\n"
        "from git_ml.cli.predict import main\n"
        "rc = main()\n"
        "heavy = [m for m in ('numpy', 'pygit2', 'typer', 'click', 'msgspec') if m in sys.modules]\n"
        "sys.stderr.write(repr(heavy))\n"
        "sys.exit(rc)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=repo.workdir)
    assert res.returncode == 0, res.stderr
    assert res.stderr == "[]"
    assert json.loads(res.stdout)[0]["path"] in TOPICS["parser"]


def test_lite_reads_user_email_like_git(repo, monkeypatch, tmp_path):
    from git_ml.predict import gitdir as lite

    monkeypatch.delenv("GIT_AUTHOR_EMAIL", raising=False)
    monkeypatch.delenv("EMAIL", raising=False)
    gitdir, work = lite.find_git_dirs()
    assert Path(gitdir).resolve() == Path(repo.path).resolve()
    assert lite.author_email(gitdir, work) == "dev1@example.com"  # the repository's own config wins
    del repo.config["user.email"]
    glob = tmp_path / "global.gitconfig"
    glob.write_text('[core]\n\tpager = less\n[user]\n\tname = A\n\temail = "g@example.com" # note\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(glob))
    assert lite.author_email(gitdir, work) == "g@example.com"
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "env@example.com")
    assert lite.author_email(gitdir, work) == "env@example.com"


def test_lite_equals_numpy_with_pruning(repo, captured, monkeypatch):
    """Long tasks keep their rarest words and the similar-commit search reads only recent postings: both paths
    apply the same limits (shrunk here so that the synthetic history reaches them)."""
    import git_ml.predict.lite_model as lite_mod
    import git_ml.predict.model as model_mod

    for mod in (lite_mod, model_mod):
        monkeypatch.setattr(mod, "VOTE_POSTINGS", 7)
        monkeypatch.setattr(mod, "MAX_QUERY_TERMS", 3)
    commits = synthetic(300, seed=12)
    queries = [("fix login token password retry timeout proxy lexer grammar docs", "dev0@example.com"),
               ("refactor session expiry and oauth login", "dev2@example.com"),
               ("improve parse tree and syntax error", "nobody@example.com")]
    _check_lite_equals_numpy(repo, captured, monkeypatch, commits, 250, 40, queries)
