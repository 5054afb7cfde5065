"""The two loops a run keeps while Locust drives the users: the timeline's tick and the server poll.

Both are gevent greenlets on the load loop; neither may stop the load when one pass fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gevent

from runner.locust.phases import Phases
from runner.logs import get_logger
from runner.sources.server import ServerSide

log = get_logger("loadlens")


def catch_up_clock() -> None:
    """Bring the load loop's clock to now, last thing before Locust sets its -t timer.

    libev reads the clock once per loop iteration and times a new timer from that reading. Whatever
    ran since the loop last turned (a locustfile's imports, the exporters' start, a crowded machine)
    went uncounted, and Locust's -t timer, set right after its init event, fired that much early: -t
    2s runs stopped after 0.1 s, a -t 5s run after 2 s (tests/locust/test_loop_clock.py).
    """
    gevent.get_hub().loop.update_now()


def tick_forever(interval_s: float, tick: Callable[[], None]) -> None:
    """Call ``tick`` every ``interval_s`` until killed; a failing tick is one warning."""
    while True:
        gevent.sleep(interval_s)
        try:
            tick()
        except Exception as exc:  # the load must never stop because a report line failed
            log.warning("loadlens tick failed", error=str(exc))


def poll_server(
    server: ServerSide, poll_s: float, phases: Phases, runner: Callable[[], Any], clock: Callable[[], float]
) -> None:
    """Poll the server side every period (live gauges), and end the run when the safety stop says so."""
    while True:
        gevent.sleep(poll_s)
        try:
            reason = server.poll(phases.run_start or clock())
        except Exception as exc:  # a broken poll must never stop the load
            log.warning("server poll failed", error=str(exc))
            continue
        if reason is not None and phases.run_end is None:
            log.warning(reason)
            phases.set("safety stop", detail=reason)
            if (locust_runner := runner()) is not None:
                gevent.spawn(locust_runner.quit)
            return
