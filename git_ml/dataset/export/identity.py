"""Who a repository is in a shared dataset: its repo id (``--repo-id``, ``git config ml.datasetRepo``, the origin
URL without credentials, else the directory name) and a fingerprint (its first-parent root commit) that tells two
repositories claiming one id apart."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pygit2

from git_ml.errors import GitMlError
from git_ml.fsutil import atomic_write
from git_ml.repo import common_dir, config_get, ml_dir

REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
FINGERPRINT_CACHE = "dataset-root.json"


def slug(text: str) -> str:
    """A name safe as a directory and a hive partition value: runs of other characters become ``-``."""
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-.")


def origin_id(url: str) -> str | None:
    """``host/owner/name`` of a remote URL (https, ssh or scp-like), credentials, port and ``.git`` dropped, as a
    slug: ``github.com-owner-name``."""
    url = url.strip()
    if not url:
        return None
    if "://" in url:
        parts = urlsplit(url)
        host, path = parts.hostname or "", parts.path
    elif re.match(r"^[^/]+:", url) and not re.match(r"^[A-Za-z]:[\\/]", url):  # scp-like user@host:path
        host, _, path = url.partition(":")
        host = host.rpartition("@")[2]
    else:  # a local path
        host, path = "", url
    path = re.sub(r"\.git/?$", "", path.rstrip("/"))
    name = slug(f"{host}/{path}" if host else path.rsplit("/", 1)[-1])
    return name.lower() or None


def repo_id(repo: pygit2.Repository, override: str | None = None) -> str:
    """The repository's id in a shared dataset."""
    given = override if override is not None else config_get(repo, "ml.datasetRepo")
    if given is not None:
        where = "--repo-id" if override is not None else "git config ml.datasetRepo"
        if not REPO_ID.fullmatch(given):
            raise GitMlError(f"{where} {given!r}: use letters, digits, '.', '_' and '-' (200 at most), starting "
                             f"with a letter or digit")
        return given
    url = config_get(repo, "remote.origin.url")
    found = origin_id(url) if url else None
    if not found:
        workdir = repo.workdir or str(common_dir(repo).parent)
        found = slug(workdir.rstrip("/").rsplit("/", 1)[-1]).lower()
    if not found or not REPO_ID.fullmatch(found):
        raise GitMlError("cannot derive a repo id from this repository: pass --repo-id or set git config "
                         "ml.datasetRepo")
    return found


def fingerprint(repo: pygit2.Repository) -> str:
    """The root commit reached from HEAD by first parents ("" without commits), cached under .git/ml/ while it
    exists (a history rewrite that drops it computes it again)."""
    cache = ml_dir(repo) / FINGERPRINT_CACHE
    try:
        root = json.loads(cache.read_text())["root"]
        if root and pygit2.Oid(hex=root) in repo:
            return root
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        head = repo.head.target
    except (pygit2.GitError, KeyError):
        return ""
    walker = repo.walk(head, pygit2.enums.SortMode.NONE)
    walker.simplify_first_parent()
    root = ""
    for commit in walker:
        root = str(commit.id)
    try:
        atomic_write(cache, json.dumps({"root": root}).encode())
    except OSError:
        pass
    return root
