"""Fixed-memory latency histogram with bounded relative error.

Buckets are logarithmic (the DDSketch construction): bucket ``i`` holds values in
``(gamma**(i-1), gamma**i]`` milliseconds, shifted so that index 0 is the "at or below the
minimum" bucket. Any quantile read back is within ``RELATIVE_ACCURACY`` (0.5%) of the exact
nearest-rank value, whatever the distribution, because every value in a bucket is within that
relative distance of the bucket's representative.

Memory is a fixed list of ``BUCKETS`` ints per histogram (about 18 KiB), however long the run.
Histograms merge exactly by adding counts, which is how worker data is combined at the master.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

RELATIVE_ACCURACY = 0.005
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
INV_LOG_GAMMA = 1.0 / _LOG_GAMMA
MIN_MS = 0.001  # 1 microsecond; smaller values land in bucket 0
MAX_MS = 3_600_000.0  # one hour; larger values land in the last bucket (max is tracked exactly)
OFFSET = -math.ceil(math.log(MIN_MS) * INV_LOG_GAMMA) + 1
BUCKETS = math.ceil(math.log(MAX_MS) * INV_LOG_GAMMA) + OFFSET + 1
_LAST = BUCKETS - 1


def bucket_index(value_ms: float) -> int:
    """The bucket a latency in milliseconds falls in (the same arithmetic as the hot path)."""
    if value_ms <= MIN_MS:
        return 0
    i = math.ceil(math.log(value_ms) * INV_LOG_GAMMA) + OFFSET
    return i if i < _LAST else _LAST


def bucket_upper_ms(index: int) -> float:
    """Upper edge (inclusive) of a bucket, in milliseconds."""
    if index <= 0:
        return MIN_MS
    return float(GAMMA ** (index - OFFSET))


def bucket_value_ms(index: int) -> float:
    """The representative value of a bucket: within RELATIVE_ACCURACY of all its members."""
    if index <= 0:
        return MIN_MS
    return 2.0 * GAMMA ** (index - OFFSET) / (GAMMA + 1.0)


@dataclass(frozen=True, slots=True)
class Histogram:
    """An immutable sparse histogram: ``counts`` maps bucket index to count (no zero entries)."""

    counts: Mapping[int, int]

    @staticmethod
    def empty() -> Histogram:
        return Histogram({})

    @staticmethod
    def from_pairs(pairs: Iterable[Iterable[int]]) -> Histogram:
        out: dict[int, int] = {}
        for i, c in pairs:
            if c:
                out[int(i)] = out.get(int(i), 0) + int(c)
        return Histogram(out)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def pairs(self) -> list[list[int]]:
        """Serialisable form: sorted ``[index, count]`` pairs."""
        return [[i, self.counts[i]] for i in sorted(self.counts)]

    def merge(self, other: Histogram) -> Histogram:
        out = dict(self.counts)
        for i, c in other.counts.items():
            out[i] = out.get(i, 0) + c
        return Histogram(out)

    def subtract(self, earlier: Histogram) -> Histogram:
        """What was added since ``earlier`` (a previous cumulative state of the same histogram).

        Built from the buckets that changed only: a copy of the cumulative dict with the rest
        deleted would keep the cumulative dict's capacity (dicts never shrink), and the timeline
        holds one such interval histogram per endpoint per point: ~2 KB each instead of ~200 B."""
        before = earlier.counts
        return Histogram({i: left for i, c in self.counts.items() if (left := c - before.get(i, 0))})

    def quantile_ms(self, q: float) -> float | None:
        """Nearest-rank quantile (``q`` in [0, 1]); None when empty."""
        n = self.total
        if n == 0:
            return None
        rank = max(1, math.ceil(q * n))
        seen = 0
        for i in sorted(self.counts):
            seen += self.counts[i]
            if seen >= rank:
                return bucket_value_ms(i)
        return bucket_value_ms(max(self.counts))  # unreachable: counts sum to n

    def count_at_or_below(self, limit_ms: float) -> int:
        """How many values are at or below ``limit_ms`` (exact at bucket edges, else within a bucket)."""
        edge = bucket_index(limit_ms)
        return sum(c for i, c in self.counts.items() if i <= edge)
