"""Terminal output of the explore commands: width, ellipsis, colour, git's pager; the fast argument parser."""

from __future__ import annotations

import os
import subprocess

import pytest

from git_ml.explore import render
from git_ml.explore.args import Fallback, fast_parse
from git_ml.explore.search import make_snippet, marked


def test_truncate_with_ellipsis_and_wide_characters():
    assert render.truncate("short", 10) == "short"
    assert render.truncate("a long subject line", 10) == "a long su…"
    assert render.display_width(render.truncate("a long subject line", 10)) == 10
    jp = "最新の状態にアップデートしてください"
    cut = render.truncate(jp, 11)
    assert cut.endswith("…") and render.display_width(cut) <= 11
    assert render.display_width("日本") == 4 and render.display_width("e\u0301") == 1


def test_fit_cuts_parts_and_colours_only_when_on(monkeypatch):
    out = render.Output(color=False, pager=False, width=12)
    assert out.fit(("abcdef", "commit"), " ", "ghijklmnop") == "abcdef ghij…"
    coloured = render.Output(color=True, pager=False, width=12)
    line = coloured.fit(("abcdef", "commit"), " xyz")
    assert line == "\033[33mabcdef\033[m xyz"


def test_highlight_with_and_without_colour():
    text = "the compiled pattern"
    spans = [(4, 12)]
    assert render.Output(color=False, pager=False, width=80).highlight(text, spans) == "the **compiled** pattern"
    assert "\033[1;31mcompiled\033[m" in render.Output(color=True, pager=False, width=80).highlight(text, spans)


def test_snippet_window_holds_the_matches():
    text = ("word " * 100) + "the compiled pattern is cached " + ("tail " * 100)
    snip, spans = make_snippet(text, {"compil", "pattern", "cach"}, width=60)
    assert snip.startswith("…") and snip.endswith("…") and len(snip) <= 62
    assert [snip[a:b] for a, b in spans] == ["compiled", "pattern", "cached"]
    assert marked(snip, spans).count("**") == 6


def test_pager_precedence(monkeypatch):
    for key in ("GIT_PAGER", "PAGER"):
        monkeypatch.delenv(key, raising=False)

    class Cfg:
        def __init__(self, values):
            self.values = values

        def config_values(self):
            return self.values

    assert render.pager_command(None) == "less"
    monkeypatch.setenv("PAGER", "more")
    assert render.pager_command(None) == "more"
    assert render.pager_command(Cfg({"core.pager": "most"})) == "most"
    monkeypatch.setenv("GIT_PAGER", "pg")
    assert render.pager_command(Cfg({"core.pager": "most"})) == "pg"
    monkeypatch.setenv("GIT_PAGER", "cat")
    assert render.pager_command(None) is None
    monkeypatch.setenv("GIT_PAGER", "")
    assert render.pager_command(None) is None


def test_width_from_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "132")
    assert render.term_width() == 132
    monkeypatch.delenv("COLUMNS")
    assert render.term_width() == 80  # not a terminal


def _run_on_tty(cmd: list[str], cwd, env: dict) -> str:
    master, slave = os.openpty()
    proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE,
                            env={**os.environ, **env})
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def test_pager_runs_on_a_terminal_with_git_defaults(repo):
    for i in range(3):
        repo.commit(f"commit {i}", {f"f{i}.txt": f"{i}\n"})
    assert repo.run("git-ml-capture", "--backfill", "-q").returncode == 0
    env = {"GIT_PAGER": 'echo "PAGED LESS=$LESS LV=$LV"; cat', "TERM": "xterm", "COLUMNS": "100"}
    env.pop("LESS", None)
    out = _run_on_tty(["git-ml-log"], repo.path, env)
    assert "PAGED LESS=FRX LV=-c" in out and "commit 2" in out
    assert "\033[33m" in out  # a terminal: colour on
    out = _run_on_tty(["git-ml-log", "--no-pager", "--no-color"], repo.path, env)
    assert "PAGED" not in out and "\033[" not in out and "commit 2" in out


def test_fast_parse():
    spec = {"-n": ("limit", "int"), "--json": ("json", "flag"), "--no-color": ("color", "neg"),
            "--in": ("where", "value")}
    assert fast_parse(["-n", "5", "a..b", "--json"], spec) == ({"limit": 5, "json": True}, ["a..b"], None)
    assert fast_parse(["-n5", "--in=chats", "x", "--", "p"], spec) == ({"limit": 5, "where": "chats"}, ["x"], ["p"])
    assert fast_parse(["--no-color", "-3"], spec) == ({"color": False}, ["-3"], None)
    for bad in (["--help"], ["-h"], ["--bogus"], ["-n"], ["-n", "x"], ["--json=1"]):
        with pytest.raises(Fallback):
            fast_parse(bad, spec)
