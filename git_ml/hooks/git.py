"""Git hooks: install, remove and inspect the hooks that run ``git-ml-capture``.

Hooks installed (each a small POSIX sh script):

* ``post-commit``   -> ``"<ABS>/git-ml-capture" --hook post-commit``
* ``post-rewrite``  -> ``"<ABS>/git-ml-capture" --hook post-rewrite "$1"`` (stdin: ``old new`` lines)
* ``post-merge``    -> ``"<ABS>/git-ml-capture" --hook post-merge "$1"``
* ``pre-push``      -> ``"<ABS>/git-ml-capture" --hook pre-push "$1" "$2"`` (stdin: the refs being pushed)

``<ABS>`` is the absolute directory of the installed executables (see :func:`find_executable`), because editors
and GUI clients often run git without the virtualenv on PATH.

Chaining: a hook that is already there and is not ours is renamed to ``<hook>.git-ml-orig`` (a rename keeps its
bytes, mode and symlink-ness exactly) and our script runs it first, with the same arguments and the same stdin,
and exits with its status. ``uninstall_hooks`` renames it back. Renaming rather than splicing a block into the
existing file works for hooks in any language (Python, binaries, symlinks into a hook manager) and makes the
restore exact. Our script finds the original next to itself under the fixed name, so it keeps working if the
hooks directory moves or another hook manager renames our script.

Failure policy: post-commit, post-rewrite and post-merge always exit with the original hook's status (0 when
there is none); our part's output goes to /dev/null and its status is ignored (the capture program logs to
``.git/ml/``). pre-push may refuse: it refuses when the original hook refuses, when the capture program exits
non-zero, and (checked in sh, so it holds even when the executable is gone) whenever ``refs/ml/local`` would be
sent.

Ours is recognised by :data:`MARKER` in the file.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import NamedTuple

from git_ml.errors import GitMlError
from git_ml.fsutil import atomic_write

CAPTURE = "git-ml-capture"
MARKER = "git-ml-managed-hook"
ORIG_SUFFIX = ".git-ml-orig"
EXEC_DIR_ENV = "GIT_ML_EXEC_DIR"
HOOK_NAMES = ("post-commit", "post-rewrite", "post-merge", "pre-push")
LOCAL_REF = "refs/ml/local"
ZERO_SHA_RE = re.compile(r"^0+$")

# What each hook passes to the capture program, and whether it has stdin to share.
_HOOK_ARGS = {
    "post-commit": ("", False),
    "post-rewrite": (' "$1"', True),
    "post-merge": (' "$1"', False),
    "pre-push": (' "$1" "$2"', True),
}
_CAPTURE_LINE_RE = re.compile(r"^git_ml_capture=(.*)$", re.MULTILINE)


class HookAction(NamedTuple):
    hook: str
    path: Path
    # installed | already installed | updated | chained existing hook | removed | restored original | not installed
    action: str


class HookStatus(NamedTuple):
    hook: str
    path: Path
    state: str  # installed | missing | foreign | stale-path
    chained: bool  # a previous hook is kept as <hook>.git-ml-orig and runs first


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
# The scripts


def sh_quote(text: str) -> str:
    """Double-quote ``text`` for sh (and bash): ``"..."`` with ``\\ " $ ` `` escaped."""
    if "\n" in text or "\r" in text or "\0" in text:
        raise GitMlError(f"cannot use a path containing a line break in a hook command: {text!r}")
    return '"' + re.sub(r'([\\"$`])', r"\\\1", text) + '"'


def _sh_unquote(text: str) -> str | None:
    """Invert :func:`sh_quote` (one double-quoted word); None for anything else."""
    match = re.fullmatch(r'"((?:[^"\\$`]|\\[\\"$`])*)"\s*', text)
    if not match:
        return None
    return re.sub(r"\\([\\\"$`])", r"\1", match.group(1))


def _detachable(command: str) -> list[str]:
    """Capture runs detached, so the commit never waits for the interpreter's start (the spool makes that safe);
    GIT_ML_HOOK_SYNC=1 or `git config ml.hookSync true` keeps it in the foreground (tests, debugging)."""
    return [
        '    if [ "${GIT_ML_HOOK_SYNC:-}" = 1 ] || [ "$(git config --bool ml.hookSync 2>/dev/null)" = true ]; then',
        f"        {command}",
        "    else",
        f"        ( {command} & ) >/dev/null 2>&1",
        "    fi",
    ]


def render_hook(name: str, capture: Path) -> str:
    """The text of our ``name`` hook calling ``capture``."""
    if name not in _HOOK_ARGS:
        raise ValueError(f"unknown hook {name}")
    args, has_stdin = _HOOK_ARGS[name]
    orig = name + ORIG_SUFFIX
    lines = [
        "#!/bin/sh",
        f"# {MARKER}: {name}. Installed by `git ml install-hooks`; do not edit (re-install to update).",
        "# `git ml install-hooks --uninstall` removes it and puts back any hook it replaced.",
        f"# A hook that was here before is kept as {orig}: it runs first, with the same",
        "# arguments and stdin, and its exit status is this hook's status.",
        f"git_ml_capture={sh_quote(str(capture))}",
        'case $0 in */*) git_ml_dir=${0%/*} ;; *) git_ml_dir=. ;; esac',
        f'git_ml_orig="$git_ml_dir/{orig}"',
        "git_ml_status=0",
    ]
    if has_stdin:
        lines += [
            "# Read stdin once (the x keeps trailing newlines) and give it to both hooks.",
            "git_ml_input=$(cat; echo x)",
            "git_ml_input=${git_ml_input%x}",
            'if [ -x "$git_ml_orig" ]; then',
            '    printf %s "$git_ml_input" 2>/dev/null | "$git_ml_orig" "$@"',
            "    git_ml_status=$?",
            "fi",
        ]
    else:
        lines += [
            'if [ -x "$git_ml_orig" ]; then',
            '    "$git_ml_orig" "$@"',
            "    git_ml_status=$?",
            "fi",
        ]
    if name == "pre-push":
        lines += [
            f"# {LOCAL_REF} never leaves this machine; checked here too, so it holds without git-ml-capture.",
            'if printf %s "$git_ml_input" 2>/dev/null | (',
            "    while read -r git_ml_lref git_ml_lsha git_ml_rref git_ml_rsha; do",
            '        case $git_ml_lsha in *[!0]*) ;; *) continue ;; esac',
            "        case $git_ml_lref:$git_ml_rref in",
            f"            {LOCAL_REF}*:* | *:{LOCAL_REF}*) exit 1 ;;",
            "        esac",
            "    done",
            "    exit 0",
            "); then :; else",
            f"    echo 'git-ml: refusing to push {LOCAL_REF}: it holds private data that never leaves this machine'"
            " >&2",
            "    exit 1",
            "fi",
            'if [ -x "$git_ml_capture" ]; then',
            f'    printf %s "$git_ml_input" 2>/dev/null | "$git_ml_capture" --hook {name}{args} >&2',
            "    git_ml_own=$?",
            '    [ "$git_ml_status" -ne 0 ] || git_ml_status=$git_ml_own',
            "fi",
        ]
    elif has_stdin:
        lines += [
            'if [ -x "$git_ml_capture" ]; then',
            *_detachable(f'printf %s "$git_ml_input" 2>/dev/null | "$git_ml_capture" --hook {name}{args} '
                         '>/dev/null 2>&1'),
            "fi",
        ]
    else:
        lines += [
            'if [ -x "$git_ml_capture" ]; then',
            *_detachable(f'"$git_ml_capture" --hook {name}{args} </dev/null >/dev/null 2>&1'),
            "fi",
        ]
    lines.append('exit "$git_ml_status"')
    return "\n".join(lines) + "\n"


def _read_head(path: Path, limit: int = 65536) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(limit)
    except OSError:
        return None


def is_ours(path: Path) -> bool:
    data = _read_head(path)
    return data is not None and MARKER.encode() in data


def installed_capture_path(path: Path) -> Path | None:
    """The executable our hook at ``path`` calls, or None when it is not ours or cannot be read."""
    data = _read_head(path)
    if data is None or MARKER.encode() not in data:
        return None
    match = _CAPTURE_LINE_RE.search(data.decode("utf-8", "surrogateescape"))
    if not match:
        return None
    value = _sh_unquote(match.group(1))
    return Path(value) if value else None


# --------------------------------------------------------------------------------------------------------------
# Install / uninstall / status


def _write_executable(path: Path, text: str) -> None:
    atomic_write(path, text.encode("utf-8", "surrogateescape"), 0o755)


def install_hooks(repo, exec_dir: str | os.PathLike | None = None) -> list[HookAction]:
    """Install (or update) our hooks, chaining any hook already there. Installing twice changes nothing."""
    capture = find_executable(CAPTURE, exec_dir)
    directory = hooks_dir(repo)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GitMlError(f"cannot create hooks directory {directory}: {exc.strerror or exc}") from None

    # Check every hook before touching any, so a refusal leaves everything as it was.
    plan: list[tuple[str, Path, str, str]] = []
    for name in HOOK_NAMES:
        path = directory / name
        orig = path.with_name(name + ORIG_SUFFIX)
        text = render_hook(name, capture)
        exists = os.path.lexists(path)
        if exists and path.is_dir():
            raise GitMlError(f"{path} is a directory, not a hook")
        if exists and not is_ours(path) and os.path.lexists(orig):
            raise GitMlError(
                f"{path} is not git-ml's hook and {orig.name} already exists; "
                f"move one of them away, then run install-hooks again"
            )
        plan.append((name, path, text, "foreign" if exists and not is_ours(path) else "ours" if exists else "none"))

    results: list[HookAction] = []
    for name, path, text, kind in plan:
        orig = path.with_name(name + ORIG_SUFFIX)
        try:
            if kind == "ours":
                current = path.read_bytes() if not path.is_symlink() else None
                if current == text.encode("utf-8", "surrogateescape") and os.access(path, os.X_OK):
                    results.append(HookAction(name, path, "already installed"))
                    continue
                _write_executable(path, text)
                results.append(HookAction(name, path, "updated"))
            elif kind == "foreign":
                os.rename(path, orig)
                _write_executable(path, text)
                results.append(HookAction(name, path, "chained existing hook"))
            else:
                _write_executable(path, text)
                action = "chained existing hook" if os.path.lexists(orig) else "installed"
                results.append(HookAction(name, path, action))
        except OSError as exc:
            raise GitMlError(f"cannot install {path}: {exc.strerror or exc}") from None
    return results


def uninstall_hooks(repo) -> list[HookAction]:
    """Remove our hooks; put back the hook each one replaced, exactly (content and mode)."""
    directory = hooks_dir(repo)
    results: list[HookAction] = []
    for name in HOOK_NAMES:
        path = directory / name
        orig = path.with_name(name + ORIG_SUFFIX)
        try:
            present = os.path.lexists(path)
            if present and not is_ours(path):
                results.append(HookAction(name, path, "not installed"))
                continue
            if os.path.lexists(orig):
                os.replace(orig, path)
                results.append(HookAction(name, path, "restored original"))
            elif present:
                os.unlink(path)
                results.append(HookAction(name, path, "removed"))
            else:
                results.append(HookAction(name, path, "not installed"))
        except OSError as exc:
            raise GitMlError(f"cannot uninstall {path}: {exc.strerror or exc}") from None
    return results


def hook_status(repo, exec_dir: str | os.PathLike | None = None) -> list[HookStatus]:
    """One row per hook: installed, missing, foreign (someone else's hook) or stale-path (ours, but it calls an
    executable that is gone or is not the one ``find_executable`` picks now)."""
    try:
        expected: Path | None = find_executable(CAPTURE, exec_dir)
    except GitMlError:
        expected = None
    directory = hooks_dir(repo)
    rows: list[HookStatus] = []
    for name in HOOK_NAMES:
        path = directory / name
        chained = os.path.lexists(path.with_name(name + ORIG_SUFFIX))
        if not os.path.lexists(path):
            state = "missing"
        elif not is_ours(path):
            state = "foreign"
        else:
            target = installed_capture_path(path)
            if target is None or not _is_executable(target):
                state = "stale-path"
            elif expected is not None and os.path.abspath(target) != os.path.abspath(expected):
                state = "stale-path"
            elif not os.access(path, os.X_OK):
                state = "stale-path"
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
