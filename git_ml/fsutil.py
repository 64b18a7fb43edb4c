"""Files that are whole or absent: write to a temporary name beside the target, then rename over it."""

from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: str | os.PathLike, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically (readers see the old or the new file, never a part)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.git-ml-tmp.{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
