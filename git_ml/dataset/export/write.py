"""The write phase of an export: the selected rows, read back from the spill files in time order, to temporary
files beside the output, renamed into place at the end (a crash leaves the previous output untouched)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from git_ml.dataset.export.collect import Cand
from git_ml.dataset.export.options import ExportOptions
from git_ml.dataset.export.spill import Spill
from git_ml.errors import GitMlError

SHARD_BYTES = 256 << 20  # JSON bytes of rows per Parquet shard of a Hugging Face export
HF_MARKER = "# git-ml export"
# Names that say "a file": --format hf writes a directory, and one named dataset.json would mislead.
FILE_SUFFIXES = {".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".parquet", ".arrow", ".txt", ".gz", ".zst", ".zip"}


def split_path(output: Path, split: str, many: bool) -> Path:
    if not many:
        return output
    suffix = "".join(output.suffixes[-1:])
    stem = output.name[: len(output.name) - len(suffix)] if suffix else output.name
    return output.with_name(f"{stem}.{split}{suffix}")


def temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def check_hf_target(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise GitMlError(f"{path} exists and is not a directory")
    if not path.exists() and path.suffix.lower() in FILE_SUFFIXES:
        raise GitMlError(f"--format hf writes a directory, and {path.name} names a file: choose a directory "
                         f"name such as {path.stem or 'dataset'}/")
    if path.is_dir() and any(path.iterdir()):
        readme = path / "README.md"
        try:
            ours = HF_MARKER in readme.read_text(encoding="utf-8", errors="replace")
        except OSError:
            ours = False
        if not ours:
            raise GitMlError(f"{path} is not empty and not a git-ml export: choose another --output")


def lines(spills: list[Spill], rows: list[Cand], advance) -> Iterator[bytes]:
    """The encoded rows of ``rows``, in order, from the spill that holds each."""
    if len(spills) == 1:
        get = spills[0].get
        for c in rows:
            advance(1)
            yield get(c.off, c.n)
        return
    for c in rows:
        advance(1)
        yield spills[c.src].get(c.off, c.n)


def write_stream(fh, opts: ExportOptions, rows: Iterator[bytes]) -> int:
    """JSONL or CSV rows to an open binary file."""
    from git_ml.dataset.export.writers import write_csv, write_jsonl

    if opts.fmt == "csv":
        return write_csv(fh, opts.style, rows)
    return write_jsonl(fh, rows)


def write_files(out_path: Path, opts: ExportOptions, schema, chosen: dict[str, list[Cand]], spills: list[Spill],
                advance, temps: list[Path]) -> list[str]:
    """One file per split (NAME.SPLIT.EXT when there are several), each renamed into place once all are written."""
    many = len(chosen) > 1
    finals = []
    for split, rows in chosen.items():
        final = split_path(out_path, split, many)
        tmp = temp_beside(final)
        temps.append(tmp)
        if opts.fmt == "parquet":
            from git_ml.dataset.export.writers import write_parquet

            write_parquet(str(tmp), schema, lines(spills, rows, advance))
        else:
            # No fsync: the rename makes the new file appear whole or not at all, which is what an export needs
            # (it can be run again); syncing 100 MB would cost more than the export.
            with open(tmp, "wb") as fh:
                write_stream(fh, opts, lines(spills, rows, advance))
        finals.append((tmp, final))
    for tmp, final in finals:
        os.replace(tmp, final)
        temps.remove(tmp)
    return [str(f) for _, f in finals]


def _shards(rows: list[Cand]) -> list[list[Cand]]:
    groups: list[list[Cand]] = [[]]
    size = 0
    for c in rows:
        if size and size + c.n > SHARD_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(c)
        size += c.n
    return groups


def write_hf(out_path: Path, opts: ExportOptions, schema, chosen: dict[str, list[Cand]], spills: list[Spill],
             advance, card_info: dict, counts: dict, temps: list[Path]) -> Path:
    """A directory `datasets.load_dataset` reads: data/<split>-NNNNN-of-NNNNN.parquet and README.md."""
    from git_ml.dataset.export.card import render_card
    from git_ml.dataset.export.writers import write_parquet

    tmp = temp_beside(out_path)
    if tmp.exists():
        shutil.rmtree(tmp)
    temps.append(tmp)
    (tmp / "data").mkdir(parents=True)
    shards: dict[str, list[str]] = {}
    for split, rows in chosen.items():
        groups = _shards(rows)
        names = []
        for i, group in enumerate(groups):
            name = f"data/{split}-{i:05d}-of-{len(groups):05d}.parquet"
            write_parquet(str(tmp / name), schema, lines(spills, group, advance))
            names.append(name)
        shards[split] = names
    card = render_card(schema, opts.style, shards, counts, opts.describe(), card_info)
    (tmp / "README.md").write_text(card, encoding="utf-8")
    old = None
    if out_path.exists():
        old = out_path.with_name(f".{out_path.name}.old-{os.getpid()}")
        os.replace(out_path, old)
    os.replace(tmp, out_path)
    temps.remove(tmp)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out_path


def remove_temps(temps: list[Path]) -> None:
    for tmp in temps:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            try:
                tmp.unlink()
            except OSError:
                pass
