"""One pass that finds every provider token by its prefix: ``providers.TOKEN_ROWS`` and the fixed-format rows of
``known.SCANNED`` (OpenAI/Anthropic, GitHub, Slack, Stripe, AWS/Google/Bedrock, with their own checks).

A scan per prefix would cost a pass over the text for each of more than two hundred prefixes. Instead the text is
mapped, in C, to one byte per character (``str.encode`` with ``errors="replace"`` keeps one byte per character, so
offsets stay those of the text; ``bytes.translate`` marks the characters of tokens, ``[A-Za-z0-9_+/%~-]``), and
``bytes.find`` of a run of 16 marks finds the runs long enough to hold a token. Only those are looked up: by their
first two characters among the prefixes (also after a ``/`` or ``-`` inside the run: ``fix/glpat-...``, but not
inside UUIDs and hashes), and, when the run follows ``.``, ``=`` or ``:``, by the three characters before it among
the prefixes that hold one (``SG.``, ``dt0c01.``, ``AccountKey=``, ``sig=``, ``AstraCS:``). A run seen before
without a token (a session id or a path on every line of a transcript) is skipped. A candidate is a token when the
row's pattern matches there, no token character continues it, and its random part is random (``looks.is_random``)
and not a placeholder (``looks.looks_fake``). Azure AD client secrets, which have no prefix (three characters, a
digit, ``Q~``, 31-34 characters), are recognised in the same runs.

The rows of one head are one pattern (a group per row, in their order), so a run costs one ``match``; and the
random parts of all candidates are checked at once after the scan (``looks.machine_made_all``, ``looks_fake_all``),
then the runs are taken in order. A candidate that fails its check has its run read again the slow way, row by row,
as the rows after it may still hold a token.
"""

import re

from git_ml.capture.redaction.looks import (
    ALNUM,
    TOKEN,
    is_random,
    looks_fake,
    looks_fake_all,
    machine_made,
    machine_made_all,
)
from git_ml.capture.redaction.rules.known import SCANNED
from git_ml.capture.redaction.rules.providers import TOKEN_ROWS

_RUN_MIN = 16
_NEEDLE = b"a" * _RUN_MIN
_RUN_CHARS = TOKEN | frozenset("+/%~")
_LEADING = "-+/%~"  # not the start of a token: a + or - before it on a diff line, the / of a path
_INNER = re.compile(r"[/-]+")  # where a token may start inside a run
_HEXISH = re.compile(r"[0-9a-fA-F-]+")  # UUIDs, hashes: no token starts inside them
_STOPS = ".=:"  # a prefix may hold these (SG., dp.pt., sig=); the run of token characters starts after the last
_NAMED = re.compile(r"\(\?P<\w+>")  # a named group, made plain where the rows of a head share one pattern
_AZURE_SECRET = re.compile(r"[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}")


def _marks() -> bytes:
    table = bytearray(b" " * 256)
    for c in _RUN_CHARS:
        table[ord(c)] = ord("a")
    return bytes(table)


_MARKS = _marks()


class TokenScanner:
    """A rule for the engine: ``spans(text)`` yields ``(start, end, kind)`` of the provider tokens in text."""

    name = "provider tokens"
    literals: tuple[str, ...] = ()  # no literal prefilter: the one scan is the prefilter
    direct_on_large = True
    # A later rule's placeholder ([REDACTED:kind]) ends runs of token characters, never joins or starts one, so it
    # cannot expose a token to this scan: no second run after a replacement (the scan is the costliest rule).
    rerun = False

    def __init__(self, rows=TOKEN_ROWS, checked=SCANNED):
        self.rows = rows
        self.checked = checked
        self._built = False
        self._compiled: dict[str, re.Pattern] = {}
        self._fast: dict[str, tuple] = {}  # head -> (its one pattern, its rows): see _head_rows

    def _build(self) -> None:
        # Compiled on first use: hooks import the engine, and most commit messages hold no run of 16.
        self.heads: dict[str, list] = {}  # first two characters -> [(prefix, pattern, kind)]
        # the last stop of a prefix and the two characters before it -> [(part up to the stop, prefix, pattern, kind)]
        self.after_stop: dict[str, list] = {}
        entries = [(p, re.escape(p) + "(?:" + body + ")", kind) for kind, ps, body in self.rows for p in ps.split()]
        entries += [(p, pattern, check) for ps, pattern, check in self.checked for p in ps.split()]
        for prefix, pattern, kind in entries:
            # pattern: its source until first used (compiled then, in _token); kind: the kind of a provider row, or
            # the check of a SCANNED row (it decides span and kind)
            cut = max(prefix.rfind(c) for c in _STOPS)
            if cut < 0:
                self.heads.setdefault(prefix[:2], []).append((prefix, pattern, kind))
            else:
                entry = (prefix[: cut + 1], prefix, pattern, kind)
                self.after_stop.setdefault(prefix[max(0, cut - 2) : cut + 1], []).append(entry)
        for entries in self.heads.values():
            entries.sort(key=lambda e: -len(e[0]))  # longest prefix first: sk_car_ before sk_
        for entries in self.after_stop.values():
            entries.sort(key=lambda e: -len(e[1]))
        self._built = True

    def _token(self, text: str, start: int, prefix: str, source: str, kind, defer: bool):
        """(start, end, kind) of the token at start, or None. With ``defer``, a candidate is returned before its
        random part is checked, as (start, end, kind, start of the random part) for a provider row (machine_made)
        and with a fifth item for a SCANNED row (not looks_fake): spans checks them all at once."""
        pattern = self._compiled.get(source)
        if pattern is None:  # a hook's commit message meets a few prefixes at most: compile only those
            pattern = self._compiled[source] = re.compile(source)
        m = pattern.match(text, start)
        if m is None:
            return None
        if not isinstance(kind, str):  # a SCANNED row's check: span, kind and where the random part starts
            found = kind(m, text)
            if found is None or defer:
                return found if found is None else (*found, True)
            return None if looks_fake(text[found[3] : found[1]]) else found[:3]
        if start and text[start - 1] in ALNUM:
            return None  # inside a longer word
        end = m.end()
        if end < len(text) and text[end] in TOKEN:
            return None  # a longer run that only starts like a token
        if defer:
            return start, end, kind, start + len(prefix)
        return (start, end, kind) if machine_made(text[start + len(prefix) : end]) else None

    @staticmethod
    def _azure_secret(text: str, start: int):
        m = _AZURE_SECRET.match(text, start)
        if m is None or (start and text[start - 1] in _RUN_CHARS):
            return None
        end = m.end()
        if end < len(text) and text[end] in _RUN_CHARS:
            return None
        body = text[start + 6 : end]
        return None if looks_fake(body) or not is_random(body) else end

    def _head_rows(self, head: str) -> tuple:
        """(one pattern for the rows of a head, the rows) — compiled once per head. The pattern tries the rows in
        their order, a group each: one C call finds the first row whose pattern matches and which no token
        character continues (the checks of _token before machine_made); ``m.lastindex - 1`` is that row. A row is
        (kind or check, prefix length (0 for a checked row), prefix, pattern source)."""
        entry = self._fast.get(head)
        if entry is None:
            options = []
            for prefix, source, kind in self.heads[head]:
                source = _NAMED.sub("(?:", source)
                if isinstance(kind, str):  # atomic: the greedy match or none, as _token reads it
                    options.append(f"({re.escape(prefix)}(?>{source[len(re.escape(prefix)):]}))(?![A-Za-z0-9_-])")
                else:
                    options.append(f"(?={re.escape(prefix)})({source})")
            pattern = re.compile("|".join(options))
            if pattern.groups != len(options):  # m.lastindex names the row only with one group per row
                raise ValueError(f"a token row of {head!r} has a group of its own")
            rows = [(kind, len(prefix) if isinstance(kind, str) else 0, prefix, source)
                    for prefix, source, kind in self.heads[head]]
            entry = self._fast[head] = (pattern, rows)
        return entry

    def _at_head(self, text: str, s: int, run_end: int, defer: bool, tried: int = -1):
        """The token that starts at s (after leading + - / % ~), or None. ``tried``: a position where the head's
        pattern is known to match no row (spans tried it)."""
        while s < run_end - 1 and text[s] in _LEADING:
            s += 1
        head = text[s : s + 2]
        if head in self.heads and s != tried:
            pattern, rows = self._head_rows(head)
            m = pattern.match(text, s)
            if m is None:  # no row's pattern: what the loop below would find
                rows = ()
            else:
                kind, length, _, _ = rows[m.lastindex - 1]
                if length:  # s is never inside a word here: the run or a / or - ends before it
                    if defer:
                        return s, m.end(), kind, s + length
                    if machine_made(text[s + length : m.end()]):
                        return s, m.end(), kind
                # a check to run, or a look-alike: the rows one by one from there (those before it do not match)
                rows = rows[m.lastindex - 1 :]
        else:
            rows = ()
        for kind, _, prefix, source in rows:
            if text.startswith(prefix, s):
                found = self._token(text, s, prefix, source, kind, defer)
                if found is not None:
                    return found
        if text.startswith("Q~", s + 4):
            end = self._azure_secret(text, s)
            if end is not None:
                return s, end, "azure-client-secret"
        return None

    def spans(self, text: str):
        marked = text.encode("ascii", "replace").translate(_MARKS)
        find, needle, n = marked.find, _NEEDLE, len(text)
        s = find(needle)
        if s < 0:
            return  # no run of 16: most commit messages, and no pattern compiled for them
        if not self._built:
            self._build()
        # Every run is read first, with the random parts of provider tokens left unchecked; those are checked all
        # at once (looks.machine_made_all), then the runs are taken in order, each after the token before it.
        plain: set[str] = set()  # runs already seen to hold no token (a session id, a cwd repeated on every line)
        runs = []  # (start of the run, its end, what it holds)
        fast, add, heads, after_stop = self._fast, runs.append, self.heads, self.after_stop
        while True:
            s = find(needle, s)
            if s < 0:
                break
            run_end = find(b" ", s + _RUN_MIN)
            if run_end < 0:
                run_end = n
            found = None
            if s > 2 and text[s - 1] in _STOPS and text[s - 3 : s] in after_stop:
                found = self._after_stop(text, s, True)
            if found is None:
                run = text[s:run_end]
                if run in plain:
                    s = run_end
                    continue
                # The common case inline: a run that starts, after any leading + - / % ~, with the prefix of a
                # row, matched by its head's one pattern (see _at_head). A provider row's candidate is taken; a
                # checked row's check runs when nothing leads (then it reads nothing outside the run, so the cache
                # of runs without a token agrees). A head met for the first time goes through _rest_of_run, which
                # compiles its pattern. Everything else goes through _rest_of_run too.
                start, tried = s, -1
                if run[0] in _LEADING:
                    while start < run_end - 1 and text[start] in _LEADING:
                        start += 1
                head = fast.get(text[start : start + 2])
                if head is not None:
                    m = head[0].match(text, start)
                    if m is None:
                        tried = start
                    else:
                        kind, length, prefix, source = head[1][m.lastindex - 1]
                        if length:
                            found = start, m.end(), kind, start + length
                        elif start == s:
                            found = self._token(text, s, prefix, source, kind, True)
                if found is None:
                    if head is None and run[:2] not in heads and run[0] not in _LEADING \
                            and not run.startswith("Q~", 4) and _HEXISH.fullmatch(run):
                        if len(plain) < 100_000:  # an id or a hash: _rest_of_run's verdict, without the call
                            plain.add(run)
                    else:
                        found = self._rest_of_run(text, s, run_end, run, plain, True, tried)
            if found is not None:
                add((s, run_end, found))
            s = run_end
        provider = [text[found[3] : found[1]] for _, _, found in runs if len(found) == 4]
        checked = [text[found[3] : found[1]] for _, _, found in runs if len(found) == 5]
        randoms, fakes = iter(machine_made_all(provider)), iter(looks_fake_all(checked))
        pos = 0
        for s, run_end, found in runs:
            if len(found) > 3:
                if next(randoms) if len(found) == 4 else not next(fakes):
                    found = found[:3]
                elif s >= pos:  # not random: what else the run may hold, read as it was read before
                    found = self._in_run(text, s, run_end, plain, False)
            if found is not None and s >= pos and found[0] >= pos:
                pos = found[1]
                yield found

    def _in_run(self, text: str, s: int, run_end: int, plain: set[str], defer: bool):
        """The token in the run of token characters text[s:run_end] (or starting just before it), or None."""
        if s > 2 and text[s - 1] in _STOPS:
            found = self._after_stop(text, s, defer)
            if found is not None:
                return found
        run = text[s:run_end]
        return None if run in plain else self._rest_of_run(text, s, run_end, run, plain, defer)

    def _after_stop(self, text: str, s: int, defer: bool):
        """The token whose prefix ends in the . = or : just before s (SG., AccountKey=, AstraCS:), or None."""
        for before, prefix, pattern, kind in self.after_stop.get(text[s - 3 : s], ()):
            start = s - len(before)
            if start >= 0 and text.startswith(prefix, start):
                found = self._token(text, start, prefix, pattern, kind, defer)
                if found is not None:
                    if before[-1] in "=:":  # AccountKey=<value>: the value goes, the name stays
                        found = (s, *found[1:])
                    return found
        return None

    def _rest_of_run(self, text: str, s: int, run_end: int, run: str, plain: set[str], defer: bool,
                     tried: int = -1):
        """The token at the head of a run not seen before (``tried``: see _at_head) or after a / or - inside it;
        a run without one joins ``plain``."""
        heads, found = self.heads, None
        if run[:2] in heads or run[0] in _LEADING or run.startswith("Q~", 4):
            found = self._at_head(text, s, run_end, defer, tried)
        # after a / or - inside the run: fix/glpat-..., wip-ghp_..., /v1/keys/sk-... (not in UUIDs and hashes)
        if found is None and not _HEXISH.fullmatch(run):
            for sep in _INNER.finditer(run, 1, len(run) - _RUN_MIN // 2):
                if run[sep.end() : sep.end() + 2] in heads or run.startswith("Q~", sep.end() + 4):
                    found = self._at_head(text, s + sep.end(), run_end, defer)
                    if found is not None:
                        break
        if found is None and len(plain) < 100_000:
            plain.add(run)
        return found
