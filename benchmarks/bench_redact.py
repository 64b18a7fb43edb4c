"""Benchmarks for git_ml.redact (pytest-benchmark).

    /work/venv/bin/pytest benchmarks/bench_redact.py --benchmark-columns=min,mean,max

Inputs are synthetic and deterministic: 5 MB of Claude-Code-like JSONL (ids, hashes,
usage counters, code, prose with a few non-ASCII characters) with no secret and with a
few secrets, and 60,000 short commit messages (a backfill).
"""

import json
import random
import string

import pytest

from git_ml.capture.redaction import redact

SIZE = 5_000_000

_CODE = [
    "def load(path: str) -> dict:\n    with open(path) as f:\n        return json.load(f)\n",
    "password = get_password()\ntoken = None\nclient = OpenAI(api_key=api_key)\n",
    "for i, item in enumerate(items):\n    if item.key in seen:\n        continue\n",
    "const headers = { Authorization: `Bearer ${token}` };\n",
    "$ git log --oneline | head -3\n",
    "class Session:\n    max_tokens: int = 4096\n    secret_name: str = 'prod-db'\n",
]
_PROSE = [
    "I'll update the tokenizer so that passwords are never logged — see the diff below.",
    "The test suite passes now ✓; the remaining failure is unrelated to the API change.",
    "Let me check the configuration file and the environment variables first.",
    "Summary: refactored the secret-scanning hook, added tests, bumped the version.",
]


def _uuid(rng: random.Random) -> str:
    h = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def transcript(size: int = SIZE, seed: int = 1) -> str:
    rng = random.Random(seed)
    lines, total, parent = [], 0, None
    while total < size:
        uid = _uuid(rng)
        sha = "".join(rng.choice("0123456789abcdef") for _ in range(40))
        text = f"{rng.choice(_PROSE)} Commit {sha}.\n```\n{rng.choice(_CODE)}```"
        line = json.dumps(
            {
                "type": rng.choice(["user", "assistant"]),
                "uuid": uid,
                "parentUuid": parent,
                "sessionId": "5c0375b4-2f2a-4c1e-9a55-0e1f3a9b7c10",
                "cwd": "/home/dev/project",
                "gitBranch": "main",
                "message": {
                    "role": "assistant",
                    "content": [{"type": "text", "text": text}],
                    "usage": {"input_tokens": rng.randrange(10**5), "output_tokens": 9},
                },
            },
            ensure_ascii=False,
        )
        lines.append(line)
        total += len(line) + 1
        parent = uid
    return "\n".join(lines)[:size]


def _rand(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def with_secrets(text: str, seed: int = 2) -> tuple[str, int]:
    """text with a dozen secrets spliced in at line starts."""
    rng = random.Random(seed)
    alnum = string.ascii_letters + string.digits
    secrets = [
        "ghp_" + _rand(rng, alnum, 36),
        "AKIA" + _rand(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
        "sk-proj-" + _rand(rng, alnum, 74) + "T3BlbkFJ" + _rand(rng, alnum, 74),
        'DB_PASSWORD="' + _rand(rng, alnum, 16) + '"',
        "postgres://app:" + _rand(rng, alnum, 12) + "@db.internal:5432/app",
        "-".join(("xoxb", _rand(rng, string.digits, 12), _rand(rng, string.digits, 13),
                  _rand(rng, alnum, 24))),
    ] * 2
    parts = text.split("\n")
    for secret in secrets:
        i = rng.randrange(len(parts))
        parts[i] = secret + " " + parts[i]
    return "\n".join(parts), len(secrets)


def commit_messages(n: int = 60_000, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    verbs = ["Fix", "Add", "Update", "Remove", "Refactor", "Bump", "Revert"]
    things = ["token refresh", "password reset flow", "API client", "README", "CI cache", "tests"]
    messages = []
    for i in range(n):
        sha = "".join(rng.choice("0123456789abcdef") for _ in range(40))
        msg = f"{rng.choice(verbs)} {rng.choice(things)} (#{i})"
        if i % 3 == 0:
            msg += f"\n\nThis reverts commit {sha}.\nSigned-off-by: Dev {i} <dev{i}@example.com>"
        messages.append(msg)
    return messages


@pytest.fixture(scope="module")
def clean_transcript():
    return transcript()


def test_transcript_5mb_no_secrets(benchmark, clean_transcript):
    out, counts = benchmark.pedantic(redact, args=(clean_transcript,), rounds=5, iterations=1)
    assert counts == {} and out is clean_transcript


def test_transcript_5mb_with_secrets(benchmark, clean_transcript):
    text, n = with_secrets(clean_transcript)
    out, counts = benchmark.pedantic(redact, args=(text,), rounds=5, iterations=1)
    assert sum(counts.values()) == n


def test_commit_messages_60k(benchmark):
    messages = commit_messages()

    def run():
        return sum(len(redact(m)[1]) for m in messages)

    assert benchmark.pedantic(run, rounds=3, iterations=1) == 0
