"""Times in reports: ISO 8601 UTC with a "Z" and milliseconds, and back to epoch seconds.

Every time a report writes is first rounded to the millisecond, and every duration or rate derived
from times is computed from those rounded times, so a summary read back and written again gives
the same text.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def epoch_ms(epoch_s: float) -> int:
    """Epoch seconds rounded to whole milliseconds."""
    return round(epoch_s * 1000)


def quantize_s(epoch_s: float) -> float:
    """Epoch seconds rounded to the millisecond (what a report stores)."""
    return epoch_ms(epoch_s) / 1000


def iso_utc(epoch_s: float) -> str:
    """``2026-11-03T12:00:05.250Z`` for the given epoch seconds (rounded to the millisecond)."""
    ms = epoch_ms(epoch_s)
    whole = _EPOCH + timedelta(seconds=ms // 1000)
    return f"{whole:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def parse_iso_utc(text: str) -> float:
    """Epoch seconds from an ISO 8601 time with a UTC offset ("Z" or "+00:00"); ValueError if the
    text is not such a time (a time without an offset is ambiguous and refused)."""
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO 8601 time, got {text!r}")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return ((moment - _EPOCH) // _ONE_US) / 1_000_000


def clock_utc(epoch_s: float) -> str:
    """``12:00:05 UTC``: a moment of a run in a sentence (the first breach, an interruption)."""
    return f"{_whole_second(epoch_s):%H:%M:%S} UTC"


def clock_z(epoch_s: float) -> str:
    """``12:00:05Z``: a moment in a criterion's reason (a server peak, a window's bounds)."""
    return f"{_whole_second(epoch_s):%H:%M:%S}Z"


def iso_utc_s(epoch_s: float) -> str:
    """``2026-11-03T12:00:05Z``: a moment to the second in a criterion's details."""
    return f"{_whole_second(epoch_s):%Y-%m-%dT%H:%M:%S}Z"


def _whole_second(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(math.floor(epoch_s), tz=UTC)
