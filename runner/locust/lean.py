"""The request listeners: loadlens's alone, or lean (the default): Locust's and loadlens's in one.

Why lean: with loadlens attached, every request fires two listeners. Locust's own calls
``RequestStats.log_request``, which logs the request twice (into the endpoint's entry and into the
"Aggregated" one), each time reading the clock, rounding the response time and going through four
method calls; then loadlens's listener records it again. ``LeanListener`` takes the place of
Locust's listener in the event's list (so the locustfile's own listeners keep their order) and in
one call writes exactly the fields Locust's would write, for both entries, with one clock reading
and one rounding, then records the request in loadlens's store. Locust's web UI, CSV, HTML report
and worker reports read the same figures as without lean: nothing they show changes.

Lean applies only where it can be sure: Locust's own listener must be found by name (it is a
closure in ``Runner.__init__``), the stats must be Locust's own ``RequestStats`` and the methods
lean stands in for must be Locust's own (not replaced since loadlens was imported). Otherwise
loadlens's listener is added beside whatever is there, as with ``--no-lean``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import locust.stats
from locust.stats import RequestStats, StatsEntry

from runner.stats.store import StatsStore

LOCUST_LISTENER = ("locust.runners", "Runner.__init__.<locals>.on_request")
# Locust's methods that lean does the work of. When one is replaced by the time the test is set up
# (a plugin or a locustfile that customises Locust's statistics), lean steps aside.
_LOCUST_METHODS = (
    (RequestStats, "log_request", RequestStats.log_request),
    (StatsEntry, "log", StatsEntry.log),
    (StatsEntry, "_log_time_of_request", StatsEntry._log_time_of_request),
    (StatsEntry, "_log_response_time", StatsEntry._log_response_time),
)


class HasStore(Protocol):
    """What the listeners write into: the bridge, whose store is replaced when the test starts."""

    store: StatsStore


class RequestListener:
    """loadlens's own listener, beside Locust's (``--no-lean``): one dict lookup and a few bumps."""

    __slots__ = ("_owner",)

    def __init__(self, owner: HasStore) -> None:
        self._owner = owner

    def __call__(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        response: Any = None,
        exception: Any = None,
        **_kw: Any,
    ) -> None:
        status = getattr(response, "status_code", 0) or 0
        self._owner.store.record(
            request_type, name, response_time or 0.0, status, exception is not None, response_length
        )


class LeanListener:
    """Locust's statistics and loadlens's in one pass (see the module docstring)."""

    __slots__ = ("_clock", "_owner", "_runner")

    def __init__(self, runner: Any, owner: HasStore, *, clock: Callable[[], float] = time.time) -> None:
        self._runner = runner  # Locust's runner: its stats are read per call (clear_all replaces them)
        self._owner = owner
        self._clock = clock

    def __call__(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int,
        response: Any = None,
        exception: Any = None,
        **_kw: Any,
    ) -> None:
        stats = self._runner.stats
        now = self._clock()
        second = int(now)
        # Looked up on the module each time, as Locust documents it may be replaced at run time.
        rounded = None if response_time is None else locust.stats.bucket_response_time(response_time)
        entries = stats.entries
        entry = entries.get((name, request_type))
        if entry is None:
            entry = entries[(name, request_type)]  # Locust's EntriesDict creates it
        # Locust 2.4x's StatsEntry.log (with _log_time_of_request and _log_response_time) for the
        # Aggregated entry and the endpoint's, in a loop rather than a function: no call per entry.
        for e in (stats.total, entry):
            last = e.last_request_timestamp
            if last and e.use_response_times_cache and second > int(last):
                e._cache_response_times(second - 1)
            e.num_requests += 1
            e.num_reqs_per_sec[second] += 1
            e.last_request_timestamp = now
            if response_time is None:
                e.num_none_requests += 1
            else:
                e.total_response_time += response_time
                low = e.min_response_time
                if low is None or response_time < low:
                    e.min_response_time = response_time
                if response_time > e.max_response_time:
                    e.max_response_time = response_time
                e.response_times[rounded] += 1
            e.total_content_length += response_length
        if exception:
            stats.log_error(request_type, name, exception)
        status = getattr(response, "status_code", 0) or 0
        self._owner.store.record(
            request_type, name, response_time or 0.0, status, exception is not None, response_length
        )


def _locusts_own(stats: object) -> bool:
    """Whether ``stats`` is Locust's RequestStats with the methods lean does the work of unchanged."""
    if type(stats) is not RequestStats:
        return False
    return all(getattr(cls, name) is original for cls, name, original in _LOCUST_METHODS)


def _is_locusts_listener(handler: object) -> bool:
    names = (getattr(handler, "__module__", None), getattr(handler, "__qualname__", None))
    return names == LOCUST_LISTENER


def listen_requests(events: Any, runner: Any, owner: HasStore, *, lean: bool) -> bool:
    """Attach loadlens to Locust's ``request`` event: lean when asked and possible (True), else
    loadlens's own listener beside Locust's (False)."""
    handlers: list[Any] = events.request._handlers
    if lean and runner is not None and _locusts_own(getattr(runner, "stats", None)):
        for i, handler in enumerate(handlers):
            if _is_locusts_listener(handler):
                handlers[i] = LeanListener(runner, owner)
                return True
    events.request.add_listener(RequestListener(owner))
    return False
