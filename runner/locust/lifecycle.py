"""The end of a run, done so that nothing is lost: Ctrl-C, users still in flight, workers that vanish.

Why a module of its own: the rules here decide whether a run may pass at all (an interrupted run,
or one that lost a worker, never does) and whether its reports survive an impatient second Ctrl-C.
The bridge calls in; nothing here imports Locust, so the rules read (and test) without it.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import gevent
import greenlet
from gevent.event import Event

from runner.timefmt import clock_utc, format_duration

# How long an interrupted run waits for users to finish the request they are in (unless Locust's
# own --stop-timeout asks for longer); a second Ctrl-C ends the wait at once.
USER_STOP_GRACE_S = 5.0


def interrupted_reason(*, at: float, run_start: float, planned_s: float | None) -> str:
    """``interrupted at 12:00:03 UTC, 3s into the run (planned 2m)``: the verdict line's words."""
    into = format_duration(max(0.0, at - run_start))
    planned = f" (planned {format_duration(planned_s)})" if planned_s else ""
    return f"interrupted at {clock_utc(at)}, {into} into the run{planned}"


class InterruptShield:
    """Ctrl-C for the process that judges.

    The first Ctrl-C raises KeyboardInterrupt in Locust's main greenlet, where Locust stops the run
    cleanly (and only there: in a simulated user's greenlet gevent would print a traceback). From
    the moment the end of the run begins (that first Ctrl-C, or Locust's SIGTERM shutdown) the
    reports are shielded: a further Ctrl-C (or SIGTERM: ``cut_short``) sets ``hurry`` and cuts short
    only waits entered with ``interruptible()`` (the CloudWatch settle wait, the exporters' linger),
    never the writing.
    """

    def __init__(self) -> None:
        self.hurry = Event()
        self._main: Any = None
        self._ending = False  # the first Ctrl-C came, or the end of the run began
        self._writing = False  # the end of the run began: judging and writing the reports
        self._waiting = False  # inside an interruptible wait

    def install(self) -> None:
        """Take over SIGINT (only possible, and only needed, on the main thread)."""
        if threading.current_thread() is not threading.main_thread():
            return
        self._main = greenlet.getcurrent()
        signal.signal(signal.SIGINT, self._on_sigint)

    def protect(self) -> None:
        """The end of the run has begun: from now on a Ctrl-C only hurries."""
        self._ending = self._writing = True

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        """A wait a later Ctrl-C may cut short (it raises KeyboardInterrupt inside the block)."""
        self._waiting = True
        try:
            yield
        finally:
            self._waiting = False

    def cut_short(self) -> None:
        """A further request to stop once the end has begun (Locust runs one more shutdown per
        SIGTERM): what a second Ctrl-C does. The waits end; the writing, if still going, finishes."""
        self._ending = True
        self.hurry.set()
        if self._waiting and self._main is not None and greenlet.getcurrent() is not self._main:
            gevent.get_hub().loop.run_callback(self._throw)

    def _on_sigint(self, _signum: int, _frame: Any) -> None:
        if self._ending:
            self.hurry.set()
            if not self._waiting:
                return  # shielded: the reports are being written
        self._ending = True
        if greenlet.getcurrent() is self._main:
            raise KeyboardInterrupt
        gevent.get_hub().loop.run_callback(self._throw)

    def _throw(self) -> None:
        # Runs a moment later on the hub: by then the main greenlet may have left its wait or begun
        # writing; then the Ctrl-C stays a hurry and nothing is raised.
        if self._waiting or not self._writing:
            self._main.throw(KeyboardInterrupt)


def stop_users_gracefully(
    user_greenlets: Iterable[Any],
    *,
    grace_s: float,
    hurry: Event,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Ask every simulated user to stop once its current task is done, and wait for them (at most
    ``grace_s``, or until ``hurry``): then the summary holds every request the target received,
    none cut off in flight. Returns how many users were still running when the wait ended."""
    greenlets = [g for g in list(user_greenlets) if not g.dead]
    for g in greenlets:
        user = g.args[0] if g.args else None
        if user is None:
            continue
        try:
            user.stop(force=False)
        except Exception:  # a user in an unexpected state: Locust's own stop kills it later
            continue
    deadline = clock() + grace_s
    while any(not g.dead for g in greenlets) and not hurry.is_set() and clock() < deadline:
        gevent.sleep(0.02)
    return sum(1 for g in greenlets if not g.dead)


@dataclass(frozen=True, slots=True)
class LostWorker:
    """A worker that stopped sending heartbeats mid-run: its unsent requests are missing."""

    worker_id: str
    lost_at: float  # epoch seconds
    users: int  # the users it was running when last heard from

    def sentence(self, run_start: float) -> str:
        into = format_duration(max(0.0, self.lost_at - run_start))
        users = "1 user" if self.users == 1 else f"{self.users} users"
        return (
            f"worker {self.worker_id} was lost at {clock_utc(self.lost_at)} ({into} into the run) "
            f"while running {users}: its requests since its last report are missing"
        )


class WorkerWatch:
    """At the master: remembers each worker's users while it reports, and notes the moment Locust
    marks it missing (no heartbeat), before Locust forgets what it carried."""

    def __init__(self) -> None:
        self._users: dict[str, int] = {}
        self._lost: dict[str, LostWorker] = {}

    def observe(self, now: float, workers: Iterable[tuple[str, bool, int]]) -> list[LostWorker]:
        """``workers``: (id, missing, users) for every worker the master knows. Returns the newly lost."""
        found = []
        for worker_id, missing, users in workers:
            if not missing:
                if users:
                    self._users[worker_id] = users
                continue
            if worker_id not in self._lost:
                lost = LostWorker(worker_id, now, self._users.get(worker_id, users))
                self._lost[worker_id] = lost
                found.append(lost)
        return found

    @property
    def lost(self) -> tuple[LostWorker, ...]:
        return tuple(self._lost.values())
