"""Shared pieces of the redaction rules: character sets and look-alike checks."""

import re
from itertools import accumulate, repeat
from operator import itemgetter

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


# Neighbouring characters compared in C: the big-endian integers of a string's bytes and of the same bytes shifted
# by one, XORed, have a zero byte where a character equals (or, after _NEXT, follows) the one before it.
_NEXT = bytes.maketrans(b"012345678abcdefghijklmnopqrstuvwxy", b"123456789bcdefghijklmnopqrstuvwxyz")


def _neighbours(b: bytes, before: bytes) -> bytes:
    """Byte i is 0 where b[i + 1] == before[i]."""
    n = len(b) - 1
    return (int.from_bytes(b[1:], "big") ^ int.from_bytes(before[:n], "big")).to_bytes(n, "big")


def looks_fake(s: str) -> bool:
    """Low-entropy or placeholder look-alike of a credential: AKIAXXXX..., sk_test_abcd1234..."""
    n = len(s)
    # fewer than 6 distinct characters (or than half): a dozen characters with 6 distinct ones settle it cheaply
    if len(set(s[:12])) < 6 and len(set(s)) < min(6, n // 2):
        return True
    low = s.lower()
    for word in FAKE_WORDS:
        if word in low:
            return True
    if n < 6 or not s.isascii():
        return bool(REPEAT6.search(s)) or ascending_share(s) >= 0.6
    # The regex and the Python loop run only where the C comparison finds 6 equal or 4 ascending characters.
    b = s.encode()
    if b"\0\0\0\0\0" in _neighbours(b, b) and REPEAT6.search(s):
        return True
    lb = low.encode()
    return b"\0\0\0" in _neighbours(lb, lb.translate(_NEXT)) and ascending_share(s) >= 0.6


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


# Character classes for is_random: digit 0, lower a, upper A; other ASCII is dropped (a space, then removed), other
# characters stay (they end a run of classes).
_CLASS_BYTES = bytes(
    ord("0") if chr(c).isdigit() else ord("a") if chr(c).islower() else ord("A") if chr(c).isupper() else 32
    for c in range(128)
) + bytes(128)
_CLASSES = {c: chr(_CLASS_BYTES[c]) for c in range(128)}


def is_random(s: str, min_rate: float = 0.15) -> bool:
    """Machine-made: the character class (upper, lower, digit) changes often along s.

    Random base62 or hex changes class at about every second character; names made of words and separators
    (``BSA_V2_CONFIGURATION``, ``compute_session_token_length``) hardly ever. Separators and other characters do
    not count.
    """
    if s.isascii():
        classes = s.encode().translate(_CLASS_BYTES).replace(b" ", b"")  # in C: one byte per class
        n = len(classes)
        if n < 2:
            return False
        changes = n - 1 - _neighbours(classes, classes).count(0)  # neighbours of different classes
        digits = classes.count(b"0")
    else:
        text = s.translate(_CLASSES).replace(" ", "")
        n = len(text)
        if n < 2:
            return False
        count = text.count
        changes = count("0a") + count("a0") + count("0A") + count("A0") + count("aA") + count("Aa")
        digits = count("0")
    # One-case alphabets with digits (base32, [a-z0-9]) change class less often; they have many digits.
    return changes / (n - 1) >= min_rate or (digits >= max(2, n // 20) and n - digits >= n // 4)


def machine_made(s: str) -> bool:
    """``is_random(s) and not looks_fake(s)``, the check of every provider-token candidate, with the work the two
    share done once."""
    n = len(s)
    if n < 6 or not s.isascii() or (len(set(s[:12])) < 6 and len(set(s)) < min(6, n // 2)):
        verdict = is_random(s) and not looks_fake(s)
    else:
        low = s.lower()
        for word in FAKE_WORDS:
            if word in low:
                verdict = False
                break
        else:
            lb = low.encode()
            rest = int.from_bytes(lb[1:], "big")
            # 6 equal characters (case aside: then the regex decides) or 4 ascending: rare, then the full check
            if (b"\0\0\0\0\0" in (rest ^ int.from_bytes(lb[:-1], "big")).to_bytes(n - 1, "big")
                    or b"\0\0\0" in (rest ^ int.from_bytes(lb[:-1].translate(_NEXT), "big")).to_bytes(n - 1, "big")):
                verdict = is_random(s) and not looks_fake(s)
            else:
                verdict = is_random(s)
    return verdict


# For machine_made_all: the class bytes of is_random with the separator of the joined strings kept (as |) and
# non-ASCII bytes dropped, and the XOR of neighbouring class bytes read back as same (=), change (c) or edge (|).
_SEP = "\x00"
_CLASS_SEP = bytes(ord("|") if c == 0 else _CLASS_BYTES[c] for c in range(128)) + b" " * 128
def _pairs() -> bytes:
    table = bytearray(b"?" * 256)
    table[0] = ord("=")
    for a, b in ("0a", "0A", "aA"):
        table[ord(a) ^ ord(b)] = ord("c")
    for a in "0aA":
        table[ord(a) ^ ord("|")] = ord("|")
    return bytes(table)


_PAIRS = _pairs()
_FAKE = re.compile("|".join(re.escape(w) for w in FAKE_WORDS))


def _flag(text: str, needles, offsets: list[int], flagged: set[int]) -> None:
    """Add to flagged the index of each string (by its start in the joined text) that holds one of the needles."""
    for needle in needles:
        find, i = text.find, text.find(needle)
        while i >= 0:
            lo, hi = 0, len(offsets)  # the last string starting at or before i (bisect, which hooks need not import)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offsets[mid] <= i:
                    lo = mid
                else:
                    hi = mid
            flagged.add(lo)
            i = find(needle, i + 1)


def _suspects(strings: list[str], joined: str) -> set[int]:
    """The strings (by index) that the shared look-alike checks may reject: few distinct characters among the first
    twelve (every string under 6 long among them), a placeholder word, 6 equal or 4 ascending characters (case
    aside: a superset of what looks_fake and machine_made reject). ``joined``: the strings joined by _SEP."""
    offsets = list(accumulate((len(s) + 1 for s in strings), initial=0))
    first12 = map(itemgetter(slice(0, 12)), strings)
    suspects = {i for i, d in enumerate(map(len, map(set, first12))) if d < 6}
    low = joined.lower()
    _flag(low, FAKE_WORDS, offsets, suspects)
    lb = low.encode()
    rest, n = int.from_bytes(lb[1:], "big"), len(lb) - 1
    _flag((rest ^ int.from_bytes(lb[:-1], "big")).to_bytes(n, "big"), (b"\0\0\0\0\0",), offsets, suspects)
    _flag((rest ^ int.from_bytes(lb[:-1].translate(_NEXT), "big")).to_bytes(n, "big"), (b"\0\0\0",), offsets, suspects)
    return suspects


def _joined(strings: list[str]) -> str | None:
    """The strings joined by _SEP for the checks at once; None when one by one is cheaper or needed (a handful,
    non-ASCII, a string holding the separator)."""
    if len(strings) < 8:
        return None
    joined = _SEP.join(strings)
    if not joined.isascii() or joined.count(_SEP) != len(strings) - 1:
        return None
    return joined


def looks_fake_all(strings: list[str]) -> list[bool]:
    """``[looks_fake(s) for s in strings]``, with the work done at once (see machine_made_all)."""
    joined = _joined(strings)
    if joined is None:
        return [looks_fake(s) for s in strings]
    out = [False] * len(strings)
    for i in _suspects(strings, joined):
        out[i] = looks_fake(strings[i])
    return out


def machine_made_all(strings: list[str]) -> list[bool]:
    """``[machine_made(s) for s in strings]``, with the work done in C over all of them at once: the provider-token
    scan checks thousands of candidates in a secret-dense text, where one Python call per check cost most of the
    time. Strings that the shared checks flag (placeholder words, 6 equal or 4 ascending characters, few distinct
    characters, short or non-ASCII) get the one-by-one check."""
    joined = _joined(strings)
    if joined is None:
        return [machine_made(s) for s in strings]
    flagged = _suspects(strings, joined)
    # is_random of each: its class bytes (symbols dropped), then the changes between neighbours counted per string
    classes = joined.encode().translate(_CLASS_SEP).replace(b" ", b"")
    parts = classes.split(b"|")
    pairs = (int.from_bytes(classes[1:], "big") ^ int.from_bytes(classes[:-1], "big")).to_bytes(len(classes) - 1, "big")
    pairs = pairs.translate(_PAIRS)
    steps = pairs.replace(b"||", b"|").split(b"|")
    if len(parts) != len(strings) or len(steps) != len(strings) or b"?" in pairs:
        return [machine_made(s) for s in strings]  # a string without letters or digits: one by one
    out = [
        k > 1 and (c / (k - 1) >= 0.15 or (d >= max(2, k // 20) and k - d >= k // 4))
        for k, c, d in zip(map(len, parts), map(bytes.count, steps, repeat(b"c")), map(bytes.count, parts, repeat(b"0")))
    ]
    for i in flagged:
        out[i] = machine_made(strings[i])
    return out
