"""``export``: the store of a repository as training data, in bounded memory.

1. **Read** (``collect``): every record version becomes its row at once, encoded into a spill file; memory keeps
   one small entry per id (its current version's).
2. **Select** (``select``): filters, time order, dedup, time splits.
3. **Write** (``write``, or the dataset and Agent Trace writers): the selected rows in time order, to temporary
   files renamed into place at the end.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from pathlib import Path

from git_ml.dataset.export import records as R
from git_ml.dataset.export.options import FORMATS, STYLES, ExportOptions
from git_ml.dataset.export.selection import ExportResult, Selection, check_output, weights_of
from git_ml.dataset.export.write import remove_temps, write_files, write_hf, write_stream
from git_ml.errors import GitMlError
from git_ml.store.core import DATA_REF, Store

__all__ = ["ExportResult", "export"]


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
    if output == "-" and (opts.fmt not in ("jsonl", "csv", "agent-trace") or (opts.splits and len(opts.splits) > 1)):
        raise GitMlError("--output - (standard output) takes jsonl, csv or agent-trace without --split")
    if opts.fmt in ("dataset", "agent-trace") and opts.splits and len(opts.splits) > 1:
        raise GitMlError(f"--split does not apply to --format {opts.fmt}")
    if opts.fmt in ("parquet", "hf", "dataset"):
        # Checked now, imported after the reading pass (which may fork: no Arrow threads may exist by then).
        from git_ml.dataset.export.writers import check_pyarrow

        check_pyarrow()


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
