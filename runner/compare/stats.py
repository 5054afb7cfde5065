"""Is a difference between two runs real? Mann-Whitney on per-period values, and its interval.

Requests inside one run are not independent (a GC pause or a noisy neighbour slows a few seconds
of them together), so the unit of replication is the *period* (a timeline interval), not the
request: each run gives a handful of per-period values (p95 of each 10 s, error rate of each
10 s ...) and the two samples are compared with the Mann-Whitney U test. Its companion interval is
the Hodges-Lehmann shift with Moses' distribution-free confidence interval: the ordered pairwise
differences ``current_i - baseline_j`` cut where the exact U distribution puts ``alpha / 2`` in
each tail. The test rejects at ``alpha`` exactly when the interval excludes 0, so "significant"
and "the interval excludes 0" never disagree. Latency and throughput are compared on a log scale
(the shift is a ratio); error rates on their own scale (the shift is in percentage points).

Exact, with no normal approximation: samples are small (a few to a few hundred periods). Ties
are counted as half (the interval stays exact for continuous values; tied error rates of 0 make
a shift of 0, which is what a reader expects). Pure functions; scipy would be a 40 MB dependency
of the load image for the thirty lines below.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

MIN_PERIODS = 4  # 4 vs 4 periods is the least that can reach a two-sided 5 % (p = 2/70)
MAX_PERIODS = 120  # more are merged pairwise first: the exact distribution stays cheap


@dataclass(frozen=True, slots=True)
class Shift:
    """How ``current`` differs from ``baseline``: the Hodges-Lehmann shift and its interval.

    On the log scale (``log=True``) the fields are ratios minus one (+0.32 = 32 % higher); on the
    plain scale they are differences in the values' own unit. ``low``/``high`` are ``None`` when
    the samples are too small for the interval to have a finite end at this confidence."""

    estimate: float
    low: float | None
    high: float | None
    p_value: float  # two-sided
    baseline_periods: int
    current_periods: int
    log: bool

    @property
    def significant(self) -> bool:
        """The interval excludes no change (equivalently: p < alpha)."""
        return (self.low is not None and self.low > 0) or (self.high is not None and self.high < 0)


@lru_cache(maxsize=256)
def _u_counts(m: int, n: int) -> tuple[int, ...]:
    """How many of the C(m+n, m) orderings give each value of U (0 .. m*n), without ties."""
    # counts[j][u]: orderings of m' = current row, j baseline values with statistic u.
    prev = [[1] + [0] * (m * n) for _ in range(n + 1)]  # m' = 0: U = 0
    for _current in range(1, m + 1):
        row = [[0] * (m * n + 1) for _ in range(n + 1)]
        row[0][0] = 1
        for j in range(1, n + 1):
            here, left, up = row[j], row[j - 1], prev[j]
            # the largest value is a current one (adds j to U) or a baseline one (adds nothing)
            for u in range(m * n + 1):
                here[u] = left[u] + (up[u - j] if u >= j else 0)
        prev = row
    return tuple(prev[n])


def _cdf_steps(m: int, n: int) -> list[float]:
    counts = _u_counts(m, n)
    total = math.comb(m + n, m)
    out, acc = [], 0
    for c in counts:
        acc += c
        out.append(acc / total)
    return out  # out[u] = P(U <= u)


def shift(
    baseline: Sequence[float], current: Sequence[float], *, log: bool, confidence: float = 0.95
) -> Shift | None:
    """The shift of ``current`` against ``baseline`` with its ``confidence`` interval; ``None``
    when either side has fewer than ``MIN_PERIODS`` values (or, on the log scale, a value <= 0)."""
    b = _prepare(baseline, log)
    c = _prepare(current, log)
    if b is None or c is None or len(b) < MIN_PERIODS or len(c) < MIN_PERIODS:
        return None
    m, n = len(c), len(b)
    diffs = sorted(x - y for x in c for y in b)
    u = sum(1.0 if d > 0 else 0.5 if d == 0 else 0.0 for d in diffs)
    cdf = _cdf_steps(m, n)
    # Two-sided p: twice the smaller tail at the observed U; a half-integer U (ties) is taken on
    # the conservative side of each tail.
    top = m * n
    low_tail = cdf[min(math.ceil(u), top)]
    high_tail = 1.0 - cdf[math.floor(u) - 1] if math.floor(u) >= 1 else 1.0
    p = min(1.0, 2 * min(low_tail, high_tail))
    # Moses: the interval's ends are the (t+1)-th smallest and largest differences, t the largest
    # with P(U <= t) <= alpha/2 (the lower end is above 0 only when U >= mn - t).
    alpha_half = (1.0 - confidence) / 2
    cut = sum(1 for value in cdf if value <= alpha_half + 1e-12)
    low = diffs[cut - 1] if cut > 0 else None
    high = diffs[len(diffs) - cut] if cut > 0 else None
    estimate = statistics.median(diffs)
    back = (lambda v: math.expm1(v)) if log else (lambda v: v)
    return Shift(
        estimate=back(estimate),
        low=None if low is None else back(low),
        high=None if high is None else back(high),
        p_value=p,
        baseline_periods=n,
        current_periods=m,
        log=log,
    )


def _prepare(values: Sequence[float], log: bool) -> list[float] | None:
    vals = [float(v) for v in values if v is not None and math.isfinite(v)]
    if log:
        if any(v <= 0 for v in vals):
            return None
        vals = [math.log(v) for v in vals]
    while len(vals) > MAX_PERIODS:  # neighbours averaged: fewer, steadier periods
        vals = [statistics.fmean(vals[i : i + 2]) for i in range(0, len(vals), 2)]
    return vals
