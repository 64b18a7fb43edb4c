"""Domain errors and the one exit-code table. Commands catch errors at the edge (``cli/common.py``) and print one
line; nothing else is expected to escape."""

from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit status a git-ml executable returns. Nothing else in the code base writes a number."""

    OK = 0
    ERROR = 1  # a domain error the user can act on (one line), or a check that found something to fix
    USAGE = 2  # a bad command line: unknown option, malformed value, missing argument
    INTERNAL = 3  # a bug: one line on stderr, the traceback in .git/ml/crash.log
    REFUSED = 4  # a hook refuses the operation: pre-push of refs/ml/local (a team hook blocks on this status only)
    TEMPFAIL = 75  # EX_TEMPFAIL: the store's ref stayed locked; trying again later works
    CANNOT_RUN = 126  # the dispatcher found a verb's executable but could not run it (as the shell says)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as the shell says)


class GitMlError(Exception):
    """An error the user can act on: printed as one line, exit status ``exit_code``."""

    exit_code = ExitCode.ERROR


class UsageError(GitMlError):
    """The command line itself is wrong (an option's value, a combination of options)."""

    exit_code = ExitCode.USAGE


class NotARepository(GitMlError):
    pass


class UnknownRevision(GitMlError):
    pass


class StoreBusy(GitMlError):
    """The store's ref could not be locked within the time allowed."""

    exit_code = ExitCode.TEMPFAIL


class CorruptChunk(GitMlError):
    def __init__(self, path: str, detail: str, records: int | None = None):
        self.path = path
        self.detail = detail
        self.records = records
        super().__init__(f"corrupt chunk {path}: {detail}")
