"""Numbers as the page carries them: finite or null, rounded to what the eye can see."""

from __future__ import annotations

import math
from collections.abc import Iterable

DIGITS = 4  # significant digits of a drawn value: the eye sees no more, the file stays smaller


def sig(value: float | None, digits: int = DIGITS) -> float | None:
    """``value`` to ``digits`` significant digits; None for None, NaN or infinity."""
    if value is None or not math.isfinite(value):
        return None
    if value == 0:
        return 0.0
    return round(value, max(0, digits - 1 - math.floor(math.log10(abs(value)))))


def sig_all(values: Iterable[float | None]) -> list[float | None]:
    """``sig`` of each value."""
    return [sig(v) for v in values]


def add(a: float | None, b: float | None) -> float | None:
    """a + b where a missing value counts as 0, None when both are missing."""
    return None if a is None and b is None else (a or 0.0) + (b or 0.0)
