"""A run's phases and the marks of its judged window, and the console's progress line.

Ramp-up, warm-up, steady, ramp-down, cool-down, stopped: the bridge reports Locust's events here,
and the cumulative snapshots taken when the steady state begins and ends become the judged
window's marks (``runner.judge.run.WindowMarks``). Each phase change is also marked on Grafana's
timeline when annotating. No Locust here: timers and greenlets stay in the bridge.
"""

from __future__ import annotations

from collections.abc import Callable

from runner.config.scenarios import format_duration
from runner.judge.client import ThresholdSet
from runner.judge.run import WindowMarks
from runner.judge.sustained import LiveCriteria
from runner.locust.outputs import PhaseMarker
from runner.logs import get_logger
from runner.model import Interval, PhaseMarks, Snapshot

log = get_logger("loadlens")

# After the ramp-up, these phases see user counts fall (a ramp-down) and rise (a new load step).
_LOADED = ("steady", "ramp-down", "warm-up", "cool-down")
MAX_LOAD_STEPS = 1_000  # load steps kept for the report (a shape changing users every second: bounded)


class Phases:
    """The run's phase, its start and end, and the snapshots that bound its steady state."""

    def __init__(self, *, clock: Callable[[], float], snapshot: Callable[[], Snapshot]) -> None:
        self._clock = clock
        self._snapshot = snapshot  # the store's cumulative snapshot, with the current user count
        self.marker: PhaseMarker | None = None
        self.phase = "starting"
        self.run_start: float | None = None
        self.run_end: float | None = None
        self.ramp_end: float | None = None
        self.window_start: Snapshot | None = None
        self.window_end: Snapshot | None = None
        self.cooldown_early: str | None = None  # why there was no steady state, when so
        self._last_users: int | None = None
        self._steps: list[tuple[float, int, int]] = []  # load steps: (at, users before, after)
        self.live = LiveCriteria()  # the live client rows, and the abort_after stop

    def begin(self, now: float) -> None:
        """A new test starts (Locust's ``test_start``): forget any earlier one."""
        self.run_start, self.run_end, self.ramp_end = now, None, None
        self.window_start = self.window_end = None
        self.cooldown_early = None
        self._last_users = None
        self._steps = []
        self.live = LiveCriteria()
        self.phase = "starting"

    def set(self, phase: str, *, detail: str = "") -> None:
        """Change the run's phase, and mark it on Grafana's timeline when annotating."""
        if phase == self.phase:
            return
        self.phase = phase
        if self.marker is not None:
            self.marker.mark(phase, at=self._clock(), detail=detail)

    def ramp_up_done(self) -> bool:
        """Locust spawned every user: True the first time in a started run (then the warm-up, or
        the steady state, begins)."""
        if self.ramp_end is not None or self.run_start is None:
            return False
        self.ramp_end = self._clock()
        return True

    def mark_window_start(self) -> None:
        if self.run_end is None and self.cooldown_early is None:
            self.window_start = self._snapshot()
            self.set("steady")

    def mark_window_end(self, *, warmup_s: float, cooldown_s: float) -> None:
        if self.run_end is not None:
            return
        if self.window_start is None:
            # The cool-down began before the ramp-up and warm-up were over: no steady state exists.
            assert self.run_start is not None
            into = format_duration(self._clock() - self.run_start)
            self.cooldown_early = (
                f"the cool-down ({format_duration(cooldown_s)}) began {into} into the run, before the "
                f"ramp-up and warm-up ({format_duration(warmup_s)}) ended: there was no steady state; "
                "shorten [run] warmup or cooldown, or run longer"
            )
        else:
            self.window_end = self._snapshot()
        self.set("cool-down")

    def stopped(self) -> None:
        """Locust's ``test_stop``: the run's end (the users stop now)."""
        if self.run_start is None:
            return
        self.run_end = self._clock()
        self.phase = "stopped"

    def span(self) -> tuple[float, float]:
        """The run's start and end (epoch s), once it has ended."""
        assert self.run_start is not None and self.run_end is not None
        return self.run_start, self.run_end

    def track_load_changes(self, users: int) -> None:
        """After the ramp-up, falling user counts are a ramp-down (a shape's last stage, a spike's
        drop) and a rise back is marked as a new load step; both go on Grafana's timeline."""
        previous, self._last_users = self._last_users, users
        if previous is None or self.phase not in _LOADED:
            return
        if users < previous:
            self.set("ramp-down")
        elif users > previous:
            self.set("steady")
            if len(self._steps) < MAX_LOAD_STEPS:
                self._steps.append((self._clock(), previous, users))
            if self.marker is not None:
                self.marker.mark("load step", at=self._clock(), detail=f"{previous} → {users} users")

    def running_window(self, cumulative: Snapshot) -> Snapshot:
        """The steady state so far (or the run so far before it began): what live criteria judge."""
        if self.window_start is not None:
            return cumulative.since(self.window_start)
        return cumulative

    def judge_live(self, cumulative: Snapshot, thresholds: ThresholdSet, *, now: float) -> str | None:
        """Judge the live window (the rows exporters show); the reason to stop the run now when a
        criterion with ``abort_after`` stayed FAIL that long (runner.judge.sustained), else None."""
        stop = self.live.judge(self.running_window(cumulative), thresholds, now=now, run_start=self.run_start)
        if stop is not None and self.run_end is None:
            log.warning(stop)
            self.set("early stop", detail=stop)
            return stop
        return None

    def marks(self, final: Snapshot) -> WindowMarks:
        return WindowMarks(
            final=final,
            steady_start=self.window_start,
            steady_end=self.window_end,
            phases=PhaseMarks(ramp_end=self.ramp_end, load_steps=tuple(self._steps)),
        )


def log_progress(phases: Phases, *, now: float, planned_s: float | None, users: int, last: Interval) -> None:
    """The console's progress line: phase, elapsed of planned, users, and the last interval's
    rate, p95 and errors."""
    elapsed = now - (phases.run_start or now)
    total = format_duration(planned_s) if planned_s else "—"
    p95 = last.total.quantile_ms(0.95)
    errors = last.total.error_rate
    log.info(
        "progress",
        phase=phases.phase,
        elapsed=f"{format_duration(elapsed)}/{total}",
        users=users,
        rps=round(last.rps, 1),
        p95_ms=None if p95 is None else round(p95, 1),
        errors=None if errors is None else f"{errors * 100:.2f}%",
    )
