"""Discovery of the load balancer and target groups behind an ECS service, against a real moto server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runner.errors import SourceError
from runner.sources.aws import AwsApi, make_session
from runner.sources.cloudwatch import CloudWatchSource
from runner.sources.cloudwatch_catalog import CloudWatchTarget, TargetGroupRef
from runner.sources.discovery import discover
from tests.support.aws_stack import (
    REGION,
    WebStack,
    aws_env,
    build_web_stack,
    minutes,
    plain_session,
    put_series,
    reset,
)


@pytest.fixture(scope="module")
def built(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> WebStack:
    """One stack for the module: the tests only read it (one adds a service no other test looks at)."""
    reset(moto_url)
    with pytest.MonkeyPatch.context() as mp:
        aws_env(mp, moto_url, tmp_path_factory.mktemp("aws"))
        return build_web_stack(plain_session())


@pytest.fixture
def stack(built: WebStack, moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> WebStack:
    aws_env(monkeypatch, moto_url, tmp_path)
    return built


def api() -> AwsApi:
    return AwsApi(make_session())


class TestDiscoverFromEcsService:
    def test_finds_the_alb_and_target_group_from_cluster_and_service(self, stack: WebStack) -> None:
        """Given only the cluster and service, discovery returns the ALB and target group as
        CloudWatch names them."""
        target = CloudWatchTarget(ecs_cluster="shop", ecs_service="api", container_insights=False)
        found = discover(target, api=api())
        assert found.load_balancers == (stack.load_balancer,)
        assert found.target_groups == (
            TargetGroupRef(stack.target_group, stack.load_balancer, stack.target_group_arn),
        )
        assert found.load_balancers[0].startswith("app/shop-alb/")
        assert found.target_groups[0].dimension.startswith("targetgroup/api-tg/")
        assert found.lines() == (
            f"load balancer {stack.load_balancer} (from ECS service shop/api)",
            f"target group {stack.target_group} (load balancer {stack.load_balancer})",
        )

    def test_discovered_alb_is_queried(self, stack: WebStack) -> None:
        """The source reads the discovered ALB's metrics and the target group's UnHealthyHostCount."""
        t0 = (int(time.time()) // 60 - 30) * 60.0
        cw = plain_session().client("cloudwatch")
        dims = (("TargetGroup", stack.target_group), ("LoadBalancer", stack.load_balancer))
        put_series(cw, "AWS/ApplicationELB", "UnHealthyHostCount", dims, minutes(t0, [0, 2, 0]))
        put_series(
            cw,
            "AWS/ApplicationELB",
            "RequestCount",
            (("LoadBalancer", stack.load_balancer),),
            minutes(t0, [5, 6, 7]),
        )
        source = CloudWatchSource(
            CloudWatchTarget(ecs_cluster="shop", ecs_service="api", preroll_s=0), api=api()
        )
        result = source.fetch(t0, t0 + 180)
        assert [v for _, v in result.find(metric="UnHealthyHostCount")[0].points] == [0, 2, 0]
        assert result.find(metric="RequestCount")[0].resource == f"alb:{stack.load_balancer}"

    def test_container_insights_is_detected_on_the_cluster(self, stack: WebStack) -> None:
        """Left to discovery, Container Insights is read when the cluster has it on, and noted when off."""
        off = discover(CloudWatchTarget(ecs_cluster="shop", ecs_service="api"), api=api())
        assert off.container_insights is False
        assert "Container Insights is off for cluster shop: its metrics are not read" in off.lines()
        ecs = plain_session().client("ecs")
        ecs.create_cluster(
            clusterName="insightful", settings=[{"name": "containerInsights", "value": "enabled"}]
        )
        ecs.create_service(cluster="insightful", serviceName="api", taskDefinition="api", desiredCount=1)
        target = CloudWatchTarget(ecs_cluster="insightful", ecs_service="api")
        source = CloudWatchSource(target, api=api())
        assert source.discover().container_insights is True
        assert {"CpuUtilized", "MemoryUtilized", "RunningTaskCount"} <= {q.metric for q in source.queries()}

    def test_service_without_load_balancer_is_reported(self, stack: WebStack) -> None:
        """A service registered with no target group yields no ALB and a note saying so."""
        ecs = plain_session().client("ecs")
        ecs.create_service(cluster="shop", serviceName="worker", taskDefinition="api", desiredCount=1)
        found = discover(CloudWatchTarget(ecs_cluster="shop", ecs_service="worker"), api=api())
        assert found.load_balancers == () and found.target_groups == ()
        assert "ECS service shop/worker has no load balancer" in found.lines()

    def test_unknown_cluster_is_named(self, stack: WebStack) -> None:
        """A cluster that does not exist is named, with the region, in one line."""
        with pytest.raises(SourceError) as err:
            discover(CloudWatchTarget(ecs_cluster="nope", ecs_service="api"), api=api())
        assert (
            str(err.value)
            == f"ECS cluster 'nope' not found in region {REGION}: check the name and the region"
        )

    def test_unknown_service_is_named(self, stack: WebStack) -> None:
        """A service the cluster does not hold is named with its cluster and the region."""
        with pytest.raises(SourceError) as err:
            discover(CloudWatchTarget(ecs_cluster="shop", ecs_service="nope"), api=api())
        assert str(err.value) == (
            f"ECS service 'nope' not found in cluster 'shop' (region {REGION}): check the name and the region"
        )


class TestConfiguredLoadBalancer:
    @pytest.mark.parametrize("form", ["name", "arn", "dimension"])
    def test_load_balancer_in_any_form_finds_its_target_groups(self, stack: WebStack, form: str) -> None:
        """A load balancer given by name, ARN or CloudWatch dimension resolves to itself and its
        target groups."""
        given = {"name": "shop-alb", "arn": stack.load_balancer_arn, "dimension": stack.load_balancer}[form]
        found = discover(CloudWatchTarget(load_balancer=given), api=api())
        assert found.load_balancers == (stack.load_balancer,)
        assert [tg.dimension for tg in found.target_groups] == [stack.target_group]
        assert found.found_from == "configuration"

    def test_target_group_by_name_finds_its_load_balancer(self, stack: WebStack) -> None:
        """A target group given by name brings its load balancer with it."""
        found = discover(CloudWatchTarget(target_groups=("api-tg",)), api=api())
        assert found.load_balancers == (stack.load_balancer,)
        assert found.target_groups[0].dimension == stack.target_group

    def test_unknown_load_balancer_is_named(self, stack: WebStack) -> None:
        """A load balancer that does not exist is named in one line."""
        with pytest.raises(SourceError) as err:
            discover(CloudWatchTarget(load_balancer="nope"), api=api())
        assert (
            str(err.value)
            == f"load balancer 'nope' not found in region {REGION}: check the name and the region"
        )

    def test_unknown_target_group_is_named(self, stack: WebStack) -> None:
        """A target group that does not exist is named in one line."""
        with pytest.raises(SourceError, match="target group 'nope' not found in region"):
            discover(CloudWatchTarget(target_groups=("nope",)), api=api())
