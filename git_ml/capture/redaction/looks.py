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


# Every ascending run of 4 (0123 ... wxyz): without one of them there is no run to measure (a few C scans).
_ASCENDING4 = tuple(a[i : i + 4] for a in ("0123456789", "abcdefghijklmnopqrstuvwxyz") for i in range(len(a) - 3))


def ascending_share(s: str) -> float:
    """Share of characters inside ascending runs of 4+ (abcd, 1234): hand-typed fillers."""
    s = s.lower()
    for run in _ASCENDING4:
        if run in s:
            break
    else:
        return 0.0
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
    for word in FAKE_WORDS:
        if word in low:
            return True
    if REPEAT6.search(s):
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


# Character classes for is_random: digit 0, lower a, upper A; anything else is dropped.
_CLASSES = {c: "0" for c in range(48, 58)} | {c: "a" for c in range(97, 123)} | {c: "A" for c in range(65, 91)}
_CLASSES = {c: _CLASSES.get(c, " ") for c in range(128)}


def is_random(s: str, min_rate: float = 0.15) -> bool:
    """Machine-made: the character class (upper, lower, digit) changes often along s.

    Random base62 or hex changes class at about every second character; names made of words and separators
    (``BSA_V2_CONFIGURATION``, ``compute_session_token_length``) hardly ever. Separators and other characters do
    not count.
    """
    classes = s.translate(_CLASSES).replace(" ", "")  # in C: one character per class
    n = len(classes)
    if n < 2:
        return False
    count = classes.count
    changes = count("0a") + count("a0") + count("0A") + count("A0") + count("aA") + count("Aa")
    digits = classes.count("0")
    # One-case alphabets with digits (base32, [a-z0-9]) change class less often; they have many digits.
    return changes / (n - 1) >= min_rate or (digits >= max(2, n // 20) and n - digits >= n // 4)
