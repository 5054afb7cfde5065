"""Coarse latency buckets for exposition, derived at export time from the fine log histogram.

Nothing is recorded twice: the store keeps one fine histogram per endpoint (0.5% relative
accuracy, see runner/stats/histogram.py) and this module folds it into the ~16 buckets dashboards want,
only when a scrape or an export asks. Each coarse bound is mapped once to the fine bucket that
holds it; a fine bucket counts towards ``le=bound`` when its index is at or below that one, the
same rule as ``Histogram.count_at_or_below`` (which the criteria use). So a bound is exact to
within one fine bucket: a value at most ~1% above the bound (``GAMMA`` - 1) may be counted in it,
never one below it left out. ``_count`` and ``_sum`` come from the exact count and sum.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from runner.stats.histogram import BUCKETS, Histogram, bucket_index

# HTTP latencies from 1 ms to 60 s, in seconds (the Prometheus and OTLP unit).
LATENCY_BOUNDS_S: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)


class CoarseBuckets:
    """Maps fine histogram buckets to a few explicit bounds; build one per exporter and reuse it."""

    def __init__(self, bounds_s: Sequence[float] = LATENCY_BOUNDS_S) -> None:
        bounds = tuple(float(b) for b in bounds_s)
        if not bounds or any(b <= a for a, b in itertools.pairwise(bounds)) or bounds[0] <= 0:
            raise ValueError("bucket bounds must be positive and strictly increasing")
        self.bounds_s = bounds
        edges = [bucket_index(b * 1000.0) for b in bounds]
        # slot[i]: the first coarse bucket a fine bucket i falls in; len(bounds) is the +Inf bucket.
        slot = []
        k = 0
        for i in range(BUCKETS):
            while k < len(edges) and i > edges[k]:
                k += 1
            slot.append(k)
        self._slot = tuple(slot)
        self._size = len(bounds) + 1

    def counts(self, histogram: Histogram) -> list[int]:
        """Per-bucket (non-cumulative) counts, one per bound plus the last for +Inf (OTLP's shape)."""
        out = [0] * self._size
        slot = self._slot
        for i, c in histogram.counts.items():
            out[slot[i]] += c
        return out

    def cumulative(self, histogram: Histogram) -> list[int]:
        """Cumulative counts for ``le=bound`` (Prometheus' shape), without the +Inf bucket."""
        out = self.counts(histogram)
        running = 0
        cum = []
        for c in out[:-1]:
            running += c
            cum.append(running)
        return cum
