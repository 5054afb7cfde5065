"""Distributed runs: what a worker sends with each Locust report, how the master merges it, and
the master's watch on workers that stop sending heartbeats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gevent
from locust.runners import STATE_MISSING

from runner.locust.lifecycle import WorkerWatch
from runner.logs import get_logger
from runner.stats.store import StatsStore, from_wire, to_wire

WIRE_KEY = "loadlens"
log = get_logger("loadlens")


class WorkerLink:
    """The store's side of Locust's worker reports: a delta out at a worker, merged in at the master."""

    def __init__(self, store: Callable[[], StatsStore]) -> None:
        self._store = store  # the bridge's current store (a new test replaces it)

    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        data[WIRE_KEY] = to_wire(self._store().drain(users=0))

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        payload = data.get(WIRE_KEY)
        if payload is None:
            return  # a worker without loadlens: its requests are in Locust's stats only
        try:
            self._store().add(from_wire(payload))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignored a malformed worker report", worker=client_id, error=str(exc))


def check_workers(runner: Any, watch: WorkerWatch, now: float) -> None:
    """At the master: note each worker Locust marks missing (no heartbeat), with its users."""
    clients = getattr(runner, "clients", None)
    if clients is None:
        return
    seen = [(c.id, c.state == STATE_MISSING, c.user_count) for c in list(clients.values())]
    for lost in watch.observe(now, seen):
        log.warning("a worker stopped sending heartbeats", worker=lost.worker_id, users=lost.users)


def watch_workers(runner: Callable[[], Any], watch: WorkerWatch, clock: Callable[[], float]) -> None:
    """``check_workers`` every second, for as long as the greenlet runs."""
    while True:
        gevent.sleep(1.0)
        check_workers(runner(), watch, clock())
