"""Reading the ``.git-ml/`` folder of the system git-ml replaces (layout: ``git_ml.store.migrate``)."""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

COMPRESS_ABOVE = 5 * 1024  # the legacy writer compressed records whose JSON exceeded 5 KB


@dataclass
class MigrateReport:
    source: Path
    found: dict[str, int] = field(default_factory=dict)  # legacy records read, per kind
    stored: dict[str, int] = field(default_factory=dict)  # new records per stream
    present: dict[str, int] = field(default_factory=dict)  # skipped: id already in the store
    unreadable: list[str] = field(default_factory=list)  # file[:line]: reason
    redactions: int = 0
    dry_run: bool = False

    def bump(self, table: dict, key: str, n: int = 1) -> None:
        table[key] = table.get(key, 0) + n


def decode_chunked_line(obj: dict) -> tuple[str | None, dict]:
    """(kind, record) of one tracked/chunked line, decompressing it when it is stored compressed."""
    kind = obj.get("type") or obj.get("record_type") or obj.get("kind")
    if obj.get("compressed"):
        encoding = obj.get("encoding", "zlib+base64")
        if encoding != "zlib+base64":
            raise ValueError(f"unknown encoding {encoding!r}")
        data = json.loads(zlib.decompress(base64.b64decode(obj["data"])).decode("utf-8"))
        return kind, data
    if "data" in obj and isinstance(obj["data"], dict):
        return kind, obj["data"]
    return kind, obj


def encode_chunked_line(kind: str, record: dict) -> str:
    """How the legacy system wrote a tracked/chunked line (used by tests and by anyone rebuilding such a folder)."""
    text = json.dumps(record, ensure_ascii=False)
    if len(text.encode("utf-8")) > COMPRESS_ABOVE:
        data = base64.b64encode(zlib.compress(text.encode("utf-8"))).decode("ascii")
        return json.dumps({"type": kind, "compressed": True, "encoding": "zlib+base64", "data": data})
    return json.dumps({"type": kind, "data": record}, ensure_ascii=False)


def _guess_kind(rec: dict) -> str | None:
    if "hash" in rec or "files_changed" in rec:
        return "commit"
    if "query" in rec or "response" in rec:
        return "chat"
    if "agents" in rec or "orchestration_id" in rec:
        return "orchestration"
    if "chat_ids" in rec or "start_time" in rec or "started_at" in rec:
        return "session"
    return None


def _jsonl(path: Path, report: MigrateReport):
    try:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError as exc:
                    report.unreadable.append(f"{path}:{n}: {exc}")
                    continue
                if isinstance(obj, dict):
                    yield f"{path}:{n}", obj
                else:
                    report.unreadable.append(f"{path}:{n}: not an object")
    except OSError as exc:
        report.unreadable.append(f"{path}: {exc}")


def _json(path: Path, report: MigrateReport):
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        report.unreadable.append(f"{path}: {exc}")
        return None
    if not isinstance(obj, dict):
        report.unreadable.append(f"{path}: not an object")
        return None
    return obj


def read_legacy(root: Path, report: MigrateReport) -> dict[str, dict[str, dict]]:
    """Legacy records by kind and id; later sources fill in (and override) fields of earlier ones for one id:
    tracked files, then the chunked files, then the per-record files (the fullest)."""
    out: dict[str, dict[str, dict]] = {"commit": {}, "chat": {}, "session": {}, "orchestration": {}}
    keys = {"commit": ("hash", "id"), "chat": ("id", "chat_id"), "session": ("id", "session_id"),
            "orchestration": ("orchestration_id", "id", "session_id")}

    def add(kind: str | None, rec: dict, where: str) -> None:
        if kind in ("commits", "chats", "sessions"):
            kind = kind[:-1]
        if kind not in out:
            kind = _guess_kind(rec)
        if kind not in out:
            report.unreadable.append(f"{where}: unknown record kind")
            return
        rid = next((str(rec[k]) for k in keys[kind] if rec.get(k)), None)
        if rid is None:
            report.unreadable.append(f"{where}: {kind} without an id")
            return
        out[kind].setdefault(rid, {}).update(rec)

    tracked = root / "tracked"
    for name, kind in (("commits.jsonl", "commit"), ("sessions.jsonl", "session"),
                       ("orchestration.jsonl", "orchestration")):
        path = tracked / name
        if path.is_file():
            for where, obj in _jsonl(path, report):
                add(kind, obj, where)
    for path in sorted((tracked / "chunked").glob("*.jsonl")) if (tracked / "chunked").is_dir() else []:
        for where, obj in _jsonl(path, report):
            try:
                kind, rec = decode_chunked_line(obj)
            except (ValueError, KeyError, zlib.error, UnicodeDecodeError) as exc:
                report.unreadable.append(f"{where}: cannot decode compressed record: {exc}")
                continue
            add(kind, rec, where)
    for path in sorted((root / "chats").glob("*/*.json")) if (root / "chats").is_dir() else []:
        obj = _json(path, report)
        if obj is not None:
            add("chat", obj, str(path))
    for path in sorted((root / "commits").glob("*.json")) if (root / "commits").is_dir() else []:
        obj = _json(path, report)
        if obj is not None:
            add("commit", obj, str(path))
    for kind, recs in out.items():
        report.found[kind] = len(recs)
    return out


