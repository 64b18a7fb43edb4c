"""Search text on top of predict's tokenizer (``git_ml.predict.text``): one tokenizer for both, so that a query
word meets the same stems, identifier parts and stop words in `predict` and `search`.

What search needs beyond it, kept here until the two are unified: words outside ASCII (prompts are often in other
languages), with runs of CJK characters cut into overlapping pairs since those scripts do not separate words, and
token positions in the original text for snippets.
"""

from __future__ import annotations

import re

from git_ml.predict.text import WORD, tokens, word_tokens

_UNICODE_WORD = re.compile(r"[^\W\d_]{2,}|[^\W\d_]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_WORD_BYTES = re.compile(WORD.pattern.encode())  # the same ASCII words, found faster in UTF-8 bytes
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")


def _non_ascii_words(text: str):
    """Words (runs of letters) holding at least one letter outside ASCII, found from those letters outward (a
    regex over every word costs far more on long ASCII texts with a few names in them)."""
    end = -1
    n = len(text)
    for m in _NON_ASCII.finditer(text):
        i = m.start()
        if i < end or not text[i].isalpha():
            continue
        a = i
        while a > 0 and text[a - 1].isalpha():
            a -= 1
        b = i + 1
        while b < n and text[b].isalpha():
            b += 1
        end = b
        yield text[a:b]


def _extra(text: str) -> list[str]:
    out: list[str] = []
    for w in _non_ascii_words(text):
        for run in _CJK.findall(w) or ():
            if len(run) == 1:
                out.append(run)
            out.extend(run[i:i + 2] for i in range(len(run) - 1))
        rest = _CJK.sub(" ", w).split()
        out.extend(r.lower() for r in rest if len(r) > 1)
    return out


class _Joined(dict):
    """word (ASCII bytes) -> its tokens joined by spaces, filled on first sight (predict's ``word_tokens``)."""

    def __missing__(self, word: bytes) -> str:
        value = " ".join(word_tokens(word.decode("ascii")))
        if len(self) < 500_000:
            self[word] = value
        return value


_JOINED = _Joined()


def doc_tokens(text: str) -> list[str]:
    """Tokens of a document or a query: predict's tokens, plus non-ASCII words when there are any."""
    if not text:
        return []
    toks = tokens(text)
    if not text.isascii():
        toks.extend(_extra(text))
    return toks


def doc_text(text: str) -> str:
    """``doc_tokens`` joined by spaces, computed in bulk (what the full-text index stores): a word's tokens are
    looked up in C through a cache, which makes indexing a large history several times faster than a loop."""
    if not text:
        return ""
    words = _WORD_BYTES.findall(text.encode("utf-8", "surrogatepass"))
    joined = " ".join(filter(None, map(_JOINED.__getitem__, words)))
    if not text.isascii():
        extra = _extra(text)
        if extra:
            joined = f"{joined} {' '.join(extra)}" if joined else " ".join(extra)
    return joined


def word_spans(text: str, wanted: set[str]) -> list[tuple[int, int]]:
    """Character spans of the words of ``text`` that yield any of the ``wanted`` tokens."""
    spans = []
    for m in WORD.finditer(text):
        if any(t in wanted for t in word_tokens(m.group())):
            spans.append(m.span())
    if not text.isascii():
        for m in _UNICODE_WORD.finditer(text):
            w = m.group()
            if w.isascii():
                continue
            if w.lower() in wanted:
                spans.append(m.span())
                continue
            for run in _CJK.finditer(w):
                s = run.group()
                for i in range(len(s) - 1):
                    if s[i:i + 2] in wanted:
                        a = m.start() + run.start() + i
                        spans.append((a, a + 2))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged
