"""Recovery after a spike: do p95 and the error rate come back once the spike is over?

A service that survives a spike but stays slow (a queue that never drains, an autoscaler that
overshoots, a pool that leaks) fails its users after the load is gone; the steady-state criteria do
not see it, because a spike run has no steady state worth the name. This criterion measures it on
the run's timeline (per-interval histograms), so ``loadlens verdict RUN_DIR`` gives the same row:

- the pre-spike level: p95 and error rate of the intervals inside the stage before the spike;
- the spike ends where the stage marked ``recovery = true`` begins (``SpikeMarks``);
- recovered at the end of the first interval after the spike that is back within the tolerance
  (p95 <= pre-spike p95 x (1 + ``p95_tolerance``), error rate <= pre-spike +
  ``error_rate_tolerance``, with requests in it) and from which all the requests up to
  ``recover_within`` after the spike, taken together, stay within it too. Together, not interval
  by interval: one noisy second among fifty must not undo a recovery, a service that relapses
  for a good part of the rest does. The time said is that interval's end less the spike's end:
  an upper bound at the timeline's resolution.

INCONCLUSIVE (never a pass) when the pre-spike stage has no requests, or when the run ended before
``recover_within`` had elapsed after the spike (less one timeline interval of slack: the timeline
cannot say anything finer, and a shape's last stage ends on its own clock) without a recovery. A
recovery seen before such an early end, with every request after it within the tolerance up to the
end of the load, passes: it did recover within ``recover_within`` (a compressed `--scenario spike
-t 2m` has a 30 s recovery stage).
"""

from __future__ import annotations

from collections.abc import Sequence

from runner.config.scenarios import Scenario
from runner.config.types import RecoveryConfig
from runner.judge.verdict import in_warn_band
from runner.model import EndpointStats, Interval, Result, SpikeMarks, Status
from runner.readings import Series

NAME = "recovery after spike"
_EDGE_S = 1e-3  # timeline and stage times are stored to the millisecond


def spike_marks(scenario: Scenario | None, *, start: float) -> SpikeMarks | None:
    """Where the spike of ``scenario`` (its stages as run, starting at epoch ``start``) falls: the
    first stage marked ``recovery = true``, the stage before it (the spike) and the one before that
    (the pre-spike level). None for a scenario without such a stage."""
    if scenario is None:
        return None
    begin = start
    starts: list[float] = []
    for stage in scenario.stages:
        starts.append(begin)
        begin += stage.duration_s
    for i, stage in enumerate(scenario.stages):
        if stage.recovery and i >= 2:
            return SpikeMarks(
                pre_start=starts[i - 2],
                spike_start=starts[i - 1],
                spike_end=starts[i],
                pre_users=scenario.stages[i - 2].users,
                spike_users=scenario.stages[i - 1].users,
            )
    return None


def judge_recovery(
    spike: SpikeMarks | None,
    timeline: Sequence[Interval],
    *,
    run_end: float,
    limits: RecoveryConfig,
    warn_ratio: float = 0.9,
) -> Result | None:
    """The recovery row of a run with a spike (None without a spike, or with [recovery] off)."""
    if spike is None or not limits.enabled:
        return None
    within_s = limits.recover_within_s
    criterion = (
        f"p95 <= pre-spike x {1 + limits.p95_tolerance:g} and error rate <= pre-spike "
        f"+ {limits.error_rate_tolerance:.2%} within {within_s:g} s after the spike"
    )

    def row(status: Status, reason: str, observed: float | None = None, **details: object) -> Result:
        return Result(
            name=NAME,
            criterion=criterion,
            observed=observed,
            limit=within_s,
            status=status,
            reason=reason,
            unit="s",
            details=details,
        )

    pre = EndpointStats()
    for iv in timeline:
        if iv.start >= spike.pre_start - _EDGE_S and iv.end <= spike.spike_start + _EDGE_S:
            pre = pre.merge(iv.total)
    pre_p95 = pre.quantile_ms(0.95)
    if not pre.count or pre_p95 is None:
        return row(
            Status.INCONCLUSIVE,
            "no pre-spike baseline: the timeline has no requests inside the stage before the spike",
        )
    p95_limit_ms = pre_p95 * (1 + limits.p95_tolerance)
    error_limit = (pre.error_rate or 0.0) + limits.error_rate_tolerance
    deadline = spike.spike_end + within_s
    after = [iv for iv in timeline if iv.start >= spike.spike_end - _EDGE_S and iv.start < deadline - _EDGE_S]
    rest = [EndpointStats() for _ in after]  # rest[i]: every request from after[i] to the deadline
    total = EndpointStats()
    for i in reversed(range(len(after))):
        total = total.merge(after[i].total)
        rest[i] = total
    first = next(
        (
            i
            for i, iv in enumerate(after)
            if _within(iv.total, p95_limit_ms, error_limit) and _within(rest[i], p95_limit_ms, error_limit)
        ),
        None,
    )
    recovered_s = None if first is None else round(after[first].end - spike.spike_end, 3)
    slack_s = max((iv.end - iv.start for iv in timeline), default=0.0)
    details = {
        "pre_spike_p95_ms": round(pre_p95, 3),
        "pre_spike_error_rate": round(pre.error_rate or 0.0, 6),
        "p95_limit_ms": round(p95_limit_ms, 3),
        "error_rate_limit": round(error_limit, 6),
        "spike_end": spike.spike_end,
    }
    levels = f"pre-spike p95 {pre_p95:.1f} ms, error rate {pre.error_rate or 0.0:.2%}"
    ended_early = run_end < deadline - slack_s - _EDGE_S
    after_end_s = max(0.0, run_end - spike.spike_end)
    if recovered_s is None and ended_early:
        return row(
            Status.INCONCLUSIVE,
            f"not recovered when the run ended {after_end_s:.0f} s after the spike, before "
            f"recover_within ({within_s:g} s) had elapsed: lengthen the recovery stage or shorten "
            "[recovery] recover_within",
            None,
            **details,
        )
    if recovered_s is None:
        last = after[-1].total if after else EndpointStats()
        last_p95 = last.quantile_ms(0.95)
        seen = (
            f"last interval p95 {last_p95:.1f} ms"
            if last_p95 is not None
            else "last interval had no requests"
        )
        return row(
            Status.FAIL,
            f"did not recover within {within_s:g} s after the spike ({seen}, error rate "
            f"{last.error_rate or 0.0:.2%}; {levels})",
            None,
            **details,
        )
    # Recovered, and every request from then to the end of the load stayed within the tolerance:
    # a run that ended before recover_within still shows a recovery inside it (no load, no relapse).
    ended = (
        f"; stayed recovered until the run ended {after_end_s:.0f} s after the spike" if ended_early else ""
    )
    status = Status.WARN if in_warn_band(recovered_s, within_s, warn_ratio) else Status.PASS
    return row(
        status,
        f"recovered {recovered_s:g} s after the spike ended ({levels}){ended}",
        recovered_s,
        **details,
    )


def _within(stats: EndpointStats, p95_limit_ms: float, error_limit: float) -> bool:
    p95 = stats.quantile_ms(0.95)
    return (
        bool(stats.count)
        and p95 is not None
        and p95 <= p95_limit_ms
        and (stats.error_rate or 0.0) <= error_limit
    )


SCALE_METRIC = ("cloudwatch", "RunningTaskCount")


def judge_scale_out(
    spike: SpikeMarks | None, series: Sequence[Series], *, run_end: float, limits: RecoveryConfig
) -> list[Result]:
    """With ``expect_scale_out``: for each ECS service whose RunningTaskCount (Container Insights,
    already read with the service's metrics) was read, did it scale out during the spike and back
    to the pre-spike count by the end of the run? FAIL when it never scaled out, WARN when it has
    not scaled back yet (ECS scale-in waits out its cooldowns: often longer than a run), PASS when
    both; INCONCLUSIVE (required) when no such series was read or it has no pre-spike point."""
    if spike is None or not limits.enabled or not limits.expect_scale_out:
        return []
    counts = [s for s in series if (s.source, s.metric) == SCALE_METRIC and s.stat == "Maximum"]
    criterion = "ECS RunningTaskCount above the pre-spike count during the spike, back to it by the end"
    if not counts:
        reason = (
            "no RunningTaskCount series: needs [cloudwatch] ecs_cluster/ecs_service with Container "
            "Insights, read for the run (--correlate-cloudwatch)"
        )
        return [
            Result(
                "ECS scale-out after spike",
                criterion,
                None,
                None,
                Status.INCONCLUSIVE,
                reason,
                "tasks",
                "server",
            )
        ]
    rows = []
    for s in counts:
        name = f"ECS scale-out after spike ({s.resource})"
        pre = [v for t, v in s.points if spike.pre_start <= t < spike.spike_start]
        during = [
            v for t, v in s.points if spike.spike_start <= t <= spike.spike_end + limits.recover_within_s
        ]
        last = [v for t, v in s.points if spike.spike_end <= t <= run_end]
        if not pre:
            reason = "no RunningTaskCount datapoint before the spike to compare with"
            rows.append(Result(name, criterion, None, None, Status.INCONCLUSIVE, reason, "tasks", "server"))
            continue
        base = max(pre)
        peak = max(during, default=None)
        end = last[-1] if last else None
        details = {"pre_spike_tasks": base, "peak_tasks": peak, "last_tasks": end}
        if peak is None or peak <= base:
            seen = "no datapoint during the spike" if peak is None else f"peak {peak:g}"
            status, reason = Status.FAIL, f"did not scale out: {base:g} tasks before the spike, {seen}"
        elif end is None or end > base:
            now = "no datapoint after the spike" if end is None else f"still {end:g} at the end of the run"
            status, reason = Status.WARN, f"scaled out {base:g} -> {peak:g} tasks, not back yet: {now}"
        else:
            status, reason = Status.PASS, f"scaled out {base:g} -> {peak:g} tasks and back to {end:g}"
        rows.append(Result(name, criterion, peak, base, status, reason, "tasks", "server", details=details))
    return rows
