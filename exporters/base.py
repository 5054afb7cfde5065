"""The contract every live exporter keeps, and how the bridge drives a set of them.

Threading rule: ``read_state`` is only ever called on the load loop's thread. Under Locust that
is the one OS thread all greenlets share; an exporter reads the state in a greenlet and, when it
has network I/O to do, hands the frozen state to an OS thread of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from runner.model import LiveState, RunInfo

ReadState = Callable[[], LiveState]


@runtime_checkable
class Exporter(Protocol):
    """A live exporter: started once the run is known, stopped with the run's final state."""

    name: str

    def start(self, info: RunInfo, read_state: ReadState) -> None:
        """Begin exporting; may raise ``ExporterError`` (port taken, bad URL). Never blocks."""
        ...

    def stop(self, final: LiveState) -> None:
        """Export ``final`` once more and wind down in the background; never raises, never blocks.
        Prometheus keeps serving ``final`` for its linger."""
        ...

    def wait_linger(self, timeout_s: float | None = None) -> bool:
        """Wait (cooperatively, under gevent) until the exporter is done: its final export sent,
        and for Prometheus the linger over. True when done, False on timeout."""
        ...


def stop_all(exporters: Sequence[Exporter], final: LiveState, *, timeout_s: float | None = None) -> bool:
    """Stop every exporter with ``final`` and wait for all of them (their lingers and final exports
    run side by side). True when all finished within ``timeout_s`` in total."""
    for exporter in exporters:
        exporter.stop(final)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    done = True
    for exporter in exporters:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        done = exporter.wait_linger(left) and done
    return done
