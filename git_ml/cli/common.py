"""What every executable shares: the error edge, stream output, a progress bar that only shows on a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from git_ml.errors import GitMlError


def die(prog: str, message: str, code: int = 1) -> int:
    sys.stderr.write(f"{prog}: {message}\n")
    return code


def run_main(prog: str, body: Callable[[], int | None]) -> int:
    """Run ``body`` with the error policy: domain errors one line (exit 1), Ctrl-C 130, a bug exit 3 plus a log."""
    try:
        return int(body() or 0)
    except GitMlError as exc:
        return die(prog, str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        return die(prog, str(code))
    except Exception as exc:  # a bug: keep the traceback in a file, print one line
        path = _write_crash_log(prog)
        where = f" (details in {path})" if path else ""
        return die(prog, f"internal error: {type(exc).__name__}: {exc}{where}", 3)


def _write_crash_log(prog: str) -> str | None:
    try:
        import traceback

        from git_ml.repo import ml_dir, open_repository

        path = ml_dir(open_repository()) / "crash.log"
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"--- {prog} {sys.argv!r}\n")
            traceback.print_exc(file=fh)
        return str(path)
    except Exception:
        return None


def run_typer(prog: str, app) -> int:
    """Run a typer app under the error policy. The CLI framework keeps its own usage errors (exit 2); our errors
    pass through it to ``run_main``."""
    import typer

    command = typer.main.get_command(app)
    return run_main(prog, lambda: command.main(args=sys.argv[1:], prog_name=prog, standalone_mode=True))


class Progress:
    """A one-line progress counter on stderr, shown only when stderr is a terminal."""

    def __init__(self, label: str, total: int | None = None, enabled: bool | None = None):
        self.label = label
        self.total = total
        self.done = 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._last = -1.0

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        import time

        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        if self.total:
            pct = 100.0 * self.done / self.total
            sys.stderr.write(f"\r{self.label}: {self.done}/{self.total} ({pct:.0f}%)")
        else:
            sys.stderr.write(f"\r{self.label}: {self.done}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            total = f"/{self.total}" if self.total else ""
            sys.stderr.write(f"\r{self.label}: {self.done}{total}, done.\n")
            sys.stderr.flush()
