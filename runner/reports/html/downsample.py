"""Min/max-per-bucket downsampling: a day of 1 s samples drawn in a page a few thousand pixels wide.

A chart cannot show more points than it has pixels, but a plain "every n-th point" would hide the
one spike a reader looks for. Each time bucket keeps, for every series, the sample with its lowest
and its highest value (and the first and last sample of the whole range), so every peak and every
dip survives and a series of any length becomes at most ``2 x buckets x series + 2`` points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# A report chart is at most ~1,600 CSS pixels wide: one bucket per pixel pair is as fine as the eye sees.
DEFAULT_BUCKETS = 800


def keep_indices(
    times: Sequence[float], columns: Sequence[Sequence[float | None]], *, buckets: int = DEFAULT_BUCKETS
) -> list[int]:
    """The indices of ``times`` to keep so that every column keeps its min and max per time bucket.

    ``times`` ascend; each column is as long as ``times`` (None or NaN: no value there). When there
    are no more samples than ``2 x buckets`` nothing is dropped.
    """
    n = len(times)
    if n <= 2 * max(1, buckets):
        return list(range(n))
    start, end = times[0], times[-1]
    span = end - start
    if span <= 0:
        return [0, n - 1]
    keep: set[int] = {0, n - 1}
    # per bucket and column: (index of min, index of max)
    lows: dict[tuple[int, int], int] = {}
    highs: dict[tuple[int, int], int] = {}
    for i, t in enumerate(times):
        b = min(buckets - 1, int((t - start) / span * buckets))
        for c, column in enumerate(columns):
            v = column[i]
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            lo = lows.get((b, c))
            if lo is None or v < _num(column[lo]):
                lows[(b, c)] = i
            hi = highs.get((b, c))
            if hi is None or v > _num(column[hi]):
                highs[(b, c)] = i
    keep.update(lows.values())
    keep.update(highs.values())
    return sorted(keep)


def downsample(
    times: Sequence[float], columns: Sequence[Sequence[float | None]], *, buckets: int = DEFAULT_BUCKETS
) -> tuple[list[float], list[list[float | None]]]:
    """``times`` and ``columns`` reduced to ``keep_indices`` (all columns share the kept times)."""
    idx = keep_indices(times, columns, buckets=buckets)
    return [times[i] for i in idx], [[column[i] for i in idx] for column in columns]


def _num(value: float | None) -> float:
    return math.nan if value is None else value
