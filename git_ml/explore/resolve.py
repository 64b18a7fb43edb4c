"""What an argument names: a revision, a chat or a session (unambiguous prefixes accepted), or a range of revisions.

A chat id is ``<session id>:<prompt uuid>``; a chat is also found by a prefix of its prompt uuid alone. Revisions
are whatever git understands (``HEAD~2``, a branch, an abbreviated hash). When an abbreviated hash and a chat or
session prefix both match, or a prefix matches several records, the command fails and lists the candidates.
"""

from __future__ import annotations

import re

from git_ml.errors import GitMlError, UnknownRevision

_HEXISH = re.compile(r"^[0-9a-fA-F]+$")
_IDISH = re.compile(r"^[A-Za-z0-9_.:@-]+$")
MAX_LISTED = 6


class Ambiguous(GitMlError):
    pass


class Target:
    __slots__ = ("kind", "id")

    def __init__(self, kind: str, id: str):
        self.kind = kind  # commit | chat | session
        self.id = id


def _rev(repo, arg: str) -> str | None:
    oid = repo.rev(arg)
    if oid is None and _HEXISH.match(arg) and len(arg) >= 4:
        found = repo.disambiguate(arg.lower())
        if len(found) > 1:
            commits = [o for o in found if _kind(repo, o) == "commit"]
            if len(commits) > 1:
                raise Ambiguous(_ambiguous_hash(repo, arg, commits))
            if len(commits) == 1:
                return commits[0]
    return oid


def _kind(repo, oid: str) -> str:
    obj = repo.get(oid)
    return obj.type_str if obj is not None else "object"


def _ambiguous_hash(repo, prefix: str, oids: list[str]) -> str:
    cands = []
    for oid in oids[:MAX_LISTED]:
        obj = repo.get(oid)
        cands.append(f"commit {oid[:12]} ({_subject(obj.message)})" if obj is not None else f"commit {oid[:12]}")
    more = len(oids) - len(cands)
    listed = ", ".join(cands) + (f" and {more} more" if more > 0 else "")
    return f"ambiguous argument '{prefix}': it could be {listed}"


def _subject(message: str, width: int = 40) -> str:
    s = message.split("\n", 1)[0].strip()
    return s if len(s) <= width else s[: width - 1] + "…"


def _next(text: str) -> str:
    """The smallest string greater than every string starting with ``text``."""
    return text[:-1] + chr(ord(text[-1]) + 1)


def head_commit(repo) -> str:
    oid = repo.rev("HEAD")
    if oid is None:
        raise GitMlError("the repository has no commits yet")
    return oid


def resolve_target(repo, ix, arg: str | None) -> Target:
    """The commit, chat or session ``arg`` names (default HEAD)."""
    if arg is None:
        return Target("commit", head_commit(repo))
    if arg.startswith("git-ml:chat/"):  # the url an Agent Trace export gives a chat
        from urllib.parse import unquote

        arg = unquote(arg[len("git-ml:chat/"):])
    commit = _rev(repo, arg)
    if commit is not None and not _HEXISH.match(arg):
        return Target("commit", commit)  # HEAD~2, a branch, a tag: never a record id
    cands: list[Target] = []
    if commit is not None:
        cands.append(Target("commit", commit))
    if ix.chat_json(arg) is not None:
        cands.append(Target("chat", arg))
    elif ix.session_json(arg) is not None:
        cands.append(Target("session", arg))
    elif len(arg) >= 4 and _IDISH.match(arg):
        if ":" in arg:
            exact = ix.chat_json(arg)
            chats = [arg] if exact is not None else ix.prefix("chats", "id", arg)
            if not chats:
                # The short form text output prints: a prefix of the session id, a colon, a prefix of the uuid.
                sp, _, up = arg.rpartition(":")
                if sp and up:
                    chats = [r[0] for r in ix.db.execute(
                        "SELECT id FROM chats WHERE session_id >= ? AND session_id < ? AND uuid >= ? AND uuid < ? "
                        "ORDER BY id LIMIT 11", (sp, _next(sp), up, _next(up)))]
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
                    (arg, _next(arg)))]
                cands += [Target("chat", c) for c in ids]
            if not sessions:
                # Chats of sessions that have no session record of their own.
                sess = {r[0] for r in ix.db.execute(
                    "SELECT DISTINCT session_id FROM chats WHERE session_id >= ? AND session_id < ? LIMIT 11",
                    (arg, _next(arg)))}
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
    raise Ambiguous(f"ambiguous argument '{arg}': it could be {listed}" + (" and more" if more > 0 else ""))
