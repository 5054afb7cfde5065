"""The AWS helpers the source and end-to-end tests share (tests/support/aws_stack.py), against a real
moto server, and the Stubber helpers for what moto cannot answer."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import aws_stack
from tests.support.procs import moto_server


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto-support")) as url:
        yield url


def metric_names(cloudwatch: object) -> set[tuple[str, str]]:
    pages = cloudwatch.get_paginator("list_metrics").paginate()  # type: ignore[attr-defined]
    return {(m["Namespace"], m["MetricName"]) for page in pages for m in page["Metrics"]}


class TestMoto:
    def test_fresh_clears_what_an_earlier_test_left(
        self, moto: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A test starts from an empty server: the stack a previous test built is gone."""
        aws_stack.fresh(moto, monkeypatch, tmp_path)
        aws_stack.build_web_stack(aws_stack.plain_session())
        aws_stack.fresh(moto, monkeypatch, tmp_path)
        assert aws_stack.plain_session().client("ecs").list_clusters()["clusterArns"] == []

    @pytest.mark.parametrize(
        ("response_time_s", "unhealthy", "extra"),
        [
            (0.05, 0, {"TargetResponseTime", "UnHealthyHostCount"}),
            (0.05, None, {"TargetResponseTime"}),
            (None, None, set()),
        ],
    )
    def test_seed_web_seconds_seeds_the_series_asked_for(
        self,
        moto: str,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
        response_time_s: float | None,
        unhealthy: float | None,
        extra: set[str],
    ) -> None:
        """ECS CPU/memory and ALB requests always, one point a second around now; the others on request."""
        aws_stack.fresh(moto, monkeypatch, tmp_path)
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        aws_stack.seed_web_seconds(stack, cpu=42, response_time_s=response_time_s, unhealthy=unhealthy)
        cw = aws_stack.plain_session().client("cloudwatch")
        always = {("AWS/ECS", "CPUUtilization"), ("AWS/ECS", "MemoryUtilization")}
        always.add(("AWS/ApplicationELB", "RequestCount"))
        assert metric_names(cw) == always | {("AWS/ApplicationELB", name) for name in extra}
        now = dt.datetime.fromtimestamp(time.time(), dt.UTC)
        got = cw.get_metric_statistics(
            Namespace="AWS/ECS",
            MetricName="CPUUtilization",
            Dimensions=[{"Name": "ClusterName", "Value": "shop"}, {"Name": "ServiceName", "Value": "api"}],
            StartTime=now - dt.timedelta(seconds=60),
            EndTime=now + dt.timedelta(seconds=60),
            Period=1,
            Statistics=["Maximum"],
        )["Datapoints"]
        assert len(got) >= 100 and {p["Maximum"] for p in got} == {42.0}


class TestStubber:
    def test_stubbed_cloudwatch_answers_with_metric_data(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """Fake (Stubber): the answer carries one result per query id, the points as datetimes."""
        aws_stack.offline_env(monkeypatch, tmp_path)
        api, stub = aws_stack.stubbed_cloudwatch()
        stub.add_response(
            "get_metric_data",
            aws_stack.metric_data([60.0, 120.0], [1.0, 2.0], 2),
            aws_stack.METRIC_DATA_PARAMS,
        )
        now = dt.datetime.now(dt.UTC)
        got = api.client("cloudwatch").get_metric_data(
            MetricDataQueries=[], StartTime=now, EndTime=now, ScanBy="TimestampAscending"
        )
        stub.assert_no_pending_responses()
        assert [r["Id"] for r in got["MetricDataResults"]] == ["q0", "q1"]
        assert got["MetricDataResults"][1]["Timestamps"][1] == dt.datetime.fromtimestamp(120.0, dt.UTC)
