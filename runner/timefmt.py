"""Every way loadlens writes or reads a time or a duration, in one place.

- Moments: ISO 8601 UTC with a "Z" and milliseconds in reports (``iso_utc``, and back with
  ``parse_iso_utc``), to the second in details (``iso_seconds``), as a clock in sentences
  (``clock_z``: "12:00:03Z", ``clock_utc``: "12:00:03 UTC") and in run directory names
  (``compact_utc``).
- Durations: Locust's ``--run-time`` grammar, read by ``parse_duration_s`` (config, flags) and
  written by ``format_duration`` ("1h30m"); in sentences, exactly (``format_span``: "2 min 30 s",
  for a remedy such as "run at least ...") or roughly (``format_rough``: "58 min", "2h10m", for a
  trend's time to a limit).

Every time a report writes is first rounded to the millisecond, and every duration or rate derived
from times is computed from those rounded times, so a summary read back and written again gives
the same text.
"""

from __future__ import annotations

import math
import re
import time
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


def iso_seconds(epoch_s: float) -> str:
    """``2026-11-03T12:00:05Z``: a moment to the second, for details a person reads."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def clock_z(epoch_s: float) -> str:
    """``12:00:03Z``: the time of day in UTC, inside a sentence about one run."""
    return time.strftime("%H:%M:%SZ", time.gmtime(epoch_s))


def clock_utc(epoch_s: float) -> str:
    """``12:00:03 UTC``: when something happened, as a person reading a CI log wants it."""
    return time.strftime("%H:%M:%S UTC", time.gmtime(epoch_s))


def span_utc(start_s: float, end_s: float) -> str:
    """``2026-11-03 12:00:05-12:05:05 UTC``: a window of one run, in a comment a person reads."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start_s)) + time.strftime(
        "-%H:%M:%S UTC", time.gmtime(end_s)
    )


def compact_utc(epoch_s: float) -> str:
    """``20261103T120005Z``: a moment that sorts and fits in a file name."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch_s))


_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# Locust's --run-time grammar: optional hours, minutes, seconds parts, in that order.
_PARTS = re.compile(r"(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?")
DURATION_EXAMPLES = "30, 30s, 5m, 1h30m or 1h2m3s"


def parse_duration_s(text: str | float) -> float:
    """Seconds in a duration written as Locust's ``--run-time`` takes it ("30", "30s", "5m",
    "1h30m", "1h2m3s"), or as a bare number of seconds (int, float or "1.5").

    Raises ValueError naming the text and the accepted forms.
    """
    if isinstance(text, bool):  # bool is an int subclass; true is not a duration
        raise ValueError(f"invalid duration {text!r}: expected e.g. {DURATION_EXAMPLES}")
    if isinstance(text, int | float):
        if not math.isfinite(text) or text < 0:
            raise ValueError(f"invalid duration {text!r}: expected a finite number of seconds >= 0")
        return float(text)
    if not isinstance(text, str):
        raise ValueError(f"invalid duration {text!r}: expected e.g. {DURATION_EXAMPLES}")
    stripped = text.strip()
    if _NUMBER.fullmatch(stripped):
        return float(stripped)
    parts = _PARTS.fullmatch(stripped)
    if not stripped or parts is None or not any(parts.groups()):
        raise ValueError(f'invalid duration "{text}": expected e.g. {DURATION_EXAMPLES}')
    return float(int(parts["h"] or 0) * 3600 + int(parts["m"] or 0) * 60 + int(parts["s"] or 0))


def format_duration(duration_s: float) -> str:
    """A duration in Locust's ``--run-time`` form, rounded to whole seconds: 5400 -> "1h30m"."""
    total = round(duration_s)
    if total <= 0:
        return "0s"
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (seconds, "s")) if n)


def format_span(seconds: float) -> str:
    """A duration for a sentence, exact to the second: "50 s", "2 min 30 s", "1 h 5 min"."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    m, rest = divmod(s, 60)
    if m < 60:
        return f"{m} min {rest} s" if rest else f"{m} min"
    h, m = divmod(m, 60)
    return f"{h} h {m} min" if m else f"{h} h"


def format_rough(seconds: float) -> str:
    """A duration for a sentence, as precise as a forecast deserves: "45 s", "58 min", "2h10m",
    "3d4h"."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h"
