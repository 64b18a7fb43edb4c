"""Shared pieces of the redaction rules: character sets and look-alike checks."""

import re

ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
TOKEN = ALNUM | frozenset("_-")  # characters that continue an API-key-like token
B64 = ALNUM | frozenset("+/")
NAME = TOKEN | frozenset(".")  # characters of a setting name: db.password, DB_PASSWORD

DIGIT = re.compile(r"\d")
LOWER = re.compile(r"[a-z]")
UPPER = re.compile(r"[A-Z]")
LETTER = re.compile(r"[A-Za-z]")
SYMBOL = re.compile(r"[^A-Za-z0-9]")
REPEAT6 = re.compile(r"([A-Za-z0-9])\1{5}")  # 000000, aaaaaa (not the /// of AWS tokens)


def placeholder(kind: str) -> str:
    return f"[REDACTED:{kind}]"


# --- look-alikes ---------------------------------------------------------------------------

# Substrings of documentation values, not of credentials.
FAKE_WORDS = ("example", "xxxx", "****", "your", "placeholder", "redacted", "changeme", "dummy")


def ascending_share(s: str) -> float:
    """Share of characters inside ascending runs of 4+ (abcd, 1234): hand-typed fillers."""
    s = s.lower()
    covered, run = 0, 1
    for i in range(1, len(s) + 1):
        if i < len(s) and ord(s[i]) == ord(s[i - 1]) + 1:
            run += 1
            continue
        if run >= 4:
            covered += run
        run = 1
    return covered / len(s) if s else 0.0


def looks_fake(s: str) -> bool:
    """Low-entropy or placeholder look-alike of a credential: AKIAXXXX..., sk_test_abcd1234..."""
    if len(set(s)) < min(6, len(s) // 2):
        return True
    low = s.lower()
    if any(w in low for w in FAKE_WORDS) or REPEAT6.search(s):
        return True
    return ascending_share(s) >= 0.6


def is_complex(v: str) -> bool:
    """A digit, both cases, or a symbol: what generated credentials look like."""
    return bool(
        DIGIT.search(v) or SYMBOL.search(v) or (LOWER.search(v) and UPPER.search(v))
    )


def token_start(text: str, i: int, chars=ALNUM) -> bool:
    """True when position i starts a token: the previous character cannot continue it, or it is the + or - that
    starts a line of a diff (also in a JSON string, after \\n)."""
    if i == 0 or text[i - 1] not in chars:
        return True
    if text[i - 1] in "+-":
        j = i - 1
        return j == 0 or text[j - 1] in "\r\n" or text.startswith("\\n", j - 2)
    return False


def token_end(text: str, j: int, chars=ALNUM) -> bool:
    return j >= len(text) or text[j] not in chars




def is_random(s: str, min_rate: float = 0.15) -> bool:
    """Machine-made: the character class (upper, lower, digit, other) changes often along s.

    Random base62 or hex changes class at about every second character; names made of words
    and separators
    (``BSA_V2_CONFIGURATION``, ``compute_session_token_length``) hardly ever.
    """
    changes, prev, n, digits = 0, None, 0, 0
    for c in s:
        cls = 0 if c.isdigit() else 1 if c.islower() else 2 if c.isupper() else None
        if cls is None:
            continue  # separators (_ - . /) do not count: BSA_V2_CONFIGURATION changes class twice
        n += 1
        digits += cls == 0
        if cls != prev:
            changes += 1
            prev = cls
    if n < 2:
        return False
    # One-case alphabets with digits (base32, [a-z0-9]) change class less often; they have many digits.
    return (changes - 1) / (n - 1) >= min_rate or (digits >= max(2, n // 20) and n - digits >= n // 4)
