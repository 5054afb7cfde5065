"""The comparison and the history inside the report page (`compare --html`, `history --html`): the
document the page's script draws carries the same rows, statuses and change point as the console."""

from __future__ import annotations

import io
import json
from pathlib import Path

from runner.commands.compare import compare_command
from runner.commands.history import history_command
from runner.reports.summary_json import write_summary
from tests.compare.runs import T0, make_run
from tests.compare.test_command import dirs
from tests.reports.test_html import page_document


def test_compare_html_carries_the_comparison_rows(tmp_path: Path) -> None:
    """A +50 % endpoint: the page's comparison section has every row of the JSON output (regressed
    first), each with baseline, current, change, CI and status cells, and the outcome line."""
    base, slow = dirs(tmp_path)
    out, page = io.StringIO(), tmp_path / "compare.html"
    assert (
        compare_command([str(base), str(slow), "--format", "json", "--html", str(page)], env={}, out=out) == 1
    )
    rows = json.loads(out.getvalue())["rows"]
    section = page_document(page.read_text())["comparison"]
    assert section["header"] == ["subject", "metric", "baseline", "current", "change", "95 % CI", "status"]
    assert len(section["rows"]) == len(rows) and section["left_out"] == 0
    assert section["rows"][0]["status"] == "regressed"
    assert sorted(r["status"] for r in section["rows"]) == sorted(r["status"] for r in rows)
    jobs = next(r for r in section["rows"] if r["cells"][:2] == ["GET /api/v1/jobs", "p95_ms"])
    assert jobs["status"] == "regressed" and jobs["cells"][4].startswith("+") and "…" in jobs["cells"][5]
    assert section["outcome"].startswith("regressed:") and (section["baseline"], section["current"]) == (
        "load_base_7f3",
        "load_slow_9c1",
    )


def test_history_html_carries_the_rows_and_the_change_point(tmp_path: Path) -> None:
    """Five runs at 50 ms then four at 80 ms: `history --html` writes the newest run's page with a
    history section: one row per run (the console's cells), the trend, and the change point."""
    for i, ms in enumerate([50] * 5 + [80] * 4):
        run = make_run(
            {"/health": ms, "/api/v1/jobs": 20.0}, seed=i, run_id=f"load_{i:02d}", start=T0 + 100 * i
        )
        write_summary(run, tmp_path / "runs" / run.info.run_id)
    page = tmp_path / "history.html"
    assert history_command([str(tmp_path / "runs"), "--html", str(page)], out=io.StringIO()) == 0
    doc = page_document(page.read_text())
    assert doc["meta"]["run_id"] == "load_08"  # the newest run, in full
    history = doc["history"]
    assert [r["run_id"] for r in history["runs"]] == [f"load_{i:02d}" for i in range(9)]
    assert len(history["table"]) == 10 and history["table"][0][:4] == [
        "started (UTC)",
        "run",
        "verdict",
        "p95",
    ]
    assert history["change_point"]["run_id"] == "load_05" and history["trend_per_run"] > 0
    assert history["change_point"]["index"] == 5  # the page draws the mark at this run
    assert str(tmp_path) not in page.read_text()  # no local paths on the page
