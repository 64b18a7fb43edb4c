"""``git-ml``: git runs it for `git ml ...`; it execs ``git-ml-<verb>`` the way git dispatches its own commands.

Deliberately tiny: no CLI framework, no pygit2 — start-up is the budget of every hook and of `git ml predict`.
"""

from __future__ import annotations

import os
import shutil
import sys

from git_ml import __version__
from git_ml.cli.verbs import VERBS, executable
from git_ml.errors import ExitCode

USAGE = "usage: git ml [--version] [--help] <verb> [<args>]"


def find_verb(verb: str) -> str | None:
    """The verb's executable: beside this program first (the same install), then on PATH."""
    name = executable(verb)
    here = os.path.dirname(os.path.abspath(sys.argv[0])) if sys.argv and sys.argv[0] else ""
    for directory in filter(None, [here, os.path.dirname(sys.executable)]):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which(name)


def built(verb: str) -> bool:
    """The verb's module is part of this install (a stale entry-point script alone does not count)."""
    import importlib.util

    return importlib.util.find_spec(f"git_ml.cli.{verb.replace('-', '_')}") is not None


def available() -> list[str]:
    return [v for v in VERBS if built(v) and find_verb(v)]


def listing() -> str:
    verbs = available()
    width = max((len(v) for v in verbs), default=0)
    lines = [USAGE, "", "These are the git ml verbs:", ""]
    lines += [f"   {v.ljust(width)}   {VERBS[v]}" for v in verbs]
    lines += ["", "'git ml <verb> --help' or 'git help ml-<verb>' shows a verb's manual page."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.stdout.write(listing())
        return ExitCode.OK
    first = args[0]
    if first in ("--version", "-v", "version"):
        sys.stdout.write(f"git-ml version {__version__}\n")
        return ExitCode.OK
    if first in ("-h", "--help", "help"):
        if len(args) > 1:
            return _exec(["git", "help", f"ml-{args[1]}"])
        sys.stdout.write(listing())
        return ExitCode.OK
    if first.startswith("-"):
        sys.stderr.write(f"git ml: unknown option: {first}\n{USAGE}\n")
        return ExitCode.USAGE
    path = find_verb(first) if first in VERBS and built(first) else None
    if path is None:
        sys.stderr.write(f"git ml: '{first}' is not a git ml verb. See 'git ml'.\n")
        return ExitCode.ERROR
    return _exec([path, *args[1:]])


def _exec(argv: list[str]) -> int:
    try:
        os.execv(argv[0], argv) if os.path.isabs(argv[0]) else os.execvp(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"git ml: cannot run {argv[0]}: {exc.strerror}\n")
        return ExitCode.CANNOT_RUN
    return ExitCode.OK  # not reached


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
