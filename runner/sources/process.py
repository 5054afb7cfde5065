"""The local-process source: CPU and memory of one process (by pid or name), sampled with psutil.

What is measured:

- ``cpu_percent``: the process's own CPU time (user + system, not its children) over the wall
  time since the previous sample, times 100. Per process: 100 = one core fully busy, so a
  process using two cores shows 200. The first sample has no predecessor and gives no CPU point.
- ``memory_percent``: resident set size / total physical memory * 100.
- ``rss_bytes``: the resident set size itself.

Threading: psutil reads /proc with blocking C calls, and under Locust everything runs in gevent
greenlets on one OS thread, where a blocking call stalls every simulated user. So ``sample()``
(blocking, touches no shared state but the process handle) is meant to run in a real OS thread,
and ``record()`` / ``fetch()`` on the caller's thread. ``GeventSampler`` does exactly that: a
greenlet that, every ``interval_s``, runs ``sample()`` in gevent's hub threadpool (real OS threads
that gevent does not patch) and records the result back on the hub's thread. gevent is imported
only when a sampler starts. Outside gevent, call ``sample_and_record()`` from your own thread or
loop, and ``fetch()`` from the same one.

The history is bounded (``history`` samples, one hour at one per second by default); ``fetch``
answers from it and never samples.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

from runner.errors import SourceError, SourceUnavailableError
from runner.model import Series
from runner.sources.base import Missing, SourceResult


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """One reading of the process. ``cpu_percent`` covers ``[previous_t, t]``; None on the first."""

    t: float  # epoch seconds when read
    previous_t: float | None
    cpu_percent: float | None
    rss_bytes: int
    memory_percent: float
    pid: int


class ProcessSource:
    """CPU and memory of the process ``pid`` or, by exact name, ``name`` (a ``MetricSource``).

    ``interval_s`` is the nominal sampling interval (the series' ``period_s``); ``clock`` gives
    epoch seconds, ``monotonic`` measures the CPU interval. A process found by name is looked up
    again after it exits (a restarted server keeps being watched); several processes with the
    same name are an error (give the pid).
    """

    name = "process"

    def __init__(
        self,
        *,
        pid: int | None = None,
        name: str | None = None,
        interval_s: float = 1.0,
        history: int = 3600,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if (pid is None) == (name is None):
            raise SourceError("the process source needs exactly one of pid or name")
        if interval_s <= 0:
            raise SourceError(f"process sampling interval {interval_s}s must be positive")
        self._pid = pid
        self._name = name
        self.interval_s = interval_s
        self._clock = clock
        self._monotonic = monotonic
        self._proc: Any = None
        self._last: tuple[float, float, float] | None = None  # (epoch, monotonic, cpu seconds)
        self._total_memory: int | None = None
        self._history: collections.deque[ProcessSample] = collections.deque(maxlen=max(2, history))
        self._last_error = ""

    @property
    def resource(self) -> str:
        """``pid:<pid>`` or ``process:<name>``."""
        return f"pid:{self._pid}" if self._pid is not None else f"process:{self._name}"

    @property
    def last_error(self) -> str:
        """Why the last sample failed ("" when it did not)."""
        return self._last_error

    def sample(self) -> ProcessSample:
        """Read the process now. Blocking (psutil): run it in a real OS thread under gevent.

        Raises ``SourceUnavailableError`` when the process is gone or cannot be found, ``SourceError``
        when a name matches several processes or access is denied.
        """
        try:
            proc = self._process()
            with proc.oneshot():
                times = proc.cpu_times()
                rss = int(proc.memory_info().rss)
            if self._total_memory is None:
                self._total_memory = int(psutil.virtual_memory().total)
        except psutil.NoSuchProcess as exc:
            self._proc = None
            self._last = None
            self._last_error = f"{self._describe()} has exited"
            raise SourceUnavailableError(self._last_error) from exc
        except psutil.AccessDenied as exc:
            self._last_error = f"not allowed to read {self._describe()} (run as its user or root)"
            raise SourceError(self._last_error) from exc
        except SourceError as exc:
            self._last_error = str(exc)
            raise
        now, mono = self._clock(), self._monotonic()
        cpu_s = float(times.user + times.system)
        cpu_percent = previous_t = None
        if self._last is not None and mono > self._last[1]:
            previous_t = self._last[0]
            cpu_percent = max(0.0, (cpu_s - self._last[2]) / (mono - self._last[1]) * 100.0)
        self._last = (now, mono, cpu_s)
        self._last_error = ""
        return ProcessSample(
            t=now,
            previous_t=previous_t,
            cpu_percent=cpu_percent,
            rss_bytes=rss,
            memory_percent=rss / self._total_memory * 100.0,
            pid=int(proc.pid),
        )

    def record(self, sample: ProcessSample) -> None:
        """Keep ``sample`` in the bounded history (call on the thread that calls ``fetch``)."""
        self._history.append(sample)

    def sample_and_record(self) -> ProcessSample:
        """``sample()`` then ``record()``: for callers outside gevent, on their own thread."""
        s = self.sample()
        self.record(s)
        return s

    def fetch(self, start: float, end: float) -> SourceResult:
        """The recorded samples in ``[start, end]`` as three series; none recorded means ``Missing``."""
        samples = [s for s in self._history.copy() if start <= s.t <= end]
        cpu = tuple(
            (s.previous_t, s.cpu_percent)
            for s in samples
            if s.cpu_percent is not None and s.previous_t is not None
        )
        mem = tuple((s.t, s.memory_percent) for s in samples)
        rss = tuple((s.t, float(s.rss_bytes)) for s in samples)
        series: list[Series] = []
        missing: list[Missing] = []
        for metric, stat, unit, points in (
            ("cpu_percent", "Average", "Percent", cpu),
            ("memory_percent", "Sample", "Percent", mem),
            ("rss_bytes", "Sample", "Bytes", rss),
        ):
            if points:
                series.append(
                    Series(
                        source=self.name,
                        resource=self.resource,
                        metric=metric,
                        stat=stat,
                        unit=unit,
                        points=points,
                        period_s=self.interval_s,
                    )
                )
            else:
                why = self._last_error or "was the sampler running?"
                missing.append(
                    Missing(
                        source=self.name,
                        resource=self.resource,
                        metric=metric,
                        stat=stat,
                        what=f"{metric} of {self._describe()}",
                        reason=(
                            f"no samples of {self._describe()} between {_hms(start)} and {_hms(end)}: {why}"
                        ),
                    )
                )
        return SourceResult(series=tuple(series), missing=tuple(missing))

    def _describe(self) -> str:
        return f"process {self._pid}" if self._pid is not None else f"process {self._name!r}"

    def _process(self) -> Any:
        if self._proc is not None:
            return self._proc
        if self._pid is not None:
            proc = psutil.Process(self._pid)
        else:
            matches = [p for p in psutil.process_iter(["name"]) if p.info.get("name") == self._name]
            if not matches:
                raise SourceUnavailableError(f"no process named {self._name!r} is running")
            if len(matches) > 1:
                pids = ", ".join(str(p.pid) for p in matches[:5])
                raise SourceError(f"several processes are named {self._name!r} (pids {pids}): give the pid")
            proc = matches[0]
        self._proc = proc
        self._last = None
        return proc


def _hms(t: float) -> str:
    return time.strftime("%H:%M:%SZ", time.gmtime(t))


class GeventSampler:
    """Samples a ``ProcessSource`` every ``interval_s`` without blocking gevent's loop.

    A greenlet runs ``source.sample`` in the hub's threadpool (a real OS thread) and records the
    sample back on the hub's thread; a failed sample (process gone, not yet started) is kept as
    the source's ``last_error`` and sampling goes on. The greenlet runs only while the hub runs,
    i.e. inside a gevent program such as Locust.
    """

    def __init__(self, source: ProcessSource, *, interval_s: float | None = None) -> None:
        self._source = source
        self._interval_s = interval_s if interval_s is not None else source.interval_s
        self._greenlet: Any = None

    @property
    def running(self) -> bool:
        """Whether the sampling greenlet is alive."""
        return self._greenlet is not None and not self._greenlet.dead

    def start(self) -> None:
        """Start sampling (idempotent)."""
        if self.running:
            return
        import gevent  # deferred: importing gevent has effects a non-Locust caller should not get

        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        """Stop sampling; a sample already running in the threadpool is discarded."""
        if self._greenlet is not None:
            self._greenlet.kill(block=True)
            self._greenlet = None

    def _run(self) -> None:
        import gevent

        pool = gevent.get_hub().threadpool
        while True:
            try:
                sample = pool.apply(self._source.sample)
            except SourceError:
                pass  # kept in source.last_error; reported by fetch as the reason for missing samples
            else:
                self._source.record(sample)
            gevent.sleep(self._interval_s)
