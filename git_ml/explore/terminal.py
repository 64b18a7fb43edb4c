"""What the four explore executables share: opening the repository and index, printing JSON or text."""

from __future__ import annotations

import sys

COLOR_SPEC = {"--color": ("color", "flag"), "--no-color": ("color", "neg"), "--no-pager": ("pager", "neg"),
              "--json": ("json", "flag")}


def open_index(rev: str | None = None):
    """The repository (``rev`` resolved on the way when given) and its up-to-date explore index."""
    from git_ml.explore.gitrepo import GitRepo
    from git_ml.explore.index import Index

    repo = GitRepo.discover(rev=rev)
    return repo, Index.open(repo)


def print_json(doc) -> None:
    import json

    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def output(repo, color: bool | None, pager: bool):
    from git_ml.explore.render import Output

    return Output(color=color, pager=pager, repo=repo)
