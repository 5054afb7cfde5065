"""The analysis of a finished run: client against server, and soak trends.

Pulls together runner.judge.correlate (periods, headroom, CPU cost), runner.judge.breach (the first criterion
that broke and what the server was doing then) and runner.judge.soak (robust slopes and the leak
criterion) into one JSON-ready ``analysis`` section, the sentences a person reads, and the leak
criteria that join the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runner.judge.breach import BreachLimits, Finding, first_breach
from runner.judge.client import ThresholdSet
from runner.judge.correlate import (
    Headroom,
    Period,
    SeriesRef,
    cpu_seconds_per_1000,
    find_cpu,
    find_memory,
    headroom,
    periods,
    reserved_vcpus,
    resource_series,
)
from runner.judge.soak import Trend, client_p95_trend, describe_trend, leak_criterion, series_trend
from runner.model import Interval, Result
from runner.readings import Series

DEFAULT_LEAK_WARN_PER_H = 2.0
DEFAULT_LEAK_FAIL_PER_H = 5.0


@dataclass(frozen=True, slots=True)
class LeakLimits:
    """The leak criterion's levels in %/h (``[server] leak_*``); None: not configured, so the
    defaults apply, and only to a steady state at least ``min_duration_s`` long."""

    warn_per_h: float | None = None
    fail_per_h: float | None = None
    min_duration_s: float = 1800.0


@dataclass(frozen=True, slots=True)
class CpuCost:
    """Headroom and CPU cost, found when the run has a CPU series."""

    headroom: Headroom
    cpu_seconds_per_1000_requests: float | None
    cores: float  # what 100 % of the CPU series is (see ``correlate.cpu_seconds_per_1000``)
    periods: tuple[Period, ...]


@dataclass(frozen=True, slots=True)
class NamedTrend:
    """One trend of the run and the sentence that describes it."""

    metric: str  # "ECS memory", "process RSS", "client p95"
    line: str
    trend: Trend


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the analysis found: the first breach, the CPU headroom and cost, the trends, the
    sentences a person reads (``findings``) and the criteria that join the verdict (the leak).
    ``section()`` is its JSON-ready form for summary.json."""

    first_breach: Finding | None = None
    cpu: CpuCost | None = None
    trends: tuple[NamedTrend, ...] = ()
    findings: tuple[str, ...] = ()
    results: tuple[Result, ...] = ()

    def section(self) -> dict[str, Any]:
        """The summary's ``analysis`` object (docs/summary-schema.md), findings included."""
        out: dict[str, Any] = {}
        breach = self.first_breach
        if breach is not None:
            out["first_breach"] = {
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
        if self.cpu is not None:
            head = self.cpu.headroom
            out["headroom"] = {
                "cpu": head.cpu.label,
                "cpu_limit_percent": head.cpu_limit_percent,
                "rps_at_limit": head.rps_at_limit,
                "ratio_to_tested": head.ratio_to_tested,
                "points": head.points,
                # The fitted line itself (null without a fit), so a reader draws the analysis' own
                # line over the rps it is supported on rather than fitting one of its own.
                "slope_percent_per_rps": head.slope_percent_per_rps,
                "intercept_percent": head.intercept_percent,
                "rps_min": head.rps_min,
                "rps_max": head.rps_max,
                "summary": head.summary,
                "caveat": head.caveat,
            }
            out["cpu_seconds_per_1000_requests"] = self.cpu.cpu_seconds_per_1000_requests
            out["cpu_cores_basis"] = self.cpu.cores
            out["periods"] = [
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
                for p in self.cpu.periods
            ]
        out["trends"] = [{"metric": t.metric, "line": t.line, **_trend_dict(t.trend)} for t in self.trends]
        out["findings"] = list(self.findings)
        return out


def analyse(
    *,
    timeline: Sequence[Interval],
    server: Sequence[Series],
    window_start: float,
    window_end: float,
    thresholds: ThresholdSet,
    cpu_limit_percent: float,
    memory_limit_percent: float,
    leak: LeakLimits = LeakLimits(),
) -> Analysis:
    """Analyse one run. The leak criterion is judged when leak limits are configured (then a
    too-short window is INCONCLUSIVE), or with default limits when the steady state is at least
    ``leak.min_duration_s`` long (so short runs are not marked inconclusive for it)."""
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

    cpu_cost: CpuCost | None = None
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
        cpu_cost = CpuCost(headroom=head, cpu_seconds_per_1000_requests=cost, cores=cores, periods=tuple(ps))
        if cost is not None:
            unit = "core" if cores == 1 else "cores"
            basis = unit if cpu.source != "cloudwatch" else "reserved vCPUs (1 when unknown)"
            sentences.append(f"{ref.label}: {cost:.3g} CPU-seconds per 1,000 requests ({cores:g} {basis})")

    trends: list[NamedTrend] = []
    if memory is not None:
        leak_series, leak_limit = _leak_basis(memory, server, memory_limit_percent)
        label = SeriesRef.of(leak_series).label
        mem_trend = series_trend(
            leak_series, window_start=window_start, window_end=window_end, limit=leak_limit
        )
        trends.append(NamedTrend(label, describe_trend(mem_trend, label), mem_trend))
        configured = leak.warn_per_h is not None or leak.fail_per_h is not None
        long_enough = window_end - window_start >= leak.min_duration_s
        if configured or long_enough:
            warn = leak.warn_per_h if configured else DEFAULT_LEAK_WARN_PER_H
            fail = leak.fail_per_h if configured else DEFAULT_LEAK_FAIL_PER_H
            results.append(
                leak_criterion(
                    mem_trend,
                    warn_per_hour=warn,
                    fail_per_hour=fail,
                    metric_label=f"server {label}",
                    min_duration_s=leak.min_duration_s,
                )
            )
        if long_enough:
            sentences.append(describe_trend(mem_trend, label))
    p95 = client_p95_trend(timeline, window_start=window_start, window_end=window_end)
    trends.append(NamedTrend("client p95", describe_trend(p95, "client p95"), p95))
    if window_end - window_start >= leak.min_duration_s:
        sentences.append(describe_trend(p95, "client p95"))
    return Analysis(
        first_breach=breach,
        cpu=cpu_cost,
        trends=tuple(trends),
        findings=tuple(sentences),
        results=tuple(results),
    )


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


def _trend_dict(t: Trend) -> dict[str, Any]:
    return {
        "unit": t.unit,
        "points": t.points,
        "slope_per_h": t.slope_per_h,
        "growth_per_h": t.growth_per_h,
        "time_to_limit_s": t.time_to_limit_s,
    }
