"""The history of a scenario's runs: one row per run, the trend, and the run where a change began.

Rows come from each run directory's summary.json (the judged window's figures, the same as its
verdict). The trend is a Theil-Sen line through the runs' p95 (robust to a few odd runs), given
as percent per run of its fitted starting level. The change point is the split that best divides
the runs into two levels of p95 (least squares on the logarithm, i.e. on ratios); it is reported
only when the two levels differ by more than the latency tolerance (10 %) and the change is
real: with at least 4 runs on each side the Mann-Whitney interval excludes no change; with
fewer, the two sides do not overlap at all.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from runner.compare.compare import judged_periods
from runner.compare.stats import MIN_PERIODS, shift
from runner.compare.tolerances import LATENCY_TOLERANCE
from runner.errors import LoadlensError
from runner.judge.correlate import find_cpu
from runner.judge.soak import theil_sen
from runner.model import RunRecord
from runner.reports.load import load_summary
from runner.sources.base import window_points

SUMMARY = "summary.json"


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One run, as the history lists it."""

    run_id: str
    started_at: float  # epoch seconds
    scenario: str
    verdict: str
    p95_ms: float | None  # all requests, judged window
    endpoint_p95_ms: tuple[tuple[str, float | None], ...]
    error_rate: float | None
    peak_cpu_percent: float | None
    cpu_s_per_1000: float | None
    periods: int  # timeline intervals inside the judged window
    run_dir: str = ""  # where its summary.json was read ("" for a record given directly)


@dataclass(frozen=True, slots=True)
class ChangePoint:
    """Where the runs' p95 moved to another level: the first run of the new level."""

    run_id: str
    index: int  # of that run in History.rows
    before_p95_ms: float  # median of the runs before
    after_p95_ms: float  # median of the runs from it on
    reason: str

    @property
    def change_ratio(self) -> float:
        return self.after_p95_ms / self.before_p95_ms - 1.0


@dataclass(frozen=True, slots=True)
class History:
    rows: tuple[HistoryRow, ...]
    trend_per_run: float | None  # p95 change per run, as a fraction of the fitted first level
    change_point: ChangePoint | None
    skipped: tuple[str, ...] = ()  # directories that could not be read, with why


def read_history(directory: Path, *, scenario: str | None = None) -> History:
    """Every run directory in ``directory`` (of ``scenario`` when given), oldest first."""
    found: list[tuple[RunRecord, Path]] = []
    skipped: list[str] = []
    for child in sorted(p for p in directory.iterdir() if (p / SUMMARY).is_file()):
        try:
            record = load_summary(child)
        except LoadlensError as exc:
            skipped.append(str(exc))
            continue
        if scenario is None or record.info.scenario == scenario:
            found.append((record, child))
    found.sort(key=lambda rc: (rc[0].run_start, rc[0].info.run_id))
    history = history_of([r for r, _d in found], skipped=tuple(skipped))
    rows = tuple(replace(row, run_dir=str(d)) for row, (_r, d) in zip(history.rows, found, strict=True))
    return replace(history, rows=rows)


def history_of(records: Sequence[RunRecord], *, skipped: tuple[str, ...] = ()) -> History:
    rows = tuple(history_row(r) for r in records)
    return History(
        rows=rows, trend_per_run=trend_per_run(rows), change_point=change_point(rows), skipped=skipped
    )


def history_row(record: RunRecord) -> HistoryRow:
    judged = record.judged
    total = judged.total()
    endpoints = tuple(
        (str(key), stats.quantile_ms(0.95))
        for key, stats in sorted(judged.endpoints.items(), key=lambda kv: (-kv[1].count, kv[0]))
    )
    cpu = find_cpu(record.server)
    peak = None
    if cpu is not None:
        values = [
            v for _t, v in window_points(cpu, record.window_start, record.window_end) if math.isfinite(v)
        ]
        peak = max(values) if values else None
    cost = record.analysis.get("cpu_seconds_per_1000_requests")
    return HistoryRow(
        run_id=record.info.run_id,
        started_at=record.run_start,
        scenario=record.info.scenario,
        verdict=record.verdict.status.value,
        p95_ms=total.quantile_ms(0.95) if total.count else None,
        endpoint_p95_ms=endpoints,
        error_rate=total.error_rate,
        peak_cpu_percent=peak,
        cpu_s_per_1000=cost if isinstance(cost, int | float) else None,
        periods=len(judged_periods(record)),
    )


def trend_per_run(rows: Sequence[HistoryRow]) -> float | None:
    """Theil-Sen slope of p95 against the run's position, over the fitted first level."""
    points = [(float(i), row.p95_ms) for i, row in enumerate(rows) if row.p95_ms is not None]
    fit = theil_sen(points) if len(points) >= 3 else None
    if fit is None or fit.intercept <= 0:
        return None
    return fit.slope / fit.intercept


def change_point(rows: Sequence[HistoryRow]) -> ChangePoint | None:
    """The best split of the runs' p95 into two levels, when the change is large and real."""
    values = [(i, row.p95_ms) for i, row in enumerate(rows) if row.p95_ms is not None and row.p95_ms > 0]
    if len(values) < 4:
        return None
    logs = [math.log(v) for _i, v in values]
    best: tuple[float, int] | None = None
    for k in range(2, len(logs) - 1):  # at least two runs on each side
        cost = _sse(logs[:k]) + _sse(logs[k:])
        if best is None or cost < best[0]:
            best = (cost, k)
    assert best is not None
    k = best[1]
    before = [v for _i, v in values[:k]]
    after = [v for _i, v in values[k:]]
    ratio = statistics.median(after) / statistics.median(before) - 1.0
    if abs(ratio) <= LATENCY_TOLERANCE.value:
        return None
    if len(before) >= MIN_PERIODS and len(after) >= MIN_PERIODS:
        found = shift(before, after, log=True)
        if found is None or found.low is None or found.high is None or not found.significant:
            return None
        why = f"{ratio * 100:+.0f} %, 95 % CI {found.low * 100:+.0f} … {found.high * 100:+.0f} %"
    else:
        separated = min(after) > max(before) if ratio > 0 else max(after) < min(before)
        if not separated:
            return None
        why = f"{ratio * 100:+.0f} %, every run after beyond every run before"
    index = values[k][0]
    return ChangePoint(
        run_id=rows[index].run_id,
        index=index,
        before_p95_ms=statistics.median(before),
        after_p95_ms=statistics.median(after),
        reason=why,
    )


def _sse(values: Sequence[float]) -> float:
    mean = statistics.fmean(values)
    return sum((v - mean) ** 2 for v in values)
