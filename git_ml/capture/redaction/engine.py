"""The redaction engine: runs the rules of ``rules/`` over a text (see the package's docstring)."""

import re

from git_ml.capture.redaction.looks import placeholder
from git_ml.capture.redaction.rules import generic, known
from git_ml.capture.redaction.rules.providers import TOKEN_ROWS
from git_ml.capture.redaction.rules.tokens import TokenScanner

__all__ = ["KINDS", "RULES", "redact"]

KINDS: tuple[str, ...] = tuple(dict.fromkeys((
    "private-key",
    "jwt",
    "anthropic-key",
    "openai-key",
    "github-token",
    "slack-webhook",
    "slack-token",
    "stripe-key",
    *(row[0] for row in TOKEN_ROWS),
    "azure-client-secret",
    "aws-access-key",
    "aws-bedrock-key",
    "google-api-key",
    "url-credentials",
    "aws-secret-key",
    "password",
    "generic-secret",
)))

# On large text a rule with several literals skips the literal scans and runs its pattern
# at once: re's one scan for the pattern's leading literal (g, x, k_, A) costs less than
# several str scans; on short text the str scans are cheaper than calling re.
_LARGE = 1 << 16


class _Rule:
    """A pattern rule: ``spans(text)`` yields (start, end, kind) of the matches its check accepts."""

    __slots__ = ("name", "literals", "source", "_pattern", "check", "direct_on_large")
    rerun = True  # runs again after a later rule's replacement (see redact)

    def __init__(self, name, literals, pattern, check):
        self.name = name
        self.literals = literals
        self.source = pattern
        self._pattern = None
        self.check = check
        self.direct_on_large = len(literals) > 1

    @property
    def pattern(self) -> re.Pattern:
        # Compiled on first use: most texts (commit messages in a hook) never reach most rules, and compiling
        # them all would cost a hook's start-up more than the scans do.
        if self._pattern is None:
            self._pattern = re.compile(self.source)
        return self._pattern

    def spans(self, text: str):
        check = self.check
        for m in self.pattern.finditer(text):
            found = check(m, text)
            if found is not None:
                yield found


# Specific rules first (see the package's docstring): blocks (private keys, JWTs), provider tokens, connection
# strings, then the rules that go by context (URLs, assignments).
RULES = (
    *(_Rule(*row) for row in known.BLOCK_ROWS),
    TokenScanner(),
    *(_Rule(*row) for row in known.ROWS + generic.ROWS),
)


_PLACEHOLDERS: dict[str, str] = {}  # kind -> its placeholder, made once


def _apply(rule, text: str, counts: dict[str, int]) -> str:
    """Replace the matches of one rule; the text itself when there are none. The output is built by one join."""
    pieces, pos = [], 0
    add = pieces.append
    for start, end, kind in rule.spans(text):
        if start < pos:  # overlaps the previous replacement
            continue
        add(text[pos:start])
        text_of = _PLACEHOLDERS.get(kind)
        if text_of is None:
            text_of = _PLACEHOLDERS[kind] = placeholder(kind)
        add(text_of)
        counts[kind] = counts.get(kind, 0) + 1
        pos = end
    if not pieces:
        return text
    add(text[pos:])
    return "".join(pieces)


def redact(text: str) -> tuple[str, dict[str, int]]:
    """Return text with secrets replaced by typed placeholders like [REDACTED:aws-access-key], and counts per kind."""
    counts: dict[str, int] = {}
    if not text:
        return text, counts
    large = len(text) > _LARGE
    # Rules run in order until every rule has run on the final text: a replacement can
    # (rarely) expose a match to an earlier rule, e.g. of two secrets glued together, so
    # after a change the rules before it run once more. Then redact(redact(x)[0]) is a no-op.
    n = len(RULES)
    step, stop = 0, n
    while step < stop:
        rule = RULES[step % n]
        step += 1
        if step > n and not rule.rerun:
            continue
        if rule.literals and not (large and rule.direct_on_large):
            for lit in rule.literals:
                if lit in text:
                    break
            else:
                continue  # no candidate for this rule
        new = _apply(rule, text, counts)
        if new is not text:
            text = new
            stop = min(step + n, 4 * n)
    return text, counts
