"""CPU time of a child process over a wall-clock window, from /proc/PID/stat sampled in a thread.

On a shared machine a run's RPS moves with whatever else is running; the CPU seconds the Locust
process itself spent per request move far less. Sampling several times a second and interpolating
gives the CPU spent inside the benchmark's steady window (after the ramp-up, before the stop), so
imports at start-up and report writing at the end are left out, as they are from the RPS.
"""

from __future__ import annotations

import bisect
import os
import threading
import time

_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def read_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` (all its threads), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    # Field 2 (comm) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) * _TICK_S  # utime, stime (fields 14 and 15)


class CpuSampler:
    """Samples ``pid``'s CPU time every ``every_s`` until it exits, is stopped, or ``max_samples``."""

    def __init__(self, pid: int, *, every_s: float = 0.2, max_samples: int) -> None:
        self._pid = pid
        self._every_s = every_s
        self._max = max_samples
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"cpu-{pid}", daemon=True)
        self.times: list[float] = []  # wall clock (time.time(), as Locust's timestamps)
        self.cpu_s: list[float] = []

    def _loop(self) -> None:
        for _ in range(self._max):
            now, cpu = time.time(), read_cpu_s(self._pid)
            if cpu is None:
                return
            self.times.append(now)
            self.cpu_s.append(cpu)
            if self._stop.wait(self._every_s):
                return

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def at(self, t: float) -> float | None:
        """CPU seconds at wall time ``t``, linearly between the samples around it."""
        i = bisect.bisect_left(self.times, t)
        if i == 0 or i >= len(self.times):
            return None  # outside what was sampled: no guessing
        t0, t1 = self.times[i - 1], self.times[i]
        c0, c1 = self.cpu_s[i - 1], self.cpu_s[i]
        return c0 + (c1 - c0) * (t - t0) / (t1 - t0) if t1 > t0 else c1

    def between(self, start: float, end: float) -> float | None:
        a, b = self.at(start), self.at(end)
        return None if a is None or b is None else b - a
