"""What an export is asked for: formats, styles, types, filters, splits and weights, parsed from the command line
and git config into ``ExportOptions``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from git_ml.dataset.export import records as R
from git_ml.errors import GitMlError
from git_ml.repo import config_get

FORMATS = ("jsonl", "csv", "parquet", "hf", "dataset", "agent-trace")
FORMAT_ALIASES = {"huggingface": "hf", "agenttrace": "agent-trace", "agent_trace": "agent-trace", "ndjson": "jsonl"}
STYLES = ("records", "messages")
TYPES = ("chat", "commit")


@dataclass
class ExportOptions:
    fmt: str = "jsonl"
    style: str = "records"
    types: tuple[str, ...] = TYPES
    since: float | None = None  # unix seconds, inclusive
    until: float | None = None  # unix seconds, exclusive
    min_rating: str | None = None
    exclude_unrated: bool = False
    include_diffs: bool = False
    splits: list[tuple[str, float]] | None = None  # None: one split, "train"
    dedup: bool = True
    weights: dict[str, float] | None = None  # None: git config ml.weight.*, else the defaults
    jobs: int = 0  # processes reading the store: 0 = 2 where the machine has 2 cores or more (Linux), else 1

    def describe(self) -> dict:
        out = {"format": self.fmt, "style": self.style, "types": list(self.types), "dedup": self.dedup}
        for key in ("since", "until"):
            value = getattr(self, key)
            if value is not None:
                out[key] = R.utc_iso(value)
        if self.min_rating:
            out["min_rating"] = self.min_rating
        if self.exclude_unrated:
            out["exclude_unrated"] = True
        if self.include_diffs:
            out["include_diffs"] = True
        if self.splits:
            out["split"] = ",".join(f"{name}={frac:g}" for name, frac in self.splits)
        return out


def parse_format(text: str) -> str:
    """A ``--format`` value, its synonyms accepted (``huggingface`` for ``hf``)."""
    fmt = text.strip().lower()
    fmt = FORMAT_ALIASES.get(fmt, fmt)
    if fmt not in FORMATS:
        raise GitMlError(f"unknown format {text!r}: expected one of {', '.join(FORMATS)}")
    return fmt


def parse_split(text: str | None) -> list[tuple[str, float]] | None:
    """``train=0.9,test=0.1`` (in time order: the first split is the oldest)."""
    if not text:
        return None
    out: list[tuple[str, float]] = []
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            raise GitMlError(f"bad --split part {part.strip()!r}: expected NAME=FRACTION, e.g. train=0.9,test=0.1")
        try:
            frac = float(value)
        except ValueError:
            raise GitMlError(f"bad --split fraction {value.strip()!r} for {name}") from None
        if not frac > 0:
            raise GitMlError(f"--split fraction of {name} must be positive")
        if any(n == name for n, _ in out):
            raise GitMlError(f"--split names {name} twice")
        out.append((name, frac))
    total = sum(f for _, f in out)
    if abs(total - 1.0) > 1e-6:
        raise GitMlError(f"--split fractions must add up to 1 (they add up to {total:g})")
    return out


def parse_weights(text: str | None, repo=None) -> dict[str, float]:
    """Weights per rating: defaults, then ``git config ml.weight.<rating>``, then ``--weights good=1,bad=0``."""
    weights = dict(R.DEFAULT_WEIGHTS)
    if repo is not None:
        for key in weights:
            value = config_get(repo, f"ml.weight.{key}")
            if value is not None:
                weights[key] = _weight(value, f"git config ml.weight.{key}")
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.strip().partition("=")
        if not sep or key.strip() not in weights:
            raise GitMlError(f"bad --weights part {part.strip()!r}: expected good|neutral|unrated|bad=NUMBER")
        weights[key.strip()] = _weight(value, f"--weights {key.strip()}")
    return weights


def _weight(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise GitMlError(f"{where}: not a number: {text!r}") from None
    if not value >= 0:
        raise GitMlError(f"{where}: must be a number >= 0")
    return value


def parse_types(values) -> tuple[str, ...]:
    out = []
    for value in values or ():
        for v in str(value).split(","):
            v = v.strip().lower().rstrip("s") if v.strip().lower() in ("chats", "commits") else v.strip().lower()
            if not v:
                continue
            if v not in TYPES:
                raise GitMlError(f"unknown --type {v!r}: expected chat or commit")
            if v not in out:
                out.append(v)
    return tuple(out) or TYPES


def parse_when(text: str | None, *, end: bool = False, now: float | None = None) -> float | None:
    """A time argument: ``2026-01-31`` (UTC; as an end, the whole day counts), an ISO-8601 date-time (UTC unless it
    has an offset), ``@UNIXSECONDS``, or an age: ``30d``, ``12h``, ``6w``, ``30 days ago``."""
    import datetime as dt
    import time

    if text is None:
        return None
    t = text.strip()
    if not t:
        raise GitMlError("empty time argument")
    if t.startswith("@") and t[1:].isdigit():
        return float(t[1:])
    m = re.fullmatch(r"(\d+)\s*(h|hours?|d|days?|w|weeks?)(\s+ago)?", t, re.IGNORECASE)
    if m:
        unit = m.group(2)[0].lower()
        seconds = int(m.group(1)) * {"h": 3600, "d": 86400, "w": 7 * 86400}[unit]
        return (time.time() if now is None else now) - seconds
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
        try:
            day = dt.datetime.strptime(t, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            raise GitMlError(f"not a date: {t!r}") from None
        return (day + dt.timedelta(days=1 if end else 0)).timestamp()
    value = R.parse_iso(t)
    if value is None:
        raise GitMlError(f"not a time: {t!r} (use 2026-01-31, 2026-01-31T12:00:00Z, @UNIXTIME or 30d)")
    return value
