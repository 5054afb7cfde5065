"""The client side of one run, as loadlens exports it: the rows both live dashboards share.

Overview, Load and latency, Per endpoint, Criteria and Exporter health are written once here; the
live dashboard and its CloudWatch variant differ only in their server rows (server.py).
Every expression selects ``run_id="$run_id"``.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import prometheus, table

from dashboards.kit import (
    Section,
    criteria_now,
    criteria_timeline,
    dashed_right_axis,
    graph,
    merged_table,
    promql,
    stat_panel,
    steps,
    unit_override,
)

RUN = 'run_id="$run_id"'
REQUESTS = f"loadlens_requests_total{{{RUN}}}"
FAILED = f'loadlens_requests_total{{{RUN},result="failure"}}'
BUCKETS = f"loadlens_request_duration_seconds_bucket{{{RUN}}}"
EP = f'{RUN},endpoint=~"$endpoint"'  # the endpoints chosen by $endpoint
BY_ENDPOINT = "{{method}} {{endpoint}}"
PERCENTILES = (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"))


def or_zero(value: str, total: str) -> str:
    """``value``, or 0 where ``total`` has data and ``value`` has none (no failures is 0, not "no data")."""
    return f"{value} or ({total} * 0)"


def ratio(part: str, total: str) -> str:
    """part / total, 0 when there are requests and none are in part."""
    return or_zero(f"({part} / {total})", total)


def rate(selector: str) -> str:
    return f"rate({selector}[$__rate_interval])"


def quantile(q: str, by: str, series: str) -> str:
    return f"histogram_quantile({q}, sum by ({by}) ({series}))"


RATE_ALL = f"sum({rate(REQUESTS)})"
ERROR_RATE = ratio(f"sum({rate(FAILED)})", RATE_ALL)
USERS = f"sum(loadlens_users{{{RUN}}})"


def overview() -> Section:
    return Section(
        "Overview",
        (
            stat_panel(
                "Users", "Simulated users running now (loadlens_users).", "none", promql(USERS, "users")
            ),
            stat_panel(
                "Requests/s",
                "All requests per second, over $__rate_interval.",
                "reqps",
                promql(RATE_ALL, "requests/s"),
            ),
            stat_panel(
                "Error rate",
                "Failed / all requests over $__rate_interval (expected statuses are not failures). "
                "Red from 1 %: a hint only; the Criteria row shows loadlens's own judgement.",
                "percentunit",
                promql(ERROR_RATE, "error rate"),
                thresholds=steps("green", (0.01, "red")),
            ),
            stat_panel(
                "p95 latency",
                "95th percentile of all requests over $__rate_interval, from the exported histogram "
                "(interpolated within its buckets; summary.json has the exact figure).",
                "s",
                promql(quantile("0.95", "le", rate(BUCKETS)), "p95"),
            ),
            stat_panel(
                "Requests",
                "Requests sent so far in this run.",
                "none",
                promql(f"sum({REQUESTS})", "requests"),
                graph=False,
            ),
            stat_panel(
                "Failed requests",
                'Failed requests so far (result="failure").',
                "none",
                promql(or_zero(f"sum({FAILED})", f"sum({REQUESTS})"), "failed"),
                thresholds=steps("green", (1, "red")),
                graph=False,
            ),
        ),
    )


def load_and_latency() -> Section:
    return Section(
        "Load and latency",
        (
            graph(
                "Users and requests/s",
                "Throughput (left axis) against the simulated users (right axis, dashed).",
                "reqps",
                [promql(RATE_ALL, "requests/s"), promql(USERS, "users")],
                right_axis=dashed_right_axis("B", unit="none"),
            ),
            graph(
                "Latency p50 / p95 / p99 (all requests)",
                "Percentiles of all requests over $__rate_interval, from loadlens_request_duration_seconds.",
                "s",
                [promql(quantile(q, "le", rate(BUCKETS)), name) for q, name in PERCENTILES],
                legend_calcs=("mean", "max", "lastNotNull"),
            ),
            graph(
                "Error rate",
                "Failed / all requests over $__rate_interval.",
                "percentunit",
                [promql(ERROR_RATE, "error rate")],
            ),
            graph(
                "Responses by status",
                "Requests per second by HTTP status (0: no response) and result; an expected status "
                "(--expect-status, expected_statuses) is a success.",
                "reqps",
                [promql(f"sum by (status, result) ({rate(REQUESTS)})", "{{status}} {{result}}")],
                stacked=True,
            ),
        ),
    )


def _endpoints_table() -> table.Panel:
    def upto_end(metric: str, extra: str = "") -> str:
        """The counter as it stood at the end of the time range, per endpoint."""
        return f"max_over_time({metric}{{{EP}{extra}}}[$__range])"

    requests = f"sum by (method, endpoint) ({upto_end('loadlens_requests_total')})"
    failed_only = ',result="failure"'
    failed = f"sum by (method, endpoint) ({upto_end('loadlens_requests_total', failed_only)})"
    mean = (
        f"sum by (method, endpoint) ({upto_end('loadlens_request_duration_seconds_sum')}) / "
        f"sum by (method, endpoint) ({upto_end('loadlens_request_duration_seconds_count')})"
    )
    buckets = upto_end("loadlens_request_duration_seconds_bucket")
    columns = {
        "requests": (requests, "none"),
        "failed": (or_zero(failed, requests), "none"),
        "error rate": (ratio(failed, requests), "percentunit"),
        "mean": (mean, "s"),
        **{name: (quantile(q, "method, endpoint, le", buckets), "s") for q, name in PERCENTILES},
    }
    return merged_table(
        "Endpoints: the run up to the end of the time range",
        "Counters and histograms as they stood at the end of the time range (the run so far, or the "
        "whole run when the range covers it). Percentiles are interpolated within the exported buckets.",
        [promql(expr, "__auto", table_format=True) for expr, _ in columns.values()],
        labels=("method", "endpoint"),
        columns=tuple(columns),
        sort_by="requests",
        overrides=[unit_override(name, unit) for name, (_, unit) in columns.items()],
        h=7,
    )


def per_endpoint() -> Section:
    def by_endpoint(selector: str) -> str:
        return f"sum by (method, endpoint) ({rate(selector)})"

    requests = f"loadlens_requests_total{{{EP}}}"
    failed = f'loadlens_requests_total{{{EP},result="failure"}}'
    buckets = f"loadlens_request_duration_seconds_bucket{{{EP}}}"
    percentiles = [
        graph(
            f"{name} by endpoint",
            "",
            "s",
            [promql(quantile(q, "method, endpoint, le", rate(buckets)), BY_ENDPOINT)],
            legend_calcs=("max", "lastNotNull"),
            w=8,
        )
        for q, name in PERCENTILES
    ]
    return Section(
        "Per endpoint ($endpoint)",
        (
            _endpoints_table(),
            graph("Requests/s by endpoint", "", "reqps", [promql(by_endpoint(requests), BY_ENDPOINT)]),
            graph(
                "Error rate by endpoint",
                "",
                "percentunit",
                [promql(ratio(by_endpoint(failed), by_endpoint(requests)), BY_ENDPOINT)],
            ),
            *percentiles,
        ),
    )


def criteria() -> Section:
    def status() -> prometheus.Dataquery:
        return promql(f"max by (criterion) (loadlens_criterion_status{{{RUN}}})", "{{criterion}}")

    return Section(
        "Criteria",
        (
            criteria_now(
                "Criteria now",
                "Each criterion judged live on the running window (loadlens_criterion_status): PASS, WARN, "
                "FAIL, INCONCLUSIVE. The verdict at the end is in the run directory.",
                status(),
            ),
            criteria_timeline(
                "Criteria over time",
                "When each criterion passed, warned, failed or had no data.",
                status(),
            ),
        ),
    )


def exporter_health() -> Section:
    """The /metrics endpoint itself; collapsed, as it matters only when something looks wrong."""
    return Section(
        "Exporter health",
        (
            graph(
                "/metrics scrapes/s",
                "Scrapes of loadlens's /metrics, and those that failed to read the run.",
                "reqps",
                [
                    promql(f"sum({rate(f'loadlens_exporter_scrapes_total{{{RUN}}}')})", "scrapes/s"),
                    promql(
                        f"sum({rate(f'loadlens_exporter_scrape_errors_total{{{RUN}}}')})", "failed scrapes/s"
                    ),
                ],
                w=8,
                h=7,
            ),
            graph(
                "/metrics scrape duration",
                "Time the previous scrape took, on the load loop.",
                "s",
                [promql(f"max(loadlens_exporter_scrape_duration_seconds{{{RUN}}})", "scrape duration")],
                w=8,
                h=7,
            ),
            graph(
                "Folded by the label caps",
                'Requests beyond the endpoint-name cap (counted under "(other)") and label values folded '
                "away by the exporter's caps.",
                "none",
                [
                    promql(
                        f"sum(loadlens_exporter_overflow_requests_total{{{RUN}}})", 'requests under "(other)"'
                    ),
                    promql(
                        f"max by (kind) (loadlens_exporter_folded_label_sets{{{RUN}}})",
                        "folded {{kind}} values",
                    ),
                ],
                w=8,
                h=7,
            ),
        ),
        collapsed=True,
    )
