"""What every executable shares: the error edge, stream output, a progress bar that only shows on a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from git_ml.errors import ExitCode, GitMlError


def die(prog: str, message: str, code: int = ExitCode.ERROR) -> int:
    """Print ``prog: message`` as one line on stderr; return ``code``."""
    message = " ".join(str(message).split()) or "error"
    sys.stderr.write(f"{prog}: {message}\n")
    return int(code)


def run_main(prog: str, body: Callable[[], int | None]) -> int:
    """Run ``body`` with the error policy (the exit codes of ``errors.ExitCode``): domain errors one line, Ctrl-C
    130, a bug 3 plus a traceback in .git/ml/crash.log. ``prog`` is how the user named the command:
    ``git ml <verb>``."""
    try:
        return int(body() or ExitCode.OK)
    except GitMlError as exc:
        return die(prog, str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return ExitCode.OK
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return code or ExitCode.OK
        return die(prog, str(code))
    except Exception as exc:  # a bug: keep the traceback in a file, print one line
        path = _write_crash_log(prog)
        where = f" (details in {path})" if path else ""
        return die(prog, f"internal error: {type(exc).__name__}: {exc}{where}", ExitCode.INTERNAL)


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


def run_typer(prog: str, app, args: list[str] | None = None) -> int:
    """Run a typer app (over ``args``, default ``sys.argv[1:]``) under the error policy. A usage error of the CLI
    framework is one line like every other error (``git ml <verb>: no such option: --x (see 'git ml <verb> -h')``,
    exit 2); ``-h``/``--help`` print the help (exit 0)."""
    import typer
    from typer.exceptions import Abort, TyperException

    command = typer.main.get_command(app)
    argv = list(sys.argv[1:] if args is None else args)

    def body() -> int | None:
        try:
            return command.main(args=argv, prog_name=prog, standalone_mode=False)
        except Abort:  # a prompt answered no, or its input closed
            return die(prog, "aborted")
        except TyperException as exc:  # click's ClickException: UsageError, BadParameter, ...
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else prog
            if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
                sys.stdout.write(ctx.get_help() + "\n")  # a group named alone: its help, as git does
                return ExitCode.USAGE
            text = exc.format_message().strip().rstrip(".")
            text = text[:1].lower() + text[1:]
            hint = f" (see '{where} -h')" if getattr(exc, "exit_code", 1) == ExitCode.USAGE else ""
            return die(where, text + hint, getattr(exc, "exit_code", ExitCode.USAGE))

    return run_main(prog, body)


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
