"""``--format dataset``: this repository's rows in a shared, hive-partitioned Parquet dataset of many repositories.

Layout (what DuckDB, Spark, Dask, pyarrow and Hugging Face ``datasets`` read)::

    DIR/type=<commit|chat>/repo=<repo id>/part-NNNNNN.parquet   the rows (every file: one schema)
    DIR/_git_ml/dataset.json                                    the dataset's schema version
    DIR/_git_ml/repo=<repo id>/manifest.json                    what this repository wrote: part -> rows, digests
    DIR/_git_ml/repo=<repo id>/lock                             held (flock) by this repository's writer

Every row carries ``schema_version`` and ``repo`` and ``type`` (the partition values, so a reader that ignores
the directory names, such as ``datasets``, still has them).

An export makes this repository's rows equal to what a full export would write now (same filters, dedup, weights,
redaction), writing as little as it can:

- nothing at all when the store, the options and the schema are those of the last export (the manifest's
  ``state``: checked before anything is read);
- otherwise one full reading pass, and a digest per row compared with the manifest: new rows go to a new part
  file per type; a part holding a row that changed (a new version, a rewrite resolved, a rating, a new link) or
  went away (a tombstone, a superseded commit, a filter) is rewritten whole, with the current version of its rows,
  and renamed over the old file, so a reader sees the old part or the new one, never both versions of a row.

Each file is written under a temporary name and renamed into place; the manifest is renamed last. A writer never
touches another repository's directories, and writers of one repository take its lock, so several machines and
processes can export into one directory at once. Part files that the manifest does not name (left by a writer
that died before its manifest) are removed by the next writer of that repository.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import msgspec

from git_ml.dataset.export import records as R
from git_ml.dataset.export.identity import fingerprint
from git_ml.dataset.export.identity import repo_id as find_repo_id
from git_ml.dataset.export.options import ExportOptions
from git_ml.errors import GitMlError
from git_ml.fsutil import atomic_write
from git_ml.store.core import DATA_REF, LOCAL_REF, Store

SCHEMA_VERSION = 1
META = "_git_ml"
FORMAT = "git-ml dataset"


class Manifest(msgspec.Struct, kw_only=True):
    format: str = FORMAT
    schema_version: int = SCHEMA_VERSION
    repo: str = ""
    fingerprint: str = ""
    state: dict = {}
    next_part: int = 0
    parts: dict[str, str] = {}  # part file (relative to DIR) -> type
    rows: dict[str, tuple[str, str]] = {}  # "<type>:<id>" -> (part file, digest of the row)


def dataset_schema():
    import pyarrow as pa

    return pa.schema([("schema_version", pa.int32()), ("repo", pa.string()), *R.arrow_schema("records")])


def check_dir(output: str) -> Path:
    """The dataset directory, created when missing; refused when it cannot be one."""
    root = Path(output).expanduser()
    if root.exists() and not root.is_dir():
        raise GitMlError(f"{root} is a file: --format dataset writes into a directory")
    if not root.exists():
        if not root.resolve().parent.is_dir():
            raise GitMlError(f"directory {root.resolve().parent} does not exist")
        root.mkdir(exist_ok=True)
    if not os.access(root, os.W_OK | os.X_OK):
        raise GitMlError(f"cannot write {root}: permission denied")
    meta = root / META / "dataset.json"
    if meta.is_file():
        try:
            info = msgspec.json.decode(meta.read_bytes())
            version = int(info.get("schema_version", 0))
        except (msgspec.DecodeError, ValueError, TypeError, AttributeError):
            raise GitMlError(f"{meta} is damaged: not a git-ml dataset description") from None
        if version > SCHEMA_VERSION:
            raise GitMlError(f"{root} holds a dataset of schema {version}, newer than this git-ml writes "
                             f"({SCHEMA_VERSION}): upgrade git-ml")
    elif any(p.name != META for p in root.iterdir()):
        raise GitMlError(f"{root} is not empty and not a git-ml dataset: choose another --output")
    else:
        (root / META).mkdir(exist_ok=True)
        atomic_write(meta, msgspec.json.encode({"format": FORMAT, "schema_version": SCHEMA_VERSION}))
    return root


@contextlib.contextmanager
def repo_lock(path: Path):
    """This repository's writers one at a time (an OS lock: released when the process ends, however it ends)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def read_manifest(path: Path) -> Manifest | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        man = msgspec.json.decode(data, type=Manifest)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise GitMlError(f"{path} is damaged: remove the directory of that repository's rows to export again")
    if man.schema_version > SCHEMA_VERSION:
        raise GitMlError(f"{path} was written by a newer git-ml (dataset schema {man.schema_version}): upgrade "
                         f"git-ml")
    return man


def state_of(repo, opts: ExportOptions, weights: dict[str, float]) -> dict:
    """What decides the rows: the store's tips, the options, the weights, the schema."""
    store = Store(repo)
    data, local = store.tip(DATA_REF), store.tip(LOCAL_REF) if opts.include_diffs else None
    return {"data": str(data) if data else None, "local": str(local) if local else None,
            "options": opts.describe(), "weights": weights, "schema_version": SCHEMA_VERSION}


def plan(old: dict[str, tuple[str, str]], current: dict[str, str]) -> tuple[set[str], list[str], int, int]:
    """(parts to rewrite, new row keys, rows replaced, rows removed) to go from ``old`` to ``current``."""
    stale: set[str] = set()
    replaced = removed = 0
    for key, (part, digest) in old.items():
        now = current.get(key)
        if now != digest:
            stale.add(part)
            if now is None:
                removed += 1
            else:
                replaced += 1
    new = [key for key in current if key not in old]
    return stale, new, replaced, removed


def remove_orphans(root: Path, rid: str, man: Manifest) -> None:
    """Part files of this repository that the manifest does not name: left by a writer that died."""
    for kind in ("chat", "commit"):
        folder = root / f"type={kind}" / f"repo={rid}"
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            rel = f"type={kind}/repo={rid}/{p.name}"
            if rel not in man.parts and (p.name.startswith(".") or p.suffix == ".parquet"):
                with contextlib.suppress(OSError):
                    p.unlink()


def export_dataset(repo, output: str, opts: ExportOptions, *, progress=None, warn=None, repo_id=None):
    from git_ml.dataset.export.selection import ExportResult, Selection, weights_of

    if opts.style != "records":
        raise GitMlError("--format dataset writes records rows (one schema for every repository): drop --style")
    rid = find_repo_id(repo, repo_id)
    root = check_dir(output)
    weights = weights_of(repo, opts)
    mine = fingerprint(repo)
    meta = root / META / f"repo={rid}"
    result = ExportResult(dataset={"repo": rid, "added": 0, "replaced": 0, "removed": 0, "written": [],
                                   "deleted": []})
    with repo_lock(meta / "lock"):
        man = read_manifest(meta / "manifest.json")
        if man is not None and man.fingerprint and mine and man.fingerprint != mine:
            raise GitMlError(f"repo id {rid} is taken in {root} by another repository (root commit "
                             f"{man.fingerprint[:12]}, this one {mine[:12]}): pass --repo-id or set ml.datasetRepo")
        man = man or Manifest(repo=rid, fingerprint=mine)
        remove_orphans(root, rid, man)
        state = state_of(repo, opts, weights)
        if man.state == state:
            result.outputs = [str(root)]
            result.rows = len(man.rows)
            return result
        with Selection(repo, opts, str(root / META), result, progress=progress, warn=warn) as sel:
            sel.run(weights)
            _update(root, rid, man, sel, result)
        man.state = state
        man.fingerprint = man.fingerprint or mine
        atomic_write(meta / "manifest.json", msgspec.json.encode(man))
        for rel in result.dataset["deleted"]:
            with contextlib.suppress(FileNotFoundError):
                (root / rel).unlink()
    result.outputs = [str(root)]
    return result


def _update(root: Path, rid: str, man: Manifest, sel, result) -> None:
    """Write the part files that change; ``man`` updated to match (the caller saves it)."""
    import hashlib

    rows = [c for split in sel.rows.values() for c in split]
    by_key = {f"{c.kind}:{c.id}": c for c in rows}
    spills = sel.spills
    current = {key: hashlib.blake2b(spills[c.src].get(c.off, c.n), digest_size=8).hexdigest()
               for key, c in by_key.items()}
    stale, new, replaced, removed = plan(man.rows, current)
    info = result.dataset
    info.update(added=len(new), replaced=replaced, removed=removed)
    members: dict[str, list[str]] = {}
    for key, (part, _d) in man.rows.items():
        if part in stale and key in current:
            members.setdefault(part, []).append(key)
    for key in new:
        kind = key.partition(":")[0]
        part = f"type={kind}/repo={rid}/part-{man.next_part + (kind == 'commit'):06d}.parquet"
        members.setdefault(part, []).append(key)
    man.next_part += 2 if new else 0
    constants = _constants(rid)
    for part in sorted(stale | set(members)):
        keys = members.get(part, [])
        if not keys:
            info["deleted"].append(part)
            man.parts.pop(part, None)
            continue
        chosen = sorted((by_key[k] for k in keys), key=lambda c: (c.ts, c.kind, c.id))
        _write_part(root / part, sel.lines(chosen), constants)
        info["written"].append(part)
        man.parts[part] = chosen[0].kind
        for k in keys:
            man.rows[k] = (part, current[k])
    for key in [k for k in man.rows if k not in current]:
        del man.rows[key]


def _constants(rid: str) -> list:
    import pyarrow as pa

    return [(pa.field("schema_version", pa.int32()), SCHEMA_VERSION), (pa.field("repo", pa.string()), rid)]


def _write_part(path: Path, lines, constants: list) -> None:
    from git_ml.dataset.export.writers import require_pyarrow, write_parquet

    require_pyarrow()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write_parquet(str(tmp), R.arrow_schema("records"), lines, constants)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
