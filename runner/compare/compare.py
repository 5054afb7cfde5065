"""Compare a run with its baseline, figure by figure, telling noise from regression.

Each figure has a value per run (the judged window's, the same number the verdict shows) and a
value per period of each run's judged window (from the stored timeline, or the server series'
points). A figure *regressed* when it got worse by more than its tolerance **and** the shift
between the two runs' per-period values is statistically real (runner.compare.stats); it
*improved* on the mirror condition; otherwise it is *unchanged*. A figure missing on one side,
or with too few periods to judge, is *not comparable*: never a silent "unchanged".
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from runner.compare.model import Change, Comparison, Row, Tolerance
from runner.compare.shape import shape_differences
from runner.compare.stats import MIN_PERIODS, Shift, shift
from runner.compare.tolerances import LATENCY, Tolerances
from runner.model import TOTAL_NAME, EndpointKey, EndpointStats, Interval, RunRecord, RunShape, Snapshot
from runner.readings import Series
from runner.sources.base import window_points

MIN_PERIOD_REQUESTS = 10  # a period's percentile from fewer requests is just its slowest one


@dataclass(frozen=True, slots=True)
class RunView:
    """What a comparison reads of one run: its judged window and timeline, server series, the
    analysis (CPU cost) and what makes it comparable. A finished run's ``RunRecord`` gives one
    (``view_of``); the run being judged builds one from its parts before its verdict exists."""

    run_id: str
    judged: Snapshot
    timeline: tuple[Interval, ...]
    window_start: float
    window_end: float
    server: tuple[Series, ...] = ()
    analysis: Mapping[str, Any] = field(default_factory=dict)
    shape: RunShape | None = None


def view_of(record: RunRecord) -> RunView:
    return RunView(
        run_id=record.info.run_id,
        judged=record.judged,
        timeline=record.timeline,
        window_start=record.window_start,
        window_end=record.window_end,
        server=record.server,
        analysis=record.analysis,
        shape=record.shape,
    )


def compare_runs(
    baseline: RunRecord | RunView, current: RunRecord | RunView, *, tolerances: Tolerances | None = None
) -> Comparison:
    """Every client and server figure of ``current`` against ``baseline``."""
    tol = tolerances or Tolerances()
    baseline = view_of(baseline) if isinstance(baseline, RunRecord) else baseline
    current = view_of(current) if isinstance(current, RunRecord) else current
    rows = [*_client_rows(baseline, current, tol), *_server_rows(baseline, current, tol)]
    return not_comparable_whole(
        Comparison(
            baseline_id=baseline.run_id,
            current_id=current.run_id,
            rows=tuple(rows),
            warnings=shape_differences(baseline.shape, current.shape),
        )
    )


def not_comparable_whole(comparison: Comparison) -> Comparison:
    """When the runs differ in what makes them comparable, or even all requests' p95 could not be
    judged (too short), no row may say regressed, improved or unchanged: a latency difference
    between different tests says nothing about the service. Every row becomes ``not comparable``;
    its values, change and interval stay, as information, and its reason keeps what it would
    have said alone."""
    if comparison.warnings:
        why = "the runs are not comparable (they differ: see the warnings)"
    elif not comparison.judged_key_figure:
        why = "the runs are not comparable (all requests p95 could not be judged)"
    else:
        return comparison
    rows = tuple(
        r
        if r.status is Change.NOT_COMPARABLE
        else replace(r, status=Change.NOT_COMPARABLE, reason=f"{why}; alone: {r.reason}")
        for r in comparison.rows
    )
    return replace(comparison, rows=rows)


# -- judging one figure -----------------------------------------------------------------------------
def judge_row(
    *,
    scope: str,
    subject: str,
    metric: str,
    unit: str,
    baseline: float | None,
    current: float | None,
    baseline_periods: Sequence[float],
    current_periods: Sequence[float],
    tolerance: Tolerance,
) -> Row:
    """One figure: its values, the shift between the runs' periods, and its status."""

    def row(status: Change, reason: str, found: Shift | None = None) -> Row:
        return Row(scope, subject, metric, unit, baseline, current, tolerance, status, reason, found)

    if baseline is None or current is None:
        which = "the baseline" if baseline is None else "the current run"
        return row(Change.NOT_COMPARABLE, f"no {metric} in {which}")
    found = shift(baseline_periods, current_periods, log=tolerance.relative)
    if found is None:
        return row(
            Change.NOT_COMPARABLE,
            f"too few periods to judge ({len(baseline_periods)} in the baseline, {len(current_periods)} now;"
            f" {MIN_PERIODS} each are needed: run longer or set a shorter [run] interval)",
        )
    if tolerance.relative:
        moved = (0.0 if current == 0 else math.inf) if baseline == 0 else current / baseline - 1.0
    else:
        moved = current - baseline
    worse = moved if tolerance.higher_is_worse else -moved
    worse_real = (
        found.high is not None
        and (found.low is not None)
        and (found.low > 0 if tolerance.higher_is_worse else found.high < 0)
    )
    better_real = (
        found.high is not None
        and (found.low is not None)
        and (found.high < 0 if tolerance.higher_is_worse else found.low > 0)
    )
    p, tol = f"p = {found.p_value:.2g}", tolerance.text()
    if worse > tolerance.value and worse_real:
        return row(Change.REGRESSED, f"worse by more than the tolerance {tol}, and real ({p})", found)
    if -worse > tolerance.value and better_real:
        return row(Change.IMPROVED, f"better by more than the tolerance {tol}, and real ({p})", found)
    if abs(worse) <= tolerance.value:
        return row(Change.UNCHANGED, f"within the tolerance {tol}", found)
    return row(Change.UNCHANGED, f"beyond the tolerance {tol} but not significant ({p}): noise", found)


# -- client ------------------------------------------------------------------------------------------
def judged_periods(record: RunView | RunRecord) -> tuple[Interval, ...]:
    """The timeline intervals wholly inside the judged window, short trailing slivers left out."""
    inside = [
        iv
        for iv in record.timeline
        if iv.start >= record.window_start - 0.5 and iv.end <= record.window_end + 0.5 and iv.end > iv.start
    ]
    if not inside:
        return ()
    typical = statistics.median(iv.end - iv.start for iv in inside)
    return tuple(iv for iv in inside if iv.end - iv.start >= typical / 2)


def _client_rows(baseline: RunView, current: RunView, tol: Tolerances) -> list[Row]:
    rows = []
    b_periods, c_periods = judged_periods(baseline), judged_periods(current)
    subjects: list[EndpointKey | None] = [None]
    subjects += sorted(set(baseline.judged.endpoints) | set(current.judged.endpoints))
    for key in subjects:
        name = TOTAL_NAME if key is None else str(key)
        b_stats, c_stats = _stats(baseline, key), _stats(current, key)
        for metric, q in LATENCY:
            rows.append(
                judge_row(
                    scope="client",
                    subject=name,
                    metric=metric,
                    unit="ms",
                    baseline=_quantile(b_stats, q),
                    current=_quantile(c_stats, q),
                    baseline_periods=_period_latency(b_periods, key, q),
                    current_periods=_period_latency(c_periods, key, q),
                    tolerance=tol.for_metric(metric, endpoint=name),
                )
            )
        rows.append(
            judge_row(
                scope="client",
                subject=name,
                metric="error_rate",
                unit="ratio",
                baseline=b_stats.error_rate if b_stats else None,
                current=c_stats.error_rate if c_stats else None,
                baseline_periods=_period_values(b_periods, key, _error_rate),
                current_periods=_period_values(c_periods, key, _error_rate),
                tolerance=tol.for_metric("error_rate", endpoint=name),
            )
        )
        rows.append(
            judge_row(
                scope="client",
                subject=name,
                metric="rps",
                unit="rps",
                baseline=_rps(baseline, b_stats),
                current=_rps(current, c_stats),
                baseline_periods=_period_values(b_periods, key, _rate),
                current_periods=_period_values(c_periods, key, _rate),
                tolerance=tol.for_metric("rps", endpoint=name),
            )
        )
    return rows


def _stats(record: RunView, key: EndpointKey | None) -> EndpointStats | None:
    snap = record.judged
    if key is None:
        total = snap.total()
        return total if total.count else None
    return snap.endpoints.get(key)


def _quantile(stats: EndpointStats | None, q: float) -> float | None:
    return None if stats is None else stats.quantile_ms(q)


def _rps(record: RunView, stats: EndpointStats | None) -> float | None:
    d = record.judged.duration_s
    return stats.count / d if stats is not None and d > 0 else None


def _period_latency(periods: Iterable[Interval], key: EndpointKey | None, q: float) -> list[float]:
    out = []
    for iv in periods:
        if key is None:
            if iv.total.count >= MIN_PERIOD_REQUESTS and (v := iv.total.quantile_ms(q)) is not None:
                out.append(v)
            continue
        values = {0.50: iv.endpoint_p50_ms, 0.95: iv.endpoint_p95_ms, 0.99: iv.endpoint_p99_ms}[q]
        if iv.endpoint_counts.get(key, (0, 0))[0] >= MIN_PERIOD_REQUESTS and key in values:
            out.append(values[key])
    return out


def _error_rate(count: int, failures: int, _length_s: float) -> float | None:
    return failures / count if count else None


def _rate(count: int, _failures: int, length_s: float) -> float | None:
    return count / length_s if length_s > 0 else None


def _period_values(
    periods: Iterable[Interval],
    key: EndpointKey | None,
    value: Callable[[int, int, float], float | None],
) -> list[float]:
    out = []
    for iv in periods:
        if key is None:
            count, failures = iv.total.count, iv.total.failures
        else:
            count, failures = iv.endpoint_counts.get(key, (0, 0))
        if (v := value(count, failures, iv.end - iv.start)) is not None:
            out.append(v)
    return out


# -- server ------------------------------------------------------------------------------------------
_SERVER_KINDS = ("cpu", "memory", "connections")


def _server_kind(series: Series) -> str | None:
    name = series.metric.lower()
    if "cpu" in name:
        return "cpu"
    if "memory" in name or "rss" in name:
        return "memory"
    if "connections" in name:
        return "connections"
    return None


def _server_rows(baseline: RunView, current: RunView, tol: Tolerances) -> list[Row]:
    rows = []

    def index(record: RunView) -> dict[tuple[str, str, str, str], Series]:
        return {(s.source, s.resource, s.metric, s.stat): s for s in record.server if _server_kind(s)}

    b_series, c_series = index(baseline), index(current)
    for ident in sorted(set(b_series) | set(c_series)):
        b_pts = _window_values(b_series.get(ident), baseline)
        c_pts = _window_values(c_series.get(ident), current)
        subject = f"{ident[0]} {ident[1]} {ident[2]}" + (f" {ident[3]}" if ident[3] else "")
        unit = _unit((b_series.get(ident) or c_series[ident]).unit)
        for metric, fold in (("mean", statistics.fmean), ("peak", max)):
            rows.append(
                judge_row(
                    scope="server",
                    subject=subject,
                    metric=metric,
                    unit=unit,
                    baseline=fold(b_pts) if b_pts else None,
                    current=fold(c_pts) if c_pts else None,
                    baseline_periods=b_pts,
                    current_periods=c_pts,
                    tolerance=tol.for_metric(metric),
                )
            )
    b_cost, c_cost = _cost(baseline), _cost(current)
    if b_cost is not None or c_cost is not None:
        label = str((b_cost or c_cost or (None, "", []))[1])
        rows.append(
            judge_row(
                scope="server",
                subject=label,
                metric="cpu_s_per_1000",
                unit="s",
                baseline=b_cost[0] if b_cost else None,
                current=c_cost[0] if c_cost else None,
                baseline_periods=b_cost[2] if b_cost else [],
                current_periods=c_cost[2] if c_cost else [],
                tolerance=tol.for_metric("cpu_s_per_1000"),
            )
        )
    return rows


def _window_values(series: Series | None, record: RunView) -> list[float]:
    if series is None:
        return []
    return [v for _t, v in window_points(series, record.window_start, record.window_end) if math.isfinite(v)]


def _unit(series_unit: str) -> str:
    return {"Percent": "percent", "Bytes": "bytes", "Count": "count", "Seconds": "s"}.get(series_unit, "")


def _cost(record: RunView) -> tuple[float | None, str, list[float]] | None:
    """CPU-seconds per 1,000 requests (the run's analysis) and the same per analysis period."""
    analysis = record.analysis
    value = analysis.get("cpu_seconds_per_1000_requests")
    head = analysis.get("headroom")
    label = head.get("cpu") if isinstance(head, Mapping) else None
    if not isinstance(label, str):
        return None
    cores = analysis.get("cpu_cores_basis") or 1.0
    per_period = []
    for p in analysis.get("periods") or ():
        cpu = (p.get("server") or {}).get(label)
        requests = p.get("requests") or 0
        if cpu is not None and requests > 0:
            per_period.append(cpu / 100.0 * cores * (p["end"] - p["start"]) / requests * 1000.0)
    return (value if isinstance(value, int | float) else None), label, per_period
