"""The first client limit that broke, and what the server was doing then.

``first_breach`` walks the client timeline in time order and answers with one sentence a reader can
act on: "p95 of POST /api/v1/jobs crossed 500 ms at 14:03:10 UTC (612 ms over 48 requests) while ECS
CPU was 83 % and ECS memory 61 %". Pure functions on the model types; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from runner.judge.client import ThresholdSet, by_endpoint
from runner.judge.correlate import SeriesRef
from runner.judge.soak import MIN_REQUESTS
from runner.model import TOTAL_NAME, EndpointKey, Interval
from runner.readings import Series
from runner.timefmt import clock_utc
from runner.units import format_value


@dataclass(frozen=True, slots=True)
class BreachLimits:
    """The client limits ``first_breach`` checks each interval against; None switches one off.

    Endpoint keys are "METHOD name" as Locust reports it (a bare name applies to that name under
    every method); ``every_endpoint_*`` applies to endpoints without their own limit.
    """

    p95_ms: float | None = None  # all requests together
    error_rate: float | None = None  # all requests together, a ratio (0.01 = 1 %)
    endpoint_p95_ms: Mapping[str, float] = field(default_factory=dict)
    endpoint_error_rate: Mapping[str, float] = field(default_factory=dict)
    every_endpoint_p95_ms: float | None = None
    every_endpoint_error_rate: float | None = None

    @staticmethod
    def from_thresholds(thresholds: ThresholdSet) -> BreachLimits:
        """The p95 and error-rate limits of ``[thresholds]``, as ``runner.judge.client`` applies them
        (a ``success_rate`` limit counts as the error rate 1 - it; the stricter of the two wins)."""
        per = thresholds.per_endpoint
        p95: dict[str, float] = {}
        err: dict[str, float] = {}
        for key, limits in thresholds.endpoints.items():
            if limits.p95_ms is not None:
                p95[key] = limits.p95_ms
            own_err = _error_limit(limits.error_rate, limits.success_rate)
            if own_err is not None:
                err[key] = own_err
        default_err = _error_limit(thresholds.default.error_rate, thresholds.default.success_rate)
        return BreachLimits(
            p95_ms=thresholds.default.p95_ms,
            error_rate=default_err,
            endpoint_p95_ms=p95,
            endpoint_error_rate=err,
            every_endpoint_p95_ms=thresholds.default.p95_ms if per else None,
            every_endpoint_error_rate=default_err if per else None,
        )


def _error_limit(error_rate: float | None, success_rate: float | None) -> float | None:
    found = [x for x in (error_rate, None if success_rate is None else 1.0 - success_rate) if x is not None]
    return min(found) if found else None


@dataclass(frozen=True, slots=True)
class Finding:
    """The first client criterion that broke, when, by how much, and the server's state then."""

    start: float  # the interval in which it broke
    end: float  # "at": when that interval's figure was known, as a dashboard plots it
    target: str  # "all requests" or "METHOD name"
    metric: str  # "p95" or "error rate"
    observed: float
    limit: float
    unit: str  # "ms" or "ratio"
    requests: int  # to the target, in that interval
    server: Mapping[SeriesRef, float]
    sentence: str
    also: tuple[str, ...] = ()  # other limits broken in the same interval, e.g. "error rate of all requests"


def first_breach(
    timeline: Sequence[Interval],
    server: Sequence[Series],
    limits: BreachLimits,
    *,
    window_start: float | None = None,
    window_end: float | None = None,
    min_requests: int = MIN_REQUESTS,
) -> Finding | None:
    """The first interval, in time order, where a client limit broke, as a ``Finding`` with the
    value of each ``server`` series at the interval's middle (the point whose period holds it).

    A target with fewer than ``min_requests`` requests in an interval is not judged there: below 20
    requests an interval's p95 is its slowest request, and one failure is a 5 % error rate. Endpoint
    p95s come from ``Interval.endpoint_p95_ms``, exact per interval and still exact when a long
    run's timeline merged neighbours (their histograms add). When several limits break in the same
    interval, the one exceeded by the largest ratio is the finding and the rest are in ``also``.
    None when nothing broke.

    With ``window_start``/``window_end`` (the judged window) only the intervals lying wholly inside
    it are walked, and only server points whose period lies wholly inside it describe the state:
    ramp-up and an excluded warm-up are not judged, so a breach there is no finding.
    """
    lo = -math.inf if window_start is None else window_start
    hi = math.inf if window_end is None else window_end
    for iv in sorted(timeline, key=lambda i: i.start):
        if iv.start < lo - _SLACK_S or iv.end > hi + _SLACK_S:
            continue
        broken = _broken(iv, limits, min_requests)
        if not broken:
            continue
        broken.sort(key=lambda b: (-_excess(b), b[0], b[1]))
        target, metric, observed, limit, unit, n = broken[0]
        state = _state_at((iv.start + iv.end) / 2, server, lo, hi)
        sentence = (
            f"{metric} of {target} crossed {format_value(limit, unit)} at {clock_utc(iv.end)} "
            f"({format_value(observed, unit)} over {n} requests) while {_describe_state(state)}"
        )
        return Finding(
            start=iv.start,
            end=iv.end,
            target=target,
            metric=metric,
            observed=observed,
            limit=limit,
            unit=unit,
            requests=n,
            server=state,
            sentence=sentence,
            also=tuple(f"{b[1]} of {b[0]}" for b in broken[1:]),
        )
    return None


_SLACK_S = 1e-6  # float slack on window bounds
_Broken = tuple[str, str, float, float, str, int]  # target, metric, observed, limit, unit, requests


def _excess(b: _Broken) -> float:
    return b[2] / b[3] if b[3] > 0 else math.inf


def _broken(iv: Interval, limits: BreachLimits, min_requests: int) -> list[_Broken]:
    out: list[_Broken] = []
    total = iv.total
    if total.count >= min_requests:
        p95 = total.quantile_ms(0.95)
        if limits.p95_ms is not None and p95 is not None and p95 > limits.p95_ms:
            out.append((TOTAL_NAME, "p95", p95, limits.p95_ms, "ms", total.count))
        rate = total.failures / total.count
        if limits.error_rate is not None and rate > limits.error_rate:
            out.append((TOTAL_NAME, "error rate", rate, limits.error_rate, "ratio", total.count))
    p95_limits = by_endpoint(limits.endpoint_p95_ms)
    err_limits = by_endpoint(limits.endpoint_error_rate)
    for key in sorted(iv.endpoint_counts):
        count, failures = iv.endpoint_counts[key]
        if count < min_requests:
            continue
        p95_limit = _limit_for(key, p95_limits, limits.every_endpoint_p95_ms)
        p95 = iv.endpoint_p95_ms.get(key)
        if p95_limit is not None and p95 is not None and p95 > p95_limit:
            out.append((str(key), "p95", p95, p95_limit, "ms", count))
        err_limit = _limit_for(key, err_limits, limits.every_endpoint_error_rate)
        if err_limit is not None and failures / count > err_limit:
            out.append((str(key), "error rate", failures / count, err_limit, "ratio", count))
    return out


def _limit_for(key: EndpointKey, own: Mapping[EndpointKey, float], every: float | None) -> float | None:
    if key in own:
        return own[key]
    bare = EndpointKey("", key.name)
    return own.get(bare, every)


def _state_at(t: float, server: Sequence[Series], lo: float, hi: float) -> dict[SeriesRef, float]:
    state = {}
    for s in server:
        for start, value in s.points:
            whole = start >= lo - _SLACK_S and start + s.period_s <= hi + _SLACK_S
            if whole and start <= t < start + s.period_s:
                state[SeriesRef.of(s)] = value
                break
    return state


def _describe_state(state: Mapping[SeriesRef, float]) -> str:
    if not state:
        return "no server metric covered that moment"
    labels = [ref.label for ref in state]
    parts = []
    for i, (ref, value) in enumerate(state.items()):
        label = ref.label if labels.count(ref.label) == 1 else f"{ref.label} of {ref.resource}"
        verb = " was" if i == 0 else ""
        parts.append(f"{label}{verb} {format_value(value, ref.report_unit)}")
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
