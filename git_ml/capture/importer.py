"""Import of transcripts that already exist, for every assistant of the registry (``transcripts/registry.py``):
named on the command line (files, task folders, databases), or searched where each assistant keeps them, keeping
only the sessions whose project is this repository (any of its worktrees).

Idempotent: a chat or session identical to the stored version (capture time aside) is not stored again; new ones
are linked to the captured commits they produced. A unit unchanged since the last import (same size and
modification time, kept in ``.git/ml/import-state.json``, derived and disposable; with those of the other files its
records were also read from, such as a sub-agent's file or a sub-task's folder) is not read again, so a second
import over thousands of files costs their ``stat`` only. The post-commit capture runs the same search, bounded
in time, for the assistants whose live hooks are not installed here.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType

import msgspec
import pygit2

from git_ml.capture.links import find_links, session_links
from git_ml.capture.sessions import CaptureReport, TextPolicy, digest, link_window, prepare_chat, prepare_session
from git_ml.capture.transcripts import registry
from git_ml.capture.transcripts.paths import belongs_to
from git_ml.dates import iso_to_unix
from git_ml.errors import GitMlError
from git_ml.fsutil import atomic_write
from git_ml.repo import common_dir, ml_dir, workdir
from git_ml.schema import Chat, Link, Session
from git_ml.store.core import Store

Source = tuple[ModuleType, Path]
STATE_FILE = "import-state.json"
# unit -> [size, mtime], then (path, size, mtime) of each other file or folder its records were read from
_STATE = msgspec.json.Decoder(dict[str, list[int | str]])
_RECENT_NS = 2_000_000_000  # a dependency changed this shortly before its unit was read is read again next time
_ENCODER = msgspec.json.Encoder()


def claude_project_slug(path: str | os.PathLike) -> str:
    """Claude Code's project folder name: the cwd with every non-alphanumeric character replaced by '-'."""
    return re.sub(r"[^A-Za-z0-9]", "-", os.fspath(path))


def worktree_roots(repo: pygit2.Repository) -> tuple[str, ...]:
    """This repository's checkouts: its work tree, the main one and every linked worktree."""
    roots: dict[str, None] = {}
    root = workdir(repo)
    if root is not None:
        roots[str(root)] = None
    common = common_dir(repo)
    if common.name == ".git":
        roots.setdefault(str(common.parent), None)
    try:
        main = pygit2.Repository(str(common))
        for name in main.list_worktrees():
            path = main.lookup_worktree(name).path
            if os.path.isdir(path):
                roots.setdefault(str(Path(path).resolve()), None)
    except (pygit2.GitError, OSError, ValueError):
        pass
    return tuple(roots)


# ----- which units -----------------------------------------------------------------------------------------------

def default_sources(repo: pygit2.Repository, names: Sequence[str], home: Path | None = None,
                    env: Mapping[str, str] | None = None) -> list[Source]:
    """Every unit in the default locations of the named assistants (and in this repository's checkouts for those
    that write into the project). Which of them belong to this repository is decided on import."""
    home = home if home is not None else Path(os.path.expanduser("~"))
    env = env if env is not None else os.environ
    found: dict[str, Source] = {}
    roots = [Path(r) for r in worktree_roots(repo)]
    for name in names:
        module = registry.load(name)
        if module is None:
            continue
        places = list(module.locations(home, env))
        in_project = getattr(module, "project_locations", None)
        if in_project is not None:
            for root in roots:
                places += in_project(root)
        for place in places:
            for unit in registry.candidates(module, place):
                found.setdefault(str(unit), (module, unit))
    return list(found.values())


def expand_paths(paths: Sequence[str], name: str) -> list[Source]:
    """Units named on the command line. With ``--from NAME`` a file that is not NAME's format is refused; with
    ``auto`` each unit's format is told from its content. A folder is searched for units (files, task folders,
    databases) of the format(s) asked for. Raises GitMlError before anything is stored."""
    modules = [registry.require(name)] if name != "auto" else registry.available()
    label = registry.info(name).label + " transcripts" if name != "auto" else "assistant transcripts"
    out: dict[Path, Source] = {}
    for text in paths:
        p = Path(text).expanduser()
        if not p.exists():
            raise GitMlError(f"no such file or directory: {text}")
        module = _detect(modules, p)
        if module is not None:
            out.setdefault(p, (module, p))
        elif p.is_dir():
            units = _search(modules, p)
            if not units:
                raise GitMlError(f"{text}: no {label} in this folder")
            for m, u in units:
                out.setdefault(u, (m, u))
        elif (part := registry.read_with(modules, p)) is not None:
            whose, unit = registry.info(part[0].NAME).label, part[1]
            if unit.exists():
                raise GitMlError(f"{text}: a {whose} sub-agent's file; import its session instead: {unit}")
            raise GitMlError(f"{text}: a {whose} sub-agent's file, read only with its session ({unit}, not found)")
        elif name != "auto":
            raise GitMlError(f"{text}: not a {label[:-1]} (try --from auto)")
        else:
            raise GitMlError(f"{text}: cannot tell which assistant wrote this file; name it with --from")
    return list(out.values())


def _detect(modules: Sequence[ModuleType], path: Path) -> ModuleType | None:
    for m in modules:
        if _sniff(m, path):
            return m
    return None


def _search(modules: Sequence[ModuleType], folder: Path) -> list[Source]:
    """Units below ``folder``: files, and folders that are units themselves (task folders), not descended into."""
    found: list[Source] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        keep = []
        for d in sorted(dirnames):
            sub = Path(dirpath) / d
            m = _detect(modules, sub)
            if m is not None:
                found.append((m, sub))
            else:
                keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            fp = Path(dirpath) / f
            m = _detect(modules, fp)
            if m is not None:
                found.append((m, fp))
    return found


def _sniff(module: ModuleType, path: Path) -> bool:
    try:
        return bool(module.sniff(path))
    except OSError:
        return False


# ----- unchanged units -------------------------------------------------------------------------------------------

def fingerprint(path: Path) -> list[int] | None:
    """[size, mtime in ns] of a file; of a folder, over the files directly in it; a database's ``-wal`` counts."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            size = mtime = 0
            with os.scandir(path) as it:
                for entry in it:
                    if entry.is_file():
                        est = entry.stat()
                        size += est.st_size
                        mtime = max(mtime, est.st_mtime_ns)
            return [size, mtime]
        size, mtime = st.st_size, st.st_mtime_ns
        if path.suffix in (".vscdb", ".db", ".sqlite"):
            try:
                w = os.stat(f"{path}-wal")
                size, mtime = size + w.st_size, max(mtime, w.st_mtime_ns)
            except OSError:
                pass
        return [size, mtime]
    except OSError:
        return None


def unit_state(fp: list[int], dependencies: Sequence[str | os.PathLike], read_at_ns: int) -> list[int | str]:
    """What is kept of a unit read at ``read_at_ns``: its fingerprint, then each dependency's path and fingerprint
    (taken after the read: one that changed around it gets a fingerprint no file has, so it is read again)."""
    out: list[int | str] = list(fp)
    for dep in dependencies:
        dfp = fingerprint(Path(dep))
        if dfp is None:  # gone: its absence is what was read
            continue
        out += [str(dep), *(dfp if dfp[1] < read_at_ns - _RECENT_NS else [-1, -1])]
    return out


def unchanged(kept: list[int | str] | None, fp: list[int] | None) -> bool:
    """Whether a unit whose fingerprint is now ``fp`` and whose dependencies are as ``kept`` need not be read."""
    if kept is None or fp is None or kept[:2] != fp or len(kept) % 3 != 2:
        return False
    deps = kept[2:]
    return all(isinstance(deps[i], str) and fingerprint(Path(deps[i])) == deps[i + 1:i + 3]
               for i in range(0, len(deps), 3))


def _load_state(repo: pygit2.Repository) -> dict[str, list[int | str]]:
    try:
        return _STATE.decode((ml_dir(repo, create=False) / STATE_FILE).read_bytes())
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return {}


def _save_state(repo: pygit2.Repository, state: dict[str, list[int | str]]) -> None:
    atomic_write(ml_dir(repo) / STATE_FILE, _ENCODER.encode(state))


def parse_unit(module: ModuleType, path: Path, root: str | None):
    return module.parse(path, root)


def import_transcripts(repo: pygit2.Repository, sources: Sequence[Source], *, only_this_repository: bool = False,
                       rescan: bool = False, progress: Callable[[int], None] | None = None,
                       deadline: float | None = None, max_bytes: int | None = None) -> CaptureReport:
    """Import units idempotently: chats and sessions identical to stored ones are not stored again; units unchanged
    since the last import are not read (``rescan`` reads them anyway). With ``only_this_repository`` only the
    sessions whose recorded project is one of this repository's checkouts are kept (the default search). Past
    ``deadline`` (a ``time.monotonic()`` value) the remaining units are left for the next run; units larger than
    ``max_bytes`` are left to an explicit import."""
    report = CaptureReport()
    root = workdir(repo)
    roots = worktree_roots(repo) if only_this_repository else ()
    state = _load_state(repo)
    seen: dict[str, list[int | str]] = {}
    stored: tuple[dict[str, str], dict[str, str]] | None = None
    store: Store | None = None
    new_chats: list[Chat] = []
    new_sessions: list[Session] = []
    all_chats: list[Chat] = []
    policy = TextPolicy.of(repo)
    for module, path in sources:
        if deadline is not None and time.monotonic() > deadline:
            report.errors.append("time budget reached; the rest is imported next time")
            break
        key = str(path)
        fp = fingerprint(path)
        if not rescan and unchanged(state.get(key), fp):
            report.unchanged_files += 1
            if progress is not None:
                progress(1)
            continue
        if max_bytes is not None and fp is not None and fp[0] > max_bytes:
            continue
        if only_this_repository:
            project_of = getattr(module, "project_of", None)
            try:
                project = project_of(path) if project_of is not None else None
            except OSError:
                project = None
            if project is not None and not belongs_to(project, roots):
                if fp is not None:
                    seen[key] = fp
                if progress is not None:
                    progress(1)
                continue
        read_at = time.time_ns()
        try:
            parsed = parse_unit(module, path, str(root) if root else None)
        except OSError as exc:
            report.errors.append(f"{path}: {exc.strerror or exc}")
            continue
        except Exception as exc:  # a parser meeting data it did not expect: this unit is left, the others are read
            report.errors.append(f"{path}: not read, its {module.NAME} parser failed on it ({type(exc).__name__})")
            continue
        sessions = parsed.sessions
        chats = parsed.chats
        if only_this_repository:
            sessions = [s for s in sessions if belongs_to(s.cwd, roots)]
            keep = {s.id for s in sessions}
            chats = [c for c in chats if c.session_id in keep]
        if fp is not None:
            seen[key] = unit_state(fp, parsed.dependencies, read_at)
        report.files += 1
        report.malformed += parsed.malformed
        report.skipped += parsed.skipped
        if (chats or sessions) and stored is None:
            store = Store(repo)
            stored = ({c.id: digest(c) for c in store.iter_records("chats")},
                      {x.id: digest(x) for x in store.iter_records("sessions")})
        for chat in chats:
            prepare_chat(policy, chat)
            all_chats.append(chat)
            d = digest(chat)
            if stored[0].get(chat.id) == d:
                report.unchanged += 1
                continue
            stored[0][chat.id] = d
            new_chats.append(chat)
        for session in sessions:
            prepare_session(session)
            d = digest(session)
            if stored[1].get(session.id) != d:
                stored[1][session.id] = d
                new_sessions.append(session)
        if progress is not None:
            progress(1)
    links: list[Link] = []
    if new_chats or new_sessions:
        store = store or Store(repo)
        commits = list(store.iter_records("commits"))
        existing = store.ids("links")
        window = link_window(repo)
        spans = _closed_spans(new_sessions, all_chats)
        candidates = find_links(commits, new_chats, window) + session_links(commits, spans)
        links = [lk for lk in candidates if lk.id not in existing]
    batches = {"chats": new_chats, "sessions": new_sessions, "links": links}
    if any(batches.values()):
        store = store or Store(repo)
        store.append_many(batches, message="import transcripts")
    if seen:  # only once what they held is stored
        state.update(seen)
        _save_state(repo, state)
    report.chats = len(new_chats)
    report.sessions = len(new_sessions)
    report.links = len(links)
    return report


def hooked_assistants(repo: pygit2.Repository) -> set[str]:
    """Assistants whose live hooks are installed in this repository (they capture themselves)."""
    from git_ml.hooks import assistants

    return {name for name, state in assistants.status(repo).items() if state == "installed"}


ON_COMMIT_MAX_BYTES = 64 << 20


def import_on_commit(repo: pygit2.Repository, budget: float = 0.5) -> CaptureReport | None:
    """The post-commit capture's incremental import: new or grown sessions of this repository, for every assistant
    whose live hooks are not installed here, within ``budget`` seconds (a unit started is finished). Units over
    64 MB (an editor's database of every project, rewritten all the time) are left to `git ml capture import` or
    the assistant's hooks. Off with ``ml.importOnCommit false``."""
    from git_ml.repo import config_bool

    if not config_bool(repo, "ml.importOnCommit", True):
        return None
    hooked = hooked_assistants(repo)
    names = [a.name for a in registry.ASSISTANTS if a.name not in hooked]
    sources = default_sources(repo, names)
    if not sources:
        return None
    return import_transcripts(repo, sources, only_this_repository=True, deadline=time.monotonic() + budget,
                              max_bytes=ON_COMMIT_MAX_BYTES)


def _closed_spans(sessions: Sequence[Session], chats: Sequence[Chat]) -> list[Session]:
    """Imported sessions are over: one without an end time ends at its last chat (for linking only)."""
    last: dict[str, str] = {}
    for c in chats:
        t = c.ended_at or c.timestamp
        if t and (c.session_id not in last or (iso_to_unix(t) or 0) > (iso_to_unix(last[c.session_id]) or 0)):
            last[c.session_id] = t
    out = []
    for s in sessions:
        end = s.ended_at or last.get(s.id) or s.started_at
        out.append(Session(id=s.id, started_at=s.started_at, ended_at=end))
    return out


def link_all(repo: pygit2.Repository) -> int:
    """Link every stored chat and session to the stored commits (after a backfill). Returns new links."""
    store = Store(repo)
    commits = list(store.iter_records("commits"))
    chats = list(store.iter_records("chats"))
    sessions = list(store.iter_records("sessions"))
    window = link_window(repo)
    existing = store.ids("links")
    spans = _closed_spans(sessions, chats)
    links = [lk for lk in find_links(commits, chats, window) + session_links(commits, spans)
             if lk.id not in existing]
    if links:
        store.append("links", links, message="link chats to commits")
    return len(links)
