"""LiveStates for exporter tests, built from a real StatsStore fed with record() calls."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from runner.model import LiveState, Result, RunInfo, Status
from runner.readings import Series
from runner.stats.store import StatsStore

INFO = RunInfo(
    run_id="run-42", scenario="load", host="https://api.example.com:8443", started_at=1_700_000_000.0
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def fed_store(
    *,
    names: Sequence[str] = ("/a", "/b", "/c"),
    requests: int = 3000,
    expected_statuses: Sequence[int] = (),
    max_endpoints: int = 500,
    seed: int = 7,
    clock: Clock | None = None,
) -> StatsStore:
    """A store with ``requests`` recorded over ``names``: statuses 200/201/404/500/0, some failed."""
    clock = clock or Clock()
    store = StatsStore(expected_statuses=expected_statuses, max_endpoints=max_endpoints, clock=clock)
    rng = random.Random(seed)
    for i in range(requests):
        status, failed = rng.choice(
            [(200, False), (200, False), (201, False), (404, True), (500, True), (0, True)]
        )
        if status == 200 and i % 17 == 0:
            failed = True  # a body check failed on a 200
        latency_ms = math.exp(rng.gauss(3.5, 1.3))
        store.record(rng.choice(("GET", "POST")), rng.choice(names), latency_ms, status, failed, 100)
    clock.now += 60.0
    return store


def live_state(
    store: StatsStore,
    *,
    info: RunInfo = INFO,
    users: int = 25,
    results: Sequence[Result] = (),
    server: Sequence[Series] = (),
) -> LiveState:
    snap = store.snapshot(users=users)
    return LiveState(
        info=info,
        cumulative=snap,
        users=users,
        phase="steady",
        results=tuple(results),
        server=tuple(server),
        overflowed_requests=store.overflowed_requests,
    )


def result(name: str, status: Status) -> Result:
    return Result(name=name, criterion=name, observed=1.0, limit=2.0, status=status, reason="test")
