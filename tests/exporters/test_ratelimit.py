"""Rate-limited warnings: at most one line per interval per exporter, with the held-back count."""

from __future__ import annotations

from typing import Any

import structlog

from exporters.ratelimit import RateLimitedLog
from tests.support.live_states import Clock


class Recorder:
    """A structlog-shaped logger that keeps what it was asked to write."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.lines.append(("warning", event, fields))

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append(("info", event, fields))


class TestRateLimitedLog:
    def test_once_per_interval_not_per_attempt(self) -> None:
        """Ten failures within one interval write one line; the next interval's line counts the nine."""
        clock, rec = Clock(0.0), Recorder()
        log = RateLimitedLog(every_s=5.0, logger=rec, clock=clock)
        written = [log.warning("export failed", error="refused") for _ in range(10)]
        assert written == [True] + [False] * 9
        assert log.suppressed == 9
        clock.now = 4.999
        assert not log.warning("export failed", error="refused")
        clock.now = 5.0
        assert log.warning("export failed", error="refused")
        assert [fields for _, _, fields in rec.lines] == [
            {"error": "refused"},
            {"error": "refused", "suppressed": 10},
        ]
        assert log.suppressed == 0

    def test_one_budget_per_exporter_whatever_the_warning(self) -> None:
        """A "still running" warning and a "failed" one in the same interval make one line, not two."""
        clock, rec = Clock(0.0), Recorder()
        log = RateLimitedLog(every_s=5.0, logger=rec, clock=clock)
        assert log.warning("export failed")
        assert not log.warning("the previous export is still running")
        assert [event for _, event, _ in rec.lines] == ["export failed"]

    def test_forced_warnings_always_get_through(self) -> None:
        """The final export's failure is written even right after another warning."""
        clock, rec = Clock(0.0), Recorder()
        log = RateLimitedLog(every_s=60.0, logger=rec, clock=clock)
        log.warning("export failed")
        assert log.warning("final export failed", force=True)
        assert [event for _, event, _ in rec.lines] == ["export failed", "final export failed"]

    def test_info_is_never_limited(self) -> None:
        """Start, recovery and stop lines always get through."""
        rec = Recorder()
        log = RateLimitedLog(every_s=60.0, logger=rec, clock=Clock(0.0))
        log.info("started")
        log.info("started")
        assert len(rec.lines) == 2

    def test_default_logger_is_the_exporters_structlog_logger(self) -> None:
        """Without a logger given, lines go to structlog's "loadlens.exporters" logger."""
        with structlog.testing.capture_logs() as logs:
            RateLimitedLog(every_s=1.0).warning("something broke", exporter="otlp")
        assert logs == [{"event": "something broke", "exporter": "otlp", "log_level": "warning"}]
