"""Store trees: walking the chunks under a ref's tree and editing it (only the trees on touched paths are
rewritten, so an append costs O(chunks / 256), not O(store size))."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import pygit2

from git_ml.errors import GitMlError
from git_ml.store.objects import CHUNK_SUFFIX, SMALL_CHUNK_BYTES, Chunk, load_object, stored_size


def load(repo: pygit2.Repository, oid: pygit2.Oid, kind: str = "tree"):
    """A store tree (or commit) through the safe path (``objects.load_object``); damage is a one-line error naming
    the object, never a hang."""
    try:
        return load_object(repo, oid, kind)
    except ValueError as exc:
        raise GitMlError(f"damaged store {kind} {oid}: {exc}; restore it from a clone (`git ml sync`) or the "
                         "reflog") from None


def tree_of(repo: pygit2.Repository, tip: pygit2.Oid | None) -> pygit2.Tree | None:
    if tip is None:
        return None
    commit = load(repo, tip, "commit")
    return load(repo, commit.tree_id)


def walk_chunks(repo: pygit2.Repository, stream: str, tree: pygit2.Tree, prefix: str) -> Iterator[Chunk]:
    """The chunks under ``tree`` (a stream's subtree at ``prefix``), in tree order."""
    for item in tree:
        path = f"{prefix}/{item.name}"
        if item.type_str == "tree":
            yield from walk_chunks(repo, stream, load(repo, item.id), path)
        elif item.name.endswith(CHUNK_SUFFIX):
            yield Chunk(stream, path, item.id, 0)


def stream_chunks(repo: pygit2.Repository, tree: pygit2.Tree | None, stream: str) -> Iterator[Chunk]:
    if tree is None or stream not in tree:
        return
    entry = tree[stream]
    if entry.type_str == "tree":
        yield from walk_chunks(repo, stream, load(repo, entry.id), stream)


def iter_tree_chunks(repo: pygit2.Repository, tree: pygit2.Tree | None) -> Iterator[Chunk]:
    """Every chunk under a store tree, any stream (also streams this version does not know)."""
    if tree is None:
        return
    for top in tree:
        if top.type_str == "tree":
            yield from walk_chunks(repo, top.name, load(repo, top.id), top.name)


def edit_tree(repo: pygit2.Repository, base: pygit2.Tree | None, adds: dict[str, pygit2.Oid],
              removes: Sequence[str]) -> pygit2.Oid:
    """A new tree: ``base`` with blob paths added and removed. Only the trees on touched paths are rewritten."""
    plan: dict[str, tuple[dict, list]] = {}
    for path, oid in adds.items():
        head, _, rest = path.partition("/")
        plan.setdefault(head, ({}, []))[0][rest] = oid
    for path in removes:
        head, _, rest = path.partition("/")
        plan.setdefault(head, ({}, []))[1].append(rest)
    builder = repo.TreeBuilder(base) if base is not None else repo.TreeBuilder()
    for head, (sub_adds, sub_removes) in plan.items():
        if "" in sub_adds:  # a blob at this level
            builder.insert(head, sub_adds.pop(""), pygit2.GIT_FILEMODE_BLOB)
        if "" in sub_removes:
            sub_removes.remove("")
            if builder.get(head) is not None:
                builder.remove(head)
        if not sub_adds and not sub_removes:
            continue
        existing = base[head] if base is not None and head in base else None
        sub_base = load(repo, existing.id) if existing is not None and existing.type_str == "tree" else None
        sub_oid = edit_tree(repo, sub_base, sub_adds, sub_removes)
        if len(repo[sub_oid]) == 0:
            if builder.get(head) is not None:
                builder.remove(head)
        else:
            builder.insert(head, sub_oid, pygit2.GIT_FILEMODE_TREE)
    return builder.write()


def count_small_chunks(repo: pygit2.Repository, tree: pygit2.Tree | None, *, stop_after: int | None = None) -> int:
    """Chunks under a store tree whose blob is smaller than SMALL_CHUNK_BYTES, from tree entries and object headers
    only (nothing is decompressed). Stops counting past ``stop_after``."""
    if tree is None:
        return 0
    count = 0
    stack = [tree]
    while stack:
        for item in stack.pop():
            if item.type_str == "tree":
                stack.append(load(repo, item.id))
            elif item.name.endswith(CHUNK_SUFFIX):
                size = stored_size(repo, item.id)
                if 0 < size < SMALL_CHUNK_BYTES:
                    count += 1
                    if stop_after is not None and count > stop_after:
                        return count
    return count


def tree_bytes(repo: pygit2.Repository, tree: pygit2.Tree) -> int:
    """Stored bytes of a tree and the trees under it."""
    total = stored_size(repo, tree.id)
    for item in tree:
        if item.type_str == "tree":
            total += tree_bytes(repo, load(repo, item.id))
    return total


def all_present(tree: pygit2.Tree | None, paths: Iterable[str]) -> bool:
    if tree is None:
        return False
    for path in paths:
        try:
            tree[path]
        except KeyError:
            return False
    return True
