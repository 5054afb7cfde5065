"""Client timelines recorded by the real StatsStore and Timeline over a fake clock.

A test describes the load as stretches of constant traffic; ``record`` feeds every request through
``StatsStore.record`` second by second and ticks a real ``Timeline`` every ``tick_s`` seconds, with
a fake clock (moved by hand, never the wall clock) so the intervals have exact times.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from runner.model import Interval
from runner.readings import Series
from runner.stats.store import StatsStore, Timeline

Latency = Callable[[float], float]  # request time (epoch s) -> response time (ms)


@dataclass(frozen=True)
class Traffic:
    """Requests to one endpoint: ``rps`` per second, each taking ``latency_ms(t)``, and
    ``failing(t)`` saying whether the request at time t fails."""

    method: str
    name: str
    rps: float
    latency_ms: Latency = lambda t: 50.0
    failing: Callable[[float], bool] = lambda t: False


@dataclass(frozen=True)
class Stretch:
    """``duration_s`` seconds of the given traffic with ``users`` users."""

    duration_s: int
    traffic: tuple[Traffic, ...]
    users: int = 10


class FakeClock:
    """A fake clock: returns ``t``, which the recorder moves by hand."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def record(stretches: Sequence[Stretch], *, start: float, tick_s: int = 5) -> tuple[Interval, ...]:
    """The timeline of the given load from ``start``, one interval per ``tick_s`` seconds."""
    clock = FakeClock(start)
    store = StatsStore(clock=clock)
    timeline = Timeline(max_points=1_000_000)
    owed: dict[tuple[str, str], float] = {}
    t = start
    users = 0
    for stretch in stretches:
        users = stretch.users
        for _ in range(stretch.duration_s):
            for tr in stretch.traffic:
                key = (tr.method, tr.name)
                owed[key] = owed.get(key, 0.0) + tr.rps
                n = int(owed[key] + 1e-9)
                owed[key] -= n
                for k in range(n):
                    at = t + k / n
                    failed = tr.failing(at)
                    status = 500 if failed else 200
                    store.record(tr.method, tr.name, tr.latency_ms(at), status, failed, 100)
            t += 1
            if round(t - start) % tick_s == 0:
                clock.t = t
                timeline.tick(store.snapshot(users=users))
    if round(t - start) % tick_s:
        clock.t = t
        timeline.tick(store.snapshot(users=users))
    return timeline.points


def series(
    metric: str,
    values: Sequence[float],
    *,
    start: float,
    period_s: float = 60.0,
    source: str = "cloudwatch",
    resource: str = "ecs:shop/api",
    stat: str = "Average",
    unit: str = "Percent",
) -> Series:
    """A server series with one point per period from ``start`` (each point's time is its period's start)."""
    points = tuple((start + i * period_s, float(v)) for i, v in enumerate(values))
    return Series(source, resource, metric, stat, unit, points, period_s)
