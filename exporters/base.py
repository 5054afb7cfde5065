"""The contract every live exporter keeps, and how the bridge drives a set of them.

Threading rule: ``read_state`` is only ever called on the load loop's thread. Under Locust that
is the one OS thread all greenlets share; an exporter reads the state in a greenlet and, when it
has network I/O to do, hands the frozen state to an OS thread of its own.
"""

from __future__ import annotations

from collections.abc import Callable
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
