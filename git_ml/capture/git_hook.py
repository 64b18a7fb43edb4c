"""What git's hooks run: ``git-ml-capture --hook NAME [ARGS]``. Imports only what capturing needs (no CLI
framework), never fails the hook (errors go to ``.git/ml/capture.log``, exit 0) — except pre-push, whose job is to
refuse a push that would send local-only data."""

from __future__ import annotations

import sys

from git_ml.errors import ExitCode


def run_hook(args: list[str]) -> int:
    name = args[0] if args else ""
    if name == "pre-push":
        return _pre_push(args[1:])
    repo = None
    try:
        from git_ml.repo import collection_enabled, open_repository

        repo = open_repository()
        if not collection_enabled(repo):
            _note_skipped(repo, name, args[1:])
            return ExitCode.OK
        _run(repo, name, args[1:])
    except BaseException as exc:  # a hook never fails the user's command
        from git_ml.store.spool import log

        log(repo, f"{name}: {type(exc).__name__}: {exc}")
    return ExitCode.OK


def _note_skipped(repo, name: str, args: list[str]) -> None:
    """Collection is off: remember the commits this hook reports as made, so that no later capture takes them."""
    from git_ml.capture.optout import made_now, note_skipped

    lines = sys.stdin.read().splitlines() if name == "post-rewrite" and not sys.stdin.isatty() else []
    note_skipped(repo, made_now(repo, name, args, lines))


def _run(repo, name: str, args: list[str]) -> None:
    from git_ml.capture.pipeline import capture_head, in_progress_operation, record_rewrites, sequence_last_step
    from git_ml.store.core import Store
    from git_ml.store.spool import log

    store = Store(repo, warn=lambda m: log(repo, m))
    if name in ("post-commit", "post-merge", "post-checkout", "catch-up"):
        operation = in_progress_operation(repo)
        # A rebase's commits go with its post-rewrite; a cherry-pick or revert series (no post-rewrite follows)
        # is captured, whole, at its last step's commit.
        if operation and not (operation == "sequence" and name == "post-commit" and sequence_last_step(repo)):
            return
        result = capture_head(repo, store, source="hook")
    elif name == "post-rewrite":
        kind = args[0] if args else "rewrite"
        lines = sys.stdin.read().splitlines() if not sys.stdin.isatty() else []
        result = record_rewrites(repo, store, kind, lines)
        if not in_progress_operation(repo):
            extra = capture_head(repo, store, source="hook")
            result.records.extend(extra.records)
            result.hints.extend(extra.hints)
    else:
        log(repo, f"unknown hook {name!r} ignored")
        return
    for hint in result.hints:
        log(repo, f"{name}: hint: {hint}")
    if result.spooled:
        log(repo, f"{name}: store busy, {result.spooled} records spooled")
    after_capture(repo, store, result.records)


def after_capture(repo, store, records) -> None:
    """Follow-up work after a capture (hook or `git ml capture`) that must not cost the capture itself: the
    prediction model's journal. Never raises: a failing step is logged to .git/ml/capture.log."""
    if not records:
        return
    from git_ml.store.spool import log

    for step in _FOLLOW_UPS:
        try:
            step(repo, store, records)
        except Exception as exc:
            log(repo, f"follow-up {step.__name__}: {type(exc).__name__}: {exc}")


def _update_predict_model(repo, store, records) -> None:
    try:
        from git_ml.predict import note_commits
    except ImportError:
        return
    note_commits(repo, records)


def _milestones(repo, store, records) -> None:
    from git_ml.dataset.milestones import after_capture

    after_capture(repo, store, records)


def _import_assistants(repo, store, records) -> None:
    """New sessions of this repository from the assistants whose hooks are not installed (bounded in time)."""
    from git_ml.capture.importer import import_on_commit

    report = import_on_commit(repo)
    if report is not None and report.errors:
        from git_ml.store.spool import log

        for err in report.errors:
            log(repo, f"import: {err}")


_FOLLOW_UPS = [_update_predict_model, _import_assistants, _milestones]


def _pre_push(args: list[str]) -> int:
    remote_name = args[0] if args else ""
    remote_url = args[1] if len(args) > 1 else ""
    try:
        from git_ml.hooks.git import check_pre_push
        from git_ml.repo import open_repository

        repo = open_repository()
        lines = sys.stdin.read().splitlines()
        ok, messages = check_pre_push(repo, remote_name, remote_url, lines)
    except BaseException as exc:
        # A broken check must not block ordinary pushes; it cannot see what is pushed, so it stays quiet.
        try:
            from git_ml.store.spool import log

            log(None, f"pre-push: {exc}")
        except Exception:
            pass
        return ExitCode.OK
    for message in messages:
        sys.stderr.write(message + "\n")
    return ExitCode.OK if ok else ExitCode.REFUSED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_hook(sys.argv[1:]))
