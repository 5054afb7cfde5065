"""Client statistics of our own: recorded per request, merged exactly across workers.

The request path (``StatsStore.record``) does a dict lookup, a handful of integer bumps and one
``math.log``; nothing per request is kept, so memory is flat however long a run lasts. A store is
either fed by requests (standalone, worker) or by deltas from workers (master); both give the same
cumulative ``Snapshot``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from runner.model import EndpointKey, EndpointStats, GroupKey, Snapshot
from runner.stats.histogram import _LAST, INV_LOG_GAMMA, MIN_MS, OFFSET, Histogram
from runner.stats.timeline import Timeline

if TYPE_CHECKING:
    from runner.stats.groups import GroupRecorder

__all__ = ["OVERFLOW_NAME", "StatsStore", "Timeline", "from_wire", "to_wire"]

OVERFLOW_NAME = "(other)"
WIRE_VERSION = 3  # 2: rows carry the per-status histograms of non-2xx responses; 3: "groups"
_WIRE_READ = frozenset({1, 2, 3})
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

    def bump(self, response_time_ms: float, status: int, failed: bool, length: int, i: int) -> None:
        """Count one request whose latency falls in bucket ``i`` (what ``StatsStore.record`` does
        inline for an endpoint; a live group's recorder calls this)."""
        self.count += 1
        self.sum_ms += response_time_ms
        if response_time_ms < self.min_ms:
            self.min_ms = response_time_ms
        if response_time_ms > self.max_ms:
            self.max_ms = response_time_ms
        if length:
            self.bytes += length
        st = self.statuses
        st[status] = st.get(status, 0) + 1
        if failed:
            fs = self.failed
            fs[status] = fs.get(status, 0) + 1
        b = self.buckets
        b[i] = b.get(i, 0) + 1
        if not 200 <= status < 300:
            sb = self.status_buckets.get(status)
            if sb is None:
                sb = self.status_buckets[status] = {}
            sb[i] = sb.get(i, 0) + 1

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
        groups: GroupRecorder | None = None,
    ) -> None:
        self._expected = frozenset(expected_statuses)
        # Groups selected by tags or User classes (runner.stats.groups): None when none is configured.
        self.groups = groups
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
        Whether a failed status was "expected" is decided when reading, so workers need no config.
        The endpoint's counting is ``_Recorder.bump`` inlined: no call on the request path."""
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
        groups = self.groups
        if groups is not None:
            groups.record(method, name, response_time_ms, status, failed, length, i)

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
            groups=self.groups.freeze(self._expected) if self.groups is not None else {},
        )

    def drain(self, *, users: int = 0) -> Snapshot:
        """A snapshot of everything since the last drain, then reset (how a worker reports)."""
        snap = self.snapshot(users=users)
        self._endpoints = {}
        if self.groups is not None:
            self.groups.reset()
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
        if delta.groups and self.groups is not None:
            self.groups.add(delta.groups)


# -- the wire format between worker and master (msgpack-friendly: lists, str, int, float) --------
def _row(s: EndpointStats) -> list[Any]:
    return [
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


def _stats(row: list[Any]) -> EndpointStats:
    count, sum_ms, lo, hi, nbytes, statuses, failed, hist = row[:8]
    by_status = row[8] if len(row) > 8 else ()  # version 1 has none
    failed_statuses = {int(c): n for c, n in failed}
    return EndpointStats(
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


def to_wire(snap: Snapshot) -> dict[str, Any]:
    rows = [[key.method, key.name, *_row(s)] for key, s in snap.endpoints.items()]
    groups = [[k.name, k.match, list(k.tags), list(k.user_classes), *_row(s)] for k, s in snap.groups.items()]
    return {
        "v": WIRE_VERSION,
        "start": snap.start,
        "end": snap.end,
        "users": snap.users,
        "endpoints": rows,
        "groups": groups,
    }


def from_wire(data: dict[str, Any]) -> Snapshot:
    if data.get("v") not in _WIRE_READ:
        raise ValueError(f"unknown loadlens wire version {data.get('v')!r}")
    endpoints = {EndpointKey(row[0], row[1]): _stats(row[2:]) for row in data["endpoints"]}
    groups = {
        GroupKey(row[0], row[1], tuple(row[2]), tuple(row[3])): _stats(row[4:])
        for row in data.get("groups", ())
    }
    return Snapshot(
        start=data["start"], end=data["end"], endpoints=endpoints, users=data.get("users", 0), groups=groups
    )
