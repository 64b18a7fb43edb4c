"""The spill file: encoded rows in a temporary file on disk, read back by (offset, length).

Export turns every record version into its row at once and keeps only a small entry per id in memory; the rows
themselves wait here until the write phase reads the selected ones back in time order.
"""

from __future__ import annotations

import mmap
import tempfile


class Spill:
    """Encoded rows in a temporary file, read back by (offset, length) through a memory map. The map's pages are
    given back every ``DROP_BYTES`` read (madvise), so the rows never pile up in the process's memory."""

    DROP_BYTES = 8 << 20

    def __init__(self, directory: str | None = None):
        self.directory = directory
        self._fh = tempfile.TemporaryFile(dir=directory, prefix=".git-ml-export-")
        self.size = 0
        self._map = None
        self._read = 0

    def add(self, data: bytes) -> int:
        off = self.size
        self._fh.write(data)
        self.size += len(data)
        return off

    def flush(self) -> None:
        """Write Python's buffer through to the file (before a fork, and before another process reads it)."""
        self._fh.flush()

    def get(self, off: int, n: int) -> bytes:
        m = self._map
        if m is None or off + n > len(m):
            self._remap()
            m = self._map
        self._read += n
        if self._read >= self.DROP_BYTES:
            self._read = 0
            if hasattr(m, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
                m.madvise(mmap.MADV_DONTNEED)
        return m[off:off + n]

    def _remap(self) -> None:
        if self._map is not None and not isinstance(self._map, bytes):
            self._map.close()
        self._fh.flush()
        self._map = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ) if self.size else b""

    def close(self) -> None:
        if self._map is not None and not isinstance(self._map, bytes):
            self._map.close()
        self._fh.close()
