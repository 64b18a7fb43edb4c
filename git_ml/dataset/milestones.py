"""Training on milestones: ``git config ml.onMilestone "<command>"`` runs the command once when a milestone of
``estimate`` is newly reached, detached, after a fresh export of the data.

When it is checked: after every capture or import (the capture's follow-up, itself off the commit's path since the
hooks run detached) and by ``git ml estimate``. The check after a capture is cheap: the record counts that the
store's chunk names carry (an upper bound of the live records, no blob read) are compared with the milestones not
yet reached; only when one could be reached are the exact counts computed (``reports.estimate``).

State: ``.git/ml/milestones.json`` records each milestone when first seen reached (time, whether the command ran,
the export's path); ``.git/ml/milestones.log`` the commands' output. Milestones already reached when the state is
first written are recorded without running the command ("newly reached" means after that).

The command runs with ``sh -c`` in the repository's work tree, in its own session, with ``GIT_ML_MILESTONE`` (the
milestone's name), ``GIT_ML_REPO`` (the repository's path), ``GIT_ML_GIT_DIR`` and ``GIT_ML_EXPORT`` (a Hugging Face
dataset directory of the data, exported just before, under ``.git/ml/milestones/``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time

from git_ml.repo import common_dir, config_get, ml_dir

STATE = "milestones.json"
LOG = "milestones.log"
CONFIG = "ml.onMilestone"
STREAMS = ("commits", "sessions", "chats")


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def load_state(repo) -> dict | None:
    try:
        state = json.loads((ml_dir(repo, create=False) / STATE).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _save_state(repo, state: dict) -> None:
    from git_ml.fsutil import atomic_write

    atomic_write(ml_dir(repo) / STATE, json.dumps(state, indent=2, sort_keys=True).encode())


@contextlib.contextmanager
def _locked(repo):
    import fcntl

    with open(ml_dir(repo) / "milestones.lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def stored_lines(store) -> dict[str, int]:
    """Records stored per stream, from the chunk names (versions and tombstoned ids included): an upper bound of
    the live records that reads no blob."""
    return {s: sum(c.count or 0 for c in store.iter_chunks(s)) for s in STREAMS}


def could_reach(state: dict | None, lines: dict[str, int]) -> bool:
    """Whether a milestone not yet recorded as reached may be reached now. The live count of a stream grew by at
    most the lines stored since the last exact count; a compaction (fewer lines) makes it unknown."""
    from git_ml.dataset.reports import MILESTONES

    if state is None:
        return True
    seen = state.get("reached", {})
    last_lines, last_counts = state.get("lines", {}), state.get("counts", {})
    bound = {}
    for s in STREAMS:
        grown = lines.get(s, 0) - last_lines.get(s, 0)
        if grown < 0:
            return True
        bound[s] = last_counts.get(s, 0) + grown
    return any(name not in seen and all(bound[d] >= need for d, need in needs.items()) for name, needs in MILESTONES)


def after_capture(repo, store, records) -> list[str]:
    """The capture's follow-up: fire newly reached milestones when ``ml.onMilestone`` is set (cheap otherwise)."""
    command = config_get(repo, CONFIG)
    if not command:
        return []
    if not could_reach(load_state(repo), stored_lines(store)):
        return []
    from git_ml.dataset.reports import estimate

    return update(repo, estimate(repo), stored_lines(store), command)


def update(repo, data: dict, lines: dict[str, int] | None, command: str | None) -> list[str]:
    """Record the milestones that ``data`` (an ``estimate``) shows reached; run ``command`` for the new ones
    (not on the first record). Returns the names fired."""
    fired: list[str] = []
    with _locked(repo):
        state = load_state(repo)
        first = state is None
        state = state or {"version": 1, "reached": {}}
        now = _now_iso()
        for m in data["milestones"]:
            name = m["name"]
            if not m["reached"] or name in state["reached"]:
                continue
            entry = {"at": now, "fired": False}
            if first:
                entry["note"] = "already reached when milestones were first tracked"
            elif command:
                entry.update(fired=True, command=command, export=str(_export_dir(repo, name)))
                fired.append(name)
            state["reached"][name] = entry
        state["counts"] = dict(data["counts"])
        if lines is not None:
            state["lines"] = lines
        _save_state(repo, state)
    for name in fired:
        launch(repo, name, command, state["reached"][name]["export"])
    return fired


def annotate(data: dict, state: dict | None) -> dict:
    """``data`` (an ``estimate``) with, per milestone, when it was seen reached and whether its command ran."""
    reached = (state or {}).get("reached", {})
    for m in data["milestones"]:
        entry = reached.get(m["name"])
        m["reached_at"] = entry.get("at") if entry else None
        m["fired"] = bool(entry and entry.get("fired"))
        if entry and entry.get("fired"):
            m["fired_export"] = entry.get("export")
            m["fired_exit"] = entry.get("exit")
    return data


def _export_dir(repo, name: str):
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return ml_dir(repo) / "milestones" / f"{slug}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"


def launch(repo, name: str, command: str, export: str) -> None:
    """Run export then ``command`` in a detached process (its own session; output to milestones.log)."""
    workdir = repo.workdir or str(common_dir(repo))
    env = dict(os.environ, GIT_ML_MILESTONE=name, GIT_ML_REPO=workdir.rstrip("/"),
               GIT_ML_GIT_DIR=str(common_dir(repo)), GIT_ML_EXPORT=export, GIT_ML_COMMAND=command)
    log = open(ml_dir(repo) / LOG, "ab")
    try:
        subprocess.Popen([sys.executable, "-m", "git_ml.dataset.milestones"], cwd=workdir, env=env,
                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                         close_fds=True)
    finally:
        log.close()


def _run_detached() -> int:
    """The detached process: a fresh export, then the user's command, both logged."""
    from git_ml.dataset.export.options import ExportOptions
    from git_ml.dataset.export.run import export
    from git_ml.repo import open_repository

    env = os.environ
    name, export_dir, command = env["GIT_ML_MILESTONE"], env["GIT_ML_EXPORT"], env["GIT_ML_COMMAND"]
    print(f"{_now_iso()} milestone {name!r} reached: exporting to {export_dir}", flush=True)
    repo = open_repository(env["GIT_ML_GIT_DIR"])
    os.makedirs(os.path.dirname(export_dir), exist_ok=True)
    try:
        result = export(repo, export_dir, ExportOptions(fmt="hf"))
        print(f"{_now_iso()} exported {result.rows} rows", flush=True)
    except Exception as exc:  # the command still runs: it may not need the export
        print(f"{_now_iso()} export failed: {exc}", flush=True)
    code = subprocess.run(["sh", "-c", command], stdin=subprocess.DEVNULL).returncode
    print(f"{_now_iso()} milestone {name!r}: command exited {code}", flush=True)
    with contextlib.suppress(Exception), _locked(repo):
        state = load_state(repo) or {}
        entry = state.get("reached", {}).get(name)
        if entry is not None:
            entry["exit"] = code
            entry["finished"] = _now_iso()
            _save_state(repo, state)
    return 0


if __name__ == "__main__":  # pragma: no cover - the detached process
    sys.exit(_run_detached())
