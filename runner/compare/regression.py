"""``--baseline``: regression criteria in the run's own verdict (same table, same exit code).

Each compared figure becomes one ``Result``: FAIL when it regressed, PASS when unchanged or
improved, INCONCLUSIVE when it cannot be compared. "All requests p95 vs baseline" is required,
so a run that cannot be compared at all is INCONCLUSIVE (exit 3), never a pass by omission; the
other rows are not (a new endpoint has no baseline). Runs that differ in what makes them
comparable (runner.compare.shape) get one required INCONCLUSIVE row naming the difference
instead of invented regressions.

Pure: the baseline is read beforehand (runner.compare.criteria.read_baseline), so
``runner.judge.run.judge_run`` calls ``baseline_rows`` without any I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.compare.compare import RunView, compare_runs
from runner.compare.model import Change, Row
from runner.compare.render import change_text, interval_text
from runner.compare.tolerances import Tolerances
from runner.logs import get_logger
from runner.model import TOTAL_NAME, Interval, Result, RunRecord, RunShape, Snapshot, Status
from runner.readings import Series

log = get_logger("loadlens")

BASELINE_SUFFIX = " vs baseline"
_REQUIRED = (TOTAL_NAME, "p95_ms")
_STATUS = {
    Change.REGRESSED: Status.FAIL,
    Change.IMPROVED: Status.PASS,
    Change.UNCHANGED: Status.PASS,
    Change.NOT_COMPARABLE: Status.INCONCLUSIVE,
}


@dataclass(frozen=True, slots=True)
class BaselineCheck:
    """A baseline read before judging, so ``judge_run`` stays pure: the baseline run and the
    tolerances, or the row that says why there is nothing to compare with."""

    spec: str
    current_id: str
    current_shape: RunShape | None
    tolerances: Tolerances
    baseline: RunRecord | None = None
    failure: Result | None = None  # shown instead of regression rows when set


def baseline_rows(
    check: BaselineCheck | None,
    *,
    judged: Snapshot,
    timeline: tuple[Interval, ...],
    server: tuple[Series, ...],
    analysis: Mapping[str, Any],
) -> list[Result]:
    """The regression rows of the run being judged against ``check``'s baseline (none without
    one). Pure; a bug here is a required INCONCLUSIVE row, never a lost verdict or a pass."""
    if check is None:
        return []
    if check.failure is not None or check.baseline is None:
        return [check.failure or baseline_failed(check.spec, "no baseline was read")]
    current = RunView(
        run_id=check.current_id,
        judged=judged,
        timeline=timeline,
        window_start=judged.start,
        window_end=judged.end,
        server=server,
        analysis=analysis,
        shape=check.current_shape,
    )
    try:
        return regression_results(check.baseline, current, tolerances=check.tolerances, spec=check.spec)
    except Exception as exc:
        log.error("the baseline comparison failed", error=str(exc), exc_info=True)
        return [baseline_failed(check.spec, f"the baseline comparison failed: {type(exc).__name__}: {exc}")]


def regression_results(
    baseline: RunRecord, current: RunView, *, tolerances: Tolerances | None = None, spec: str = ""
) -> list[Result]:
    """One Result per compared figure (pure: the baseline is already read)."""
    comparison = compare_runs(baseline, current, tolerances=tolerances)
    if comparison.warnings:
        reason = f"the runs are not comparable: {'; '.join(comparison.warnings)}"
        return [
            Result(
                name="baseline comparability",
                criterion=f"comparable with {baseline.info.run_id}",
                observed=None,
                limit=None,
                status=Status.INCONCLUSIVE,
                reason=reason,
                details={"baseline": baseline.info.run_id, "differences": list(comparison.warnings)},
            )
        ]
    return [_result(row, baseline.info.run_id, spec) for row in comparison.rows]


def _result(row: Row, baseline_id: str, spec: str) -> Result:
    tol = row.tolerance
    if tol.relative:
        ratio = row.change_ratio
        observed = None if ratio is None else ratio * 100.0
        limit = tol.value * 100.0 * (1 if tol.higher_is_worse else -1)
        unit = "percent"
    else:
        observed, limit, unit = row.change, tol.value, "ratio"
    change = change_text(row)
    ci = interval_text(row)
    reason = f"{change} (95 % CI {ci}), tolerance {tol.text()}: {row.reason}"
    if row.status is Change.NOT_COMPARABLE:
        reason = row.reason
    found = row.shift
    return Result(
        name=row.label + BASELINE_SUFFIX,
        criterion=f"{row.metric} vs baseline {baseline_id} within {tol.text()}",
        observed=observed,
        limit=limit,
        status=_STATUS[row.status],
        reason=reason,
        unit=unit,
        scope=row.scope,
        required=(row.subject, row.metric) == _REQUIRED,
        details={
            "baseline_run": baseline_id,
            "baseline_spec": spec,
            "baseline": row.baseline,
            "current": row.current,
            "change": row.status.value,
            "ci_low": None if found is None else found.low,
            "ci_high": None if found is None else found.high,
            "p_value": None if found is None else found.p_value,
        },
    )


def baseline_failed(spec: str, reason: str) -> Result:
    """The baseline could not be read or compared: a required INCONCLUSIVE row (exit 3)."""
    return no_baseline(spec, reason, required=True)


def no_baseline(spec: str, reason: str, *, required: bool) -> Result:
    return Result(
        name="baseline run",
        criterion=f"--baseline {spec}",
        observed=None,
        limit=None,
        status=Status.INCONCLUSIVE,
        reason=reason,
        required=required,
    )
