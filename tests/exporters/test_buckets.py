"""Coarse latency buckets derived from the fine log histogram at export time."""

from __future__ import annotations

import math
import random

import pytest

from exporters.buckets import LATENCY_BOUNDS_S, CoarseBuckets
from runner.stats.histogram import GAMMA, bucket_index, bucket_upper_ms
from runner.stats.store import StatsStore


def _recorded(values_ms: list[float]) -> StatsStore:
    store = StatsStore()
    for v in values_ms:
        store.record("GET", "/x", v, 200, False, 0)
    return store


class TestCoarseBuckets:
    def test_bounds_cover_http_latencies(self) -> None:
        """The default bounds run from 1 ms to 60 s, strictly increasing."""
        assert LATENCY_BOUNDS_S[0] == 0.001
        assert LATENCY_BOUNDS_S[-1] == 60.0
        assert list(LATENCY_BOUNDS_S) == sorted(set(LATENCY_BOUNDS_S))

    def test_counts_sum_to_the_exact_count(self) -> None:
        """Per-bucket counts (with +Inf) add up to every recorded request, none lost or doubled."""
        rng = random.Random(3)
        values = [math.exp(rng.gauss(4, 2)) for _ in range(5000)] + [0.0, 0.0005, 120_000.0, 9e9]
        stats = _recorded(values).snapshot().endpoints
        (only,) = stats.values()
        counts = CoarseBuckets().counts(only.histogram)
        assert len(counts) == len(LATENCY_BOUNDS_S) + 1
        assert sum(counts) == only.count == len(values)

    def test_le_bucket_is_exact_to_within_one_fine_bucket(self) -> None:
        """le=b counts every value <= b and no value above b times GAMMA (one fine bucket, ~1%)."""
        rng = random.Random(5)
        values = [math.exp(rng.uniform(math.log(0.5), math.log(90_000))) for _ in range(20_000)]
        # Values sitting right at and around every bound are the hard cases.
        for b in LATENCY_BOUNDS_S:
            ms = b * 1000
            values += [ms, ms * 0.999, ms * 1.001, ms * 1.004, ms * 1.02]
        (stats,) = _recorded(values).snapshot().endpoints.values()
        cumulative = CoarseBuckets().cumulative(stats.histogram)
        for bound_s, got in zip(LATENCY_BOUNDS_S, cumulative, strict=True):
            ms = bound_s * 1000
            at_or_below = sum(1 for v in values if v <= ms)
            within_gamma = sum(1 for v in values if v <= ms * GAMMA)
            assert at_or_below <= got <= within_gamma, bound_s
            # ...and it is precisely the fine-bucket rule the criteria use.
            assert got == stats.histogram.count_at_or_below(ms)

    def test_one_millisecond_is_a_fine_bucket_edge(self) -> None:
        """The 1 ms bound falls on a fine bucket edge, so it is exact."""
        (stats,) = _recorded([1.0, 1.0000001, 0.9999]).snapshot().endpoints.values()
        assert CoarseBuckets().cumulative(stats.histogram)[0] == 2
        assert bucket_upper_ms(bucket_index(1.0)) == 1.0

    def test_rejects_unordered_bounds(self) -> None:
        """Bounds must be positive and increasing, or construction fails."""
        with pytest.raises(ValueError, match="increasing"):
            CoarseBuckets([0.1, 0.05])
        with pytest.raises(ValueError):
            CoarseBuckets([0.0, 1.0])
