"""The template variables: the datasources, the run and its endpoints, the runs' scenarios, and the
CloudWatch resources of the CloudWatch variant.

Each is a `Variable`: the SDK builder and the one-line ``definition`` Grafana shows in the variable
list (the SDK's schema has no field for it; `document.finish` adds it).
"""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import dashboard as dm

from dashboards.kit import CLOUDWATCH, PROMETHEUS


@dataclass(frozen=True)
class Variable:
    builder: Builder[dm.VariableModel]
    definition: str | None = None


def datasource(name: str, label: str, plugin: str) -> Variable:
    """The datasource of type ``plugin``; none is named, so Grafana picks its default one."""
    return Variable(
        db.DatasourceVariable(name)
        .label(label)
        .type(plugin)
        .hide(dm.VariableHide.DONT_HIDE)
        .include_all(False)
        .multi(False)
        .regex("")
    )


def label_values(
    name: str,
    label: str,
    query: str,
    *,
    sort: dm.VariableSort,
    multi: bool = False,
) -> Variable:
    """A Prometheus ``label_values()`` variable, re-read when the time range changes; a multi one
    offers All as ``.*`` (a regex: the panels select with ``=~``)."""
    builder = (
        db.QueryVariable(name)
        .label(label)
        .datasource(PROMETHEUS)
        .query({"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"})
        .hide(dm.VariableHide.DONT_HIDE)
        .include_all(multi)
        .multi(multi)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .regex("")
        .sort(sort)
    )
    if multi:
        builder.all_value(".*")
    return Variable(builder, query)


def run_id() -> Variable:
    """One run at a time, the latest first within a scenario (run ids end in a UTC timestamp)."""
    return label_values(
        "run_id", "run", "label_values(loadlens_run_info, run_id)", sort=dm.VariableSort.ALPHABETICAL_DESC
    )


def endpoint() -> Variable:
    return label_values(
        "endpoint",
        "endpoint",
        'label_values(loadlens_requests_total{run_id="$run_id"}, endpoint)',
        sort=dm.VariableSort.ALPHABETICAL_ASC,
        multi=True,
    )


def scenario() -> Variable:
    return label_values(
        "scenario",
        "scenario",
        "label_values(loadlens_run_info, scenario)",
        sort=dm.VariableSort.ALPHABETICAL_ASC,
        multi=True,
    )


def _cloudwatch_query(name: str, label: str, query: dict[str, object], definition: str) -> Variable:
    return Variable(
        db.QueryVariable(name)
        .label(label)
        .datasource(CLOUDWATCH)
        .query(query | {"refId": "CloudWatchVariableQueryEditor-VariableQuery"})
        .hide(dm.VariableHide.DONT_HIDE)
        .include_all(False)
        .multi(False)
        .refresh(
            dm.VariableRefresh.ON_DASHBOARD_LOAD
            if query["queryType"] == "regions"
            else dm.VariableRefresh.ON_TIME_RANGE_CHANGED
        )
        .regex("")
        .sort(dm.VariableSort.ALPHABETICAL_ASC),
        definition,
    )


def region() -> Variable:
    return _cloudwatch_query("region", "region", {"queryType": "regions"}, "regions()")


def dimension_values(
    name: str, label: str, namespace: str, metric: str, key: str, filters: dict[str, str] | None = None
) -> Variable:
    """The values CloudWatch lists (ListMetrics) for dimension ``key`` of ``namespace``/``metric``,
    narrowed by ``filters`` (other variables)."""
    query: dict[str, object] = {
        "dimensionFilters": filters or {},
        "dimensionKey": key,
        "metricName": metric,
        "namespace": namespace,
        "queryType": "dimensionValues",
        "region": "$region",
    }
    definition = f"dimension_values($region, {namespace}, {metric}, {key})"
    return _cloudwatch_query(name, label, query, definition)


def cloudwatch_resources() -> list[Variable]:
    """The CloudWatch datasource, its region and the resources the server panels show."""
    return [
        datasource("cloudwatch", "CloudWatch", "cloudwatch"),
        region(),
        dimension_values("ecs_cluster", "ECS cluster", "AWS/ECS", "CPUUtilization", "ClusterName"),
        dimension_values(
            "ecs_service",
            "ECS service",
            "AWS/ECS",
            "CPUUtilization",
            "ServiceName",
            {"ClusterName": "$ecs_cluster"},
        ),
        dimension_values(
            "rds_instance", "RDS instance", "AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier"
        ),
        dimension_values(
            "load_balancer", "load balancer", "AWS/ApplicationELB", "RequestCount", "LoadBalancer"
        ),
        dimension_values(
            "target_group",
            "target group",
            "AWS/ApplicationELB",
            "UnHealthyHostCount",
            "TargetGroup",
            {"LoadBalancer": "$load_balancer"},
        ),
    ]
