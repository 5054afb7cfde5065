"""Client criteria: latency statistics, error and success rates, throughput and required statuses,
judged on a Snapshot (each row worded by runner.judge.rows).

Each criterion keeps the user's own words (``p95 <= 500 ms``), the observed value, the limit, a
status and a reason. No samples is INCONCLUSIVE, never a silent pass.

Grammar (see docs/criteria.md): ``[thresholds]`` keys are judged on all requests together and,
with ``per_endpoint = true`` (the default), on every endpoint seen; ``[thresholds.endpoints."GET
/x"]`` overrides them for one endpoint (and makes it required even if it was never requested).
``[thresholds.groups.NAME]`` is judged once on the merged statistics of the endpoints its ``match``
regex finds in "METHOD name" (``per_endpoint = false`` there: those endpoints get no row of their
own); a group with ``tags`` or ``user_classes`` on the statistics the run recorded for it live
(``Snapshot.groups``, runner.stats.groups), or INCONCLUSIVE when it was not recorded. ``min_rps``
and ``require_statuses`` in ``[thresholds]`` are for the whole run only. A table with ``abort_after``
marks its rows (``details["abort_after_s"]``) for runner.judge.sustained.

Ratios (error and success rates, throughput) are compared exactly, as fractions of integer counts
against the limit as the user wrote it: a float ``1 - 7/100`` is 0.9299999999999999 and would fail
``success_rate >= 0.93`` while ``error_rate <= 0.07`` on the same counts warns. A percentile on fewer
than ``min_samples`` requests (default 20) is INCONCLUSIVE: below that, a p95 is one slow request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

from runner.judge import rows
from runner.model import TOTAL_NAME, EndpointKey, EndpointStats, GroupKey, Result, Snapshot, Status
from runner.stats.groups import recorded_key


class Limits(Protocol):
    """What a threshold table provides (runner.config.load.Limits satisfies it)."""

    @property
    def p50_ms(self) -> float | None: ...
    @property
    def p90_ms(self) -> float | None: ...
    @property
    def p95_ms(self) -> float | None: ...
    @property
    def p99_ms(self) -> float | None: ...
    @property
    def p999_ms(self) -> float | None: ...
    @property
    def avg_ms(self) -> float | None: ...
    @property
    def max_ms(self) -> float | None: ...
    @property
    def error_rate(self) -> float | None: ...
    @property
    def success_rate(self) -> float | None: ...
    @property
    def min_rps(self) -> float | None: ...
    @property
    def min_samples(self) -> int | None: ...
    @property
    def require_statuses(self) -> frozenset[int] | None: ...
    @property
    def abort_after_s(self) -> float | None: ...


class GroupLimits(Limits, Protocol):
    """A [thresholds.groups.NAME] table (runner.config.types.GroupLimits satisfies it)."""

    @property
    def match(self) -> str | None: ...
    @property
    def per_endpoint(self) -> bool: ...
    @property
    def tags(self) -> tuple[str, ...] | None: ...
    @property
    def user_classes(self) -> tuple[str, ...] | None: ...


class ThresholdSet(Protocol):
    """[thresholds] as runner.config.load.Thresholds provides it."""

    @property
    def default(self) -> Limits: ...
    @property
    def endpoints(self) -> Mapping[str, Limits]: ...
    @property
    def groups(self) -> Mapping[str, GroupLimits]: ...
    @property
    def per_endpoint(self) -> bool: ...
    @property
    def warn_ratio(self) -> float: ...
    @property
    def include_expected(self) -> bool: ...


DEFAULT_ERROR_RATE = 0.01  # the criterion a run is judged by when loadlens.toml sets none
DEFAULT_NOTE = (
    "default criteria: error rate <= 1 % on all requests (and server CPU <= 70 %, memory <= 80 % with "
    "a server source); set your own in [thresholds] of loadlens.toml "
    "(`loadlens init --from RUN_DIR` proposes them from a run)"
)
DEFAULT_MIN_SAMPLES = rows.DEFAULT_MIN_SAMPLES
criterion_text = rows.criterion_text


@dataclass(frozen=True, slots=True)
class _Limits:
    """A table as judged: the defaults' own (error rate <= 1 %), or an endpoint's merged one."""

    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    p999_ms: float | None = None
    avg_ms: float | None = None
    max_ms: float | None = None
    error_rate: float | None = None
    success_rate: float | None = None
    min_rps: float | None = None
    min_samples: int | None = None  # not read from a merged table: judge_client resolves it per row
    require_statuses: frozenset[int] | None = None
    abort_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class _DefaultThresholds:
    """The default criteria, keeping the user's own WARN band and expected-status rule."""

    warn_ratio: float
    include_expected: bool
    default: Limits = _Limits(error_rate=DEFAULT_ERROR_RATE)
    endpoints: Mapping[str, Limits] = field(default_factory=dict)
    groups: Mapping[str, GroupLimits] = field(default_factory=dict)
    per_endpoint: bool = False


def with_defaults(thresholds: ThresholdSet) -> tuple[ThresholdSet, str | None]:
    """``thresholds``, or the default criteria (error rate <= 1 % on all requests) and the note that
    says so when no client limit is set anywhere: a run with an existing locustfile and no
    configuration is judged, not INCONCLUSIVE for want of criteria."""
    given = any(getattr(thresholds.default, key) is not None for key in rows.LIMIT_KEYS)
    given = given or bool(thresholds.default.require_statuses)
    if given or limit_tables(thresholds.endpoints) or thresholds.groups:
        return thresholds, None
    defaults = _DefaultThresholds(
        warn_ratio=thresholds.warn_ratio, include_expected=thresholds.include_expected
    )
    return defaults, DEFAULT_NOTE


_V = TypeVar("_V")


def parse_endpoint(text: str) -> EndpointKey:
    """``"GET /health"`` -> EndpointKey("GET", "/health"); a bare name has an empty method."""
    method, sep, name = text.partition(" ")
    if sep and method.isupper():
        return EndpointKey(method, name)
    return EndpointKey("", text)


def limit_tables(endpoints: Mapping[str, Limits]) -> dict[str, Limits]:
    """The endpoint tables that set a limit: one holding only the endpoint's tolerances against a
    baseline (``p95_vs_baseline_percent``..., runner.compare) names no criterion of its own."""
    names = _Limits.__dataclass_fields__
    return {k: t for k, t in endpoints.items() if any(getattr(t, f) is not None for f in names)}


def by_endpoint(table: Mapping[str, _V]) -> dict[EndpointKey, _V]:
    """An ``[thresholds.endpoints]``-style table keyed by endpoint: where client criteria and the
    first-breach analysis both look an endpoint's own limits up."""
    return {parse_endpoint(k): v for k, v in table.items()}


def judge_client(
    snapshot: Snapshot, thresholds: ThresholdSet, *, window: str = "judged window"
) -> list[Result]:
    """Every client criterion the thresholds define, judged on ``snapshot``: all requests, then
    each endpoint, then each group (on the merged statistics of the endpoints it matches)."""
    results: list[Result] = []
    duration_s = snapshot.duration_s
    apart = frozenset() if thresholds.include_expected else snapshot.expected_statuses
    judge = _Judge(duration_s, thresholds.warn_ratio, window, apart)
    results += judge.target(
        TOTAL_NAME, snapshot.total(), thresholds.default, min_samples=thresholds.default.min_samples
    )

    groups = {name: re.compile(g.match or "(?!)") for name, g in thresholds.groups.items()}
    overrides = by_endpoint(limit_tables(thresholds.endpoints))
    keys = set(overrides)
    if thresholds.per_endpoint:
        # An endpoint a group with per_endpoint = false takes is judged only inside that group.
        hidden = {n for n, g in thresholds.groups.items() if not g.per_endpoint}
        keys |= {k for k in snapshot.endpoints if not any(groups[n].search(str(k)) for n in hidden)}
    for key in sorted(keys):
        own = overrides.get(key)
        limits = _merge(thresholds.default, own) if thresholds.per_endpoint else own
        if limits is None:
            continue
        stats = _lookup(snapshot, key)
        # min_samples is a rule about percentiles, not a limit: the global one applies to every
        # endpoint row (per_endpoint or not) unless the endpoint's table sets its own.
        own_min = own.min_samples if own is not None else None
        results += judge.target(
            str(key),
            stats,
            limits,
            min_samples=own_min if own_min is not None else thresholds.default.min_samples,
            endpoint=True,
            own=own,
        )
    for name in sorted(thresholds.groups):
        group = thresholds.groups[name]
        own_min = group.min_samples if group.min_samples is not None else thresholds.default.min_samples
        live = recorded_key(
            name, match=group.match, tags=group.tags or (), user_classes=group.user_classes or ()
        )
        if live is not None:  # selected by tags or User classes: judged as recorded during the run
            results += _recorded_group(judge, snapshot, live, group, own_min)
            continue
        stats = EndpointStats()
        for key, one in snapshot.endpoints.items():
            if groups[name].search(str(key)):
                stats = stats.merge(one)
        results += judge.target(f"group {name}", stats, group, min_samples=own_min)
    return results


NOT_RECORDED = "not recorded in this run"


def _recorded_group(
    judge: _Judge, snapshot: Snapshot, key: GroupKey, group: GroupLimits, min_samples: int | None
) -> list[Result]:
    """A group's rows on what the run recorded for it live (runner.stats.groups), or one
    INCONCLUSIVE row when the run did not record this group with these selectors: an endpoint's
    histogram cannot tell which User or task made a request, so it cannot be rebuilt afterwards."""
    target = f"group {key.name}"
    stats = snapshot.groups.get(key)
    if stats is None:
        other = next((k for k in snapshot.groups if k.name == key.name), None)
        why = (
            f"group {key} was {NOT_RECORDED}: it was recorded as {other}; a group selected by tags or "
            "user_classes is judged only as the run recorded it"
            if other is not None
            else f"group {key} was {NOT_RECORDED}: a group selected by tags or user_classes is counted "
            "while the run goes on and cannot be rebuilt from the endpoints afterwards"
        )
        unjudged = judge.target(target, EndpointStats(), group, min_samples=min_samples)
        return [replace(r, status=Status.INCONCLUSIVE, observed=None, reason=why) for r in unjudged]
    out = judge.target(target, stats, group, min_samples=min_samples)
    if stats.count == 0:  # say why a group may see nothing: requests no User's task made
        note = (
            "no request was made by a matching User class and task (requests fired outside a "
            "User's own greenlet carry neither)"
        )
        out = [
            replace(r, reason=f"{r.reason}; {note}") if r.status is Status.INCONCLUSIVE else r for r in out
        ]
    return out


def _lookup(snapshot: Snapshot, key: EndpointKey) -> EndpointStats:
    if key.method:
        return snapshot.endpoints.get(key, EndpointStats())
    # A bare name matches that name under every method.
    out = EndpointStats()
    for k, v in snapshot.endpoints.items():
        if k.name == key.name:
            out = out.merge(v)
    return out


# Keys of [thresholds] that are about the whole run, not each endpoint: not inherited.
_RUN_ONLY = frozenset({"min_rps", "require_statuses"})


def _merge(default: Limits, own: Limits | None) -> Limits:
    def pick(key: str) -> object:
        mine: object = getattr(own, key) if own is not None else None
        if mine is not None:
            return mine
        if key in _RUN_ONLY:
            return None  # the global min_rps is for the whole run, not each endpoint
        inherited: object = getattr(default, key)
        return inherited

    values = {f: pick(f) for f in _Limits.__dataclass_fields__ if f != "min_samples"}
    min_samples = own.min_samples if own is not None and own.min_samples is not None else default.min_samples
    return _Limits(**values, min_samples=min_samples)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class _Judge:
    """The judging of one snapshot: what every target's rows share."""

    duration_s: float
    warn_ratio: float
    window: str
    apart: frozenset[int]

    def target(
        self,
        target: str,
        stats: EndpointStats,
        limits: Limits,
        *,
        min_samples: int | None,
        endpoint: bool = False,
        own: Limits | None = None,
    ) -> list[Result]:
        kept = stats.excluding(self.apart)
        out = []
        for m in rows.METRICS:
            limit = getattr(limits, m.key)
            if limit is None:
                continue
            # A per-endpoint criterion the user named explicitly is required even without traffic;
            # one inherited from the global table is only judged for endpoints that saw requests.
            explicit = (not endpoint) or (own is not None and getattr(own, m.key) is not None)
            if endpoint and not explicit and stats.count == 0:
                continue
            judged = kept if m.key in rows.ON_KEPT else stats
            if (
                m.key in rows.QUANTILES
                and stats.count > 0
                and kept.count < (min_samples or DEFAULT_MIN_SAMPLES)
            ):
                out.append(rows.too_few(m, target, float(limit), stats, kept, min_samples))
                continue
            observed = rows.observe(m.key, judged, self.duration_s)
            out.append(
                rows.judge_metric(
                    m, target, float(limit), observed, stats, kept, self.warn_ratio, self.window
                )
            )
        if limits.require_statuses:
            out += rows.status_rows(target, stats, limits.require_statuses, self.window)
        if limits.abort_after_s is not None:  # what runner.judge.sustained watches live
            out = [replace(r, details={**r.details, "abort_after_s": limits.abort_after_s}) for r in out]
        return out


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
