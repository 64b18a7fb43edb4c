"""`estimate` (progress toward the training milestones) and `quality-report` (what is wrong with the data).

Rates for the ETA are **activity rates**: records whose own time (a commit's author date, a chat's prompt time, a
session's start) falls in the last 30 days, per day. Capture time would be wrong for both ways data arrives: a
backfill captures years of history in a minute (a huge, meaningless rate), and every future commit or chat is
captured as it happens, so the activity of the recent past is what predicts the growth of the store. The window
starts no earlier than the stream's coverage (the earliest capture or event time of any of its records), so a
store that began capturing chats three days ago is rated over three days, not thirty. Backfilled history counts
as commits. No activity in the window: the rate, and so the ETA, is "unknown" — never a guess.
"""

from __future__ import annotations

import gc
import math
import time as _time
from collections import Counter

import msgspec

from git_ml import schema
from git_ml.dataset.export.records import change_summary, latest_ratings, parse_iso
from git_ml.store.core import Store
from git_ml.store.reader import current, hidden_ids
from git_ml.store.rewrites import load_live_history

DAY = 86400.0
WINDOW_DAYS = 30
MILESTONES: list[tuple[str, dict[str, int]]] = [
    ("File Prediction", {"commits": 500, "sessions": 100, "chats": 200}),
    ("Commit Messages", {"commits": 2000, "sessions": 500, "chats": 1000}),
    ("Code Suggestions", {"commits": 5000, "sessions": 2000, "chats": 5000}),
]
DIMENSIONS = ("commits", "sessions", "chats")
TINY_RESPONSE = 20  # characters: a response shorter than this (not empty) is "tiny"
OUTLIER_IQR = 3.0  # size outliers: above Q3 + 3 x IQR of their kind
SAMPLE = 5


# ----- slim records -----------------------------------------------------------------------------------------------
class _Commit(msgspec.Struct):
    id: str
    captured_at: str = ""
    message: str = ""
    time: int = 0
    is_merge: bool = False
    files: list[tuple[str, str, int | None, int | None, str | None]] = []
    files_changed: int = 0
    insertions: int = 0
    deletions: int = 0
    redactions: dict[str, int] = {}


class _CommitTime(msgspec.Struct):
    id: str
    captured_at: str = ""
    time: int = 0


class _Chat(msgspec.Struct):
    id: str
    captured_at: str = ""
    timestamp: str = ""
    query: str = ""
    response: str = ""
    commits: list[str] = []
    redactions: dict[str, int] = {}


class _ChatTime(msgspec.Struct):
    id: str
    captured_at: str = ""
    timestamp: str = ""


class _Session(msgspec.Struct):
    id: str
    captured_at: str = ""
    started_at: str | None = None


class _Diff(msgspec.Struct):
    id: str
    captured_at: str = ""
    redactions: dict[str, int] = {}


def _no_gc(fn):
    def wrapper(*args, **kwargs):
        enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    wrapper.__doc__ = fn.__doc__
    wrapper.__name__ = fn.__name__
    return wrapper


def _event_times(store: Store, hidden: dict[str, set[str]]) -> dict[str, list[tuple[float, float]]]:
    """Per dimension: (event time, capture time) of every live record, unix seconds."""
    out: dict[str, list[tuple[float, float]]] = {}
    commits = load_live_history(store).live_only(current(store, "commits", _CommitTime, hidden=hidden))
    out["commits"] = [(float(c.time) if c.time else (parse_iso(c.captured_at) or 0.0),
                       parse_iso(c.captured_at) or 0.0) for c in commits.values()]
    chats = current(store, "chats", _ChatTime, hidden=hidden)
    out["chats"] = [(parse_iso(c.timestamp) or parse_iso(c.captured_at) or 0.0, parse_iso(c.captured_at) or 0.0)
                    for c in chats.values()]
    sessions = current(store, "sessions", _Session, hidden=hidden)
    out["sessions"] = [(parse_iso(s.started_at) or parse_iso(s.captured_at) or 0.0, parse_iso(s.captured_at) or 0.0)
                       for s in sessions.values()]
    return out


def activity_rate(times: list[tuple[float, float]], now: float, window_days: int = WINDOW_DAYS) -> float | None:
    """Records per day over the last ``window_days`` (from the stream's coverage start when that is later);
    None when nothing happened in the window."""
    if not times:
        return None
    start = now - window_days * DAY
    coverage = min(min(e, c) for e, c in times if e or c) if any(e or c for e, c in times) else start
    in_window = sum(1 for e, _c in times if start <= e <= now)
    if in_window == 0:
        return None
    span_days = max(1.0, (now - max(start, coverage)) / DAY)
    return in_window / span_days


def _iso_day(ts: float) -> str:
    return _time.strftime("%Y-%m-%d", _time.gmtime(ts))


def milestone_progress(counts: dict[str, int], rates: dict[str, float | None], now: float) -> list[dict]:
    out = []
    for name, needs in MILESTONES:
        dims = {}
        etas: list[float | None] = []
        for dim, need in needs.items():
            have = counts.get(dim, 0)
            remaining = max(0, need - have)
            rate = rates.get(dim)
            eta = 0.0 if remaining == 0 else (remaining / rate if rate else None)
            etas.append(eta)
            dims[dim] = {"have": have, "need": need, "percent": round(min(100.0, 100.0 * have / need), 1),
                         "remaining": remaining, "eta_days": None if eta is None else round(eta, 1)}
        reached = all(d["remaining"] == 0 for d in dims.values())
        eta = None if any(e is None for e in etas) else max(etas)
        out.append({"name": name, "reached": reached,
                    "percent": min(d["percent"] for d in dims.values()),
                    "eta_days": None if eta is None else round(eta, 1),
                    "eta_date": None if eta is None else _iso_day(now + math.ceil(eta) * DAY),
                    "dimensions": dims})
    return out


@_no_gc
def estimate(repo, now: float | None = None, window_days: int = WINDOW_DAYS) -> dict:
    """Counts, activity rates (per day, last ``window_days``) and each milestone's progress and ETA."""
    now = _time.time() if now is None else now
    store = Store(repo)
    times = _event_times(store, hidden_ids(store))
    counts = {dim: len(times[dim]) for dim in DIMENSIONS}
    rates = {dim: activity_rate(times[dim], now, window_days) for dim in DIMENSIONS}
    return {"now": _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(now)), "window_days": window_days,
            "rate_basis": "activity time: commit author date, chat prompt time, session start",
            "counts": counts,
            "rates_per_day": {d: (None if r is None else round(r, 3)) for d, r in rates.items()},
            "milestones": milestone_progress(counts, rates, now)}


def format_estimate(data: dict) -> str:
    lines = [f"captured: {data['counts']['commits']} commits, {data['counts']['sessions']} sessions, "
             f"{data['counts']['chats']} chats"]
    rates = ", ".join(f"{d} {'unknown' if r is None else f'{r:g}/day'}" for d, r in data["rates_per_day"].items())
    lines.append(f"rate over the last {data['window_days']} days (by activity time): {rates}")
    for m in data["milestones"]:
        if m["reached"]:
            status = "reached"
        elif m["eta_days"] is None:
            status = "ETA unknown (no recent activity in a dimension still short)"
        else:
            status = f"ETA {m['eta_date']} (~{m['eta_days']:g} days)"
        if m.get("reached_at"):
            status += f" (since {m['reached_at']}"
            if m.get("fired"):
                ran = "running" if m.get("fired_exit") is None else f"exit {m['fired_exit']}"
                status += f"; ml.onMilestone ran: {ran}, export {m.get('fired_export')}"
            status += ")"
        lines.append(f"{m['name']}: {m['percent']:g}%  {status}")
        for dim, d in m["dimensions"].items():
            eta = "done" if d["remaining"] == 0 else ("unknown" if d["eta_days"] is None else f"{d['eta_days']:g} days")
            lines.append(f"  {dim:<9} {d['have']:>7}/{d['need']:<6} {d['percent']:>5.1f}%  {eta}")
    return "\n".join(lines)


# ----- quality report ---------------------------------------------------------------------------------------------
def _quartiles(values: list[int]) -> tuple[float, float]:
    s = sorted(values)
    n = len(s)

    def q(p: float) -> float:
        k = (n - 1) * p
        lo = math.floor(k)
        hi = min(n - 1, lo + 1)
        return s[lo] + (s[hi] - s[lo]) * (k - lo)

    return q(0.25), q(0.75)


def _outliers(sizes: dict[str, int]) -> dict:
    if len(sizes) < 20:
        return {"threshold": None, "count": 0, "largest": []}
    q1, q3 = _quartiles(list(sizes.values()))
    threshold = q3 + OUTLIER_IQR * (q3 - q1)
    over = sorted(((n, i) for i, n in sizes.items() if n > threshold), reverse=True)
    return {"threshold": round(threshold, 1), "count": len(over), "largest": [[i, n] for n, i in over[:SAMPLE]]}


@_no_gc
def quality_report(repo, tiny: int = TINY_RESPONSE) -> dict:
    """Findings per kind of problem, with counts and a few sample ids, and a verdict per milestone."""
    store = Store(repo)
    hidden = hidden_ids(store)
    # superseded commits are not counted (a chat linked to one is linked to its live commit)
    commits = load_live_history(store).live_only(current(store, "commits", _Commit, hidden=hidden))
    chats = current(store, "chats", _Chat, hidden=hidden)
    sessions = current(store, "sessions", _Session, hidden=hidden)
    diffs = current(store, "diffs", _Diff, hidden=hidden)
    feedback = current(store, "feedback", schema.Feedback, hidden=hidden)
    links = current(store, "links", schema.Link, hidden=hidden)

    def sample(ids) -> list[str]:
        return sorted(ids)[:SAMPLE]

    empty = [c.id for c in chats.values() if not c.response.strip()]
    tiny_ids = [c.id for c in chats.values() if 0 < len(c.response.strip()) < tiny]
    empty_queries = [c.id for c in chats.values() if not c.query.strip()]
    seen: dict = {}
    dup_chats = []
    for c in sorted(chats.values(), key=lambda c: (c.timestamp, c.id)):
        key = (c.query, c.response)
        if key in seen:
            dup_chats.append(c.id)
        else:
            seen[key] = c.id
    seen = {}
    dup_commits = []
    for c in sorted(commits.values(), key=lambda c: (c.time, c.id)):
        key = (c.message, change_summary(c))
        if key in seen:
            dup_commits.append(c.id)
        else:
            seen[key] = c.id
    linked_chats = {lk.chat_id for lk in links.values() if lk.chat_id}
    unlinked = [c.id for c in chats.values() if c.id not in linked_chats and not c.commits]
    no_message = [c.id for c in commits.values() if not c.message.strip()]
    no_files = [c.id for c in commits.values() if not c.files and not c.is_merge]
    redactions: dict[str, Counter] = {}
    for stream, recs in (("commits", commits), ("chats", chats), ("diffs", diffs)):
        counter: Counter = Counter()
        for r in recs.values():
            if r.redactions:
                counter.update(r.redactions)
        redactions[stream] = counter
    by_kind: Counter = Counter()
    for counter in redactions.values():
        by_kind.update(counter)
    ratings = latest_ratings(feedback.values())
    unrated = [c for c in chats if c not in ratings]
    rating_counts = Counter(ratings[c] for c in chats if c in ratings)

    dup_set = set(dup_chats)
    usable_chats = sum(1 for c in chats.values()
                       if len(c.response.strip()) >= tiny and c.query.strip() and c.id not in dup_set)
    usable_commits = sum(1 for c in commits.values() if c.message.strip() and c.files)
    usable = {"commits": usable_commits, "sessions": len(sessions), "chats": usable_chats}
    findings = {
        "empty_responses": {"count": len(empty), "sample": sample(empty)},
        "tiny_responses": {"count": len(tiny_ids), "below_chars": tiny, "sample": sample(tiny_ids)},
        "empty_queries": {"count": len(empty_queries), "sample": sample(empty_queries)},
        "duplicate_chats": {"count": len(dup_chats), "sample": sample(dup_chats)},
        "duplicate_commits": {"count": len(dup_commits), "sample": sample(dup_commits)},
        "chats_without_commits": {"count": len(unlinked), "sample": sample(unlinked)},
        "commits_without_messages": {"count": len(no_message), "sample": sample(no_message)},
        "commits_without_files": {"count": len(no_files), "sample": sample(no_files)},
        "unrated_chats": {"count": len(unrated), "sample": sample(unrated)},
        "redactions": {"total": sum(by_kind.values()), "by_kind": dict(sorted(by_kind.items())),
                       "by_stream": {s: dict(sorted(c.items())) for s, c in redactions.items()}},
        "size_outliers": {
            "chat_response_chars": _outliers({c.id: len(c.response) for c in chats.values()}),
            "commit_changed_lines": _outliers({c.id: c.insertions + c.deletions for c in commits.values()}),
        },
    }
    counts = {"commits": len(commits), "sessions": len(sessions), "chats": len(chats), "feedback": len(feedback),
              "links": len(links), "diffs": len(diffs)}
    return {"counts": counts, "usable": usable,
            "ratings": {"good": rating_counts.get("good", 0), "neutral": rating_counts.get("neutral", 0),
                        "bad": rating_counts.get("bad", 0), "unrated": len(unrated)},
            "findings": findings, "verdicts": _verdicts(usable, counts, findings),
            "corrupt": [list(c) for c in store.report.corrupt]}


def _verdicts(usable: dict[str, int], counts: dict[str, int], findings: dict) -> list[dict]:
    out = []
    chats = counts["chats"]
    for name, needs in MILESTONES:
        short = {d: need - usable[d] for d, need in needs.items() if usable[d] < need}
        caveats = []
        if chats and findings["unrated_chats"]["count"] > chats / 2:
            caveats.append(f"{findings['unrated_chats']['count']} of {chats} chats unrated (weight 0.5 each)")
        if chats and findings["chats_without_commits"]["count"] > chats / 2:
            caveats.append(f"{findings['chats_without_commits']['count']} of {chats} chats not linked to a commit")
        if short:
            status = "not yet"
            text = "needs " + ", ".join(f"{n} more usable {d}" for d, n in short.items())
        elif caveats:
            status = "ready with caveats"
            text = "; ".join(caveats)
        else:
            status = "ready"
            text = "enough usable data"
        out.append({"milestone": name, "status": status, "verdict": text, "short": short})
    return out


def _short(record_id: str) -> str:
    if len(record_id) == 40 and all(c in "0123456789abcdef" for c in record_id):
        return record_id[:12]  # a commit hash, as git abbreviates it
    return record_id if len(record_id) <= 24 else record_id[:23] + "~"


def format_quality(data: dict) -> str:
    f = data["findings"]
    c = data["counts"]
    lines = [f"records: {c['commits']} commits, {c['chats']} chats, {c['sessions']} sessions, "
             f"{c['feedback']} feedback, {c['links']} links",
             f"usable: {data['usable']['commits']} commits (message and files), {data['usable']['chats']} chats "
             f"(query, response of {f['tiny_responses']['below_chars']}+ characters, not a duplicate)"]

    def row(label: str, item: dict, of: int | None = None) -> None:
        share = f" of {of}" if of else ""
        ids = f"  e.g. {', '.join(_short(i) for i in item['sample'][:3])}" if item.get("sample") else ""
        lines.append(f"  {label:<28} {item['count']:>7}{share}{ids}")

    lines.append("findings:")
    row("empty responses", f["empty_responses"], c["chats"])
    row(f"tiny responses (<{f['tiny_responses']['below_chars']} chars)", f["tiny_responses"], c["chats"])
    row("empty queries", f["empty_queries"], c["chats"])
    row("duplicate chats", f["duplicate_chats"], c["chats"])
    row("duplicate commits", f["duplicate_commits"], c["commits"])
    row("chats without commits", f["chats_without_commits"], c["chats"])
    row("commits without messages", f["commits_without_messages"], c["commits"])
    row("commits without files", f["commits_without_files"], c["commits"])
    row("unrated chats", f["unrated_chats"], c["chats"])
    red = f["redactions"]
    kinds = ", ".join(f"{k} {n}" for k, n in red["by_kind"].items()) or "none"
    lines.append(f"  {'redactions':<28} {red['total']:>7}  ({kinds})")
    for label, key in (("large responses (chars)", "chat_response_chars"),
                       ("large commits (lines)", "commit_changed_lines")):
        o = f["size_outliers"][key]
        if o["threshold"] is None:
            lines.append(f"  {label:<28} {'-':>7}  (too few records to tell)")
        else:
            big = ", ".join(f"{i[:12]} ({n:,})" for i, n in o["largest"][:3])
            lines.append(f"  {label:<28} {o['count']:>7}  above {o['threshold']:,.0f}" + (f": {big}" if big else ""))
    lines.append("verdicts:")
    for v in data["verdicts"]:
        lines.append(f"  {v['milestone']}: {v['status']} — {v['verdict']}")
    for path, count, _detail in data.get("corrupt", []):
        lines.append(f"corrupt chunk skipped: {path} ({count} records)")
    return "\n".join(lines)
