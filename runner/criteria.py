"""Client criteria: latency percentiles, error and success rates, throughput, judged on a Snapshot.

Each criterion keeps the user's own words (``p95 <= 500 ms``), the observed value, the limit, a
status and a reason. No samples is INCONCLUSIVE, never a silent pass.

Grammar (see docs/criteria.md): ``[thresholds]`` keys are judged on all requests together and,
with ``per_endpoint = true`` (the default), on every endpoint seen; ``[thresholds.endpoints."GET
/x"]`` overrides them for one endpoint (and makes it required even if it was never requested).
``min_rps`` in ``[thresholds]`` is for the whole run only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from runner.model import TOTAL_NAME, EndpointKey, EndpointStats, Result, Snapshot, Status
from runner.reports.units import format_value


class Limits(Protocol):
    """What a threshold table provides (runner.config.Limits satisfies it)."""

    @property
    def p50_ms(self) -> float | None: ...
    @property
    def p95_ms(self) -> float | None: ...
    @property
    def p99_ms(self) -> float | None: ...
    @property
    def error_rate(self) -> float | None: ...
    @property
    def success_rate(self) -> float | None: ...
    @property
    def min_rps(self) -> float | None: ...


class ThresholdSet(Protocol):
    """[thresholds] as runner.config.Thresholds provides it."""

    @property
    def default(self) -> Limits: ...
    @property
    def endpoints(self) -> Mapping[str, Limits]: ...
    @property
    def per_endpoint(self) -> bool: ...
    @property
    def warn_ratio(self) -> float: ...


@dataclass(frozen=True, slots=True)
class _Metric:
    key: str  # the config key
    label: str  # how a user says it
    unit: str
    upper: bool  # True: observed must stay at or below the limit


_METRICS = (
    _Metric("p50_ms", "p50", "ms", True),
    _Metric("p95_ms", "p95", "ms", True),
    _Metric("p99_ms", "p99", "ms", True),
    _Metric("error_rate", "error rate", "ratio", True),
    _Metric("success_rate", "success rate", "ratio", False),
    _Metric("min_rps", "rps", "rps", False),
)
_QUANTILES = {"p50_ms": 0.50, "p95_ms": 0.95, "p99_ms": 0.99}


def parse_endpoint(text: str) -> EndpointKey:
    """``"GET /health"`` -> EndpointKey("GET", "/health"); a bare name has an empty method."""
    method, sep, name = text.partition(" ")
    if sep and method.isupper():
        return EndpointKey(method, name)
    return EndpointKey("", text)


def judge_client(
    snapshot: Snapshot, thresholds: ThresholdSet, *, window: str = "judged window"
) -> list[Result]:
    """Every client criterion the thresholds define, judged on ``snapshot``."""
    results: list[Result] = []
    duration_s = snapshot.duration_s
    results += _judge_target(TOTAL_NAME, snapshot.total(), thresholds.default, duration_s, thresholds, window)

    overrides = {parse_endpoint(k): v for k, v in thresholds.endpoints.items()}
    keys = set(overrides)
    if thresholds.per_endpoint:
        keys |= set(snapshot.endpoints)
    for key in sorted(keys):
        own = overrides.get(key)
        limits = _merge(thresholds.default, own) if thresholds.per_endpoint else own
        if limits is None:
            continue
        stats = _lookup(snapshot, key)
        results += _judge_target(
            str(key), stats, limits, duration_s, thresholds, window, endpoint=True, own=own
        )
    return results


def _lookup(snapshot: Snapshot, key: EndpointKey) -> EndpointStats:
    if key.method:
        return snapshot.endpoints.get(key, EndpointStats())
    # A bare name matches that name under every method.
    out = EndpointStats()
    for k, v in snapshot.endpoints.items():
        if k.name == key.name:
            out = out.merge(v)
    return out


@dataclass(frozen=True, slots=True)
class _Merged:
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float | None
    success_rate: float | None
    min_rps: float | None


def _merge(default: Limits, own: Limits | None) -> Limits:
    def pick(key: str) -> float | None:
        if own is not None and getattr(own, key) is not None:
            return getattr(own, key)
        if key == "min_rps":
            return None  # the global min_rps is for the whole run, not each endpoint
        return getattr(default, key)

    return _Merged(*(pick(m.key) for m in _METRICS))


def _judge_target(
    target: str,
    stats: EndpointStats,
    limits: Limits,
    duration_s: float,
    thresholds: ThresholdSet,
    window: str,
    *,
    endpoint: bool = False,
    own: Limits | None = None,
) -> list[Result]:
    out = []
    for m in _METRICS:
        limit = getattr(limits, m.key)
        if limit is None:
            continue
        # A per-endpoint criterion the user named explicitly is required even without traffic;
        # one inherited from the global table is only judged for endpoints that saw requests.
        explicit = (not endpoint) or (own is not None and getattr(own, m.key) is not None)
        if endpoint and not explicit and stats.count == 0:
            continue
        observed = _observe(m.key, stats, duration_s)
        out.append(_judge(m, target, float(limit), observed, stats, thresholds.warn_ratio, window))
    return out


def _observe(key: str, stats: EndpointStats, duration_s: float) -> float | None:
    if stats.count == 0:
        return None
    if key in _QUANTILES:
        return stats.quantile_ms(_QUANTILES[key])
    if key == "error_rate":
        return stats.failures / stats.count
    if key == "success_rate":
        return 1.0 - stats.failures / stats.count
    if key == "min_rps":
        return stats.count / duration_s if duration_s > 0 else None
    raise ValueError(key)


def criterion_text(label: str, upper: bool, limit: float, unit: str) -> str:
    op = "<=" if upper else ">="
    return f"{label} {op} {format_value(limit, unit)}"


def _judge(
    m: _Metric,
    target: str,
    limit: float,
    observed: float | None,
    stats: EndpointStats,
    warn_ratio: float,
    window: str,
) -> Result:
    name = f"{target} {m.label}"
    text = criterion_text(m.label, m.upper, limit, m.unit)
    details = {"requests": stats.count, "failures": stats.failures}
    if observed is None:
        why = f"no requests to {target} in the {window}" if stats.count == 0 else f"no {m.label} measurable"
        return Result(name, text, None, limit, Status.INCONCLUSIVE, why, m.unit, details=details)
    shown = format_value(observed, m.unit)
    lim = format_value(limit, m.unit)
    if m.upper:
        broken = observed > limit
        # WARN when at or above warn_ratio of the limit (a zero limit has no warning band).
        near = limit > 0 and observed >= warn_ratio * limit
    elif m.unit == "ratio":  # success rate: the warning band is on the error budget
        broken = observed < limit
        budget = 1.0 - limit
        near = budget > 0 and (1.0 - observed) >= warn_ratio * budget
    else:  # throughput: warn when the limit is at or above warn_ratio of what was observed
        broken = observed < limit
        near = limit > 0 and limit >= warn_ratio * observed
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
