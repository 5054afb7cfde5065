"""What the bridge drives besides Locust: live exporters and the Grafana annotator, as Protocols.

The bridge never names a concrete exporter; ``exporters.base.Exporter`` is the contract of the
live exporters, and an annotator is an exporter with two abilities more (marking a phase on the
timeline, closing the run with its verdict).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from runner.model import LiveState, RunInfo


class PhaseMarker(Protocol):
    """Something that marks a run's phases on a timeline (Grafana annotations)."""

    def mark(self, phase: str, *, at: float, detail: str = "") -> None: ...


class Annotator(PhaseMarker, Protocol):
    """The Grafana annotator as the bridge drives it: an exporter that also marks phases and ends
    the run's region with its verdict."""

    name: str

    def start(self, info: RunInfo, read_state: Callable[[], LiveState]) -> None: ...
    def finish(self, *, status: str, summary: str, end: float) -> None: ...
    def stop(self, final: LiveState) -> None: ...
    def wait_linger(self, timeout_s: float | None = None) -> bool: ...
