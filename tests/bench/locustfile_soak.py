"""Soak benchmark locustfile: FastHttpUser, 300 endpoint names on the fixed nginx target.

The same file for plain `locust` and `loadlens run`. With SOAK_SPEED=N (set by bench_soak.py) time
is compressed N times for what grows with time in Locust: its stats module's clock runs N times
faster (a per-second dict gets N keys per wall-clock second) and its history entry comes every
5/N s. loadlens's own timeline is compressed the same way by the benchmark's ``[run] interval_s``.
Each user walks the names round-robin, so every name is hit as evenly as at a real soak's rate.
"""

import os
import time

import locust.stats
from locust import FastHttpUser, constant_throughput, task

SPEED = float(os.environ.get("SOAK_SPEED", "1"))
NAMES = int(os.environ.get("SOAK_NAMES", "300"))
RPS_PER_USER = float(os.environ.get("SOAK_RPS_PER_USER", "10"))


class _FastClock:
    """``time`` for Locust's stats module: ``time()`` runs SPEED times faster; the rest is real."""

    def __init__(self, speed: float) -> None:
        self._t0 = time.time()
        self._speed = speed

    def time(self) -> float:
        return self._t0 + (time.time() - self._t0) * self._speed

    def __getattr__(self, name: str) -> object:  # the real module's other functions
        return getattr(time, name)


if SPEED != 1:
    locust.stats.time = _FastClock(SPEED)  # type: ignore[assignment]
    locust.stats.HISTORY_STATS_INTERVAL_SEC = locust.stats.HISTORY_STATS_INTERVAL_SEC / SPEED


class SoakUser(FastHttpUser):
    wait_time = constant_throughput(RPS_PER_USER)

    def on_start(self) -> None:
        self.next_name = id(self) % NAMES

    @task
    def item(self) -> None:
        self.next_name = (self.next_name + 1) % NAMES
        self.client.get(f"/item/{self.next_name}")
