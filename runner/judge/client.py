"""Client criteria: latency percentiles, error and success rates, throughput, judged on a Snapshot.

Each criterion keeps the user's own words (``p95 <= 500 ms``), the observed value, the limit, a
status and a reason. No samples is INCONCLUSIVE, never a silent pass.

Grammar (see docs/criteria.md): ``[thresholds]`` keys are judged on all requests together and,
with ``per_endpoint = true`` (the default), on every endpoint seen; ``[thresholds.endpoints."GET
/x"]`` overrides them for one endpoint (and makes it required even if it was never requested).
``min_rps`` in ``[thresholds]`` is for the whole run only.

Ratios (error and success rates, throughput) are compared exactly, as fractions of integer counts
against the limit as the user wrote it: a float ``1 - 7/100`` is 0.9299999999999999 and would fail
``success_rate >= 0.93`` while ``error_rate <= 0.07`` on the same counts warns. A percentile on fewer
than ``min_samples`` requests (default 20) is INCONCLUSIVE: below that, a p95 is one slow request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol, TypeVar

from runner.judge.verdict import in_warn_band
from runner.model import TOTAL_NAME, EndpointKey, EndpointStats, Result, Snapshot, Status
from runner.units import format_value


class Limits(Protocol):
    """What a threshold table provides (runner.config.load.Limits satisfies it)."""

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
    @property
    def min_samples(self) -> int | None: ...


class ThresholdSet(Protocol):
    """[thresholds] as runner.config.load.Thresholds provides it."""

    @property
    def default(self) -> Limits: ...
    @property
    def endpoints(self) -> Mapping[str, Limits]: ...
    @property
    def per_endpoint(self) -> bool: ...
    @property
    def warn_ratio(self) -> float: ...
    @property
    def include_expected(self) -> bool: ...


DEFAULT_ERROR_RATE = 0.01  # the criterion a run is judged by when loadlens.toml sets none
DEFAULT_NOTE = (
    "default criteria: error rate <= 1 % on all requests (and server CPU < 70 %, memory < 80 % with "
    "a server source); set your own in [thresholds] of loadlens.toml "
    "(`loadlens init --from RUN_DIR` proposes them from a run)"
)
_LIMIT_KEYS = ("p50_ms", "p95_ms", "p99_ms", "error_rate", "success_rate", "min_rps")


@dataclass(frozen=True, slots=True)
class _DefaultLimits:
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    error_rate: float | None = DEFAULT_ERROR_RATE
    success_rate: float | None = None
    min_rps: float | None = None
    min_samples: int | None = None


@dataclass(frozen=True, slots=True)
class _DefaultThresholds:
    """The default criteria, keeping the user's own WARN band and expected-status rule."""

    warn_ratio: float
    include_expected: bool
    default: Limits = _DefaultLimits()
    endpoints: Mapping[str, Limits] = field(default_factory=dict)
    per_endpoint: bool = False


def with_defaults(thresholds: ThresholdSet) -> tuple[ThresholdSet, str | None]:
    """``thresholds``, or the default criteria (error rate <= 1 % on all requests) and the note that
    says so when no client limit is set anywhere: a run with an existing locustfile and no
    configuration is judged, not INCONCLUSIVE for want of criteria."""
    given = any(getattr(thresholds.default, key) is not None for key in _LIMIT_KEYS)
    if given or thresholds.endpoints:
        return thresholds, None
    defaults = _DefaultThresholds(
        warn_ratio=thresholds.warn_ratio, include_expected=thresholds.include_expected
    )
    return defaults, DEFAULT_NOTE


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
_V = TypeVar("_V")
DEFAULT_MIN_SAMPLES = 20  # below this a p95 is the slowest request or two, not a percentile


def parse_endpoint(text: str) -> EndpointKey:
    """``"GET /health"`` -> EndpointKey("GET", "/health"); a bare name has an empty method."""
    method, sep, name = text.partition(" ")
    if sep and method.isupper():
        return EndpointKey(method, name)
    return EndpointKey("", text)


def by_endpoint(table: Mapping[str, _V]) -> dict[EndpointKey, _V]:
    """An ``[thresholds.endpoints]``-style table keyed by endpoint: where client criteria and the
    first-breach analysis both look an endpoint's own limits up."""
    return {parse_endpoint(k): v for k, v in table.items()}


def judge_client(
    snapshot: Snapshot, thresholds: ThresholdSet, *, window: str = "judged window"
) -> list[Result]:
    """Every client criterion the thresholds define, judged on ``snapshot``."""
    results: list[Result] = []
    duration_s = snapshot.duration_s
    apart = frozenset() if thresholds.include_expected else snapshot.expected_statuses
    results += _judge_target(
        TOTAL_NAME,
        snapshot.total(),
        thresholds.default,
        duration_s,
        thresholds,
        window,
        apart=apart,
        min_samples=thresholds.default.min_samples,
    )

    overrides = by_endpoint(thresholds.endpoints)
    keys = set(overrides)
    if thresholds.per_endpoint:
        keys |= set(snapshot.endpoints)
    for key in sorted(keys):
        own = overrides.get(key)
        limits = _merge(thresholds.default, own) if thresholds.per_endpoint else own
        if limits is None:
            continue
        stats = _lookup(snapshot, key)
        # min_samples is a rule about percentiles, not a limit: the global one applies to every
        # endpoint row (per_endpoint or not) unless the endpoint's table sets its own.
        own_min = own.min_samples if own is not None else None
        results += _judge_target(
            str(key),
            stats,
            limits,
            duration_s,
            thresholds,
            window,
            apart=apart,
            min_samples=own_min if own_min is not None else thresholds.default.min_samples,
            endpoint=True,
            own=own,
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
    min_samples: int | None  # not read from here: judge_client resolves it for every row


def _merge(default: Limits, own: Limits | None) -> Limits:
    def pick(key: str) -> float | None:
        mine: float | None = getattr(own, key) if own is not None else None
        if mine is not None:
            return mine
        if key == "min_rps":
            return None  # the global min_rps is for the whole run, not each endpoint
        inherited: float | None = getattr(default, key)
        return inherited

    min_samples = own.min_samples if own is not None and own.min_samples is not None else default.min_samples
    return _Merged(
        p50_ms=pick("p50_ms"),
        p95_ms=pick("p95_ms"),
        p99_ms=pick("p99_ms"),
        error_rate=pick("error_rate"),
        success_rate=pick("success_rate"),
        min_rps=pick("min_rps"),
        min_samples=min_samples,
    )


def _judge_target(
    target: str,
    stats: EndpointStats,
    limits: Limits,
    duration_s: float,
    thresholds: ThresholdSet,
    window: str,
    *,
    apart: frozenset[int],
    min_samples: int | None,
    endpoint: bool = False,
    own: Limits | None = None,
) -> list[Result]:
    # Latency percentiles and rps are judged on the responses whose status was not declared
    # expected (a fast 429 is a refusal, not a fast answer); rates on every request.
    kept = stats.excluding(apart)
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
        judged = kept if m.key in _QUANTILES or m.key == "min_rps" else stats
        if m.key in _QUANTILES and stats.count > 0 and kept.count < (min_samples or DEFAULT_MIN_SAMPLES):
            out.append(_too_few(m, target, float(limit), stats, kept, min_samples))
            continue
        observed = _observe(m.key, judged, duration_s)
        out.append(_judge(m, target, float(limit), observed, stats, kept, thresholds.warn_ratio, window))
    return out


def _too_few(
    m: _Metric,
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
        details={**_details(stats, kept), "min_samples": needed},
    )


def _details(stats: EndpointStats, kept: EndpointStats) -> dict[str, object]:
    details: dict[str, object] = {"requests": stats.count, "failures": stats.failures}
    if stats.count != kept.count:
        details["expected"] = stats.count - kept.count  # set apart from latency and rps
    return details


def _observe(key: str, stats: EndpointStats, duration_s: float) -> Fraction | None:
    """The observed value, exact: a fraction of integer counts (or of the float it was measured as)."""
    if stats.count == 0:
        return None
    if key in _QUANTILES:
        value = stats.quantile_ms(_QUANTILES[key])
        return None if value is None else Fraction(value)
    if key == "error_rate":
        return Fraction(stats.failures, stats.count)
    if key == "success_rate":
        return Fraction(stats.count - stats.failures, stats.count)
    if key == "min_rps":
        return Fraction(stats.count) / Fraction(duration_s) if duration_s > 0 else None
    raise ValueError(key)


def _exact(value: float) -> Fraction:
    """A limit as the user wrote it: 0.93 is 93/100, not the binary float nearest to it."""
    return Fraction(repr(float(value)))


def criterion_text(label: str, upper: bool, limit: float, unit: str) -> str:
    op = "<=" if upper else ">="
    return f"{label} {op} {format_value(limit, unit)}"


def _judge(
    m: _Metric,
    target: str,
    limit: float,
    exact: Fraction | None,
    stats: EndpointStats,
    kept: EndpointStats,
    warn_ratio: float,
    window: str,
) -> Result:
    name = f"{target} {m.label}"
    text = criterion_text(m.label, m.upper, limit, m.unit)
    details = _details(stats, kept)
    if exact is None:
        why = f"no requests to {target} in the {window}" if stats.count == 0 else f"no {m.label} measurable"
        return Result(name, text, None, limit, Status.INCONCLUSIVE, why, m.unit, details=details)
    observed = float(exact)
    shown = format_value(observed, m.unit)
    lim = format_value(limit, m.unit)
    lim_x, warn_x = _exact(limit), _exact(warn_ratio)
    if m.upper:
        broken = exact > lim_x
        near = in_warn_band(exact, lim_x, warn_x)
    elif m.unit == "ratio":  # success rate: the warning band is on the error budget
        broken = exact < lim_x
        near = in_warn_band(1 - exact, 1 - lim_x, warn_x)
    else:  # throughput: warn when the limit is at or above warn_ratio of what was observed
        broken = exact < lim_x
        near = in_warn_band(lim_x, exact, warn_x)
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


EXPECTED_NOTE_PREFIX = "expected statuses: "


def expected_note(snapshot: Snapshot, thresholds: ThresholdSet) -> str | None:
    """The verdict's note on responses with expected statuses in the judged window: how many, by
    status, and whether latency percentiles and rps left them out. None when there were none."""
    counts: dict[int, int] = {}
    for stats in snapshot.endpoints.values():
        for code, n in stats.statuses.items():
            if code in snapshot.expected_statuses:
                counts[code] = counts.get(code, 0) + n
    total = sum(counts.values())
    if not total:
        return None
    by_code = ", ".join(f"{code}: {counts[code]}" for code in sorted(counts))
    what = f"{total} {'response' if total == 1 else 'responses'} with expected statuses ({by_code})"
    if thresholds.include_expected:
        return f"{EXPECTED_NOTE_PREFIX}{what} count in latency percentiles and rps (include_expected)"
    kept_2xx = sorted(code for code in counts if 200 <= code < 300)
    also = f"; 2xx responses ({', '.join(map(str, kept_2xx))}) always count" if kept_2xx else ""
    return (
        f"{EXPECTED_NOTE_PREFIX}{what} were left out of latency percentiles and rps{also} "
        "([thresholds] include_expected = true or --include-expected keeps them)"
    )
