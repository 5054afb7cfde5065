"""A day-long soak over 300 endpoints keeps the timeline and summary.json bounded (issue 14, item 1-2).

The run is simulated over a fake clock (no run could last a day in a test), the way a distributed
run records it: a worker's real StatsStore records every request and is drained once a minute (a
worker's report), the master's StatsStore adds each delta, and the real Timeline takes each
minute's delta as an interval. A standalone run's ``Timeline.tick`` makes the same interval from two
cumulative snapshots (``Snapshot.since``, tested in tests/stats/test_store.py); subtracting a day's
cumulative histograms every minute doubled the cost of this module without bearing on its bounds.
Intervals are a minute apart (the default is 5 s) so the day takes 1,440 of them: more than the
720 points the timeline may hold, so it has to merge.
"""

from __future__ import annotations

import itertools
import json
import random
import sys
from dataclasses import replace

import pytest

from runner.judge.verdict import decide
from runner.model import EndpointKey, Result, RunInfo, RunRecord, Status
from runner.reports.load import record_from_dict
from runner.reports.summary_json import summary_dict, summary_text
from runner.reports.summary_tables import INTERVAL
from runner.stats.store import StatsStore, Timeline
from tests.support.timelines import FakeClock

T0 = 1_790_000_000.0
ENDPOINTS = 300
DAY_S = 24 * 3600
TICK_S = 60
SUMMARY_MAX_BYTES = 2_000_000  # the simulated day writes 1.9 MB (docs/summary-schema.md, "Size bound")
TIMELINE_MAX_BYTES = 2_000_000


def _soak(
    *, hours: float, endpoints: int = ENDPOINTS, per_tick: int = 2
) -> tuple[StatsStore, Timeline, FakeClock]:
    """``hours`` of ``per_tick`` requests per endpoint per minute, latencies spread like a real
    service's (log-normal, a factor ~6 between p5 and p95), recorded for real by a worker's store,
    added up by the master's store (returned) and given to the timeline minute by minute."""
    rng = random.Random(14)
    latencies = [rng.lognormvariate(3.5, 0.6) for _ in range(61)]
    clock = FakeClock(T0)
    worker = StatsStore(clock=clock, max_endpoints=endpoints)
    master = StatsStore(clock=clock, max_endpoints=endpoints)
    timeline = Timeline()
    names = [f"/api/v1/resource-{i}/{{id}}" for i in range(endpoints)]
    k = 0
    for _tick in range(int(hours * 3600 / TICK_S)):
        for name in names:
            for _ in range(per_tick):
                k += 1
                worker.record("GET", name, latencies[k % 61], 500 if k % 211 == 0 else 200, k % 211 == 0, 90)
        clock.t += TICK_S
        delta = worker.drain(users=300)
        master.add(delta)
        timeline.add(delta, users=300)
    return master, timeline, clock


def _timeline_bytes(timeline: Timeline) -> int:
    return len(json.dumps([INTERVAL.dump(p) for p in timeline.points]))


def _record(store: StatsStore, timeline: Timeline, end: float) -> RunRecord:
    whole = store.snapshot(users=300)
    judged = replace(whole, start=T0 + 600)  # a steady state: the same requests here (what matters is size)
    result = Result("all requests p95", "p95 <= 500 ms", 40.0, 500.0, Status.PASS, "within", "ms")
    return RunRecord(
        info=RunInfo("soak_20260901T000000Z", "soak", "http://127.0.0.1:8080", T0),
        run_start=T0,
        run_end=end,
        window_start=judged.start,
        window_end=end,
        window_kind="steady_state",
        whole=whole,
        judged=judged,
        timeline=timeline.points,
        verdict=decide((result,)),
        command=("loadlens", "run", "--scenario", "soak"),
        versions={"loadlens": "0.1.0", "locust": "2.47.0"},
    )


@pytest.fixture(scope="module")
def day() -> tuple[StatsStore, Timeline, FakeClock]:
    return _soak(hours=24)


class TestDayLongTimeline:
    def test_the_timeline_stays_bounded_in_entries(self, day: tuple[StatsStore, Timeline, FakeClock]) -> None:
        """24 h x 300 endpoints: at most 720 points and at most 60,000 endpoint cells (digest rows and
        held histograms), not one row per endpoint per interval for the whole day."""
        _store, timeline, _clock = day
        points = timeline.points
        cells = sum(len(p.endpoint_counts) for p in points)
        assert len(points) <= 720
        assert cells <= 60_000, f"{len(points)} points hold {cells} endpoint cells"

    def test_the_timeline_stays_bounded_in_bytes(self, day: tuple[StatsStore, Timeline, FakeClock]) -> None:
        """Serialised as summary.json writes it, the day's timeline is under 2 MB."""
        _store, timeline, _clock = day
        assert _timeline_bytes(timeline) < TIMELINE_MAX_BYTES

    def test_totals_stay_exact(self, day: tuple[StatsStore, Timeline, FakeClock]) -> None:
        """However often it merged, the timeline adds up to every request of the day and spans it."""
        store, timeline, clock = day
        points = timeline.points
        assert (
            sum(p.total.count for p in points)
            == store.snapshot().total().count
            == DAY_S // TICK_S * ENDPOINTS * 2
        )
        assert (
            sum(n for p in points for n, _f in p.endpoint_counts.values()) == store.snapshot().total().count
        )
        assert points[0].start == T0 and points[-1].end == clock.t
        assert all(a.end == b.start for a, b in itertools.pairwise(points))

    def test_summary_json_stays_bounded_and_rejudges_exactly(
        self, day: tuple[StatsStore, Timeline, FakeClock]
    ) -> None:
        """The whole summary.json of the day (judged window and whole run with every endpoint's
        histogram, the timeline) is under the stated bound, and the judged window read back is the
        one written: the histograms that re-judging reads are complete."""
        store, timeline, clock = day
        record = _record(store, timeline, clock.t)
        text = summary_text(record)
        assert len(text.encode()) < SUMMARY_MAX_BYTES
        back = record_from_dict(json.loads(text))
        key = EndpointKey("GET", "/api/v1/resource-7/{id}")
        assert back.judged.endpoints[key].histogram == record.judged.endpoints[key].histogram
        assert back.judged.total().count == record.judged.total().count
        assert summary_dict(back)["client"]["timeline"] == summary_dict(record)["client"]["timeline"]


def test_a_short_narrow_run_keeps_full_resolution() -> None:
    """The budget only bites on long, wide runs: an hour over 5 endpoints keeps every minute."""
    _store, timeline, _clock = _soak(hours=1, endpoints=5)
    assert len(timeline.points) == 60


def test_an_interval_histogram_holds_memory_for_its_own_buckets_only() -> None:
    """The timeline keeps one interval histogram per endpoint per point. Cut from a cumulative
    histogram of 300 buckets, an interval with 2 new requests is a dict of 2 entries in memory too,
    not one with the capacity of the 300 (dicts do not shrink when entries are deleted)."""
    clock = FakeClock(T0)
    store = StatsStore(clock=clock)
    for i in range(300):
        store.record("GET", "/a", 1.0 * 1.02**i, 200, False, 0)
    clock.t += 5
    earlier = store.snapshot()
    store.record("GET", "/a", 5.0, 200, False, 0)
    store.record("GET", "/a", 50.0, 200, False, 0)
    clock.t += 5
    window = store.snapshot().since(earlier)
    counts = window.endpoints[EndpointKey("GET", "/a")].histogram.counts
    assert len(counts) == 2
    assert sys.getsizeof(counts) <= sys.getsizeof({1: 1, 2: 1, 3: 1, 4: 1, 5: 1})


def _spans(timeline: Timeline) -> set[float]:
    """The time each point spans, the one still gathering ticks (the last) left out."""
    return {round(p.end - p.start, 6) for p in timeline.points[:-1]}


def _one_request_per_tick(ticks: int, *, max_points: int) -> tuple[Timeline, FakeClock]:
    """A timeline of ``ticks`` 5 s ticks from T0, one 12 ms GET /a in each."""
    clock = FakeClock(T0)
    store = StatsStore(clock=clock)
    timeline = Timeline(max_points=max_points)
    for _ in range(ticks):
        store.record("GET", "/a", 12.0, 200, False, 10)
        clock.t += 5
        timeline.tick(store.snapshot(users=1))
    return timeline, clock


def test_every_point_spans_the_same_time_after_merging() -> None:
    """Once it has halved, the timeline gathers ticks a stride at a time: one resolution over the
    whole run, not a first point of hours beside last points of one tick."""
    timeline, _ = _one_request_per_tick(1000, max_points=16)
    points = timeline.points
    assert 8 <= len(points) <= 17
    assert _spans(timeline) == {5.0 * 64}  # 1,000 ticks in 16 points: 64 ticks each
    assert points[-1].end - points[-1].start <= 5.0 * 64
    assert sum(p.total.count for p in points) == 1000
    assert all(a.end == b.start for a, b in itertools.pairwise(points))


def test_a_wide_run_with_spread_latencies_keeps_tens_of_points() -> None:
    """300 endpoints whose latencies spread over three decades (hundreds of histogram buckets each,
    as a real service under load gives): the oldest points give up their per-endpoint histograms
    before the timeline halves, so an hour keeps tens of points of equal length, where holding
    every histogram left a handful, the first spanning almost the whole run."""
    rng = random.Random(7)
    latencies = [rng.lognormvariate(2.5, 1.3) for _ in range(5000)]
    clock = FakeClock(T0)
    store = StatsStore(clock=clock, max_endpoints=300)
    timeline = Timeline()
    names = [f"/item/{i}" for i in range(300)]
    k = 0
    for _tick in range(3600 // 5):
        for name in names:
            k += 1
            store.record("GET", name, latencies[k % 5000], 200, False, 10)
        clock.t += 5
        timeline.tick(store.snapshot(users=39))
    points = timeline.points
    assert len(points) >= 20, [p.end - p.start for p in points]
    assert len(_spans(timeline)) == 1
    assert timeline.cost <= 1_500_000 * 1.2  # the budget, give or take the point being gathered
    assert sum(p.total.count for p in points) == k


def test_a_merged_percentile_without_histograms_is_never_better_than_measured() -> None:
    """Two points whose per-endpoint histograms were given up merge to the worse of their p95s."""
    from runner.stats.timeline import merge_pair

    clock = FakeClock(T0)
    store = StatsStore(clock=clock)
    timeline = Timeline(max_points=1000)
    for latency in (10.0, 900.0):
        for _ in range(50):
            store.record("GET", "/a", latency, 200, False, 10)
        clock.t += 5
        timeline.tick(store.snapshot(users=1))
    a, b = (replace(p, endpoint_histograms={}) for p in timeline.points)
    merged = merge_pair([a, b])
    key = EndpointKey("GET", "/a")
    assert merged.endpoint_p95_ms[key] == max(a.endpoint_p95_ms[key], b.endpoint_p95_ms[key])
    assert merged.endpoint_counts[key] == (100, 0)
    assert merged.total.count == 100
    exact = merge_pair(list(timeline.points))  # with the histograms: read from their sum
    assert exact.endpoint_p95_ms[key] == exact.endpoint_histograms[key].quantile_ms(0.95)


def test_two_halvings_in_a_row_lose_no_request() -> None:
    """A halving that leaves an odd point hands it to the point being gathered; a second halving
    right after (the budget still passed) merges its own odd point into that one, not over it."""
    timeline, clock = _one_request_per_tick(23, max_points=1000)
    timeline._halve()  # 23 -> 11 points and one gathering
    timeline._halve()  # 11 -> 5 points, the odd one merged into the one gathering
    points = timeline.points
    assert sum(p.total.count for p in points) == 23
    assert points[0].start == T0 and points[-1].end == clock.t
    assert all(a.end == b.start for a, b in itertools.pairwise(points))
