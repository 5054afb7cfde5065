"""The history of runs: one row per run, oldest first, the trend, and the change point only when
a lasting change is large and real."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from runner.commands.history import render_console
from runner.compare.history import history_of, read_history
from runner.reports.summary_json import write_summary
from tests.compare.runs import T0, make_run


def runs(levels: list[float]):
    return [
        make_run({"/health": ms, "/api/v1/jobs": 20.0}, seed=i, run_id=f"load_{i:02d}", start=T0 + 100 * i)
        for i, ms in enumerate(levels)
    ]


class TestChangePoint:
    def test_a_lasting_step_is_found_at_its_first_run(self) -> None:
        """Five runs at 50 ms then four at 80 ms: the change began at the sixth run."""
        h = history_of(runs([50] * 5 + [80] * 4))
        assert h.change_point is not None and h.change_point.run_id == "load_05"
        assert h.change_point.change_ratio > 0.1

    def test_flat_history_has_none(self) -> None:
        """Nine runs at one level: no change point, a trend near zero."""
        h = history_of(runs([50] * 9))
        assert h.change_point is None
        assert h.trend_per_run is not None and abs(h.trend_per_run) < 0.02

    def test_one_odd_run_is_not_a_change(self) -> None:
        """One slow run among fast ones is not a lasting change."""
        assert history_of(runs([50, 50, 50, 50, 90, 50, 50, 50])).change_point is None

    def test_a_steady_climb_shows_in_the_trend(self) -> None:
        """Each run ~5 % slower than the last: a positive trend per run."""
        h = history_of(runs([50 * 1.05**i for i in range(8)]))
        assert h.trend_per_run is not None and h.trend_per_run > 0.03


class TestReadHistory:
    def test_rows_from_run_directories_filtered_by_scenario(self, tmp_path: Path) -> None:
        """Run directories in any order are listed oldest first; --scenario keeps one scenario."""
        for r in reversed(runs([50] * 3 + [80] * 3)):
            write_summary(r, tmp_path / r.info.run_id)
        other = make_run({"/x": 5.0}, seed=99, run_id="smoke_1")
        write_summary(replace(other, info=replace(other.info, scenario="smoke")), tmp_path / "smoke_1")
        h = read_history(tmp_path, scenario="load")
        assert [r.run_id for r in h.rows] == [f"load_{i:02d}" for i in range(6)]
        text = render_console(h)
        assert "p95 GET /health" in text and "change point: load_03" in text and "◀ change" in text
        assert len(read_history(tmp_path).rows) == 7
