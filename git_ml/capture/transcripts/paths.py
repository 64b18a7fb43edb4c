"""The one path rule every transcript parser uses (DECISIONS "Transcript paths").

A transcript names files as the assistant saw them: absolute paths of the machine and checkout it ran in (another
laptop, a renamed clone, a linked worktree where a parallel agent worked), or paths relative to its working
directory. The dataset stores them **relative to the project the transcript recorded**, so that a chat recorded in
``/Users/someone/projects/demo`` names ``index.ts``, links to the commits that changed ``index.ts`` here, and never
carries another machine's absolute path.

The recorded project's root is, in this order:

1. the root the transcript or the assistant's metadata names (Gemini CLI's ``.project_root``, Cursor's workspace
   folder, Copilot CLI's ``git_root``, ...), passed as ``recorded_root``;
2. this repository's root, when the recorded working directory lies inside it;
3. the repository root above the working directory on this machine (the nearest parent holding ``.git``, a
   directory or a linked worktree's ``.git`` file);
4. for a working directory of another machine: the part of it up to the last component named like this
   repository's root (``/Users/someone/projects/demo/web`` with this repository at ``/home/me/demo`` gives
   ``/Users/someone/projects/demo``), since clones keep their project's name;
5. otherwise the working directory itself.

A path is made relative to the deepest of the recorded root and this repository's root that contains it (so a
project whose root lies above this repository, a monorepo opened one level up, still maps onto this repository's
paths when they are under it). Relative paths are resolved against the working directory first (the tool call's own
directory when it names one). Paths outside both roots (``/etc/hosts``, ``~/.bashrc``, another project's files) are
dropped: they can never link to a commit and would keep a foreign absolute path. The root itself names no file and
is dropped too.
"""

from __future__ import annotations

import functools
import os
import posixpath


def _clean(path: str | None) -> str | None:
    if not path or not isinstance(path, str):
        return None
    p = path.strip().replace("\\", "/") if "\\" in path and ":" in path[:3] else path.strip()
    if not p or "\x00" in p or "\n" in p:
        return None
    if len(p) >= 3 and p[1] == ":" and p[2] == "/":  # C:/Users/x (Windows): compare as a POSIX-like absolute path
        p = "/" + p[0].lower() + p[2:]
    return posixpath.normpath(p) if p.startswith("/") else p


@functools.lru_cache(maxsize=256)
def _local_root(cwd: str) -> str | None:
    """The nearest directory at or above ``cwd`` on this machine holding ``.git`` (None if there is none; ``cwd``
    itself may be gone, a subdirectory deleted since)."""
    d = cwd
    while True:
        if os.path.exists(os.path.join(d, ".git")):
            return d
        parent = posixpath.dirname(d)
        if parent == d:
            return None
        d = parent


def _inside(path: str, root: str) -> bool:
    return path == root or root == "/" or path.startswith(root + "/")


@functools.lru_cache(maxsize=256)
def project_root(recorded_root: str | None, cwd: str | None, repo_root: str | None) -> str | None:
    """The root of the project a transcript recorded (rules 1-5 of the module docstring), absolute or None."""
    root = _clean(recorded_root)
    if root and root.startswith("/"):
        return root
    cwd = _clean(cwd)
    repo = _clean(repo_root)
    if not cwd or not cwd.startswith("/"):
        return repo
    if repo and _inside(cwd, repo):
        return repo
    local = _local_root(cwd)
    if local:
        return local
    if repo:
        name = posixpath.basename(repo)
        parts = cwd.split("/")
        for i in range(len(parts) - 1, 0, -1):
            if parts[i] == name:
                return "/".join(parts[:i + 1])
    return cwd


@functools.lru_cache(maxsize=8192)  # the same few paths come back all through a transcript
def _relative(path: str, cwd: str | None, roots: tuple[str, ...]) -> str | None:
    p = _clean(path)
    if p is None or p.startswith("~"):
        return None
    if not p.startswith("/"):
        base = cwd if cwd and cwd.startswith("/") else None
        if base is None:  # nothing to resolve against: keep a plain relative path that stays inside
            p = posixpath.normpath(p)
            return None if p == "." or p == ".." or p.startswith("../") else p
        p = posixpath.normpath(posixpath.join(base, p))
    for root in roots:  # deepest first
        if p == root:
            return None
        if root == "/":
            return p[1:] or None
        if p.startswith(root + "/"):
            return p[len(root) + 1:]
    return None


class ProjectPaths:
    """Paths of one transcript (or one chat of it) made relative to the project it recorded.

    ``recorded_root``: the project root the transcript or the assistant's metadata names, if any; ``cwd``: the
    working directory it recorded; ``repo_root``: this repository's root (the checkout importing it)."""

    __slots__ = ("cwd", "root", "roots", "repo_root")

    def __init__(self, recorded_root: str | None, cwd: str | None, repo_root: str | None) -> None:
        self.cwd = _clean(cwd) or None
        self.repo_root = _clean(repo_root)
        self.root = project_root(recorded_root, cwd, repo_root)
        roots = {r for r in (self.root, self.repo_root) if r and r.startswith("/")}
        self.roots = tuple(sorted(roots, key=len, reverse=True))

    def relative(self, path: object, cwd: str | None = None) -> str | None:
        """``path`` relative to the recorded project (``cwd``: the directory a relative path is relative to, when
        it is not the transcript's). None for a path outside the project, the root itself, or no path."""
        if not isinstance(path, str):
            return None
        base = _clean(cwd) if cwd else (self.cwd or self.root)
        if base and not base.startswith("/"):  # a relative workdir: relative to the transcript's cwd
            outer = self.cwd or self.root
            base = posixpath.normpath(posixpath.join(outer, base)) if outer else None
        return _relative(path, base, self.roots)


def belongs_to(directory: str | None, roots: tuple[str, ...]) -> bool:
    """Whether a recorded project directory is one of ``roots`` (this repository's worktrees) or inside one."""
    d = _clean(directory)
    if not d or not d.startswith("/"):
        return False
    for root in roots:
        r = _clean(root)
        if r and _inside(d, r):
            return True
    try:
        real = os.path.realpath(d)
    except (OSError, ValueError):
        return False
    return real != d and any(_inside(real, os.path.realpath(r)) for r in roots if r)


@functools.lru_cache(maxsize=1024)
def project_paths(recorded_root: str | None, cwd: str | None, repo_root: str | None) -> ProjectPaths:
    """A shared ``ProjectPaths`` per (root, cwd, repository): every chat of a transcript has the same."""
    return ProjectPaths(recorded_root, cwd, repo_root)
