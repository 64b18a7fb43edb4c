"""Git hooks: install, remove and inspect the hooks that run ``git-ml-capture``.

Hooks installed: ``post-commit``, ``post-rewrite``, ``post-merge`` and ``pre-push``, each calling
``"<ABS>/git-ml-capture" --hook NAME ARGS``. ``<ABS>`` is the absolute directory of the installed executables
(see :func:`find_executable`), because editors and GUI clients often run git without the virtualenv on PATH.

A hook already there keeps the name it is invoked by (hook managers dispatch on ``basename "$0"``): a shell script
gets a marked block spliced in after its ``#!`` line; anything else (Ruby, Python, a binary, a symlink) moves to
``git-ml-chained/<hook>`` and our script runs it first. ``scripts.py`` has the text of both and the failure
policy (post-* hooks never fail; pre-push refuses only a push of ``refs/ml/local``, checked in plain sh, and fails
open otherwise). ``uninstall_hooks`` puts every file back byte for byte. Hooks installed by older versions (the
original renamed to ``<hook>.git-ml-orig``) are converted on install and restored on uninstall.

When ``core.hooksPath`` names a directory tracked by the repository (husky, a team's ``.githooks``), the team's
files are left alone: ``install_hooks`` reports them, and :func:`scripts.team_line` is the line to add.
"""


from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path
from typing import NamedTuple

from git_ml.errors import GitMlError
from git_ml.fsutil import atomic_write
from git_ml.hooks.scripts import (
    CHAINED_DIR,
    LOCAL_REF,
    MARKER,
    ScriptError,
    capture_path_in,
    find_block,
    is_shell_script,
    render_block,
    render_hook,
    sh_quote,
    splice,
    unsplice,
)

CAPTURE = "git-ml-capture"
ORIG_SUFFIX = ".git-ml-orig"  # how earlier versions kept a replaced hook (converted on install)
EXEC_DIR_ENV = "GIT_ML_EXEC_DIR"
HOOK_NAMES = ("post-commit", "post-rewrite", "post-merge", "pre-push")
ZERO_SHA_RE = re.compile(r"^0+$")
__all__ = ["CAPTURE", "HOOK_NAMES", "MARKER", "HookAction", "HookStatus", "check_pre_push", "find_executable",
           "hook_status", "hooks_dir", "install_hooks", "installed_capture_path", "is_outside_repository",
           "sh_quote", "tracked_hooks_dir", "uninstall_hooks"]


class HookAction(NamedTuple):
    hook: str
    path: Path
    # installed | already installed | updated | chained existing hook | removed | restored original |
    # not installed | left alone (tracked by the repository)
    action: str


class HookStatus(NamedTuple):
    hook: str
    path: Path
    # installed | missing | foreign | not-executable | stale-path (calls an executable that is gone) |
    # other-install (calls another install's git-ml-capture) | team (a tracked hook that calls git-ml-capture) |
    # team-missing (core.hooksPath is tracked and this hook does not call git-ml-capture)
    state: str
    chained: bool  # a hook that was there before still runs (spliced, or kept in git-ml-chained/)

    @property
    def ours(self) -> bool:
        """git-ml's code is in this hook (what --uninstall would remove)."""
        return self.state not in ("missing", "foreign", "team", "team-missing")

    @property
    def fix(self) -> str | None:
        """What to do about this hook, or None when it works."""
        return {
            "missing": "run `git ml install-hooks`",
            "foreign": "not git-ml's hook: run `git ml install-hooks` (it keeps this hook and still runs it)",
            "not-executable": f"not executable: chmod +x {self.path}",
            "stale-path": "calls a git-ml-capture that is gone: run `git ml install-hooks`",
            "other-install": "calls another install's git-ml-capture: `git ml install-hooks` points it at this one",
            "team-missing": "core.hooksPath is tracked by the repository: add the line `git ml install-hooks` "
                            "prints to this file",
        }.get(self.state)


# --------------------------------------------------------------------------------------------------------------
# Finding the executable


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_executable(name: str = CAPTURE, exec_dir: str | os.PathLike | None = None) -> Path:
    """The absolute path of the executable ``name`` that hooks should call.

    Looked for, in order: ``exec_dir`` (or ``$GIT_ML_EXEC_DIR``; when given it must contain ``name``), the
    directory of the running program (``sys.argv[0]`` as given, then with symlinks resolved: a virtualenv's
    ``bin/`` or a checkout's ``bin/`` launchers), the interpreter's scripts directory, a checkout's ``bin/`` next
    to this package, then ``PATH``.
    """
    explicit = exec_dir if exec_dir is not None else os.environ.get(EXEC_DIR_ENV) or None
    if explicit is not None:
        candidate = Path(os.path.abspath(os.path.expanduser(os.fspath(explicit)))) / name
        if _is_executable(candidate):
            return candidate
        source = "--exec-dir" if exec_dir is not None else EXEC_DIR_ENV
        raise GitMlError(f"{source} {candidate.parent} has no executable {name}")

    dirs: list[Path] = []
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    if argv0 and argv0 not in ("-c", "-m"):
        dirs.append(Path(os.path.abspath(argv0)).parent)
        dirs.append(Path(os.path.realpath(argv0)).parent)
    import sysconfig

    scripts = sysconfig.get_path("scripts")
    if scripts:
        dirs.append(Path(os.path.abspath(scripts)))
    dirs.append(Path(__file__).resolve().parent.parent / "bin")
    for directory in dirs:
        candidate = directory / name
        if _is_executable(candidate):
            return candidate
    import shutil

    found = shutil.which(name)
    if found:
        return Path(os.path.abspath(found))
    raise GitMlError(f"cannot find the {name} executable: install git-ml, or set {EXEC_DIR_ENV} to its directory")


# --------------------------------------------------------------------------------------------------------------
# Where hooks live


def hooks_dir(repo) -> Path:
    """The directory git runs hooks from: ``core.hooksPath`` if set, else ``<common git dir>/hooks``.

    As git does, a relative ``core.hooksPath`` is relative to the worktree root (the git dir in a bare
    repository) and ``~`` is expanded.
    """
    from git_ml.repo import common_dir, config_get, workdir

    configured = config_get(repo, "core.hooksPath")
    if configured:
        path = Path(os.path.expanduser(configured))
        if not path.is_absolute():
            base = workdir(repo) or Path(repo.path).resolve()
            path = base / path
        return Path(os.path.abspath(path))
    return common_dir(repo) / "hooks"


def is_outside_repository(repo, directory: Path) -> bool:
    """True when ``directory`` is neither inside the git dir nor inside the worktree (a shared hooks dir)."""
    from git_ml.repo import common_dir, workdir

    directory = directory.resolve()
    roots = [common_dir(repo)]
    wd = workdir(repo)
    if wd is not None:
        roots.append(wd)
    return not any(directory == root or root in directory.parents for root in roots)


# --------------------------------------------------------------------------------------------------------------
# Reading hook files


def _read(path: Path, limit: int | None = None) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(limit) if limit else fh.read()
    except OSError:
        return None


def is_ours(path: Path) -> bool:
    """The whole file is git-ml's script (not a hook with our block spliced in)."""
    data = _read(path, 65536)
    return data is not None and MARKER.encode() in data and find_block(data) is None


def installed_capture_path(path: Path) -> Path | None:
    """The executable our hook (or our block) at ``path`` calls, or None when there is none or it cannot be read."""
    data = _read(path)
    return capture_path_in(data) if data is not None else None


def _chained(path: Path) -> Path:
    return path.parent / CHAINED_DIR / path.name


def tracked_hooks_dir(repo, directory: Path | None = None) -> bool:
    """``core.hooksPath`` names a directory inside the work tree that holds files tracked by the repository."""
    from git_ml.repo import config_get, workdir

    if not config_get(repo, "core.hooksPath"):
        return False
    directory = (directory or hooks_dir(repo)).resolve()
    root = workdir(repo)
    if root is None or not (directory == root or root in directory.parents):
        return False
    rel = directory.relative_to(root).as_posix()
    prefix = "" if rel == "." else rel + "/"
    try:
        index = repo.index
    except Exception:
        return False
    return any(entry.path.startswith(prefix) for entry in index)


# --------------------------------------------------------------------------------------------------------------
# Install / uninstall / status


def _write(path: Path, data: bytes, mode: int = 0o755) -> None:
    atomic_write(path, data, mode)


def _plan(path: Path, name: str) -> str:
    """How to install into ``path``: new | ours | spliced (our block is there) | splice (a shell script: add our
    block) | move (anything else: to git-ml-chained/) | legacy-splice / legacy-move (an older install: its
    ``<hook>.git-ml-orig`` goes back in place first, then splice or move)."""
    if os.path.lexists(path) and path.is_dir() and not path.is_symlink():
        raise GitMlError(f"{path} is a directory, not a hook")
    if not os.path.lexists(path):
        return "new"
    data = None if path.is_symlink() else _read(path)
    if data is not None and MARKER.encode() in data:
        if find_block(data) is not None:
            return "spliced"
        orig = path.with_name(name + ORIG_SUFFIX)
        if not os.path.lexists(orig):
            return "ours"
        return "legacy-" + _plan(orig, name)
    if path.is_symlink() or data is None or not is_shell_script(data) or not os.access(path, os.X_OK):
        # a symlink is not ours to edit; a script without x is one git does not run: it stays off
        if os.path.lexists(_chained(path)):
            raise GitMlError(f"{path} is not git-ml's hook and {CHAINED_DIR}/{name} already exists; "
                             "move one of them away, then run install-hooks again")
        return "move"
    return "splice"


def _move_aside(path: Path) -> None:
    """Move a foreign hook to git-ml-chained/<name>, keeping its bytes, mode and symlink-ness (a relative
    symlink is re-pointed so that it still names the same file)."""
    target = _chained(path)
    target.parent.mkdir(exist_ok=True)
    if path.is_symlink() and not os.path.isabs(os.readlink(path)):
        os.symlink(os.path.join("..", os.readlink(path)), target)
        os.unlink(path)
    else:
        os.rename(path, target)


def _move_back(path: Path) -> None:
    source = _chained(path)
    if source.is_symlink() and not os.path.isabs(os.readlink(source)):
        link = os.readlink(source)
        os.symlink(link[3:] if link.startswith("../") else link, path.with_name(path.name + ".git-ml-tmp"))
        os.replace(path.with_name(path.name + ".git-ml-tmp"), path)
        os.unlink(source)
    else:
        os.replace(source, path)
    try:
        source.parent.rmdir()
    except OSError:
        pass  # other hooks still chained there


def install_hooks(repo, exec_dir: str | os.PathLike | None = None) -> list[HookAction]:
    """Install (or update) our hooks, keeping any hook already there. Installing twice changes nothing."""
    capture = find_executable(CAPTURE, exec_dir)
    directory = hooks_dir(repo)
    if tracked_hooks_dir(repo, directory):
        return [HookAction(name, directory / name, "left alone (tracked by the repository)") for name in HOOK_NAMES]
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GitMlError(f"cannot create hooks directory {directory}: {exc.strerror or exc}") from None
    try:
        # Check every hook before touching any, so a refusal leaves everything as it was.
        plan = [(name, directory / name, _plan(directory / name, name)) for name in HOOK_NAMES]
        texts = {name: (render_hook(name, capture), render_block(name, capture)) for name in HOOK_NAMES}
    except ScriptError as exc:
        raise GitMlError(str(exc)) from None
    results: list[HookAction] = []
    for name, path, kind in plan:
        whole, block = texts[name]
        try:
            if kind.startswith("legacy-"):  # an older install: the original back in place, then as any other
                os.replace(path.with_name(name + ORIG_SUFFIX), path)
                kind = kind[len("legacy-"):]
            if kind == "new":
                _write(path, whole.encode("utf-8", "surrogateescape"))
                results.append(HookAction(name, path, "chained existing hook" if os.path.lexists(_chained(path))
                                          else "installed"))
            elif kind == "ours":
                if _read(path) == whole.encode("utf-8", "surrogateescape") and os.access(path, os.X_OK):
                    results.append(HookAction(name, path, "already installed"))
                else:
                    _write(path, whole.encode("utf-8", "surrogateescape"))
                    results.append(HookAction(name, path, "updated"))
            elif kind in ("spliced", "splice"):
                data = _read(path) or b""
                new = splice(data, block)
                if new == data:
                    results.append(HookAction(name, path, "already installed"))
                    continue
                _write(path, new, stat.S_IMODE(os.stat(path).st_mode))
                results.append(HookAction(name, path, "updated" if kind == "spliced" else "chained existing hook"))
            else:  # move
                _move_aside(path)
                _write(path, whole.encode("utf-8", "surrogateescape"))
                results.append(HookAction(name, path, "chained existing hook"))
        except OSError as exc:
            raise GitMlError(f"cannot install {path}: {exc.strerror or exc}") from None
    return results


def uninstall_hooks(repo) -> list[HookAction]:
    """Remove our hooks and blocks; put back every hook they replaced or went into, exactly (content and mode)."""
    directory = hooks_dir(repo)
    results: list[HookAction] = []
    for name in HOOK_NAMES:
        path = directory / name
        try:
            data = _read(path) if os.path.lexists(path) and not path.is_symlink() else None
            if data is not None and MARKER.encode() in data and find_block(data) is not None:
                _write(path, unsplice(data), stat.S_IMODE(os.stat(path).st_mode))
                results.append(HookAction(name, path, "restored original"))
            elif os.path.lexists(path) and not is_ours(path):
                results.append(HookAction(name, path, "not installed"))
            elif os.path.lexists(_chained(path)):
                _move_back(path)
                results.append(HookAction(name, path, "restored original"))
            elif os.path.lexists(path.with_name(name + ORIG_SUFFIX)):
                os.replace(path.with_name(name + ORIG_SUFFIX), path)
                results.append(HookAction(name, path, "restored original"))
            elif os.path.lexists(path):
                os.unlink(path)
                results.append(HookAction(name, path, "removed"))
            else:
                results.append(HookAction(name, path, "not installed"))
        except OSError as exc:
            raise GitMlError(f"cannot uninstall {path}: {exc.strerror or exc}") from None
    return results


def hook_status(repo, exec_dir: str | os.PathLike | None = None) -> list[HookStatus]:
    """One row per hook: its state (see :class:`HookStatus`) and whether a hook that was there before still runs."""
    try:
        expected: Path | None = find_executable(CAPTURE, exec_dir)
    except GitMlError:
        expected = None
    directory = hooks_dir(repo)
    tracked = tracked_hooks_dir(repo, directory)
    rows: list[HookStatus] = []
    for name in HOOK_NAMES:
        path = directory / name
        data = _read(path) if os.path.lexists(path) else None
        spliced = data is not None and find_block(data) is not None
        chained = spliced or os.path.lexists(_chained(path)) or os.path.lexists(path.with_name(name + ORIG_SUFFIX))
        if tracked and (data is None or MARKER.encode() not in data):
            state = "team" if data is not None and f"--hook {name}".encode() in data else "team-missing"
        elif not os.path.lexists(path):
            state = "missing"
        elif data is None or MARKER.encode() not in data:
            state = "foreign"
        else:
            target = capture_path_in(data)
            if not os.access(path, os.X_OK):
                state = "not-executable"
            elif target is None or not _is_executable(target):
                state = "stale-path"
            elif expected is not None and os.path.abspath(target) != os.path.abspath(expected):
                state = "other-install"
            else:
                state = "installed"
        rows.append(HookStatus(name, path, state, chained))
    return rows


# --------------------------------------------------------------------------------------------------------------
# pre-push policy


def _is_local_ref(ref: str) -> bool:
    return ref.startswith(LOCAL_REF)


def check_pre_push(repo, remote_name: str, remote_url: str, lines: list[str]) -> tuple[bool, list[str]]:
    """Decide on a push from the pre-push hook's stdin ``lines`` (``<local ref> <local sha> <remote ref>
    <remote sha>``).

    Refuses (False) when ``refs/ml/local`` (or a ref under ``refs/ml/local*``) would be sent, whether as the source
    or the destination; deleting it on the remote is allowed. Warns, but allows, when any other ``refs/ml/*``
    ref goes to a remote other than ``git config ml.remote`` (any remote when it is unset: a push of ML
    data should never be a surprise). Returns one-line messages
    for the caller to print to stderr.
    """
    from git_ml.repo import config_get

    ml_remote = config_get(repo, "ml.remote")
    ok = True
    messages: list[str] = []
    seen: set[str] = set()
    where = remote_name or remote_url or "the remote"
    for line in lines:
        fields = line.split()
        if len(fields) != 4:
            continue
        local_ref, local_sha, remote_ref, _remote_sha = fields
        if ZERO_SHA_RE.match(local_sha):
            continue  # a deletion sends no data
        if _is_local_ref(local_ref) or _is_local_ref(remote_ref):
            ok = False
            ref = local_ref if _is_local_ref(local_ref) else remote_ref
            key = f"local:{ref}"
            if key not in seen:
                seen.add(key)
                messages.append(
                    f"git-ml: refusing to push {ref} to {where}: it holds private data that never leaves this "
                    f"machine (push named refs instead of --mirror/--all)"
                )
            continue
        if remote_ref.startswith("refs/ml/") and ml_remote not in (remote_name, remote_url):
            key = f"remote:{remote_ref}"
            if key not in seen:
                seen.add(key)
                named = f"ml.remote ({ml_remote})" if ml_remote else "ml.remote, which is not set"
                messages.append(f"git-ml: warning: pushing {remote_ref} to {where}, which is not {named}")
    return ok, messages
