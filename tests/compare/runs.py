"""Run records for comparison tests, recorded by the real StatsStore and Timeline over a fake
clock: each endpoint's latency is log-normal around its median, and each period (tick) of the
run draws its own slow-down factor, so periods vary between themselves as real ones do."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import replace

from runner.model import RunInfo, RunRecord, RunShape, Status, Verdict
from runner.readings import Series
from runner.stats.store import StatsStore, Timeline
from tests.support.timelines import FakeClock

T0 = 1_764_000_000.0
SHAPE = RunShape(
    locustfile_sha256="a" * 64,
    scenario="load",
    users=10,
    spawn_rate=10.0,
    duration_s=60.0,
    host="http://127.0.0.1:8080",
    user_classes=("ApiUser",),
)


def make_run(
    medians_ms: Mapping[str, float],
    *,
    seed: int,
    run_id: str = "load_1",
    start: float = T0,
    seconds: int = 60,
    tick_s: int = 5,
    rps: int = 20,
    error_share: Mapping[str, float] | None = None,
    period_sigma: float = 0.05,
    request_sigma: float = 0.15,
    shape: RunShape | None = SHAPE,
    server: Sequence[Series] = (),
    verdict: Status = Status.PASS,
) -> RunRecord:
    """A RunRecord of ``seconds`` of ``rps`` requests per endpoint per second, judged whole."""
    rng = random.Random(seed)
    clock = FakeClock(start)
    store = StatsStore(clock=clock)
    timeline = Timeline(max_points=100_000)
    factor = 1.0
    for second in range(seconds):
        if second % tick_s == 0:
            factor = math.exp(rng.gauss(0.0, period_sigma))
        for name, median in medians_ms.items():
            for _ in range(rps):
                failed = rng.random() < (error_share or {}).get(name, 0.0)
                latency = median * factor * math.exp(rng.gauss(0.0, request_sigma))
                store.record("GET", name, latency, 500 if failed else 200, failed, 100)
        clock.t = start + second + 1
        if (second + 1) % tick_s == 0:
            timeline.tick(store.snapshot(users=10))
    final = store.snapshot(users=10)
    first = replace(final, end=start, endpoints={})
    judged = final.since(first)
    code = 0 if verdict in (Status.PASS, Status.WARN) else 1
    return RunRecord(
        info=RunInfo(run_id, "load", "http://127.0.0.1:8080", start),
        run_start=start,
        run_end=start + seconds,
        window_start=start,
        window_end=start + seconds,
        window_kind="steady_state",
        whole=judged,
        judged=judged,
        timeline=timeline.points,
        verdict=Verdict((), verdict, code),
        server=tuple(server),
        shape=shape,
    )
