"""What an argument names: a revision, a chat or a session (unambiguous prefixes accepted), or a range of revisions.

A chat id is ``<session id>:<prompt uuid>``; a chat is also found by a prefix of its prompt uuid alone. Revisions
are whatever git understands (``HEAD~2``, a branch, an abbreviated hash). When an abbreviated hash and a chat or
session prefix both match, or a prefix matches several records, the command fails and lists the candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pygit2

from ..errors import GitMlError, UnknownRevision

_HEXISH = re.compile(r"^[0-9a-fA-F]+$")
_IDISH = re.compile(r"^[A-Za-z0-9_.:@-]+$")
MAX_LISTED = 6


class Ambiguous(GitMlError):
    pass


@dataclass
class Target:
    kind: str  # commit | chat | session
    id: str
    commit: pygit2.Commit | None = None


def _rev(repo: pygit2.Repository, arg: str) -> pygit2.Commit | None:
    try:
        obj = repo.revparse_single(arg)
    except (KeyError, pygit2.GitError, pygit2.InvalidSpecError):
        return None
    except ValueError as exc:
        if "ambiguous" in str(exc).lower():
            raise Ambiguous(_ambiguous_hash(repo, arg)) from None
        return None
    try:
        return obj.peel(pygit2.Commit)
    except (pygit2.GitError, ValueError, pygit2.InvalidSpecError):
        return None


def _ambiguous_hash(repo: pygit2.Repository, prefix: str) -> str:
    import subprocess

    out = subprocess.run(["git", "rev-parse", f"--disambiguate={prefix}"], cwd=repo.path, capture_output=True,
                         text=True)
    cands = []
    for oid in out.stdout.split()[:MAX_LISTED]:
        obj = repo.get(oid)
        kind = obj.type_str if obj is not None else "object"
        label = f"{kind} {oid[:12]}"
        if kind == "commit":
            label += f" ({_subject(obj.message)})"
        cands.append(label)
    more = len(out.stdout.split()) - len(cands)
    listed = ", ".join(cands) + (f" and {more} more" if more > 0 else "")
    return f"ambiguous argument '{prefix}': it could be {listed}" if cands else f"ambiguous argument '{prefix}'"


def _subject(message: str, width: int = 40) -> str:
    s = message.split("\n", 1)[0].strip()
    return s if len(s) <= width else s[: width - 1] + "…"


def head_commit(repo: pygit2.Repository) -> pygit2.Commit:
    try:
        if repo.head_is_unborn:
            raise GitMlError("the repository has no commits yet")
        return repo.head.peel(pygit2.Commit)
    except pygit2.GitError as exc:
        raise GitMlError(f"cannot read HEAD: {exc}") from None


def resolve_commit_arg(repo: pygit2.Repository, arg: str | None) -> pygit2.Commit:
    if arg is None:
        return head_commit(repo)
    commit = _rev(repo, arg)
    if commit is None:
        raise UnknownRevision(f"unknown revision: {arg}")
    return commit


def resolve_target(repo: pygit2.Repository, ix, arg: str | None) -> Target:
    """The commit, chat or session ``arg`` names (default HEAD)."""
    if arg is None:
        c = head_commit(repo)
        return Target("commit", str(c.id), c)
    commit = _rev(repo, arg)
    if commit is not None and not _HEXISH.match(arg):
        return Target("commit", str(commit.id), commit)  # HEAD~2, a branch, a tag: never a record id
    cands: list[Target] = []
    if commit is not None:
        cands.append(Target("commit", str(commit.id), commit))
    if len(arg) >= 4 and _IDISH.match(arg):
        if ":" in arg:
            exact = ix.chat_json(arg)
            chats = [arg] if exact is not None else ix.prefix("chats", "id", arg)
            cands += [Target("chat", c) for c in chats]
        else:
            sessions = ix.prefix("sessions", "id", arg)
            if arg in sessions:
                sessions = [arg]
            cands += [Target("session", s) for s in sessions]
            # A chat by its prompt uuid alone; chat ids that merely extend a session id name that session.
            by_uuid = ix.prefix("chats", "uuid", arg)
            if by_uuid:
                ids = [r[0] for r in ix.db.execute(
                    "SELECT id FROM chats WHERE uuid >= ? AND uuid < ? ORDER BY id LIMIT 11",
                    (arg, arg[:-1] + chr(ord(arg[-1]) + 1)))]
                cands += [Target("chat", c) for c in ids]
            if not sessions:
                # Chats of sessions that have no session record of their own.
                sess = {r[0] for r in ix.db.execute(
                    "SELECT DISTINCT session_id FROM chats WHERE session_id >= ? AND session_id < ? LIMIT 11",
                    (arg, arg[:-1] + chr(ord(arg[-1]) + 1)))}
                cands += [Target("session", s) for s in sorted(sess)]
            # A commit that only the store knows (rewritten away, or from another clone).
            if commit is None and _HEXISH.match(arg):
                cands += [Target("commit", c) for c in ix.prefix("commits", "id", arg.lower(), 3)]
    seen: set[tuple[str, str]] = set()
    unique = []
    for t in cands:
        if (t.kind, t.id) not in seen:
            seen.add((t.kind, t.id))
            unique.append(t)
    if len(unique) == 1:
        return unique[0]
    if not unique:
        raise UnknownRevision(f"unknown revision, chat or session id: {arg}")
    listed = ", ".join(f"{t.kind} {t.id}" for t in unique[:MAX_LISTED])
    more = len(unique) - MAX_LISTED
    raise Ambiguous(f"ambiguous argument '{arg}': it could be {listed}" + (f" and more" if more > 0 else ""))
