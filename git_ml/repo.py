"""Repository access: discovery, git dirs, config, the tool's private directory under .git/ml/."""

from __future__ import annotations

import os
from pathlib import Path

import pygit2

from git_ml.errors import NotARepository, UnknownRevision


def open_repository(path: str | os.PathLike | None = None) -> pygit2.Repository:
    """Open the repository containing ``path`` (default: the current directory, or $GIT_DIR)."""
    start = os.fspath(path) if path is not None else os.environ.get("GIT_DIR") or os.getcwd()
    try:
        found = pygit2.discover_repository(start)
    except (pygit2.GitError, OSError):
        found = None
    if not found:
        raise NotARepository(f"not a git repository: {os.path.abspath(start)}")
    try:
        return pygit2.Repository(found)
    except (pygit2.GitError, OSError) as exc:
        if "object format" in str(exc):
            raise NotARepository(
                f"{found} uses SHA-256 object names, which git-ml does not support yet: the git library it uses "
                f"(libgit2 {pygit2.LIBGIT2_VERSION}) reads SHA-1 repositories only; nothing is captured here"
            ) from None
        raise NotARepository(f"cannot open repository {found}: {exc}") from None


def common_dir(repo: pygit2.Repository) -> Path:
    """The main .git directory, shared by all worktrees (refs and our data live there)."""
    # pygit2's Repository.path is the worktree's gitdir; commondir, when present, points at the shared one.
    gitdir = Path(repo.path)
    marker = gitdir / "commondir"
    if marker.is_file():
        return (gitdir / marker.read_text().strip()).resolve()
    return gitdir.resolve()


def ml_dir(repo: pygit2.Repository, create: bool = True) -> Path:
    """``.git/ml/``: logs, spool, caches and models. Derived or transient data only."""
    path = common_dir(repo) / "ml"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def _config(repo: pygit2.Repository) -> pygit2.Config:
    """A read-only snapshot of the configuration, taken once per repository object: every ``repo.config``
    access re-reads the config files, which shows on the hook's path. Writers use ``repo.config`` directly."""
    snap = getattr(repo, "_git_ml_config", None)
    if snap is None:
        try:
            snap = repo.config.snapshot()
        except pygit2.GitError:
            snap = repo.config
        try:
            repo._git_ml_config = snap
        except AttributeError:
            pass
    return snap


def forget_config(repo: pygit2.Repository) -> None:
    """Drop the cached snapshot after writing configuration through this repository object."""
    if hasattr(repo, "_git_ml_config"):
        del repo._git_ml_config


def config_get(repo: pygit2.Repository, key: str, default: str | None = None) -> str | None:
    try:
        return _config(repo)[key]
    except (KeyError, pygit2.GitError):
        return default


def config_bool(repo: pygit2.Repository, key: str, default: bool) -> bool:
    try:
        return _config(repo).get_bool(key)
    except (KeyError, pygit2.GitError, ValueError):
        return default


def config_int(repo: pygit2.Repository, key: str, default: int) -> int:
    try:
        return _config(repo).get_int(key)
    except (KeyError, pygit2.GitError, ValueError):
        return default


def collection_enabled(repo: pygit2.Repository | None) -> bool:
    """``ML_COLLECTION_ENABLED=0`` or ``git config ml.enabled false`` turns capture off."""
    env = os.environ.get("ML_COLLECTION_ENABLED")
    if env is not None and env.strip().lower() in ("0", "false", "no", "off"):
        return False
    if repo is not None and not config_bool(repo, "ml.enabled", True):
        return False
    return True


def resolve_commit(repo: pygit2.Repository, rev: str) -> pygit2.Commit:
    try:
        obj = repo.revparse_single(rev)
        return obj.peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
        raise UnknownRevision(f"unknown revision: {rev}") from None


def current_branch(repo: pygit2.Repository) -> str | None:
    try:
        if repo.head_is_detached or repo.head_is_unborn:
            return None
        return repo.head.shorthand
    except pygit2.GitError:
        return None


def workdir(repo: pygit2.Repository) -> Path | None:
    return Path(repo.workdir).resolve() if repo.workdir else None
