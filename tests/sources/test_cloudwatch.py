"""The CloudWatch source against a real moto server, and (named as such) botocore Stubber fakes for
what moto cannot do: answer percentiles, paginate, deny access, throttle, expire credentials."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from runner.errors import SourceCredentialsError, SourceError, SourcePermissionError, SourceUnavailableError
from runner.judge.server import judge_server
from runner.model import Status
from runner.sources.aws import AwsApi, make_session
from runner.sources.base import MetricSource, baseline_points, partial_points, window_points
from runner.sources.cloudwatch import CloudWatchSource, SettleProgress
from runner.sources.cloudwatch_catalog import CloudWatchTarget, Discovery, TargetGroupRef
from tests.support.aws_stack import (
    METRIC_DATA_PARAMS,
    REGION,
    metric_data,
    minutes,
    plain_session,
    put_series,
    stubbed_cloudwatch,
)
from tests.support.procs import free_port

ECS_DIMS = (("ClusterName", "shop"), ("ServiceName", "api"))
LB = "app/shop-alb/50dc6c495c0c9188"
LB_DIMS = (("LoadBalancer", LB),)


def recording_api(calls: list[str], **kwargs: Any) -> AwsApi:
    session = boto3.session.Session()
    session.events.register("before-call", lambda model, **_: calls.append(model.name))
    return AwsApi(session, **kwargs)


def seed_ecs(t0: float, cpu: list[float], memory: list[float], *, baseline: float = 5.0) -> None:
    cw = plain_session().client("cloudwatch")
    put_series(
        cw, "AWS/ECS", "CPUUtilization", ECS_DIMS, minutes(t0 - 300, [baseline] * 5 + cpu), unit="Percent"
    )
    put_series(
        cw,
        "AWS/ECS",
        "MemoryUtilization",
        ECS_DIMS,
        minutes(t0 - 300, [baseline] * 5 + memory),
        unit="Percent",
    )


ECS_TARGET = CloudWatchTarget(ecs_cluster="shop", ecs_service="api", preroll_s=300)
NO_LB = Discovery(found_from="test")


class TestFetchFromMoto:
    def test_is_a_metric_source(self, aws: str) -> None:
        """CloudWatchSource satisfies the MetricSource protocol."""
        source = CloudWatchSource(ECS_TARGET, api=AwsApi(make_session()), discovery=NO_LB)
        assert isinstance(source, MetricSource)
        assert source.name == "cloudwatch"

    def test_endpoint_comes_from_aws_endpoint_url(self, aws: str) -> None:
        """Clients reach the endpoint named by AWS_ENDPOINT_URL (nothing in loadlens overrides it)."""
        assert AwsApi(make_session()).client("cloudwatch").meta.endpoint_url == aws

    def test_healthy_service_passes_cpu_and_memory_in_one_call(self, aws: str, t0: float) -> None:
        """A service at 40-55 % CPU and 50-60 % memory passes both criteria, read in one GetMetricData
        call."""
        seed_ecs(
            t0, [40, 45, 50, 55, 50, 45, 40, 42, 44, 46, 48], [50, 52, 55, 60, 58, 56, 54, 52, 50, 51, 53]
        )
        calls: list[str] = []
        source = CloudWatchSource(ECS_TARGET, api=recording_api(calls), discovery=NO_LB)
        result = source.fetch(t0 + 30, t0 + 630)
        assert calls == ["GetMetricData"]
        assert result.missing == ()
        rows = {r.name: r for r in judge_server(result, window_start=t0 + 30, window_end=t0 + 630)}
        assert rows["server ECS CPU"].status is Status.PASS
        assert rows["server ECS CPU"].observed == 55
        assert rows["server ECS memory"].status is Status.PASS
        assert rows["server ECS memory"].observed == 60

    def test_cpu_peak_fails_naming_the_criterion_and_the_time(self, aws: str, t0: float) -> None:
        """ECS CPU peaking at 85 % fails the CPU criterion, naming the peak's minute, while memory passes."""
        seed_ecs(t0, [40, 50, 60, 70, 80, 85, 60, 50, 45, 40, 40], [50] * 11)
        source = CloudWatchSource(ECS_TARGET, api=AwsApi(make_session()), discovery=NO_LB)
        rows = {
            r.name: r
            for r in judge_server(source.fetch(t0 + 30, t0 + 630), window_start=t0 + 30, window_end=t0 + 630)
        }
        cpu = rows["server ECS CPU"]
        assert cpu.status is Status.FAIL
        assert cpu.observed == 85 and cpu.limit == 70
        peak = time.strftime("%H:%M:%SZ", time.gmtime(t0 + 300))
        assert peak in cpu.reason and "85" in cpu.reason
        assert cpu.criterion == "max of 60s averages <= 70 %"
        assert rows["server ECS memory"].status is Status.PASS

    def test_missing_data_is_inconclusive_with_the_metric_named(self, aws: str, t0: float) -> None:
        """No datapoints for the service gives INCONCLUSIVE rows naming namespace, metric and dimensions."""
        source = CloudWatchSource(ECS_TARGET, api=AwsApi(make_session()), discovery=NO_LB)
        result = source.fetch(t0 + 30, t0 + 630)
        assert result.series == ()
        assert {(m.metric, m.stat) for m in result.missing} == {
            ("CPUUtilization", "Average"),
            ("CPUUtilization", "Maximum"),
            ("MemoryUtilization", "Average"),
            ("MemoryUtilization", "Maximum"),
        }
        rows = {
            r.name: r for r in judge_server(result, window_start=t0 + 30, window_end=t0 + 630, required=True)
        }
        cpu = rows["server ECS CPU"]
        assert cpu.status is Status.INCONCLUSIVE and cpu.required
        assert cpu.reason == (
            "no datapoints for AWS/ECS CPUUtilization ClusterName=shop ServiceName=api: "
            "check the names and the region"
        )

    def test_preroll_points_are_separable_from_the_window(self, aws: str, t0: float) -> None:
        """The idle pre-roll comes back before the start, aligned to the period, and splits off cleanly."""
        seed_ecs(t0, [50] * 11, [50] * 11, baseline=3.0)
        source = CloudWatchSource(ECS_TARGET, api=AwsApi(make_session()), discovery=NO_LB)
        assert source.window(t0 + 30, t0 + 630) == (t0 - 300, t0 + 660)
        result = source.fetch(t0 + 30, t0 + 630)
        cpu = result.find(metric="CPUUtilization", stat="Average")[0]
        assert cpu.points[0][0] == t0 - 300
        assert [v for _, v in baseline_points(cpu, t0 + 30)] == [3.0] * 5
        # the minutes half inside the window (12:00 and 12:10 for a 12:00:30-12:10:30 window) are not judged
        assert [v for _, v in window_points(cpu, t0 + 30, t0 + 630)] == [50.0] * 9
        assert [t for t, _ in partial_points(cpu, t0 + 30, t0 + 630)] == [t0, t0 + 600]

    def test_batches_hold_at_most_the_configured_number_of_queries(self, aws: str, t0: float) -> None:
        """Queries are sent in batches of max_queries_per_call: 11 queries at 4 a call is 3 calls."""
        target = CloudWatchTarget(
            ecs_cluster="shop", ecs_service="api", rds_instance="db", container_insights=True
        )
        calls: list[str] = []
        source = CloudWatchSource(target, api=recording_api(calls), discovery=NO_LB, max_queries_per_call=4)
        n = len(source.queries())
        source.fetch(t0, t0 + 600)
        assert calls == ["GetMetricData"] * -(-n // 4)

    def test_a_percentile_moto_cannot_answer_does_not_lose_the_rest(self, aws: str, t0: float) -> None:
        """moto fails the whole call on p95/p99 (HTTP 500): the batch is split, the rest is kept, and
        each percentile is reported missing with the reason, in four calls and no botocore retries."""
        cw = plain_session().client("cloudwatch")
        put_series(
            cw, "AWS/ApplicationELB", "TargetResponseTime", LB_DIMS, minutes(t0, [0.1] * 10), unit="Seconds"
        )
        put_series(cw, "AWS/ApplicationELB", "RequestCount", LB_DIMS, minutes(t0, [600] * 10), unit="Count")
        calls: list[str] = []
        target = CloudWatchTarget(load_balancer=LB, preroll_s=0)
        source = CloudWatchSource(target, api=recording_api(calls), discovery=Discovery(load_balancers=(LB,)))
        result = source.fetch(t0, t0 + 600)
        assert calls == ["GetMetricData"] * 4
        assert {(s.metric, s.stat) for s in result.series} == {
            ("TargetResponseTime", "Average"),
            ("RequestCount", "Sum"),
        }
        failed = {m.stat: m for m in result.missing if m.metric == "TargetResponseTime"}
        assert set(failed) == {"p95", "p99"}
        assert failed["p95"].reason.startswith(
            f"CloudWatch could not answer AWS/ApplicationELB TargetResponseTime LoadBalancer={LB} (p95): "
        )
        assert "HTTP 500" in failed["p95"].reason and not failed["p95"].sparse
        sparse = {m.metric for m in result.missing if m.sparse}
        assert sparse == {"HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "TargetConnectionErrorCount"}

    def test_alb_without_5xx_datapoints_passes_when_it_served_requests(self, aws: str, t0: float) -> None:
        """No 5xx datapoints next to live RequestCount means zero 5xx: the ALB 5xx criterion passes."""
        cw = plain_session().client("cloudwatch")
        put_series(cw, "AWS/ApplicationELB", "RequestCount", LB_DIMS, minutes(t0, [600] * 10), unit="Count")
        target = CloudWatchTarget(load_balancer=LB, preroll_s=0)
        source = CloudWatchSource(
            target, api=AwsApi(make_session()), discovery=Discovery(load_balancers=(LB,))
        )
        rows = {
            r.name: r for r in judge_server(source.fetch(t0, t0 + 600), window_start=t0, window_end=t0 + 600)
        }
        assert rows["server ALB 5xx"].status is Status.PASS
        assert rows["server ALB 5xx"].observed == 0
        assert "of 6000 requests" in rows["server ALB 5xx"].reason

    def test_alb_5xx_fail_and_rds_and_target_group_series(self, aws: str, t0: float) -> None:
        """5xx datapoints fail the ALB criterion; RDS and target-group series come back with their
        dimensions."""
        cw = plain_session().client("cloudwatch")
        tg = "targetgroup/api-tg/6d0ecf831eec9f09"
        put_series(cw, "AWS/ApplicationELB", "RequestCount", LB_DIMS, minutes(t0, [600] * 10))
        put_series(cw, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", LB_DIMS, [(t0 + 240, 7.0)])
        put_series(cw, "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", LB_DIMS, [(t0 + 300, 2.0)])
        put_series(
            cw,
            "AWS/ApplicationELB",
            "UnHealthyHostCount",
            (("TargetGroup", tg), ("LoadBalancer", LB)),
            minutes(t0, [0, 1, 0]),
        )
        put_series(
            cw,
            "AWS/RDS",
            "DatabaseConnections",
            (("DBInstanceIdentifier", "shop-db"),),
            minutes(t0, [10, 90, 20]),
        )
        put_series(
            cw, "AWS/RDS", "CPUUtilization", (("DBInstanceIdentifier", "shop-db"),), minutes(t0, [20, 30, 25])
        )
        target = CloudWatchTarget(rds_instance="shop-db", load_balancer=LB, preroll_s=0)
        discovery = Discovery(load_balancers=(LB,), target_groups=(TargetGroupRef(tg, LB),))
        source = CloudWatchSource(target, api=AwsApi(make_session()), discovery=discovery)
        result = source.fetch(t0, t0 + 600)
        unhealthy = result.find(metric="UnHealthyHostCount")[0]
        assert unhealthy.resource == f"tg:{tg}" and [v for _, v in unhealthy.points] == [0, 1, 0]
        connections = result.find(metric="DatabaseConnections", stat="Maximum")[0]
        assert connections.resource == "rds:shop-db" and max(v for _, v in connections.points) == 90
        from runner.judge.server import ServerCriteriaLimits

        limits = ServerCriteriaLimits(rds_connections=80, rds_cpu_percent=50)
        rows = {r.name: r for r in judge_server(result, window_start=t0, window_end=t0 + 600, limits=limits)}
        assert rows["server ALB 5xx"].status is Status.FAIL and rows["server ALB 5xx"].observed == 9
        assert rows["server RDS connections"].status is Status.FAIL
        assert rows["server RDS CPU"].status is Status.PASS


class FakeTime:
    """A clock that moves only when slept on; ``on_sleep`` runs at each sleep (e.g. CloudWatch
    catching up)."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []
        self.on_sleep: list[Any] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep.pop(0)()


class TestWaitSettled:
    def test_refetches_until_the_last_period_arrives(self, aws: str, t0: float) -> None:
        """wait_settled fetches again after a poll until CloudWatch has published the last minute."""
        seed_ecs(t0, [50] * 10, [50] * 10)  # t0 .. t0+540: the minute t0+600 is still to come
        fake = FakeTime(t0 + 700)
        cw = plain_session().client("cloudwatch")

        def cloudwatch_catches_up() -> None:
            put_series(cw, "AWS/ECS", "CPUUtilization", ECS_DIMS, [(t0 + 600, 60.0)])
            put_series(cw, "AWS/ECS", "MemoryUtilization", ECS_DIMS, [(t0 + 600, 55.0)])

        fake.on_sleep.append(cloudwatch_catches_up)
        progress: list[SettleProgress] = []
        source = CloudWatchSource(
            ECS_TARGET, api=AwsApi(make_session()), discovery=NO_LB, clock=fake.clock, sleep=fake.sleep
        )
        result = source.wait_settled(t0 + 30, t0 + 630, settle_s=180, poll_s=15, on_progress=progress.append)
        assert [p.settled for p in progress] == [False, True]
        assert (
            len(progress[0].pending) == 4
            and "AWS/ECS CPUUtilization ClusterName=shop ServiceName=api (Average)" in progress[0].pending
        )
        assert fake.sleeps == [15]
        cpu = result.find(metric="CPUUtilization", stat="Average")[0]
        assert cpu.points[-1] == (t0 + 600, 60.0)

    def test_gives_up_when_settle_time_runs_out(self, aws: str, t0: float) -> None:
        """With the last minute never published, wait_settled returns what there is once settle_s is spent."""
        seed_ecs(t0, [50] * 10, [50] * 10)
        fake = FakeTime(t0 + 700)
        progress: list[SettleProgress] = []
        source = CloudWatchSource(
            ECS_TARGET, api=AwsApi(make_session()), discovery=NO_LB, clock=fake.clock, sleep=fake.sleep
        )
        result = source.wait_settled(t0 + 30, t0 + 630, settle_s=50, poll_s=20, on_progress=progress.append)
        assert fake.sleeps == [20, 20, 10]
        assert not progress[-1].settled and progress[-1].remaining_s == 0
        assert "gave up waiting after 50 s" in progress[-1].message
        assert len(result.find(metric="CPUUtilization", stat="Average")[0].points) == 15

    def test_sparse_metrics_are_not_waited_for(self, aws: str, t0: float) -> None:
        """5xx counts (published only when non-zero) do not hold up settling."""
        cw = plain_session().client("cloudwatch")
        for metric in ("RequestCount", "TargetResponseTime"):
            put_series(cw, "AWS/ApplicationELB", metric, LB_DIMS, minutes(t0, [600] * 11))
        fake = FakeTime(t0 + 700)
        target = CloudWatchTarget(load_balancer=LB, preroll_s=0)
        discovery = Discovery(load_balancers=(LB,))
        source = CloudWatchSource(
            target, api=AwsApi(make_session()), discovery=discovery, clock=fake.clock, sleep=fake.sleep
        )
        progress: list[SettleProgress] = []
        source.wait_settled(t0 + 30, t0 + 630, settle_s=60, on_progress=progress.append)
        # p95/p99 fail on moto (not waited for either); 5xx counts have no data and are sparse.
        assert [p.settled for p in progress] == [True]
        assert fake.sleeps == []


class TestErrorsFromRealComponents:
    def test_unreachable_endpoint_is_source_unavailable(
        self, aws: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A closed port on 127.0.0.1 gives SourceUnavailableError naming CloudWatch, the endpoint and the
        region."""
        url = f"http://127.0.0.1:{free_port()}"
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        source = CloudWatchSource(ECS_TARGET, api=AwsApi(make_session()), discovery=NO_LB)
        with pytest.raises(SourceUnavailableError) as err:
            source.fetch(time.time() - 600, time.time())
        assert str(err.value).startswith(f"cannot reach CloudWatch at {url} (region {REGION})")

    def test_no_credentials_is_a_credentials_error(self, aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """With no keys, no profile files and no instance metadata, the error says how to provide
        credentials."""
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
        source = CloudWatchSource(ECS_TARGET, api=AwsApi(make_session()), discovery=NO_LB)
        with pytest.raises(SourceCredentialsError) as err:
            source.fetch(time.time() - 600, time.time())
        assert str(err.value).startswith("no AWS credentials found")

    def test_unknown_profile_is_a_credentials_error(self, aws: str) -> None:
        """A profile that no AWS config file defines is named in a credentials error."""
        with pytest.raises(SourceCredentialsError) as err:
            make_session(profile="nope")
        assert "'nope'" in str(err.value)

    def test_no_region_is_named(self, aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """With no region anywhere in the chain the error asks for one."""
        monkeypatch.delenv("AWS_REGION")
        monkeypatch.delenv("AWS_DEFAULT_REGION")
        with pytest.raises(SourceError) as err:
            AwsApi(make_session()).client("cloudwatch")
        assert str(err.value).startswith("no AWS region")

    def test_target_validation_names_the_problem(self) -> None:
        """A period CloudWatch does not support, or a service without its cluster, is a ConfigError."""
        from runner.errors import ConfigError

        with pytest.raises(ConfigError, match="period 45s"):
            CloudWatchTarget(ecs_cluster="c", ecs_service="s", period_s=45)
        with pytest.raises(ConfigError, match="go together"):
            CloudWatchTarget(ecs_service="s")


class RefusingProxy:
    """A real HTTP proxy on 127.0.0.1 in front of moto that answers the first ``refuse`` requests
    with HTTP 503 (or drops their connection), then forwards every request to moto: AWS's
    transient failures, which moto itself never produces."""

    def __init__(self, upstream: str, *, refuse: int, drop: bool = False) -> None:
        import http.client
        import threading
        import urllib.parse
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        target = urllib.parse.urlsplit(upstream)
        proxy = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.requests += 1
                if proxy.requests <= refuse:
                    if drop:
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                conn.request("POST", self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "date",
                        "server",
                    ):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RefusingProxy:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class TestBotocoreRetries:
    """Retries are botocore's own (standard mode): transient failures are retried, then translated."""

    def test_transient_5xx_answers_are_retried_and_the_data_kept(
        self, aws: str, t0: float, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Two HTTP 503s before moto answers: the third attempt's data is kept, in one fetch."""
        seed_ecs(t0, [40] * 11, [50] * 11)
        with RefusingProxy(aws, refuse=2) as proxy:
            monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
            source = CloudWatchSource(ECS_TARGET, api=AwsApi(make_session()), discovery=NO_LB)
            result = source.fetch(t0 + 60, t0 + 600)
        assert proxy.requests == 3
        assert {s.metric for s in result.series} == {"CPUUtilization", "MemoryUtilization"}

    def test_a_dropped_connection_is_retried(
        self, aws: str, t0: float, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A connection closed without an answer (a transient network error) is retried."""
        seed_ecs(t0, [40] * 11, [50] * 11)
        with RefusingProxy(aws, refuse=1, drop=True) as proxy:
            monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
            source = CloudWatchSource(ECS_TARGET, api=AwsApi(make_session()), discovery=NO_LB)
            result = source.fetch(t0 + 60, t0 + 600)
        assert proxy.requests == 2 and len(result.series) == 4

    def test_the_retry_mode_is_botocores(self, aws: str) -> None:
        """Clients use botocore's standard mode (adaptive on request) with the attempts given."""
        client = AwsApi(make_session(), retry_mode="adaptive", max_attempts=4).client("cloudwatch")
        assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 4}
        assert AwsApi(make_session()).client("ecs").meta.config.retries["mode"] == "standard"


# -- fakes: botocore Stubber, for what moto cannot do ------------------------------------------------


def stubbed_source(
    target: CloudWatchTarget, discovery: Discovery = NO_LB
) -> tuple[CloudWatchSource, Stubber, list[float]]:
    api, stubber = stubbed_cloudwatch()
    return CloudWatchSource(target, api=api, discovery=discovery), stubber, []


def results(t0: float, n_queries: int, values: list[float], *, first_id: int = 0) -> dict[str, Any]:
    stamps = [t0 + 60 * i for i in range(len(values))]
    return metric_data(stamps, values, n_queries, first_id=first_id)


class TestStubbedCloudWatch:
    def test_fake_percentiles_are_answered_where_cloudwatch_supports_them(self, stub_env: None) -> None:
        """Fake (Stubber): when the service answers p95/p99, they come back as series like any other."""
        t0 = 1_700_000_040.0
        source, stub, _ = stubbed_source(
            CloudWatchTarget(load_balancer=LB, preroll_s=0), Discovery(load_balancers=(LB,))
        )
        stub.add_response("get_metric_data", results(t0, 7, [0.2, 0.3]))
        result = source.fetch(t0, t0 + 120)
        assert {s.stat for s in result.find(metric="TargetResponseTime")} == {"Average", "p95", "p99"}
        stub.assert_no_pending_responses()

    def test_fake_pages_are_followed_and_merged(self, stub_env: None) -> None:
        """Fake (Stubber): a NextToken is sent back and the pages' points are merged per query, in order."""
        t0 = 1_700_000_040.0
        source, stub, _ = stubbed_source(ECS_TARGET)
        first = results(t0, 4, [1.0, 2.0])
        first["NextToken"] = "page-2"
        second = results(t0 + 120, 4, [3.0])
        stub.add_response("get_metric_data", first, METRIC_DATA_PARAMS)
        stub.add_response("get_metric_data", second, {**METRIC_DATA_PARAMS, "NextToken": "page-2"})
        result = source.fetch(t0 + 300, t0 + 400)
        assert len(result.series) == 4 and result.missing == ()
        assert result.series[0].points == ((t0, 1.0), (t0 + 60, 2.0), (t0 + 120, 3.0))
        stub.assert_no_pending_responses()

    def test_fake_access_denied_names_the_missing_action(self, stub_env: None) -> None:
        """Fake (Stubber): AccessDenied becomes SourcePermissionError naming the principal and
        cloudwatch:GetMetricData."""
        source, stub, _ = stubbed_source(ECS_TARGET)
        stub.add_client_error(
            "get_metric_data",
            service_error_code="AccessDenied",
            service_message="User: arn:aws:iam::123456789012:user/ci is not authorized to perform: "
            "cloudwatch:GetMetricData because no identity-based policy allows the "
            "cloudwatch:GetMetricData action",
            http_status_code=403,
        )
        with pytest.raises(SourcePermissionError) as err:
            source.fetch(1_700_000_000, 1_700_000_600)
        assert str(err.value) == (
            "access denied: arn:aws:iam::123456789012:user/ci lacks cloudwatch:GetMetricData "
            "(see deploy/iam/loadlens-policy.json)"
        )

    def test_fake_access_denied_without_detail_still_names_the_action(self, stub_env: None) -> None:
        """Fake (Stubber): a bare AccessDeniedException still names the action from the call itself."""
        source, stub, _ = stubbed_source(ECS_TARGET)
        stub.add_client_error(
            "get_metric_data", service_error_code="AccessDeniedException", http_status_code=403
        )
        with pytest.raises(SourcePermissionError, match="the credentials lack cloudwatch:GetMetricData"):
            source.fetch(1_700_000_000, 1_700_000_600)

    @pytest.mark.parametrize("code", ["ExpiredToken", "ExpiredTokenException", "RequestExpired"])
    def test_fake_expired_credentials(self, stub_env: None, code: str) -> None:
        """Fake (Stubber): an expired session token is a credentials error that says so."""
        source, stub, _ = stubbed_source(ECS_TARGET)
        stub.add_client_error("get_metric_data", service_error_code=code, http_status_code=400)
        with pytest.raises(SourceCredentialsError, match="AWS credentials have expired"):
            source.fetch(1_700_000_000, 1_700_000_600)

    def test_fake_throttling_left_after_botocores_retries_is_one_line(self, stub_env: None) -> None:
        """Fake (Stubber, which answers before botocore's retry loop): a Throttling error that
        outlived botocore's retries becomes one line naming the action and the attempts."""
        source, stub, _ = stubbed_source(ECS_TARGET)
        stub.add_client_error(
            "get_metric_data", service_error_code="ThrottlingException", http_status_code=400
        )
        with pytest.raises(SourceUnavailableError) as err:
            source.fetch(1_700_000_000, 1_700_000_600)
        assert str(err.value) == "AWS kept throttling cloudwatch:GetMetricData (3 attempts); try again later"

    def test_fake_per_query_error_is_reported_missing(self, stub_env: None) -> None:
        """Fake (Stubber): a query CloudWatch answers with StatusCode InternalError is missing with
        its message."""
        t0 = 1_700_000_040.0
        source, stub, _ = stubbed_source(ECS_TARGET)
        answer = results(t0, 4, [10.0])
        answer["MetricDataResults"][0] = {
            "Id": "q0",
            "StatusCode": "InternalError",
            "Timestamps": [],
            "Values": [],
            "Messages": [{"Code": "InternalError", "Value": "query timed out"}],
        }
        stub.add_response("get_metric_data", answer)
        result = source.fetch(t0, t0 + 60)
        assert len(result.series) == 3
        (missing,) = result.missing
        assert missing.reason.endswith("CloudWatch answered InternalError: query timed out")
