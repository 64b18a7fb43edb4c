"""``git-ml-stats``: what the store holds."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from git_ml.cli.common import run_typer

PROG = "git ml stats"
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def stats(json_out: Annotated[bool, typer.Option("--json", help="One JSON object: every stream's record count "
                                                 "as a top-level key, the rest under other keys.")] = False,
          top: Annotated[int, typer.Option("--top", metavar="N", min=0,
                                           help="How many of the most changed files and most used tools.")] = 10
          ) -> None:
    """Counts per stream, chunks, stored bytes, date ranges, top files and tools of the git-ml store.

    --json prints one object: each stream (commits, chats, sessions, feedback, links, rewrites, tombstones, diffs)
    is a top-level key with its record count, 0 when empty; the rest sits under other keys: streams (chunks and
    stored bytes per stream), chunks, stored_bytes, commits_range, ranges (first and last time per stream, and
    of capture), top_files and top_tools ([name, count] pairs), chats_by_assistant (assistant name: chats), ratings (good, neutral, bad, unrated chats),
    linked (commits with chats, chats with commits), refs and corrupt (chunks skipped).
    """
    from git_ml.dataset.stats import store_stats
    from git_ml.repo import open_repository

    data = store_stats(open_repository(), top=top)
    if json_out:
        import json

        print(json.dumps(data, indent=2))
        return
    print(format_stats(data))


def format_stats(data: dict) -> str:
    lines = ["stream       records   chunks   stored bytes"]
    for stream, info in data["streams"].items():
        lines.append(f"{stream:<12} {data[stream]:>7}   {info['chunks']:>6}   {info['stored_bytes']:>12,}")
    lines.append(f"{'total':<12} {sum(data[s] for s in data['streams']):>7}   {data['chunks']:>6}   "
                 f"{data['stored_bytes']:>12,}")
    if data.get("commits_range"):
        first, last = data["commits_range"]
        lines.append(f"commits from {first} to {last}")
    for stream, (first, last) in data.get("ranges", {}).items():
        if stream not in ("commits", "captured"):
            lines.append(f"{stream} from {first} to {last}")
    if data.get("ranges", {}).get("captured"):
        first, last = data["ranges"]["captured"]
        lines.append(f"captured from {first} to {last}")
    if data.get("chats_by_assistant"):
        lines.append("chats by assistant: " + ", ".join(f"{name} {n}" for name, n in data["chats_by_assistant"].items()))
    if data.get("chats"):
        r = data["ratings"]
        lines.append(f"ratings: {r['good']} good, {r['neutral']} neutral, {r['bad']} bad, {r['unrated']} unrated")
    if data.get("links"):
        lk = data["linked"]
        lines.append(f"linked: {lk['commits_with_chats']} commits with chats, {lk['chats_with_commits']} chats "
                     "with commits")
    for key, title in (("top_files", "most changed files"), ("top_tools", "most used tools")):
        if data.get(key):
            lines.append(f"{title}:")
            lines += [f"  {n:>7}  {name}" for name, n in data[key]]
    for path, count, detail in data.get("corrupt", []):
        lines.append(f"corrupt chunk skipped: {path} ({count} records)")
    return "\n".join(lines)


def main() -> int:
    return run_typer(PROG, app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
