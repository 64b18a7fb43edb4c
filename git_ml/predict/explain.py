"""Why a file is in the ranking: one line per signal that carries a fair share of its score. Shared by the numpy
path and the quick path (standard library only)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from git_ml.predict.signals import FEATURES, LABELS

SHARE = 0.08  # a signal below this share of the positive score is not worth a line


def reasons(contrib: Sequence[float], words: Callable[[str], list[str]], age: int, changes: int) -> list[str]:
    """``contrib``: each feature's value times its weight for one file. ``words(signal)`` lists the task words
    that match the file for ``text``, ``path`` or ``name``; ``age`` is how many commits ago the file last changed
    and ``changes`` in how many commits it changed."""
    contrib = [float(c) for c in contrib]
    total = sum(c for c in contrib if c > 0) or 1.0
    out = []
    for j in sorted(range(len(FEATURES)), key=lambda j: -contrib[j]):
        c = contrib[j]
        if c <= 0 or c < SHARE * total:
            continue
        name = FEATURES[j]
        label = LABELS[name]
        if name in ("text", "path", "name"):
            matched = words(name)
            if matched:
                label += f" ({', '.join(matched[:6])})"
        elif name in ("recent", "recent_slow"):
            label += f" ({age} commits ago)"
        elif name == "frequency":
            label += f" ({changes} commits)"
        out.append(f"{label}: {100 * c / total:.0f}%")
    return out
