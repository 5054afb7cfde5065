"""Verdict tables that scale: 300 endpoints on the console, and a step summary under GitHub's 1 MiB."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from runner.model import Result, Status, Verdict
from runner.reports.console import render_table
from runner.reports.markdown import STEP_SUMMARY_MAX_BYTES, step_summary_markdown, verdict_markdown
from runner.reports.tables import fold
from tests.reports.test_reports import make_record
from tests.support.runs import LOCUSTFILES, loadlens_cmd, only_run_dir, run


def _row(name: str, status: Status = Status.PASS, scope: str = "client") -> Result:
    return Result(name, "p95 <= 500 ms", 12.0, 500.0, status, "ok", "ms", scope=scope)


def _verdict(endpoints: int, *, failing: int = 1) -> Verdict:
    rows = [_row("all requests p95"), _row("all requests error rate"), _row("server ECS CPU", scope="server")]
    for i in range(endpoints):
        rows.append(_row(f"GET /items/{i} p95"))
        rows.append(_row(f"GET /items/{i} error rate", Status.FAIL if i < failing else Status.PASS))
    status = Status.FAIL if failing else Status.PASS
    return Verdict(tuple(rows), status, 1 if failing else 0)


class TestConsole:
    def test_300_endpoints_show_the_overall_rows_the_broken_ones_and_one_line(self) -> None:
        """603 rows: 3 overall + 1 FAIL shown, "599 endpoint criteria passed (all in verdict.md)"."""
        text = render_table(_verdict(300), color=False)
        lines = text.splitlines()
        assert "599 endpoint criteria passed (all in verdict.md)" in lines
        shown = [ln for ln in lines if ln.endswith(("PASS", "FAIL"))]
        assert [ln.split()[0:2] for ln in shown] == [
            ["all", "requests"],
            ["all", "requests"],
            ["server", "ECS"],
            ["GET", "/items/0"],
        ]
        assert len(lines) < 15

    def test_verbose_shows_every_row(self) -> None:
        text = render_table(_verdict(300), color=False, verbose=True)
        assert "endpoint criteria passed" not in text
        assert text.count("PASS") + text.count("FAIL") >= 603

    def test_a_short_table_is_shown_whole(self) -> None:
        """Up to 25 rows nothing folds: the demo's table stays as it was."""
        verdict = _verdict(11, failing=0)
        assert len(verdict.results) == 25
        assert fold(verdict.results).passed_hidden == 0
        text = render_table(verdict, color=False)
        assert "GET /items/10 p95" in text and "passed (all in" not in text


class TestStepSummary:
    def test_a_small_summary_is_verdict_md_itself(self) -> None:
        record = make_record()
        assert step_summary_markdown(record) == verdict_markdown(record)

    def test_a_huge_table_folds_under_githubs_limit_and_verdict_md_keeps_every_row(self) -> None:
        """10,000 endpoints: verdict.md is over 1 MiB with every row; the step summary folds the
        passing endpoint rows into one line and fits."""
        record = make_record()
        record = replace(record, verdict=_verdict(10_000))
        whole = verdict_markdown(record)
        assert len(whole.encode()) > STEP_SUMMARY_MAX_BYTES and "GET /items/9999 p95" in whole
        summary = step_summary_markdown(record)
        assert len(summary.encode()) <= STEP_SUMMARY_MAX_BYTES
        assert "19,999 endpoint criteria passed (all in verdict.md in the run directory)" in summary
        assert "GET /items/0 error rate" in summary and "GET /items/9999 p95" not in summary


@pytest.mark.slow
class TestEndToEnd:
    def test_a_run_with_hundreds_of_endpoints_prints_a_short_table(self, tmp_path: Path, target: str) -> None:
        """A real run with ~500 request names: the console folds the passing endpoint rows into one
        line; verdict.md keeps them all; `loadlens verdict --verbose` prints every row."""
        (tmp_path / "loadlens.toml").write_text("[thresholds]\nerror_rate = 0.5\n")
        out = tmp_path / "out"
        proc = run(
            loadlens_cmd("run", "-f", str(LOCUSTFILES / "many_names.py"), "-H", target, "--headless", "-u", "4",
                         "-r", "20", "-t", "4s", "--only-summary", "--out", str(out)),
            cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        folded = [
            ln
            for ln in proc.stdout.splitlines()
            if ln.endswith("endpoint criteria passed (all in verdict.md)")
        ]
        assert len(folded) == 1, proc.stdout
        hidden = int(folded[0].split()[0].replace(",", ""))
        assert hidden > 100
        run_dir = only_run_dir(out)
        assert (run_dir / "verdict.md").read_text().count("error rate") >= hidden
        again = run(loadlens_cmd("verdict", str(run_dir), "--verbose"), cwd=tmp_path)
        assert again.returncode == 0 and "endpoint criteria passed" not in again.stdout
        assert again.stdout.count(" PASS") >= hidden
