"""Push-style export off the load loop: read on the loop, send from an OS thread of our own.

Every ``interval_s`` a greenlet reads the run's state (on the load loop's thread, as the rule
says) and hands the frozen state to ``send``, which runs on a dedicated one-thread
``gevent.threadpool.ThreadPool``: a real OS thread that gevent does not turn into a greenlet, so
a slow or hanging backend (gRPC, HTTP with a long timeout) can never stall the hub. The pool is
our own rather than the hub's shared one, which gevent's DNS resolver also uses.

At most one export is in flight: when the previous one has not finished, the interval is skipped
(and said, rate-limited), so nothing queues up and memory stays flat while a backend is down. A
failed export is not retried by us; the next interval sends fresh, cumulative data anyway.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.event import AsyncResult, Event
from gevent.threadpool import ThreadPool

from exporters.base import ReadState
from exporters.ratelimit import RateLimitedLog
from runner.model import LiveState

_MAX_ERROR_CHARS = 300
# The end of a run waits at most this long (in total) for an exporter's last export and shutdown:
# a backend that is down must not hold the verdict's exit code back by its full timeout, several times.
SHUTDOWN_WAIT_S = 3.0


@dataclass(frozen=True, slots=True)
class ExportStats:
    """What a periodic exporter has done so far."""

    attempts: int  # sends started (the final one included)
    successes: int
    failures: int
    skipped: int  # intervals skipped because the previous send was still running
    in_flight: bool


class PeriodicExport:
    """Runs ``send(state)`` on its own OS thread every ``interval_s``; never raises into the run."""

    def __init__(
        self,
        *,
        name: str,
        interval_s: float,
        timeout_s: float,
        send: Callable[[LiveState], None],
        log: RateLimitedLog,
        finish: Callable[[], None] | None = None,
        shutdown_wait_s: float = SHUTDOWN_WAIT_S,
    ) -> None:
        self.name = name
        self._interval_s = interval_s
        self._timeout_s = timeout_s  # how long a send may take
        # The whole wind-down (in-flight send, final send, finish) shares one deadline.
        self._shutdown_wait_s = min(shutdown_wait_s, timeout_s + 1.0)
        self._gave_up = False
        self._send = send
        self._finish_fn = finish
        self._log = log
        self._pool: ThreadPool | None = None
        self._loop: gevent.Greenlet | None = None
        self._inflight: AsyncResult | None = None
        self._stopping = Event()
        self._done = Event()
        self._attempts = self._successes = self._failures = self._skipped = 0
        self._failing = False

    def start(self, read_state: ReadState) -> None:
        """Start the interval greenlet (the first send is one interval from now)."""
        if self._pool is not None:
            return
        self._pool = ThreadPool(1)
        self._loop = gevent.spawn(self._run, read_state)

    def stop(self, final: LiveState) -> None:
        """Send ``final`` once the in-flight send (if any) is over, then ``finish``; in the background."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._pool is None:
            self._done.set()
            return
        gevent.spawn(self._wind_down, final)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait until the final send and ``finish`` are over; True when they are."""
        return bool(self._done.wait(timeout_s))

    @property
    def stats(self) -> ExportStats:
        inflight = self._inflight is not None and not self._inflight.ready()
        return ExportStats(self._attempts, self._successes, self._failures, self._skipped, inflight)

    # -- the loop (a greenlet on the load loop's thread) ----------------------------------------
    def _run(self, read_state: ReadState) -> None:
        while not self._stopping.wait(self._interval_s):
            if self._inflight is not None and not self._inflight.ready():
                self._skipped += 1
                self._log.warning(
                    "the previous export is still running: skipped this interval",
                    exporter=self.name,
                    skipped=self._skipped,
                )
                continue
            try:
                state = read_state()
            except Exception as exc:  # the run's own bug; report it, keep the run going
                self._log.warning("could not read the run's state", exporter=self.name, error=repr(exc))
                continue
            self._submit(state)

    def _submit(self, state: LiveState, *, final: bool = False) -> AsyncResult:
        assert self._pool is not None
        self._attempts += 1
        result: AsyncResult = self._pool.spawn(_guarded, self._send, state)
        # Called back on the hub's thread, so counters and logs are only ever touched there.
        result.rawlink(self._on_final if final else self._on_done)
        self._inflight = result
        return result

    def _outcome(self, result: AsyncResult) -> str | None:
        error: str | None = result.value if result.successful() else _describe(result.exception)
        if error is None:
            self._successes += 1
        else:
            self._failures += 1
        return error

    def _on_done(self, result: AsyncResult) -> None:
        error = self._outcome(result)
        if error is None:
            if self._failing:
                self._failing = False
                self._log.info("export recovered", exporter=self.name)
            return
        self._failing = True
        self._log.warning("export failed", exporter=self.name, error=error, failures=self._failures)

    def _on_final(self, result: AsyncResult) -> None:
        error = self._outcome(result)
        if self._gave_up:
            return  # already said: the end of the run stopped waiting for this send
        if error is None:
            self._log.info("final export sent", exporter=self.name)
        else:
            self._log.warning("final export failed", force=True, exporter=self.name, error=error)

    def _give_up(self, what: str) -> None:
        """Say once that the end of the run stopped waiting; the send may go on in its thread."""
        self._gave_up = True
        bound = f"{self._shutdown_wait_s:g} s"
        self._log.warning(
            f"stopped waiting for the backend after {bound} at the end of the run: {what}",
            force=True,
            exporter=self.name,
        )

    def _wind_down(self, final: LiveState) -> None:
        deadline = time.monotonic() + self._shutdown_wait_s

        def left_s() -> float:
            return max(0.0, deadline - time.monotonic())

        try:
            if self._loop is not None:
                self._loop.join(timeout=left_s())
            if self._inflight is not None and not self._inflight.ready():
                self._inflight.wait(left_s())
            if self._inflight is not None and not self._inflight.ready():
                self._give_up("the previous export is still running, the final one was not sent")
                return
            sent = self._submit(final, final=True)
            sent.wait(left_s())
            if not sent.ready():
                self._give_up("the final export was not confirmed")
                return
            if self._finish_fn is not None and self._pool is not None:
                finished: AsyncResult = self._pool.spawn(_guarded, self._finish_fn)
                finished.wait(left_s())
                if not finished.ready():
                    self._give_up("its shutdown did not finish")
                elif finished.value is not None:
                    self._log.warning(
                        "could not finish", force=True, exporter=self.name, error=finished.value
                    )
        finally:
            # The pool's thread is left idle, not killed: under monkey-patching it owns a gevent hub of
            # its own (its sockets made one), and a thread tearing that hub down while the process
            # exits can crash the interpreter's finalisation. Idle, it blocks on a native lock, holds
            # nothing of ours, and ends with the process (as gevent's own resolver threads do).
            self._done.set()


def _guarded(fn: Callable[..., None], *args: Any) -> str | None:
    """Runs on the pool's thread: None on success, else one line saying what went wrong."""
    try:
        fn(*args)
    except Exception as exc:
        return _describe(exc)
    return None


def _describe(exc: BaseException | None) -> str:
    text = f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"
