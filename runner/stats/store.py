"""Client statistics of our own: recorded per request, merged exactly across workers.

The request path (``StatsStore.record``) does a dict lookup, a handful of integer bumps and one
``math.log``; nothing per request is kept, so memory is flat however long a run lasts. A store is
either fed by requests (standalone, worker) or by deltas from workers (master); both give the same
cumulative ``Snapshot``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from runner.model import EndpointKey, EndpointStats, Interval, Snapshot
from runner.stats.histogram import _LAST, INV_LOG_GAMMA, MIN_MS, OFFSET, Histogram

OVERFLOW_NAME = "(other)"
WIRE_VERSION = 2  # 2: rows carry the per-status histograms of non-2xx responses
_WIRE_READ = frozenset({1, 2})
# Bound once: the request path then looks up one global per function instead of two names.
_log = math.log
_ceil = math.ceil


class _Recorder:
    __slots__ = (
        "buckets",
        "bytes",
        "count",
        "failed",
        "max_ms",
        "min_ms",
        "status_buckets",
        "statuses",
        "sum_ms",
    )

    def __init__(self) -> None:
        self.count = 0
        self.sum_ms = 0.0
        self.min_ms = math.inf
        self.max_ms = -math.inf
        self.bytes = 0
        self.statuses: dict[int, int] = {}
        self.failed: dict[int, int] = {}  # failed responses by status: classified at freeze time
        self.buckets: dict[int, int] = {}
        # Non-2xx latency again, per status: a 429 declared expected is set apart where the
        # verdict is made. 2xx responses (nearly all of them) skip this with one comparison.
        self.status_buckets: dict[int, dict[int, int]] = {}

    def freeze(self, expected: frozenset[int]) -> EndpointStats:
        return EndpointStats(
            count=self.count,
            failures=sum(n for code, n in self.failed.items() if code not in expected),
            expected=sum(n for code, n in self.statuses.items() if code in expected),
            sum_ms=self.sum_ms,
            min_ms=self.min_ms if self.count else None,
            max_ms=self.max_ms if self.count else None,
            bytes=self.bytes,
            statuses=dict(self.statuses),
            failed_statuses=dict(self.failed),
            histogram=Histogram(dict(self.buckets)),
            status_histograms={code: Histogram(dict(b)) for code, b in self.status_buckets.items()},
        )

    def add(self, s: EndpointStats) -> None:
        self.count += s.count
        self.sum_ms += s.sum_ms
        if s.min_ms is not None and s.min_ms < self.min_ms:
            self.min_ms = s.min_ms
        if s.max_ms is not None and s.max_ms > self.max_ms:
            self.max_ms = s.max_ms
        self.bytes += s.bytes
        st = self.statuses
        for code, n in s.statuses.items():
            st[code] = st.get(code, 0) + n
        fs = self.failed
        for code, n in s.failed_statuses.items():
            fs[code] = fs.get(code, 0) + n
        b = self.buckets
        for i, c in s.histogram.counts.items():
            b[i] = b.get(i, 0) + c
        for code, h in s.status_histograms.items():
            sb = self.status_buckets.get(code)
            if sb is None:
                sb = self.status_buckets[code] = {}
            for i, c in h.counts.items():
                sb[i] = sb.get(i, 0) + c


class StatsStore:
    """Per-endpoint counters and latency histograms, with a cap on distinct endpoints.

    Not thread-safe by design: under gevent every caller runs on one OS thread and none of these
    methods yields, so a record, a snapshot or a drain is never interleaved with another.
    """

    def __init__(
        self,
        *,
        expected_statuses: Iterable[int] = (),
        max_endpoints: int = 500,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._expected = frozenset(expected_statuses)
        self._max_endpoints = max_endpoints
        self._clock = clock
        self._endpoints: dict[tuple[str, str], _Recorder] = {}
        self._known: set[tuple[str, str]] = set()
        self.overflowed_requests = 0
        self.started = clock()
        self._drained_at = self.started

    # -- the request path ---------------------------------------------------------------------
    def record(
        self, method: str, name: str, response_time_ms: float, status: int, failed: bool, length: int
    ) -> None:
        """Count one request. ``status`` is the HTTP status (0 when there was no response).
        Whether a failed status was "expected" is decided when reading, so workers need no config."""
        rec = self._endpoints.get((method, name))
        if rec is None:
            rec = self._admit(method, name)
        rec.count += 1
        rec.sum_ms += response_time_ms
        if response_time_ms < rec.min_ms:
            rec.min_ms = response_time_ms
        if response_time_ms > rec.max_ms:
            rec.max_ms = response_time_ms
        if length:
            rec.bytes += length
        st = rec.statuses
        st[status] = st.get(status, 0) + 1
        if failed:
            fs = rec.failed
            fs[status] = fs.get(status, 0) + 1
        if response_time_ms > MIN_MS:
            i = _ceil(_log(response_time_ms) * INV_LOG_GAMMA) + OFFSET
            if i > _LAST:
                i = _LAST
        else:
            i = 0
        b = rec.buckets
        b[i] = b.get(i, 0) + 1
        if not 200 <= status < 300:
            sb = rec.status_buckets.get(status)
            if sb is None:
                sb = rec.status_buckets[status] = {}
            sb[i] = sb.get(i, 0) + 1

    def _admit(self, method: str, name: str) -> _Recorder:
        key = (method, name)
        if key not in self._known:
            if len(self._known) >= self._max_endpoints:
                self.overflowed_requests += 1
                key = (method, OVERFLOW_NAME)
            else:
                self._known.add(key)
        rec = self._endpoints.get(key)
        if rec is None:
            rec = self._endpoints[key] = _Recorder()
        if key[1] == OVERFLOW_NAME and (method, name) != key:
            # Later requests of the same overflowing name take the fast path to the same recorder.
            self._endpoints[(method, name)] = rec
        return rec

    # -- reading --------------------------------------------------------------------------------
    def snapshot(self, *, users: int = 0) -> Snapshot:
        """Cumulative statistics since the store was created (or last drained)."""
        endpoints: dict[EndpointKey, EndpointStats] = {}
        seen: set[int] = set()
        for (method, name), rec in self._endpoints.items():
            if id(rec) in seen:  # an overflowing name aliases the overflow recorder
                continue
            seen.add(id(rec))
            key = (method, name) if (method, name) in self._known else (method, OVERFLOW_NAME)
            endpoints[EndpointKey(*key)] = rec.freeze(self._expected)
        return Snapshot(
            start=self._drained_at,
            end=self._clock(),
            endpoints=endpoints,
            users=users,
            expected_statuses=self._expected,
        )

    def drain(self, *, users: int = 0) -> Snapshot:
        """A snapshot of everything since the last drain, then reset (how a worker reports)."""
        snap = self.snapshot(users=users)
        self._endpoints = {}
        self._drained_at = snap.end
        return snap

    # -- merging at the master ------------------------------------------------------------------
    def add(self, delta: Snapshot) -> None:
        """Add a worker's delta. The cap applies here too, so merged label sets stay bounded;
        failures and expected statuses are classified by this store's own expected set."""
        for key, stats in delta.endpoints.items():
            rec = self._endpoints.get((key.method, key.name))
            if rec is None:
                rec = self._admit(key.method, key.name)
            rec.add(stats)


# -- the wire format between worker and master (msgpack-friendly: lists, str, int, float) --------
def to_wire(snap: Snapshot) -> dict[str, Any]:
    rows = []
    for key, s in snap.endpoints.items():
        rows.append(
            [
                key.method,
                key.name,
                s.count,
                s.sum_ms,
                s.min_ms,
                s.max_ms,
                s.bytes,
                [[c, n] for c, n in s.statuses.items()],
                [[c, n] for c, n in s.failed_statuses.items()],
                s.histogram.pairs(),
                [[c, h.pairs()] for c, h in s.status_histograms.items()],
            ]
        )
    return {"v": WIRE_VERSION, "start": snap.start, "end": snap.end, "users": snap.users, "endpoints": rows}


def from_wire(data: dict[str, Any]) -> Snapshot:
    if data.get("v") not in _WIRE_READ:
        raise ValueError(f"unknown loadlens wire version {data.get('v')!r}")
    endpoints: dict[EndpointKey, EndpointStats] = {}
    for row in data["endpoints"]:
        method, name, count, sum_ms, lo, hi, nbytes, statuses, failed, hist = row[:10]
        by_status = row[10] if len(row) > 10 else ()  # version 1 has none
        failed_statuses = {int(c): n for c, n in failed}
        endpoints[EndpointKey(method, name)] = EndpointStats(
            count=count,
            failures=sum(failed_statuses.values()),  # re-classified by the receiving store
            sum_ms=sum_ms,
            min_ms=lo,
            max_ms=hi,
            bytes=nbytes,
            statuses={int(c): n for c, n in statuses},
            failed_statuses=failed_statuses,
            histogram=Histogram.from_pairs(hist),
            status_histograms={int(c): Histogram.from_pairs(pairs) for c, pairs in by_status},
        )
    return Snapshot(start=data["start"], end=data["end"], endpoints=endpoints, users=data.get("users", 0))


class Timeline:
    """The run as a bounded list of intervals. When it reaches ``max_points`` it halves its
    resolution by merging neighbours (exactly: histograms add), so a day-long soak keeps the same
    memory as a short test: at most ``max_points`` intervals, each with one sparse histogram per
    endpoint (and endpoints are capped by the store)."""

    def __init__(self, *, max_points: int = 720) -> None:
        self._max_points = max(2, max_points)
        self._points: list[Interval] = []
        self._last: Snapshot | None = None

    def tick(self, cumulative: Snapshot) -> Interval:
        """Record the interval since the previous tick (the first one: since the store started)."""
        previous, self._last = self._last, cumulative
        if previous is None:
            base = Snapshot(start=cumulative.start, end=cumulative.start, endpoints={})
        else:
            base = previous
        window = cumulative.since(base)
        interval = Interval(
            start=window.start,
            end=window.end,
            users=cumulative.users,
            total=window.total(),
            endpoint_p95_ms={
                k: v for k, s in window.endpoints.items() if (v := s.quantile_ms(0.95)) is not None
            },
            endpoint_counts={k: (s.count, s.failures) for k, s in window.endpoints.items()},
            endpoint_histograms={k: s.histogram for k, s in window.endpoints.items()},
            endpoint_p50_ms=_quantiles(window, 0.50),
            endpoint_p99_ms=_quantiles(window, 0.99),
        )
        self._points.append(interval)
        if len(self._points) > self._max_points:
            self._points = [_merge_pair(self._points[i : i + 2]) for i in range(0, len(self._points), 2)]
        return interval

    @property
    def points(self) -> tuple[Interval, ...]:
        return tuple(self._points)


def _merge_pair(pair: list[Interval]) -> Interval:
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
