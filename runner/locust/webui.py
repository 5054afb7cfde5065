"""Tests started from Locust's web UI, each judged when it stops, into its own run directory.

Without ``--headless`` a process can run many tests: Start, Stop (the button, ``/stop``, ``-t``
expiring), then Start again after editing the users, with or without a stats reset. loadlens
judges each test when Locust fires ``test_stop``, writes its run directory and prints its verdict,
and the next test gets a new run directory (and run id). Stopping the process judges a test still
running (as an interrupted run). The process's exit code is the worst verdict of its tests (1 if one
failed, else 3 if one was inconclusive, else 0). A stats reset (the UI's button) restarts loadlens's
statistics with Locust's: the test is then judged from the reset on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import gevent
from locust.runners import WORKER_REPORT_INTERVAL

from runner.config.plan import RunPlan
from runner.locust.phases import Phases
from runner.model import RunInfo
from runner.reports.rundir import create_run_dir

_SEVERITY = {0: 0, 3: 1, 1: 2}  # pass < inconclusive < fail


def is_web_ui(options: Any, role: str) -> bool:
    """A process that runs tests from the web UI (not headless, not a worker)."""
    return role != "worker" and not getattr(options, "headless", False)


def next_test(plan: RunPlan, info: RunInfo, *, now: float) -> tuple[RunPlan, RunInfo]:
    """The plan and identity of the next test from the web UI: a new run directory and run id."""
    assert plan.run_dir is not None or plan.role == "worker"
    run_dir = create_run_dir(plan.out_dir, plan.scenario_name, now)
    plan = replace(plan, run_dir=run_dir, run_id=run_dir.name)
    return plan, replace(info, run_id=run_dir.name, started_at=now)


def judge_later(role: str, judge: Callable[[], None]) -> gevent.Greenlet:
    """Judge a stopped test off the web request's greenlet. At a master, one worker report interval
    later: on "stop" Locust's workers send no final report, so what they measured since their last
    report reaches the master only with their next periodic one (every WORKER_REPORT_INTERVAL s)."""
    delay_s = WORKER_REPORT_INTERVAL + 1.0 if role == "master" else 0.0
    return gevent.spawn_later(delay_s, judge)


def worst_exit(codes: list[int]) -> int:
    """The exit code of a process that ran several tests: the worst of their verdicts."""
    return max(codes, key=lambda c: _SEVERITY.get(c, 3)) if codes else 0


def restart_phases(phases: Phases, *, now: float) -> None:
    """After a stats reset in a running test: the test restarts now, and when every user was
    already running, so does its steady state."""
    if phases.run_start is None or phases.run_end is not None:
        return
    running = phases.ramp_end is not None
    phases.begin(now)
    if running and phases.ramp_up_done():
        phases.mark_window_start()
