"""How a value is shown to a person, by its unit: the one formatter every human-readable report uses.

Units are those of ``Result.unit``: ``ms``, ``ratio`` (a fraction, shown as a percentage),
``rps``, ``percent``, ``count``, ``bytes``, ``%/h``, ``s`` and ``""`` (a plain number). An unknown
unit is shown after the number as given, so a new criterion is readable before it is known here.
"""

from __future__ import annotations

import math

MISSING = "—"

# unit -> (suffix, multiplier): how the number is scaled and what follows it.
_SUFFIXES: dict[str, tuple[str, float]] = {
    "ms": (" ms", 1.0),
    "ratio": (" %", 100.0),
    "percent": (" %", 1.0),
    "rps": (" /s", 1.0),
    "%/h": (" %/h", 1.0),
    "s": (" s", 1.0),
    "count": ("", 1.0),
    "": ("", 1.0),
}
_IEC = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_value(value: float | None, unit: str) -> str:
    """``412.3 ms``, ``0.42 %`` (from the ratio 0.0042), ``51.2 /s``, ``1.5 MiB``; ``—`` for None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if unit == "bytes":
        return _format_bytes(value)
    suffix, scale = _SUFFIXES.get(unit, (f" {unit}", 1.0))
    return format_number(value * scale) + suffix


def format_number(value: float) -> str:
    """A number with as many digits as a reader needs: whole numbers as such (with thousands
    separators), one decimal from 10 up, two below that, two significant digits under 1."""
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    magnitude = abs(value)
    if magnitude >= 10:
        return f"{value:,.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.2g}"


def _format_bytes(value: float) -> str:
    step = 0
    while abs(value) >= 1024 and step < len(_IEC) - 1:
        value /= 1024
        step += 1
    return f"{format_number(value)} {_IEC[step]}"
