"""The timeline keeps each endpoint's p50 and p99 per interval, exactly also after merging."""

from __future__ import annotations

from runner.stats.store import StatsStore, Timeline
from tests.support.timelines import FakeClock


def test_merged_intervals_keep_exact_endpoint_percentiles() -> None:
    """Four intervals merged into two (max_points=3): each p50/p99 is the merged histogram's."""
    clock = FakeClock(1000.0)
    store = StatsStore(clock=clock)
    timeline = Timeline(max_points=3)
    for tick in range(4):
        for i in range(100):
            store.record("GET", "/a", 10.0 + tick * 10 + i * 0.1, 200, False, 10)
        clock.t += 5
        timeline.tick(store.snapshot(users=1))
    points = timeline.points
    assert len(points) == 2
    for iv in points:
        (key,) = iv.endpoint_histograms
        assert iv.endpoint_p50_ms[key] == iv.endpoint_histograms[key].quantile_ms(0.50)
        assert iv.endpoint_p99_ms[key] == iv.endpoint_histograms[key].quantile_ms(0.99)
    assert points[0].endpoint_p50_ms != points[1].endpoint_p50_ms
