"""A scenario applied to Locust: its users, spawn rate, run time and tags set on Locust's options,
or its stages installed as Locust's load shape."""

from __future__ import annotations

import time
from typing import Any

from locust import LoadTestShape

from runner.config.scenarios import Scenario, resolve_scenario
from runner.judge.recovery import spike_marks
from runner.logs import get_logger
from runner.model import SpikeMarks

log = get_logger("loadlens")


class StagesShape(LoadTestShape):
    """A scenario's stages as a Locust load shape (spike, stress, or any staged scenario)."""

    abstract = True  # never picked up as a locustfile's own shape

    def __init__(self, scenario: Scenario) -> None:
        super().__init__()
        self.scenario = scenario

    def tick(self) -> tuple[int, float] | None:
        stage = self.scenario.stage_at(self.get_run_time())
        return None if stage is None else (stage.users, stage.spawn_rate)


def apply_tags(options: Any, scenario: Scenario | None) -> None:
    """The scenario's tags, unless the command line gave Locust its own."""
    if options is None or scenario is None:
        return
    if scenario.tags and not getattr(options, "tags", None):
        options.tags = list(scenario.tags)
    if scenario.exclude_tags and not getattr(options, "exclude_tags", None):
        options.exclude_tags = list(scenario.exclude_tags)


def apply_scenario(environment: Any, options: Any, scenario: Scenario | None) -> float | None:
    """Apply the scenario to Locust's options (users, spawn rate, run time, tags) or install its
    stages as the load shape; a locustfile's own shape wins. Returns the planned run time in s."""
    planned_s = getattr(options, "run_time", None) if options is not None else None
    if scenario is None or options is None:
        return planned_s
    apply_tags(options, scenario)
    resolved = resolve_scenario(
        scenario,
        users=options.num_users,
        spawn_rate=options.spawn_rate,
        run_time_s=options.run_time,
    )
    if environment.shape_class is not None:
        if resolved.staged:
            log.info(
                "the locustfile's own load shape drives the load; scenario stages not used",
                shape=type(environment.shape_class).__name__,
                scenario=scenario.name,
            )
        return planned_s
    if resolved.staged:
        shape = StagesShape(resolved)
        shape.runner = environment.runner
        environment.shape_class = shape
        return resolved.total_time_s()
    if options.num_users is None and resolved.users is not None:
        options.num_users = resolved.users
    if options.spawn_rate is None and resolved.spawn_rate is not None:
        options.spawn_rate = resolved.spawn_rate
    if options.run_time is None and resolved.run_time_s is not None:
        options.run_time = int(resolved.run_time_s)
    return options.run_time


def spike_of(environment: Any) -> SpikeMarks | None:
    """When the spike of the run's staged scenario happened, on the epoch clock (None without a
    stage marked ``recovery = true``, or when a locustfile's own shape drove the load)."""
    shape = getattr(environment, "shape_class", None)
    if not isinstance(shape, StagesShape):
        return None
    return spike_marks(shape.scenario, start=time.time() - shape.get_run_time())
