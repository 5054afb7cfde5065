"""Server-side criteria: pure functions from a source's answer, the judged window and the limits to
``Result`` rows (``scope="server"``).

What is judged, and on what:

- ECS CPU / memory (CloudWatch ``AWS/ECS`` CPUUtilization / MemoryUtilization, Average): the
  MAXIMUM of the period averages inside the window, with its time; the window's average is in the
  reason and the details.
- RDS CPU (when ``rds_cpu_percent`` is set) the same way; RDS connections (when
  ``rds_connections`` is set) on the maximum of the per-period Maximum.
- ALB 5xx (``HTTPCode_Target_5XX_Count`` + ``HTTPCode_ELB_5XX_Count``, Sum over the window),
  default limit 0. CloudWatch publishes 5xx counts only when non-zero: none while RequestCount
  has datapoints means zero; none at all is INCONCLUSIVE.
- ALB TargetResponseTime p95/p99, unhealthy hosts and the user's ``[[server.metrics]]``: whole
  periods against a max and/or min, in runner.judge.server_metrics.
- Prometheus queries named ``cpu_percent`` / ``memory_percent`` against the same CPU and memory
  limits; the local process's cpu_percent (100 = one core) and memory_percent (of total RAM).

A point counts only when its whole period lies inside the judged window (``base.window_points``):
a period that reaches into ramp-up, an excluded warm-up or idle time would average them into the
steady state. Status: FAIL above the limit, WARN at or above ``warn_ratio`` of it (never for a
limit of 0), PASS below, and INCONCLUSIVE when the series is missing, has no point in the window,
or the window holds no whole period (the reason then says how long to run, or which finer period
to use). A row
exists only for what the source was configured to read: every metric it read shows up as a series
or as a ``Missing``.
"""

from __future__ import annotations

from collections.abc import Sequence

# The limits judged here are the [server] table's own type (re-exported for the judge's callers).
from runner.config.types import ServerCriteriaLimits as ServerCriteriaLimits
from runner.judge.server_metrics import judge_bounds
from runner.judge.verdict import in_warn_band
from runner.model import Result, Status
from runner.readings import CUSTOM_RESOURCE, Missing, Series, ServerReadings
from runner.sources.base import SourceResult, describe_series, first_no_whole_period, window_points
from runner.sources.cloudwatch_catalog import ALB, ECS, RDS_CLUSTER, RDS_INSTANCE
from runner.timefmt import clock_z, iso_seconds

PERCENT = "percent"
COUNT = "count"


def judge_server(
    result: SourceResult,
    *,
    window_start: float,
    window_end: float,
    limits: ServerCriteriaLimits | None = None,
    required: bool = False,
    run_s: float | None = None,
) -> tuple[Result, ...]:
    """Every server criterion that ``result`` has data (or a reason for none) for.

    ``required`` (the CLI's ``--require-server-metrics``) is copied to every row: an INCONCLUSIVE
    required row makes the run inconclusive. ``run_s``, the whole run's length, sizes the remedy
    when the window holds no whole period ("run at least 2 min 30 s").
    """
    lim = limits or ServerCriteriaLimits()
    judge = _Judge(result, window_start, window_end, lim, required, run_s)
    rows: list[Result] = []
    rows += judge.peaks(
        "server ECS CPU", "cloudwatch", ECS, "CPUUtilization", "Average", lim.cpu_percent, PERCENT
    )
    rows += judge.peaks(
        "server ECS memory", "cloudwatch", ECS, "MemoryUtilization", "Average", lim.memory_percent, PERCENT
    )
    rds = (RDS_INSTANCE, RDS_CLUSTER)
    if lim.rds_cpu_percent is not None:
        rows += judge.peaks(
            "server RDS CPU", "cloudwatch", rds, "CPUUtilization", "Average", lim.rds_cpu_percent, PERCENT
        )
    if lim.rds_connections is not None:
        rows += judge.peaks(
            "server RDS connections",
            "cloudwatch",
            rds,
            "DatabaseConnections",
            "Maximum",
            lim.rds_connections,
            COUNT,
        )
    if lim.alb_5xx is not None:
        rows += judge.alb_5xx(lim.alb_5xx)
    # ALB p95/p99, unhealthy hosts and the [[server.metrics]]: runner.judge.server_metrics
    window = (window_start, window_end)
    rows += judge_bounds(result, window=window, limits=lim, required=required, run_s=run_s)
    rows += judge.peaks(
        "server Prometheus CPU", "prometheus", "", "cpu_percent", "value", lim.cpu_percent, PERCENT
    )
    rows += judge.peaks(
        "server Prometheus memory", "prometheus", "", "memory_percent", "value", lim.memory_percent, PERCENT
    )
    proc_cpu = lim.process_cpu_percent if lim.process_cpu_percent is not None else lim.cpu_percent
    proc_mem = lim.process_memory_percent if lim.process_memory_percent is not None else lim.memory_percent
    rows += judge.peaks("server process CPU", "process", "", "cpu_percent", "Average", proc_cpu, PERCENT)
    rows += judge.peaks("server process memory", "process", "", "memory_percent", "Sample", proc_mem, PERCENT)
    return tuple(rows)


def judge_readings(
    readings: ServerReadings,
    *,
    window_start: float,
    window_end: float,
    limits: ServerCriteriaLimits,
    required: bool = False,
    run_s: float | None = None,
) -> tuple[Result, ...]:
    """Every server row of a run: one INCONCLUSIVE row per source that failed (in the order they
    failed), the criteria judged on what was read (``judge_server``), and a FAIL row when the safety
    stop ended the run."""
    rows = [source_failed(f.source, f.reason, required=required) for f in readings.failures]
    rows += judge_server(
        SourceResult(series=readings.series, missing=readings.missing),
        window_start=window_start,
        window_end=window_end,
        limits=limits,
        required=required,
        run_s=run_s,
    )
    if readings.safety_stop:
        rows.append(
            Result(
                name="server safety stop",
                criterion="no abort limit held for its periods",
                observed=None,
                limit=None,
                status=Status.FAIL,
                reason=readings.safety_stop,
                scope="server",
            )
        )
    return tuple(rows)


def source_failed(source: str, reason: str, *, required: bool = False) -> Result:
    """The one row to show when a whole source could not answer (its ``SourceError`` message)."""
    return Result(
        name=f"server metrics ({source})",
        criterion=f"{source} answers",
        observed=None,
        limit=None,
        status=Status.INCONCLUSIVE,
        reason=reason,
        scope="server",
        required=required,
    )


def status_for(observed: float, limit: float, warn_ratio: float) -> Status:
    """FAIL above ``limit``, WARN at or above ``warn_ratio * limit`` (not for a limit of 0), else PASS."""
    if observed > limit:
        return Status.FAIL
    if in_warn_band(observed, limit, warn_ratio):
        return Status.WARN
    return Status.PASS


class _Judge:
    def __init__(
        self,
        result: SourceResult,
        start: float,
        end: float,
        limits: ServerCriteriaLimits,
        required: bool,
        run_s: float | None,
    ) -> None:
        self.run_s = run_s
        self.result = result
        self.start = start
        self.end = end
        self.limits = limits
        self.required = required

    def _of(
        self, source: str, prefixes: tuple[str, ...], metric: str, stat: str
    ) -> tuple[list[Series], list[Missing]]:
        series = [
            s
            for s in self.result.find(metric=metric, stat=stat)
            if s.source == source and s.resource.startswith(prefixes) and not _custom(s.resource)
        ]
        missing = [
            m
            for m in self.result.find_missing(metric=metric, stat=stat)
            if m.source == source and m.resource.startswith(prefixes) and not _custom(m.resource)
        ]
        return series, missing

    def _row(self, name: str, criterion: str, observed: float | None, limit: float, status: Status,
             reason: str, unit: str, details: dict[str, object]) -> Result:  # fmt: skip
        return Result(
            name=name,
            criterion=criterion,
            observed=observed,
            limit=limit,
            status=status,
            reason=reason,
            unit=unit,
            scope="server",
            required=self.required,
            details=details,
        )

    def peaks(
        self,
        name: str,
        source: str,
        prefixes: str | tuple[str, ...],
        metric: str,
        stat: str,
        limit: float,
        unit: str,
    ) -> list[Result]:
        series, missing = self._of(
            source, (prefixes,) if isinstance(prefixes, str) else prefixes, metric, stat
        )
        if source == "cloudwatch":  # one row per resource (ECS service, RDS instance…)
            groups = {s.resource: [s] for s in series}
            miss = {m.resource: m for m in missing if m.resource not in groups}
        else:  # all of a query's series (pods, instances) or the process judged together
            groups = {"": series} if series else {}
            miss = {m.resource: m for m in missing} if not series else {}
        keys = list(groups) + list(miss)
        rows = []
        for key in keys:
            label = f"{name} ({key})" if len(keys) > 1 else name
            if key in miss:
                text = _criterion(metric, source, unit, limit, None)
                rows.append(
                    self._row(
                        label,
                        text,
                        None,
                        limit,
                        Status.INCONCLUSIVE,
                        miss[key].reason,
                        unit,
                        {"resource": key},
                    )
                )
                continue
            rows.append(self._peak_row(label, groups[key], limit, unit))
        return rows

    def _peak_row(self, name: str, series: Sequence[Series], limit: float, unit: str) -> Result:
        first = series[0]
        text = _criterion(first.metric, first.source, unit, limit, first.period_s)
        inside = [(p, s) for s in series for p in window_points(s, self.start, self.end)]
        resources = ", ".join(dict.fromkeys(s.resource for s in series))
        if not inside:
            last = max((s.points[-1][0] for s in series if s.points), default=None)
            after = f" (the last at {clock_z(last)})" if last is not None else ""
            reason = self._no_whole_period(series) or (
                f"no datapoints for {describe_series(first)} inside the judged window "
                f"{clock_z(self.start)}-{clock_z(self.end)}{after}"
            )
            return self._row(
                name, text, None, limit, Status.INCONCLUSIVE, reason, unit, {"resource": resources}
            )
        (t_max, v_max), at_series = max(inside, key=lambda ps: ps[0][1])
        mean = sum(p[1] for p, _ in inside) / len(inside)
        status = status_for(v_max, limit, self.limits.warn_ratio)
        sym = " %" if unit == PERCENT else ""
        where = f" on {at_series.resource}" if len(series) > 1 else ""
        seen = f"max {_num(v_max)}{sym} at {clock_z(t_max)}{where}"
        if status is Status.FAIL:
            verdict = f"{seen} is above the limit {_num(limit)}{sym}"
        elif status is Status.WARN:
            near = _num((1 - self.limits.warn_ratio) * 100)
            verdict = f"{seen} is within {near} % of the limit {_num(limit)}{sym}"
        else:
            verdict = f"{seen}, under the limit {_num(limit)}{sym}"
        details: dict[str, object] = {
            "resource": at_series.resource,
            "at": iso_seconds(t_max),
            "window_average": round(mean, 3),
            "points": len(inside),
            "period_s": first.period_s,
        }
        peak_max = self._companion_max(at_series)
        if peak_max is not None:
            details["peak_maximum"] = peak_max
        return self._row(
            name, text, v_max, limit, status, f"{verdict}; window average {_num(mean)}{sym}", unit, details
        )

    def _no_whole_period(self, series: Sequence[Series]) -> str | None:
        return first_no_whole_period(series, self.start, self.end, run_s=self.run_s)

    def _companion_max(self, series: Series) -> float | None:
        # CloudWatch also reads the Maximum statistic of CPU and memory: show its peak beside the average's.
        if series.source != "cloudwatch" or series.stat != "Average":
            return None
        for other in self.result.find(metric=series.metric, resource_prefix=series.resource, stat="Maximum"):
            if other.resource == series.resource:
                pts = window_points(other, self.start, self.end)
                return max(v for _, v in pts) if pts else None
        return None

    def alb_5xx(self, limit: float) -> list[Result]:
        resources = dict.fromkeys(
            [
                s.resource
                for s in self.result.series
                if s.source == "cloudwatch" and s.resource.startswith(ALB)
            ]
            + [
                m.resource
                for m in self.result.missing
                if m.source == "cloudwatch" and m.resource.startswith(ALB)
            ]
        )
        rows = []
        for res in resources:
            label = f"server ALB 5xx ({res})" if len(resources) > 1 else "server ALB 5xx"
            rows.append(self._alb_row(label, res, limit))
        return rows

    def _alb_row(self, name: str, resource: str, limit: float) -> Result:
        text = f"target + ELB 5xx responses <= {_num(limit)}"
        requests = self._window_sum(resource, "RequestCount")
        counts: dict[str, float | None] = {}
        reasons = []
        per_period: dict[float, float] = {}
        for metric in ("HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"):
            series = [s for s in self.result.find(metric=metric, stat="Sum") if s.resource == resource]
            pts = [p for s in series for p in window_points(s, self.start, self.end)]
            for t, v in pts:
                per_period[t] = per_period.get(t, 0.0) + v
            if pts:
                counts[metric] = sum(v for _, v in pts)
                continue
            gone = [m for m in self.result.find_missing(metric=metric, stat="Sum") if m.resource == resource]
            if requests is not None and (series or (gone and gone[0].sparse)):
                counts[metric] = 0.0  # published only when non-zero, and the LB served requests: zero
                continue
            counts[metric] = None
            partial = self._no_whole_period(
                [s for s in self.result.series if s.source == "cloudwatch" and s.resource == resource]
            )
            reasons.append(
                partial
                if partial
                else gone[0].reason
                if gone and not gone[0].sparse
                else f"no datapoints for AWS/ApplicationELB RequestCount or {metric} "
                f"LoadBalancer={resource[len(ALB) :]} in the judged window: "
                "no requests reached it, or check the names and the region"
            )
        known = sum(v for v in counts.values() if v is not None)
        details: dict[str, object] = {
            "resource": resource,
            "target_5xx": counts.get("HTTPCode_Target_5XX_Count"),
            "elb_5xx": counts.get("HTTPCode_ELB_5XX_Count"),
            "requests": requests,
        }
        worst_txt = ""
        if per_period and max(per_period.values()) > 0:
            worst_t, worst_n = max(per_period.items(), key=lambda kv: kv[1])
            details["worst_period_at"] = iso_seconds(worst_t)
            details["worst_period_5xx"] = worst_n
            worst_txt = f", most at {clock_z(worst_t)}"
        if reasons and known <= limit:
            return self._row(name, text, None, limit, Status.INCONCLUSIVE, reasons[0], COUNT, details)
        status = status_for(known, limit, self.limits.warn_ratio)
        target_n = counts["HTTPCode_Target_5XX_Count"] or 0.0
        elb_n = counts["HTTPCode_ELB_5XX_Count"] or 0.0
        of = f" of {_num(requests)} requests" if requests is not None else ""
        seen = f"{_num(known)} 5xx{of} (target {_num(target_n)}, ELB {_num(elb_n)}{worst_txt})"
        if status is Status.FAIL:
            reason = f"{seen}: above the limit {_num(limit)}"
        elif status is Status.WARN:
            reason = f"{seen}: near the limit {_num(limit)}"
        else:
            reason = f"{seen}: within the limit {_num(limit)}"
        return self._row(name, text, known, limit, status, reason, COUNT, details)

    def _window_sum(self, resource: str, metric: str) -> float | None:
        pts = [
            p
            for s in self.result.find(metric=metric, stat="Sum")
            if s.resource == resource
            for p in window_points(s, self.start, self.end)
        ]
        return sum(v for _, v in pts) if pts else None


def _criterion(metric: str, source: str, unit: str, limit: float, period_s: float | None) -> str:
    sym = " %" if unit == PERCENT else ""
    every = f"{_num(period_s)}s" if period_s else "period"
    if metric == "DatabaseConnections":
        return f"max connections <= {_num(limit)}"
    if source == "process" and metric == "cpu_percent":
        return f"max of {every} samples <= {_num(limit)} % (100 = one core)"
    if source == "process" and metric == "memory_percent":
        return f"max RSS <= {_num(limit)} % of RAM"
    if source == "prometheus":
        return f"max of values every {every} <= {_num(limit)}{sym}"
    return f"max of {every} averages <= {_num(limit)}{sym}"


def _custom(resource: str) -> bool:
    # A [[server.metrics]] series (its own row) is never the service's CPU or memory.
    return resource.startswith(CUSTOM_RESOURCE)


def _num(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"
