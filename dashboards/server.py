"""The server rows: what loadlens read (loadlens_server_metric, in the live dashboard), or the same
resources read by Grafana's own CloudWatch datasource (in the CloudWatch variant).

Both show ECS CPU and memory with loadlens's default limits drawn (``[server] cpu_percent`` and
``memory_percent``, written once below), RDS, and the ALB; the panels differ in their queries only.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import cloudwatch, prometheus
from grafana_foundation_sdk.models import cloudwatch as cwm

from dashboards.kit import CLOUDWATCH, Query, Section, dashed_right_axis, graph, promql
from runner.config.types import ServerCriteriaLimits

# loadlens's default server limits ([server] cpu_percent, memory_percent), from their one home
CPU_LIMIT_PERCENT = round(ServerCriteriaLimits().cpu_percent)
MEMORY_LIMIT_PERCENT = round(ServerCriteriaLimits().memory_percent)

LATEST = (
    "The latest point of each series loadlens reads (loadlens_server_metric): one value a CloudWatch "
    "period, so a 60 s period steps once a minute."
)
STRAIGHT = (
    "Straight from the CloudWatch datasource ($cloudwatch, region $region); the period follows the "
    "time range (Grafana's auto period)."
)


def _limit_note(key: str, limit: int) -> str:
    return f" The dashed line is loadlens's default limit ([server] {key} = {limit})."


def _read(resource: str, metric: str) -> str:
    """The series loadlens read from CloudWatch for resources matching ``resource``."""
    return f'loadlens_server_metric{{run_id="$run_id",source="cloudwatch",resource=~"{resource}",{metric}}}'


def _series(resource: str, metric: str, legend: str = "{{resource}} {{stat}}") -> prometheus.Dataquery:
    return promql(_read(resource, f'metric="{metric}"'), legend)


def as_loadlens_reads() -> list[Section]:
    """The server rows of the live dashboard, from loadlens_server_metric."""
    rds = "rds(-cluster)?:.+"
    cloudwatch_row = Section(
        "Server: ECS, RDS, ALB (as loadlens reads them)",
        (
            graph(
                "ECS CPU",
                LATEST + _limit_note("cpu_percent", CPU_LIMIT_PERCENT),
                "percent",
                [_series("ecs:.+", "CPUUtilization")],
                limit=CPU_LIMIT_PERCENT,
            ),
            graph(
                "ECS memory",
                LATEST + _limit_note("memory_percent", MEMORY_LIMIT_PERCENT),
                "percent",
                [_series("ecs:.+", "MemoryUtilization")],
                limit=MEMORY_LIMIT_PERCENT,
            ),
            graph("RDS connections", LATEST, "none", [_series(rds, "DatabaseConnections")], w=8),
            graph("RDS CPU", LATEST, "percent", [_series(rds, "CPUUtilization")], w=8),
            graph(
                "ALB target response time",
                LATEST + " Average, and p95/p99 where CloudWatch answers them.",
                "s",
                [_series("alb:.+", "TargetResponseTime")],
                w=8,
            ),
            graph(
                "ALB 5xx and requests (per CloudWatch period)",
                LATEST + " CloudWatch publishes 5xx counts only when non-zero, so the last published count "
                "stays shown until a new one arrives.",
                "none",
                [
                    promql(_read("alb:.+", 'metric=~"HTTPCode_(Target|ELB)_5XX_Count"'), "{{metric}}"),
                    _series("alb:.+", "RequestCount", "RequestCount"),
                ],
                red_from=1,
                right_axis=dashed_right_axis("B"),
            ),
            graph(
                "Unhealthy targets",
                LATEST,
                "none",
                [_series("tg:.+", "UnHealthyHostCount", "{{resource}}")],
                red_from=1,
            ),
        ),
    )
    other = 'run_id="$run_id",source!="cloudwatch"'
    local_row = Section(
        "Server: local process and Prometheus source",
        (
            graph(
                "CPU and memory (process, Prometheus source)",
                "[process] samples every second (CPU: 100 = one core) and the [prometheus_source] queries "
                "named cpu_percent / memory_percent.",
                "percent",
                [
                    promql(
                        f'loadlens_server_metric{{{other},metric=~"cpu_percent|memory_percent"}}',
                        "{{source}} {{resource}} {{metric}}",
                    )
                ],
            ),
            graph(
                "Other server series",
                "Everything else the process and Prometheus sources read (rss_bytes, your own "
                "[prometheus_source] queries).",
                "short",
                [
                    promql(
                        f'loadlens_server_metric{{{other},metric!~"cpu_percent|memory_percent"}}',
                        "{{source}} {{resource}} {{metric}}",
                    )
                ],
            ),
        ),
    )
    return [cloudwatch_row, local_row]


def _cw(
    namespace: str, metric: str, dimensions: dict[str, str], statistic: str, label: str
) -> cloudwatch.CloudWatchMetricsQuery:
    """One CloudWatch metric query, its resources and region taken from the dashboard's variables."""
    return (
        cloudwatch.CloudWatchMetricsQuery()
        .datasource(CLOUDWATCH)
        .query_mode(cwm.CloudWatchQueryMode.METRICS)
        .metric_query_type(cwm.MetricQueryType.SEARCH)
        .metric_editor_mode(cwm.MetricEditorMode.BUILDER)
        .region("$region")
        .namespace(namespace)
        .metric_name(metric)
        .dimensions(dict(dimensions))
        .match_exact(True)
        .statistic(statistic)
        .period("")
        .id("")
        .expression("")
        .sql_expression("")
        .label(label)
    )


def from_cloudwatch() -> list[Section]:
    """The server row of the CloudWatch variant, read by Grafana's CloudWatch datasource."""
    ecs = {"ClusterName": "$ecs_cluster", "ServiceName": "$ecs_service"}
    rds = {"DBInstanceIdentifier": "$rds_instance"}
    alb = {"LoadBalancer": "$load_balancer"}
    stat = "${PROP('Stat')}"

    def each(namespace: str, metric: str, dims: dict[str, str], *stats: str) -> list[Query]:
        return [_cw(namespace, metric, dims, s, stat) for s in stats]

    def sums(*metrics: str) -> list[Query]:
        return [_cw("AWS/ApplicationELB", m, alb, "Sum", "${PROP('MetricName')}") for m in metrics]

    row = Section(
        "Server: ECS, RDS, ALB (CloudWatch)",
        (
            graph(
                "ECS CPU",
                STRAIGHT + _limit_note("cpu_percent", CPU_LIMIT_PERCENT),
                "percent",
                each("AWS/ECS", "CPUUtilization", ecs, "Average", "Maximum"),
                datasource=CLOUDWATCH,
                limit=CPU_LIMIT_PERCENT,
            ),
            graph(
                "ECS memory",
                STRAIGHT + _limit_note("memory_percent", MEMORY_LIMIT_PERCENT),
                "percent",
                each("AWS/ECS", "MemoryUtilization", ecs, "Average", "Maximum"),
                datasource=CLOUDWATCH,
                limit=MEMORY_LIMIT_PERCENT,
            ),
            graph(
                "RDS connections",
                STRAIGHT,
                "none",
                each("AWS/RDS", "DatabaseConnections", rds, "Maximum", "Average"),
                datasource=CLOUDWATCH,
                w=8,
            ),
            graph(
                "RDS CPU",
                STRAIGHT,
                "percent",
                each("AWS/RDS", "CPUUtilization", rds, "Average", "Maximum"),
                datasource=CLOUDWATCH,
                w=8,
            ),
            graph(
                "ALB target response time",
                STRAIGHT,
                "s",
                each("AWS/ApplicationELB", "TargetResponseTime", alb, "Average", "p95", "p99"),
                datasource=CLOUDWATCH,
                w=8,
            ),
            graph(
                "ALB 5xx and requests",
                STRAIGHT + " Sums per period; CloudWatch publishes 5xx counts only when non-zero "
                "(a gap is zero).",
                "none",
                sums("HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "RequestCount"),
                datasource=CLOUDWATCH,
                red_from=1,
                right_axis=dashed_right_axis("C"),
            ),
            graph(
                "Unhealthy targets",
                STRAIGHT,
                "none",
                [
                    _cw(
                        "AWS/ApplicationELB",
                        "UnHealthyHostCount",
                        alb | {"TargetGroup": "$target_group"},
                        "Maximum",
                        "${PROP('Dim.TargetGroup')}",
                    )
                ],
                datasource=CLOUDWATCH,
                red_from=1,
            ),
        ),
    )
    return [row]
