"""Man pages are generated from the CLI definitions, committed, and found by `git help` after install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

from git_ml.cli import manpages
from git_ml.cli.verbs import VERBS


def test_committed_pages_are_current():
    out = subprocess.run([sys.executable, "-m", "git_ml.cli.manpages", "--check", str(ROOT / "man" / "man1")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_one_page_per_executable():
    names = set(manpages.all_pages())
    assert names == {"git-ml.1"} | {f"git-ml-{v}.1" for v in VERBS}


def test_check_detects_a_stale_page(tmp_path):
    assert manpages.main([str(tmp_path)]) == 0
    page = tmp_path / "git-ml-capture.1"
    page.write_text(page.read_text().replace("backfill", "backfil"))
    assert manpages.main(["--check", str(tmp_path)]) == 1


def test_pages_document_options():
    text = manpages.all_pages()["git-ml-capture.1"]
    assert "\\-\\-backfill" in text and ".SH SYNOPSIS" in text
    main = manpages.all_pages()["git-ml.1"]
    for verb in VERBS:
        assert f"git ml {verb}".replace("-", "\\-") in main


def _installed_man_dir() -> str | None:
    share = os.path.join(sys.prefix, "share", "man", "man1", "git-ml.1")
    return share if os.path.exists(share) else None


@pytest.mark.skipif(shutil.which("man") is None, reason="man(1) is not installed")
@pytest.mark.skipif(_installed_man_dir() is None, reason="git-ml is not installed with its man pages here")
def test_git_help_shows_pages(repo):
    env = {"MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "100"}
    out = repo.run("git", "help", "ml", env=env)
    assert out.returncode == 0 and "turn the work in a git repository" in out.stdout
    out = repo.run("git", "ml-capture", "--help", env=env)
    assert out.returncode == 0 and "backfill" in out.stdout
