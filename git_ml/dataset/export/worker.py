"""The forked worker of an export's reading pass: a child process reads its share of the chunks into its own spill
file and sends its entries back through a pipe (Linux, two cores; see ``collect``)."""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable

from git_ml.errors import GitMlError
from git_ml.store.core import Store


def start(store: Store, spill, shared: list, warn, body: Callable[[Store], dict]) -> tuple[int, int]:
    """Start a child process that runs ``body`` (its share of the pass, given its own Store) writing into
    ``spill``; its entries come back through a pipe. ``shared``: other spills the child reads (flushed first)."""
    import pygit2

    rfd, wfd = os.pipe()
    # Nothing buffered may be inherited: the child would write it a second time through the shared descriptors.
    sys.stdout.flush()
    sys.stderr.flush()
    for other in (*shared, spill):
        if other is not None:
            other.flush()
    pid = os.fork()
    if pid != 0:
        os.close(wfd)
        return pid, rfd
    # The worker: never returns.
    code = 0
    try:
        os.close(rfd)
        # Its own repository handle: nothing of libgit2's state is shared with the parent.
        own = Store(pygit2.Repository(store.repo.path), warn=warn) if warn else \
            Store(pygit2.Repository(store.repo.path))
        cands = body(own)
        spill.flush()
        entries = {kind: [tuple(getattr(c, f) for f in c.__struct_fields__) for c in by_id.values()]
                   for kind, by_id in cands.items()}
        payload = pickle.dumps(("ok", entries, spill.size, own.report.corrupt), protocol=5)
    except BaseException as exc:  # reported by the parent as one line
        payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"), protocol=5)
        code = 1
    try:
        with os.fdopen(wfd, "wb") as fh:
            fh.write(payload)
    finally:
        os._exit(code)


def join(child: tuple[int, int]):
    """(entries per kind, the child's spill size, its corrupt-chunk reports); a failed child is one error line."""
    pid, rfd = child
    with os.fdopen(rfd, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    try:
        result = pickle.loads(data)
    except Exception:
        raise GitMlError("the export worker process died (see the messages above)") from None
    if result[0] != "ok":
        raise GitMlError(f"export worker failed: {result[1]}")
    return result[1], result[2], result[3]
