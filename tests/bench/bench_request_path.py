"""What loadlens adds to one Locust process, in microseconds, measured in-process.

The end-to-end benchmark (bench_overhead.py) compares whole runs, and on a shared 2-core machine
its ratios move by several percent from noise alone. This one isolates loadlens's own work and
times it in tight loops (the best of several repeats, so interference only ever adds):

- per request, with a real Locust Environment and LocalRunner: firing Locust's ``request`` event
  with Locust's own listener (plain Locust), with Locust's and loadlens's (``--no-lean``), and with
  the one lean listener (the default: runner/locust/lean.py), each minus firing it with none; and
  ``StatsStore.record`` alone. The lean line below Locust's own means loadlens costs less per
  request than plain Locust;
- per tick (every ``interval``, 5 s by default) and per exporter read: one snapshot of the store
  (``Bridge.live_state``). What a Prometheus scrape adds on top is bench_scrape.py's subject.

Divide by Locust's own cost per request (bench_overhead.py prints requests per CPU second) to get
the share of the generator's budget.

Run:  .venv/bin/python tests/bench/bench_request_path.py [--endpoints 2,50]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: make `runner` importable
    sys.path.insert(1, str(ROOT))

from locust import HttpUser  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.event import Events  # noqa: E402

from runner.locust.bridge import Bridge  # noqa: E402
from runner.locust.lean import listen_requests  # noqa: E402
from runner.model import RunInfo  # noqa: E402
from runner.stats.store import StatsStore  # noqa: E402


class _Inner:
    def get_code(self) -> int:
        return 200


class FakeFastResponse:
    """Stands in for Locust's FastResponse: ``status_code`` is a property calling the client."""

    def __init__(self) -> None:
        self._response = _Inner()

    @property
    def status_code(self) -> int:
        return self._response.get_code() if self._response is not None else 0


def best_us(fn: Callable[[int], object], n: int, *, repeats: int = 5) -> float:
    """Microseconds per call of ``fn``'s loop body: the best of ``repeats`` runs of ``n`` calls."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - t)
    return best / n * 1e6


def fire_loop(events: Any, names: Sequence[str]) -> Callable[[int], None]:
    """Fire ``request`` as FastHttpUser does (the same keyword arguments)."""
    response = FakeFastResponse()
    k = len(names)

    def loop(n: int) -> None:
        fire = events.request.fire
        for i in range(n):
            fire(
                request_type="GET",
                name=names[i % k],
                response_time=1.5 + (i % 97) * 0.37,
                response_length=2,
                response=response,
                context={},
                exception=None,
                start_time=0.0,
                url="http://127.0.0.1/",
            )

    return loop


def locust_events(*, loadlens: bool, lean: bool = False) -> Events:
    """A real Environment and LocalRunner (Locust's own listener attached), plus loadlens's."""
    events = Events()
    env = Environment(user_classes=[HttpUser], events=events, host="http://127.0.0.1")
    runner = env.create_local_runner()
    if loadlens:
        bridge = Bridge()
        bridge.store = StatsStore()
        listen_requests(events, runner, bridge, lean=lean)
    return events


def best_us_interleaved(
    loops: dict[str, Callable[[int], object]], n: int, *, repeats: int = 7
) -> dict[str, float]:
    """``best_us`` for several loops taken in turns, so a busy spell of the machine hits them alike."""
    best = dict.fromkeys(loops, float("inf"))
    for _ in range(repeats):
        for name, fn in loops.items():
            t = time.perf_counter()
            fn(n)
            best[name] = min(best[name], time.perf_counter() - t)
    return {name: b / n * 1e6 for name, b in best.items()}


def request_path(n: int, names: Sequence[str]) -> dict[str, float]:
    noop = Events()
    noop.request.add_listener(lambda **_kw: None)
    store = StatsStore()
    k = len(names)

    def record_loop(m: int) -> None:
        for i in range(m):
            store.record("GET", names[i % k], 1.5 + (i % 97) * 0.37, 200, False, 2)

    us = best_us_interleaved(
        {
            "base": fire_loop(Events(), names),
            "noop": fire_loop(noop, names),
            "plain": fire_loop(locust_events(loadlens=False), names),
            "two": fire_loop(locust_events(loadlens=True, lean=False), names),
            "lean": fire_loop(locust_events(loadlens=True, lean=True), names),
            "record": record_loop,
        },
        n,
    )
    base, plain, two, lean = (
        us["base"],
        us["plain"] - us["base"],
        us["two"] - us["base"],
        us["lean"] - us["base"],
    )
    return {
        "fire, no listener": base,
        "fire, a no-op listener": us["noop"] - base,
        "plain Locust (its own listener)": plain,
        "--no-lean (Locust's + loadlens's)": two,
        "lean (one listener, the default)": lean,
        "loadlens's share, --no-lean": two - plain,
        "loadlens's share, lean": lean - plain,
        "StatsStore.record alone": us["record"],
    }


def periodic(endpoints: int, n: int = 200) -> dict[str, float]:
    """A cost that does not depend on the request rate: one snapshot of the store."""
    bridge = Bridge()
    bridge.store = StatsStore()
    bridge.info = RunInfo(run_id="bench", scenario="adhoc", host="http://127.0.0.1", started_at=time.time())
    names = [f"/endpoint/{i}" for i in range(endpoints)]
    for i in range(20_000):
        bridge.store.record(
            "GET", names[i % endpoints], 1.0 + (i % 500) * 0.7, 200 if i % 50 else 503, i % 50 == 0, 2
        )
    return {"snapshot (live_state)": best_us(lambda m: [bridge.live_state() for _ in range(m)], n)}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=200_000, help="calls per timed loop (default 200000)")
    p.add_argument("--endpoints", default="2,50", help="endpoint counts for the snapshot cost (default 2,50)")
    opts = p.parse_args(argv)
    print(f"per request (best of 7 x {opts.requests:,} calls, taken in turns, 2 endpoints):")
    for what, us in request_path(opts.requests, ["/", "/item"]).items():
        print(f"  {what:<34} {us:7.2f} us")
    for k in (int(x) for x in opts.endpoints.split(",") if x.strip()):
        print(f"periodic, {k} endpoints (best of 5 x 200):")
        for what, us in periodic(k).items():
            print(f"  {what:<34} {us / 1000:7.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
