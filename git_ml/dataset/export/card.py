"""The dataset card (README.md) of a Hugging Face export: YAML front matter that `datasets.load_dataset(PATH)`
reads (``configs`` with the Parquet shards of each split, ``dataset_info.features``), then a description of the
fields, the provenance of the data, a licence placeholder and a note on redaction."""

from __future__ import annotations

import json

from git_ml import __version__

_RECORD_FIELDS = """\
| field | type | meaning |
| --- | --- | --- |
| `type` | string | `chat` (an exchange with an AI assistant) or `commit` (a git commit) |
| `id` | string | stable record id: `<session>:<prompt uuid>` for a chat, the commit hash for a commit |
| `timestamp` | string | ISO-8601 UTC: the prompt time of a chat, the author date of a commit |
| `input` | string | chat: the user's query; commit: the commit message (the task) |
| `output` | string | chat: the assistant's response; commit: a change summary (totals, one line per file) |
| `context.files` | list of string | chat: files the assistant modified; commit: paths changed |
| `context.tools_used` | list of string | chat: tools used, in order of first use |
| `context.files_referenced` | list of string | chat: files read or mentioned |
| `context.commits` / `context.chats` | list of string | commits a chat produced / chats that produced a commit |
| `context.assistant`, `context.model`, `context.branch` | string | where known |
| `context.insertions`, `context.deletions` | int | commit line counts |
| `context.redactions` | int | secrets replaced by placeholders in this record |
| `context.diff` | string | commit diff hunks (only when exported with `--include-diffs`) |
| `context.query_tokens`, `context.response_tokens` | int | chat: prompt and response tokens; commit: summed over the chats behind it |
| `context.cache_read_tokens`, `context.cache_creation_tokens` | int | prompt-cache tokens where the assistant records them |
| `context.cost_usd` | float | only where the transcript recorded a cost (never estimated) |
| `session_id` | string | assistant session of a chat (or of the chat behind a commit) |
| `rating` | string | `good`, `neutral` or `bad` from `git ml feedback`; null when unrated (commits are unrated) |
| `weight` | float | training weight from the rating |
"""

_MESSAGES_FIELDS = """\
| field | type | meaning |
| --- | --- | --- |
| `messages` | list of {role, content} | a `user` turn then an `assistant` turn: a chat's query and response, or a commit's message (the task) and its change summary (plus diff hunks with `--include-diffs`) |
| `type` | string | `chat` or `commit` |
| `id` | string | stable record id: `<session>:<prompt uuid>` for a chat, the commit hash for a commit |
| `timestamp` | string | ISO-8601 UTC: prompt time of a chat, author date of a commit |
| `session_id` | string | assistant session, where known |
| `rating` | string | `good`, `neutral` or `bad`; null when unrated |
| `weight` | float | training weight from the rating |
| `model` | string | the assistant's model (a commit: of the nearest chat behind it) |
| `query_tokens`, `response_tokens`, `cache_read_tokens`, `cache_creation_tokens` | int | token counts (a commit: summed over its chats) |
| `cost_usd` | float | only where the transcript recorded a cost (never estimated) |
"""


def _feature(name: str, typ, indent: str) -> list[str]:
    out = [f"{indent}- name: {name}"]
    out += _type_lines(typ, indent + "  ")
    return out


def _type_lines(typ, indent: str) -> list[str]:
    import pyarrow as pa

    if pa.types.is_struct(typ):
        lines = [f"{indent}struct:"]
        for f in typ:
            lines += _feature(f.name, f.type, indent)
        return lines
    if pa.types.is_list(typ):
        value = typ.value_type
        if pa.types.is_struct(value):
            lines = [f"{indent}list:"]
            for f in value:
                lines += _feature(f.name, f.type, indent)
            return lines
        return [f"{indent}sequence: {_dtype(value)}"]
    return [f"{indent}dtype: {_dtype(typ)}"]


def _dtype(typ) -> str:
    import pyarrow as pa

    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return "string"
    if pa.types.is_float64(typ):
        return "float64"
    return str(typ)  # int64


def render_card(schema, style: str, splits: dict[str, list[str]], counts: dict[str, dict[str, int]],
                options: dict, provenance: dict) -> str:
    """README.md text. ``splits``: split name -> shard paths relative to the dataset directory."""
    y = ["---", "license: unknown  # placeholder: choose the licence before sharing", "pretty_name: git-ml export",
         "tags:", "- git-ml", "- code", "configs:", "- config_name: default", "  data_files:"]
    for split, shards in splits.items():
        y += [f"  - split: {split}", f"    path: data/{split}-*.parquet"]
    y += ["dataset_info:", "  features:"]
    for f in schema:
        y += _feature(f.name, f.type, "  ")
    y.append("---")
    total = {k: sum(v.get(k, 0) for v in counts.values()) for k in ("chat", "commit")}
    split_lines = "\n".join(
        f"| {s} | {sum(counts.get(s, {}).values())} | {counts.get(s, {}).get('chat', 0)} | "
        f"{counts.get(s, {}).get('commit', 0)} |" for s in splits)
    body = f"""
# git-ml export

Training data recorded by git-ml while people worked in one git repository:
exchanges with AI coding assistants (chats) and the commits made, each as an input/output pair.
{total['chat']} chat rows and {total['commit']} commit rows, {options.get('style', 'records')} style.

Load it with `datasets.load_dataset("<this directory>")`, or read `data/*.parquet` with any Parquet reader.

## Splits

Splits are by time: every row of a later split is strictly later than every row of an earlier one, so a model
evaluated on `test` has not seen its future. Identical input/output pairs were kept once (the earliest).

| split | rows | chats | commits |
| --- | --- | --- | --- |
{split_lines}

## Fields

{_MESSAGES_FIELDS if style == 'messages' else _RECORD_FIELDS}
Weights come from the ratings: by default good 1.0, neutral 0.5, unrated 0.5, bad 0.0 (set with
`git config ml.weight.<good|neutral|unrated|bad> VALUE` or `git ml export --weights`).

## Provenance

- Exported by git-ml {__version__} on {provenance.get('exported_at', '')} from `refs/ml/data` at
  `{provenance.get('data_tip') or 'none'}`{' and `refs/ml/local` (diff hunks)' if options.get('include_diffs') else ''}.
- Export options: `{json.dumps(options, sort_keys=True)}`
- The commit rows describe the repository's history; the chat rows are conversations of its contributors with
  AI assistants, recorded by git-ml's capture hooks or imported from the assistants' transcripts.

## Licence

Not set (placeholder `unknown` above). The rows contain the repository's commit messages and file paths, and
text written by people and by AI assistants: choose a licence compatible with the repository's own licence and
the contributors' consent before sharing this dataset.

## Redaction

Secrets (API keys, tokens, passwords, private keys, ...) were replaced by placeholders when the records were
captured{'' if style == 'messages' else '; `context.redactions` counts them per row'}. Redaction is pattern-based and cannot catch everything:
review the data before publishing it.
"""
    return "\n".join(y) + "\n" + body
