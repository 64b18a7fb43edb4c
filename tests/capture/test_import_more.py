"""`git ml capture import` over OpenCode, Amp, Cline, Roo Code, Windsurf, Continue and Droid: the default search of
each assistant's locations keeps only this repository's sessions, paths become repository-relative, chats link to
the commits they produced, a second run reads nothing, and a file of another format under --from is refused."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from git_ml.capture.importer import fingerprint, unchanged, unit_state
from git_ml.store.core import DATA_REF, Store

FIXTURES = Path(__file__).parent / "fixtures" / "transcripts"
DEMO = "/home/dev/projects/demo"


def stored(repo, stream):
    return {r.id: r for r in Store(repo.open()).iter_records(stream)}


def relocate(src: Path, dst: Path, project: str) -> None:
    """Copy a fixture tree, naming ``project`` where it recorded /home/dev/projects/demo."""
    for p in src.rglob("*"):
        if p.is_file():
            out = dst / p.relative_to(src)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(p.read_bytes().replace(DEMO.encode(), project.encode()))


def home_with_every_format(home: Path, data_home: Path, project: str, tmp: Path) -> None:
    relocate(FIXTURES / "droid/home/.factory", home / ".factory", project)
    relocate(FIXTURES / "amp/home/.local/share/amp", data_home / "amp", project)
    relocate(FIXTURES / "amp/home/.config", home / ".config", project)  # the VS Code extension's older place
    relocate(FIXTURES / "cline/.config", home / ".config", project)
    relocate(FIXTURES / "roo/.config", home / ".config", project)
    relocate(FIXTURES / "windsurf/.windsurf", home / ".windsurf", project)
    relocate(FIXTURES / "continue/.continue", home / ".continue", project)
    subprocess.run([sys.executable, str(FIXTURES / "opencode/make_opencode_fixtures.py"), str(tmp / "oc")],
                   check=True, stdout=subprocess.DEVNULL)
    (data_home / "opencode").mkdir(parents=True)
    db = data_home / "opencode" / "opencode.db"
    shutil.copy(tmp / "oc" / "opencode" / "opencode.db", db)
    con = sqlite3.connect(db)
    for table, column in (("project", "worktree"), ("session", "directory"), ("message", "data"), ("part", "data")):
        con.execute(f"UPDATE {table} SET {column} = replace({column}, ?, ?)", (DEMO, project))
    con.commit()
    con.close()


def test_default_search_over_every_format(repo, tmp_path, sealed_env):
    project = str(repo.path.resolve())
    repo.commit("initial", {"src/cli.py": "a\n", "src/app.py": "a\n"}, date="2026-05-08T10:00:00+0000")
    sha = repo.commit("verbose flag", {"src/cli.py": "b\n"}, date="2026-05-08T11:04:00+0000")
    assert repo.run("git-ml-capture", "--backfill").returncode == 0
    data_home = tmp_path / "data"
    home_with_every_format(sealed_env, data_home, project, tmp_path)
    env = {"XDG_DATA_HOME": str(data_home), "XDG_CONFIG_HOME": str(sealed_env / ".config")}
    out = repo.run("git-ml-capture", "import", "--json", env=env)
    assert out.returncode == 0, out.stderr
    sessions = stored(repo, "sessions")
    by_assistant: dict[str, set[str]] = {}
    for s in sessions.values():
        by_assistant.setdefault(s.assistant, set()).add(s.id)
    assert by_assistant == {
        "droid": {"4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d", "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"},  # no worker
        "amp": {"T-019e2a4b-6c7d-7e8f-9a0b-1c2d3e4f5a6b", "T-5d1c2b3a-4f5e-4a6b-8c7d-9e0f1a2b3c4d"},
        "cline": {"1767607200000"},
        "roo-code": {"0b7c2a9e-5d1f-4c3a-9e21-7a6f0d4c1b01"},  # the sub-task is merged into it
        "windsurf": {"b3f1c2d4-0a9e-4e7b-9c11-2d3e4f5a6b7c"},
        "continue": {"5f0e8d3a-1c2b-4d5e-8f90-a1b2c3d4e5f6", "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"},
        # the session of the other project is left out
        "opencode": {"ses_1f2e3d4c5bffHc9TqWm3Zr8Kp2Ld", "ses_1f2e3d4c4e77Kw2RtUv8Yb5Nc3Mf"},
    }
    chats = stored(repo, "chats")
    assert all(not f.startswith("/") for c in chats.values() for f in c.files_modified + c.files_referenced)
    droid_chat = chats["4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d:u1"]
    assert droid_chat.files_modified == ["src/cli.py"] and droid_chat.assistant == "droid"
    assert f"{sha}:{droid_chat.id}" in stored(repo, "links")  # edited src/cli.py four minutes before the commit
    tip = repo.git("rev-parse", DATA_REF)
    again = json.loads(repo.run("git-ml-capture", "import", "--json", env=env).stdout)
    assert again["chats"] == 0 and again["sessions"] == 0 and repo.git("rev-parse", DATA_REF) == tip


def test_explicit_paths_and_refusals(repo, tmp_path):
    repo.commit("initial", {"a": "a\n"})
    droid = FIXTURES / "droid/home/.factory/sessions/1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f.jsonl"
    amp = FIXTURES / "amp/home/.local/share/amp/threads/T-019e2a4b-6c7d-7e8f-9a0b-1c2d3e4f5a6b.json"
    cline = FIXTURES / "cline/.config/Code/User/globalStorage/saoudrizwan.claude-dev/tasks/1767607200000"
    before = repo.git("for-each-ref", "refs/ml")
    for args in (["--from", "droid", str(amp)], ["--from", "amp", str(droid)], ["--from", "roo", str(cline)],
                 ["--from", "opencode", str(FIXTURES / "claude_basic.jsonl")],
                 ["--from", "continue", str(FIXTURES / "continue/.continue/sessions/sessions.json")],
                 ["--from", "windsurf", str(FIXTURES / "codex_current.jsonl")]):
        out = repo.run("git-ml-capture", "import", *args)
        assert out.returncode == 1, (args, out)
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert repo.git("for-each-ref", "refs/ml") == before
    # auto: each told by its content, a task folder included
    out = repo.run("git-ml-capture", "import", "--json", str(droid), str(amp), str(cline))
    assert out.returncode == 0, out.stderr
    assert {s.assistant for s in stored(repo, "sessions").values()} == {"droid", "amp", "cline"}


def test_a_change_in_a_dependent_file_alone_reads_the_unit_again(repo, tmp_path):
    """A Droid session merges its worker's file, a Roo task its sub-task's folder: when only that file changes, the
    next import reads the unit again (its unchanged check covers them) and stores what changed."""
    project = str(repo.path.resolve())
    repo.commit("initial", {"src/cli.py": "a\n"}, date="2026-05-08T10:00:00+0000")
    sessions, tasks = tmp_path / "sessions", tmp_path / "tasks"
    relocate(FIXTURES / "droid/home/.factory/sessions/-home-dev-projects-demo", sessions, project)
    relocate(FIXTURES / "roo/.config/Code/User/globalStorage/rooveterinaryinc.roo-cline/tasks", tasks, project)
    old = 1_700_000_000
    for p in [*sessions.iterdir(), *tasks.rglob("*")]:
        os.utime(p, (old, old))  # written long before the import (a file changed just before it is read again)
    parent = sessions / "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d.jsonl"
    worker = sessions / "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a.jsonl"
    task, subtask = tasks / "0b7c2a9e-5d1f-4c3a-9e21-7a6f0d4c1b01", tasks / "0b7c2a9e-5d1f-4c3a-9e21-7a6f0d4c1b02"

    def run() -> dict:
        out = repo.run("git-ml-capture", "import", "--json", str(parent), str(task))
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    assert run()["files"] == 2
    assert (again := run())["files"] == 0 and again["unchanged_files"] == 2
    read = {"type": "message", "id": "sa3", "timestamp": "2026-05-08T11:01:30.000Z", "parentId": "sa2",
            "message": {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_s9", "name": "Read",
                                                          "input": {"file_path": f"{project}/src/help.py"}}]}}
    with open(worker, "a") as f:
        f.write(json.dumps(read) + "\n")
    os.utime(worker, (old + 60, old + 60))
    after = run()
    assert after["files"] == 1 and after["chats"] == 1  # the parent session, its chat now with the worker's read
    assert any("src/help.py" in c.files_referenced for c in stored(repo, "chats").values() if c.assistant == "droid")
    ui = subtask / "ui_messages.json"
    ui.write_bytes(ui.read_bytes() + b"\n")
    os.utime(ui, (old + 60, old + 60))
    assert run()["files"] == 1  # the Roo task, for its sub-task's folder
    assert run()["files"] == 0


def test_a_dependency_changed_around_the_read_is_read_again(tmp_path):
    dep = tmp_path / "worker.jsonl"
    dep.write_text("{}\n")
    fp = fingerprint(dep)
    assert unchanged(unit_state([1, 2], [dep], fp[1] + 3_000_000_000), [1, 2])  # quiet for 3 s before the read
    kept = unit_state([1, 2], [dep, tmp_path / "gone.jsonl"], fp[1] + 1_000_000_000)  # written 1 s before it
    assert kept == [1, 2, str(dep), -1, -1] and not unchanged(kept, [1, 2])
    assert not unchanged(unit_state([1, 2], [dep], fp[1] + 3_000_000_000), [1, 3])
