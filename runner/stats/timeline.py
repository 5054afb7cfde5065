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
histogram, exactly what one interval of twice the length would have measured. The judged window
is not read from here (it is a difference of cumulative snapshots), so re-judging stays exact
however coarse the timeline became.
"""

from __future__ import annotations

from collections.abc import Mapping

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
        cost = point_cost(interval)
        self._points.append(interval)
        self._costs.append(cost)
        self._cost += cost
        while len(self._points) > self._max_points or (
            self._cost > self._max_cost and len(self._points) > MIN_POINTS
        ):
            self._halve()
        return interval

    def _halve(self) -> None:
        points = [merge_pair(self._points[i : i + 2]) for i in range(0, len(self._points), 2)]
        self._points = points
        self._costs = [point_cost(p) for p in points]
        self._cost = sum(self._costs)

    @property
    def points(self) -> tuple[Interval, ...]:
        return tuple(self._points)

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
