"""Domain errors. Commands catch these at the edge and print one line; nothing else is expected to escape."""


class GitMlError(Exception):
    """An error the user can act on: printed as one line, exit status 1 (or ``exit_code``)."""

    exit_code = 1


class NotARepository(GitMlError):
    pass


class UnknownRevision(GitMlError):
    pass


class StoreBusy(GitMlError):
    """The store's ref could not be locked within the time allowed."""

    exit_code = 75  # EX_TEMPFAIL


class CorruptChunk(GitMlError):
    def __init__(self, path: str, detail: str, records: int | None = None):
        self.path = path
        self.detail = detail
        self.records = records
        super().__init__(f"corrupt chunk {path}: {detail}")
