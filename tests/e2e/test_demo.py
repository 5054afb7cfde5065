"""`loadlens demo` end to end: the bundled service, a real Locust run, the verdict and its files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import Finished
from tests.support.runs import criteria, loadlens_cmd, only_run_dir, run, summary


class TestDemo:
    @pytest.mark.serial  # the demo's latency thresholds (GET /health p95 <= 50 ms) must hold
    def test_demo_passes_on_a_healthy_machine(self, tmp_path: Path) -> None:
        """The demo runs its service and locustfile, prints a PASS verdict with server rows, and exits 0."""
        proc = run(
            loadlens_cmd("demo", "-t", "8s", "--out", str(tmp_path / "results")), cwd=tmp_path, timeout_s=120
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        rd = only_run_dir(tmp_path / "results")
        assert rd.name.startswith("demo_")
        doc = summary(rd)
        rows = criteria(doc)
        assert doc["verdict"] in ("pass", "warn")
        assert rows["GET /health p95"]["limit"] == 50
        assert rows["server process CPU"]["status"] in (
            "pass",
            "warn",
        )  # the service's own process was judged
        assert doc["client"]["whole_run"]["total"]["expected"] > 0  # 429s declared expected
        assert (
            "verdict: PASS" in proc.stdout
            and f"run directory: {rd}" in proc.stdout.replace(str(tmp_path) + "/", "")
        ) or rd.name in proc.stdout
        assert "Traceback" not in proc.stderr

    def test_degraded_demo_fails_with_an_explanation(self, degraded_demo: Finished) -> None:
        """With --degrade the service is slow and failing: the verdict is FAIL (exit 1) and says why."""
        proc = degraded_demo
        assert proc.returncode == 1, proc.stderr[-3000:]
        doc = summary(degraded_demo.run_dir)
        failed = [c for c in doc["criteria"] if c["status"] == "fail"]
        assert any(c["name"] == "POST /api/v1/jobs p95" for c in failed)
        assert all("exceeds" in c["reason"] or "below" in c["reason"] for c in failed)
        assert "verdict: FAIL (exit 1)" in proc.stdout
        assert "failed its thresholds, as intended" in proc.stderr
