"""Soak analysis: robust trends over a long steady state, and the leak criterion.

A soak test holds a modest load for hours; a service that leaks shows it as a slow, steady climb
that no absolute limit catches before the day it falls over. This module fits a robust line
(Theil-Sen) through a series over the steady state and judges its slope:

- ``theil_sen``: the median of pairwise slopes, with Sen's 95 % interval for the slope.
- ``trend`` / ``series_trend`` / ``client_p95_trend``: the slope per hour, the growth in the unit
  the leak criterion judges, and the projected time to reach a limit.
- ``leak_criterion``: PASS / WARN / FAIL on that growth, INCONCLUSIVE when the steady state is too
  short or too sparse to say.

Growth is "%/h" in one of two senses, chosen by the metric's unit (docs/analysis.md):
for a percent metric (memory %) it is **percentage points per hour** (the metric's own slope); for
anything else (bytes, milliseconds) it is **percent of the fitted starting level per hour**.

Pure functions on plain data; no I/O, no clock.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from runner.model import Interval, Result, Status
from runner.readings import Series
from runner.sources.base import window_points
from runner.timefmt import format_rough as format_duration
from runner.units import format_value

MAX_POINTS = 200  # theil_sen fits at most this many points (19,900 pairwise slopes); see reduce_points
Z_95 = 1.959964  # two-sided 95 % normal quantile, for Sen's interval
HOUR_S = 3600.0
MIN_REQUESTS = 20  # an interval's p95 below this many requests is just its maximum

# Series.unit (as sources answer) -> the report unit of runner.units.
_UNITS = {
    "Percent": "percent",
    "Bytes": "bytes",
    "Seconds": "s",
    "Count": "count",
    "Milliseconds": "ms",
}


@dataclass(frozen=True, slots=True)
class LineFit:
    """A Theil-Sen line ``y = intercept + slope * x`` with Sen's 95 % interval for the slope."""

    slope: float
    intercept: float  # at x = 0
    slope_low: float
    slope_high: float
    points: int  # as given
    pairs: int  # pairwise slopes the median was taken over (at most 19,900: see reduce_points)


def reduce_points(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points ``theil_sen`` fits, sorted by x: all of them up to ``MAX_POINTS``; beyond that,
    ``MAX_POINTS`` groups of consecutive points (sizes differing by at most one), each replaced by
    its median x and median y.

    The median of a group of consecutive points lies on the line for a linear trend with symmetric
    noise, is itself robust to outliers, and groups have independent errors, so Sen's interval
    stays valid on the reduced points. Bounds the cost at ``MAX_POINTS * (MAX_POINTS - 1) / 2``
    pairwise slopes (19,900) however long the series.
    """
    pts = sorted((float(x), float(y)) for x, y in points)
    n = len(pts)
    if n <= MAX_POINTS:
        return pts
    out = []
    for k in range(MAX_POINTS):
        group = pts[k * n // MAX_POINTS : (k + 1) * n // MAX_POINTS]
        out.append((statistics.median(x for x, _ in group), statistics.median(y for _, y in group)))
    return out


def theil_sen(points: Sequence[tuple[float, float]]) -> LineFit | None:
    """The Theil-Sen line through ``(x, y)`` points: the median of the slopes of all point pairs
    (pairs with equal x are skipped), and the median of ``y - slope * x`` as the intercept.

    Robust: up to ~29 % of the points can be arbitrary outliers before the slope moves far. More
    than ``MAX_POINTS`` points are first reduced by ``reduce_points``, so at most 19,900 pairwise
    slopes are computed. None with fewer than two distinct x values. The slope's 95 % interval is
    Sen's (1968), from the variance of Kendall's S without a tie correction.
    """
    pts = reduce_points(points)
    n = len(pts)
    slopes = sorted(
        (pts[j][1] - pts[i][1]) / (pts[j][0] - pts[i][0])
        for i in range(n)
        for j in range(i + 1, n)
        if pts[j][0] != pts[i][0]
    )
    if not slopes:
        return None
    slope = statistics.median(slopes)
    intercept = statistics.median(y - slope * x for x, y in pts)
    # Sen's interval: the slopes of ranks (N - C) / 2 and (N + C) / 2 + 1 of the N ordered slopes,
    # C = z * sqrt(Var S).
    m = len(slopes)
    c = Z_95 * math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    lo = max(0, math.floor((m - c) / 2) - 1)
    hi = min(m - 1, math.ceil((m + c) / 2))
    return LineFit(slope, intercept, slopes[lo], slopes[hi], len(points), m)


@dataclass(frozen=True, slots=True)
class Trend:
    """A robust line through one metric over a window, in hours since ``window_start``.

    ``slope_per_h`` is in the metric's own unit per hour (percentage points for a percent metric,
    bytes, milliseconds…); ``growth_per_h`` is what the leak criterion judges (see the module
    docstring). Levels are read off the fitted line, not single points. Fields are None when there
    were too few points for a line.
    """

    unit: str  # the report unit: "percent", "bytes", "ms"…
    points: int
    window_start: float
    window_end: float
    covered_s: float  # the points' time span plus one sampling step (at most the window)
    slope_per_h: float | None = None
    slope_low_per_h: float | None = None  # Sen's 95 % interval
    slope_high_per_h: float | None = None
    start_level: float | None = None  # fitted, at window_start
    end_level: float | None = None  # fitted, at window_end
    limit: float | None = None
    time_to_limit_s: float | None = None  # from window_end on the fitted line; None if not rising

    @property
    def relative_percent_per_h(self) -> float | None:
        """The slope in percent of the fitted starting level per hour (None at a level <= 0)."""
        if self.slope_per_h is None or self.start_level is None or self.start_level <= 0:
            return None
        return self.slope_per_h / self.start_level * 100.0

    @property
    def growth_per_h(self) -> float | None:
        """Percentage points per hour for a percent metric, else percent of the starting level per hour."""
        return self.slope_per_h if self.unit == "percent" else self.relative_percent_per_h

    @property
    def growth_interval_per_h(self) -> tuple[float, float] | None:
        """Sen's 95 % interval of ``growth_per_h``, in the same sense."""
        if self.slope_low_per_h is None or self.slope_high_per_h is None:
            return None
        if self.unit == "percent":
            return self.slope_low_per_h, self.slope_high_per_h
        if self.start_level is None or self.start_level <= 0:
            return None
        k = 100.0 / self.start_level
        return self.slope_low_per_h * k, self.slope_high_per_h * k


def trend(
    points: Sequence[tuple[float, float]],
    *,
    window_start: float,
    window_end: float,
    unit: str = "",
    limit: float | None = None,
) -> Trend:
    """The Theil-Sen trend of ``(epoch seconds, value)`` points inside ``[window_start, window_end]``.

    ``unit`` is the report unit ("percent" makes growth percentage points per hour); ``limit`` (in
    the same unit) gives the projected time to reach it from ``window_end``: 0 when the fitted line
    is already there, None when it is not rising.
    """
    inside = sorted((t, v) for t, v in points if window_start <= t <= window_end)
    length_s = max(0.0, window_end - window_start)
    base = Trend(unit, len(inside), window_start, window_end, _covered_s(inside, length_s), limit=limit)
    fit = theil_sen([((t - window_start) / HOUR_S, v) for t, v in inside])
    if fit is None:
        return base
    end_h = length_s / HOUR_S
    start_level = fit.intercept
    end_level = fit.intercept + fit.slope * end_h
    to_limit = None
    if limit is not None and fit.slope > 0:
        to_limit = max(0.0, (limit - end_level) / fit.slope * HOUR_S)
    elif limit is not None and end_level >= limit:
        to_limit = 0.0
    return Trend(
        unit,
        len(inside),
        window_start,
        window_end,
        base.covered_s,
        slope_per_h=fit.slope,
        slope_low_per_h=fit.slope_low,
        slope_high_per_h=fit.slope_high,
        start_level=start_level,
        end_level=end_level,
        limit=limit,
        time_to_limit_s=to_limit,
    )


def _covered_s(inside: Sequence[tuple[float, float]], length_s: float) -> float:
    if len(inside) < 2:
        return 0.0
    steps = [b[0] - a[0] for a, b in itertools.pairwise(inside)]
    return min(length_s, inside[-1][0] - inside[0][0] + statistics.median(steps))


def series_trend(
    series: Series, *, window_start: float, window_end: float, limit: float | None = None
) -> Trend:
    """``trend`` of a server series: each point stands at the middle of its period, and the unit is
    the report unit of ``series.unit`` ("Percent" -> "percent", "Bytes" -> "bytes"…)."""
    half = series.period_s / 2
    whole = window_points(series, window_start, window_end)  # a partial period mixes in ramp-up
    return trend(
        [(t + half, v) for t, v in whole],
        window_start=window_start,
        window_end=window_end,
        unit=report_unit(series.unit),
        limit=limit,
    )


def report_unit(series_unit: str) -> str:
    """The ``runner.units`` unit of a ``Series.unit``: "Percent" -> "percent", "Bytes" ->
    "bytes", "Seconds" -> "s", "Count" -> "count"; "" for any other."""
    return _UNITS.get(series_unit, "")


def client_p95_trend(
    timeline: Sequence[Interval],
    *,
    window_start: float,
    window_end: float,
    limit_ms: float | None = None,
    min_requests: int = MIN_REQUESTS,
) -> Trend:
    """``trend`` of the p95 of all requests, one point per timeline interval (at its middle).

    Intervals with fewer than ``min_requests`` requests are left out: below 20 requests the
    nearest-rank p95 of an interval is its maximum, an outlier rather than a level.
    """
    points = []
    for iv in timeline:
        if iv.total.count < min_requests:
            continue
        p95 = iv.total.quantile_ms(0.95)
        if p95 is not None:
            points.append(((iv.start + iv.end) / 2, p95))
    return trend(points, window_start=window_start, window_end=window_end, unit="ms", limit=limit_ms)


def leak_criterion(
    trend: Trend,
    *,
    warn_per_hour: float | None,
    fail_per_hour: float | None,
    metric_label: str,
    min_duration_s: float = 1800.0,
    min_points: int = 10,
    scope: str = "server",
    required: bool = False,
) -> Result:
    """Judge a trend's growth (``Trend.growth_per_h``, "%/h") against WARN / FAIL levels.

    FAIL above ``fail_per_hour``; WARN at or above ``warn_per_hour``; PASS below. A FAIL whose 95 %
    interval reaches down to zero growth (the climb is not told apart from noise) is a WARN that
    says so. INCONCLUSIVE when the points cover less than ``min_duration_s`` or are fewer than
    ``min_points``. ``metric_label`` names the metric in the reason ("ECS memory").
    """
    if warn_per_hour is None and fail_per_hour is None:
        raise ValueError("leak_criterion needs warn_per_hour, fail_per_hour or both")
    if warn_per_hour is not None and fail_per_hour is not None and warn_per_hour > fail_per_hour:
        raise ValueError(f"warn_per_hour ({warn_per_hour:g}) is above fail_per_hour ({fail_per_hour:g})")
    text = _criterion_text(warn_per_hour, fail_per_hour)
    limit = fail_per_hour if fail_per_hour is not None else warn_per_hour
    details = _details(trend, min_duration_s, min_points)

    def row(observed: float | None, status: Status, reason: str) -> Result:
        return Result(
            name=f"{metric_label} growth",
            criterion=text,
            observed=observed,
            limit=limit,
            status=status,
            reason=reason,
            unit="%/h",
            scope=scope,
            required=required,
            details=details,
        )

    growth = trend.growth_per_h
    if trend.points < min_points or trend.covered_s < min_duration_s or growth is None:
        return row(None, Status.INCONCLUSIVE, _too_little(trend, metric_label, min_duration_s, min_points))
    status = Status.PASS
    if fail_per_hour is not None and growth > fail_per_hour:
        status = Status.FAIL
    elif warn_per_hour is not None and growth >= warn_per_hour:
        status = Status.WARN
    reason = describe_trend(trend, metric_label)
    interval = trend.growth_interval_per_h
    if status is Status.FAIL and interval is not None and interval[0] <= 0:
        status = Status.WARN
        reason += (
            f"; above the leak limit {_rate(limit)} but its 95 % interval "
            f"({_rate(interval[0])} to {_rate(interval[1])}) includes no growth: WARN, not FAIL"
        )
    elif status is Status.FAIL:
        reason += f"; above the leak limit {_rate(fail_per_hour)}"
    elif status is Status.WARN:
        reason += f"; at or above the warning level {_rate(warn_per_hour)}"
    else:
        reason += f"; under {_rate(warn_per_hour if warn_per_hour is not None else fail_per_hour)}"
    return row(growth, status, reason)


def describe_trend(trend: Trend, metric_label: str) -> str:
    """One line: "ECS memory grows 4.1 %/h (percentage points, Theil-Sen over 58 min, 58 points);
    would reach 80 % in 2h10m". For a trend without a line: why not."""
    growth = trend.growth_per_h
    over = f"Theil-Sen over {format_duration(trend.covered_s)}, {trend.points} points"
    if growth is None:
        if trend.slope_per_h is not None:
            start = format_value(trend.start_level, trend.unit)
            return f"{metric_label} starts at {start}: no relative growth to judge"
        return f"{metric_label}: {trend.points} points in the window, too few for a trend"
    if trend.unit == "percent":
        sense = "percentage points"
    else:
        sense = f"of the starting {format_value(trend.start_level, trend.unit)}"
    if abs(growth) < 0.005:
        head = f"{metric_label} is flat ({_rate(growth)} {sense}, {over})"
    elif growth > 0:
        head = f"{metric_label} grows {_rate(growth)} ({sense}, {over})"
    else:
        head = f"{metric_label} shrinks {_rate(-growth)} ({sense}, {over})"
    if trend.limit is None or trend.time_to_limit_s is None:
        return head
    limit = format_value(trend.limit, trend.unit)
    if trend.time_to_limit_s == 0:
        return f"{head}; already at {limit}"
    return f"{head}; would reach {limit} in {format_duration(trend.time_to_limit_s)}"


def _rate(value: float | None) -> str:
    return format_value(value, "%/h")


def _criterion_text(warn: float | None, fail: float | None) -> str:
    if fail is None:
        return f"growth < {_rate(warn)} (WARN only)"
    if warn is None:
        return f"growth <= {_rate(fail)}"
    return f"growth <= {_rate(fail)} (WARN from {_rate(warn)})"


def _too_little(trend: Trend, label: str, min_duration_s: float, min_points: int) -> str:
    if trend.points >= min_points and trend.covered_s >= min_duration_s:
        return describe_trend(trend, label)  # enough data, but no growth to speak of (a level <= 0)
    have = f"{format_duration(trend.covered_s)} with {trend.points} points"
    need = f"{format_duration(min_duration_s)} of steady state and {min_points} points"
    return f"{label}: only {have} in the steady state; a trend needs at least {need} (run the soak longer)"


def _details(trend: Trend, min_duration_s: float, min_points: int) -> dict[str, object]:
    details: dict[str, object] = {
        "points": trend.points,
        "covered_s": round(trend.covered_s, 3),
        "min_duration_s": min_duration_s,
        "min_points": min_points,
        "growth_sense": "percentage points per hour"
        if trend.unit == "percent"
        else "percent of the starting level per hour",
    }
    for key in ("slope_per_h", "slope_low_per_h", "slope_high_per_h", "start_level", "end_level"):
        value = getattr(trend, key)
        if value is not None:
            details[key] = value
    if trend.limit is not None:
        details["limit"] = trend.limit
        details["time_to_limit_s"] = trend.time_to_limit_s
    interval = trend.growth_interval_per_h
    if interval is not None:
        details["growth_interval_per_h"] = list(interval)
    return details
