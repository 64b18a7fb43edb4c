"""The verbs of the suite. Each is its own ``git-ml-<verb>`` executable (so `git help ml-<verb>` finds its man
page); the dispatcher lists those that exist. Keep in step with [project.scripts] in pyproject.toml (a test checks).
"""

VERBS: dict[str, str] = {
    "capture": "record commits (hooks, revisions, --backfill) and assistant sessions",
    "chunk": "store maintenance: stats, compact, verify, repair, reconstruct, migrate",
    "export": "write training datasets: JSONL, CSV, Parquet, Hugging Face",
    "predict": "rank the files a task will change, learnt from history",
    "feedback": "rate chats and list the ones without a rating",
    "stats": "counts per stream, chunks, stored bytes, top files and tools",
    "estimate": "progress toward the training milestones",
    "quality-report": "data quality: empty, duplicate, unlinked, unrated records",
    "cleanup": "retention: delete old conversation data, or everything git-ml added",
    "contribute": "opt-in export of anonymised aggregate patterns",
    "install-hooks": "install or remove the git (and Claude Code) hooks that capture",
    "sync": "exchange refs/ml/data with the remote named by ml.remote",
    "doctor": "hooks installed, commits not yet captured, recent capture errors",
    "show": "a commit, chat or session with the conversation behind it",
    "log": "git log --oneline with the chats behind each commit",
    "blame": "each line's commit and the assistant chat that wrote it",
    "search": "search prompts, responses and commit messages",
}


def executable(verb: str) -> str:
    return f"git-ml-{verb}"
