"""One client criterion judged into one row: the statistics a limit can name, how each is observed
on an endpoint's (or a group's, or all requests') statistics, and the row's wording.

Every statistic comes from the same per-endpoint statistics: percentiles from the histogram (within
0.5 %), ``avg`` from the exact sum of response times (the histogram's mean when expected statuses
are set apart), ``max`` the largest response time recorded (exact on the whole run; a cut window
bounds it by its histogram). Ratios are compared exactly, as fractions of integer counts against
the limit as the user wrote it (``runner.judge.client`` explains why).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from runner.judge.verdict import in_warn_band
from runner.model import EndpointStats, Result, Status
from runner.stats.histogram import bucket_value_ms
from runner.units import format_value


@dataclass(frozen=True, slots=True)
class Metric:
    key: str  # the config key
    label: str  # how a user says it
    unit: str
    upper: bool  # True: observed must stay at or below the limit


METRICS = (
    Metric("p50_ms", "p50", "ms", True),
    Metric("p90_ms", "p90", "ms", True),
    Metric("p95_ms", "p95", "ms", True),
    Metric("p99_ms", "p99", "ms", True),
    Metric("p999_ms", "p99.9", "ms", True),
    Metric("avg_ms", "avg", "ms", True),
    Metric("max_ms", "max", "ms", True),
    Metric("error_rate", "error rate", "ratio", True),
    Metric("success_rate", "success rate", "ratio", False),
    Metric("min_rps", "rps", "rps", False),
)
LIMIT_KEYS = tuple(m.key for m in METRICS)
QUANTILES = {"p50_ms": 0.50, "p90_ms": 0.90, "p95_ms": 0.95, "p99_ms": 0.99, "p999_ms": 0.999}
# Judged on the responses whose status was not declared expected (a fast 429 is a refusal, not a
# fast answer); rates on every request.
ON_KEPT = frozenset({*QUANTILES, "avg_ms", "max_ms", "min_rps"})
DEFAULT_MIN_SAMPLES = 20  # below this a p95 is the slowest request or two, not a percentile


def too_few(
    m: Metric,
    target: str,
    limit: float,
    stats: EndpointStats,
    kept: EndpointStats,
    min_samples: int | None,
) -> Result:
    """A percentile on too few requests: INCONCLUSIVE, required only if the user set min_samples."""
    needed = min_samples or DEFAULT_MIN_SAMPLES
    noun = "request" if kept.count == 1 else "requests"
    apart = stats.count - kept.count
    also = f"; {apart} with expected statuses left out" if apart else ""
    reason = f"{kept.count} {noun}: too few for a {m.label} (min_samples {needed}{also})"
    return Result(
        f"{target} {m.label}",
        criterion_text(m.label, m.upper, limit, m.unit),
        None,
        limit,
        Status.INCONCLUSIVE,
        reason,
        m.unit,
        required=min_samples is not None,
        details={**details_of(stats, kept), "min_samples": needed},
    )


def details_of(stats: EndpointStats, kept: EndpointStats) -> dict[str, object]:
    details: dict[str, object] = {"requests": stats.count, "failures": stats.failures}
    if stats.count != kept.count:
        details["expected"] = stats.count - kept.count  # set apart from latency and rps
    return details


def observe(key: str, stats: EndpointStats, duration_s: float) -> Fraction | None:
    """The observed value, exact: a fraction of integer counts (or of the float it was measured as)."""
    if stats.count == 0:
        return None
    if key in QUANTILES:
        value = stats.quantile_ms(QUANTILES[key])
        return None if value is None else Fraction(value)
    if key == "avg_ms":
        mean = stats.mean_ms
        if mean is None or not math.isfinite(mean):  # the sum is unknown once statuses are set apart
            counts = stats.histogram.counts
            total = sum(counts.values())
            mean = sum(bucket_value_ms(i) * n for i, n in counts.items()) / total if total else None
        return None if mean is None else Fraction(mean)
    if key == "max_ms":
        return None if stats.max_ms is None else Fraction(stats.max_ms)
    if key == "error_rate":
        return Fraction(stats.failures, stats.count)
    if key == "success_rate":
        return Fraction(stats.count - stats.failures, stats.count)
    if key == "min_rps":
        return Fraction(stats.count) / Fraction(duration_s) if duration_s > 0 else None
    raise ValueError(key)


def exact(value: float) -> Fraction:
    """A limit as the user wrote it: 0.93 is 93/100, not the binary float nearest to it."""
    return Fraction(repr(float(value)))


def criterion_text(label: str, upper: bool, limit: float, unit: str) -> str:
    op = "<=" if upper else ">="
    return f"{label} {op} {format_value(limit, unit)}"


def judge_metric(
    m: Metric,
    target: str,
    limit: float,
    observed_x: Fraction | None,
    stats: EndpointStats,
    kept: EndpointStats,
    warn_ratio: float,
    window: str,
) -> Result:
    name = f"{target} {m.label}"
    text = criterion_text(m.label, m.upper, limit, m.unit)
    details = details_of(stats, kept)
    if observed_x is None:
        why = f"no requests to {target} in the {window}" if stats.count == 0 else f"no {m.label} measurable"
        return Result(name, text, None, limit, Status.INCONCLUSIVE, why, m.unit, details=details)
    observed = float(observed_x)
    shown = format_value(observed, m.unit)
    lim = format_value(limit, m.unit)
    lim_x, warn_x = exact(limit), exact(warn_ratio)
    if m.upper:
        broken = observed_x > lim_x
        near = in_warn_band(observed_x, lim_x, warn_x)
    elif m.unit == "ratio":  # success rate: the warning band is on the error budget
        broken = observed_x < lim_x
        near = in_warn_band(1 - observed_x, 1 - lim_x, warn_x)
    else:  # throughput: warn when the limit is at or above warn_ratio of what was observed
        broken = observed_x < lim_x
        near = in_warn_band(lim_x, observed_x, warn_x)
    if broken:
        if m.upper and limit > 0:
            how = f"exceeds {lim} by {(observed / limit - 1) * 100:.0f}%"
        elif m.upper:
            how = f"exceeds {lim}"
        else:
            how = f"is below {lim}"
        status, reason = Status.FAIL, f"{m.label} {shown} {how} ({stats.count} requests in the {window})"
    elif near:
        status, reason = Status.WARN, f"{m.label} {shown} is close to the limit {lim}"
    elif m.upper:
        status, reason = Status.PASS, f"{m.label} {shown} is within {lim}"
    else:
        status, reason = Status.PASS, f"{m.label} {shown} is at or above {lim}"
    return Result(name, text, observed, limit, status, reason, m.unit, details=details)


def status_rows(target: str, stats: EndpointStats, codes: frozenset[int], window: str) -> list[Result]:
    """``require_statuses``: one row per status that must have answered at least once (a rate
    limiter's 429 proven, not assumed). No requests at all is INCONCLUSIVE, never a pass."""
    rows = []
    for code in sorted(codes):
        seen = stats.statuses.get(code, 0)
        name, text = f"{target} status {code}", f"status {code} occurs"
        details = {"requests": stats.count, "responses": seen}
        if stats.count == 0:
            status, reason = Status.INCONCLUSIVE, f"no requests to {target} in the {window}"
        elif seen:
            status, reason = Status.PASS, f"{seen} of {stats.count} responses had status {code}"
        else:
            status, reason = (
                Status.FAIL,
                f"no response had status {code} ({stats.count} requests in the {window})",
            )
        observed = float(seen) if stats.count else None
        rows.append(Result(name, text, observed, 1.0, status, reason, "count", details=details))
    return rows


@dataclass(frozen=True, slots=True)
class CountCriterion:
    """A server-side count limit (alarms entering ALARM, matching log events): one home for its rows,
    so every source of such a count says its limit, scope and "required" alike. Without a limit the
    only row is a failed read, which informs and does not gate the run."""

    name: str
    criterion: str
    limit: int | None
    unit: str

    def row(self, status: Status, reason: str, observed: float | None = None) -> Result:
        return Result(
            name=self.name,
            criterion=self.criterion,
            observed=observed,
            limit=None if self.limit is None else float(self.limit),
            status=status,
            reason=reason,
            unit=self.unit,
            scope="server",
            required=self.limit is not None,
        )
