"""Redaction of every text a record carries: messages, prompts, responses, diff hunks, and also the names that reach
the store with them (file paths, branch names, tool names, working directories). A token in a branch name is
still a token.

``redact_record`` works on any record of ``git_ml.schema`` by its field names (no import of the schema: hooks
import this package and must start fast). All of a record's texts go through ``redact`` in one call, joined by a
separator no rule matches across; should a replacement ever take a separator, each text is redacted alone.
"""

from git_ml.capture.redaction.engine import redact

__all__ = ["TEXT_FIELDS", "redact_record", "redact_texts"]

# Fields holding one text, a list of texts, file tuples (status, path, +, -, old path), and a dict keyed by names.
TEXT_FIELDS = frozenset(
    "message text query response branch cwd transcript_path end_reason user_feedback comment model".split()
)
_LIST_FIELDS = frozenset(("files_referenced", "files_modified", "tools_used"))
_SEP = "\n\x00\n"


def redact_texts(texts: list[str]) -> tuple[list[str], dict[str, int]]:
    """Redact several texts at once (one pass of the rules): the redacted texts and the counts per kind."""
    if not texts:
        return texts, {}
    if len(texts) == 1:
        clean, counts = redact(texts[0])
        return [clean], counts
    joined = _SEP.join(texts)
    clean, counts = redact(joined)
    if not counts:
        return texts, counts
    parts = clean.split(_SEP)
    if len(parts) == len(texts):
        return parts, counts
    counts = {}
    out = []
    for text in texts:  # a replacement took a separator: each text alone
        c, found = redact(text)
        out.append(c)
        for kind, n in found.items():
            counts[kind] = counts.get(kind, 0) + n
    return out, counts


def redact_record(record, skip: frozenset = frozenset()) -> dict[str, int]:
    """Redact the texts and names of a record in place; returns what was found, per kind (not merged into the
    record's ``redactions``: the caller decides). ``skip`` names fields to leave alone."""
    names = [f for f in record.__struct_fields__ if f not in skip]
    slots: list[tuple[str, object]] = []  # (field, where in the field) for each collected text
    texts: list[str] = []
    for name in names:
        value = getattr(record, name)
        if not value:
            continue
        if name in TEXT_FIELDS and isinstance(value, str):
            slots.append((name, None))
            texts.append(value)
        elif name in _LIST_FIELDS and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, str) and item:
                    slots.append((name, i))
                    texts.append(item)
        elif name == "files" and isinstance(value, list):
            for i, entry in enumerate(value):
                for j in (1, 4):
                    if len(entry) > j and isinstance(entry[j], str) and entry[j]:
                        slots.append((name, (i, j)))
                        texts.append(entry[j])
        elif name == "tool_counts" and isinstance(value, dict):
            for key in value:
                slots.append((name, key))
                texts.append(key)
    clean, counts = redact_texts(texts)
    if not counts:
        return counts
    for (name, where), old, new in zip(slots, texts, clean):
        if old == new:
            continue
        if where is None:
            setattr(record, name, new)
        elif name == "files":
            i, j = where
            entry = list(getattr(record, name)[i])
            entry[j] = new
            getattr(record, name)[i] = tuple(entry) if isinstance(getattr(record, name)[i], tuple) else entry
        elif name == "tool_counts":
            value = getattr(record, name)
            value[new] = value.get(new, 0) + value.pop(where)
        else:
            getattr(record, name)[where] = new
    return counts
