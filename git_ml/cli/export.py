"""``git-ml-export``: the store as training data (JSONL, CSV, Parquet, Hugging Face dataset directory)."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from git_ml.cli.common import run_typer

PROG = "git ml export"
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)

_SUFFIX_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def export(
    output: Annotated[str, typer.Option("--output", "-o", metavar="PATH",
                                        help="Where to write: a file, a directory for --format hf or dataset, "
                                             "or - for standard output (jsonl, csv, agent-trace).")],
    fmt: Annotated[Optional[str], typer.Option("--format", "-f", metavar="FORMAT",
                                               help="jsonl, csv, parquet, hf (or huggingface: a Hugging Face "
                                                    "dataset directory), dataset (this repository's rows in a "
                                                    "shared hive-partitioned Parquet dataset, updated "
                                                    "incrementally) or agent-trace (Agent Trace 0.1 records, one "
                                                    "JSON line per commit with assistant chats). Default: from "
                                                    "the output's suffix, else jsonl.")] = None,
    repo_id: Annotated[Optional[str], typer.Option("--repo-id", metavar="ID",
                                                   help="This repository's id in a --format dataset export "
                                                        "(default: git config ml.datasetRepo, else the origin "
                                                        "URL without credentials, else the directory name).")]
    = None,
    style: Annotated[str, typer.Option("--style", metavar="STYLE",
                                       help="records (input/output/context rows) or messages (chat-format rows: "
                                            "user then assistant).")] = "records",
    types: Annotated[Optional[list[str]], typer.Option("--type", "-t", metavar="TYPE",
                                                       help="chat or commit (repeat or comma-separate); "
                                                            "default both.")] = None,
    since: Annotated[Optional[str], typer.Option("--since", metavar="WHEN",
                                                 help="Only rows at or after WHEN: 2026-01-31, an ISO-8601 time, "
                                                      "@UNIXTIME or an age such as 90d.")] = None,
    until: Annotated[Optional[str], typer.Option("--until", metavar="WHEN",
                                                 help="Only rows before WHEN (a date includes that whole day).")]
    = None,
    min_rating: Annotated[Optional[str], typer.Option("--min-rating", metavar="RATING",
                                                      help="Only rows rated at least bad|neutral|good (unrated "
                                                           "rows, commits included, count as neutral).")] = None,
    exclude_unrated: Annotated[bool, typer.Option("--exclude-unrated",
                                                  help="Leave out rows without feedback (every commit).")] = False,
    include_diffs: Annotated[bool, typer.Option("--include-diffs",
                                                help="Add each commit's diff hunks from refs/ml/local "
                                                     "(context.diff). They never leave the machine otherwise: "
                                                     "check the data before sharing it.")] = False,
    split: Annotated[Optional[str], typer.Option("--split", metavar="SPEC",
                                                 help="Time split, oldest first, e.g. train=0.9,test=0.1: every "
                                                      "row of a later split is strictly later. One file per "
                                                      "split (NAME.SPLIT.EXT) or one Parquet set per split (hf).")]
    = None,
    no_dedup: Annotated[bool, typer.Option("--no-dedup",
                                           help="Keep identical input/output pairs (default: the earliest "
                                                "only).")] = False,
    weights: Annotated[Optional[str], typer.Option("--weights", metavar="SPEC",
                                                   help="Row weights per rating, e.g. good=1,neutral=0.5,"
                                                        "unrated=0.5,bad=0 (default from git config "
                                                        "ml.weight.<rating>, else these values).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", metavar="N", min=0, max=2,
                                      help="Processes reading the store: 1, or 2 (a forked worker takes half of "
                                           "the chunks of a large store). Default 0: 2 on Linux with 2 or more "
                                           "cores. The output is the same either way.")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON summary instead of text.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary, no progress.")] = False,
) -> None:
    """Write the captured chats and commits as a training dataset.

    Each row: type (chat or commit), id, timestamp (ISO-8601 UTC), input (the query, or the commit message),
    output (the response, or a change summary), context (files, tools_used, linked commits or chats, ...),
    session_id, rating and weight (from `git ml feedback`: good 1.0, neutral or unrated 0.5, bad 0.0 by default).
    Tombstoned records are left out, and so are rows with an empty input or output. Records are read chunk by
    chunk through a spill file, so memory stays small, and every output is written to a temporary file renamed
    into place at the end.

    Parquet and hf need pyarrow (pip install 'git-ml[export]').
    """
    from pathlib import Path

    from git_ml.cli.common import Progress
    from git_ml.dataset.export.options import (
        ExportOptions,
        parse_format,
        parse_split,
        parse_types,
        parse_weights,
        parse_when,
    )
    from git_ml.dataset.export.run import export as run_export
    from git_ml.errors import GitMlError
    from git_ml.repo import open_repository

    if fmt is None:
        if output == "-":
            fmt = "jsonl"
        else:
            p = Path(output)
            fmt = _SUFFIX_FORMATS.get(p.suffix.lower()) or ("hf" if p.is_dir() or not p.suffix else None)
            if fmt is None:
                raise GitMlError(f"cannot tell the format from {output!r}: add --format jsonl|csv|parquet|hf")
    fmt = parse_format(fmt)
    repo = open_repository()
    opts = ExportOptions(fmt=fmt, style=style.lower(), types=parse_types(types), since=parse_when(since),
                         until=parse_when(until, end=True), min_rating=min_rating.lower() if min_rating else None,
                         exclude_unrated=exclude_unrated, include_diffs=include_diffs, splits=parse_split(split),
                         dedup=not no_dedup, weights=parse_weights(weights, repo), jobs=jobs)
    progress = None if quiet or json_out else (lambda label, total: Progress(label, total))
    result = run_export(repo, output, opts, progress=progress, repo_id=repo_id)
    if json_out:
        import json

        print(json.dumps(result.as_dict(), indent=2))
        return
    if quiet:
        return
    err = sys.stderr
    for split, counts in result.counts.items():
        err.write(f"{split}: {counts['chat'] + counts['commit']} rows ({counts['chat']} chats, "
                  f"{counts['commit']} commits)\n")
    if result.skipped:
        err.write("left out: " + ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in
                                           sorted(result.skipped.items())) + "\n")
    if result.dataset is not None:
        d = result.dataset
        if not d["written"] and not d["deleted"]:
            err.write(f"{d['repo']}: nothing new in {', '.join(result.outputs)} ({result.rows} rows)\n")
        else:
            err.write(f"{d['repo']}: {d['added']} rows added, {d['replaced']} replaced, {d['removed']} removed; "
                      f"{len(d['written'])} part files written, {len(d['deleted'])} removed in "
                      f"{', '.join(result.outputs)}\n")
    elif output != "-":
        err.write(f"wrote {result.rows} rows to {', '.join(result.outputs)}\n")


def main() -> int:
    return run_typer(PROG, app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
