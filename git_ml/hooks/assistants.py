"""Which assistants capture live in a repository (their hooks are installed) and which are read on import only.

``status(repo)`` is what ``git ml doctor`` reports and what the post-commit capture's incremental import uses to
leave hooked assistants alone: for each registry name, ``installed``, ``missing`` (hooks exist for it but are not
installed here) or ``no hooks`` (the assistant offers none git-ml uses: its sessions are imported by the
post-commit capture and by ``git ml capture import``).
"""

from __future__ import annotations

import pygit2

from git_ml.capture.transcripts.registry import ASSISTANTS


def status(repo: pygit2.Repository) -> dict[str, str]:
    """Registry name -> ``installed`` | ``missing`` | ``no hooks``."""
    out: dict[str, str] = {}
    for a in ASSISTANTS:
        if a.hooks is None:
            out[a.name] = "no hooks"
            continue
        out[a.name] = "installed" if repo.workdir and _installed(repo, a.name) else "missing"
    return out


def _installed(repo: pygit2.Repository, name: str) -> bool:
    if name == "claude":
        from git_ml.hooks.claude import has_our_hooks

        return has_our_hooks(repo, shared=False) or has_our_hooks(repo, shared=True)
    from git_ml.hooks import editors

    return editors.installed(repo, name)


def lines(repo: pygit2.Repository) -> list[str]:
    """One line per assistant, for doctor: how its sessions reach the store here."""
    from git_ml.capture.transcripts.registry import info

    out = []
    for name, state in status(repo).items():
        a = info(name)
        if state == "installed":
            out.append(f"{a.label}: live capture (hooks installed)")
        elif state == "missing":
            out.append(f"{a.label}: hooks not installed (run `git ml install-hooks {a.hooks}`); its sessions are "
                       "imported by the post-commit capture and `git ml capture import`")
        else:
            out.append(f"{a.label}: has no hooks git-ml uses; its sessions are imported by the post-commit capture "
                       "and `git ml capture import`")
    return out
