"""``export``: the store of a repository as training data, in bounded memory.

1. **Read** (``collect``): every record version becomes its row at once, encoded into a spill file; memory keeps
   one small entry per id (its current version's).
2. **Select** (``select``): filters, time order, dedup, time splits.
3. **Write** (``write``, or the dataset and Agent Trace writers): the selected rows in time order, to temporary
   files renamed into place at the end.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from git_ml.dataset.export import records as R
from git_ml.dataset.export.collect import Cand, collect
from git_ml.dataset.export.options import FORMATS, STYLES, ExportOptions, parse_weights
from git_ml.dataset.export.select import select
from git_ml.dataset.export.spill import Spill
from git_ml.dataset.export.write import check_hf_target, lines, remove_temps, write_files, write_hf, write_stream
from git_ml.errors import GitMlError
from git_ml.store.core import DATA_REF, Store


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


def export(repo, output: str, opts: ExportOptions, *, progress: Callable[[str, int | None], object] | None = None,
           warn=None, repo_id: str | None = None) -> ExportResult:
    """Export the store of ``repo`` to ``output`` (``-``: standard output, JSONL or CSV without splits).
    ``repo_id``: the repository's id in a ``dataset`` export (default: ``ml.datasetRepo``, the origin, the
    directory name)."""
    # The pass creates millions of small acyclic objects: the cyclic collector would rescan them all, again and
    # again (it tripled the time on git.git). Nothing here makes cycles, so it waits until the end.
    enabled = gc.isenabled()
    gc.disable()
    try:
        check_options(opts, output)
        if opts.fmt == "dataset":
            from git_ml.dataset.export.hive import export_dataset

            return export_dataset(repo, output, opts, progress=progress, warn=warn, repo_id=repo_id)
        if opts.fmt == "agent-trace":
            from git_ml.dataset.export.trace import export_agent_trace

            return export_agent_trace(repo, output, opts, progress=progress, warn=warn)
        return _export(repo, output, opts, progress=progress, warn=warn)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        raise GitMlError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        if enabled:
            gc.enable()


def check_options(opts: ExportOptions, output: str) -> None:
    if opts.fmt not in FORMATS:
        raise GitMlError(f"unknown format {opts.fmt!r}: expected one of {', '.join(FORMATS)}")
    if opts.style not in STYLES:
        raise GitMlError(f"unknown style {opts.style!r}: expected records or messages")
    if opts.min_rating is not None and opts.min_rating not in R.RANK:
        raise GitMlError(f"--min-rating must be bad, neutral or good (not {opts.min_rating!r})")
    if opts.since is not None and opts.until is not None and opts.since >= opts.until:
        raise GitMlError("--since must be earlier than --until")
    if output == "-" and (opts.fmt not in ("jsonl", "csv") or (opts.splits and len(opts.splits) > 1)):
        raise GitMlError("--output - (standard output) takes jsonl or csv without --split")
    if opts.fmt in ("dataset", "agent-trace") and opts.splits and len(opts.splits) > 1:
        raise GitMlError(f"--split does not apply to --format {opts.fmt}")
    if opts.fmt in ("parquet", "hf", "dataset"):
        # Checked now, imported after the reading pass (which may fork: no Arrow threads may exist by then).
        from git_ml.dataset.export.writers import check_pyarrow

        check_pyarrow()


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


def _export(repo, output: str, opts: ExportOptions, *, progress, warn) -> ExportResult:
    out_path = check_output(output, opts)
    weights = weights_of(repo, opts)
    result = ExportResult()
    temps: list[Path] = []
    directory = str(out_path.resolve().parent) if out_path is not None else None
    try:
        with Selection(repo, opts, directory, result, progress=progress, warn=warn) as sel:
            sel.run(weights)
            schema = None
            if opts.fmt in ("parquet", "hf"):
                from git_ml.dataset.export.writers import require_pyarrow

                require_pyarrow()
                schema = R.arrow_schema(opts.style)
            wbar = progress("export: writing", result.rows or None) if progress else None
            advance = wbar.advance if wbar else (lambda n: None)
            if out_path is None:
                write_stream(sys.stdout.buffer, opts, sel.lines(next(iter(sel.rows.values())), advance))
                sys.stdout.buffer.flush()
                result.outputs = ["-"]
            elif opts.fmt == "hf":
                result.outputs = [str(write_hf(out_path, opts, schema, sel.rows, sel.spills, advance,
                                               _card_info(sel.store), result.counts, temps))]
            else:
                result.outputs = write_files(out_path, opts, schema, sel.rows, sel.spills, advance, temps)
            if wbar:
                wbar.close()
    finally:
        remove_temps(temps)
    return result


def _card_info(store: Store) -> dict:
    from git_ml.schema import now_iso

    tip = store.tip(DATA_REF)
    return {"exported_at": now_iso()[:19] + "Z", "data_tip": str(tip) if tip else None}
