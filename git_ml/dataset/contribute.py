"""Opt-in contribution of anonymised aggregate patterns. Nothing is ever sent anywhere: ``export`` writes a local
JSON file that the user may read, and share if they choose.

The file holds counts and histograms only: no commit message, code, diff, prompt, response, clear-text path, file
name, extension, branch, author, e-mail or model name. Paths appear only in the co-change structure, as HMAC-SHA256
digests under a random per-repository key kept in ``.git/ml/contribute.key`` (never exported): without the key
nobody can test a guessed path against them, unlike a plain hash. Pairs and files seen fewer than ``min_count``
times are left out. See CONTENTS for the exact list of fields.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import time as _time
from collections import Counter
from hashlib import sha256
from itertools import combinations
from pathlib import Path

import msgspec

from git_ml import schema
from git_ml.dataset.export.records import latest_ratings
from git_ml.errors import GitMlError
from git_ml.repo import config_bool, ml_dir
from git_ml.store.core import Store
from git_ml.store.reader import current, hidden_ids
from git_ml.store.rewrites import load_live_history

CONFIG_KEY = "ml.contribute"
KEY_FILE = "contribute.key"
FORMAT = "git-ml-contribution/1"
MIN_COUNT = 3
MAX_EDGES = 500
MAX_NODES = 500
MAX_FILES_FOR_PAIRS = 20  # larger commits (mass renames, reformatting) say little about co-change
FILES_BUCKETS = [(0, 0, "0"), (1, 1, "1"), (2, 2, "2"), (3, 5, "3-5"), (6, 10, "6-10"), (11, 20, "11-20"),
                 (21, 50, "21-50"), (51, None, "51+")]
LINES_BUCKETS = [(0, 0, "0"), (1, 10, "1-10"), (11, 50, "11-50"), (51, 200, "51-200"), (201, 1000, "201-1000"),
                 (1001, None, "1001+")]
COMMIT_TYPES = ("feat", "fix", "docs", "style", "refactor", "perf", "test", "build", "ci", "chore", "revert",
                "merge", "other")
_CONVENTIONAL = re.compile(r"^\s*([a-zA-Z]+)(\([^)]*\))?!?:")
_KEYWORDS = [
    ("merge", re.compile(r"^\s*merge\b", re.I)),
    ("revert", re.compile(r"^\s*revert\b", re.I)),
    ("fix", re.compile(r"\b(fix|fixes|fixed|bug|bugfix|crash|regression|typo)\b", re.I)),
    ("docs", re.compile(r"\b(doc|docs|documentation|readme|manual|comment)\b", re.I)),
    ("test", re.compile(r"\b(test|tests|testing|spec)\b", re.I)),
    ("refactor", re.compile(r"\b(refactor|cleanup|clean up|rename|move|simplify|reorganize)\b", re.I)),
    ("perf", re.compile(r"\b(perf|performance|speed up|faster|optimi[sz]e)\b", re.I)),
    ("build", re.compile(r"\b(build|makefile|cmake|dependency|dependencies|deps)\b", re.I)),
    ("chore", re.compile(r"\b(bump|release|version|changelog)\b", re.I)),
    ("feat", re.compile(r"\b(add|adds|added|implement|introduce|support|new|allow|enable)\b", re.I)),
]
_TOOL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")

CONTENTS = """\
format            "git-ml-contribution/1"
generated         the day of the export (YYYY-MM-DD), no time
repository        a 16-hex id: HMAC of a constant under the repository's secret key (stable per repository,
                  unlinkable to its name or URL; deleting .git/ml/contribute.key makes a new one)
counts            numbers of commits, chats, sessions, feedback records
commit_types      commits per type (feat, fix, docs, style, refactor, perf, test, build, ci, chore, revert,
                  merge, other), classified from the message on this machine; the message is not exported
files_per_commit  histogram: 0, 1, 2, 3-5, 6-10, 11-20, 21-50, 51+
lines_per_commit  histogram of insertions + deletions: 0, 1-10, 11-50, 51-200, 201-1000, 1001+
hour_of_day       24 counts of commits by the author's local hour
day_of_week       7 counts of commits, Monday first
co_change         nodes: {hashed path: commits touching it}; edges: [[hashed path, hashed path, commits touching
                  both]]; paths as HMAC-SHA256 (16 hex) under the secret key; only commits of 2-20 files, only
                  pairs and files seen at least min_count times, at most 500 of each
tool_usage        assistant tool uses by tool name (MCP tools counted together as "mcp", unusual names as "other")
ratings           chats rated good, neutral, bad, and unrated
assistants        chats per assistant (claude-code, codex, aider, other)
Never included: messages, code, diffs, prompts, responses, clear-text paths or file names, extensions, branches,
author names or e-mails, models, record ids, times finer than an hour."""


class _Commit(msgspec.Struct):
    id: str
    captured_at: str = ""
    message: str = ""
    files: list[tuple[str, str, int | None, int | None, str | None]] = []
    insertions: int = 0
    deletions: int = 0
    hour_of_day: int = 0
    day_of_week: int = 0
    is_merge: bool = False


class _Chat(msgspec.Struct):
    id: str
    captured_at: str = ""
    assistant: str = ""
    tools_used: list[str] = []
    tool_counts: dict[str, int] = {}


def is_enabled(repo) -> bool:
    return config_bool(repo, CONFIG_KEY, False)


def set_enabled(repo, on: bool) -> None:
    try:
        repo.config[CONFIG_KEY] = "true" if on else "false"
    except Exception as exc:  # pygit2 raises several types for an unwritable config
        raise GitMlError(f"cannot write git config {CONFIG_KEY}: {exc}") from None


def key_path(repo) -> Path:
    return ml_dir(repo, create=False) / KEY_FILE


def load_key(repo, create: bool = True) -> bytes | None:
    """The per-repository secret (32 random bytes), created on first use with mode 0600."""
    path = key_path(repo)
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise GitMlError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not create:
        return None
    key = secrets.token_bytes(32)
    tmp = path.with_name(f".{KEY_FILE}.tmp-{os.getpid()}")
    try:
        ml_dir(repo)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        raise GitMlError(f"cannot create the key {path}: {exc.strerror or exc}") from None
    return key


def hash_path(key: bytes, path: str) -> str:
    return hmac.new(key, path.encode("utf-8", "surrogateescape"), sha256).hexdigest()[:16]


def commit_type(message: str) -> str:
    subject = message.strip().split("\n", 1)[0]
    m = _CONVENTIONAL.match(subject)
    if m and m.group(1).lower() in COMMIT_TYPES:
        return m.group(1).lower()
    for name, pattern in _KEYWORDS:
        if pattern.search(subject):
            return name
    return "other"


def _bucket(n: int, buckets) -> str:
    for lo, hi, label in buckets:
        if n >= lo and (hi is None or n <= hi):
            return label
    return buckets[-1][2]


def _tool(name: str) -> str:
    if name.startswith("mcp__"):
        return "mcp"
    return name if _TOOL_NAME.match(name) else "other"


def build_contribution(repo, min_count: int = MIN_COUNT) -> dict:
    """The aggregate patterns of this repository's store (see CONTENTS)."""
    key = load_key(repo)
    store = Store(repo)
    hidden = hidden_ids(store)
    commits = load_live_history(store).live_only(current(store, "commits", _Commit, hidden=hidden))
    chats = current(store, "chats", _Chat, hidden=hidden)
    sessions = current(store, "sessions", schema.Envelope, hidden=hidden)
    feedback = current(store, "feedback", schema.Feedback, hidden=hidden)

    types = Counter({t: 0 for t in COMMIT_TYPES})
    files_hist = Counter({label: 0 for _lo, _hi, label in FILES_BUCKETS})
    lines_hist = Counter({label: 0 for _lo, _hi, label in LINES_BUCKETS})
    hours = [0] * 24
    days = [0] * 7
    nodes: Counter = Counter()
    edges: Counter = Counter()
    for c in commits.values():
        types["merge" if c.is_merge else commit_type(c.message)] += 1
        paths = sorted({f[1] for f in c.files})
        files_hist[_bucket(len(paths), FILES_BUCKETS)] += 1
        lines_hist[_bucket(c.insertions + c.deletions, LINES_BUCKETS)] += 1
        if 0 <= c.hour_of_day < 24:
            hours[c.hour_of_day] += 1
        if 0 <= c.day_of_week < 7:
            days[c.day_of_week] += 1
        nodes.update(paths)
        if 2 <= len(paths) <= MAX_FILES_FOR_PAIRS:
            edges.update(combinations(paths, 2))
    kept_edges = [(a, b, n) for (a, b), n in edges.most_common(MAX_EDGES) if n >= min_count]
    kept_nodes = {p: n for p, n in nodes.most_common(MAX_NODES) if n >= min_count}
    for a, b, _n in kept_edges:  # every edge's ends are nodes
        kept_nodes.setdefault(a, nodes[a])
        kept_nodes.setdefault(b, nodes[b])
    tools: Counter = Counter()
    assistants: Counter = Counter()
    for chat in chats.values():
        if chat.tool_counts:
            for name, n in chat.tool_counts.items():
                tools[_tool(name)] += n
        else:
            tools.update(_tool(name) for name in chat.tools_used)
        a = chat.assistant if chat.assistant in ("claude-code", "codex", "aider") else "other"
        assistants[a] += 1
    ratings = latest_ratings(feedback.values())
    rated = Counter(ratings[c] for c in chats if c in ratings)
    return {
        "format": FORMAT,
        "generated": _time.strftime("%Y-%m-%d", _time.gmtime()),
        "repository": hmac.new(key, b"git-ml repository id", sha256).hexdigest()[:16],
        "counts": {"commits": len(commits), "chats": len(chats), "sessions": len(sessions),
                   "feedback": len(feedback)},
        "commit_types": dict(types),
        "files_per_commit": dict(files_hist),
        "lines_per_commit": dict(lines_hist),
        "hour_of_day": hours,
        "day_of_week": days,
        "co_change": {
            "min_count": min_count,
            "nodes": {hash_path(key, p): n for p, n in sorted(kept_nodes.items(), key=lambda x: (-x[1], x[0]))},
            "edges": [[hash_path(key, a), hash_path(key, b), n] for a, b, n in kept_edges],
        },
        "tool_usage": dict(sorted(tools.items(), key=lambda x: (-x[1], x[0]))),
        "ratings": {"good": rated.get("good", 0), "neutral": rated.get("neutral", 0), "bad": rated.get("bad", 0),
                    "unrated": sum(1 for c in chats if c not in ratings)},
        "assistants": dict(sorted(assistants.items())),
    }


def write_contribution(repo, output: str, min_count: int = MIN_COUNT) -> dict:
    """Write the contribution file atomically. Refuses unless the repository opted in."""
    if not is_enabled(repo):
        raise GitMlError("contribution is off: `git ml contribute enable` opts in (nothing is ever sent; "
                         "export only writes a local file)")
    import json

    data = build_contribution(repo, min_count)
    text = json.dumps(data, indent=2) + "\n"
    if output == "-":
        import sys

        sys.stdout.write(text)
        return data
    path = Path(output).expanduser()
    if not path.resolve().parent.is_dir():
        raise GitMlError(f"directory {path.resolve().parent} does not exist")
    if path.is_dir():
        raise GitMlError(f"{path} is a directory")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise GitMlError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return data
