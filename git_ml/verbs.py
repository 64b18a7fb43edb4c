"""The verbs of the suite. Each is its own ``git-ml-<verb>`` executable (so `git help ml-<verb>` finds its man
page); the dispatcher lists those that exist. Keep in step with [project.scripts] in pyproject.toml (a test checks).
"""

VERBS: dict[str, str] = {
    "capture": "record commits (hooks, revisions, --backfill) and assistant sessions",
    "stats": "counts per stream, chunks and stored bytes",
    "install-hooks": "install or remove the git (and Claude Code) hooks that capture",
    "doctor": "hooks installed, commits not yet captured, recent capture errors",
    "predict": "rank the files a task will change, learnt from history",
}


def executable(verb: str) -> str:
    return f"git-ml-{verb}"
