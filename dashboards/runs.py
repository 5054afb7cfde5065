"""The runs dashboard: every run Prometheus holds in the time range, one table row each, and bars
and lines to compare them.

Every per-run figure is joined to ``loadlens_run_info`` (``* on (run_id) group_left``) so each row
carries the run's scenario and host, and so the ``$scenario`` filter applies to every column.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import table

from dashboards import variables
from dashboards.client import ratio
from dashboards.document import Settings, build
from dashboards.kit import (
    Section,
    bar_gauge,
    by_name,
    graph,
    instant,
    merged_table,
    promql,
    status_mapping,
    status_value,
    steps,
    unit_override,
)
from exporters import exposition
from runner.model import Status

SCENARIO = 'scenario=~"$scenario"'
INFO = f"max by (run_id, scenario, host) (max_over_time(loadlens_run_info{{{SCENARIO}}}[$__range]))"
TOTAL = "sum by (run_id) (max_over_time(loadlens_requests_total[$__range]))"
FAILED = 'sum by (run_id) (max_over_time(loadlens_requests_total{result="failure"}[$__range]))'
STATUS = "last_over_time(loadlens_criterion_status[$__range])"
LIVE_LINK = (
    "/d/loadlens-live/loadlens-live-run?var-datasource=${datasource}&var-run_id=${__value.raw}"
    '&from=${__data.fields["start"].numeric}&to=${__data.fields["end"].numeric}'
)


def worst_criterion() -> tuple[str, dict[Status, int]]:
    """The worst criterion of each run, and the numbers it shows: the exporter's statuses re-ranked
    so that FAIL outranks INCONCLUSIVE (the two trade places, which the query does by adding and
    subtracting one: they must be neighbours)."""
    fail, inconclusive = status_value(Status.FAIL), status_value(Status.INCONCLUSIVE)
    if inconclusive != fail + 1:
        raise ValueError(f"FAIL ({fail}) and INCONCLUSIVE ({inconclusive}) are not neighbours: rewrite this")
    expr = f"max by (run_id) ({STATUS} + ({STATUS} == bool {fail}) - ({STATUS} == bool {inconclusive}))"
    return expr, {**exposition.STATUS_VALUES, Status.FAIL: inconclusive, Status.INCONCLUSIVE: fail}


def with_info(expr: str) -> str:
    """``expr`` per run, with the run's scenario and host, for the runs ``$scenario`` selects."""
    return f"{expr} * on (run_id) group_left (scenario, host) {INFO}"


def whole_run_quantile(q: str) -> str:
    buckets = "max_over_time(loadlens_request_duration_seconds_bucket[$__range])"
    return f"histogram_quantile({q}, sum by (run_id, le) ({buckets}))"


def seen(edge: str, shift_s: int) -> str:
    """When Prometheus first (``min``) or last (``max``) saw the run, in epoch ms, widened by ``shift_s``.
    Prometheus has no "first sample" function: a 10 s subquery of the info series' timestamps."""
    sign = "-" if shift_s < 0 else "+"
    return (
        f"(({edge} by (run_id) ({edge}_over_time(timestamp(loadlens_run_info)[$__range:10s])) "
        f"{sign} {abs(shift_s)}) * 1000)"
    )


def runs_table() -> table.Panel:
    worst, worst_values = worst_criterion()
    columns = {
        "info": INFO,
        "start": with_info(seen("min", -10)),
        "end": with_info(seen("max", 20)),
        "peak users": with_info("max by (run_id) (max_over_time(loadlens_users[$__range]))"),
        "requests": with_info(f"({TOTAL})"),
        "error rate": with_info(f"({ratio(FAILED, TOTAL)})"),
        "p95": with_info(whole_run_quantile("0.95")),
        "p99": with_info(whole_run_quantile("0.99")),
        "worst criterion": with_info(worst),
        "failed": with_info(f"sum by (run_id) ({STATUS} == bool {status_value(Status.FAIL)})"),
        "warned": with_info(f"sum by (run_id) ({STATUS} == bool {status_value(Status.WARN)})"),
        "inconclusive": with_info(f"sum by (run_id) ({STATUS} == bool {status_value(Status.INCONCLUSIVE)})"),
        "criteria": with_info(f"count by (run_id) ({STATUS})"),
    }
    overrides = [
        unit_override("start", "dateTimeAsIso"),
        unit_override("end", "dateTimeAsIso"),
        unit_override("peak users", "none"),
        unit_override("requests", "none"),
        unit_override("error rate", "percentunit"),
        unit_override("p95", "s"),
        unit_override("p99", "s"),
        by_name(
            "worst criterion",
            ("mappings", [status_mapping(worst_values)]),
            ("custom.cellOptions", {"type": "color-background"}),
        ),
        by_name(
            "failed",
            ("unit", "none"),
            ("color", {"mode": "thresholds"}),
            ("thresholds", steps("green", (1, "red")).build()),
            ("custom.cellOptions", {"type": "color-text"}),
        ),
        unit_override("warned", "none"),
        unit_override("inconclusive", "none"),
        unit_override("criteria", "none"),
        by_name(
            "run_id",
            (
                "links",
                [{"targetBlank": False, "title": "open this run in loadlens · live run", "url": LIVE_LINK}],
            ),
        ),
        by_name("info", ("custom.hidden", True)),
    ]
    return merged_table(
        "Runs in the time range",
        "One row per run seen in the time range (loadlens_run_info), with its whole-run figures and the last "
        "exported status of its criteria. start and end are when Prometheus first and last saw the run, "
        "widened to hold all of it (10 s before, 20 s after). Click a run_id to open it in the live run "
        'dashboard. "worst criterion" ranks FAIL above INCONCLUSIVE above WARN; the run\'s exit code is in '
        "its summary.json (a non-required server criterion never changes it).",
        [promql(expr, "__auto", table_format=True) for expr in columns.values()],
        labels=("run_id", "scenario", "host"),
        columns=tuple(columns),
        sort_by="start",
        overrides=overrides,
        h=12,
    )


def compare() -> Section:
    def of_selected(expr: str, info: str) -> str:
        return f"{expr} and on (run_id) {info}"

    whole = f"max_over_time(loadlens_run_info{{{SCENARIO}}}[$__range])"
    now = f"loadlens_run_info{{{SCENARIO}}}"
    return Section(
        "Compare runs",
        (
            bar_gauge(
                "p95 by run (whole run)",
                "Whole-run p95 of every run in the time range, from the exported histogram.",
                "s",
                instant(of_selected(whole_run_quantile("0.95"), whole), "{{run_id}}"),
                thresholds=steps("blue"),
            ),
            bar_gauge(
                "Error rate by run (whole run)",
                "Whole-run error rate of every run in the time range.",
                "percentunit",
                instant(of_selected(f"({ratio(FAILED, TOTAL)})", whole), "{{run_id}}"),
                thresholds=steps("green", (0.01, "red")),
            ),
            graph(
                "Requests/s by run",
                "",
                "reqps",
                [
                    promql(
                        of_selected("sum by (run_id) (rate(loadlens_requests_total[$__rate_interval]))", now),
                        "{{run_id}}",
                    )
                ],
            ),
            graph(
                "p95 by run",
                "",
                "s",
                [
                    promql(
                        of_selected(
                            "histogram_quantile(0.95, sum by (run_id, le) "
                            "(rate(loadlens_request_duration_seconds_bucket[$__rate_interval])))",
                            now,
                        ),
                        "{{run_id}}",
                    )
                ],
            ),
        ),
    )


def runs() -> dict[str, Any]:
    return build(
        Settings(
            uid="loadlens-runs",
            title="loadlens · runs",
            description="Every loadlens run Prometheus holds in the time range, one row each, to find and "
            "compare runs.",
            refresh="1m",
            since="now-7d",
            annotation_tags=("loadlens",),
        ),
        [variables.datasource("datasource", "Prometheus", "prometheus"), variables.scenario()],
        [Section("Runs", (runs_table(),)), compare()],
    )
