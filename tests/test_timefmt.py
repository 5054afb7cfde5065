"""Times and durations, written and read in one place (runner.timefmt) for every room that shows
them: config and flags, the judge's reasons, sources, the Locust lifecycle, reports, the demo."""

from __future__ import annotations

import pytest

from runner import timefmt

MOMENT_S = 1_793_793_605.25  # 2026-11-04T12:00:05.250Z


class TestOneHome:
    def test_every_room_uses_the_timefmt_functions(self) -> None:
        """No room keeps its own copy of a time format: each name is the runner.timefmt function."""
        from runner.config import rules, scenarios
        from runner.judge import breach, server, soak

        assert scenarios.parse_duration_s is timefmt.parse_duration_s
        assert scenarios.format_duration is timefmt.format_duration
        assert rules.parse_duration_s is timefmt.parse_duration_s
        assert soak.format_duration is timefmt.format_rough
        assert breach.clock_utc is timefmt.clock_utc
        assert server.clock_z is timefmt.clock_z and server.iso_seconds is timefmt.iso_seconds

    def test_the_sources_and_reports_call_timefmt(self) -> None:
        """Sources, run directories, the demo and the lifecycle name the timefmt functions."""
        from runner.demo import app
        from runner.reports import rundir
        from runner.sources import base, process

        assert base.format_span is timefmt.format_span
        assert process.clock_z is timefmt.clock_z
        assert rundir.compact_utc is timefmt.compact_utc
        assert app.iso_seconds is timefmt.iso_seconds


class TestFormats:
    @pytest.mark.parametrize(
        ("fmt", "text"),
        [
            (timefmt.iso_utc, "2026-11-04T12:00:05.250Z"),
            (timefmt.iso_seconds, "2026-11-04T12:00:05Z"),
            (timefmt.clock_z, "12:00:05Z"),
            (timefmt.clock_utc, "12:00:05 UTC"),
            (timefmt.compact_utc, "20261104T120005Z"),
        ],
    )
    def test_a_moment(self, fmt: object, text: str) -> None:
        """Each moment format writes the same instant in UTC."""
        assert fmt(MOMENT_S) == text  # type: ignore[operator]

    @pytest.mark.parametrize(
        ("seconds", "run_time", "span", "rough"),
        [
            (50, "50s", "50 s", "50 s"),
            (150, "2m30s", "2 min 30 s", "2 min"),
            (3900, "1h5m", "1 h 5 min", "1h05m"),
            (7800, "2h10m", "2 h 10 min", "2h10m"),
            (3 * 86400 + 4 * 3600, "76h", "76 h", "3d4h"),
        ],
    )
    def test_a_duration(self, seconds: float, run_time: str, span: str, rough: str) -> None:
        """Locust's run-time form round-trips; the exact and the rough sentence forms differ on
        purpose (a remedy must not round down, a forecast need not be exact)."""
        assert timefmt.format_duration(seconds) == run_time
        assert timefmt.parse_duration_s(run_time) == seconds
        assert timefmt.format_span(seconds) == span
        assert timefmt.format_rough(seconds) == rough
