"""Soak analysis: Theil-Sen, trends over the steady state, and the leak criterion."""

from __future__ import annotations

import random
import statistics

import pytest

from runner.judge.server import judge_server
from runner.judge.soak import (
    MAX_POINTS,
    client_p95_trend,
    format_duration,
    leak_criterion,
    reduce_points,
    series_trend,
    theil_sen,
    trend,
)
from runner.model import Status
from runner.sources.base import SourceResult
from tests.support.timelines import Stretch, Traffic, record, series

T0 = 1_699_970_400.0  # 2023-11-14 14:00:00 UTC
HOUR = 3600.0


def ols_slope(points: list[tuple[float, float]]) -> float:
    mx = statistics.mean(x for x, _ in points)
    my = statistics.mean(y for _, y in points)
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)


def with_outliers(n: int, *, seed: int = 5) -> list[tuple[float, float]]:
    """y = 1 + 0.5 x with small noise; 20 % of the points thrown 50-150 off (down early, up late)."""
    rng = random.Random(seed)
    pts = [(float(i), 1 + 0.5 * i + rng.gauss(0, 0.5)) for i in range(n)]
    for i in rng.sample(range(n), n // 5):
        pts[i] = (pts[i][0], pts[i][1] + rng.uniform(50, 150) * (1 if i > n // 2 else -1))
    return pts


def memory(values_at: list[float], *, period_s: float = 60.0, start: float = T0, unit: str = "Percent", **kw):
    return series("MemoryUtilization", values_at, start=start, period_s=period_s, unit=unit, **kw)


def climbing(
    hours: float, *, level: float, per_hour: float, noise: float = 0.0, seed: int = 1
) -> list[float]:
    """One value a minute, on the line ``level + per_hour * t`` at each minute's middle, plus noise."""
    rng = random.Random(seed)
    return [level + per_hour * (k + 0.5) / 60 + rng.gauss(0, noise) for k in range(round(hours * 60))]


class TestTheilSen:
    def test_an_exact_line_is_recovered(self) -> None:
        """Points on y = 3 + 2 x give slope 2 and intercept 3, with a zero-width interval."""
        fit = theil_sen([(x, 3 + 2 * x) for x in range(10)])
        assert fit is not None
        assert (fit.slope, fit.intercept, fit.slope_low, fit.slope_high) == (2, 3, 2, 2)
        assert (fit.points, fit.pairs) == (10, 45)

    def test_twenty_percent_outliers_barely_move_it(self) -> None:
        """With a fifth of the points far off, the slope stays within 3 % while least squares doubles."""
        pts = with_outliers(100)
        fit = theil_sen(pts)
        assert fit is not None
        assert fit.slope == pytest.approx(0.5, rel=0.03)
        assert ols_slope(pts) > 0.8  # the same data fool an ordinary least-squares line

    def test_a_long_series_is_reduced_and_bounded(self) -> None:
        """100,000 points are fitted through 200 group medians: at most 19,900 slopes, still robust."""
        pts = with_outliers(100_000)
        assert len(reduce_points(pts)) == MAX_POINTS
        fit = theil_sen(pts)
        assert fit is not None
        assert fit.pairs <= MAX_POINTS * (MAX_POINTS - 1) // 2
        assert fit.points == 100_000
        assert fit.slope == pytest.approx(0.5, rel=0.01)

    def test_the_interval_covers_the_true_slope_most_of_the_time(self) -> None:
        """Sen's 95 % interval holds the true slope in about 95 of 100 noisy series."""
        rng = random.Random(11)
        hits = 0
        for _ in range(100):
            fit = theil_sen([(x, 0.5 * x + rng.gauss(0, 3)) for x in range(60)])
            assert fit is not None
            hits += fit.slope_low <= 0.5 <= fit.slope_high
        assert 88 <= hits <= 100

    @pytest.mark.parametrize("points", [[], [(1.0, 2.0)], [(1.0, 2.0), (1.0, 5.0), (1.0, 9.0)]])
    def test_no_line_without_two_distinct_x(self, points) -> None:
        """Fewer than two points, or all at one x, have no slope."""
        assert theil_sen(points) is None


class TestTrend:
    def test_memory_climbing_four_points_an_hour(self) -> None:
        """50 % climbing 4 points an hour for an hour ends at 54 % and reaches 80 % 6.5 hours later."""
        got = series_trend(
            memory(climbing(1, level=50, per_hour=4)), window_start=T0, window_end=T0 + HOUR, limit=80
        )
        assert got.slope_per_h == pytest.approx(4)
        assert got.start_level == pytest.approx(50)
        assert got.end_level == pytest.approx(54)
        assert got.growth_per_h == pytest.approx(4)  # percentage points per hour for a percent metric
        assert got.relative_percent_per_h == pytest.approx(8)  # 4 of the starting 50
        assert got.time_to_limit_s == pytest.approx(6.5 * HOUR)
        assert (got.points, got.covered_s, got.unit) == (60, HOUR, "percent")

    def test_bytes_grow_relative_to_their_starting_level(self) -> None:
        """RSS from 500 MiB growing 10 MiB an hour is 2 %/h of its start."""
        mib = 1024 * 1024
        values = [v * mib for v in climbing(2, level=500, per_hour=10)]
        rss = memory(values, unit="Bytes", source="process", resource="pid:1")
        got = series_trend(rss, window_start=T0, window_end=T0 + 2 * HOUR)
        assert got.unit == "bytes"
        assert got.growth_per_h == pytest.approx(2.0)

    def test_not_rising_has_no_time_to_the_limit(self) -> None:
        """A falling series never reaches its limit; one already above it reaches it now."""
        falling = series_trend(
            memory(climbing(1, level=60, per_hour=-2)), window_start=T0, window_end=T0 + HOUR, limit=80
        )
        assert falling.time_to_limit_s is None
        above = series_trend(
            memory(climbing(1, level=85, per_hour=-2)), window_start=T0, window_end=T0 + HOUR, limit=80
        )
        assert above.time_to_limit_s == 0.0

    def test_only_points_inside_the_window_count(self) -> None:
        """A ramp-up before the steady state does not bend the line."""
        ramp = [10.0 + 2 * k for k in range(20)]  # twenty minutes climbing fast, before the window
        flat = [50.0] * 60
        got = series_trend(memory(ramp + flat, start=T0 - 20 * 60), window_start=T0, window_end=T0 + HOUR)
        assert got.points == 60
        assert got.slope_per_h == 0

    def test_too_few_points_give_no_line(self) -> None:
        """One point in the window has no slope, and says so by None fields."""
        got = trend([(T0 + 10, 50.0)], window_start=T0, window_end=T0 + HOUR, unit="percent")
        assert (got.points, got.slope_per_h, got.growth_per_h, got.covered_s) == (1, None, None, 0.0)


LEAK = {"warn_per_hour": 1.0, "fail_per_hour": 2.0, "metric_label": "ECS memory"}


class TestLeakCriterion:
    def test_a_growing_service_fails_while_every_absolute_limit_holds(self) -> None:
        """Memory climbing 3 points an hour from 40 % fails the leak criterion yet never nears 80 %."""
        mem = memory(climbing(2, level=40, per_hour=3, noise=0.5))
        window = {"window_start": T0, "window_end": T0 + 2 * HOUR}
        absolute = judge_server(SourceResult(series=(mem,)), **window)
        assert {r.name: r.status for r in absolute}["server ECS memory"] is Status.PASS
        assert max(v for _, v in mem.points) < 50
        result = leak_criterion(series_trend(mem, limit=80, **window), **LEAK)
        assert result.status is Status.FAIL
        assert result.observed == pytest.approx(3, rel=0.1)
        assert (result.name, result.unit, result.scope, result.limit) == (
            "ECS memory growth",
            "%/h",
            "server",
            2.0,
        )
        assert result.criterion == "growth <= 2 %/h (WARN from 1 %/h)"
        assert "above the leak limit 2 %/h" in result.reason

    def test_the_reason_names_the_slope_and_the_time_to_the_limit(self) -> None:
        """The reason says how fast, over how long, and when the limit would be reached."""
        mem = memory(climbing(1, level=71, per_hour=4.1))
        result = leak_criterion(series_trend(mem, window_start=T0, window_end=T0 + HOUR, limit=80), **LEAK)
        assert result.reason == (
            "ECS memory grows 4.10 %/h (percentage points, Theil-Sen over 1h00m, 60 points); "
            "would reach 80 % in 1h12m; above the leak limit 2 %/h"
        )

    def test_a_flat_noisy_series_passes(self) -> None:
        """Memory swinging ±4 points around 60 % with no trend passes."""
        mem = memory(climbing(2, level=60, per_hour=0, noise=2.0, seed=4))
        values = [v for _, v in mem.points]
        assert max(values) - min(values) > 8
        result = leak_criterion(
            series_trend(mem, window_start=T0, window_end=T0 + 2 * HOUR, limit=80), **LEAK
        )
        assert result.status is Status.PASS
        assert abs(result.observed or 0) < 0.5
        assert result.reason.endswith("under 1 %/h")

    def test_growth_in_the_warning_band_warns(self) -> None:
        """1.5 points an hour is at or above the warning level and within the failing one."""
        mem = memory(climbing(1, level=50, per_hour=1.5))
        result = leak_criterion(series_trend(mem, window_start=T0, window_end=T0 + HOUR), **LEAK)
        assert result.status is Status.WARN
        assert "at or above the warning level 1 %/h" in result.reason

    def test_a_climb_not_told_apart_from_noise_warns_instead_of_failing(self) -> None:
        """A fast slope whose 95 % interval reaches down to zero is a WARN that says why, not a FAIL."""
        rng = random.Random(0)
        pts = [(T0 + 60 * k + 30, 50 + 3 * (k + 0.5) / 60 + rng.gauss(0, 4)) for k in range(40)]
        got = trend(pts, window_start=T0, window_end=T0 + 2400, unit="percent")
        assert got.growth_per_h is not None and got.growth_per_h > 2
        assert got.growth_interval_per_h is not None and got.growth_interval_per_h[0] <= 0
        result = leak_criterion(got, **LEAK, min_duration_s=1800)
        assert result.status is Status.WARN
        assert "includes no growth: WARN, not FAIL" in result.reason

    def test_a_short_steady_state_is_inconclusive_and_says_how_long_is_needed(self) -> None:
        """Twenty minutes of data cannot show a leak: INCONCLUSIVE, asking for 30 minutes."""
        mem = memory(climbing(1 / 3, level=50, per_hour=10))
        result = leak_criterion(series_trend(mem, window_start=T0, window_end=T0 + HOUR / 3), **LEAK)
        assert result.status is Status.INCONCLUSIVE
        assert result.observed is None
        assert result.reason == (
            "ECS memory: only 20 min with 20 points in the steady state; a trend needs at least "
            "30 min of steady state and 10 points (run the soak longer)"
        )

    def test_too_few_points_are_inconclusive(self) -> None:
        """Four quarter-hour points over an hour are too sparse for a trend."""
        mem = memory([50, 55, 60, 65], period_s=900)
        result = leak_criterion(series_trend(mem, window_start=T0, window_end=T0 + HOUR), **LEAK)
        assert result.status is Status.INCONCLUSIVE
        assert "with 4 points" in result.reason

    def test_relative_growth_for_bytes(self) -> None:
        """RSS growing 5 % of its start an hour fails a 2 %/h limit, and the reason names the base."""
        mib = 1024 * 1024
        rss = memory([v * mib for v in climbing(1, level=512, per_hour=25.6)], unit="Bytes")
        result = leak_criterion(series_trend(rss, window_start=T0, window_end=T0 + HOUR), **LEAK)
        assert result.status is Status.FAIL
        assert result.observed == pytest.approx(5.0)
        assert "of the starting 512 MiB" in result.reason

    def test_warn_only_and_fail_only(self) -> None:
        """Either level may be left out; a warn level alone never fails."""
        mem = memory(climbing(1, level=50, per_hour=5))
        got = series_trend(mem, window_start=T0, window_end=T0 + HOUR)
        warn_only = leak_criterion(got, warn_per_hour=1, fail_per_hour=None, metric_label="m")
        assert (warn_only.status, warn_only.limit) == (Status.WARN, 1)
        fail_only = leak_criterion(got, warn_per_hour=None, fail_per_hour=2, metric_label="m")
        assert fail_only.status is Status.FAIL

    @pytest.mark.parametrize(("warn", "fail"), [(None, None), (3.0, 2.0)])
    def test_rejects_bad_levels(self, warn, fail) -> None:
        """No level at all, or a warn level above the fail level, is a caller's mistake."""
        got = trend([], window_start=T0, window_end=T0 + HOUR)
        with pytest.raises(ValueError):
            leak_criterion(got, warn_per_hour=warn, fail_per_hour=fail, metric_label="m")


class TestClientP95Trend:
    def test_a_slowing_service_shows_in_the_p95_trend(self) -> None:
        """p95 creeping from 100 to 130 ms over an hour is 30 ms/h, 30 %/h of its start: a client FAIL."""
        creeping = Traffic("GET", "/api", 10, lambda t: 100 + 30 * (t - T0) / HOUR)
        timeline = record([Stretch(3600, (creeping,))], start=T0)
        got = client_p95_trend(timeline, window_start=T0, window_end=T0 + HOUR)
        assert got.unit == "ms"
        assert got.points == 720
        assert got.slope_per_h == pytest.approx(30, rel=0.03)
        assert got.growth_per_h == pytest.approx(30, rel=0.03)
        result = leak_criterion(
            got, warn_per_hour=5, fail_per_hour=10, metric_label="p95 of all requests", scope="client"
        )
        assert (result.status, result.scope) == (Status.FAIL, "client")
        assert "of the starting 10" in result.reason

    def test_sparse_intervals_are_left_out(self) -> None:
        """At one request a second, no five-second interval has the 20 requests a p95 needs."""
        timeline = record([Stretch(3600, (Traffic("GET", "/api", 1),))], start=T0)
        got = client_p95_trend(timeline, window_start=T0, window_end=T0 + HOUR)
        assert got.points == 0
        result = leak_criterion(got, **LEAK)
        assert result.status is Status.INCONCLUSIVE


class TestFormatDuration:
    @pytest.mark.parametrize(
        ("seconds", "text"),
        [
            (45, "45 s"),
            (119, "119 s"),
            (3480, "58 min"),
            (7800, "2h10m"),
            (3600, "1h00m"),
            (3 * 86400 + 4 * 3600, "3d4h"),
        ],
    )
    def test_reads_like_a_person_would_say_it(self, seconds, text) -> None:
        """Seconds under two minutes, minutes under an hour, then hours and minutes, then days."""
        assert format_duration(seconds) == text


class TestProcessMemoryLeak:
    """The local process's leak is judged on its own RSS, not on its share of the machine's RAM."""

    def test_a_small_process_leaking_half_its_size_an_hour_fails(self) -> None:
        """500 MiB growing 250 MiB/h on a 16 GiB machine is 1.5 %/h of RAM (under any leak limit)
        but 50 %/h of its own RSS at the window start: the leak criterion FAILs on the RSS."""
        from runner.config.load import Thresholds
        from runner.judge.analysis import LeakLimits, analyse

        mib, ram = 2**20, 16 * 2**30
        t0 = 1_700_000_000.0
        rss = [500 * mib + 250 * mib * (i / 60) for i in range(61)]  # one a minute for an hour
        proc = {"source": "process", "resource": "pid:4242", "start": t0}
        memory = series("memory_percent", [r / ram * 100 for r in rss], stat="Sample", **proc)  # type: ignore[arg-type]
        rss_series = series("rss_bytes", rss, stat="Sample", unit="Bytes", **proc)  # type: ignore[arg-type]
        found = analyse(
            timeline=(),
            server=[memory, rss_series],
            window_start=t0,
            window_end=t0 + 3660,
            thresholds=Thresholds(),
            cpu_limit_percent=70,
            memory_limit_percent=80,
            leak=LeakLimits(warn_per_h=2, fail_per_h=5),
        )
        (leak,) = found.results
        assert leak.name == "server process RSS growth"
        assert leak.status is Status.FAIL
        assert leak.observed == pytest.approx(50, rel=0.02)
