"""Every verb is built the same way: -h and --help print its help, a bad option is one line
`git ml <verb>: ...` with exit status 2 (errors.ExitCode.USAGE)."""

from __future__ import annotations

import pytest
from conftest import exec_dir

from git_ml.cli.verbs import VERBS
from git_ml.errors import ExitCode


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_help_and_usage_errors_look_the_same_for_every_verb(repo, verb):
    exe = str(exec_dir() / f"git-ml-{verb}")
    for flag in ("-h", "--help"):
        out = repo.run(exe, flag)
        assert out.returncode == ExitCode.OK, out.stderr
        assert out.stdout.startswith(f"Usage: git ml {verb}"), out.stdout[:200]
    bad = repo.run(exe, "--no-such-option")
    assert bad.returncode == ExitCode.USAGE
    assert bad.stderr.startswith(f"git ml {verb}: no such option: --no-such-option")
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


def test_predict_through_the_dispatcher(repo):
    out = repo.run(str(exec_dir() / "git-ml"), "predict", "-h")
    assert out.returncode == 0 and out.stdout.startswith("Usage: git ml predict")
    out = repo.run(str(exec_dir() / "git-ml"), "--no-such-option")
    assert out.returncode == ExitCode.USAGE and out.stderr.startswith("git ml: unknown option")
