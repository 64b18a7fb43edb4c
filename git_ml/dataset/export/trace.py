"""``--format agent-trace``: Agent Trace 0.1 records (the open JSON format for AI code attribution), one JSON line
per live commit that has assistant chats behind it.

Each record names the commit (``vcs.revision``: the live revision when the commit was rewritten) and, per file the
commit added lines to, the conversations those lines came from: the chat whose modified files include the file
(``contributor.type`` ``ai``, its model), or a ``human`` contributor where no chat touched the file. Ranges are the
runs of lines the commit added, numbered in the file at that revision; they come from the diff hunks of
``refs/ml/local`` when captured whole, else from the repository's objects (pygit2). A commit whose objects are
missing and whose hunks were not captured has no file entries.

``id`` is a UUID 5 of the commit id (stable across runs); ``timestamp`` the commit's time; ``url``
``git-ml:chat/<chat id>`` (``git ml show`` opens it). ``content_hash`` is ``sha256:`` and the hex SHA-256 of the
range's lines as the commit added them, UTF-8, joined by ``\\n`` without a final newline: the spec leaves the
algorithm open; this one is common and collision-safe, and the same lines always give the same hash wherever they
move.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import uuid
from pathlib import Path

import msgspec

from git_ml import __version__
from git_ml.dataset.export import records as R
from git_ml.dataset.export.collect import decoded_slices
from git_ml.dataset.export.versions import hidden_ids, live_history
from git_ml.errors import GitMlError
from git_ml.store.core import Store

SPEC_VERSION = "0.1.0"
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://git-ml/agent-trace")
URL_PREFIX = "git-ml:chat/"
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")
_PROVIDERS = (("claude", "anthropic"), ("gpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"),
              ("codex", "openai"), ("gemini", "google"))


def model_id(model: str | None) -> str | None:
    """``provider/model`` (the models.dev convention the spec suggests) when the provider is evident."""
    if not model:
        return None
    if "/" in model:
        return model[:250]
    for prefix, provider in _PROVIDERS:
        if model.startswith(prefix):
            return f"{provider}/{model}"[:250]
    return model[:250]


def chat_url(chat_id: str) -> str:
    from urllib.parse import quote

    return URL_PREFIX + quote(chat_id, safe=":@-._~")


def content_hash(lines: list[str]) -> str:
    return "sha256:" + hashlib.sha256("\n".join(lines).encode("utf-8", "surrogateescape")).hexdigest()


def ranges_of(added: list[tuple[int, str]]) -> list[dict]:
    """Runs of consecutive added lines ([(line number, text)]) as ranges."""
    out: list[dict] = []
    run: list[tuple[int, str]] = []
    for n, text in added:
        if run and n != run[-1][0] + 1:
            out.append(_range(run))
            run = []
        run.append((n, text))
    if run:
        out.append(_range(run))
    return out


def _range(run: list[tuple[int, str]]) -> dict:
    return {"start_line": run[0][0], "end_line": run[-1][0], "content_hash": content_hash([t for _n, t in run])}


def added_from_text(text: str) -> dict[str, list[tuple[int, str]]]:
    """path -> [(line number, text)] of the lines a unified diff (``git diff`` output) adds."""
    out: dict[str, list[tuple[int, str]]] = {}
    path = None
    line = 0
    for raw in text.split("\n"):
        if raw.startswith("diff --git "):
            path = None
        elif raw.startswith("+++ "):
            target = raw[4:].rstrip("\t")
            path = None if target == "/dev/null" else (target[2:] if target.startswith("b/") else target)
        elif raw.startswith("@@"):
            m = _HUNK.match(raw)
            line = int(m.group(1)) if m else 0
        elif path is not None and line:
            if raw.startswith("+"):
                out.setdefault(path, []).append((line, raw[1:]))
                line += 1
            elif raw.startswith(" "):
                line += 1
    return out


def added_from_repo(repo, commit_id: str) -> dict[str, list[tuple[int, str]]] | None:
    """The same from the repository's objects (first parent; a root commit against the empty tree)."""
    import pygit2

    try:
        commit = repo[commit_id]
    except (KeyError, ValueError, pygit2.GitError):
        return None
    parent = commit.parents[0].tree if commit.parents else None
    diff = commit.tree.diff_to_tree(parent, swap=True) if parent is not None else commit.tree.diff_to_tree(swap=True)
    diff.find_similar()
    out: dict[str, list[tuple[int, str]]] = {}
    for patch in diff:
        if patch.delta.is_binary:
            continue
        path = patch.delta.new_file.path
        for hunk in patch.hunks:
            for ln in hunk.lines:
                if ln.origin == "+":
                    out.setdefault(path, []).append((ln.new_lineno, ln.content.rstrip("\n").rstrip("\r")))
    return out


class _Linked(msgspec.Struct, kw_only=True):
    id: str
    captured_at: str = ""
    files_modified: list[str] = []
    model: str | None = None
    assistant: str = ""


def _current(store: Store, stream: str, view: type, ids) -> dict:
    """The current version (the latest captured) of each id of ``ids`` in ``stream``."""
    gone = hidden_ids(store).get(stream, set())
    best: dict = {}
    for recs in decoded_slices(store, stream, view):
        for r in recs:
            if r.id in ids and r.id not in gone:
                cur = best.get(r.id)
                if cur is None or r.captured_at > cur.captured_at:
                    best[r.id] = r
    return best


def _touches(chat: _Linked, path: str) -> bool:
    return any(f == path or f.endswith("/" + path) for f in chat.files_modified)


def trace_record(commit, chats: list[_Linked], added: dict[str, list[tuple[int, str]]] | None) -> dict:
    """The Agent Trace record of one commit."""
    files = []
    for path, lines in sorted((added or {}).items()):
        chat = next((c for c in chats if _touches(c, path)), None)
        if chat is None:
            conv = {"contributor": {"type": "human"}, "ranges": ranges_of(lines)}
        else:
            contributor = {"type": "ai"}
            mid = model_id(chat.model)
            if mid:
                contributor["model_id"] = mid
            conv = {"url": chat_url(chat.id), "contributor": contributor, "ranges": ranges_of(lines)}
        files.append({"path": path, "conversations": [conv]})
    ts = R.commit_ts(commit)
    return {"version": SPEC_VERSION, "id": str(uuid.uuid5(NAMESPACE, commit.id)), "timestamp": R.utc_iso(ts),
            "vcs": {"type": "git", "revision": commit.id}, "tool": {"name": "git-ml", "version": __version__},
            "files": files,
            "metadata": {"dev.git-ml": {"chats": [c.id for c in chats],
                                        "content_hash": "sha256 of the range's added lines joined by \\n"}}}


def export_agent_trace(repo, output: str, opts, *, progress=None, warn=None):
    from git_ml.dataset.export.selection import ExportResult, check_output

    out_path = check_output(output, opts)
    store = Store(repo, warn=warn) if warn is not None else Store(repo)
    history = live_history(store)
    links: dict[str, list[str]] = {}
    for lk in store.iter_records("links"):
        if lk.chat_id:
            links.setdefault(history.live(lk.commit), []).append(lk.chat_id)
    commits = {cid: c for cid, c in _current(store, "commits", R.CommitIn, set(links) | _related(store)).items()
               if not history.superseded(cid)}
    wanted = {ch for cid, c in commits.items() for ch in [*links.get(cid, ()), *c.related_chats]}
    chats = _current(store, "chats", _Linked, wanted)
    diffs = {d.id: d for d in _current(store, "diffs", _DiffView, set(commits)).values()}
    result = ExportResult()
    lines = []
    for cid, c in sorted(commits.items(), key=lambda kv: (R.commit_ts(kv[1]), kv[0])):
        behind = [chats[ch] for ch in R.unique([*links.get(cid, ()), *c.related_chats]) if ch in chats]
        if not behind or (opts.since is not None and R.commit_ts(c) < opts.since) or (
                opts.until is not None and R.commit_ts(c) >= opts.until):
            continue
        d = diffs.get(cid)
        added = added_from_text(d.text) if d is not None and not d.truncated else added_from_repo(repo, cid)
        lines.append(msgspec.json.encode(trace_record(c, behind, added)))
    result.rows = len(lines)
    result.counts = {"train": {"chat": 0, "commit": len(lines)}}
    data = b"".join(line + b"\n" for line in lines)
    if out_path is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        result.outputs = ["-"]
        return result
    _write_atomic(out_path, data)
    result.outputs = [str(out_path)]
    return result


class _DiffView(msgspec.Struct, kw_only=True):
    id: str
    captured_at: str = ""
    text: str = ""
    truncated: bool = False


class _Rel(msgspec.Struct):
    id: str
    related_chats: list[str] = []


def _related(store: Store) -> set[str]:
    """Commits that name chats themselves (legacy ``related_chats``)."""
    return {c.id for recs in decoded_slices(store, "commits", _Rel) for c in recs if c.related_chats}


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise GitMlError(f"cannot write {path}: {exc.strerror or exc}") from None
