"""One judging path: `loadlens verdict RUN_DIR` with the run's own config gives back the run's own
criteria rows, field for field, on real runs (Locust against the demo service, the local process
source, CloudWatch on a real moto server process, an interrupted run)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import aws_stack
from tests.support.procs import free_port
from tests.support.runs import LOCUSTFILES, REPO, child_env, loadlens_cmd, only_run_dir, run, summary

BASIC = str(LOCUSTFILES / "basic.py")
ROW_KEYS = ("name", "status", "observed", "limit", "required", "reason")
THRESHOLDS = """
[thresholds]
p95_ms = 5000
p99_ms = 5000
min_rps = 1
error_rate = 0.5
expected_statuses = [429]
[thresholds.endpoints."GET /health"]
p95_ms = 2000
[thresholds.endpoints."GET /never-requested"]
p95_ms = 100
"""


def rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: c.get(k) for k in ROW_KEYS} for c in doc["criteria"]]


def rejudged_rows(tmp_path: Path, run_dir: Path, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Re-judge ``run_dir`` with `loadlens verdict` (the run's own config, as summary.json names it)."""
    again = run(loadlens_cmd("verdict", str(run_dir)), cwd=tmp_path, env=env)
    assert again.returncode in (0, 1, 3), again.stderr[-3000:]
    return rows(summary(run_dir))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "loadlens.toml"
    path.write_text(text)
    return path


def basic_run(tmp_path: Path, target: str, config: Path, *extra: str, env=None) -> Path:
    cmd = loadlens_cmd(
        "run", "-f", BASIC, "-H", target, "--headless", "--only-summary",
        "--loadlens-config", str(config), "--out", str(tmp_path / "out"), *extra,
    )  # fmt: skip
    proc = run(cmd, cwd=tmp_path, env=env)
    assert proc.returncode in (0, 1, 3), proc.stderr[-3000:]
    return only_run_dir(tmp_path / "out")


def assert_reproduced(tmp_path: Path, run_dir: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    before = summary(run_dir)
    after = rejudged_rows(tmp_path, run_dir, env)
    assert after == rows(before)
    return before


@pytest.fixture(scope="module")
def demo_pid() -> Iterator[tuple[str, int]]:
    """A demo service of this module's own (its pid is what the process source watches)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner.demo.service", "--port", "0", "--seed", "2"],
        stdout=subprocess.PIPE, text=True, cwd=REPO, env=child_env(),
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("loadlens demo service listening on "), line
    yield line.rsplit(" ", 1)[1].strip(), proc.pid
    proc.terminate()
    proc.wait(timeout=10)


class TestClientRuns:
    def test_steady_run(self, tmp_path: Path, target: str) -> None:
        """A steady run: totals, per-endpoint rows, an explicit endpoint never requested, 429 set apart."""
        rd = basic_run(tmp_path, target, write(tmp_path, THRESHOLDS), "-u", "4", "-r", "20", "-t", "4s")
        doc = assert_reproduced(tmp_path, rd)
        assert doc["window"]["kind"] == "steady_state"
        assert len(doc["criteria"]) >= 6

    def test_staged_run_with_warm_up(self, tmp_path: Path, target: str) -> None:
        """A staged scenario with a warm-up excluded from the judged window."""
        config = (
            THRESHOLDS
            + """
[run]
warmup = "1s"
[scenarios.steps]
stages = [{duration = "2s", users = 2, spawn_rate = 10}, {duration = "3s", users = 4, spawn_rate = 10}]
"""
        )
        rd = basic_run(tmp_path, target, write(tmp_path, config), "--scenario", "steps")
        assert_reproduced(tmp_path, rd)

    def test_interrupted_run(self, tmp_path: Path, target: str) -> None:
        """A run ended by Ctrl-C: incomplete, judged on what was measured, and re-judged alike."""
        out = tmp_path / "out"
        proc = subprocess.Popen(
            loadlens_cmd("run", "-f", BASIC, "-H", target, "--headless", "--only-summary", "-u", "4",
                         "-r", "20", "-t", "120s", "--loadlens-config", str(write(tmp_path, THRESHOLDS)),
                         "--out", str(out)),
            cwd=tmp_path, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not list(out.glob("adhoc_*/locust_stats_history.csv")) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(2)
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=60)
        finally:
            proc.kill()
        assert proc.returncode == 3, stderr[-3000:]
        doc = assert_reproduced(tmp_path, only_run_dir(out))
        assert doc["interrupted"] is True


class TestServerRuns:
    def test_process_source_and_an_unreachable_prometheus(self, tmp_path: Path, demo_pid) -> None:
        """The local process source's rows, and the row of a source that could not answer."""
        url, pid = demo_pid
        config = (
            THRESHOLDS
            + f"""
[prometheus_source]
url = "http://127.0.0.1:{free_port()}"
[prometheus_source.queries]
cpu_percent = "rate(process_cpu_seconds_total[1m]) * 100"
"""
        )
        rd = basic_run(
            tmp_path,
            url,
            write(tmp_path, config),
            "-u",
            "4",
            "-r",
            "20",
            "-t",
            "5s",
            "--process-pid",
            str(pid),
        )
        doc = assert_reproduced(tmp_path, rd)
        names = [c["name"] for c in doc["criteria"]]
        assert "server process CPU" in names and "server metrics (prometheus)" in names

    def test_safety_stop_row(self, tmp_path: Path, demo_pid) -> None:
        """A run the safety stop ended keeps its FAIL row when re-judged."""
        url, pid = demo_pid
        config = THRESHOLDS + "[server]\nabort_cpu_percent = 0.001\nabort_periods = 1\n"
        rd = basic_run(
            tmp_path,
            url,
            write(tmp_path, config),
            "-u",
            "4",
            "-r",
            "20",
            "-t",
            "12s",
            "--process-pid",
            str(pid),
        )
        doc = assert_reproduced(tmp_path, rd)
        assert "server safety stop" in [c["name"] for c in doc["criteria"]]


class TestCloudWatchRuns:
    @pytest.mark.parametrize("how", ["flag", "config"])
    def test_correlated_run(self, tmp_path: Path, target: str, aws, how: str) -> None:
        """A CloudWatch-correlated run (moto): ECS CPU near its limit (WARN), memory, ALB 5xx judged
        zero from sparse data. With ``--correlate-cloudwatch`` on the run only, `loadlens verdict`
        judges the stored series; with ``correlate = true`` in the config it pulls them again."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        aws_stack.seed_web_seconds(stack, cpu=65.0, response_time_s=None)  # no 5xx: CloudWatch publishes none
        config = (
            THRESHOLDS
            + f"""
[cloudwatch]
region = "{aws_stack.REGION}"
ecs_cluster = "{stack.cluster}"
ecs_service = "{stack.service}"
preroll = "2m"
period = "1s"
settle = "0s"
{"correlate = true" if how == "config" else ""}
"""
        )
        flags = ("--correlate-cloudwatch",) if how == "flag" else ()
        rd = basic_run(
            tmp_path, target, write(tmp_path, config), "-u", "4", "-r", "20", "-t", "4s", *flags, env=aws
        )
        doc = assert_reproduced(tmp_path, rd, env=aws)
        by_name = {c["name"]: c for c in doc["criteria"]}
        assert by_name["server ECS CPU"]["status"] == "warn"
        assert by_name["server ALB 5xx"]["status"] == "pass", json.dumps(by_name["server ALB 5xx"])
