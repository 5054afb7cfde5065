"""Client against server: periods, series labels, the CPU headroom and CPU-seconds per 1,000 requests."""

from __future__ import annotations

import random

import pytest

from runner.judge.correlate import (
    SeriesRef,
    cpu_seconds_per_1000,
    find_cpu,
    find_memory,
    headroom,
    periods,
    reserved_vcpus,
    resource_series,
)
from runner.stats.histogram import Histogram, bucket_index
from tests.support.timelines import Stretch, Traffic, record, series

T0 = 1_699_970_400.0  # 2023-11-14 14:00:00 UTC, on a minute boundary
API = Traffic("GET", "/api", 20)


def steady(minutes: int, rps: float, *, latency_ms: float = 50.0) -> Stretch:
    return Stretch(minutes * 60, (Traffic("GET", "/api", rps, lambda t: latency_ms),))


class TestPeriods:
    def test_client_intervals_fold_into_server_periods(self) -> None:
        """Five-second intervals add up to one-minute periods: requests, rps, users, full coverage."""
        timeline = record([Stretch(180, (API,), users=7)], start=T0)
        got = periods(timeline, [], period_s=60)
        assert [p.start for p in got] == [T0, T0 + 60, T0 + 120]
        assert [p.requests for p in got] == [1200, 1200, 1200]
        assert [p.rps for p in got] == [20.0, 20.0, 20.0]
        assert all(p.full and p.coverage == 1.0 and p.users == 7 for p in got)

    def test_p95_is_exact_over_the_period_not_the_worst_interval(self) -> None:
        """A period's p95 comes from the merged histograms: one slow interval does not make it slow."""

        def latency(t: float) -> float:
            n = round((t - T0) * 20)  # the request's number: 20 a second
            return 900.0 if 400 <= n < 500 and n % 5 < 2 else 100.0  # 40 of the 5th interval's 100

        timeline = record([Stretch(60, (Traffic("GET", "/api", 20, latency),))], start=T0)
        assert max(iv.total.quantile_ms(0.95) or 0 for iv in timeline) == pytest.approx(900, rel=0.005)
        (period,) = periods(timeline, [], period_s=60)
        raw = Histogram.from_pairs((bucket_index(latency(T0 + n / 20)), 1) for n in range(1200))
        assert period.p95_ms == pytest.approx(raw.quantile_ms(0.95), rel=0.005)
        assert period.p95_ms == pytest.approx(100, rel=0.005)

    def test_server_values_are_overlap_weighted_means(self) -> None:
        """A CloudWatch point maps to its own minute; one-second process samples average over it."""
        timeline = record([Stretch(120, (API,))], start=T0)
        ecs = series("CPUUtilization", [40, 55], start=T0)
        proc = series(
            "cpu_percent",
            [10.0 if s < 60 else 30.0 + (s % 2) * 10 for s in range(120)],
            start=T0,
            period_s=1.0,
            source="process",
            resource="pid:1",
        )
        got = periods(timeline, [ecs, proc], period_s=60)
        assert [p.server[SeriesRef.of(ecs)] for p in got] == [40.0, 55.0]
        assert [p.server[SeriesRef.of(proc)] for p in got] == [10.0, 35.0]

    def test_a_five_minute_point_is_not_a_minutes_value(self) -> None:
        """A point whose period is longer than the analysis period is no minute's value (its average
        holds the other four): only whole server periods inside a period count."""
        timeline = record([Stretch(300, (API,))], start=T0)
        five = series("CPUUtilization", [62], start=T0, period_s=300)
        assert all(SeriesRef.of(five) not in p.server for p in periods(timeline, [five], period_s=60))
        assert [p.server[SeriesRef.of(five)] for p in periods(timeline, [five], period_s=300)] == [62.0]

    def test_a_test_starting_mid_minute_leaves_a_partial_first_period(self) -> None:
        """Intervals go to the period holding their middle; a half-covered period is not full."""
        timeline = record([Stretch(150, (API,))], start=T0 + 30)
        got = periods(timeline, [], period_s=60)
        assert [p.start for p in got] == [T0, T0 + 60, T0 + 120]
        assert [round(p.coverage, 2) for p in got] == [0.5, 1.0, 1.0]
        assert [p.full for p in got] == [False, True, True]
        assert sum(p.requests for p in got) == 3000
        assert got[0].rps == 20.0  # over the half minute the client was there, not the whole minute

    def test_a_minute_without_client_data_has_no_rps(self) -> None:
        """A gap in the timeline is a period with no requests and no rps, not a zero-rps period."""
        timeline = record([Stretch(180, (API,))], start=T0)
        gapped = [iv for iv in timeline if not T0 + 60 <= iv.start < T0 + 120]
        got = periods(gapped, [], period_s=60)
        assert (got[1].requests, got[1].rps, got[1].p95_ms, got[1].full) == (0, None, None, False)

    def test_rejects_a_non_positive_period(self) -> None:
        """A period of zero seconds is a programming error, not an empty answer."""
        with pytest.raises(ValueError, match="period_s"):
            periods(record([Stretch(10, (API,))], start=T0), [], period_s=0)

    def test_no_timeline_gives_no_periods(self) -> None:
        """Without client intervals there is nothing to correlate."""
        assert periods((), [series("CPUUtilization", [50], start=T0)], period_s=60) == ()


class TestSeriesChoice:
    @pytest.mark.parametrize(
        ("source", "resource", "metric", "stat", "label"),
        [
            ("cloudwatch", "ecs:shop/api", "CPUUtilization", "Average", "ECS CPU"),
            ("cloudwatch", "ecs:shop/api", "MemoryUtilization", "Average", "ECS memory"),
            ("cloudwatch", "ecs:shop/api", "CPUUtilization", "Maximum", "ECS CPU (Maximum)"),
            ("cloudwatch", "rds:db-1", "CPUUtilization", "Average", "RDS CPU"),
            ("cloudwatch", "rds-cluster:aurora", "CPUUtilization", "Average", "RDS CPU"),
            ("process", "pid:42", "cpu_percent", "Average", "process CPU"),
            ("process", "pid:42", "memory_percent", "Sample", "process memory"),
            ("prometheus", '{pod="a"}', "memory_percent", "value", "Prometheus memory"),
        ],
    )
    def test_labels_name_what_a_reader_knows(self, source, resource, metric, stat, label) -> None:
        """Each series is named the way the verdict's sentences name it."""
        assert SeriesRef(source, resource, metric, stat, "Percent").label == label

    def test_cpu_and_memory_prefer_the_ecs_service(self) -> None:
        """CloudWatch ECS Average wins over the local process; RDS and Maximum are never the service's."""
        rds = series("CPUUtilization", [30], start=T0, resource="rds:db")
        peak = series("CPUUtilization", [90], start=T0, stat="Maximum")
        proc = series("cpu_percent", [20], start=T0, source="process", resource="pid:1")
        ecs = series("CPUUtilization", [50], start=T0)
        mem = series("memory_percent", [5], start=T0, source="process", resource="pid:1")
        assert find_cpu([rds, peak, proc, ecs]) is ecs
        assert find_cpu([rds, peak, proc]) is proc
        assert find_cpu([rds, peak]) is None
        assert find_memory([rds, proc, mem]) is mem

    def test_resource_series_keeps_cpu_and_memory_only(self) -> None:
        """Request counts and Maximum statistics stay out of the server state a sentence reports."""
        keep = [
            series("CPUUtilization", [50], start=T0),
            series("CPUUtilization", [30], start=T0, resource="rds:db"),
            series("memory_percent", [5], start=T0, source="process", resource="pid:1"),
        ]
        drop = [
            series("CPUUtilization", [90], start=T0, stat="Maximum"),
            series("RequestCount", [900], start=T0, resource="alb:app/x/1", stat="Sum", unit="Count"),
        ]
        assert resource_series(keep + drop) == tuple(keep)


def load_steps(
    levels: list[float], *, minutes: int = 5, start: float = T0
) -> tuple[list[Stretch], list[float]]:
    """Stretches at each rps level, and the per-minute CPU of a service costing 10 % + 0.5 % per rps."""
    rng = random.Random(3)
    stretches = [steady(minutes, rps) for rps in levels]
    cpu = [10 + 0.5 * rps + rng.gauss(0, 1.5) for rps in levels for _ in range(minutes)]
    return stretches, cpu


class TestHeadroom:
    def test_three_load_steps_give_the_rps_at_the_cpu_limit(self) -> None:
        """CPU = 10 % + 0.5 % per rps over steps of 20, 40 and 60 rps reaches 70 % at about 120 rps."""
        stretches, cpu = load_steps([20, 40, 60])
        ecs = series("CPUUtilization", cpu, start=T0)
        h = headroom(
            periods(record(stretches, start=T0), [ecs], period_s=60),
            cpu=SeriesRef.of(ecs),
            cpu_limit_percent=70,
        )
        assert h.points == 15
        assert h.slope_percent_per_rps == pytest.approx(0.5, rel=0.08)
        assert h.rps_at_limit == pytest.approx(120, rel=0.05)
        assert h.ratio_to_tested == pytest.approx(2.0, rel=0.05)
        assert (h.rps_min, h.rps_max) == (20.0, 60.0)
        assert h.summary.startswith("ECS CPU would reach 70 % at about 1")
        assert "highest tested load" in h.summary
        assert "upper bound" in h.caveat

    def test_a_limit_far_beyond_the_tested_load_is_not_an_estimate(self) -> None:
        """CPU 10 % + 0.5 % per rps tested at 0.4-0.8 rps would reach 70 % at ~120 rps, 150x the
        highest tested load: no rps is given, the sentence says the load did not vary enough."""
        stretches, cpu = load_steps([0.4, 0.6, 0.8])
        ecs = series("CPUUtilization", cpu, start=T0)
        h = headroom(
            periods(record(stretches, start=T0), [ecs], period_s=60),
            cpu=SeriesRef.of(ecs),
            cpu_limit_percent=70,
        )
        assert h.rps_at_limit is None and h.ratio_to_tested is None
        assert h.summary.startswith(
            "no headroom estimate: the run did not vary the load enough to estimate headroom"
        )
        assert h.marginal_cpu_s_per_1000 is not None  # the measured cost is still given

    def test_just_past_twice_the_tested_load_is_still_an_estimate(self) -> None:
        """Steps of 20-50 rps reaching 70 % at ~120 rps (2.4x) keep their estimate."""
        stretches, cpu = load_steps([20, 35, 50])
        ecs = series("CPUUtilization", cpu, start=T0)
        h = headroom(
            periods(record(stretches, start=T0), [ecs], period_s=60),
            cpu=SeriesRef.of(ecs),
            cpu_limit_percent=70,
        )
        assert h.rps_at_limit == pytest.approx(120, rel=0.08)

    def test_one_spike_period_does_not_move_the_line(self) -> None:
        """A deploy that pins CPU at 100 % for one minute barely changes the estimate (Theil-Sen)."""
        stretches, cpu = load_steps([20, 40, 60])
        cpu[3] = 100.0
        ecs = series("CPUUtilization", cpu, start=T0)
        h = headroom(
            periods(record(stretches, start=T0), [ecs], period_s=60),
            cpu=SeriesRef.of(ecs),
            cpu_limit_percent=70,
        )
        assert h.rps_at_limit == pytest.approx(120, rel=0.06)

    def test_one_load_level_gives_no_estimate(self) -> None:
        """A steady test at one load cannot tell CPU's slope: no estimate, and the reason says why."""
        stretches, cpu = load_steps([40, 40, 40])
        ecs = series("CPUUtilization", cpu, start=T0)
        h = headroom(
            periods(record(stretches, start=T0), [ecs], period_s=60),
            cpu=SeriesRef.of(ecs),
            cpu_limit_percent=70,
        )
        assert h.rps_at_limit is None
        assert "same load (40 /s-40 /s)" in h.summary
        assert "load steps or a ramp" in h.summary

    def test_too_few_full_periods_give_no_estimate(self) -> None:
        """Two minutes of data are not enough for a line."""
        stretches, cpu = load_steps([20, 60], minutes=1)
        ecs = series("CPUUtilization", cpu, start=T0)
        h = headroom(
            periods(record(stretches, start=T0), [ecs], period_s=60),
            cpu=SeriesRef.of(ecs),
            cpu_limit_percent=70,
        )
        assert (h.rps_at_limit, h.points) == (None, 2)
        assert "at least 3" in h.summary

    def test_cpu_that_does_not_rise_gives_no_estimate(self) -> None:
        """When CPU falls as load rises (a cache warming up), there is no limit to extrapolate to."""
        stretches, _ = load_steps([20, 40, 60])
        ecs = series("CPUUtilization", [50 - m for m in range(15)], start=T0)
        h = headroom(
            periods(record(stretches, start=T0), [ecs], period_s=60),
            cpu=SeriesRef.of(ecs),
            cpu_limit_percent=70,
        )
        assert h.rps_at_limit is None
        assert h.slope_percent_per_rps is not None and h.slope_percent_per_rps < 0
        assert "does not rise with load" in h.summary

    def test_partial_periods_stay_out_of_the_fit(self) -> None:
        """The half-idle first minute of a test starting at :30 would drag the line; it is left out."""
        stretches, cpu = load_steps([20, 40, 60])
        ecs = series("CPUUtilization", [5.0, *cpu], start=T0 - 60)  # the minute before: idle
        got = periods(record(stretches, start=T0 + 30), [ecs], period_s=60)
        assert not got[0].full
        h = headroom(got, cpu=SeriesRef.of(ecs), cpu_limit_percent=70)
        assert h.points == len([p for p in got if p.full])

    def test_a_limit_inside_the_tested_load_is_said_so(self) -> None:
        """When the fitted line crosses the limit below the highest tested rps, the summary says it did."""
        stretches, cpu = load_steps([20, 40, 60])
        ecs = series("CPUUtilization", cpu, start=T0)
        h = headroom(
            periods(record(stretches, start=T0), [ecs], period_s=60),
            cpu=SeriesRef.of(ecs),
            cpu_limit_percent=30,
        )
        assert h.rps_at_limit == pytest.approx(40, rel=0.1)
        assert "within the tested load" in h.summary


class TestCpuSecondsPer1000:
    def test_half_a_core_at_100_rps_is_5_cpu_seconds_per_1000(self) -> None:
        """50 % of one core for 100 requests a second is 5 ms of CPU a request: 5 CPU-seconds per 1,000."""
        timeline = record([steady(3, 100)], start=T0)
        proc = series("cpu_percent", [50.0] * 180, start=T0, period_s=1, source="process", resource="pid:1")
        got = periods(timeline, [proc], period_s=60)
        assert cpu_seconds_per_1000(got, cpu=SeriesRef.of(proc)) == pytest.approx(5.0)
        assert cpu_seconds_per_1000(got, cpu=SeriesRef.of(proc), cores=2) == pytest.approx(10.0)

    def test_the_headroom_line_gives_the_marginal_cost(self) -> None:
        """0.5 % of a core per rps is 5 CPU-seconds per further 1,000 requests; idle CPU makes the average dearer."""
        stretches, cpu = load_steps([20, 40, 60])
        ecs = series("CPUUtilization", cpu, start=T0)
        got = periods(record(stretches, start=T0), [ecs], period_s=60)
        h = headroom(got, cpu=SeriesRef.of(ecs), cpu_limit_percent=70)
        assert h.marginal_cpu_s_per_1000 == pytest.approx(5.0, rel=0.08)
        average = cpu_seconds_per_1000(got, cpu=SeriesRef.of(ecs))
        assert average is not None and average > h.marginal_cpu_s_per_1000

    def test_no_full_period_with_cpu_gives_none(self) -> None:
        """Without CPU data over the requests there is no figure, not a zero."""
        got = periods(record([steady(2, 10)], start=T0), [], period_s=60)
        assert cpu_seconds_per_1000(got, cpu=SeriesRef("process", "pid:1", "cpu_percent", "Average")) is None

    def test_container_insights_tells_the_reserved_vcpus(self) -> None:
        """CpuReserved of 2,048 then 4,096 CPU units (a scale-out) averages to 3 vCPUs over both minutes."""
        reserved = series("CpuReserved", [1024, 2048, 4096, 4096], start=T0 - 60, stat="Average", unit="None")
        assert reserved_vcpus([reserved], start=T0, end=T0 + 120) == pytest.approx(3.0)
        assert reserved_vcpus([series("CPUUtilization", [50], start=T0)], start=T0, end=T0 + 60) is None

    def test_rejects_non_positive_cores(self) -> None:
        """Zero cores is a caller's mistake."""
        with pytest.raises(ValueError, match="cores"):
            cpu_seconds_per_1000((), cpu=SeriesRef("process", "pid:1", "cpu_percent", "Average"), cores=0)


class TestSamplesOffTheEpochGrid:
    """The local process is sampled from whatever sub-second its sampler woke, not on the epoch
    grid the periods are cut on: each sample still counts, in the period holding most of it."""

    @pytest.mark.parametrize(
        ("tick_s", "sample_s"),
        [(1, 1), (2, 1), (5, 1), (40, 8)],
        ids=["interval-1s", "interval-2s", "interval-default-5s", "soak-merged-8s-samples"],
    )
    def test_every_full_period_has_cpu_and_the_cost_is_exact(self, tick_s: int, sample_s: int) -> None:
        """Half a core at 100 rps is 5 CPU-seconds per 1,000 requests whatever the timeline's
        interval, also when a period is as long as a sample (`[run] interval = "1s"`) or a soak's
        history merged samples into 8 s."""
        timeline = record([steady(4, 100)], start=T0, tick_s=tick_s)
        n = 240 // sample_s
        proc = series(
            "cpu_percent", [50.0] * n, start=T0 - 0.63, period_s=sample_s, source="process", resource="pid:1"
        )
        got = periods(timeline, [proc], period_s=max(tick_s, sample_s), window=(T0 + 0.4, T0 + 239.6))
        full = [p for p in got if p.full]
        assert len(full) >= len(got) - 1 >= 3
        assert all(SeriesRef.of(proc) in p.server for p in full)
        assert cpu_seconds_per_1000(got, cpu=SeriesRef.of(proc)) == pytest.approx(5.0)

    def test_a_sample_reaching_out_of_the_judged_window_is_left_out(self) -> None:
        """A sample whose middle is in the last period but which runs on past the window's end (into
        the idle tail, or ramp-up at the start) is no value of that period."""
        timeline = record([Stretch(30, (API,))], start=T0)
        cpu = [50.0] * 30
        cpu[19] = 100.0  # T0 + 19.37 .. T0 + 20.37: past the window's end at T0 + 20.1
        proc = series("cpu_percent", cpu, start=T0 + 0.37, period_s=1, source="process", resource="pid:1")
        got = periods(timeline, [proc], period_s=5, window=(T0, T0 + 20.1))
        assert [p.start for p in got] == [T0, T0 + 5, T0 + 10, T0 + 15]
        assert [p.server[SeriesRef.of(proc)] for p in got] == [50.0] * 4


class TestWholePeriodsAndSaturation:
    """The judged window bounds the correlation, and an empty headroom is told as such."""

    def test_periods_outside_the_judged_window_are_left_out(self) -> None:
        """A ramp-up minute and an excluded warm-up minute stay out of the periods (and so of the fit
        and the CPU cost): only periods lying wholly inside the judged window are kept."""
        stretches, cpu = load_steps([20, 40, 60])
        ecs = series("CPUUtilization", [100.0, *cpu], start=T0 - 60)  # a 100 % warm-up minute first
        timeline = record([Stretch(60, (API,)), *stretches], start=T0 - 60)
        got = periods(timeline, [ecs], period_s=60, window=(T0 + 30, T0 + 15 * 60))
        assert [p.start for p in got] == [T0 + 60 * k for k in range(1, 15)]
        assert all(SeriesRef.of(ecs) in p.server for p in got)
        assert 100.0 not in [p.server[SeriesRef.of(ecs)] for p in got]

    def test_a_line_already_above_the_limit_at_zero_load_gives_no_negative_rps(self) -> None:
        """CPU = 80 % + 0.1 % per rps against a 70 % limit: no "reaches 70 % at about -100 /s", but
        a sentence saying there is no headroom even at zero load."""
        stretches, _ = load_steps([20, 40, 60])
        rps = [20.0] * 5 + [40.0] * 5 + [60.0] * 5
        ecs = series("CPUUtilization", [80 + 0.1 * r for r in rps], start=T0)
        h = headroom(
            periods(record(stretches, start=T0), [ecs], period_s=60),
            cpu=SeriesRef.of(ecs),
            cpu_limit_percent=70,
        )
        assert h.rps_at_limit is None and h.saturated
        assert "-" not in h.summary.split("(")[0]
        assert h.summary.startswith("no headroom: the fitted ECS CPU is above 70 % even at zero load")
