"""Server criteria: pure functions from series (or their absence) to verdict rows."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from runner.judge.server import ServerCriteriaLimits, judge_server, source_failed, status_for
from runner.model import Result, Status
from runner.readings import Series
from runner.sources.base import Missing, SourceResult

T0 = 1_700_000_040.0  # on a minute boundary
START, END = T0, T0 + 600  # a ten-minute steady window on minute boundaries: ten whole periods
ECS_RES = "ecs:shop/api"
LB_RES = "alb:app/shop-alb/123"


def hms(t: float) -> str:
    return time.strftime("%H:%M:%SZ", time.gmtime(t))


def series(
    metric: str,
    values: Sequence[float],
    *,
    stat: str = "Average",
    resource: str = ECS_RES,
    start: float = T0,
    source: str = "cloudwatch",
    period_s: float = 60.0,
    unit: str = "Percent",
) -> Series:
    points = tuple((start + i * period_s, float(v)) for i, v in enumerate(values))
    return Series(source, resource, metric, stat, unit, points, period_s)


def missing(
    metric: str,
    *,
    stat: str = "Average",
    resource: str = ECS_RES,
    reason: str = "",
    sparse: bool = False,
    failed: bool = False,
) -> Missing:
    what = f"{metric} of {resource}"
    return Missing("cloudwatch", resource, metric, stat, what, reason or f"no data: {metric}", sparse, failed)


def judge(
    *items: Series | Missing, limits: ServerCriteriaLimits | None = None, required: bool = False
) -> dict[str, Result]:
    result = SourceResult(
        series=tuple(i for i in items if isinstance(i, Series)),
        missing=tuple(i for i in items if isinstance(i, Missing)),
    )
    return {
        r.name: r
        for r in judge_server(result, window_start=START, window_end=END, limits=limits, required=required)
    }


class TestStatusFor:
    @pytest.mark.parametrize(
        ("observed", "limit", "ratio", "expected"),
        [
            (50, 70, 0.9, Status.PASS),
            (62.9, 70, 0.9, Status.PASS),
            (63, 70, 0.9, Status.WARN),
            (70, 70, 0.9, Status.WARN),
            (70.1, 70, 0.9, Status.FAIL),
            (0, 0, 0.9, Status.PASS),
            (1, 0, 0.9, Status.FAIL),
            (80, 100, 0.8, Status.WARN),
        ],
    )
    def test_table(self, observed: float, limit: float, ratio: float, expected: Status) -> None:
        """FAIL above the limit, WARN from ratio * limit up to it (never for a zero limit), PASS below."""
        assert status_for(observed, limit, ratio) is expected


class TestEcsCpuAndMemory:
    def test_pass_shows_max_time_and_window_average(self) -> None:
        """A healthy service passes on the maximum period average, with its time and the window average."""
        rows = judge(
            series("CPUUtilization", [40, 45, 55, 50, 40, 40, 40, 40, 40, 40, 40]),
            series("CPUUtilization", [60, 65, 75, 70, 60, 60, 60, 60, 60, 60, 60], stat="Maximum"),
            series("MemoryUtilization", [50] * 11),
        )
        cpu = rows["server ECS CPU"]
        assert cpu.status is Status.PASS and cpu.scope == "server" and cpu.unit == "percent"
        assert cpu.observed == 55 and cpu.limit == 70
        assert cpu.criterion == "max of 60s averages <= 70 %"
        assert cpu.reason == f"max 55 % at {hms(T0 + 120)}, under the limit 70 %; window average 43 %"
        assert cpu.details["at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0 + 120))
        assert cpu.details["window_average"] == pytest.approx(43.0, abs=1e-3)
        assert cpu.details["peak_maximum"] == 75
        assert cpu.details["resource"] == ECS_RES
        assert rows["server ECS memory"].status is Status.PASS

    @pytest.mark.parametrize(
        ("peak", "expected"),
        [(62, Status.PASS), (63, Status.WARN), (70, Status.WARN), (85, Status.FAIL)],
    )
    def test_peak_against_default_limit(self, peak: float, expected: Status) -> None:
        """The maximum of the period averages decides: WARN from 90 % of 70, FAIL above 70."""
        rows = judge(series("CPUUtilization", [40, 40, 40, peak, 40]))
        assert rows["server ECS CPU"].status is expected

    def test_fail_names_the_time_of_the_peak(self) -> None:
        """CPU peaking at 85 % fails, the reason naming the peak, its minute and the limit."""
        cpu = judge(series("CPUUtilization", [40, 50, 60, 70, 80, 85, 60, 50]))["server ECS CPU"]
        assert cpu.status is Status.FAIL
        assert cpu.reason.startswith(f"max 85 % at {hms(T0 + 300)} is above the limit 70 %; window average")

    def test_preroll_is_not_judged(self) -> None:
        """A spike in the idle baseline before the test start does not count."""
        cpu = judge(series("CPUUtilization", [95, 95, 40, 40, 40], start=T0 - 120))["server ECS CPU"]
        assert cpu.status is Status.PASS and cpu.observed == 40

    def test_period_starting_with_the_window_counts_and_period_at_the_end_does_not(self) -> None:
        """The minute the window starts with is judged; a minute that begins when the window ends is not."""
        cpu = judge(series("CPUUtilization", [90], start=T0))["server ECS CPU"]
        assert cpu.status is Status.FAIL
        after = judge(series("CPUUtilization", [40, 95], start=END - 60))["server ECS CPU"]
        assert after.status is Status.PASS

    def test_only_baseline_points_is_inconclusive(self) -> None:
        """Points only before the window make the row INCONCLUSIVE, saying the window had none."""
        cpu = judge(series("CPUUtilization", [10, 10], start=T0 - 300))["server ECS CPU"]
        assert cpu.status is Status.INCONCLUSIVE and cpu.observed is None
        assert "inside the judged window" in cpu.reason and f"the last at {hms(T0 - 240)}" in cpu.reason

    def test_missing_series_is_inconclusive_with_the_sources_reason(self) -> None:
        """A missing series gives INCONCLUSIVE with the source's reason, required as the caller says."""
        reason = (
            "no datapoints for AWS/ECS CPUUtilization ClusterName=shop ServiceName=api: "
            "check the names and the region"
        )
        rows = judge(missing("CPUUtilization", reason=reason), missing("MemoryUtilization"), required=True)
        assert rows["server ECS CPU"].status is Status.INCONCLUSIVE
        assert rows["server ECS CPU"].reason == reason
        assert rows["server ECS CPU"].required is True
        assert rows["server ECS memory"].status is Status.INCONCLUSIVE

    def test_nothing_configured_gives_no_rows(self) -> None:
        """A source that read nothing yields no server rows at all."""
        assert judge_server(SourceResult(), window_start=START, window_end=END) == ()

    def test_configured_limits_and_warn_ratio(self) -> None:
        """Limits and the WARN ratio come from the caller."""
        rows = judge(
            series("CPUUtilization", [55]),
            series("MemoryUtilization", [45]),
            limits=ServerCriteriaLimits(cpu_percent=50, memory_percent=80, warn_ratio=0.5),
        )
        assert rows["server ECS CPU"].status is Status.FAIL
        assert rows["server ECS CPU"].criterion == "max of 60s averages <= 50 %"
        assert rows["server ECS memory"].status is Status.WARN


class TestWholePeriods:
    """Only periods lying wholly inside the judged window are judged."""

    def test_a_short_steady_state_in_a_minute_period_is_inconclusive_with_the_remedy(self) -> None:
        """A 50 s steady state at 90 % inside a 60 s period that reads 63 % (idle time averaged in)
        is not judged at 63 %: INCONCLUSIVE, saying how long to run or which resolution to use."""
        cpu = series("CPUUtilization", [63], start=T0)
        rows = judge_server(
            SourceResult(series=(cpu,)), window_start=T0 + 5, window_end=T0 + 55, run_s=80, required=True
        )
        row = {r.name: r for r in rows}["server ECS CPU"]
        assert row.status is Status.INCONCLUSIVE and row.observed is None and row.required
        assert row.reason == (
            "the steady window (50 s) holds no whole 60 s CloudWatch period: run at least 2 min 30 s, "
            "or use 1 s/10 s high-resolution metrics"
        )

    def test_an_excluded_warm_up_does_not_leak_into_the_first_period(self) -> None:
        """10 s periods; a 100 % warm-up until :25 (excluded by the window) and 40 % after: the
        period :20-:30 (70 %, half warm-up) is not judged, so a 50 % limit passes."""
        cpu = series("CPUUtilization", [100, 100, 70, 40, 40, 40, 40, 40, 20], start=T0, period_s=10)
        rows = judge_server(
            SourceResult(series=(cpu,)),
            window_start=T0 + 25,
            window_end=T0 + 85,
            limits=ServerCriteriaLimits(cpu_percent=50),
        )
        row = {r.name: r for r in rows}["server ECS CPU"]
        assert row.status is Status.PASS and row.observed == 40
        assert row.details["points"] == 5

    def test_process_and_prometheus_series_follow_the_same_rule(self) -> None:
        """A process sample whose period reaches before the window is not judged either."""
        proc = series("cpu_percent", [150, 30, 30], source="process", resource="pid:1", start=T0, period_s=5)
        rows = judge_server(SourceResult(series=(proc,)), window_start=T0 + 2, window_end=T0 + 15)
        row = {r.name: r for r in rows}["server process CPU"]
        assert row.status is Status.PASS and row.observed == 30


class TestRds:
    def test_not_judged_unless_a_limit_is_set(self) -> None:
        """RDS series alone produce no rows: RDS criteria are opt-in."""
        rows = judge(
            series("CPUUtilization", [99], resource="rds:db"),
            series("DatabaseConnections", [500], stat="Maximum", resource="rds:db"),
        )
        assert rows == {}

    def test_connections_over_the_limit_fail(self) -> None:
        """RDS connections are judged on the per-period Maximum against the configured count."""
        rows = judge(
            series("DatabaseConnections", [40, 120, 60], stat="Maximum", resource="rds:db", unit="Count"),
            limits=ServerCriteriaLimits(rds_connections=100),
        )
        conn = rows["server RDS connections"]
        assert conn.status is Status.FAIL and conn.observed == 120 and conn.unit == "count"
        assert conn.criterion == "max connections <= 100"
        assert conn.reason.startswith(f"max 120 at {hms(T0 + 60)} is above the limit 100")

    def test_instance_and_cluster_each_get_a_row(self) -> None:
        """With an instance and an Aurora cluster, RDS CPU has one row for each, named by resource."""
        rows = judge(
            series("CPUUtilization", [30], resource="rds:db"),
            series("CPUUtilization", [90], resource="rds-cluster:aurora"),
            limits=ServerCriteriaLimits(rds_cpu_percent=80),
        )
        assert set(rows) == {"server RDS CPU (rds:db)", "server RDS CPU (rds-cluster:aurora)"}
        assert rows["server RDS CPU (rds:db)"].status is Status.PASS
        assert rows["server RDS CPU (rds-cluster:aurora)"].status is Status.FAIL


class TestAlb5xx:
    def test_no_5xx_datapoints_with_requests_is_zero(self) -> None:
        """Sparse 5xx counts absent while RequestCount has data mean zero: PASS against the default
        limit 0."""
        row = judge(
            series("RequestCount", [600] * 10, stat="Sum", resource=LB_RES, unit="Count"),
            missing("HTTPCode_Target_5XX_Count", stat="Sum", resource=LB_RES, sparse=True),
            missing("HTTPCode_ELB_5XX_Count", stat="Sum", resource=LB_RES, sparse=True),
        )["server ALB 5xx"]
        assert row.status is Status.PASS and row.observed == 0 and row.limit == 0
        assert row.criterion == "target + ELB 5xx responses <= 0"
        assert row.reason == "0 5xx of 6000 requests (target 0, ELB 0): within the limit 0"

    def test_no_datapoints_at_all_is_inconclusive(self) -> None:
        """Without RequestCount either, the absence of 5xx proves nothing: INCONCLUSIVE."""
        row = judge(
            missing("RequestCount", stat="Sum", resource=LB_RES),
            missing("HTTPCode_Target_5XX_Count", stat="Sum", resource=LB_RES, sparse=True),
            missing("HTTPCode_ELB_5XX_Count", stat="Sum", resource=LB_RES, sparse=True),
        )["server ALB 5xx"]
        assert row.status is Status.INCONCLUSIVE
        assert "no requests reached it, or check the names and the region" in row.reason

    def test_5xx_fail_with_split_and_worst_minute(self) -> None:
        """Target and ELB 5xx add up against the limit; the reason splits them and names the worst minute."""
        row = judge(
            series("RequestCount", [600] * 10, stat="Sum", resource=LB_RES, unit="Count"),
            series(
                "HTTPCode_Target_5XX_Count", [7], stat="Sum", resource=LB_RES, start=T0 + 240, unit="Count"
            ),
            series("HTTPCode_ELB_5XX_Count", [2], stat="Sum", resource=LB_RES, start=T0 + 300, unit="Count"),
        )["server ALB 5xx"]
        assert row.status is Status.FAIL and row.observed == 9
        assert (
            row.reason
            == f"9 5xx of 6000 requests (target 7, ELB 2, most at {hms(T0 + 240)}): above the limit 0"
        )
        assert row.details["target_5xx"] == 7 and row.details["elb_5xx"] == 2

    @pytest.mark.parametrize(("count", "expected"), [(5, Status.PASS), (9, Status.WARN), (11, Status.FAIL)])
    def test_configured_limit(self, count: float, expected: Status) -> None:
        """A non-zero 5xx limit gets PASS / WARN / FAIL like any other."""
        row = judge(
            series("RequestCount", [600], stat="Sum", resource=LB_RES),
            series("HTTPCode_Target_5XX_Count", [count], stat="Sum", resource=LB_RES),
            missing("HTTPCode_ELB_5XX_Count", stat="Sum", resource=LB_RES, sparse=True),
            limits=ServerCriteriaLimits(alb_5xx=10),
        )["server ALB 5xx"]
        assert row.status is expected

    def test_5xx_over_the_limit_fail_even_without_request_count(self) -> None:
        """Seen 5xx above the limit fail even when the other counts are unknown."""
        row = judge(
            missing("RequestCount", stat="Sum", resource=LB_RES),
            series("HTTPCode_Target_5XX_Count", [3], stat="Sum", resource=LB_RES),
            missing("HTTPCode_ELB_5XX_Count", stat="Sum", resource=LB_RES, sparse=True),
        )["server ALB 5xx"]
        assert row.status is Status.FAIL and row.observed == 3

    def test_a_count_cloudwatch_failed_to_answer_is_inconclusive(self) -> None:
        """A 5xx count the source failed to answer is not taken as zero: INCONCLUSIVE with that reason."""
        row = judge(
            series("RequestCount", [600], stat="Sum", resource=LB_RES),
            missing(
                "HTTPCode_Target_5XX_Count",
                stat="Sum",
                resource=LB_RES,
                reason="CloudWatch could not answer X",
                failed=True,
            ),
            missing("HTTPCode_ELB_5XX_Count", stat="Sum", resource=LB_RES, sparse=True),
        )["server ALB 5xx"]
        assert row.status is Status.INCONCLUSIVE and row.reason == "CloudWatch could not answer X"

    def test_switched_off(self) -> None:
        """With the 5xx limit set to None there is no ALB row."""
        rows = judge(
            series("RequestCount", [600], stat="Sum", resource=LB_RES),
            limits=ServerCriteriaLimits(alb_5xx=None),
        )
        assert "server ALB 5xx" not in rows


class TestProcessAndPrometheus:
    def test_process_limits_fall_back_to_the_server_limits(self) -> None:
        """Process CPU and memory use cpu_percent / memory_percent unless process limits are set."""
        cpu = series("cpu_percent", [65], source="process", resource="pid:7", stat="Average", period_s=1)
        mem = series("memory_percent", [10], source="process", resource="pid:7", stat="Sample", period_s=1)
        cpu = Series(cpu.source, cpu.resource, cpu.metric, cpu.stat, cpu.unit, ((START + 5, 65.0),), 1.0)
        mem = Series(mem.source, mem.resource, mem.metric, mem.stat, mem.unit, ((START + 5, 10.0),), 1.0)
        rows = judge(cpu, mem)
        assert rows["server process CPU"].status is Status.WARN
        assert rows["server process CPU"].criterion == "max of 1s samples <= 70 % (100 = one core)"
        assert rows["server process memory"].criterion == "max RSS <= 80 % of RAM"
        rows = judge(cpu, mem, limits=ServerCriteriaLimits(process_cpu_percent=200))
        assert rows["server process CPU"].status is Status.PASS

    def test_prometheus_series_are_judged_together_naming_the_peak(self) -> None:
        """Several result series of one query make one row whose reason names the series that peaked."""
        a = Series("prometheus", '{pod="a"}', "cpu_percent", "value", "Percent", ((START + 15, 40.0),), 15.0)
        b = Series("prometheus", '{pod="b"}', "cpu_percent", "value", "Percent", ((START + 15, 80.0),), 15.0)
        row = judge(a, b)["server Prometheus CPU"]
        assert row.status is Status.FAIL and row.observed == 80
        assert 'on {pod="b"}' in row.reason
        assert row.criterion == "max of values every 15s <= 70 %"


class TestSourceFailed:
    def test_whole_source_failure_is_one_inconclusive_row(self) -> None:
        """A source that could not answer at all becomes one INCONCLUSIVE row carrying its error."""
        row = source_failed("cloudwatch", "no AWS credentials found: …", required=True)
        assert row.status is Status.INCONCLUSIVE and row.scope == "server" and row.required
        assert row.name == "server metrics (cloudwatch)" and row.reason == "no AWS credentials found: …"
