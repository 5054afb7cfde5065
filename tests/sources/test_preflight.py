"""``preflight`` against a real moto server holding an ECS service behind an ALB and RDS databases; the
one fake (a botocore Stubber, named as such) denies GetMetricData, which moto cannot."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from botocore.stub import Stubber

from runner.sources.aws import AwsApi, make_session
from runner.sources.cloudwatch_catalog import CloudWatchTarget
from runner.sources.preflight import CheckResult, CheckStatus, preflight
from tests.support.aws_stack import (
    REGION,
    WebStack,
    aws_env,
    build_web_stack,
    create_rds_cluster,
    create_rds_instance,
    minutes,
    plain_session,
    put_series,
    reset,
)

TARGET = CloudWatchTarget(
    ecs_cluster="shop", ecs_service="api", rds_instance="shop-db", rds_cluster="shop-aurora"
)


@pytest.fixture(scope="module")
def built(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> WebStack:
    """The stack and the last 50 minutes of every regularly published metric (the tests only read)."""
    reset(moto_url)
    with pytest.MonkeyPatch.context() as mp:
        aws_env(mp, moto_url, tmp_path_factory.mktemp("aws"))
        session = plain_session()
        stack = build_web_stack(session)
        create_rds_instance(session, "shop-db")
        create_rds_cluster(session, "shop-aurora")
        cw = session.client("cloudwatch")
        t0 = (int(time.time()) // 60 - 50) * 60.0
        series = minutes(t0, [30.0] * 45)
        ecs = (("ClusterName", "shop"), ("ServiceName", "api"))
        for metric in ("CPUUtilization", "MemoryUtilization"):
            put_series(cw, "AWS/ECS", metric, ecs, series)
        for dims in ((("DBInstanceIdentifier", "shop-db"),), (("DBClusterIdentifier", "shop-aurora"),)):
            for metric in (
                "CPUUtilization",
                "DatabaseConnections",
                "FreeableMemory",
                "ReadLatency",
                "WriteLatency",
            ):
                put_series(cw, "AWS/RDS", metric, dims, series)
        lb = (("LoadBalancer", stack.load_balancer),)
        for metric in ("RequestCount", "TargetResponseTime"):
            put_series(cw, "AWS/ApplicationELB", metric, lb, series)
        tg = (("TargetGroup", stack.target_group), ("LoadBalancer", stack.load_balancer))
        put_series(cw, "AWS/ApplicationELB", "UnHealthyHostCount", tg, series)
        return stack


@pytest.fixture
def stack(built: WebStack, moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> WebStack:
    aws_env(monkeypatch, moto_url, tmp_path)
    return built


def by_name(checks: list[CheckResult]) -> dict[str, CheckResult]:
    return {c.name: c for c in checks}


class TestPreflightOnMoto:
    def test_everything_configured_checks_out(self, stack: WebStack) -> None:
        """With credentials, resources and recent datapoints, no check fails and each names what it found."""
        checks = by_name(preflight(TARGET, api=AwsApi(make_session())))
        assert [c.name for c in checks.values() if c.status is CheckStatus.FAIL] == []
        assert (
            checks["credentials"].detail
            == f"arn:aws:sts::123456789012:user/moto (account 123456789012), region {REGION}"
        )
        assert checks["ECS service shop/api"].ok
        assert checks["RDS instance shop-db"].detail == "available, postgres"
        assert checks["RDS cluster shop-aurora"].status is CheckStatus.OK
        assert checks["load balancer"].detail.startswith(
            f"load balancer {stack.load_balancer} (from ECS service shop/api)"
        )
        assert checks["cloudwatch:GetMetricData"].status is CheckStatus.OK
        cpu = checks["metric AWS/ECS CPUUtilization ClusterName=shop ServiceName=api"]
        assert cpu.status is CheckStatus.OK and cpu.detail.startswith("45 datapoints in the last 60 min")
        five_xx = checks[
            f"metric AWS/ApplicationELB HTTPCode_Target_5XX_Count LoadBalancer={stack.load_balancer}"
        ]
        assert five_xx.status is CheckStatus.OK and "published only when non-zero" in five_xx.detail
        # moto cannot answer percentiles: a warning with the reason, not a failure.
        latency = checks[f"metric AWS/ApplicationELB TargetResponseTime LoadBalancer={stack.load_balancer}"]
        assert latency.status is CheckStatus.WARN
        assert latency.detail.startswith("45 datapoints in the last 60 min")
        why = "CloudWatch could not answer: cloudwatch:GetMetricData failed on the AWS side (HTTP 500)"
        assert f"p95, p99: {why}" in latency.detail

    def test_unknown_names_fail_with_the_name(self, stack: WebStack) -> None:
        """A wrong service and database name each fail their check, and their metrics have no datapoints."""
        target = CloudWatchTarget(ecs_cluster="shop", ecs_service="nope", rds_instance="nodb")
        checks = by_name(preflight(target, api=AwsApi(make_session())))
        assert checks["credentials"].status is CheckStatus.OK
        assert checks["ECS service shop/nope"].status is CheckStatus.FAIL
        assert "ECS service 'nope' not found in cluster 'shop'" in checks["ECS service shop/nope"].detail
        assert (
            checks["RDS instance nodb"].detail
            == f"RDS instance 'nodb' not found in region {REGION}: check the name and the region"
        )
        assert checks["load balancer"].status is CheckStatus.FAIL
        cpu = checks["metric AWS/ECS CPUUtilization ClusterName=shop ServiceName=nope"]
        assert cpu.status is CheckStatus.FAIL
        assert cpu.detail == "no datapoints in the last 60 min: check the names and the region"

    def test_no_credentials_skips_the_rest(self, stack: WebStack, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without credentials the first check fails with how to fix it and nothing else is tried."""
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
        checks = preflight(TARGET, api=AwsApi(make_session()))
        assert [(c.name, c.status) for c in checks] == [
            ("credentials", CheckStatus.FAIL),
            ("everything else", CheckStatus.SKIP),
        ]
        assert checks[0].detail.startswith("no AWS credentials found")

    def test_fake_denied_metrics_name_the_action(self, stack: WebStack) -> None:
        """Fake (Stubber on the CloudWatch client only; the rest is moto): denied GetMetricData fails its
        check naming cloudwatch:GetMetricData, after the Describe checks passed."""
        api = AwsApi(make_session())
        stub = Stubber(api.client("cloudwatch"))
        stub.add_client_error("get_metric_data", service_error_code="AccessDenied", http_status_code=403)
        with stub:
            checks = by_name(preflight(TARGET, api=api))
        assert checks["ECS service shop/api"].ok
        denied = checks["cloudwatch:GetMetricData"]
        assert denied.status is CheckStatus.FAIL
        assert denied.detail == (
            "access denied: the credentials lack cloudwatch:GetMetricData "
            "(see deploy/iam/loadlens-policy.json)"
        )
        assert not any(name.startswith("metric ") for name in checks)
