"""What loadlens reads from CloudWatch: the target, what discovery found, and the metric queries.

Pure data and pure functions (no boto3): the criteria and the reports can import it freely.

Series resources name what a metric describes, prefixed by its kind:
``ecs:<cluster>/<service>``, ``rds:<instance>``, ``rds-cluster:<cluster>``,
``alb:app/<name>/<id>`` and ``tg:targetgroup/<name>/<id>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from runner.config.rules import (
    Derived,
    boolean,
    cloudwatch_period,
    duration,
    is_cloudwatch_period,
    list_of,
    text,
)
from runner.errors import ConfigError
from runner.sources.custom import ServerMetric

ECS = "ecs:"
RDS_INSTANCE = "rds:"
RDS_CLUSTER = "rds-cluster:"
ALB = "alb:"
TARGET_GROUP = "tg:"

BASIC_STATS = frozenset({"Average", "Sum", "Minimum", "Maximum", "SampleCount"})


class TargetError(ConfigError, ValueError):
    """A CloudWatch target that cannot be watched as given (a ValueError too, so the config loader
    reports it with the file and key like any other problem)."""


@dataclass(frozen=True, slots=True)
class CloudWatchTarget:
    """What to watch in CloudWatch. How to reach AWS (profile, region) is the ``AwsApi``'s business.

    It is also what the [cloudwatch] table of loadlens.toml produces (runner.config.types): the
    ``Annotated`` markers are the checks of those keys. ``load_balancer`` is a name, an ARN or the
    dimension value ``app/<name>/<id>``; ``target_groups`` likewise (``targetgroup/<name>/<id>``).
    Both are discovered from the ECS service when not given. ``preroll_s`` is the idle baseline
    fetched before the test start; ``period_s`` the CloudWatch period (60, a multiple of 60, or
    1/5/10/30 for high-resolution metrics). With ``container_insights`` the service's
    ECS/ContainerInsights metrics are read too; None asks discovery whether the cluster has
    Container Insights on. A target naming nothing (``configured`` false) is the config's default.
    """

    __pydantic_config__ = {"extra": "forbid", "alias_generator": lambda name: name.removesuffix("_s")}

    ecs_cluster: Annotated[str | None, text()] = None
    ecs_service: Annotated[str | None, text()] = None
    rds_instance: Annotated[str | None, text()] = None
    rds_cluster: Annotated[str | None, text()] = None
    load_balancer: Annotated[str | None, text()] = None
    target_groups: Annotated[tuple[Annotated[str, text()], ...], list_of("a list of strings")] = ()
    period_s: Annotated[float, cloudwatch_period()] = 60.0
    preroll_s: Annotated[float, duration(positive=False)] = 300.0
    container_insights: Annotated[bool | None, boolean()] = None
    # The CloudWatch [[server.metrics]] of [server], set by runner.config.load: read in the same
    # batched GetMetricData as the rest.
    metrics: Annotated[tuple[ServerMetric, ...], Derived()] = ()

    def __post_init__(self) -> None:
        if bool(self.ecs_cluster) != bool(self.ecs_service):
            raise TargetError("ecs_cluster and ecs_service go together; give both or neither")
        p = self.period_s
        if not is_cloudwatch_period(p):
            raise TargetError(f"CloudWatch period {p:g}s is not 1, 5, 10, 30 or a multiple of 60 seconds")
        if self.preroll_s < 0:
            raise TargetError(f"CloudWatch preroll {self.preroll_s}s is negative")

    @property
    def configured(self) -> bool:
        """True when at least one resource to watch is named."""
        return bool(
            self.ecs_service
            or self.rds_instance
            or self.rds_cluster
            or self.load_balancer
            or self.target_groups
            or self.metrics
        )

    @property
    def ecs_resource(self) -> str | None:
        """``ecs:<cluster>/<service>``, or None without an ECS service."""
        return f"{ECS}{self.ecs_cluster}/{self.ecs_service}" if self.ecs_service else None


@dataclass(frozen=True, slots=True)
class TargetGroupRef:
    """A target group as CloudWatch names it, with the load balancer it serves."""

    dimension: str  # "targetgroup/<name>/<id>"
    load_balancer: str  # "app/<name>/<id>"
    arn: str = ""


@dataclass(frozen=True, slots=True)
class Discovery:
    """The load balancers and target groups to read, and how they were found (for the user)."""

    load_balancers: tuple[str, ...] = ()  # "app/<name>/<id>"
    target_groups: tuple[TargetGroupRef, ...] = ()
    found_from: str = ""  # e.g. "ECS service web/api", "configuration"
    notes: tuple[str, ...] = ()
    container_insights: bool = False  # detected on the ECS cluster (when the target left it to discovery)

    def lines(self) -> tuple[str, ...]:
        """What was found, one line each, for the console."""
        if not self.load_balancers and not self.target_groups:
            return (f"no load balancer found{_from(self.found_from)}", *self.notes)
        out = [f"load balancer {lb}{_from(self.found_from)}" for lb in self.load_balancers]
        out += [
            f"target group {tg.dimension} (load balancer {tg.load_balancer})" for tg in self.target_groups
        ]
        return (*out, *self.notes)


def _from(found_from: str) -> str:
    return f" (from {found_from})" if found_from else ""


@dataclass(frozen=True, slots=True)
class MetricQuery:
    """One CloudWatch metric and statistic, and the series resource it becomes.

    ``sparse``: CloudWatch publishes it only when non-zero (no datapoint means zero, given the
    resource is alive). ``needs_traffic``: published only while requests flow.
    """

    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    unit: str
    resource: str
    sparse: bool = False
    needs_traffic: bool = False
    period_s: float | None = None  # None: the target's period
    zero_when_missing: bool = False  # [[server.metrics]] missing = "zero": listed -> no data is 0

    @property
    def what(self) -> str:
        """Namespace, metric and dimensions: ``AWS/ECS CPUUtilization ClusterName=c ServiceName=s``."""
        dims = " ".join(f"{k}={v}" for k, v in self.dimensions)
        return f"{self.namespace} {self.metric} {dims}".rstrip()

    @property
    def label(self) -> str:
        """``what`` with the statistic: ``AWS/ECS CPUUtilization ClusterName=c ServiceName=s (Average)``."""
        return f"{self.what} ({self.stat})"

    @property
    def extended(self) -> bool:
        """A percentile or other extended statistic (p95, tm99, IQM…), not one of the five basic ones."""
        return self.stat not in BASIC_STATS


def _q(
    namespace: str,
    metric: str,
    dims: tuple[tuple[str, str], ...],
    stats: tuple[str, ...],
    unit: str,
    resource: str,
    *,
    sparse: bool = False,
    needs_traffic: bool = False,
) -> list[MetricQuery]:
    return [MetricQuery(namespace, metric, dims, s, unit, resource, sparse, needs_traffic) for s in stats]


def _rds(dim: str, ident: str, resource: str) -> list[MetricQuery]:
    d = ((dim, ident),)
    return [
        *_q("AWS/RDS", "CPUUtilization", d, ("Average", "Maximum"), "Percent", resource),
        *_q("AWS/RDS", "DatabaseConnections", d, ("Maximum", "Average"), "Count", resource),
        *_q("AWS/RDS", "FreeableMemory", d, ("Minimum",), "Bytes", resource),
        *_q("AWS/RDS", "ReadLatency", d, ("Average",), "Seconds", resource),
        *_q("AWS/RDS", "WriteLatency", d, ("Average",), "Seconds", resource),
    ]


def build_queries(target: CloudWatchTarget, discovery: Discovery) -> tuple[MetricQuery, ...]:
    """Every metric and statistic to read for ``target``, given what discovery found."""
    out: list[MetricQuery] = []
    if target.ecs_cluster and target.ecs_service:
        res = target.ecs_resource or ""
        d: tuple[tuple[str, str], ...] = (
            ("ClusterName", target.ecs_cluster),
            ("ServiceName", target.ecs_service),
        )
        out += _q("AWS/ECS", "CPUUtilization", d, ("Average", "Maximum"), "Percent", res)
        out += _q("AWS/ECS", "MemoryUtilization", d, ("Average", "Maximum"), "Percent", res)
        insights = target.container_insights
        if insights if insights is not None else discovery.container_insights:
            ci = "ECS/ContainerInsights"
            out += _q(ci, "CpuUtilized", d, ("Average",), "None", res)
            out += _q(ci, "CpuReserved", d, ("Average",), "None", res)
            out += _q(ci, "MemoryUtilized", d, ("Average",), "Megabytes", res)
            out += _q(ci, "MemoryReserved", d, ("Average",), "Megabytes", res)
            out += _q(ci, "RunningTaskCount", d, ("Minimum", "Maximum"), "Count", res)
    if target.rds_instance:
        out += _rds("DBInstanceIdentifier", target.rds_instance, f"{RDS_INSTANCE}{target.rds_instance}")
    if target.rds_cluster:
        out += _rds("DBClusterIdentifier", target.rds_cluster, f"{RDS_CLUSTER}{target.rds_cluster}")
    elb = "AWS/ApplicationELB"
    for lb in discovery.load_balancers:
        d = (("LoadBalancer", lb),)
        res = f"{ALB}{lb}"
        out += _q(elb, "TargetResponseTime", d, ("Average", "p95", "p99"), "Seconds", res, needs_traffic=True)
        out += _q(elb, "RequestCount", d, ("Sum",), "Count", res, needs_traffic=True)
        for metric in ("HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "TargetConnectionErrorCount"):
            out += _q(elb, metric, d, ("Sum",), "Count", res, sparse=True)
    for tg in discovery.target_groups:
        d = (("TargetGroup", tg.dimension), ("LoadBalancer", tg.load_balancer))
        out += _q(elb, "UnHealthyHostCount", d, ("Maximum",), "Count", f"{TARGET_GROUP}{tg.dimension}")
    for m in target.metrics:
        assert m.namespace and m.metric  # a CloudWatch [[server.metrics]] (ServerMetric checks)
        out.append(
            MetricQuery(
                m.namespace,
                m.metric,
                m.dimensions,
                m.statistic,
                "",
                m.resource,
                period_s=m.period_s,
                zero_when_missing=m.zero_when_missing,
            )
        )
    return tuple(out)


def arn_suffix(arn: str, marker: str) -> str:
    """The CloudWatch dimension value inside an ELBv2 ARN.

    ``arn:…:loadbalancer/app/web/123`` with marker ``loadbalancer/`` -> ``app/web/123``;
    ``arn:…:targetgroup/web-tg/456`` with marker ``targetgroup/`` -> ``targetgroup/web-tg/456``.
    A value already in dimension form is returned as it is.
    """
    if not arn.startswith("arn:"):
        return arn
    resource = arn.split(":", 5)[-1]
    if marker == "loadbalancer/" and resource.startswith(marker):
        return resource[len(marker) :]
    return resource
