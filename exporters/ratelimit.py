"""Rate-limited warnings: an exporter whose backend is down says so once per interval, not per attempt.

A load test can run for hours against a collector that is down; one line per failed export (or
worse, per SDK retry) would bury the run's own output. Each exporter owns one ``RateLimitedLog``:
it writes at most one warning every ``every_s`` (whatever the warning is about), and the next line
written says how many were held back meanwhile, so nothing is hidden, only summarised.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

LOGGER_NAME = "loadlens.exporters"


class RateLimitedLog:
    """At most one warning per ``every_s`` for one exporter; memory is two numbers."""

    def __init__(
        self,
        *,
        every_s: float,
        logger: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._every_s = every_s
        self._log = logger if logger is not None else structlog.get_logger(LOGGER_NAME)
        self._clock = clock
        self._last: float | None = None
        self._suppressed = 0

    def warning(self, event: str, *, force: bool = False, **fields: Any) -> bool:
        """Log ``event`` unless a warning was written less than ``every_s`` ago; True when written.
        ``force`` writes it regardless (the end of the run: the final export's outcome)."""
        now = self._clock()
        if not force and self._last is not None and now - self._last < self._every_s:
            self._suppressed += 1
            return False
        self._last = now
        if self._suppressed:
            fields["suppressed"] = self._suppressed
            self._suppressed = 0
        self._log.warning(event, **fields)
        return True

    def info(self, event: str, **fields: Any) -> None:
        """Log a one-off informational line (start, stop, recovery): never rate-limited."""
        self._log.info(event, **fields)

    @property
    def suppressed(self) -> int:
        """How many warnings were held back since the last one written."""
        return self._suppressed
