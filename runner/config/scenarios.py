"""Scenario presets (smoke, load, stress, spike, soak), load shapes, and run-time durations.

A scenario is plain data: either a steady load (``users`` at ``spawn_rate`` for ``run_time_s``) or a
shape (``stages``, each holding a user count for a duration). Nothing here imports Locust: the bridge
turns a staged scenario into a ``LoadTestShape`` by asking ``stage_at(elapsed_s)`` every tick.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

# Durations are read and written in runner.timefmt; these names stay importable from here.
from runner.timefmt import DURATION_EXAMPLES as DURATION_EXAMPLES
from runner.timefmt import format_duration as format_duration
from runner.timefmt import parse_duration_s as parse_duration_s

RECOVERY_NEEDS = "a stage with recovery = true needs a spike stage and a pre-spike stage before it"


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of a load shape: hold ``users`` for ``duration_s``, reaching them at ``spawn_rate``
    users per second (Locust also stops users at that rate when the count goes down)."""

    duration_s: float
    users: int
    spawn_rate: float
    # The service must recover in this stage from the spike (the stage before it), measured
    # against the stage before that (runner.judge.recovery).
    recovery: bool = False

    def __post_init__(self) -> None:
        if not self.duration_s > 0 or math.isinf(self.duration_s):
            raise ValueError(f"stage duration_s must be > 0, got {self.duration_s}")
        if self.users < 0:
            raise ValueError(f"stage users must be >= 0, got {self.users}")
        if not self.spawn_rate > 0 or math.isinf(self.spawn_rate):
            raise ValueError(f"stage spawn_rate must be > 0, got {self.spawn_rate}")


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named way to load the target. ``None`` fields are left to Locust's own options/defaults.

    A staged scenario leaves ``users``, ``spawn_rate`` and ``run_time_s`` at ``None``: its stages
    say everything. ``expected_statuses`` are response codes the scenario declares as expected
    (e.g. 429 from a rate limiter), which the run counts apart from failures.
    """

    name: str
    description: str = ""
    users: int | None = None
    spawn_rate: float | None = None
    run_time_s: float | None = None
    tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    stages: tuple[Stage, ...] = ()
    expected_statuses: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a scenario needs a name")
        if self.stages and (self.users, self.spawn_rate, self.run_time_s) != (None, None, None):
            raise ValueError(f"scenario {self.name}: stages exclude users/spawn_rate/run_time_s")
        if self.stages and max(s.users for s in self.stages) < 1:
            raise ValueError(f"scenario {self.name}: no stage has any users")
        if any(s.recovery for s in self.stages[:2]):
            raise ValueError(f"scenario {self.name}: {RECOVERY_NEEDS}")
        if self.users is not None and self.users < 1:
            raise ValueError(f"scenario {self.name}: users must be >= 1, got {self.users}")
        if self.spawn_rate is not None and not self.spawn_rate > 0:
            raise ValueError(f"scenario {self.name}: spawn_rate must be > 0, got {self.spawn_rate}")
        if self.run_time_s is not None and not self.run_time_s > 0:
            raise ValueError(f"scenario {self.name}: run_time_s must be > 0, got {self.run_time_s}")

    @property
    def staged(self) -> bool:
        """True when the scenario is a load shape (stages) rather than a steady load."""
        return bool(self.stages)

    def total_time_s(self) -> float | None:
        """The planned length: the stages' sum, else ``run_time_s`` (``None``: until stopped)."""
        if self.stages:
            return math.fsum(s.duration_s for s in self.stages)
        return self.run_time_s

    def peak_users(self) -> int | None:
        """The most users at any time (``None`` when the scenario leaves it to Locust)."""
        if self.stages:
            return max(s.users for s in self.stages)
        return self.users

    def stage_at(self, elapsed_s: float) -> Stage | None:
        """The stage in force ``elapsed_s`` seconds into the run; ``None`` once the shape is over
        (and always for a steady scenario)."""
        end_s = 0.0
        for stage in self.stages:
            end_s += stage.duration_s
            if elapsed_s < end_s:
                return stage
        return None


def _s(minutes: float) -> float:
    return minutes * 60.0


# Sized for a staging environment of a few tasks/instances: enough to exercise autoscaling and
# connection pools without needing a distributed Locust. docs/configuration.md has the table.
BUILTIN: Mapping[str, Scenario] = MappingProxyType(
    {
        s.name: s
        for s in (
            Scenario(
                "smoke",
                "A handful of users for a short while: does every endpoint answer at all?",
                users=5,
                spawn_rate=5.0,
                run_time_s=_s(1),
            ),
            Scenario(
                "load",
                "Expected everyday traffic, held steady.",
                users=50,
                spawn_rate=5.0,
                run_time_s=_s(10),
            ),
            Scenario(
                "stress",
                "Steps the users up in five equal stages to find where the service bends.",
                stages=tuple(Stage(_s(2), users, 10.0) for users in (25, 50, 100, 150, 200)),
            ),
            Scenario(
                "spike",
                "A baseline, a sudden jump to ten times it, held, then back down: does it recover?",
                stages=(
                    Stage(_s(1), 10, 5.0),
                    Stage(_s(2), 100, 50.0),
                    Stage(_s(1), 10, 50.0, recovery=True),
                ),
            ),
            Scenario(
                "soak",
                "A modest load held for a long time: leaks, slow growth, connection churn.",
                users=30,
                spawn_rate=5.0,
                run_time_s=_s(60),
            ),
        )
    }
)


def resolve_scenario(
    base: Scenario, *, users: int | None, spawn_rate: float | None, run_time_s: float | None
) -> Scenario:
    """``base`` with the explicit -u / -r / -t values applied; ``None`` keeps the scenario's own.

    For a staged scenario, ``users`` scales every stage so the peak equals it (rounded, a stage
    with users keeps at least 1), ``run_time_s`` stretches or shrinks the stages proportionally so
    they add up to it, and ``spawn_rate`` replaces every stage's rate.
    """
    if users is not None and users < 1:
        raise ValueError(f"users must be >= 1, got {users}")
    if spawn_rate is not None and not (spawn_rate > 0 and math.isfinite(spawn_rate)):
        raise ValueError(f"spawn_rate must be > 0, got {spawn_rate}")
    if run_time_s is not None and not (run_time_s > 0 and math.isfinite(run_time_s)):
        raise ValueError(f"run_time_s must be > 0, got {run_time_s}")
    if not base.stages:
        return replace(
            base,
            users=base.users if users is None else users,
            spawn_rate=base.spawn_rate if spawn_rate is None else spawn_rate,
            run_time_s=base.run_time_s if run_time_s is None else run_time_s,
        )

    stages = list(base.stages)
    if users is not None:
        peak = max(s.users for s in stages)
        stages = [replace(s, users=_scale_users(s.users, users, peak)) for s in stages]
    if spawn_rate is not None:
        stages = [replace(s, spawn_rate=spawn_rate) for s in stages]
    if run_time_s is not None:
        total_s = math.fsum(s.duration_s for s in stages)
        scaled = [s.duration_s * run_time_s / total_s for s in stages]
        # The last stage takes the rounding remainder so the total is exactly what was asked.
        scaled[-1] = max(run_time_s - math.fsum(scaled[:-1]), scaled[-1] * 1e-9)
        stages = [replace(s, duration_s=d) for s, d in zip(stages, scaled, strict=True)]
    return replace(base, stages=tuple(stages))


def _scale_users(stage_users: int, peak_users: int, old_peak: int) -> int:
    if stage_users == 0:
        return 0  # a deliberate drain to zero stays a drain
    # Round half up (not Python's half-to-even), so 2.5 users becomes 3 as a person would expect.
    return max(1, math.floor(stage_users * peak_users / old_peak + 0.5))
