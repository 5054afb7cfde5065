"""Server criteria with a bound on every whole period: the user's ``[[server.metrics]]``, the ALB
TargetResponseTime p95/p99 (``alb_p95_ms``, ``alb_p99_ms``) and unhealthy hosts
(``unhealthy_hosts``).

Each is judged like the built-in CPU rows (runner.judge.server): only points whose whole period
lies inside the judged window count; the worst of them is the observed value. ``max``: FAIL
above it, WARN at or above ``warn_ratio`` of it (never for a limit of 0). ``min``: FAIL below it,
WARN when it is at or above ``warn_ratio`` of the lowest value. A metric that was configured and
has no point in the window is INCONCLUSIVE with the reason (no datapoints, the source refused it,
the window holds no whole period, or its source was not read at all): never a pass. The one
exception is the user's: ``missing = "zero"`` counts periods without datapoints as 0 when the
metric has datapoints or CloudWatch lists it (``Missing.exists``), as an alarm's TreatMissingData.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from runner.config.types import ServerCriteriaLimits
from runner.judge.verdict import in_warn_band
from runner.model import Result, Status
from runner.readings import Missing, Series, custom_metric_name
from runner.sources.base import SourceResult, align_down, first_no_whole_period, overlaps, window_points
from runner.sources.cloudwatch_catalog import ALB, TARGET_GROUP
from runner.sources.custom import ServerMetric
from runner.timefmt import clock_z, iso_seconds

_ORDER = (Status.PASS, Status.WARN, Status.FAIL)
_NOT_READ = {
    "cloudwatch": "no CloudWatch data for it in this run: CloudWatch is read with --correlate-cloudwatch "
    "or [cloudwatch] correlate = true (when it was, see the server metrics (cloudwatch) row)",
    "prometheus": "no Prometheus data for it in this run: see the server metrics (prometheus) row",
}


@dataclass(frozen=True, slots=True)
class Bound:
    """What one row checks: its name, the user's criterion text, the limits and how to show values
    (``scale`` turns a source's unit into the shown one: CloudWatch seconds into ms)."""

    name: str
    criterion: str
    max: float | None
    min: float | None
    unit: str = ""
    scale: float = 1.0
    details: tuple[tuple[str, object], ...] = ()


def judge_bounds(
    result: SourceResult,
    *,
    window: tuple[float, float],
    limits: ServerCriteriaLimits,
    required: bool,
    run_s: float | None,
) -> list[Result]:
    """The rows of the ALB percentiles (where the ALB was read), unhealthy hosts (where target
    groups were read) and every configured ``[[server.metrics]]`` (always: one each)."""
    judge = _Bounds(result, window[0], window[1], limits.warn_ratio, required, run_s)
    rows: list[Result] = []
    for stat, limit in (("p95", limits.alb_p95_ms), ("p99", limits.alb_p99_ms)):
        if limit is not None:
            text = f"{stat} of every period <= {_num(limit)} ms"
            bound = Bound(f"server ALB {stat}", text, limit, None, "ms", 1000.0)
            rows += judge.per_resource(ALB, "TargetResponseTime", stat, bound)
    if limits.unhealthy_hosts is not None:
        text = f"unhealthy hosts in every period <= {_num(limits.unhealthy_hosts)}"
        bound = Bound("server unhealthy hosts", text, limits.unhealthy_hosts, None, "count")
        rows += judge.per_resource(TARGET_GROUP, "UnHealthyHostCount", "Maximum", bound)
    rows += [judge.custom(m) for m in limits.metrics]
    return rows


def criterion_text(m: ServerMetric, period_s: float | None) -> str:
    """The row's criterion: ``Maximum of every 60s period <= 75`` or ``every value (15s step) >= 1``."""
    every = f"{_num(period_s)}s " if period_s else ""
    if m.query:
        what = f"every value ({every.strip() or 'each'} step)"
    else:
        what = f"{m.statistic} of every {every}period"
    if m.max is not None and m.min is not None:
        return f"{_num(m.min)} <= {what} <= {_num(m.max)}"
    if m.max is not None:
        return f"{what} <= {_num(m.max)}"
    return f"{what} >= {_num(m.min or 0.0)}"


class _Bounds:
    def __init__(
        self, result: SourceResult, start: float, end: float, warn_ratio: float, required: bool,
        run_s: float | None,
    ) -> None:  # fmt: skip
        self.result, self.start, self.end = result, start, end
        self.warn_ratio, self.required, self.run_s = warn_ratio, required, run_s

    def per_resource(self, prefix: str, metric: str, stat: str, bound: Bound) -> list[Result]:
        """One row per resource (load balancer, target group) that was read or is missing."""
        series = [s for s in self.result.find(metric=metric, resource_prefix=prefix, stat=stat)]
        missing = [m for m in self.result.find_missing(metric=metric, resource_prefix=prefix, stat=stat)]
        keys = list(dict.fromkeys([s.resource for s in series] + [m.resource for m in missing]))
        rows = []
        for key in keys:
            named = replace(bound, name=f"{bound.name} ({key})") if len(keys) > 1 else bound
            rows.append(
                self.row(
                    named,
                    [s for s in series if s.resource == key],
                    [m for m in missing if m.resource == key],
                    not_read="",
                )
            )
        return rows

    def custom(self, m: ServerMetric) -> Result:
        """The row of one [[server.metrics]]."""
        series = [
            s
            for s in self.result.series
            if s.source == m.source and custom_metric_name(s.resource) == m.name and s.stat == m.statistic
        ]
        missing = [
            x
            for x in self.result.missing
            if x.source == m.source and custom_metric_name(x.resource) == m.name and x.stat == m.statistic
        ]
        note = ""
        if m.zero_when_missing:
            series, note = self._zero_filled(series, missing)
        period = series[0].period_s if series else m.period_s
        details: tuple[tuple[str, object], ...] = (("metric", m.name), ("what", m.what))
        bound = Bound(f"server {m.name}", criterion_text(m, period), m.max, m.min, details=details)
        return self.row(bound, series, missing, not_read=_NOT_READ[m.source], note=note)

    def _zero_filled(self, series: list[Series], missing: list[Missing]) -> tuple[list[Series], str]:
        """``missing = "zero"``: every period overlapping the window without a datapoint becomes 0,
        when the metric has datapoints (on their grid) or CloudWatch lists it (on the epoch-aligned
        grid of its period); otherwise nothing changes (INCONCLUSIVE with the source's reason)."""
        if series:
            filled = [_fill(s, s.points[0][0] if s.points else 0.0, self.start, self.end) for s in series]
            counted = sum(n for _, n in filled)
            total = sum(len(window_points(s, self.start, self.end)) for s, _ in filled)
            note = f'{counted} of {total} periods had no datapoints: counted as 0 (missing = "zero")'
            return [s for s, _ in filled], note if counted else ""
        listed = next((x for x in missing if x.exists and x.period_s), None)
        if listed is None or listed.period_s is None:
            return series, ""
        empty = Series(listed.source, listed.resource, listed.metric, listed.stat, "", (), listed.period_s)
        zero, _ = _fill(empty, 0.0, self.start, self.end)
        return [zero], 'no datapoints: counted as 0 (missing = "zero"), metric exists'

    def row(
        self, bound: Bound, series: Sequence[Series], missing: Sequence[Missing], *, not_read: str,
        note: str = "",
    ) -> Result:  # fmt: skip
        """Judge ``series`` together against ``bound``; INCONCLUSIVE when nothing whole is inside."""
        limit = bound.max if bound.max is not None else bound.min
        details: dict[str, object] = dict(bound.details)
        inside = [(t, v * bound.scale, s) for s in series for t, v in window_points(s, self.start, self.end)]
        if not inside:
            reason = (
                self._no_whole_period(series)
                or (missing[0].reason if missing else "")
                or (
                    f"no datapoints for {bound.name.removeprefix('server ')} inside the judged window "
                    f"{clock_z(self.start)}-{clock_z(self.end)}"
                    if series
                    else not_read
                )
            )
            if series:
                details["resource"] = series[0].resource
            return self._result(bound, None, limit, Status.INCONCLUSIVE, reason, details)
        high = max(inside, key=lambda p: p[1])
        low = min(inside, key=lambda p: p[1])
        checks: list[tuple[Status, tuple[float, float, Series], str]] = []
        if bound.max is not None:
            checks.append((self._above(high[1], bound.max), high, "max"))
        if bound.min is not None:
            checks.append((self._below(low[1], bound.min), low, "min"))
        status, (t, value, at), side = max(checks, key=lambda c: _ORDER.index(c[0]))
        limit = bound.max if side == "max" else bound.min
        assert limit is not None
        mean = sum(v for _, v, _ in inside) / len(inside)
        unit = f" {bound.unit}" if bound.unit and bound.unit != "count" else ""
        where = f" on {at.resource}" if len({s.resource for s in series}) > 1 else ""
        seen = f"{'max' if side == 'max' else 'min'} {_num(value)}{unit} at {clock_z(t)}{where}"
        word = "above" if side == "max" else "below"
        if status is Status.FAIL:
            reason = f"{seen} is {word} the limit {_num(limit)}{unit}"
        elif status is Status.WARN:
            near = _num((1 - self.warn_ratio) * 100)
            reason = f"{seen} is within {near} % of the limit {_num(limit)}{unit}"
        else:
            reason = f"{seen}, {'under' if side == 'max' else 'over'} the limit {_num(limit)}{unit}"
        if bound.max is not None and bound.min is not None:
            reason += f" (range {_num(low[1])}-{_num(high[1])}{unit})"
        details.update(
            resource=at.resource,
            at=iso_seconds(t),
            window_average=round(mean, 3),
            points=len(inside),
            period_s=at.period_s,
        )
        if note:
            details["missing"] = note
        reason = "; ".join(filter(None, [reason, f"window average {_num(mean)}{unit}", note]))
        return self._result(bound, value, limit, status, reason, details)

    def _above(self, value: float, limit: float) -> Status:
        if value > limit:
            return Status.FAIL
        return Status.WARN if in_warn_band(value, limit, self.warn_ratio) else Status.PASS

    def _below(self, value: float, limit: float) -> Status:
        if value < limit:
            return Status.FAIL
        return Status.WARN if in_warn_band(limit, value, self.warn_ratio) else Status.PASS

    def _no_whole_period(self, series: Sequence[Series]) -> str | None:
        return first_no_whole_period(series, self.start, self.end, run_s=self.run_s)

    def _result(
        self, bound: Bound, observed: float | None, limit: float | None, status: Status, reason: str,
        details: dict[str, object],
    ) -> Result:  # fmt: skip
        return Result(
            name=bound.name,
            criterion=bound.criterion,
            observed=None if observed is None else round(observed, 6),
            limit=limit,
            status=status,
            reason=reason,
            unit=bound.unit,
            scope="server",
            required=self.required,
            details=details,
        )


def _fill(s: Series, anchor: float, start: float, end: float) -> tuple[Series, int]:
    """``s`` with a 0 at every period of its grid (through ``anchor``) that overlaps
    ``[start, end)`` and has no point, and how many of those lie wholly inside the window."""
    period = s.period_s
    have = {round(t, 3) for t, _ in s.points}
    t = anchor + align_down(start - anchor, period) - period
    added: list[tuple[float, float]] = []
    while t < end:
        if overlaps(t, period, start, end) and round(t, 3) not in have:
            added.append((t, 0.0))
        t += period
    filled = replace(s, points=tuple(sorted(s.points + tuple(added))))
    inside = {round(t, 3) for t, _ in window_points(filled, start, end)}
    return filled, sum(1 for t, _ in added if round(t, 3) in inside)


def _num(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"
