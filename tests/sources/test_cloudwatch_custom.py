"""[[server.metrics]] in the CloudWatch source: read in the same GetMetricData call as the built-in
metrics, with their own statistic and period, against a real moto server; a percentile statistic
(which moto cannot answer) with botocore's Stubber, named as such."""

from __future__ import annotations

import time
from dataclasses import replace

import boto3

from runner.judge.server import ServerCriteriaLimits, judge_server
from runner.model import Result, Status
from runner.sources.aws import AwsApi
from runner.sources.cloudwatch import CloudWatchSource
from runner.sources.cloudwatch_catalog import CloudWatchTarget
from runner.sources.custom import ServerMetric
from tests.sources.test_cloudwatch import ECS_TARGET, NO_LB, recording_api, seed_ecs
from tests.support.aws_stack import (
    METRIC_DATA_PARAMS,
    metric_data,
    minutes,
    plain_session,
    put_series,
    stubbed_cloudwatch,
)

REDIS = ServerMetric(
    name="Redis CPU",
    namespace="AWS/ElastiCache",
    metric="CPUUtilization",
    dimensions=(("CacheClusterId", "video-cache"),),
    stat="Maximum",
    max=75,
)


def seed_redis(t0: float, values: list[float]) -> None:
    cw = plain_session().client("cloudwatch")
    dims = (("CacheClusterId", "video-cache"),)
    put_series(cw, "AWS/ElastiCache", "CPUUtilization", dims, minutes(t0 - 300, [5.0] * 5 + values))


class TestCustomMetricsFromMoto:
    def test_read_in_the_same_call_and_judged(self, aws: str, t0: float) -> None:
        """ElastiCache CPU rides in the one GetMetricData call with ECS, and 90 fails max = 75."""
        seed_ecs(t0, [40] * 11, [50] * 11)
        seed_redis(t0, [50, 60, 90, 60] + [50] * 7)
        calls: list[str] = []
        target = replace(ECS_TARGET, metrics=(REDIS,))
        result = CloudWatchSource(target, api=recording_api(calls), discovery=NO_LB).fetch(t0 + 30, t0 + 630)
        assert calls == ["GetMetricData"]
        redis = [s for s in result.series if s.resource == "metric:Redis CPU"]
        assert len(redis) == 1 and redis[0].metric == "CPUUtilization" and redis[0].stat == "Maximum"
        limits = replace(ServerCriteriaLimits(), metrics=(REDIS,))
        rows = {
            r.name: r for r in judge_server(result, window_start=t0 + 30, window_end=t0 + 630, limits=limits)
        }
        assert rows["server Redis CPU"].status is Status.FAIL and rows["server Redis CPU"].observed == 90
        assert rows["server ECS CPU"].status is Status.PASS and rows["server ECS CPU"].observed == 40

    def test_its_own_period(self, aws: str, t0: float) -> None:
        """period = 300 s reads 5-minute periods while the target reads 60 s ones."""
        seed_redis(t0, [50] * 11)
        slow = replace(REDIS, period_s=300.0)
        source = CloudWatchSource(replace(ECS_TARGET, metrics=(slow,)), api=AwsApi(boto3.session.Session()),
                                  discovery=NO_LB)  # fmt: skip
        result = source.fetch(t0, t0 + 600)
        redis = next(s for s in result.series if s.resource == "metric:Redis CPU")
        assert redis.period_s == 300
        assert all((t - redis.points[0][0]) % 300 == 0 for t, _ in redis.points)

    def test_no_datapoints_is_missing_with_its_name(self, aws: str, t0: float) -> None:
        """A wrong dimension: the metric is missing, named, and its criterion INCONCLUSIVE."""
        wrong = replace(REDIS, dimensions=(("CacheClusterId", "no-such-cache"),))
        source = CloudWatchSource(replace(ECS_TARGET, metrics=(wrong,)), api=AwsApi(boto3.session.Session()),
                                  discovery=NO_LB)  # fmt: skip
        result = source.fetch(t0 + 30, t0 + 630)
        gone = [m for m in result.missing if m.resource == "metric:Redis CPU"]
        assert gone and "AWS/ElastiCache CPUUtilization CacheClusterId=no-such-cache" in gone[0].reason
        limits = replace(ServerCriteriaLimits(), metrics=(wrong,))
        row = next(
            r
            for r in judge_server(result, window_start=t0 + 30, window_end=t0 + 630, limits=limits)
            if r.name == "server Redis CPU"
        )
        assert row.status is Status.INCONCLUSIVE and "no-such-cache" in row.reason


class TestStubbedCustomMetrics:
    def test_fake_percentile_is_asked_with_its_stat_and_period(self, stub_env: None) -> None:
        """Fake (Stubber, moto cannot answer percentiles): a p99 metric is one query of the call with
        Stat p99 and its own Period, beside the ECS queries."""
        start = 1_700_000_040.0
        p99 = replace(REDIS, stat="p99", period_s=120.0)
        api, stub = stubbed_cloudwatch()
        source = CloudWatchSource(replace(ECS_TARGET, preroll_s=0, metrics=(p99,)), api=api, discovery=NO_LB)
        seen: list[dict[str, object]] = []
        api.client("cloudwatch").meta.events.register(
            "provide-client-params.cloudwatch.GetMetricData", lambda params, **_: seen.append(params)
        )
        stub.add_response(
            "get_metric_data", metric_data([start, start + 120], [0.5, 0.7], 5), METRIC_DATA_PARAMS
        )
        result = source.fetch(start, start + 240)
        stub.assert_no_pending_responses()
        queries = seen[0]["MetricDataQueries"]
        assert isinstance(queries, list) and len(queries) == 5
        custom = queries[-1]["MetricStat"]
        assert custom["Stat"] == "p99" and custom["Period"] == 120
        assert custom["Metric"]["Namespace"] == "AWS/ElastiCache"
        redis = next(s for s in result.series if s.resource == "metric:Redis CPU")
        assert redis.stat == "p99" and redis.period_s == 120


class TestPreflight:
    def test_check_names_each_custom_metric(self, aws: str) -> None:
        """`loadlens cloudwatch check` checks a [[server.metrics]] like the built-in ones: recent
        datapoints OK, a wrong dimension FAIL naming it."""
        from runner.sources.preflight import CheckStatus, preflight

        now = (int(time.time()) // 60) * 60.0
        seed_redis(now - 1200, [40.0] * 10)
        wrong = replace(REDIS, name="other", dimensions=(("CacheClusterId", "no-such-cache"),))
        target = replace(ECS_TARGET, ecs_cluster=None, ecs_service=None, metrics=(REDIS, wrong))
        checks = {c.name: c for c in preflight(target, api=AwsApi(boto3.session.Session()))}
        ok = checks["metric AWS/ElastiCache CPUUtilization CacheClusterId=video-cache"]
        bad = checks["metric AWS/ElastiCache CPUUtilization CacheClusterId=no-such-cache"]
        assert ok.status is CheckStatus.OK and "datapoints" in ok.detail
        assert bad.status is CheckStatus.FAIL


POLLY = ServerMetric(
    name="Polly throttles",
    namespace="AWS/Polly",
    metric="ThrottledCount",
    dimensions=(("Operation", "SynthesizeSpeech"),),
    stat="Sum",
    max=0,
    missing="zero",
)
POLLY_DIMS = (("Operation", "SynthesizeSpeech"),)


def seed_old_throttle(at: float, dims: tuple[tuple[str, str], ...] = POLLY_DIMS) -> None:
    """One throttle long before the window: CloudWatch (and moto) now list the metric."""
    put_series(plain_session().client("cloudwatch"), "AWS/Polly", "ThrottledCount", dims, [(at, 1.0)])


def only_custom(*metrics: ServerMetric) -> CloudWatchTarget:
    return replace(ECS_TARGET, ecs_cluster=None, ecs_service=None, preroll_s=60.0, metrics=metrics)


def polly_row(source: CloudWatchSource, m: ServerMetric, start: float, end: float) -> Result:
    limits = replace(ServerCriteriaLimits(), metrics=(m,))
    rows = judge_server(source.fetch(start, end), window_start=start, window_end=end, limits=limits)
    return next(r for r in rows if r.name == f"server {m.name}")


class TestMissingAsZeroFromMoto:
    """``missing = "zero"`` against a real moto server: ListMetrics decides whether no data is 0."""

    def test_listed_metric_without_datapoints_passes_and_plain_is_inconclusive(
        self, aws: str, t0: float
    ) -> None:
        """Seeded once two hours ago (outside the window and the pre-roll), none in the window:
        max = 0 passes with missing = "zero", and is INCONCLUSIVE without it."""
        seed_old_throttle(t0 - 3600)
        calls: list[str] = []
        source = CloudWatchSource(only_custom(POLLY), api=recording_api(calls), discovery=NO_LB)
        row = polly_row(source, POLLY, t0 + 60, t0 + 660)
        assert row.status is Status.PASS and row.observed == 0 and row.details["points"] == 10, row
        assert 'no datapoints: counted as 0 (missing = "zero"), metric exists' in row.reason
        plain = replace(POLLY, missing="inconclusive")
        source = CloudWatchSource(only_custom(plain), api=AwsApi(boto3.session.Session()), discovery=NO_LB)
        assert polly_row(source, plain, t0 + 60, t0 + 660).status is Status.INCONCLUSIVE

    def test_listmetrics_is_asked_once_per_run(self, aws: str, t0: float) -> None:
        """Live polls and the settle fetch again; ListMetrics is called once per metric."""
        seed_old_throttle(t0 - 3600)
        calls: list[str] = []
        source = CloudWatchSource(only_custom(POLLY), api=recording_api(calls), discovery=NO_LB)
        for _ in range(3):
            gone = source.fetch(t0 + 60, t0 + 660).missing
        assert calls.count("ListMetrics") == 1 and calls.count("GetMetricData") == 3
        assert gone[0].exists is True and gone[0].period_s == 60

    def test_a_misspelt_metric_is_not_found(self, aws: str, t0: float) -> None:
        """ThrottleCount (a typo) is not listed: INCONCLUSIVE "not found", naming it, never 0."""
        seed_old_throttle(t0 - 3600)
        typo = replace(POLLY, metric="ThrottleCount")
        source = CloudWatchSource(only_custom(typo), api=AwsApi(boto3.session.Session()), discovery=NO_LB)
        row = polly_row(source, typo, t0 + 60, t0 + 660)
        assert row.status is Status.INCONCLUSIVE
        assert "AWS/Polly ThrottleCount Operation=SynthesizeSpeech not found in CloudWatch" in row.reason
        assert "check the namespace, metric name and dimensions" in row.reason

    def test_dimensions_must_match_exactly(self, aws: str, t0: float) -> None:
        """moto's ListMetrics filters on Dimensions (another value is not listed), and like AWS also
        lists a metric with more dimensions, which GetMetricData would not read: not found either."""
        seed_old_throttle(t0 - 3600, (("Operation", "SynthesizeSpeech"), ("VoiceId", "Joanna")))
        api = AwsApi(boto3.session.Session())
        listed = api.call(
            "cloudwatch",
            "list_metrics",
            {"Namespace": "AWS/Polly", "MetricName": "ThrottledCount",
             "Dimensions": [{"Name": "Operation", "Value": "SynthesizeSpeech"}]},
        )["Metrics"]  # fmt: skip
        assert len(listed) == 1 and len(listed[0]["Dimensions"]) == 2
        other = replace(POLLY, dimensions=(("Operation", "ListLexicons"),))
        for m in (POLLY, other):
            source = CloudWatchSource(only_custom(m), api=api, discovery=NO_LB)
            gone = source.fetch(t0 + 60, t0 + 660).missing
            assert gone[0].exists is False and "not found in CloudWatch" in gone[0].reason

    def test_preflight_says_exists_or_not_found(self, aws: str) -> None:
        """`loadlens cloudwatch check`'s checks: a listed metric without recent datapoints is fine
        ("exists, no recent datapoints (counted as 0)"), a typo fails "not found"."""
        from runner.sources.preflight import CheckStatus, preflight

        seed_old_throttle(time.time() - 7200)
        typo = replace(POLLY, name="typo", metric="ThrottleCount")
        checks = {c.name: c for c in preflight(only_custom(POLLY, typo), api=AwsApi(boto3.session.Session()))}
        ok = checks["metric AWS/Polly ThrottledCount Operation=SynthesizeSpeech"]
        bad = checks["metric AWS/Polly ThrottleCount Operation=SynthesizeSpeech"]
        assert ok.status is CheckStatus.OK and "exists, no recent datapoints (counted as 0)" in ok.detail
        assert bad.status is CheckStatus.FAIL and "not found in CloudWatch" in bad.detail


class TestStubbedListMetrics:
    def test_fake_denied_listmetrics_is_inconclusive_with_the_reason(self, stub_env: None) -> None:
        """Fake (Stubber: moto does not enforce IAM): ListMetrics denied, so whether the metric
        exists is unknown: INCONCLUSIVE naming the denial, never 0."""
        start = 1_700_000_040.0
        api, stub = stubbed_cloudwatch()
        stub.add_response("get_metric_data", metric_data([], [], 1))
        stub.add_client_error("list_metrics", "AccessDenied", "not authorized to perform cloudwatch:ListMetrics",
                              http_status_code=403)  # fmt: skip
        source = CloudWatchSource(replace(only_custom(POLLY), preroll_s=0), api=api, discovery=NO_LB)
        row = polly_row(source, POLLY, start, start + 600)
        stub.assert_no_pending_responses()
        assert row.status is Status.INCONCLUSIVE
        assert "cannot check that it exists" in row.reason and "ListMetrics" in row.reason
