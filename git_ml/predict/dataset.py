"""Read the shared recorded histories (``*.history.jsonl.zst``) as ``Commit`` records, oldest first."""

from __future__ import annotations

from pathlib import Path

import msgspec

from git_ml.schema import Commit


class _Line(msgspec.Struct):
    id: str
    message: str = ""
    author: str = ""
    time: int = 0
    parents: list[str] = []
    files: list[tuple[str, str, int | None, int | None, str | None]] = []


def load_history(path: str | Path, limit: int | None = None) -> list[Commit]:
    """Commits of a recorded history: the dataset's ``author`` (a hash of the email) becomes ``author_email``."""
    import zstandard

    raw = Path(path).read_bytes()
    data = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    lines = msgspec.json.Decoder(_Line).decode_lines(data)
    if limit is not None:
        lines = lines[:limit]
    return [
        Commit(id=x.id, message=x.message, author_email=x.author, time=x.time, parents=x.parents,
               is_merge=len(x.parents) > 1, files=x.files, files_changed=len(x.files))
        for x in lines
    ]


def shared_datasets() -> Path:
    """Where the shared datasets live relative to this checkout (``<work>/shared/datasets``)."""
    return Path(__file__).resolve().parents[3] / "shared" / "datasets"
