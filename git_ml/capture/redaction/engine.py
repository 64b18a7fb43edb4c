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

    __slots__ = ("name", "literals", "source", "_pattern", "check", "direct_on_large", "line_local")
    rerun = True  # runs again after a later rule's replacement (see redact)

    def __init__(self, name, literals, pattern, check, line_local=True):
        self.name = name
        self.literals = literals
        self.source = pattern
        self._pattern = None
        self.check = check
        self.direct_on_large = len(literals) > 1
        self.line_local = line_local  # no match crosses a line break (see redact)

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
    *(_Rule(*row, line_local=row[0] != "private key") for row in known.BLOCK_ROWS),  # a key block spans lines
    TokenScanner(),
    *(_Rule(*row) for row in known.ROWS + generic.ROWS),
)


_PLACEHOLDERS: dict[str, str] = {}  # kind -> its placeholder, made once
_MARK = placeholder("")[:-1]  # what every placeholder starts with


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


def _runs(rule, text: str, large: bool) -> bool:
    """Whether the rule can match: one of its literals occurs (a C scan), or it scans at once (see _LARGE)."""
    if not rule.literals or (large and rule.direct_on_large):
        return True
    for lit in rule.literals:
        if lit in text:
            return True
    return False


def _settle(text: str, counts: dict[str, int], last: int, large: bool) -> str:
    """Run the rules again until none changes the text (the fixed point of the package's docstring).

    ``last`` is the index of the last rule that changed the text in the first pass: the rules up to it run once
    more, and after any change every rule runs again, in cycles (at most four), until a whole cycle changes nothing.
    """
    n = len(RULES)
    step, stop = n, n + last + 1
    while step < stop:
        rule = RULES[step % n]
        step += 1
        if rule.rerun and _runs(rule, text, large):
            new = _apply(rule, text, counts)
            if new is not text:
                text = new
                stop = min(step + n, 4 * n)
    return text


def _settled(text: str, lines: str, last: int) -> bool:
    """Whether running the rules up to ``last`` again changes nothing: line-local rules on ``lines`` (the lines
    holding a placeholder), the others on the whole text."""
    for rule in RULES[: last + 1]:
        if rule.rerun:
            on = lines if rule.line_local else text
            if _runs(rule, on, False) and _apply(rule, on, {}) is not on:
                return False
    return True


def _changed_lines(text: str, limit: int) -> str | None:
    """The lines of text that hold a placeholder, joined; None when more than ``limit`` do (then the whole text is
    cheaper to run again than to cut)."""
    lines, pos, find, rfind = [], 0, text.find, text.rfind
    while True:
        i = find(_MARK, pos)
        if i < 0:
            return "".join(lines)
        if len(lines) >= limit:
            return None
        start = rfind("\n", pos, i) + 1 if i > pos else pos
        end = find("\n", i)
        end = len(text) if end < 0 else end + 1
        lines.append(text[max(start, pos) : end])
        pos = end


def redact(text: str) -> tuple[str, dict[str, int]]:
    """Return text with secrets replaced by typed placeholders like [REDACTED:aws-access-key], and counts per kind."""
    counts: dict[str, int] = {}
    if not text:
        return text, counts
    large = len(text) > _LARGE
    last = -1  # the last rule that changed the text
    for i, rule in enumerate(RULES):
        if rule.literals and not (large and rule.direct_on_large):  # _runs, inline: hooks redact short texts
            for lit in rule.literals:
                if lit in text:
                    break
            else:
                continue  # no candidate for this rule
        new = _apply(rule, text, counts)
        if new is not text:
            text, last = new, i
    if last < 0:
        return text, counts
    # The rules run again (see _settle). A match that a replacement can expose lies on a line that holds a
    # placeholder: every rule that runs again matches within one line (none crosses a line break but the private
    # key's, which runs on the whole text), and a line without a placeholder is the line every rule saw and left.
    # So on large text with few replacements the second run reads only those lines; should it change any of them
    # (never seen so far), the whole text runs again.
    if large and sum(counts.values()) < len(text) >> 12:
        lines = _changed_lines(text, len(text) >> 12)
        if lines is not None and _settled(text, lines, last):
            return text, counts
    return _settle(text, counts, last, large), counts
