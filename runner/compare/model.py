"""The result of comparing a run with its baseline: frozen rows a renderer or a verdict reads."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from runner.compare.stats import Shift
from runner.model import TOTAL_NAME

METRIC_NAMES = {
    "p50_ms": "p50",
    "p95_ms": "p95",
    "p99_ms": "p99",
    "error_rate": "error rate",
    "cpu_s_per_1000": "CPU-seconds per 1,000 requests",
}


class Change(enum.Enum):
    """What happened to one figure between the baseline and the current run."""

    REGRESSED = "regressed"
    IMPROVED = "improved"
    UNCHANGED = "unchanged"  # within tolerance, or not statistically real
    NOT_COMPARABLE = "not comparable"  # missing on one side, or too few periods to judge


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How much worse a figure may get before it counts: ``value`` is a ratio (0.10 = 10 %) when
    ``relative``, else an absolute amount in the figure's unit (0.005 = 0.5 points of error rate).
    ``higher_is_worse`` is False for throughput."""

    value: float
    relative: bool = True
    higher_is_worse: bool = True

    def text(self) -> str:
        sign = "+" if self.higher_is_worse else "-"
        if self.relative:
            return f"{sign}{self.value * 100:g} %"
        return f"{sign}{self.value * 100:g} points"


@dataclass(frozen=True, slots=True)
class Row:
    """One figure of one subject (an endpoint, all requests, or a server series) in both runs."""

    scope: str  # "client" or "server"
    subject: str  # "GET /api/v1/jobs", "all requests", "process pid:123 cpu_percent"
    metric: str  # "p95_ms", "error_rate", "rps", "mean", "peak", "cpu_s_per_1000"
    unit: str  # a runner.units unit: "ms", "ratio", "rps", "percent", "count", "s"
    baseline: float | None
    current: float | None
    tolerance: Tolerance
    status: Change
    reason: str
    shift: Shift | None = None  # between the runs' per-period values; None when not judged

    @property
    def change(self) -> float | None:
        """current - baseline, in the figure's unit."""
        if self.baseline is None or self.current is None:
            return None
        return self.current - self.baseline

    @property
    def change_ratio(self) -> float | None:
        """(current - baseline) / baseline; None when the baseline is 0 or missing."""
        if self.baseline is None or self.current is None or self.baseline == 0:
            return None
        return self.current / self.baseline - 1.0

    @property
    def label(self) -> str:
        """``GET /api/v1/jobs p95``: how the row is named in a verdict and in the outcome line."""
        return f"{self.subject} {METRIC_NAMES.get(self.metric, self.metric)}"


@dataclass(frozen=True, slots=True)
class Comparison:
    """Every row, and why the runs may not be comparable at all (``warnings``)."""

    baseline_id: str
    current_id: str
    rows: tuple[Row, ...]
    warnings: tuple[str, ...] = ()

    @property
    def regressed(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.status is Change.REGRESSED)

    @property
    def key_row(self) -> Row | None:
        """All requests' p95: the figure without which nothing meaningful was compared."""
        return next((r for r in self.rows if (r.subject, r.metric) == (TOTAL_NAME, "p95_ms")), None)

    @property
    def judged_key_figure(self) -> bool:
        """Whether all requests' p95 could be compared: without it nothing meaningful was."""
        key = self.key_row
        return key is not None and key.status is not Change.NOT_COMPARABLE

    @property
    def exit_code(self) -> int:
        """3 when the runs are not comparable (``warnings``) or even all requests' p95 could not be
        judged: a comparison that compared nothing is never a pass; else 1 when something
        regressed, 0 when nothing did (2 is bad input, raised before a comparison exists)."""
        if self.warnings or not self.judged_key_figure:
            return 3
        return 1 if self.regressed else 0
