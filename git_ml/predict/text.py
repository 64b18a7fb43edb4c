"""Tokenizer shared by predict (and later search): words of messages, identifiers and paths.

Lowercases, splits on anything that is not a letter or digit, splits identifiers at camelCase and snake_case
boundaries while keeping the whole identifier too, drops pure numbers, one-letter tokens and a short list of
English function words, and folds a few regular suffixes (plural ``s``, ``ing``, ``ed``) so that "fixes",
"fixed" and "fixing" meet "fix". Deliberately small: no dependency beyond ``re``.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z0-9_]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

STOPWORDS = frozenset(
    """a an and are as at be been but by for from has have he her his i if in into is it its me my no not of on or
    our she so than that the their them then there these they this those to us was we were what when where which
    while who will with would you your also can could do does did should may might must shall just all any both
    each few more most other some such only own same too very""".split()
)


def stem(word: str) -> str:
    """A conservative suffix folding, enough to make inflected forms of one word meet."""
    n = len(word)
    if n > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if n > 5 and word.endswith("ing"):
        word = word[:-3]
        if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "lsz":
            word = word[:-1]
        return word[:-1] if len(word) > 4 and word.endswith("e") else word
    if n > 4 and word.endswith("ed") and not word.endswith("eed"):
        word = word[:-2]
        if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "lsz":
            word = word[:-1]
        return word
    if n > 3 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if n > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    if n > 4 and word.endswith("e"):
        return word[:-1]
    return word


_stem_cache: dict[str, str] = {}


def _norm(word: str) -> str | None:
    w = _stem_cache.get(word)
    if w is None:
        low = word.lower()
        if len(low) < 2 or low.isdigit() or low in STOPWORDS:
            w = ""
        else:
            w = stem(low)
        if len(_stem_cache) < 500_000:
            _stem_cache[word] = w
    return w or None


def word_tokens(word: str) -> tuple[str, ...]:
    """Tokens of one word as found by ``WORD`` (an identifier or a plain word)."""
    if len(word) > 64:
        return ()
    out: list[str] = []
    parts = _CAMEL.findall(word) if (not word.islower() and not word.isupper()) or "_" in word else None
    if parts and len(parts) > 1:
        whole = _norm(word.replace("_", ""))
        if whole:
            out.append(whole)
        for part in parts:
            t = _norm(part)
            if t:
                out.append(t)
    else:
        t = _norm(word.strip("_"))
        if t:
            out.append(t)
    return tuple(out)


_word_cache: dict[str, tuple[str, ...]] = {}
WORD = _WORD


def tokens(text: str) -> list[str]:
    """Tokens of free text (messages, task descriptions), in order, with repeats."""
    out: list[str] = []
    cache = _word_cache
    for word in _WORD.findall(text):
        toks = cache.get(word)
        if toks is None:
            toks = word_tokens(word)
            if len(cache) < 500_000:
                cache[word] = toks
        out.extend(toks)
    return out


def path_tokens(path: str) -> list[str]:
    """Distinct tokens of a path: directory names, the file name with and without extension, identifier parts."""
    seen: dict[str, None] = {}
    parts = path.split("/")
    for part in parts:
        stem_part = part.rsplit(".", 1)[0] if "." in part[1:] else part
        for t in tokens(stem_part.replace("-", "_")):
            seen[t] = None
    return list(seen)


def subject(message: str) -> str:
    """The subject line: the message up to the first newline."""
    return message.split("\n", 1)[0]


class Vocabulary:
    """Term ids and the path-token postings, shared by the numpy model (``index.py``) and the standard-library one
    (``lite_model.py``) so that both assign the same ids in the same order. Needs ``tid``, ``vocab``, ``wcache``,
    ``pterm`` and ``nterm`` (postings with ``add(term, file, weight)``) on the instance."""

    tid: dict
    vocab: list
    wcache: dict

    def term_id(self, term: str) -> int:
        t = self.tid.get(term)
        if t is None:
            t = self.tid[term] = len(self.vocab)
            self.vocab.append(term)
        return t

    def text_terms(self, text: str) -> tuple[list[int], list[float]]:
        """Distinct term ids of a text and their counts (new terms enter the vocabulary)."""
        from collections import Counter

        counts: dict[int, float] = {}
        wcache = self.wcache
        for word, n in Counter(WORD.findall(text)).items():
            ids = wcache.get(word)
            if ids is None:
                ids = wcache[word] = tuple(self.term_id(t) for t in word_tokens(word))
            for t in ids:
                counts[t] = counts.get(t, 0.0) + n
        return list(counts), list(counts.values())

    def _index_path(self, f: int, path: str) -> None:
        for t in path_tokens(path):
            self.pterm.add(self.term_id(t), f, 1.0)
        for t in path_tokens(path.rsplit("/", 1)[-1]):
            self.nterm.add(self.term_id(t), f, 1.0)
