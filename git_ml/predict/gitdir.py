"""The repository as the quick prediction path sees it, read without pygit2: the git dirs, the author's email, a
seed path relative to the work tree. Standard library only (start-up budget); the numpy path shares ``repo_path``.
"""

from __future__ import annotations

import os


def find_git_dirs(start: str | None = None) -> tuple[str, str | None] | None:
    """(common git dir, work tree or None) found the way git does in the usual layouts, without pygit2."""
    env = os.environ.get("GIT_DIR")
    if env:
        gitdir = os.path.abspath(env)
        work = os.environ.get("GIT_WORK_TREE")
    else:
        d = os.path.abspath(start or os.getcwd())
        gitdir = work = None
        while True:
            dot = os.path.join(d, ".git")
            if os.path.isdir(dot):
                gitdir, work = dot, d
                break
            if os.path.isfile(dot):
                try:
                    with open(dot, encoding="utf-8") as fh:
                        line = fh.read().strip()
                except OSError:
                    return None
                if not line.startswith("gitdir:"):
                    return None
                gitdir = os.path.normpath(os.path.join(d, line[7:].strip()))
                work = d
                break
            if os.path.isfile(os.path.join(d, "HEAD")) and os.path.isdir(os.path.join(d, "objects")):
                gitdir = d
                break
            parent = os.path.dirname(d)
            if parent == d:
                return None
            d = parent
    marker = os.path.join(gitdir, "commondir")
    if os.path.isfile(marker):
        with open(marker, encoding="utf-8") as fh:
            gitdir = os.path.normpath(os.path.join(gitdir, fh.read().strip()))
    return gitdir, work


def author_email(gitdir: str | None, work: str | None) -> str | None:
    """user.email as git would resolve it; config files are read directly (a `git config` process costs more than
    the whole ranking), falling back to asking git when they use include directives."""
    env = os.environ.get("GIT_AUTHOR_EMAIL")
    if env:
        return env
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    files = []
    if not os.environ.get("GIT_CONFIG_NOSYSTEM"):
        files.append(os.environ.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig")
    glob = os.environ.get("GIT_CONFIG_GLOBAL")
    files += [glob] if glob is not None else [os.path.join(xdg, "git", "config"), os.path.join(home, ".gitconfig")]
    if gitdir:
        files.append(os.path.join(gitdir, "config"))
    email = None
    for path in files:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        if "[include" in text.lower():
            return _ask_git(work)
        section = ""
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line[1 : line.find("]")].strip().lower() if "]" in line else ""
                rest = line[line.find("]") + 1 :].strip() if "]" in line else ""
                if not rest:
                    continue
                line = rest
            if section == "user" and "=" in line:
                key, _, value = line.partition("=")
                if key.strip().lower() == "email":
                    value = value.split(" #", 1)[0].split(" ;", 1)[0].strip()
                    email = value[1:-1] if len(value) > 1 and value[0] == value[-1] == '"' else value
    if email is None and os.environ.get("EMAIL"):
        email = os.environ["EMAIL"]
    return email or None


def _ask_git(work: str | None) -> str | None:
    import subprocess

    try:
        res = subprocess.run(["git", "config", "--get", "user.email"], cwd=work or None, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None


def repo_path(work: str | os.PathLike | None, path: str) -> str:
    """A file named on the command line (relative to the current directory, or absolute) as a path relative to the
    work tree ``work``; a path that does not exist here is taken as already relative to the work tree (a file of
    the history that is gone), with a leading ``./`` dropped."""
    if work is not None:
        full = os.path.abspath(path)
        if os.path.isabs(path) or os.path.exists(full):
            rel = os.path.relpath(full, os.fspath(work))
            if not rel.startswith(".."):
                return rel.replace(os.sep, "/")
    while path.startswith("./"):
        path = path[2:]
    return path.replace(os.sep, "/")
