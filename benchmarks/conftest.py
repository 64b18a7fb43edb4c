"""Shared fixtures for benchmarks: real histories replayed with ../shared/tools/history_replay.py.

GIT_ML_BENCH_HISTORY picks the dataset (git by default: 60,751 commits; requests, flask, typer are smaller).
Pristine replays are cached under GIT_ML_BENCH_DIR (default /tmp/git-ml-bench) and copied per use, so a run does not
pay the ~100 s replay of git.git twice. Without ../shared, a generated history is used.
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
CACHE = Path(os.environ.get("GIT_ML_BENCH_DIR", "/tmp/git-ml-bench"))
HISTORY = os.environ.get("GIT_ML_BENCH_HISTORY", "git")


def bench_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "ML_"))}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.com", GIT_ML_HOOK_SYNC="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return env


def _generated(path: Path, n: int = 5000) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    lines = []
    for i in range(1, n + 1):
        t = 1_600_000_000 + i * 600
        msg = f"area{i % 13}: change {i} to module {i % 97}"
        lines.append(f"commit refs/heads/main\nmark :{i}\nauthor A <a@x> {t} +0000\ncommitter A <a@x> {t} +0000\n"
                     f"data {len(msg)}\n{msg}\n" + (f"from :{i - 1}\n" if i > 1 else ""))
        for f in (i % 97, (i * 7) % 211):
            body = "".join(f"{i}-{k}\n" for k in range(1 + i % 9))
            lines.append(f"M 100644 inline pkg/m{f}.py\ndata {len(body)}\n{body}\n")
    subprocess.run(["git", "fast-import", "--quiet", "--done"], cwd=path, input="".join(lines) + "done\n",
                   text=True, check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=path, check=True)


def pristine(name: str = HISTORY) -> Path:
    """A cached replay of dataset ``name`` (no git-ml data in it)."""
    data = SHARED / "datasets" / f"{name}.history.jsonl.zst"
    target = CACHE / f"{name if data.exists() else 'generated'}-replay"
    if (target / ".git").is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if data.exists():
        subprocess.run([sys.executable, str(SHARED / "tools" / "history_replay.py"), str(data), str(tmp)],
                       check=True, env=bench_env())
    else:
        _generated(tmp)
    tmp.rename(target)
    return target


def backfilled(name: str = HISTORY) -> Path:
    """A cached replay with its history captured (`git-ml-capture --backfill`)."""
    base = pristine(name)
    target = base.with_name(base.name + "-backfilled")
    if (target / ".git").is_dir():
        return target
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(base, tmp, symlinks=True)
    subprocess.run(["git-ml-capture", "--backfill", "-q"], cwd=tmp, check=True, env=bench_env())
    tmp.rename(target)
    return target


def copy_of(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True)
    return dest


@pytest.fixture(scope="session")
def history_name() -> str:
    return HISTORY


@pytest.fixture
def replay(tmp_path) -> Path:
    """A fresh copy of the pristine replay."""
    return copy_of(pristine(), tmp_path / "replay")


@pytest.fixture
def captured(tmp_path) -> Path:
    """A fresh copy of the backfilled replay."""
    return copy_of(backfilled(), tmp_path / "captured")
