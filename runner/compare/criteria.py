"""``--baseline``: read the baseline a run is judged against (a run directory, ``latest`` or S3).

The rows themselves are runner.compare.regression's (pure); reading is here, before judging.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from runner.compare.baseline import LATEST, load_baseline
from runner.compare.compare import RunView
from runner.compare.regression import BaselineCheck, baseline_failed, baseline_rows, no_baseline
from runner.compare.tolerances import Tolerances
from runner.errors import LoadlensError
from runner.model import Result, RunShape


def read_baseline(
    spec: str | None,
    *,
    current_id: str,
    current_shape: RunShape | None,
    out_dir: Path,
    scenario: str,
    run_dir: Path | None = None,
    aws_profile: str | None = None,
    aws_region: str | None = None,
    tolerances: Tolerances | None = None,
) -> BaselineCheck | None:
    """Read the baseline ``spec`` names (None without one). A baseline that cannot be read is a
    required INCONCLUSIVE row; ``latest`` with no passing run yet is an optional one (the first
    run of a scenario has nothing to compare with)."""
    if not spec:
        return None
    check = BaselineCheck(spec, current_id, current_shape, tolerances or Tolerances())
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
        return replace(check, failure=baseline_failed(spec, str(exc)))
    if baseline is None:
        reason = f"no earlier passing run of scenario {scenario!r} in {out_dir}: nothing to compare with"
        return replace(check, failure=no_baseline(spec, reason, required=spec != LATEST))
    return replace(check, baseline=baseline)


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
    """``read_baseline`` and ``baseline_rows`` in one (for a run already judged)."""
    check = read_baseline(
        spec,
        current_id=current.run_id,
        current_shape=current.shape,
        out_dir=out_dir,
        scenario=scenario,
        run_dir=run_dir,
        aws_profile=aws_profile,
        aws_region=aws_region,
        tolerances=tolerances,
    )
    return baseline_rows(
        check,
        judged=current.judged,
        timeline=current.timeline,
        server=current.server,
        analysis=current.analysis,
    )
