"""Real Locust in a process of its own, for tests/locust/test_prune.py (not collected by pytest).

Locust monkey-patches the standard library with gevent when imported; inside a test session that
has already imported ssl (requests, boto3) that patching breaks, so the in-process checks run here
and print their observations as one JSON line. Usage: ``python -m tests.locust.prune_probe ui|history URL``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import gevent
import locust.stats
import requests
from locust import HttpUser, constant, task
from locust.env import Environment
from locust.html import get_html_report

from runner.locust.prune import drop_endpoint_caches, prune_per_second, thin_history

SPEED = 60


class FastClock:
    """``time`` for Locust's stats module only: ``time()`` runs ``speed`` times faster than the wall
    clock from the moment it is made (until ``freeze``), everything else is the real module."""

    def __init__(self, speed: float) -> None:
        self._t0 = time.time()
        self._speed = speed
        self._frozen: float | None = None

    def time(self) -> float:
        if self._frozen is not None:
            return self._frozen
        return self._t0 + (time.time() - self._t0) * self._speed

    def freeze(self) -> None:
        self._frozen = self.time()

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _user_class(host: str) -> type[HttpUser]:
    class Names(HttpUser):
        wait_time = constant(0.01)

        @task
        def health(self) -> None:
            for i in range(30):
                self.client.get("/health", name=f"/health/{i}")

    Names.host = host
    return Names


def ui(target: str, port: int) -> dict[str, Any]:
    """A few seconds of load (minutes of Locust's time), stopped; the web UI's /stats/requests and
    requests CSV read before and after one prune."""
    clock = FastClock(SPEED)
    locust.stats.time = clock  # type: ignore[assignment]
    sys.argv = ["locust"]  # the web UI parses the command line for its options
    env = Environment(user_classes=[_user_class(target)], host=target)
    runner = env.create_local_runner()
    web_ui = env.create_web_ui("127.0.0.1", port)
    gevent.sleep(0.2)
    try:
        runner.start(4, spawn_rate=100)
        # Minutes of Locust's seconds: until more than 100 of them saw requests (about 3 s of wall
        # time on a quiet machine; a busy one needs longer), bounded at 20 s.
        deadline = time.monotonic() + 20.0
        gevent.sleep(3.0)
        while len(env.stats.total.num_reqs_per_sec) <= 100 and time.monotonic() < deadline:
            gevent.sleep(0.5)
        runner.stop()
        clock.freeze()  # nothing moves between the two reads
        base = f"http://127.0.0.1:{port}"
        before = requests.get(f"{base}/stats/requests", timeout=10).json()
        csv_before = requests.get(f"{base}/stats/requests/csv", timeout=10).text
        seconds_before = len(env.stats.total.num_reqs_per_sec)
        caches_before = {
            "total": len(env.stats.total.response_times_cache or ()),
            "entries": max(len(e.response_times_cache or ()) for e in env.stats.entries.values()),
        }
        dropped = prune_per_second(env.stats)
        caches_dropped = drop_endpoint_caches(env.stats)
        after = requests.get(f"{base}/stats/requests", timeout=10).json()
        csv_after = requests.get(f"{base}/stats/requests/csv", timeout=10).text
    finally:
        runner.quit()
        web_ui.stop()
    return {
        "before": before,
        "after": after,
        "csv_before": csv_before,
        "csv_after": csv_after,
        "seconds_before": seconds_before,
        "dropped": dropped,
        "caches_before": caches_before,
        "caches_dropped": caches_dropped,
        "caches_after": {
            "total": len(env.stats.total.response_times_cache or ()),
            "entries": max(len(e.response_times_cache or ()) for e in env.stats.entries.values()),
        },
        "seconds_after": [len(e.num_reqs_per_sec) for e in (*env.stats.entries.values(), env.stats.total)],
    }


def history(target: str) -> dict[str, Any]:
    """A day of Locust's 5-second history entries, made by Locust's own update_stats_history and
    thinned as the pruner's loop would; then Locust's HTML report of them."""
    env = Environment(user_classes=[_user_class(target)], host=target)
    runner = env.create_local_runner()
    t0 = 1_790_000_000
    stamps = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 5 * i)) for i in range(17_280)]
    for k, stamp in enumerate(stamps):
        locust.stats.update_stats_history(runner, stamp)
        if k % 50 == 0:
            thin_history(env.stats.history)
    thin_history(env.stats.history)
    times = [h["time"] for h in env.stats.history]
    html = get_html_report(env)
    runner.quit()
    return {"stamps": [stamps[0], stamps[-1]], "times": times, "html_has_last": stamps[-1] in html}


if __name__ == "__main__":
    what, url = sys.argv[1], sys.argv[2]
    out = ui(url, int(sys.argv[3])) if what == "ui" else history(url)
    print(json.dumps(out))
