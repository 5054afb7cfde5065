"""Helpers for tests against a real moto server: dummy credentials, reset, seeding, a small stack.

The environment is set through pytest's ``monkeypatch`` so nothing leaks between tests; boto3
reaches moto through ``AWS_ENDPOINT_URL`` exactly as loadlens would reach a stand-in in real use.
"""

from __future__ import annotations

import datetime as dt
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from runner.sources.aws import AwsApi

REGION = "us-east-1"
_CLEARED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


def aws_env(monkeypatch: pytest.MonkeyPatch, endpoint_url: str, tmp: Path) -> None:
    """Dummy credentials and region, no config files, no instance metadata, endpoint = moto."""
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def child_env(endpoint_url: str, tmp: Path) -> dict[str, str]:
    """The same dummy credentials for a run's own process (a loadlens subprocess): endpoint = moto."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def reset(endpoint_url: str) -> None:
    """Clear every resource and metric the moto server holds."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10):
        pass


def put_series(
    cloudwatch: Any,
    namespace: str,
    metric: str,
    dimensions: Sequence[tuple[str, str]],
    points: Iterable[tuple[float, float]],
    *,
    unit: str = "None",
) -> None:
    """Seed one metric: one datapoint per (epoch seconds, value)."""
    data = [
        {
            "MetricName": metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions],
            "Timestamp": dt.datetime.fromtimestamp(t, dt.UTC),
            "Value": float(v),
            "Unit": unit,
        }
        for t, v in points
    ]
    for i in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[i : i + 500])


def minutes(t0: float, values: Sequence[float]) -> list[tuple[float, float]]:
    """``values`` one a minute from ``t0``."""
    return [(t0 + 60 * i, v) for i, v in enumerate(values)]


@dataclass(frozen=True)
class WebStack:
    """An ECS service behind an ALB target group, as moto holds it."""

    cluster: str
    service: str
    load_balancer_arn: str
    load_balancer: str  # CloudWatch dimension value "app/<name>/<id>"
    target_group_arn: str
    target_group: str  # "targetgroup/<name>/<id>"


def build_web_stack(
    session: Any, *, cluster: str = "shop", service: str = "api", lb_name: str = "shop-alb"
) -> WebStack:
    """VPC, two subnets, an ALB with a listener forwarding to a target group, and an ECS service
    registered with that target group."""
    ec2, elb, ecs = session.client("ec2"), session.client("elbv2"), session.client("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in ((1, "a"), (2, "b"))
    ]
    lb = elb.create_load_balancer(Name=lb_name, Subnets=subnets)["LoadBalancers"][0]
    tg = elb.create_target_group(Name=f"{service}-tg", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")[
        "TargetGroups"
    ][0]
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
    )
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(
        family=service,
        containerDefinitions=[
            {"name": "web", "image": "nginx", "memory": 512, "portMappings": [{"containerPort": 80}]}
        ],
    )
    ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=service,
        desiredCount=1,
        loadBalancers=[{"targetGroupArn": tg["TargetGroupArn"], "containerName": "web", "containerPort": 80}],
    )
    lb_arn, tg_arn = lb["LoadBalancerArn"], tg["TargetGroupArn"]
    return WebStack(
        cluster=cluster,
        service=service,
        load_balancer_arn=lb_arn,
        load_balancer=lb_arn.split(":loadbalancer/")[1],
        target_group_arn=tg_arn,
        target_group=tg_arn.split(":", 5)[5],
    )


def create_rds_instance(session: Any, ident: str = "shop-db") -> None:
    """A Postgres RDS instance in moto."""
    session.client("rds").create_db_instance(
        DBInstanceIdentifier=ident,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="app",
        MasterUserPassword="password123",
        AllocatedStorage=20,
    )


def create_rds_cluster(session: Any, ident: str = "shop-aurora") -> None:
    """An Aurora PostgreSQL cluster in moto."""
    session.client("rds").create_db_cluster(
        DBClusterIdentifier=ident,
        Engine="aurora-postgresql",
        MasterUsername="app",
        MasterUserPassword="password123",
    )


def plain_session() -> Any:
    """A boto3 session for seeding (not the one under test)."""
    return boto3.session.Session(region_name=REGION)


def fresh(endpoint_url: str, monkeypatch: pytest.MonkeyPatch, tmp: Path) -> str:
    """A cleared moto server and this process's dummy credentials pointing at it (a test's start)."""
    reset(endpoint_url)
    aws_env(monkeypatch, endpoint_url, tmp)
    return endpoint_url


def seed_web_seconds(
    stack: WebStack,
    *,
    cpu: float,
    memory: float = 50.0,
    response_time_s: float | None = 0.05,
    unhealthy: float | None = None,
) -> None:
    """High-resolution (1 s) ECS CPU/memory and ALB request counts from 3 minutes ago to 3 from now,
    plus the ALB response time and the target group's unhealthy hosts unless None: every 1 s period
    of a short run is present at once, so the default settle wait ends at its first round."""
    now = float(int(time.time()))
    stamps = [now - 180 + i for i in range(360)]
    cw = plain_session().client("cloudwatch")
    dims = [("ClusterName", stack.cluster), ("ServiceName", stack.service)]
    put_series(cw, "AWS/ECS", "CPUUtilization", dims, [(t, cpu) for t in stamps], unit="Percent")
    put_series(cw, "AWS/ECS", "MemoryUtilization", dims, [(t, memory) for t in stamps], unit="Percent")
    lb = [("LoadBalancer", stack.load_balancer)]
    put_series(cw, "AWS/ApplicationELB", "RequestCount", lb, [(t, 20) for t in stamps], unit="Count")
    if response_time_s is not None:
        points = [(t, response_time_s) for t in stamps]
        put_series(cw, "AWS/ApplicationELB", "TargetResponseTime", lb, points, unit="Seconds")
    if unhealthy is not None:
        tg = [("TargetGroup", stack.target_group), ("LoadBalancer", stack.load_balancer)]
        put_series(
            cw, "AWS/ApplicationELB", "UnHealthyHostCount", tg, [(t, unhealthy) for t in stamps], unit="Count"
        )


# -- botocore Stubber, for what moto cannot do (percentiles, pages, denied calls): moto's gaps ------

# GetMetricData's parameters as loadlens sends them, for a Stubber expecting one call.
METRIC_DATA_PARAMS = {
    "MetricDataQueries": ANY,
    "StartTime": ANY,
    "EndTime": ANY,
    "ScanBy": "TimestampAscending",
}


def offline_env(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
    """Dummy credentials and an endpoint that is never reached: a Stubber answers every call."""
    aws_env(monkeypatch, "http://127.0.0.1:9", tmp)


def stubbed_cloudwatch() -> tuple[AwsApi, Stubber]:
    """An ``AwsApi`` whose CloudWatch client is answered by an active Stubber (fake, named as such)."""
    api = AwsApi(boto3.session.Session())
    stub = Stubber(api.client("cloudwatch"))
    stub.activate()
    return api, stub


def metric_data(
    stamps: Sequence[float], values: Sequence[float], n_queries: int, *, first_id: int = 0
) -> dict[str, Any]:
    """A GetMetricData answer: queries ``q<first_id>``... each with the same points."""
    when = [dt.datetime.fromtimestamp(t, dt.UTC) for t in stamps]
    return {
        "MetricDataResults": [
            {"Id": f"q{i}", "StatusCode": "Complete", "Timestamps": when, "Values": list(values)}
            for i in range(first_id, first_id + n_queries)
        ]
    }
