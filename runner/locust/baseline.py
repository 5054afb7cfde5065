"""What the end of a run needs from Locust for baselines: the run's comparability record (its
locustfiles, load and user classes as Locust parsed them) and the baseline it is judged against
(``--baseline``, read before ``judge_run`` so judging stays pure). See docs/compare.md."""

from __future__ import annotations

from typing import Any

from runner.compare.criteria import read_baseline
from runner.compare.regression import BaselineCheck, baseline_failed
from runner.compare.shape import run_shape
from runner.compare.tolerances import Tolerances, tolerances_from
from runner.config.plan import RunPlan
from runner.logs import get_logger
from runner.model import RunInfo, RunShape

log = get_logger("loadlens")


def shape_and_baseline(
    environment: Any, plan: RunPlan, info: RunInfo, *, planned_s: float | None
) -> tuple[RunShape, BaselineCheck | None]:
    """The run's comparability record, and its baseline when ``--baseline`` names one."""
    shape = shape_of(environment, plan, info, planned_s=planned_s)
    return shape, baseline_check(environment, plan, info, shape)


def shape_of(environment: Any, plan: RunPlan, info: RunInfo, *, planned_s: float | None) -> RunShape:
    """What makes this run comparable with another (summary.json "comparability")."""
    options = getattr(environment, "parsed_options", None)
    return run_shape(
        locustfiles=getattr(environment, "parsed_locustfiles", None) or (),
        scenario=plan.scenario_name,
        users=getattr(options, "num_users", None),
        spawn_rate=getattr(options, "spawn_rate", None),
        duration_s=planned_s,
        host=info.host,
        user_classes=[cls.__name__ for cls in getattr(environment, "user_classes", None) or ()],
        tags=getattr(options, "tags", None) or (),
        exclude_tags=getattr(options, "exclude_tags", None) or (),
    )


def baseline_check(environment: Any, plan: RunPlan, info: RunInfo, shape: RunShape) -> BaselineCheck | None:
    """The baseline ``--baseline`` names, read now; one that cannot be read is an INCONCLUSIVE
    row, never a lost verdict."""
    spec = getattr(getattr(environment, "parsed_options", None), "baseline", None)
    if not spec:
        return None
    try:
        return read_baseline(
            spec,
            current_id=info.run_id,
            current_shape=shape,
            out_dir=plan.out_dir,
            scenario=plan.scenario_name,
            run_dir=plan.run_dir,
            aws_profile=plan.server.aws_profile,
            aws_region=plan.server.aws_region,
            tolerances=tolerances_from(plan.config.compare, endpoint_limits=plan.thresholds.endpoints),
        )
    except Exception as exc:
        log.error("the baseline could not be read", error=str(exc), exc_info=True)
        reason = f"the baseline could not be read: {type(exc).__name__}: {exc}"
        return BaselineCheck(spec, info.run_id, shape, Tolerances(), failure=baseline_failed(spec, reason))
