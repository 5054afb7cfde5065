"""A locustfile and no configuration: `loadlens run` judges the default criteria (error rate <= 1 %
on all requests), says they are defaults, and never exits 3 for want of criteria. Real Locust
against the demo service on 127.0.0.1, in an empty working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.judge.client import DEFAULT_NOTE
from tests.support.procs import AnswersOk, local_http
from tests.support.runs import LOCUSTFILES, criteria, loadlens_cmd, only_run_dir, run, summary

STYLES = LOCUSTFILES / "styles"


def _run(tmp_path: Path, locustfile: Path, host: str, *extra: str):
    out = tmp_path / "out"
    proc = run(
        loadlens_cmd("run", "-f", str(locustfile), "-H", host, "--headless", "-u", "3", "-r", "10", "-t", "3s",
                     "--out", str(out), *extra),
        cwd=tmp_path,
    )  # fmt: skip
    return proc, out


@pytest.mark.slow
class TestDefaultCriteria:
    def test_a_healthy_run_passes_on_the_default_criteria_and_says_they_are_defaults(
        self, tmp_path: Path, target: str
    ) -> None:
        proc, out = _run(tmp_path, STYLES / "fast_http.py", target)
        assert proc.returncode == 0, proc.stderr[-3000:]
        doc = summary(only_run_dir(out))
        rows = criteria(doc)
        assert list(rows) == ["all requests error rate"]
        assert rows["all requests error rate"]["status"] == "pass"
        assert DEFAULT_NOTE in doc["notes"]
        assert "note: default criteria: error rate <= 1 % on all requests" in proc.stdout

    def test_an_all_failing_run_fails_on_them(self, tmp_path: Path) -> None:
        """Nothing listens on the target: every request fails, exit 1 (not 3, not 0)."""
        proc, out = _run(tmp_path, STYLES / "fast_http.py", "http://127.0.0.1:9")
        assert proc.returncode == 1, proc.stderr[-3000:]
        rows = criteria(summary(only_run_dir(out)))
        assert rows["all requests error rate"]["status"] == "fail"

    def test_a_configured_threshold_replaces_the_defaults(self, tmp_path: Path, target: str) -> None:
        (tmp_path / "loadlens.toml").write_text("[thresholds]\np95_ms = 5000\nper_endpoint = false\n")
        proc, out = _run(tmp_path, STYLES / "fast_http.py", target)
        assert proc.returncode == 0, proc.stderr[-3000:]
        doc = summary(only_run_dir(out))
        assert list(criteria(doc)) == ["all requests p95"]
        assert DEFAULT_NOTE not in doc["notes"]

    def test_loadlens_verdict_keeps_the_defaults_without_repeating_the_note(
        self, tmp_path: Path, target: str
    ) -> None:
        proc, out = _run(tmp_path, STYLES / "fast_http.py", target)
        assert proc.returncode == 0, proc.stderr[-3000:]
        run_dir = only_run_dir(out)
        again = run(loadlens_cmd("verdict", str(run_dir)), cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        doc = summary(run_dir)
        assert list(criteria(doc)) == ["all requests error rate"]
        assert doc["notes"].count(DEFAULT_NOTE) == 1


@pytest.mark.slow
class TestLocustStyles:
    @pytest.mark.parametrize("locustfile", ["tasksets.py", "fast_http.py", "own_shape.py"])
    def test_locustfiles_in_locusts_documented_styles_run_unchanged(
        self, tmp_path: Path, locustfile: str
    ) -> None:
        """TaskSets and SequentialTaskSets, FastHttpUser with catch_response, a locustfile's own
        LoadTestShape: no configuration, exit 0, a run directory with the default verdict. The
        target answers 200 to everything (the demo service fails 0.3 % of job creations at random,
        which now and then put a short run in the error rate's WARN band)."""
        with local_http(AnswersOk) as target:
            proc, out = _run(tmp_path, STYLES / locustfile, target)
        assert proc.returncode == 0, proc.stderr[-3000:]
        doc = summary(only_run_dir(out))
        assert doc["verdict"] == "pass" and doc["client"]["total"]["requests"] > 0


@pytest.mark.slow
class TestDefaultServerCriteria:
    def test_a_process_source_without_config_judges_the_default_server_rows(
        self, tmp_path: Path, target: str
    ) -> None:
        """No loadlens.toml, --process-pid of a quiet local process: the process's CPU and memory are
        judged against the defaults (70 %, 80 %: FAIL only above them) beside the error rate, and the
        verdict says the criteria are defaults."""
        import subprocess
        import sys

        idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        try:
            proc, out = _run(tmp_path, STYLES / "fast_http.py", target, "--process-pid", str(idle.pid))
        finally:
            idle.kill()
            idle.wait(timeout=10)
        assert proc.returncode == 0, proc.stderr[-3000:]
        doc = summary(only_run_dir(out))
        rows = criteria(doc)
        assert rows["server process CPU"]["limit"] == 70 and rows["server process CPU"]["status"] == "pass"
        assert rows["server process memory"]["limit"] == 80
        assert rows["server process memory"]["status"] == "pass"
        assert DEFAULT_NOTE in doc["notes"]
        assert "note: default criteria" in proc.stdout
