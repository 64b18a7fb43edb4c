"""The suite as a user runs it: `git ml VERB` dispatch, listing, version, man pages."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from conftest import ROOT

from git_ml import __version__
from git_ml.cli.verbs import VERBS


def test_scripts_match_verbs():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) == {"git-ml"} | {f"git-ml-{v}" for v in VERBS}
    launchers = {p.name for p in (ROOT / "bin").iterdir()}
    assert launchers == set(scripts)


def test_git_ml_alone_lists_existing_verbs(repo):
    out = repo.run("git", "ml")
    assert out.returncode == 0
    listed = [line.split()[0] for line in out.stdout.splitlines() if line.startswith("   ")]
    assert listed == list(VERBS)


def test_a_verb_that_is_not_built_does_not_appear(monkeypatch, capsys):
    from git_ml.cli import dispatch

    monkeypatch.setattr(dispatch, "built", lambda verb: verb != "export")
    listed = [line.split()[0] for line in dispatch.listing().splitlines() if line.startswith("   ")]
    assert "export" not in listed and "capture" in listed
    assert dispatch.main(["export"]) == 1
    assert "'export' is not a git ml verb" in capsys.readouterr().err


def test_version(repo):
    out = repo.run("git", "ml", "--version")
    assert out.returncode == 0 and out.stdout.strip() == f"git-ml version {__version__}"


def test_dispatch_passes_arguments_and_exit_status(repo):
    repo.commit("one")
    out = repo.run("git", "ml", "capture", "no-such-rev")
    assert out.returncode == 1 and "unknown revision: no-such-rev" in out.stderr
    out = repo.run("git", "ml", "stats", "--json")
    assert out.returncode == 0 and '"commits": 0' in out.stdout


def test_unknown_verb(repo):
    out = repo.run("git", "ml", "frobnicate")
    assert out.returncode == 1 and "'frobnicate' is not a git ml verb" in out.stderr


def test_dispatcher_does_not_import_cli_framework():
    code = ("import sys; sys.argv=['git-ml','--version']; from git_ml.cli import dispatch; dispatch.main(); "
            "bad=[m for m in ('typer','click','pygit2','rich') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip().endswith("[]"), out.stdout


def test_hook_path_does_not_import_cli_framework(repo):
    repo.commit("one")
    code = ("import sys; sys.argv=['git-ml-capture','--hook','post-commit']; from git_ml.cli import capture; "
            "capture.main(); print(sorted(m for m in ('typer','click','rich','numpy','pyarrow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo.path)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_help_option_reaches_each_executable(repo):
    for verb in VERBS:
        out = repo.run(f"git-ml-{verb}", "--help")
        assert out.returncode == 0, (verb, out.stderr)
        assert "Usage" in out.stdout or "usage" in out.stdout
