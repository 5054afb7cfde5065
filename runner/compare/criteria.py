"""``--baseline``: regression criteria in the run's own verdict (same table, same exit code).

Each compared figure becomes one ``Result``: FAIL when it regressed, PASS when unchanged or
improved, INCONCLUSIVE when it cannot be compared. "All requests p95 vs baseline" is required,
so a run that cannot be compared at all is INCONCLUSIVE (exit 3), never a pass by omission; the
other rows are not (a new endpoint has no baseline). Runs that differ in what makes them
comparable (runner.compare.shape) get one required INCONCLUSIVE row naming the difference
instead of invented regressions.
"""

from __future__ import annotations

from pathlib import Path

from runner.compare.baseline import LATEST, load_baseline
from runner.compare.compare import RunView, Tolerances, compare_runs
from runner.compare.model import Change, Row
from runner.compare.render import change_text, interval_text
from runner.errors import LoadlensError
from runner.model import TOTAL_NAME, Result, RunRecord, Status

BASELINE_SUFFIX = " vs baseline"
_REQUIRED = (TOTAL_NAME, "p95_ms")
_STATUS = {
    Change.REGRESSED: Status.FAIL,
    Change.IMPROVED: Status.PASS,
    Change.UNCHANGED: Status.PASS,
    Change.NOT_COMPARABLE: Status.INCONCLUSIVE,
}


def baseline_results(
    spec: str | None,
    current: RunView,
    *,
    out_dir: Path,
    scenario: str,
    run_dir: Path | None = None,
    aws_profile: str | None = None,
    aws_region: str | None = None,
    tolerances: Tolerances | None = None,
) -> list[Result]:
    """The regression criteria of ``current`` against the baseline ``spec`` names (none without
    one). A baseline that cannot be read is a required INCONCLUSIVE row; ``latest`` with no
    passing run yet is an optional one (the first run of a scenario has nothing to compare with)."""
    if not spec:
        return []
    try:
        baseline = load_baseline(
            spec,
            out_dir=out_dir,
            scenario=scenario,
            exclude=run_dir,
            aws_profile=aws_profile,
            aws_region=aws_region,
        )
    except LoadlensError as exc:
        return [baseline_failed(spec, str(exc))]
    if baseline is None:
        reason = f"no earlier passing run of scenario {scenario!r} in {out_dir}: nothing to compare with"
        return [_no_baseline(spec, reason, required=spec != LATEST)]
    return regression_results(baseline, current, tolerances=tolerances, spec=spec)


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
    return _no_baseline(spec, reason, required=True)


def _no_baseline(spec: str, reason: str, *, required: bool) -> Result:
    return Result(
        name="baseline run",
        criterion=f"--baseline {spec}",
        observed=None,
        limit=None,
        status=Status.INCONCLUSIVE,
        reason=reason,
        required=required,
    )
