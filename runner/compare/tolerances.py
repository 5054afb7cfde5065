"""The tolerance of each compared figure: how much worse it may get before it counts, from the
defaults, [compare], the endpoints' tables and ``loadlens compare --tolerance``, in one order
(docs/compare.md#tolerances)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from runner.compare.model import Tolerance
from runner.config.compare import CompareConfig
from runner.config.types import EndpointLimits

LATENCY_TOLERANCE = Tolerance(0.10)
ERROR_RATE_TOLERANCE = Tolerance(0.005, relative=False)
RPS_TOLERANCE = Tolerance(0.10, higher_is_worse=False)
SERVER_TOLERANCE = Tolerance(0.10)
LATENCY = (("p50_ms", 0.50), ("p95_ms", 0.95), ("p99_ms", 0.99))  # figure, quantile


@dataclass(frozen=True, slots=True)
class Tolerances:
    """The tolerance of each figure (docs/compare.md#tolerances), looked up in one order: a
    ``--tolerance`` flag (``overrides``, metric name -> tolerance), the endpoint's own
    (``endpoints``: "METHOD name" -> metric name -> tolerance, from [compare.endpoints."METHOD
    name"] and [thresholds.endpoints."METHOD name"], a figure's key over its kind's), the figure's
    own in [compare] (``figures``: p95_percent, cpu_cost_percent...), its kind's in [compare]
    (``latency`` for p50/p95/p99, ``error_rate``, ``rps``, ``server``), the default."""

    latency: Tolerance = LATENCY_TOLERANCE
    error_rate: Tolerance = ERROR_RATE_TOLERANCE
    rps: Tolerance = RPS_TOLERANCE
    server: Tolerance = SERVER_TOLERANCE
    overrides: Mapping[str, Tolerance] = field(default_factory=dict)
    endpoints: Mapping[str, Mapping[str, Tolerance]] = field(default_factory=dict)
    figures: Mapping[str, Tolerance] = field(default_factory=dict)

    def for_metric(self, metric: str, *, endpoint: str | None = None) -> Tolerance:
        if metric in self.overrides:
            return self.overrides[metric]
        own = self.endpoints.get(endpoint, {}) if endpoint is not None else {}
        if metric in own:
            return own[metric]
        if metric in self.figures:
            return self.figures[metric]
        return self.of_kind(metric)

    def of_kind(self, metric: str) -> Tolerance:
        """The tolerance of ``metric``'s kind: how it is measured (relative, which way is worse)."""
        if metric.endswith("_ms"):
            return self.latency
        if metric == "error_rate":
            return self.error_rate
        if metric == "rps":
            return self.rps
        return self.server


def _percent(value: float | None, kind: Tolerance) -> Tolerance | None:
    """A config value (percent, or percentage points for an absolute kind) as ``kind``'s Tolerance."""
    return None if value is None else replace(kind, value=value / 100.0)


def _given(pairs: Iterable[tuple[str, Tolerance | None]]) -> dict[str, Tolerance]:
    return {metric: tol for metric, tol in pairs if tol is not None}


def tolerances_from(
    section: CompareConfig, *, endpoint_limits: Mapping[str, EndpointLimits] | None = None
) -> Tolerances:
    """The tolerances a [compare] section sets (percent and points become ratios), with each
    endpoint's own: its [compare.endpoints."METHOD name"] table and the ``*_vs_baseline_*`` keys
    of its [thresholds.endpoints."METHOD name"] table (``endpoint_limits``; the loader refuses a
    figure set in both)."""
    base = Tolerances()
    latency = Tolerance(section.latency_percent / 100.0)
    error_rate = Tolerance(section.error_rate_points / 100.0, relative=False)
    rps = Tolerance(section.rps_percent / 100.0, higher_is_worse=False)
    server = Tolerance(section.server_percent / 100.0)
    endpoints: dict[str, dict[str, Tolerance]] = {}
    for name, table in section.endpoints.items():
        kind = _percent(table.latency_percent, latency)
        own = _given((metric, kind) for metric, _q in LATENCY)
        own.update(
            _given(
                (
                    ("p50_ms", _percent(table.p50_percent, latency)),
                    ("p95_ms", _percent(table.p95_percent, latency)),
                    ("p99_ms", _percent(table.p99_percent, latency)),
                    ("error_rate", _percent(table.error_rate_points, error_rate)),
                    ("rps", _percent(table.rps_percent, rps)),
                )
            )
        )
        endpoints[name] = own
    for name, limits in (endpoint_limits or {}).items():
        own = _given(
            (
                ("p50_ms", _percent(limits.p50_vs_baseline_percent, latency)),
                ("p95_ms", _percent(limits.p95_vs_baseline_percent, latency)),
                ("p99_ms", _percent(limits.p99_vs_baseline_percent, latency)),
                ("error_rate", _percent(limits.error_rate_vs_baseline_points, error_rate)),
                ("rps", _percent(limits.rps_vs_baseline_percent, rps)),
            )
        )
        if own:
            endpoints.setdefault(name, {}).update(own)
    figures = _given(
        (
            ("p50_ms", _percent(section.p50_percent, latency)),
            ("p95_ms", _percent(section.p95_percent, latency)),
            ("p99_ms", _percent(section.p99_percent, latency)),
            ("mean", _percent(section.server_mean_percent, server)),
            ("peak", _percent(section.server_peak_percent, server)),
            ("cpu_s_per_1000", _percent(section.cpu_cost_percent, server)),
        )
    )
    return replace(
        base,
        latency=latency,
        error_rate=error_rate,
        rps=rps,
        server=server,
        endpoints=endpoints,
        figures=figures,
    )
