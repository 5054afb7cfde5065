"""The ``[server]`` part of `loadlens init --from`'s proposal: the limits a run passes, and the
run's server side judged again under them.

A proposal must pass the run it came from. ``[server]`` ``cpu_percent`` / ``memory_percent`` keep the
product's defaults (70 / 80) when the run's peaks stay at or under them (the judge fails only above a
limit); a peak above a default gets a limit just above it, the next multiple of 5 (at most 100),
with a comment saying why. A local process past one core (over 100 %) gets its limit in
``[process]``, the one table that allows more than 100, as does a run that went above its own
``[process]`` limit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from runner.model import Result, RunRecord
from runner.units import format_value

if TYPE_CHECKING:
    from runner.config.load import Config

DEFAULT_SERVER = {"cpu_percent": 70.0, "memory_percent": 80.0}  # [server]'s own defaults
SERVER_STEP = 5.0  # a limit raised above a peak is the next multiple of this
# The rows [server] cpu_percent / memory_percent judge (runner.judge.server); the process's rows take
# [process]'s own limit instead when the run's config set one.
_SERVER_ROWS = {
    "cpu_percent": ("server ECS CPU", "server Prometheus CPU"),
    "memory_percent": ("server ECS memory", "server Prometheus memory"),
}
_PROCESS_ROWS = {"cpu_percent": "server process CPU", "memory_percent": "server process memory"}


def proposed_limit(peak: float | None, *, default: float, cap: float | None = 100.0) -> float:
    """``default`` when the run's ``peak`` is at or under it (the judge fails only above a limit),
    else the next multiple of SERVER_STEP at or above the peak, at most ``cap``."""
    if peak is None or peak <= default:
        return default
    raised = math.ceil(peak / SERVER_STEP - 1e-9) * SERVER_STEP
    return raised if cap is None else min(cap, raised)


Proposal = dict[str, tuple[float, float]]  # key -> (limit, the run's peak it is set above)


def server_proposal(
    results: Iterable[Result], *, own_process: Mapping[str, object] | None = None
) -> tuple[Proposal, Proposal]:
    """The ``[server]`` limits whose default the run's peaks went above, and the ``[process]`` ones:
    a process row counts for ``[server]`` unless the run's own ``[process]`` table set that key,
    and a process past one core (over 100 %, which ``[server]`` cannot hold) gets its own limit."""
    rows = [r for r in results if r.scope == "server" and r.observed is not None]
    server: Proposal = {}
    process: Proposal = {}
    for key, default in DEFAULT_SERVER.items():
        peaks = [r.observed for r in rows if r.name in _SERVER_ROWS[key] and r.observed is not None]
        proc = max((r.observed for r in rows if r.name == _PROCESS_ROWS[key] and r.observed is not None),
                   default=None)  # fmt: skip
        own = (own_process or {}).get(key)
        if proc is not None and isinstance(own, int | float) and not isinstance(own, bool):
            if proc > own:
                process[key] = (proposed_limit(proc, default=float(own), cap=None), proc)
        elif proc is not None and proc > 100.0:
            process[key] = (proposed_limit(proc, default=default, cap=None), proc)
        elif proc is not None:
            peaks.append(proc)
        peak = max(peaks, default=None)
        if peak is not None and peak > default:
            server[key] = (proposed_limit(peak, default=default), peak)
    return server, process


def raised_line(key: str, limit: float, peak: float) -> str:
    default = DEFAULT_SERVER[key]
    return (
        f"{key} = {limit:g}  # above the default {default:g}: this run peaked at {peak:.4g} %, "
        f"and at {default:g} it would fail its own gate"
    )


def server_lines(results: Iterable[Result], *, proposed: Proposal | None = None) -> list[str]:
    proposed = proposed or {}
    peaks = [
        f"# this run: {r.name} {format_value(r.observed, r.unit)} ({r.status.value.upper()})"
        for r in results
        if r.scope == "server" and r.observed is not None
    ]
    limits = [
        raised_line(key, *proposed[key]) if key in proposed else f"{key} = {default:g}"
        for key, default in DEFAULT_SERVER.items()
    ]
    return [
        "[server]",
        "# Server limits, whatever the source (CloudWatch, Prometheus, a local process).",
        *limits,
        "# alb_p95_ms = 500        # ALB TargetResponseTime p95 of every period (CloudWatch)",
        "# alb_p99_ms = 1000",
        "# unhealthy_hosts = 0     # the default: one unhealthy host in any period fails",
        *peaks,
        "",
        "# Any CloudWatch metric (or a PromQL `query`, read from [prometheus_source]) as a criterion:",
        "# [[server.metrics]]",
        '# name = "Redis CPU"',
        '# namespace = "AWS/ElastiCache"',
        '# metric = "CPUUtilization"',
        '# dimensions = { CacheClusterId = "my-cache" }',
        '# stat = "Maximum"        # Average, Sum, Minimum, Maximum, SampleCount, pNN',
        "# max = 75                # or min = ...",
        '# period = "60s"          # optional: the [cloudwatch] period',
        '# missing = "inconclusive" # or "zero": no datapoints = 0 if the metric exists (throttle counts)',
    ]


def rejudged_server_rows(record: RunRecord, cfg: Config) -> tuple[Result, ...]:
    """The run's server side judged again under the proposed limits, from what it stored (the path
    `loadlens verdict` takes without a source to pull again). A WARN passes (exit 0): a limit raised
    just above a peak is in its WARN band by design, so only a FAIL is a problem here."""
    from runner.commands.verdict import stored_readings
    from runner.judge.server import judge_readings
    from runner.sources.server import server_plan

    if not any(r.scope == "server" for r in record.verdict.results):
        return ()
    return judge_readings(
        stored_readings(record),
        window_start=record.judged.start,
        window_end=record.judged.end,
        limits=server_plan(cfg).limits,
        run_s=record.run_end - record.run_start,
    )
