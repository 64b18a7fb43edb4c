"""Every test is sealed: a temporary HOME, no system or global git config, fixed identities and dates.

Repositories are real ones made with `git init` in temporary directories. Executables are run as a user runs them:
from the environment's bin directory when git-ml is installed there, else from the checkout's bin/ launchers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXED_DATE = "2026-01-15T12:00:00+0100"


def exec_dir() -> Path:
    """Where the git-ml executables are: the installed ones beside the interpreter, else bin/ of the checkout."""
    installed = Path(sys.executable).parent
    if (installed / "git-ml-capture").exists():
        return installed
    return ROOT / "bin"


@pytest.fixture(autouse=True)
def sealed_env(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    for key in list(os.environ):
        if key.startswith(("GIT_", "ML_")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ada Tester")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ada@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Ada Tester")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "ada@example.com")
    monkeypatch.setenv("GIT_AUTHOR_DATE", FIXED_DATE)
    monkeypatch.setenv("GIT_COMMITTER_DATE", FIXED_DATE)
    monkeypatch.setenv("GIT_EDITOR", "false")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    monkeypatch.setenv("LC_ALL", "C")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # tests that load exports with `datasets` never reach a hub
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    # Hooks capture in the foreground in tests, so a test sees the store right after `git commit`.
    monkeypatch.setenv("GIT_ML_HOOK_SYNC", "1")
    monkeypatch.setenv("PATH", f"{exec_dir()}{os.pathsep}{os.environ.get('PATH', '')}")
    # libgit2 caches the global/system config search paths at first use: point them at the sealed HOME.
    import pygit2

    saved = {}
    for level, path in ((pygit2.enums.ConfigLevel.GLOBAL, home), (pygit2.enums.ConfigLevel.XDG, home / ".config" / "git"),
                        (pygit2.enums.ConfigLevel.SYSTEM, home / "no-system-config")):
        saved[level] = pygit2.settings.search_path[level]
        pygit2.settings.search_path[level] = str(path)
    yield home
    for level, path in saved.items():
        pygit2.settings.search_path[level] = path


class Repo:
    """A real repository in a temporary directory, with helpers to run git and the suite in it."""

    def __init__(self, path: Path):
        self.path = path

    def git(self, *args: str, check: bool = True, input: str | None = None, env: dict | None = None) -> str:
        proc = subprocess.run(["git", *args], cwd=self.path, capture_output=True, text=True, input=input,
                              env={**os.environ, **(env or {})})
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc.stdout

    def run(self, *args: str, input: str | None = None, env: dict | None = None, cwd: Path | None = None):
        """Run an executable of the suite (e.g. run("git-ml-capture", "--backfill")) or `git ml ...`."""
        return subprocess.run(list(args), cwd=cwd or self.path, capture_output=True, text=True, input=input,
                              env={**os.environ, **(env or {})})

    def write(self, name: str, text: str) -> Path:
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        return p

    def commit(self, message: str, files: dict[str, str] | None = None, date: str | None = None) -> str:
        for name, text in (files or {f"file{len(message)}.txt": message + "\n"}).items():
            self.write(name, text)
        self.git("add", "-A")
        env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else None
        self.git("commit", "-q", "-m", message, env=env)
        return self.git("rev-parse", "HEAD").strip()

    def open(self):
        import pygit2

        return pygit2.Repository(str(self.path))


@pytest.fixture
def repo(tmp_path) -> Repo:
    path = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    return Repo(path)


@pytest.fixture
def shared() -> Path:
    if not (SHARED / "datasets").is_dir():
        pytest.skip("../shared is not present (it is beside the project's own checkout only)")
    return SHARED


def make_history(repo: Repo, n: int, *, start: int = 1_700_000_000) -> list[str]:
    """n commits touching a few files each, with distinct dates, through git fast-import (fast)."""
    lines = []
    for i in range(1, n + 1):
        t = start + i * 3600
        msg = f"change {i}: update module {i % 7}"
        lines.append(f"commit refs/heads/main\nmark :{i}\n"
                     f"author Ada Tester <ada@example.com> {t} +0000\n"
                     f"committer Ada Tester <ada@example.com> {t} +0000\n"
                     f"data {len(msg)}\n{msg}\n" + (f"from :{i - 1}\n" if i > 1 else ""))
        for f in (i % 7, (i * 3) % 11):
            body = f"line {i}\n" * (1 + i % 5)
            lines.append(f"M 100644 inline src/mod{f}.py\ndata {len(body)}\n{body}\n")
    data = "".join(lines) + "done\n"
    subprocess.run(["git", "fast-import", "--quiet", "--done"], cwd=repo.path, input=data, text=True, check=True)
    repo.git("checkout", "-q", "-f", "main")
    return repo.git("rev-list", "--reverse", "HEAD").split()


def have_exec(name: str) -> bool:
    return (exec_dir() / name).exists() or shutil.which(name) is not None
