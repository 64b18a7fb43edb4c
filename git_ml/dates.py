"""ISO-8601 times as stored in records, to Unix seconds. A leaf with no third-party import: explore's start-up
path uses it without loading msgspec."""

from __future__ import annotations

import datetime as _dt


def iso_to_unix(text: str | None) -> float | None:
    """Seconds since the epoch of an ISO-8601 time (``Z`` or an offset); None when missing or unparsable."""
    if not text:
        return None
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
