"""Synthetic fake secrets and the contexts people paste them in (tests and benchmarks share this).

``fake(body_regex)`` draws a random string matching one of the simple patterns of
``git_ml.capture.redaction.rules.providers`` (classes, repeats, optional and alternative groups), so every
provider format yields fresh random tokens: nothing here is a real credential. ``contexts(secret)`` places a
secret in prose, assignments in every casing, JSON, YAML, URLs, +/- diff lines and Markdown code blocks.
"""

import random
import string

from git_ml.capture.redaction.rules.providers import TOKEN_ROWS

ALNUM = string.ascii_letters + string.digits


def _class(src: str, i: int) -> tuple[str, int]:
    """The characters of the class starting after '[' at src[i]; returns (chars, index after ']')."""
    chars, negate = [], src[i] == "^"
    assert not negate, "negated classes are not generated"
    while src[i] != "]" or not chars:
        c = src[i]
        if c == "\\":
            chars.append(src[i + 1])
            i += 2
        elif i + 2 < len(src) and src[i + 1] == "-" and src[i + 2] != "]":
            chars += [chr(x) for x in range(ord(c), ord(src[i + 2]) + 1)]
            i += 3
        else:
            chars.append(c)
            i += 1
    return "".join(chars), i + 1


def _repeat(src: str, i: int, rng: random.Random) -> tuple[int, int]:
    if i < len(src) and src[i] in "?*+{":
        if src[i] == "?":
            return rng.randint(0, 1), i + 1
        if src[i] == "*":
            return rng.randint(0, 3), i + 1
        if src[i] == "+":
            return rng.randint(1, 4), i + 1
        j = src.index("}", i)
        lo, _, hi = src[i + 1 : j].partition(",")
        low = int(lo)
        high = low if not _ else (int(hi) if hi else low + 8)
        return rng.randint(low, min(high, low + 24)), j + 1
    return 1, i


def _alternatives(src: str, i: int, rng: random.Random, depth=0) -> tuple[list[list], int]:
    """Parse src from i up to the matching ')' (or the end): a list of branches, each a list of (atom, count)."""
    branches, items = [], []
    while i < len(src) and src[i] != ")":
        c = src[i]
        if c == "|":
            branches.append(items)
            items = []
            i += 1
            continue
        if c == "(":
            i += 3 if src.startswith("(?:", i) else 1
            sub, i = _alternatives(src, i, rng, depth + 1)
            i += 1  # ')'
            atom = ("group", sub)
        elif c == "[":
            chars, i = _class(src, i + 1)
            atom = ("chars", chars)
        elif c == "\\":
            atom = ("chars", string.digits) if src[i + 1] == "d" else ("chars", src[i + 1])
            i += 2
        else:
            atom = ("chars", c)
            i += 1
        count, i = _repeat(src, i, rng)
        items.append((atom, count))
    branches.append(items)
    return branches, i


def _render(branches, rng: random.Random) -> str:
    out = []
    for atom, count in rng.choice(branches):
        for _ in range(count):
            kind, value = atom
            out.append(rng.choice(value) if kind == "chars" else _render(value, rng))
    return "".join(out)


def fake(regex: str, rng: random.Random) -> str:
    """A random string matching regex (the subset the provider rows use)."""
    branches, _ = _alternatives(regex, 0, rng)
    return _render(branches, rng)


def provider_tokens(rng: random.Random) -> list[tuple[str, str]]:
    """(kind, token) for every prefix of every provider row, with a fresh random body."""
    out = []
    for kind, prefixes, body in TOKEN_ROWS:
        for prefix in prefixes.split():
            out.append((kind, prefix + fake(body, rng)))
    return out


NAMES = ["api_key", "API_KEY", "apiKey", "ApiKey", "auth_token", "AUTH_TOKEN", "authToken", "clientSecret",
         "client_secret", "CLIENT_SECRET", "secret", "Secret", "token", "Token", "access_token", "accessToken"]


def contexts(secret: str, name: str = "api_key") -> list[str]:
    """The secret as people paste it: prose, assignments, JSON, YAML, headers, URLs, diffs, Markdown."""
    return [
        f"here is my key {secret} can you check why it fails?",
        f"The token ({secret}) expired yesterday.",
        f"{name}={secret}",
        f'{name} = "{secret}"',
        f"{name}: '{secret}'",
        f"export {name.upper()}={secret}",
        f'{{"{name}": "{secret}", "n": 1}}',
        f"{name}: {secret}\nother: value",
        f"X-Api-Key: {secret}",
        f"Authorization: Bearer {secret}",
        f"https://api.example.org/v1/items?{name}={secret}&page=2",
        f"+{name} = '{secret}'\n-{name} = ''",
        f"+{secret}\n-{secret}",
        f"```bash\ncurl -H 'Authorization: {secret}' https://api.example.org\n```",
        f"```\n{secret}\n```",
    ]
