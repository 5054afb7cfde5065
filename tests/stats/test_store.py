"""Client statistics: histogram accuracy, exact merging, bounded memory, the worker wire format."""

from __future__ import annotations

import math
import random

import pytest

from runner.model import EndpointKey
from runner.stats.histogram import BUCKETS, RELATIVE_ACCURACY, Histogram, bucket_index, bucket_upper_ms
from runner.stats.store import OVERFLOW_NAME, StatsStore, Timeline, from_wire, to_wire


def exact_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


DISTRIBUTIONS = {
    "lognormal": lambda r: r.lognormvariate(3.5, 0.8),
    "bimodal": lambda r: r.gauss(20, 3) if r.random() < 0.9 else r.gauss(900, 100),
    "uniform-wide": lambda r: r.uniform(0.05, 30_000),
    "pareto-tail": lambda r: 5 * r.paretovariate(1.5),
}


class TestHistogramAccuracy:
    @pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
    @pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99, 0.999])
    def test_quantiles_within_one_percent_of_exact(self, name: str, q: float) -> None:
        """Every reported quantile is within 1% of the exact nearest-rank value of the raw data."""
        rng = random.Random(hash((name, q)) & 0xFFFF)
        values = [max(0.01, DISTRIBUTIONS[name](rng)) for _ in range(50_000)]
        store = StatsStore()
        for v in values:
            store.record("GET", "/x", v, 200, False, 0)
        got = store.snapshot().total().quantile_ms(q)
        want = exact_quantile(values, q)
        assert got is not None
        assert abs(got - want) / want <= 0.01

    def test_bucket_edges_bound_relative_error(self) -> None:
        """Each bucket spans at most 2x the stated relative accuracy, so its representative is close."""
        for i in (10, 1000, BUCKETS // 2, BUCKETS - 2):
            lo, hi = bucket_upper_ms(i - 1), bucket_upper_ms(i)
            assert (hi - lo) / hi <= 2 * RELATIVE_ACCURACY + 1e-9
            assert bucket_index(hi) == i

    def test_out_of_range_values_are_clamped_not_lost(self) -> None:
        """Values below 1 µs and above an hour still count, and min/max stay exact."""
        store = StatsStore()
        for v in (0.0, 0.0000001, 10_000_000.0):
            store.record("GET", "/x", v, 200, False, 0)
        total = store.snapshot().total()
        assert total.count == 3
        assert total.min_ms == 0.0 and total.max_ms == 10_000_000.0
        assert total.quantile_ms(1.0) == 10_000_000.0


class TestStoreCounts:
    def test_failures_and_expected_statuses_are_classified(self) -> None:
        """A failed response with an expected status counts as expected, not as a failure."""
        store = StatsStore(expected_statuses=[429])
        store.record("GET", "/r", 5, 200, False, 10)
        store.record("GET", "/r", 5, 429, True, 0)
        store.record("GET", "/r", 5, 500, True, 0)
        store.record("GET", "/r", 5, 0, True, 0)
        s = store.snapshot().endpoints[EndpointKey("GET", "/r")]
        assert (s.count, s.failures, s.expected) == (4, 2, 1)
        assert s.statuses == {200: 1, 429: 1, 500: 1, 0: 1}
        assert s.error_rate == 0.5

    def test_endpoint_cap_folds_extra_names(self) -> None:
        """Names beyond the cap are counted under '(other)', and memory keeps a fixed number of endpoints."""
        store = StatsStore(max_endpoints=10)
        for i in range(50):
            store.record("GET", f"/item/{i}", 1.0, 200, False, 0)
            store.record("GET", f"/item/{i}", 1.0, 200, False, 0)
        snap = store.snapshot()
        assert len(snap.endpoints) == 11
        assert snap.endpoints[EndpointKey("GET", OVERFLOW_NAME)].count == 80
        assert snap.total().count == 100
        assert store.overflowed_requests == 40


class TestMerging:
    def test_worker_deltas_merge_exactly(self) -> None:
        """Merging drained worker deltas at a master gives the same stats as one store seeing everything."""
        rng = random.Random(7)
        workers = [StatsStore() for _ in range(3)]
        master = StatsStore(expected_statuses=[404])
        reference = StatsStore(expected_statuses=[404])
        for _round in range(5):
            for w in workers:
                for _ in range(500):
                    v, code = rng.expovariate(1 / 40), rng.choice([200, 200, 200, 404, 503])
                    name = rng.choice(["/a", "/b", "/c"])
                    w.record("GET", name, v, code, code >= 400, 100)
                    reference.record("GET", name, v, code, code >= 400, 100)
                master.add(from_wire(to_wire(w.drain())))
        got, want = master.snapshot(), reference.snapshot()
        assert set(got.endpoints) == set(want.endpoints)
        for key in want.endpoints:
            g, w = got.endpoints[key], want.endpoints[key]
            assert (g.count, g.failures, g.expected, g.statuses, g.bytes) == (
                w.count,
                w.failures,
                w.expected,
                w.statuses,
                w.bytes,
            )
            assert g.histogram == w.histogram
            assert g.sum_ms == pytest.approx(w.sum_ms)
            assert (g.min_ms, g.max_ms) == (w.min_ms, w.max_ms)

    def test_window_is_difference_of_cumulative_snapshots(self) -> None:
        """A window taken as later-minus-earlier holds exactly the requests recorded in between."""
        clock = iter(range(100)).__next__
        store = StatsStore(clock=lambda: float(clock()))
        for _ in range(10):
            store.record("GET", "/a", 100.0, 200, False, 0)
        start = store.snapshot()
        for _ in range(30):
            store.record("GET", "/a", 5.0, 500, True, 0)
        window = store.snapshot().since(start)
        t = window.total()
        assert (t.count, t.failures) == (30, 30)
        assert t.quantile_ms(0.5) == pytest.approx(5.0, rel=0.01)
        assert t.histogram == Histogram({bucket_index(5.0): 30})


class TestStatusLatency:
    """Latency of non-2xx responses is kept per status, so the verdict can set expected ones apart
    (issue 8, item 8) while workers still need no configuration."""

    def test_non_2xx_latency_is_kept_per_status(self) -> None:
        """A 429's latency is in its status histogram too; 2xx statuses get none (the hot path stays cheap)."""
        store = StatsStore()
        for _ in range(9):
            store.record("GET", "/a", 2.0, 429, True, 0)
        store.record("GET", "/a", 300.0, 200, False, 0)
        stats = store.snapshot().endpoints[EndpointKey("GET", "/a")]
        assert set(stats.status_histograms) == {429}
        assert stats.status_histograms[429] == Histogram({bucket_index(2.0): 9})
        assert stats.histogram.total == 10

    def test_excluding_statuses_leaves_the_rest_exactly(self) -> None:
        """Setting 429 apart leaves the 200s: count, histogram and p50 of those alone."""
        store = StatsStore()
        for _ in range(90):
            store.record("GET", "/a", 2.0, 429, True, 0)
        for _ in range(10):
            store.record("GET", "/a", 300.0, 200, False, 0)
        kept = store.snapshot().total().excluding(frozenset({429}))
        assert kept.count == 10
        assert kept.histogram == Histogram({bucket_index(300.0): 10})
        assert kept.quantile_ms(0.5) == pytest.approx(300.0, rel=RELATIVE_ACCURACY)

    def test_status_histograms_cross_the_wire_and_are_classified_at_the_master(self) -> None:
        """A worker (no expected statuses) sends per-status histograms; the master's snapshot knows
        its own expected set and can set those responses apart."""
        worker = StatsStore()
        for _ in range(5):
            worker.record("GET", "/a", 2.0, 429, True, 0)
        worker.record("GET", "/a", 80.0, 200, False, 0)
        master = StatsStore(expected_statuses=[429])
        master.add(from_wire(to_wire(worker.drain())))
        snap = master.snapshot()
        assert snap.expected_statuses == frozenset({429})
        stats = snap.endpoints[EndpointKey("GET", "/a")]
        assert stats.expected == 5 and stats.failures == 0
        assert stats.excluding(snap.expected_statuses).histogram == Histogram({bucket_index(80.0): 1})

    def test_a_version_1_worker_report_is_still_read(self) -> None:
        """A report without per-status histograms (wire version 1) merges as before, with none."""
        worker = StatsStore()
        worker.record("GET", "/a", 2.0, 429, True, 0)
        data = to_wire(worker.drain())
        data["v"] = 1
        data["endpoints"] = [row[:10] for row in data["endpoints"]]
        stats = from_wire(data).endpoints[EndpointKey("GET", "/a")]
        assert stats.count == 1 and stats.status_histograms == {}

    def test_windows_subtract_status_histograms(self) -> None:
        """A window (later - earlier) holds only the 429s that came within it, per status."""
        store = StatsStore(expected_statuses=[429])
        store.record("GET", "/a", 2.0, 429, True, 0)
        earlier = store.snapshot()
        store.record("GET", "/a", 4.0, 429, True, 0)
        window = store.snapshot().since(earlier)
        stats = window.endpoints[EndpointKey("GET", "/a")]
        assert stats.status_histograms[429] == Histogram({bucket_index(4.0): 1})
        assert window.expected_statuses == frozenset({429})


class TestTimeline:
    def test_timeline_stays_bounded_and_keeps_totals(self) -> None:
        """A long run halves its resolution instead of growing, and still sums to the exact totals."""
        now = [0.0]
        store = StatsStore(clock=lambda: now[0])
        timeline = Timeline(max_points=16)
        for step in range(200):
            for _ in range(step % 7 + 1):
                store.record("GET", "/a", 10.0 + step, 200, False, 0)
            now[0] += 5
            timeline.tick(store.snapshot())
        points = timeline.points
        assert len(points) <= 16
        assert sum(p.total.count for p in points) == store.snapshot().total().count
        assert points[0].start == 0.0 and points[-1].end == now[0]

    def test_merged_intervals_are_exact(self) -> None:
        """Merging neighbours adds their histograms: one slow request and 100 fast ones merge into
        a p95 of the fast ones, not the slow one's 5,000 ms (issue 8, item 7)."""
        now = [0.0]
        store = StatsStore(clock=lambda: now[0])
        timeline = Timeline(max_points=2)
        key = EndpointKey("GET", "/a")
        store.record("GET", "/a", 5000.0, 200, False, 0)
        now[0] += 5
        timeline.tick(store.snapshot())
        for _ in range(100):
            store.record("GET", "/a", 10.0, 200, False, 0)
        now[0] += 5
        whole = store.snapshot()  # the two intervals as one span, for comparison
        timeline.tick(whole)
        now[0] += 5
        store.record("GET", "/a", 10.0, 200, False, 0)
        timeline.tick(store.snapshot())
        merged = timeline.points[0]
        assert (merged.start, merged.end) == (0.0, 10.0)
        assert merged.endpoint_counts[key] == (101, 0)
        assert merged.endpoint_p95_ms[key] == pytest.approx(whole.endpoints[key].quantile_ms(0.95))
        assert merged.endpoint_p95_ms[key] == pytest.approx(10.0, rel=RELATIVE_ACCURACY)

    def test_a_merged_interval_cannot_dodge_min_requests(self) -> None:
        """After merging, first_breach sees the exact p95 of 101 requests, so one slow request
        below min_requests does not become "5,000 ms over 101 requests"."""
        from runner.judge.breach import BreachLimits, first_breach

        now = [0.0]
        store = StatsStore(clock=lambda: now[0])
        timeline = Timeline(max_points=2)
        store.record("GET", "/a", 5000.0, 200, False, 0)
        for batch in (100, 1):
            now[0] += 5
            timeline.tick(store.snapshot())
            for _ in range(batch):
                store.record("GET", "/a", 10.0, 200, False, 0)
        now[0] += 5
        timeline.tick(store.snapshot())
        limits = BreachLimits(p95_ms=500, every_endpoint_p95_ms=500)
        assert first_breach(timeline.points, [], limits) is None

    def test_merging_keeps_memory_bounded(self) -> None:
        """However many ticks, the timeline holds at most max_points intervals, each with at most one
        histogram per endpoint."""
        now = [0.0]
        store = StatsStore(clock=lambda: now[0])
        timeline = Timeline(max_points=8)
        for step in range(300):
            store.record("GET", f"/e{step % 3}", 1.0 + step, 200, False, 0)
            now[0] += 1
            timeline.tick(store.snapshot())
        assert len(timeline.points) <= 8
        assert all(len(p.endpoint_counts) <= 3 for p in timeline.points)


class TestMemory:
    def test_memory_stays_flat_however_many_requests(self) -> None:
        """600,000 more requests add no memory: nothing per request is kept."""
        import tracemalloc

        rng = random.Random(3)
        names = [f"/e{i}" for i in range(20)]
        # A fixed set of latencies, so the warm-up reaches every bucket the run will use: what is
        # measured is the cost per request, not the discovery of new latency buckets (bounded below).
        latencies = [rng.lognormvariate(3, 1.2) for _ in range(500)]
        store = StatsStore()

        def feed(n: int) -> None:
            for _ in range(n):
                store.record("GET", rng.choice(names), rng.choice(latencies), 200, False, 100)

        feed(200_000)
        # Traced from here on: what the 600,000 later requests allocate and keep (tracing the
        # warm-up too would only slow it down; frees of its memory cannot hide growth either).
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            feed(600_000)
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert store.snapshot().total().count == 800_000
        assert grown < 16 * 1024, grown

    def test_buckets_per_endpoint_are_bounded(self) -> None:
        """Whatever latencies arrive, an endpoint never holds more than the fixed number of buckets."""
        store = StatsStore()
        value = 0.0005
        while value < 10 * 3_600_000:
            store.record("GET", "/x", value, 200, False, 0)
            value *= 1.001
        hist = store.snapshot().total().histogram
        assert len(hist.counts) <= BUCKETS
        assert max(hist.counts) == BUCKETS - 1 and min(hist.counts) == 0
