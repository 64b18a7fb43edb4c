"""Output formats. Every writer takes the rows as their encoded JSON lines (what the spill file holds), so JSONL is
a copy, Parquet goes through Arrow's JSON reader in bounded batches, and CSV decodes one row at a time."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from git_ml.errors import GitMlError

PARQUET_BATCH = 8 << 20  # bytes of JSON rows per Arrow batch and Parquet row group (bounded memory)
CSV_RECORD_COLUMNS = ["type", "id", "timestamp", "session_id", "rating", "weight", "input", "output", "context"]
CSV_MESSAGES_COLUMNS = ["type", "id", "timestamp", "session_id", "rating", "weight", "model", "query_tokens",
                        "response_tokens", "cache_read_tokens", "cache_creation_tokens", "cost_usd", "messages"]


_MISSING = "Parquet and Hugging Face exports need pyarrow: pip install 'git-ml[export]'"


def check_pyarrow() -> None:
    """Fail early, without importing it, when pyarrow is not installed."""
    import importlib.util

    try:
        found = importlib.util.find_spec("pyarrow") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise GitMlError(_MISSING)


def require_pyarrow():
    try:
        import pyarrow  # noqa: F401
        import pyarrow.json  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise GitMlError(_MISSING) from None
    return pyarrow


def write_jsonl(fh, lines: Iterable[bytes]) -> int:
    n = 0
    buf: list[bytes] = []
    size = 0
    for line in lines:
        buf.append(line)
        size += len(line)
        n += 1
        if size >= 1 << 20:
            fh.write(b"\n".join(buf) + b"\n")
            buf, size = [], 0
    if buf:
        fh.write(b"\n".join(buf) + b"\n")
    return n


def write_csv(fh, style: str, lines: Iterable[bytes]) -> int:
    """One row per line; nested values (context, messages) as JSON text in their cell."""
    text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
    columns = CSV_MESSAGES_COLUMNS if style == "messages" else CSV_RECORD_COLUMNS
    nested = "messages" if style == "messages" else "context"
    writer = csv.writer(text)
    writer.writerow(columns)
    n = 0
    for line in lines:
        row = json.loads(line)
        row[nested] = json.dumps(row[nested], ensure_ascii=False, separators=(",", ":"))
        writer.writerow(["" if row[c] is None else row[c] for c in columns])
        n += 1
    text.flush()
    text.detach()
    return n


def _batches(lines: Iterable[bytes], limit: int = PARQUET_BATCH) -> Iterator[tuple[bytes, int]]:
    buf: list[bytes] = []
    size = 0
    longest = 0
    for line in lines:
        buf.append(line)
        size += len(line) + 1
        longest = max(longest, len(line) + 1)
        if size >= limit:
            yield b"\n".join(buf) + b"\n", longest
            buf, size, longest = [], 0, 0
    if buf:
        yield b"\n".join(buf) + b"\n", longest


def write_parquet(path: str, schema, lines: Iterable[bytes], constants: list | None = None) -> int:
    """Rows to one Parquet file (zstd), read batch by batch with Arrow's JSON reader against the fixed schema.
    ``constants``: [(pyarrow field, value)] columns put first, the same value in every row."""
    import pyarrow as pa
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    parse = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    constants = constants or []
    full = pa.schema([f for f, _v in constants] + list(schema))
    n = 0
    with pq.ParquetWriter(path, full, compression="zstd") as writer:
        for data, longest in _batches(lines):
            block = max(1 << 20, longest + 1)
            table = pajson.read_json(pa.BufferReader(data), parse_options=parse,
                                     read_options=pajson.ReadOptions(block_size=block))
            table = table.select(schema.names).cast(schema)
            for i, (f, value) in enumerate(constants):
                table = table.add_column(i, f, pa.array([value] * table.num_rows, f.type))
            writer.write_table(table)
            n += table.num_rows
        if n == 0:
            writer.write_table(full.empty_table())
    return n
