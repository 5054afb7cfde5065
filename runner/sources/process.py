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

The history is bounded (``history`` entries, one hour at one per second) without forgetting the
start of a long run: when it is full, neighbouring entries are merged in pairs and the period
doubles (1 s, 2 s, 4 s…), so a multi-hour soak is judged whole, at a coarser resolution, and
``fetch`` says so in a note. A merged entry keeps the CPU time over its wall time (an exact
average) and the largest memory and RSS of its samples (the criteria judge the peak). ``fetch``
answers from the history and never samples.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

from runner.errors import SourceError, SourceUnavailableError
from runner.readings import Missing, Series
from runner.sources.base import SourceResult
from runner.timefmt import clock_z


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """One reading of the process. ``cpu_percent`` covers ``[previous_t, t]``; None on the first."""

    t: float  # epoch seconds when read
    previous_t: float | None
    cpu_percent: float | None
    rss_bytes: int
    memory_percent: float
    pid: int


@dataclass(frozen=True, slots=True)
class _Span:
    """One history entry: one sample, or consecutive samples merged (see the module docstring)."""

    first_t: float  # the first sample's time
    cpu_from: float | None  # the start of the CPU interval measured (the sample before the first)
    cpu_busy_s: float  # CPU seconds used over ``cpu_wall_s``
    cpu_wall_s: float
    memory_percent: float  # the largest of its samples
    rss_bytes: int  # the largest of its samples
    samples: int

    @staticmethod
    def of(sample: ProcessSample) -> _Span:
        wall = 0.0
        if sample.cpu_percent is not None and sample.previous_t is not None:
            wall = max(0.0, sample.t - sample.previous_t)
        busy = (sample.cpu_percent or 0.0) / 100.0 * wall
        cpu_from = sample.previous_t if wall > 0 else None
        return _Span(sample.t, cpu_from, busy, wall, sample.memory_percent, sample.rss_bytes, 1)

    def merge(self, later: _Span) -> _Span:
        return _Span(
            first_t=self.first_t,
            cpu_from=self.cpu_from if self.cpu_from is not None else later.cpu_from,
            cpu_busy_s=self.cpu_busy_s + later.cpu_busy_s,
            cpu_wall_s=self.cpu_wall_s + later.cpu_wall_s,
            memory_percent=max(self.memory_percent, later.memory_percent),
            rss_bytes=max(self.rss_bytes, later.rss_bytes),
            samples=self.samples + later.samples,
        )

    @property
    def cpu_percent(self) -> float | None:
        return self.cpu_busy_s / self.cpu_wall_s * 100.0 if self.cpu_wall_s > 0 else None


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
        self._max_entries = max(2, history)
        self._history: list[_Span] = []
        self._pending: _Span | None = None  # samples gathering into the next entry once merging began
        self._level = 0  # each entry holds 2 ** level samples
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

    @property
    def period_s(self) -> float:
        """The period one history entry covers now: ``interval_s``, doubled at each merge."""
        return float(self.interval_s * 2**self._level)

    def record(self, sample: ProcessSample) -> None:
        """Keep ``sample`` in the bounded history (call on the thread that calls ``fetch``)."""
        span = _Span.of(sample)
        self._pending = span if self._pending is None else self._pending.merge(span)
        if self._pending.samples < 2**self._level:
            return
        self._history.append(self._pending)
        self._pending = None
        if len(self._history) > self._max_entries:
            old = self._history
            if len(old) % 2:
                self._pending = old.pop()  # an odd last entry waits for its partner
            self._history = [old[i].merge(old[i + 1]) for i in range(0, len(old), 2)]
            self._level += 1

    def sample_and_record(self) -> ProcessSample:
        """``sample()`` then ``record()``: for callers outside gevent, on their own thread."""
        s = self.sample()
        self.record(s)
        return s

    def fetch(self, start: float, end: float) -> SourceResult:
        """The recorded samples in ``[start, end]`` as three series; none recorded means ``Missing``."""
        spans = [*self._history, *([self._pending] if self._pending is not None else [])]
        spans = [s for s in spans if start <= s.first_t <= end]
        cpu = tuple(
            (s.cpu_from, pct) for s in spans if s.cpu_from is not None and (pct := s.cpu_percent) is not None
        )
        mem = tuple((s.first_t, s.memory_percent) for s in spans)
        rss = tuple((s.first_t, float(s.rss_bytes)) for s in spans)
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
                        period_s=self.period_s,
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
                            f"no samples of {self._describe()} between {clock_z(start)} and "
                            f"{clock_z(end)}: {why}"
                        ),
                    )
                )
        notes: tuple[str, ...] = ()
        if self._level:
            notes = (
                f"{self._describe()}: samples every {self.interval_s:g} s were merged into "
                f"{self.period_s:g} s periods to keep the whole run in bounded memory",
            )
        return SourceResult(series=tuple(series), missing=tuple(missing), notes=notes)

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
