"""``git-ml-chunk``: store maintenance — stats, compact, verify, repair, redact, reconstruct, migrate."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer

from git_ml.cli.common import Progress, run_typer
from git_ml.errors import ExitCode

PROG = "git ml chunk"
CTX = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None, no_args_is_help=True,
                  context_settings=CTX,
                  help="Maintain the git-ml store: chunk statistics, compaction, verification, repair, "
                       "redaction with the current rules, reconstruction as plain JSON, and import of a legacy "
                       ".git-ml folder.")

RefOpt = Annotated[str, typer.Option("--ref", help="Which store ref: data (refs/ml/data), local (refs/ml/local) "
                                                   "or all.")]


def _refs(which: str) -> list[str]:
    from git_ml.errors import GitMlError
    from git_ml.store.core import DATA_REF, LOCAL_REF

    table = {"data": [DATA_REF], "local": [LOCAL_REF], "all": [DATA_REF, LOCAL_REF]}
    if which not in table:
        raise GitMlError(f"--ref must be data, local or all, not {which!r}")
    return table[which]


def _repo():
    from git_ml.repo import open_repository

    return open_repository()


def _warn(message: str) -> None:
    sys.stderr.write(message + "\n")


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 100_000 else f"{n:,} B"


@app.command(context_settings=CTX)
def stats(json_out: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
          ref: RefOpt = "all") -> None:
    """Chunks per stream, records, raw and stored bytes, compression ratio, small chunks and what a compaction
    would save (duplicates, superseded versions, deleted records)."""
    from git_ml.store.stats import chunk_stats

    data = chunk_stats(_repo(), refs=_refs(ref))
    if json_out:
        print(json.dumps(data, indent=2))
        return
    print(f"{'stream':<11} {'chunks':>6} {'small':>5} {'records':>8} {'stored':>8} {'raw bytes':>14} "
          f"{'stored bytes':>13} {'ratio':>6} {'dedup saves':>12}")
    for stream, s in data["streams"].items():
        if not s["chunks"]:
            continue
        ratio = f"{s['ratio'] * 100:.1f}%" if s["ratio"] is not None else "-"
        print(f"{stream:<11} {s['chunks']:>6} {s['small_chunks']:>5} {s['records']:>8} {s['records_stored']:>8} "
              f"{s['raw_bytes']:>14,} {s['stored_bytes']:>13,} {ratio:>6} {s['dedup_savings_bytes']:>12,}")
    t = data["total"]
    ratio = f"{t['ratio'] * 100:.1f}%" if t["ratio"] is not None else "-"
    print(f"{'total':<11} {t['chunks']:>6} {t['small_chunks']:>5} {t['records']:>8} {t['records_stored']:>8} "
          f"{t['raw_bytes']:>14,} {t['stored_bytes']:>13,} {ratio:>6} {t['dedup_savings_bytes']:>12,}")
    print(f"(records: live after dedup and tombstones; stored: lines in chunks; ratio includes "
          f"{t['tree_bytes']:,} bytes of trees; small = under {data['small_chunk_bytes'] >> 10} KiB stored; "
          f"auto-compaction past {data['auto_compact']} small chunks)")
    if t["corrupt_chunks"]:
        print(f"{t['corrupt_chunks']} corrupt chunks: run `git ml chunk verify`")


@app.command(context_settings=CTX)
def compact(
    chunk_size: Annotated[Optional[str], typer.Option(
        "--chunk-size", metavar="BYTES",
        help="Raw bytes per chunk (suffixes k, m). Default: git config ml.chunkSize, else 32m.")] = None,
    best: Annotated[bool, typer.Option("--best", help="Slower, tighter compression (zstd level 16: about 16x the time).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n", help="Say what would change; write nothing.")] = False,
    ref: RefOpt = "all",
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per ref.")] = False,
) -> None:
    """Merge chunks into chunks of the target size, dropping duplicate records, superseded versions and records
    deleted by a tombstone (tombstones stay). Records keep their capture order. Each ref is rewritten with one atomic
    update as a new root commit, so the old chunks become unreachable once the reflog expires (`git reflog
    refs/ml/data` says what was done). Copies already pushed elsewhere go only when those clones sync and compact.
    Runs by itself, merging only small chunks, when an append finds more than `git config ml.autoCompact` (64)
    small chunks; 0 turns that off."""
    from git_ml.store.compact import compact as run_compact

    size = _parse_size(chunk_size) if chunk_size else None
    repo = _repo()
    progress = Progress("reading chunks")
    results = run_compact(repo, refs=_refs(ref), chunk_size=size, best=best, dry_run=dry_run, warn=_warn,
                          progress=lambda _c: progress.advance())
    if progress.done:
        progress.close()
    for r in results:
        t = r.totals()
        if json_out:
            print(json.dumps({"ref": r.ref, "changed": r.changed, "dry_run": dry_run, "seconds": round(r.seconds, 3),
                              "old_tip": str(r.old_tip) if r.old_tip else None,
                              "new_tip": str(r.new_tip) if r.new_tip else None, **t,
                              "streams": {s: vars(v) for s, v in r.streams.items()}}))
            continue
        if r.old_tip is None:
            continue
        verb = "would compact" if dry_run else ("compacted" if r.changed else "already compact")
        print(f"{r.ref}: {verb}: {t['chunks_before']} chunks -> {t['chunks_after']}, "
              f"{t['records_before']} records -> {t['records_after']} (dropped {t['duplicates']} duplicates, "
              f"{t['superseded']} superseded, {t['hidden']} deleted); stored {_mb(t['stored_before'])} -> "
              f"{_mb(t['stored_after'])} in {r.seconds:.1f}s")


def _parse_size(text: str) -> int:
    from git_ml.errors import GitMlError

    t = text.strip().lower()
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(t[-1:], 1)
    digits = t[:-1] if t[-1:] in "kmg" else t
    if not digits.isdigit() or int(digits) == 0:
        raise GitMlError(f"--chunk-size: not a size: {text!r}")
    return int(digits) * mult


@app.command(context_settings=CTX)
def verify(ref: RefOpt = "all",
           json_out: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False) -> None:
    """Decode every chunk: name against content (hash and record count), layout, every record against its schema.
    Lists corrupt or unreadable chunks by path and exits 1 if there is any."""
    from git_ml.store.repair import verify as run_verify

    progress = Progress("verifying chunks")
    report = run_verify(_repo(), refs=_refs(ref), progress=lambda _c: progress.advance())
    if progress.done:
        progress.close()
    if json_out:
        print(json.dumps({"ok": report.ok, "chunks": report.chunks, "records": report.records,
                          "problems": [vars(p) for p in report.problems], "warnings": report.warnings}))
    else:
        for w in report.warnings:
            print(f"warning: {w}", file=sys.stderr)
        for p in report.problems:
            n = f"{p.records} records" if p.records is not None else "unknown number of records"
            print(f"corrupt: {p.ref} {p.path} ({n}): {p.detail}")
        if report.ok:
            print(f"ok: {report.chunks} chunks, {report.records} records")
        else:
            print(f"{len(report.problems)} corrupt chunks of {report.chunks}: `git ml chunk repair` removes them "
                  "and says which records are lost")
    if not report.ok:
        raise typer.Exit(ExitCode.ERROR)


@app.command(context_settings=CTX)
def repair(
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n", help="Say what would be dropped; write nothing.")] = False,
    tombstone: Annotated[bool, typer.Option(
        "--tombstone", help="Also append tombstones for the lost records whose ids are known, so that copies other "
                            "clones hold are deleted too. Off by default: `git ml sync` can bring them back.")] = False,
    ref: RefOpt = "all",
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Drop the chunks `verify` reports (one atomic update per ref), keeping every record that still decodes, and
    say exactly which records were lost: their ids where a line still shows one, else the count from the chunk's
    name. Also removes ref lock files older than 30 s, which a writer killed inside its ref update leaves behind."""
    from git_ml.store.repair import repair as run_repair

    result = run_repair(_repo(), refs=_refs(ref), tombstone=tombstone, dry_run=dry_run)
    if json_out:
        print(json.dumps({"dry_run": dry_run, "tombstones": result.tombstones, "locks_removed": result.locks_removed,
                          "chunks": [{**vars(s), "lost": s.lost} for s in result.salvaged]}))
        return
    for lock in result.locks_removed:
        print(f"{'would remove' if dry_run else 'removed'} stale lock {lock} (left by a writer that was killed)")
    if not result.salvaged:
        print("nothing to repair: every chunk decodes")
        return
    verb = "would drop" if dry_run else "dropped"
    for s in result.salvaged:
        print(f"{verb} {s.ref} {s.path}: {s.detail}")
        if s.kept:
            print(f"  kept {s.kept} records that still decode (stored again in a sound chunk)")
        if s.recovered_elsewhere:
            print(f"  {len(s.recovered_elsewhere)} records also held by another chunk: not lost")
        if s.lost_ids:
            print(f"  lost {len(s.lost_ids)} records: {' '.join(s.lost_ids)}")
        if s.lost_unknown:
            print(f"  lost {s.lost_unknown} records whose ids cannot be read (count from the chunk's name)")
        if not s.lost:
            print("  no record lost")
    lost = sum(s.lost for s in result.salvaged)
    print(f"{'would lose' if dry_run else 'lost'} {lost} records in total"
          + (f"; {result.tombstones} tombstones appended" if result.tombstones else "")
          + ("; another clone may still hold them: `git ml sync` brings them back" if lost else ""))


PUSHED_NOTE = ("Copies already pushed keep the old versions until the clones and remotes that hold them receive the "
               "new ones (`git ml sync`) and compact (`git ml chunk compact`); rotate any secret that was pushed.")


@app.command(context_settings=CTX)
def redact(
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n", help="Count what would change; write nothing.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Run the current redaction rules again over every record of the store, for data captured before a rule
    existed: messages, prompts, responses, the diff hunks of refs/ml/local, file paths, branch and tool names. A
    record that changes gets a new version with a later capture time, which every reader then returns, and the refs
    are compacted, which drops the old versions (one atomic update per ref). The old chunks stay in this
    repository's reflog and objects until they expire (`git reflog expire --expire=now refs/ml/data refs/ml/local`
    and `git gc --prune=now` remove them now). Copies already pushed go only when those clones sync and compact."""
    from git_ml.store.core import Store
    from git_ml.store.reredact import reredact

    progress = Progress("records")
    report = reredact(Store(_repo(), warn=_warn), dry_run=dry_run, warn=_warn, progress=progress.advance)
    if progress.done:
        progress.close()
    if json_out:
        print(json.dumps({"dry_run": dry_run, "checked": report.checked, "changed": report.changed,
                          "found": report.found, "refs": report.refs}))
        return
    checked = sum(report.checked.values())
    if not report.total_changed:
        print(f"checked {checked} records: nothing new to redact")
        return
    what = ", ".join(f"{n} {s}" for s, n in report.changed.items())
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.found.items()))
    if dry_run:
        print(f"checked {checked} records: would store redacted versions of {what} ({kinds})")
        return
    print(f"checked {checked} records: stored redacted versions of {what} ({kinds}); compacted "
          f"{' and '.join(report.refs)}, so the old versions are gone from the refs")
    print("the old chunks stay in this repository until the reflog expires: `git reflog expire --expire=now "
          "refs/ml/data refs/ml/local && git gc --prune=now` removes them now")
    print(PUSHED_NOTE)


@app.command(context_settings=CTX)
def reconstruct(
    output: Annotated[str, typer.Option("--output", "-o", metavar="DIR", help="Directory to write into.")],
    streams: Annotated[Optional[list[str]], typer.Option("--stream", help="Only this stream (repeatable).")] = None,
    no_files: Annotated[bool, typer.Option("--no-files", help="Only DIR/<stream>.jsonl, no file per record.")] = False,
) -> None:
    """Write every live record back out as plain JSON: DIR/<stream>.jsonl (the stored lines, in capture order)
    and DIR/<stream>/<id>.json, one indented file per record."""
    from pathlib import Path

    from git_ml.store.reconstruct import reconstruct as run_reconstruct

    counts = run_reconstruct(_repo(), Path(output), streams=streams or None, files=not no_files, warn=_warn)
    written = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no records"
    print(f"wrote {written} to {output}")


@app.command(context_settings=CTX)
def migrate(
    path: Annotated[Optional[str], typer.Argument(metavar="[PATH]", help="The legacy folder (default: .git-ml at "
                                                                          "the top of the work tree).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n", help="Read and map, store nothing.")] = False,
) -> None:
    """Import the .git-ml/ folder of the system git-ml replaces: tracked/*.jsonl, tracked/chunked/*.jsonl (records
    over 5 KB zlib+base64-compressed), chats/YYYY-MM-DD/*.json and commits/*.json (with diffs, which go to
    refs/ml/local). Text is redacted. Run it after `git ml capture --backfill`: chats and links attach to the
    commits already captured (a captured commit gains only what it lacks); related chats become link records;
    orchestration runs keep their task, agents and session. Records already in the store are skipped, so running
    it again stores nothing. The old folder is left in place."""
    from git_ml.store.migrate import describe
    from git_ml.store.migrate import migrate as run_migrate

    report = run_migrate(_repo(), path, dry_run=dry_run, warn=_warn)
    for line in describe(report):
        print(line)


def main() -> int:
    return run_typer(PROG, app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
