"""[compare]: how much worse each figure may get against a baseline (runner.compare reads it),
and the check that an endpoint's tolerance is set in one table only (its [compare.endpoints]
table or, beside its limits, its [thresholds.endpoints] table)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated

from runner.config.rules import number, table_of
from runner.config.types import ENDPOINT, SECTION, EndpointLimits


def _no_entries() -> Mapping[str, object]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class CompareEndpoint:
    """A [compare.endpoints."METHOD name"] table: the tolerances of that endpoint's figures where
    its latency, error rate or throughput varies more (or must vary less) than the others'; a key
    not given keeps [compare]'s."""

    __pydantic_config__ = SECTION

    latency_percent: Annotated[float | None, number(ge=0)] = None
    error_rate_points: Annotated[float | None, number(ge=0, le=100)] = None
    rps_percent: Annotated[float | None, number(ge=0, le=100)] = None
    # One percentile's own, over latency_percent.
    p50_percent: Annotated[float | None, number(ge=0)] = None
    p95_percent: Annotated[float | None, number(ge=0)] = None
    p99_percent: Annotated[float | None, number(ge=0)] = None


# [thresholds.endpoints."…"] key -> the [compare.endpoints."…"] key that sets the same tolerance.
VS_BASELINE_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "p50_vs_baseline_percent": "p50_percent",
        "p95_vs_baseline_percent": "p95_percent",
        "p99_vs_baseline_percent": "p99_percent",
        "error_rate_vs_baseline_points": "error_rate_points",
        "rps_vs_baseline_percent": "rps_percent",
    }
)


def tolerance_clashes(
    endpoints: Mapping[str, EndpointLimits], compare: Mapping[str, CompareEndpoint]
) -> list[tuple[tuple[str, ...], str]]:
    """The key path and problem of each endpoint figure whose baseline tolerance both its
    [thresholds.endpoints] and its [compare.endpoints] table set: one figure, one place."""
    out: list[tuple[tuple[str, ...], str]] = []
    for name, limits in endpoints.items():
        table = compare.get(name)
        for key, same in VS_BASELINE_KEYS.items():
            if table is not None and getattr(limits, key) is not None and getattr(table, same) is not None:
                out.append(
                    (
                        ("thresholds", "endpoints", name, key),
                        f'set in both [thresholds.endpoints."{name}"] and [compare.endpoints."{name}"]'
                        f" ({same}): keep one",
                    )
                )
    return out


@dataclass(frozen=True, slots=True)
class CompareConfig:
    """[compare]: how much worse a figure may get against a baseline before it counts as a
    regression (`loadlens compare`, --baseline; docs/compare.md). Latency and server figures in
    percent of the baseline, throughput in percent lower, the error rate in percentage points."""

    __pydantic_config__ = SECTION

    latency_percent: Annotated[float, number(ge=0)] = 10.0
    error_rate_points: Annotated[float, number(ge=0, le=100)] = 0.5
    rps_percent: Annotated[float, number(ge=0, le=100)] = 10.0
    server_percent: Annotated[float, number(ge=0)] = 10.0
    # One figure's own, over its kind's above (None: the kind's).
    p50_percent: Annotated[float | None, number(ge=0)] = None
    p95_percent: Annotated[float | None, number(ge=0)] = None
    p99_percent: Annotated[float | None, number(ge=0)] = None
    server_mean_percent: Annotated[float | None, number(ge=0)] = None
    server_peak_percent: Annotated[float | None, number(ge=0)] = None
    cpu_cost_percent: Annotated[float | None, number(ge=0)] = None  # CPU-seconds per 1,000 requests
    # [compare.endpoints."METHOD name"]: one endpoint's own tolerances, over the ones above.
    endpoints: Annotated[Mapping[ENDPOINT, CompareEndpoint], table_of("a table of endpoints")] = field(
        default_factory=_no_entries  # type: ignore[arg-type]
    )
