"""The read and select phases of an export as every format uses them (``Selection``), the checks of the output
and weights, and the result an export returns."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from git_ml.dataset.export import records as R
from git_ml.dataset.export.collect import Cand, collect
from git_ml.dataset.export.options import ExportOptions, parse_weights
from git_ml.dataset.export.select import select
from git_ml.dataset.export.spill import Spill
from git_ml.dataset.export.write import check_hf_target, lines
from git_ml.errors import GitMlError
from git_ml.store.core import Store


@dataclass
class ExportResult:
    rows: int = 0
    outputs: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> type -> rows
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> records left out
    corrupt: list = field(default_factory=list)
    dataset: dict | None = None  # --format dataset: what changed (added, replaced, removed rows; files written)

    def as_dict(self) -> dict:
        out = {"rows": self.rows, "outputs": self.outputs, "counts": self.counts, "skipped": self.skipped,
               "corrupt_chunks": [list(c) for c in self.corrupt]}
        if self.dataset is not None:
            out["dataset"] = self.dataset
        return out


def check_output(output: str, opts: ExportOptions) -> Path | None:
    """The output path (None: standard output), refused with one line when it cannot be what the format writes."""
    if output == "-":
        return None
    out_path = Path(output).expanduser()
    parent = out_path.resolve().parent
    if not parent.is_dir():
        raise GitMlError(f"directory {parent} does not exist")
    if opts.fmt == "hf":
        check_hf_target(out_path)
    elif out_path.is_dir():
        raise GitMlError(f"{out_path} is a directory: --format {opts.fmt} writes a file")
    return out_path


def weights_of(repo, opts: ExportOptions) -> dict[str, float]:
    weights = {k: float(v) for k, v in (opts.weights if opts.weights is not None
                                        else parse_weights(None, repo)).items()}
    missing = set(R.DEFAULT_WEIGHTS) - set(weights)
    if missing:
        raise GitMlError(f"weights missing for: {', '.join(sorted(missing))}")
    return weights


class Selection:
    """The read and select phases, shared by every format: ``rows`` (split -> entries in time order) whose encoded
    lines ``lines(rows)`` reads back from the spill files; closed (spills removed) on exit."""

    def __init__(self, repo, opts: ExportOptions, directory: str | None, result: ExportResult, *, progress=None,
                 warn=None):
        self.store = Store(repo, warn=warn) if warn is not None else Store(repo)
        self.opts = opts
        self.spills = [Spill(directory)]
        self.result = result
        self.progress = progress
        self.warn = warn
        self.rows: dict[str, list[Cand]] = {}

    def __enter__(self) -> Selection:
        return self

    def __exit__(self, *exc) -> None:
        for spill in self.spills:
            spill.close()

    def run(self, weights: dict[str, float]) -> Selection:
        opts, store, result, progress = self.opts, self.store, self.result, self.progress
        total = 0
        for kind, stream in (("chat", "chats"), ("commit", "commits")):
            if kind in opts.types:
                total += sum(c.count or 0 for c in store.iter_chunks(stream))
        bar = progress("export: reading", total or None) if progress else None
        jobs = opts.jobs if opts.jobs > 0 else min(2, os.cpu_count() or 1)
        cands = collect(store, opts, self.spills, weights, bar.advance if bar else (lambda n: None), jobs=jobs,
                        warn=self.warn)
        if bar:
            bar.close()
        self.rows = select(cands, opts, result.skipped)
        del cands
        for split, rows in self.rows.items():
            counts = result.counts.setdefault(split, {"chat": 0, "commit": 0})
            for c in rows:
                counts[c.kind] += 1
        result.rows = sum(len(rows) for rows in self.rows.values())
        result.corrupt = list(store.report.corrupt)
        return self

    def lines(self, rows: list[Cand], advance=lambda n: None):
        return lines(self.spills, rows, advance)
