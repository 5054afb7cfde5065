"""The run's timeline: a fixed-size ring of intervals that merges neighbours exactly when full.

A soak of a day over hundreds of endpoints must cost the generator and its summary.json no more
than a short test. The cost of a timeline is not its number of points but its *cells*: each point
holds one digest row (requests, failures, p50/p95/p99) and one sparse histogram per endpoint, and
the all-requests histogram. So the ring is bounded twice:

- at most ``max_points`` points (the chart's resolution), and
- at most ``max_cost`` cost units over all points, a unit being about one byte of summary.json
  or of held histogram (see ``point_cost``): a run over 300 endpoints gets fewer, coarser points
  than one over 10, and both stay within the same memory and the same file size.

When either bound is passed, every two neighbours merge into one (``merge_pair``): counts and
histograms add, so totals stay exact and each merged p50/p95/p99 is read from the merged
histogram, exactly what one interval of twice the length would have measured. From then on the
ticks are gathered ``stride`` at a time before a point is added, so every point spans the same
time (a halving doubles the stride): the chart has one resolution, never a long first point and
short last ones.

Over the cost budget, before halving, the oldest points first give up their held per-endpoint
histograms (keeping the all-requests histogram and each endpoint's counts and percentiles):
a wide run's per-endpoint histograms are most of a point's cost, so it keeps tens of points, not a
handful. A per-endpoint percentile of two such points merged is the worse of the two (a pessimistic
bound, never a better figure than was measured); totals and the all-requests percentiles stay exact.

The judged window is not read from here (it is a difference of cumulative snapshots), so
re-judging stays exact however coarse the timeline became.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from runner.model import EndpointKey, Interval, Snapshot
from runner.stats.histogram import Histogram

# Cost units, about bytes: a digest row of summary.json ("method", "name", requests, failures,
# p50/p95/p99) is ~120 characters, a written histogram bucket ("[1234, 56], ") ~12 and a held
# one (a dict entry in memory, not written) is counted at ~8 so that held histograms are bounded too.
DIGEST_ROW_COST = 120
TOTAL_BUCKET_COST = 12
ENDPOINT_BUCKET_COST = 8
POINT_COST = 300  # a point's own fields: times, users, the total's counters
MAX_POINTS = 720
MAX_COST = 1_500_000  # ~1.5 MB of summary.json timeline, about 15 MB of live objects
MIN_POINTS = 8  # the budget never merges a timeline below this many points


def point_cost(interval: Interval) -> int:
    """What ``interval`` costs the timeline's budget (see the module docstring)."""
    buckets = sum(len(h.counts) for h in interval.endpoint_histograms.values())
    return (
        POINT_COST
        + TOTAL_BUCKET_COST * len(interval.total.histogram.counts)
        + DIGEST_ROW_COST * len(interval.endpoint_counts)
        + ENDPOINT_BUCKET_COST * buckets
    )


class Timeline:
    """The run as a bounded list of intervals: at most ``max_points`` of them and at most
    ``max_cost`` cost units (``point_cost``); past either, neighbours merge exactly, so a day-long
    soak keeps about the memory of a short test and its summary.json about the same size."""

    def __init__(self, *, max_points: int = MAX_POINTS, max_cost: int = MAX_COST) -> None:
        self._max_points = max(2, max_points)
        self._max_cost = max_cost
        self._points: list[Interval] = []
        self._costs: list[int] = []
        self._cost = 0
        self._last: Snapshot | None = None
        self._stride = 1  # ticks per point: doubles with each halving
        self._pending: Interval | None = None  # the ticks gathered for the next point
        self._pending_ticks = 0

    def tick(self, cumulative: Snapshot) -> Interval:
        """Record the interval since the previous tick (the first one: since the store started)."""
        previous, self._last = self._last, cumulative
        if previous is None:
            base = Snapshot(start=cumulative.start, end=cumulative.start, endpoints={})
        else:
            base = previous
        window = cumulative.since(base)
        return self.add(window, users=cumulative.users)

    def add(self, window: Snapshot, *, users: int) -> Interval:
        """Append the interval ``window`` (the requests of ``[window.start, window.end)``)."""
        interval = Interval(
            start=window.start,
            end=window.end,
            users=users,
            total=window.total(),
            endpoint_p95_ms=_quantiles(window, 0.95),
            endpoint_counts={k: (s.count, s.failures) for k, s in window.endpoints.items()},
            endpoint_histograms={k: s.histogram for k, s in window.endpoints.items()},
            endpoint_p50_ms=_quantiles(window, 0.50),
            endpoint_p99_ms=_quantiles(window, 0.99),
        )
        gathered = interval if self._pending is None else merge_pair([self._pending, interval])
        self._pending_ticks += 1
        if self._pending_ticks < self._stride:
            self._pending = gathered
            return interval
        self._pending, self._pending_ticks = None, 0
        self._append(gathered)
        return interval

    def _append(self, point: Interval) -> None:
        cost = point_cost(point)
        self._points.append(point)
        self._costs.append(cost)
        self._cost += cost
        while True:
            if len(self._points) > self._max_points:
                self._halve()
            elif self._cost > self._max_cost and self._shed():
                continue
            elif self._cost > self._max_cost and len(self._points) > MIN_POINTS:
                self._halve()
            else:
                break

    def _shed(self) -> bool:
        """Drop the held per-endpoint histograms of the oldest point that still has them (never the
        newest: the live breach check reads it); False when none is left to drop."""
        for i, point in enumerate(self._points[:-1]):
            if point.endpoint_histograms:
                self._points[i] = replace(point, endpoint_histograms={})
                cost = point_cost(self._points[i])
                self._cost += cost - self._costs[i]
                self._costs[i] = cost
                return True
        return False

    def _halve(self) -> None:
        odd = self._points[-1] if len(self._points) % 2 else None
        pairs = self._points[: len(self._points) - (odd is not None)]
        points = [merge_pair(pairs[i : i + 2]) for i in range(0, len(pairs), 2)]
        if odd is not None:  # half a point at the new stride: it goes on gathering
            if self._pending is None:
                self._pending, self._pending_ticks = odd, self._stride
            else:  # a second halving in a row: the odd point comes before what is gathering
                self._pending = merge_pair([odd, self._pending])
                self._pending_ticks += self._stride
        self._stride *= 2
        self._points = points
        self._costs = [point_cost(p) for p in points]
        self._cost = sum(self._costs)

    @property
    def points(self) -> tuple[Interval, ...]:
        """Every point, the one still gathering ticks last (it spans less than the others)."""
        return tuple(self._points) + ((self._pending,) if self._pending is not None else ())

    @property
    def cost(self) -> int:
        """The cost units the timeline holds now (at most ``max_cost`` unless MIN_POINTS points are
        over it alone)."""
        return self._cost


def merge_pair(pair: list[Interval]) -> Interval:
    """Two neighbouring intervals as one, exactly: counts and histograms add, and each endpoint's
    p95 is read from the merged histogram (a max of two p95s would let one slow request among a
    few pass for the p95 of the many requests of the other half)."""
    if len(pair) == 1:
        return pair[0]
    a, b = pair
    # One side's histograms are gone: none can be merged exactly.
    if _histograms_gone(a) or _histograms_gone(b):
        a, b = replace(a, endpoint_histograms={}), replace(b, endpoint_histograms={})
    counts = dict(a.endpoint_counts)
    for k, (n, f) in b.endpoint_counts.items():
        n0, f0 = counts.get(k, (0, 0))
        counts[k] = (n0 + n, f0 + f)
    histograms = dict(a.endpoint_histograms)
    for k, h in b.endpoint_histograms.items():
        histograms[k] = histograms[k].merge(h) if k in histograms else h
    p95 = _merged_quantile(a.endpoint_p95_ms, b.endpoint_p95_ms, histograms, 0.95)
    return Interval(
        start=a.start,
        end=b.end,
        users=max(a.users, b.users),
        total=a.total.merge(b.total),
        endpoint_p95_ms=p95,
        endpoint_counts=counts,
        endpoint_histograms=histograms,
        endpoint_p50_ms=_merged_quantile(a.endpoint_p50_ms, b.endpoint_p50_ms, histograms, 0.50),
        endpoint_p99_ms=_merged_quantile(a.endpoint_p99_ms, b.endpoint_p99_ms, histograms, 0.99),
    )


def _histograms_gone(point: Interval) -> bool:
    return bool(point.endpoint_counts) and not point.endpoint_histograms


def _quantiles(window: Snapshot, q: float) -> dict[EndpointKey, float]:
    return {k: v for k, s in window.endpoints.items() if (v := s.quantile_ms(q)) is not None}


def _merged_quantile(
    a: Mapping[EndpointKey, float],
    b: Mapping[EndpointKey, float],
    histograms: Mapping[EndpointKey, Histogram],
    q: float,
) -> dict[EndpointKey, float]:
    """Each endpoint's ``q`` quantile over two merged intervals, from the merged histogram."""
    out: dict[EndpointKey, float] = {}
    for k in set(a) | set(b):
        value = histograms[k].quantile_ms(q) if k in histograms else None
        if value is None:  # no histogram (not a live interval): the worse half's, coarsened
            value = max(v for v in (a.get(k), b.get(k)) if v is not None)
        out[k] = value
    return out
