"""A repository handle that costs one `git rev-parse` to open and imports pygit2 only when asked.

Importing pygit2 is most of an explore command's start-up (~45 ms of a 150 ms budget on an idle machine). When the
explore index is current and the commit is linked directly, `show`, `log` and `search` answer from the index alone,
so discovery, the store tip and revisions go through `git rev-parse` and a direct read of the ref; attribute access
that needs more (``repo.revparse_single``, ``repo.descendant_of``, ``repo[oid]``, ...) opens the pygit2 repository
on first use and delegates to it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from git_ml.errors import GitMlError, NotARepository

DATA_REF = "refs/ml/data"


def _git(args: list[str], cwd: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, LC_ALL="C")
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    except OSError as exc:
        raise GitMlError(f"cannot run git: {exc.strerror}") from None


class GitRepo:
    def __init__(self, git_dir: Path, common: Path, workdir: Path | None):
        self.git_dir = git_dir
        self.common = common
        self.workdir_path = workdir
        self._py = None
        self._config = None
        self._revs: dict[str, str] = {}

    @classmethod
    def discover(cls, path: str | None = None, rev: str | None = None) -> "GitRepo":
        """The repository at ``path`` (default: the current directory). ``rev`` is resolved in the same `git`
        call when it can be (a later ``rev(rev)`` costs nothing)."""
        cwd = path or os.getcwd()
        args = ["rev-parse", "--absolute-git-dir", "--git-common-dir", "--show-toplevel"]
        combined = rev is not None and not rev.startswith("-") and "\n" not in rev
        out = _git(args + ([f"{rev}^{{commit}}", "--"] if combined else []), cwd)
        lines = out.stdout.splitlines()
        if combined and (out.returncode != 0 or len(lines) != 4):
            out = _git(args, cwd)
            lines = out.stdout.splitlines()
            combined = False
        if len(lines) < 2:
            raise NotARepository(f"not a git repository: {os.path.abspath(cwd)}")
        git_dir = Path(lines[0])
        common = Path(lines[1])
        if not common.is_absolute():
            common = (Path(cwd) / common)
        workdir = Path(lines[2]) if out.returncode == 0 and len(lines) > 2 and lines[2] else None
        repo = cls(git_dir, common.resolve(), workdir)
        if combined:
            repo._revs[rev] = lines[3]
        return repo

    # ----- cheap ------------------------------------------------------------------------------------------------
    @property
    def workdir(self) -> str | None:
        return str(self.workdir_path) + os.sep if self.workdir_path else None

    @property
    def path(self) -> str:
        return str(self.git_dir) + os.sep

    def ml_dir(self) -> Path:
        p = self.common / "ml"
        p.mkdir(parents=True, exist_ok=True)
        return p

    def ref(self, name: str = DATA_REF) -> str | None:
        """A ref's target, read from the loose file or packed-refs (git rev-parse for other ref backends)."""
        loose = self.common / name
        try:
            text = loose.read_text().strip()
            if len(text) in (40, 64):
                return text
        except OSError:
            pass
        packed = self.common / "packed-refs"
        try:
            with open(packed, encoding="utf-8", errors="replace") as fh:
                suffix = " " + name
                for line in fh:
                    line = line.rstrip("\n")
                    if line.endswith(suffix) and not line.startswith(("#", "^")):
                        return line.split(" ", 1)[0]
        except OSError:
            pass
        if (self.common / "reftable").is_dir():
            out = _git(["rev-parse", "-q", "--verify", name], str(self.git_dir))
            return out.stdout.strip() or None
        return None

    def rev(self, spec: str) -> str | None:
        """The commit a revision names, or None."""
        if spec in self._revs:
            return self._revs[spec]
        out = _git(["rev-parse", "-q", "--verify", "--end-of-options", f"{spec}^{{commit}}"], self._cwd())
        oid = out.stdout.strip()
        return oid if out.returncode == 0 and oid else None

    def disambiguate(self, prefix: str) -> list[str]:
        out = _git(["rev-parse", f"--disambiguate={prefix}"], self._cwd())
        return out.stdout.split()

    def config_values(self) -> dict[str, str]:
        """The settings output cares about (color.ui, core.pager), read with one `git config` call."""
        if getattr(self, "_config", None) is None:
            out = _git(["config", "--get-regexp", r"^(color\.ui|core\.pager)$"], self._cwd())
            values = {}
            for line in out.stdout.splitlines():
                key, _, value = line.partition(" ")
                values[key.lower()] = value
            self._config = values
        return self._config

    def _cwd(self) -> str:
        return str(self.workdir_path or self.git_dir)

    # ----- pygit2 on demand ---------------------------------------------------------------------------------------
    @property
    def py(self):
        if self._py is None:
            import pygit2

            self._py = pygit2.Repository(str(self.git_dir))
        return self._py

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("git_dir", "common", "workdir_path", "_py", "_config", "_revs"):
            raise AttributeError(name)
        return getattr(self.py, name)

    def __getitem__(self, key):
        return self.py[key]


def as_gitrepo(repo) -> GitRepo:
    """``repo`` as a GitRepo (a pygit2 repository is wrapped, keeping the open handle)."""
    if isinstance(repo, GitRepo):
        return repo
    from git_ml.repo import common_dir

    workdir = Path(repo.workdir).resolve() if repo.workdir else None
    wrapped = GitRepo(Path(repo.path).resolve(), common_dir(repo), workdir)
    wrapped._py = repo
    return wrapped
