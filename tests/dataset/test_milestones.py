"""`git config ml.onMilestone`: the command runs once, detached, when a milestone is newly reached after a capture;
`git ml estimate` shows when it fired."""

from __future__ import annotations

import json
import time

from conftest import make_history

from git_ml.capture.pipeline import backfill
from git_ml.dataset import milestones
from git_ml.schema import Chat, Session
from git_ml.store.core import Store


def almost_file_prediction(repo):
    """499 commits, 100 sessions and 200 chats: one commit short of the first milestone."""
    make_history(repo, 499)
    r = repo.open()
    store = Store(r)
    backfill(r, store)
    store.append("sessions", [Session(id=f"s{i}", assistant="claude-code", started_at="2023-11-15T00:00:00Z")
                              for i in range(100)])
    store.append("chats", [Chat(id=f"s{i % 100}:c{i}", session_id=f"s{i % 100}", timestamp="2023-11-15T00:00:00Z",
                                query=f"q{i}", response="r") for i in range(200)])


def wait_for(path, seconds: float = 120.0) -> bool:
    end = time.time() + seconds
    while time.time() < end:
        if path.exists() and path.read_text().strip():
            return True
        time.sleep(0.2)
    return False


def test_command_runs_once_when_a_milestone_is_newly_reached(repo, tmp_path):
    almost_file_prediction(repo)
    # The first look records the state (nothing reached yet, nothing run).
    assert repo.run("git-ml-estimate").returncode == 0
    marker = tmp_path / "fired.txt"
    repo.git("config", "ml.onMilestone",
             f'echo "$GIT_ML_MILESTONE|$GIT_ML_REPO|$GIT_ML_EXPORT" >> {marker}')
    # Cheap check: far from any milestone, nothing is computed or run.
    r = repo.open()
    state = milestones.load_state(r)
    assert state is not None and state["reached"] == {}
    assert not milestones.could_reach(state, milestones.stored_lines(Store(r)))

    repo.commit("the 500th commit", {"src/x.py": "x\n"})
    res = repo.run("git-ml-capture", "-q")
    assert res.returncode == 0, res.stderr
    assert wait_for(marker), (repo.path / ".git" / "ml" / "milestones.log").read_text()
    name, where, export = marker.read_text().strip().split("|")
    assert name == "File Prediction" and where == str(repo.path)
    # The export is written before the command runs: a Hugging Face dataset directory.
    assert (tmp_path / export).name.startswith("file-prediction-")
    from pathlib import Path

    assert (Path(export) / "README.md").is_file()

    # Once: another capture does not run it again.
    repo.commit("one more", {"src/y.py": "y\n"})
    assert repo.run("git-ml-capture", "-q").returncode == 0
    time.sleep(1.0)
    assert marker.read_text().count("File Prediction") == 1

    deadline = time.time() + 60
    while time.time() < deadline:
        data = json.loads(repo.run("git-ml-estimate", "--json").stdout)
        fp = next(m for m in data["milestones"] if m["name"] == "File Prediction")
        if fp.get("fired_exit") is not None:
            break
        time.sleep(0.3)
    assert fp["reached"] and fp["fired"] and fp["reached_at"] and fp["fired_exit"] == 0
    text = repo.run("git-ml-estimate").stdout
    assert "ml.onMilestone ran: exit 0" in text
    assert marker.read_text().count("File Prediction") == 1


def test_milestones_reached_before_tracking_do_not_run(repo, tmp_path):
    almost_file_prediction(repo)
    repo.commit("the 500th commit", {"src/x.py": "x\n"})
    assert repo.run("git-ml-capture", "-q").returncode == 0
    marker = tmp_path / "fired.txt"
    repo.git("config", "ml.onMilestone", f"echo ran >> {marker}")
    data = json.loads(repo.run("git-ml-estimate", "--json").stdout)
    fp = next(m for m in data["milestones"] if m["name"] == "File Prediction")
    assert fp["reached"] and fp["reached_at"] and not fp["fired"]
    time.sleep(1.0)
    assert not marker.exists()
