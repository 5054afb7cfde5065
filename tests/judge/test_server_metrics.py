"""[[server.metrics]], ALB p95/p99 and unhealthy hosts: whole periods of the judged window against a
max and/or min, and no data never a pass."""

from __future__ import annotations

from dataclasses import replace

import pytest

from runner.judge.server import ServerCriteriaLimits
from runner.model import Status
from runner.readings import Missing, Series, ServerReadings, SourceFailure
from runner.sources.custom import ServerMetric
from tests.judge.test_server import END, LB_RES, START, T0, judge, missing, series

REDIS = ServerMetric(
    name="Redis CPU",
    namespace="AWS/ElastiCache",
    metric="CPUUtilization",
    dimensions=(("CacheClusterId", "video-cache"),),
    stat="Maximum",
    max=75,
)
TG_RES = "tg:targetgroup/shop-tg/456"


def redis(values: list[float], **kw: object) -> Series:
    return series("CPUUtilization", values, stat="Maximum", resource="metric:Redis CPU", **kw)  # type: ignore[arg-type]


def limits(*metrics: ServerMetric, **kw: float | None) -> ServerCriteriaLimits:
    return replace(ServerCriteriaLimits(), metrics=metrics, **kw)  # type: ignore[arg-type]


class TestCustomMetric:
    def test_a_period_above_max_fails_with_its_value_and_time(self) -> None:
        """ElastiCache CPU at 90 in one whole period fails max = 75, naming the value and the time."""
        row = judge(redis([40, 90, 50] + [40] * 7), limits=limits(REDIS))["server Redis CPU"]
        assert row.status is Status.FAIL and row.observed == 90 and row.limit == 75
        assert "max 90" in row.reason and "above the limit 75" in row.reason
        assert row.criterion == "Maximum of every 60s period <= 75"
        assert row.details["what"] == "AWS/ElastiCache CPUUtilization CacheClusterId=video-cache (Maximum)"

    def test_under_max_passes_and_near_it_warns(self) -> None:
        """40 passes max = 75; 70 (over 90 % of it) warns."""
        assert judge(redis([40] * 10), limits=limits(REDIS))["server Redis CPU"].status is Status.PASS
        assert judge(redis([70] * 10), limits=limits(REDIS))["server Redis CPU"].status is Status.WARN

    def test_a_period_below_min_fails(self) -> None:
        """min = 2 (e.g. running tasks) fails when one whole period shows 1."""
        tasks = ServerMetric(name="tasks", namespace="ECS/ContainerInsights", metric="RunningTaskCount",
                             stat="Minimum", min=2)  # fmt: skip
        s = series("RunningTaskCount", [3, 3, 1] + [3] * 7, stat="Minimum", resource="metric:tasks")
        row = judge(s, limits=limits(tasks))["server tasks"]
        assert row.status is Status.FAIL and row.observed == 1 and "below the limit 2" in row.reason

    def test_points_outside_the_window_do_not_count(self) -> None:
        """90 in the pre-roll (before the window) does not fail the criterion."""
        s = redis([90, 90] + [40] * 10, start=T0 - 120)
        assert judge(s, limits=limits(REDIS))["server Redis CPU"].status is Status.PASS

    def test_no_datapoints_is_inconclusive_with_the_reason(self) -> None:
        """CloudWatch answered nothing for it: INCONCLUSIVE with the source's reason, never PASS."""
        gone = missing(
            "CPUUtilization", stat="Maximum", resource="metric:Redis CPU", reason="no datapoints for X"
        )
        row = judge(gone, limits=limits(REDIS))["server Redis CPU"]
        assert row.status is Status.INCONCLUSIVE and row.reason == "no datapoints for X"

    def test_no_whole_period_is_inconclusive(self) -> None:
        """600 s periods straddling a 600 s window: none whole inside, the reason says how long to run."""
        s = redis([99, 99], start=T0 - 150, period_s=600)
        row = judge(s, limits=limits(REDIS))["server Redis CPU"]
        assert row.status is Status.INCONCLUSIVE and "no whole 600 s CloudWatch period" in row.reason

    def test_not_read_at_all_is_inconclusive(self) -> None:
        """CloudWatch not read in the run: the criterion is still a row, INCONCLUSIVE, saying how to read it."""
        row = judge(series("CPUUtilization", [10] * 10), limits=limits(REDIS))["server Redis CPU"]
        assert row.status is Status.INCONCLUSIVE and "--correlate-cloudwatch" in row.reason

    def test_required_no_data_is_required(self) -> None:
        """With --require-server-metrics the INCONCLUSIVE row is required (exit 3)."""
        row = judge(limits=limits(REDIS), required=True)["server Redis CPU"]
        assert row.status is Status.INCONCLUSIVE and row.required

    def test_another_services_cpu_is_not_the_ecs_cpu(self) -> None:
        """A [[server.metrics]] CPUUtilization is its own row, not the ECS CPU criterion's."""
        rows = judge(redis([90] * 10), limits=limits(REDIS))
        assert "server ECS CPU" not in rows and rows["server Redis CPU"].status is Status.FAIL

    def test_prometheus_query_series_are_judged_together(self) -> None:
        """A query's series (one per pod) are judged together; the worst names its pod."""
        q = ServerMetric(name="queue depth", query="max by (pod) (queue_depth)", max=100)
        a = series("queue depth", [10] * 10, stat="value", source="prometheus", unit="",
                   resource='metric:queue depth{pod="a"}')  # fmt: skip
        b = series("queue depth", [10, 150] + [10] * 8, stat="value", source="prometheus", unit="",
                   resource='metric:queue depth{pod="b"}')  # fmt: skip
        row = judge(a, b, limits=limits(q))["server queue depth"]
        assert row.status is Status.FAIL and row.observed == 150 and 'pod="b"' in row.reason
        assert "server Prometheus CPU" not in judge(a, limits=limits(q))

    def test_a_custom_query_named_cpu_percent_is_not_the_server_cpu(self) -> None:
        """Only [prometheus_source.queries] cpu_percent is the server CPU, not a criterion of that name."""
        q = ServerMetric(name="cpu_percent", query="up", max=100)
        s = series(
            "cpu_percent", [99] * 10, stat="value", source="prometheus", resource="metric:cpu_percent{}"
        )
        rows = judge(s, limits=limits(q))
        assert "server Prometheus CPU" not in rows and rows["server cpu_percent"].status is Status.WARN


POLLY = ServerMetric(
    name="Polly throttles",
    namespace="AWS/Polly",
    metric="ThrottledCount",
    dimensions=(("Operation", "SynthesizeSpeech"),),
    stat="Sum",
    max=0,
    missing="zero",
)
POLLY_RES = "metric:Polly throttles"


def polly_gone(*, exists: bool | None, reason: str = "no datapoints for X", **kw: object) -> Missing:
    return replace(
        missing("ThrottledCount", stat="Sum", resource=POLLY_RES, reason=reason),
        exists=exists,
        period_s=60.0 if exists else None,
        **kw,
    )


class TestMissingAsZero:
    """``missing = "zero"``: periods without datapoints count as 0, only when the metric exists."""

    def test_listed_metric_without_datapoints_passes_max_0(self) -> None:
        """CloudWatch lists it and it has no datapoint in the window: ten periods of 0 pass max = 0."""
        row = judge(polly_gone(exists=True), limits=limits(POLLY))["server Polly throttles"]
        assert row.status is Status.PASS and row.observed == 0 and row.details["points"] == 10
        assert 'no datapoints: counted as 0 (missing = "zero"), metric exists' in row.reason

    def test_without_the_setting_the_same_is_inconclusive(self) -> None:
        """The default (missing = "inconclusive"): the same answer is never a pass."""
        plain = replace(POLLY, missing="inconclusive")
        row = judge(polly_gone(exists=True), limits=limits(plain))["server Polly throttles"]
        assert row.status is Status.INCONCLUSIVE

    def test_not_listed_is_inconclusive_not_found(self) -> None:
        """A typo: ListMetrics does not list it, so no data is not 0: INCONCLUSIVE with the source's reason."""
        gone = polly_gone(exists=False, reason="AWS/Polly ThrottledCount … not found in CloudWatch: check …")
        row = judge(gone, limits=limits(POLLY))["server Polly throttles"]
        assert row.status is Status.INCONCLUSIVE and "not found in CloudWatch" in row.reason

    def test_existence_unknown_is_inconclusive(self) -> None:
        """ListMetrics denied: exists unknown, INCONCLUSIVE with the reason."""
        gone = polly_gone(
            exists=None, reason="no datapoints …, and cannot check that it exists: access denied"
        )
        row = judge(gone, limits=limits(POLLY), required=True)["server Polly throttles"]
        assert row.status is Status.INCONCLUSIVE and "access denied" in row.reason and row.required

    def test_refused_statistic_is_never_zero(self) -> None:
        """CloudWatch failed to answer: not "no data", so not 0."""
        gone = replace(polly_gone(exists=None, reason="could not answer"), failed=True)
        assert judge(gone, limits=limits(POLLY))["server Polly throttles"].status is Status.INCONCLUSIVE

    def test_gaps_in_a_series_count_as_0(self) -> None:
        """Two datapoints in ten periods: the other eight are 0, so min = 1 fails on a gap."""
        at_least = replace(POLLY, max=None, min=1.0)
        s = series("ThrottledCount", [3, 2], stat="Sum", resource=POLLY_RES, unit="Count", start=T0 + 120)
        row = judge(s, limits=limits(at_least))["server Polly throttles"]
        assert row.status is Status.FAIL and row.observed == 0 and row.details["points"] == 10
        assert '8 of 10 periods had no datapoints: counted as 0 (missing = "zero")' in row.reason
        assert row.details["window_average"] == 0.5

    def test_gaps_do_not_hide_a_breach(self) -> None:
        """One throttle in one period fails max = 0 whatever the zeros around it."""
        s = series("ThrottledCount", [4], stat="Sum", resource=POLLY_RES, unit="Count", start=T0 + 300)
        row = judge(s, limits=limits(POLLY))["server Polly throttles"]
        assert row.status is Status.FAIL and row.observed == 4

    def test_a_window_without_a_whole_period_stays_inconclusive(self) -> None:
        """Zeros are periods too: a 600 s period straddling the window is not a whole one."""
        long = replace(polly_gone(exists=True), period_s=600.0)
        row = judge(long, limits=limits(POLLY))["server Polly throttles"]
        assert row.status is Status.INCONCLUSIVE and "no whole 600 s CloudWatch period" in row.reason


class TestAlbPercentiles:
    @pytest.mark.parametrize(("stat", "key"), [("p95", "alb_p95_ms"), ("p99", "alb_p99_ms")])
    def test_seconds_are_judged_in_ms(self, stat: str, key: str) -> None:
        """TargetResponseTime comes in seconds: 0.6 s in one period fails a 500 ms limit, shown as 600 ms."""
        s = series("TargetResponseTime", [0.1, 0.6] + [0.1] * 8, stat=stat, resource=LB_RES, unit="Seconds")
        row = judge(s, limits=limits(**{key: 500}))[f"server ALB {stat}"]
        assert row.status is Status.FAIL and row.observed == 600 and row.unit == "ms"
        assert "600 ms" in row.reason

    def test_off_unless_set(self) -> None:
        """Without alb_p95_ms there is no row."""
        s = series("TargetResponseTime", [0.6] * 10, stat="p95", resource=LB_RES, unit="Seconds")
        assert "server ALB p95" not in judge(s)

    def test_refused_percentile_is_inconclusive(self) -> None:
        """CloudWatch could not answer p95: INCONCLUSIVE with its reason."""
        gone = missing(
            "TargetResponseTime", stat="p95", resource=LB_RES, reason="could not answer", failed=True
        )
        row = judge(gone, limits=limits(alb_p95_ms=500))["server ALB p95"]
        assert row.status is Status.INCONCLUSIVE and row.reason == "could not answer"


class TestUnhealthyHosts:
    def test_one_unhealthy_period_fails_by_default(self) -> None:
        """One period with an unhealthy host fails (the default limit is 0)."""
        s = series("UnHealthyHostCount", [0, 0, 1] + [0] * 7, stat="Maximum", resource=TG_RES, unit="Count")
        row = judge(s)["server unhealthy hosts"]
        assert row.status is Status.FAIL and row.observed == 1

    def test_all_healthy_passes(self) -> None:
        s = series("UnHealthyHostCount", [0] * 10, stat="Maximum", resource=TG_RES, unit="Count")
        assert judge(s)["server unhealthy hosts"].status is Status.PASS


def test_a_run_without_cloudwatch_keeps_the_criterion_as_a_failed_source() -> None:
    """ServerSide with a CloudWatch [[server.metrics]] and no CloudWatch: a failed source, not silence."""
    from runner.sources.server import ServerPlan, ServerSide

    side = ServerSide(ServerPlan(limits=limits(REDIS)))
    side.start()
    readings = side.finish(run_start=START, run_end=END, settle=False)
    assert isinstance(readings, ServerReadings)
    assert readings.failures and isinstance(readings.failures[0], SourceFailure)
    assert "Redis CPU" in readings.failures[0].reason


class TestCorrelationAndReport:
    def test_correlation_names_it_and_never_takes_it_for_the_service_cpu(self) -> None:
        """In correlation a [[server.metrics]] series is reported by its name beside the client,
        and is never the service's CPU (headroom, CPU cost)."""
        from runner.judge.correlate import SeriesRef, find_cpu, resource_series

        custom = series("CPUUtilization", [90] * 10, resource="metric:Redis CPU")  # Average, cloudwatch
        ecs = series("CPUUtilization", [40] * 10)
        assert SeriesRef.of(custom).label == "Redis CPU"
        assert custom in resource_series([custom, ecs]) and ecs in resource_series([custom, ecs])
        assert find_cpu([custom]) is None and find_cpu([custom, ecs]) == ecs

    def test_report_chart_is_labelled_and_shows_its_limit(self) -> None:
        """The report's server section charts it like any series, with its own limit line."""
        from runner.reports.html.server import server_chart

        custom = redis([40, 90] + [40] * 8)
        (row,) = [r for r in judge(custom, limits=limits(REDIS)).values() if r.name == "server Redis CPU"]
        chart = server_chart(custom, [row], buckets=50)
        assert chart["label"].startswith("Redis CPU")
        assert [line["value"] for line in chart["limits"]] == [75]


def test_with_another_source_the_unread_criterion_is_only_its_own_row() -> None:
    """With another source read, no extra failed-CloudWatch row (`loadlens verdict` pulling
    Prometheus again must not double it): the criterion's own row says it was not read."""
    from runner.sources.server import ServerPlan, ServerSide

    side = ServerSide(ServerPlan(prometheus_url="http://127.0.0.1:9", prometheus_queries={"up": "up"},
                                 limits=limits(REDIS)))  # fmt: skip
    side.start()
    assert side.failures == [] and len(side.sources) == 1
