"""The analysis of a finished run: client against server, and soak trends.

Pulls together runner.judge.correlate (periods, headroom, CPU cost), runner.judge.breach (the first criterion
that broke and what the server was doing then) and runner.judge.soak (robust slopes and the leak
criterion) into one JSON-ready ``analysis`` section, the sentences a person reads, and the leak
criteria that join the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.judge.breach import BreachLimits, first_breach
from runner.judge.client import ThresholdSet
from runner.judge.correlate import (
    SeriesRef,
    cpu_seconds_per_1000,
    find_cpu,
    find_memory,
    headroom,
    periods,
    reserved_vcpus,
    resource_series,
)
from runner.judge.soak import client_p95_trend, describe_trend, leak_criterion, series_trend
from runner.model import Interval, Result, Series

if TYPE_CHECKING:
    from runner.sources.server import ServerPlan

DEFAULT_LEAK_WARN_PER_H = 2.0
DEFAULT_LEAK_FAIL_PER_H = 5.0


@dataclass(frozen=True)
class Analysis:
    """What the analysis found: a JSON-ready section, sentences for people, and criteria."""

    section: dict[str, Any]
    sentences: tuple[str, ...]
    results: tuple[Result, ...]


def analyse(
    *,
    timeline: Sequence[Interval],
    server: Sequence[Series],
    window_start: float,
    window_end: float,
    thresholds: ThresholdSet,
    cpu_limit_percent: float,
    memory_limit_percent: float,
    leak_warn_per_h: float | None = None,
    leak_fail_per_h: float | None = None,
    leak_min_duration_s: float = 1800.0,
) -> Analysis:
    """Analyse one run. The leak criterion is judged when leak limits are configured (then a
    too-short window is INCONCLUSIVE), or with default limits when the steady state is at least
    ``leak_min_duration_s`` long (so short runs are not marked inconclusive for it)."""
    section: dict[str, Any] = {}
    sentences: list[str] = []
    results: list[Result] = []
    res = resource_series(server)

    breach = first_breach(
        timeline,
        res,
        BreachLimits.from_thresholds(thresholds),
        window_start=window_start,
        window_end=window_end,
    )
    if breach is not None:
        sentences.append(breach.sentence)
        section["first_breach"] = {
            "at": breach.end,
            "target": breach.target,
            "metric": breach.metric,
            "observed": breach.observed,
            "limit": breach.limit,
            "unit": breach.unit,
            "requests": breach.requests,
            "server": {ref.label: value for ref, value in breach.server.items()},
            "sentence": breach.sentence,
            "also": list(breach.also),
        }

    cpu, memory = find_cpu(server), find_memory(server)
    if cpu is not None:
        ref = SeriesRef.of(cpu)
        cores = 1.0
        if cpu.source == "cloudwatch":
            cores = reserved_vcpus(server, start=window_start, end=window_end) or 1.0
        # A period must hold whole client intervals: the server's period, or the timeline's step
        # when that is longer (the local process is sampled every second).
        steps = sorted(iv.end - iv.start for iv in timeline if iv.end > iv.start)
        step_s = steps[len(steps) // 2] if steps else 0.0
        ps = periods(
            timeline, res, period_s=max(cpu.period_s or 60.0, step_s), window=(window_start, window_end)
        )
        head = headroom(ps, cpu=ref, cpu_limit_percent=cpu_limit_percent, cores=cores)
        cost = cpu_seconds_per_1000(ps, cpu=ref, cores=cores)
        if head.saturated:
            sentences.append(head.summary)
        elif head.rps_at_limit is not None:
            sentences.append(head.summary + (f" ({head.caveat})" if head.caveat else ""))
        section["headroom"] = {
            "cpu": ref.label,
            "cpu_limit_percent": cpu_limit_percent,
            "rps_at_limit": head.rps_at_limit,
            "ratio_to_tested": head.ratio_to_tested,
            "points": head.points,
            "summary": head.summary,
            "caveat": head.caveat,
        }
        section["cpu_seconds_per_1000_requests"] = cost
        section["cpu_cores_basis"] = cores
        if cost is not None:
            unit = "core" if cores == 1 else "cores"
            basis = unit if cpu.source != "cloudwatch" else "reserved vCPUs (1 when unknown)"
            sentences.append(f"{ref.label}: {cost:.3g} CPU-seconds per 1,000 requests ({cores:g} {basis})")
        section["periods"] = [
            {
                "start": p.start,
                "end": p.end,
                "requests": p.requests,
                "rps": p.rps,
                "p95_ms": p.p95_ms,
                "error_rate": p.error_rate,
                "users": p.users,
                "server": {r.label: v for r, v in p.server.items()},
            }
            for p in ps
        ]

    trends: list[dict[str, Any]] = []
    if memory is not None:
        leak_series, leak_limit = _leak_basis(memory, server, memory_limit_percent)
        label = SeriesRef.of(leak_series).label
        mem_trend = series_trend(
            leak_series, window_start=window_start, window_end=window_end, limit=leak_limit
        )
        trends.append({"metric": label, "line": describe_trend(mem_trend, label), **_trend_dict(mem_trend)})
        configured = leak_warn_per_h is not None or leak_fail_per_h is not None
        long_enough = window_end - window_start >= leak_min_duration_s
        if configured or long_enough:
            warn = leak_warn_per_h if configured else DEFAULT_LEAK_WARN_PER_H
            fail = leak_fail_per_h if configured else DEFAULT_LEAK_FAIL_PER_H
            results.append(
                leak_criterion(
                    mem_trend,
                    warn_per_hour=warn,
                    fail_per_hour=fail,
                    metric_label=f"server {label}",
                    min_duration_s=leak_min_duration_s,
                )
            )
        if long_enough:
            sentences.append(describe_trend(mem_trend, label))
    p95 = client_p95_trend(timeline, window_start=window_start, window_end=window_end)
    trends.append({"metric": "client p95", "line": describe_trend(p95, "client p95"), **_trend_dict(p95)})
    if window_end - window_start >= leak_min_duration_s:
        sentences.append(describe_trend(p95, "client p95"))
    section["trends"] = trends
    return Analysis(section=section, sentences=tuple(sentences), results=tuple(results))


def _leak_basis(
    memory: Series, server: Sequence[Series], limit_percent: float
) -> tuple[Series, float | None]:
    """The series a leak is judged on, and its limit in that series' unit.

    ECS (and Prometheus) memory is a percent of the task's own limit: its growth in percentage
    points per hour is the leak. The local process's memory_percent is of the machine's RAM, which
    hides a leak (500 MiB growing 250 MiB/h on 16 GiB is 1.5 %/h): its RSS is judged instead, in
    percent of the RSS at the window start per hour, with the RAM limit in bytes for time-to-limit.
    """
    if memory.source != "process":
        return memory, limit_percent
    rss = next(
        (
            s
            for s in server
            if s.source == "process" and s.resource == memory.resource and s.metric == "rss_bytes"
        ),
        None,
    )
    if rss is None or not rss.points:
        return memory, limit_percent
    percent_at = dict(memory.points)
    ram = next((v / percent_at[t] * 100.0 for t, v in rss.points if percent_at.get(t, 0) > 0), None)
    return rss, (limit_percent / 100.0 * ram if ram else None)


def analyse_with_plan(
    *,
    timeline: Sequence[Interval],
    server: Sequence[Series],
    window_start: float,
    window_end: float,
    thresholds: ThresholdSet,
    plan: ServerPlan,
) -> Analysis:
    """``analyse`` with the limits and leak settings of a run's server plan (the run and
    `loadlens verdict` both call this, so they judge alike)."""
    return analyse(
        timeline=timeline,
        server=server,
        window_start=window_start,
        window_end=window_end,
        thresholds=thresholds,
        cpu_limit_percent=plan.limits.cpu_percent,
        memory_limit_percent=plan.limits.memory_percent,
        leak_warn_per_h=plan.leak_warn_per_hour,
        leak_fail_per_h=plan.leak_fail_per_hour,
        leak_min_duration_s=plan.leak_min_duration_s,
    )


def _trend_dict(t: Any) -> dict[str, Any]:
    return {
        "unit": t.unit,
        "points": t.points,
        "slope_per_h": t.slope_per_h,
        "growth_per_h": t.growth_per_h,
        "time_to_limit_s": t.time_to_limit_s,
    }
