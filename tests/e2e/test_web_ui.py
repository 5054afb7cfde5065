"""Tests started from Locust's web UI (no ``--headless``), driven through its HTTP API as the UI's
buttons drive it: each test is judged when it stops, into its own run directory, with its verdict in
the log; stopping the process judges a test still running; a stats reset is honoured.

Real Locust (web UI on 127.0.0.1) against the real demo service.
"""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import LoadlensRun
from tests.support.procs import free_port, wait_http
from tests.support.runs import run_dirs, summary
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow

# The demo answers ~20 % of /api/v1/rate-limited with 429: expected here, so a test stopped after a
# second (a 2-of-3 error rate there once FAILed the interrupted test) is judged on what it is about.
LIMITS = "[thresholds]\nerror_rate = 0.5\np95_ms = 5000\n"
CONFIG = LIMITS + "expected_statuses = [429]\n"
RATE_LIMITED = "/api/v1/rate-limited"


class WebUi:
    """Locust's web UI at 127.0.0.1:``port``, used as its buttons use it."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def swarm(self, users: int, rate: int, *, run_time: str | None = None) -> None:
        form = {"user_count": users, "spawn_rate": rate, **({"run_time": run_time} if run_time else {})}
        body = urllib.parse.urlencode(form).encode()
        with urllib.request.urlopen(f"{self.base}/swarm", data=body, timeout=10) as resp:
            assert json.load(resp)["success"], "Locust refused the swarm"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.base}{path}", timeout=10) as resp:
            return json.load(resp)

    def post(self, path: str) -> Any:
        """A button: Stop (``/stop``) or Reset Stats (``/stats/reset``)."""
        with urllib.request.urlopen(f"{self.base}{path}", data=b"", timeout=10) as resp:
            return resp.read()

    def requests(self, name: str = "Aggregated", column: str = "Request Count") -> int:
        """Locust's own count for the current test, all requests or one endpoint's row, from the CSV
        download (``/stats/requests`` is memoized for a few seconds; the CSV is read live)."""
        with urllib.request.urlopen(f"{self.base}/stats/requests/csv", timeout=10) as resp:
            rows = csv.DictReader(io.StringIO(resp.read().decode()))
            return int(next((r[column] for r in rows if r["Name"] == name), 0))

    def state(self) -> str:
        return str(self.get("/stats/requests")["state"])


def judged(out: Path) -> list[dict[str, Any]]:
    """The summaries written so far under ``out``, oldest first."""
    return [summary(d) for d in run_dirs(out) if (d / "summary.json").exists()]


@pytest.fixture
def web_run(tmp_path: Path, target: str) -> tuple[LoadlensRun, WebUi]:
    port = free_port()
    run = LoadlensRun(
        tmp_path, target, config=CONFIG, users=None, spawn_rate=None, run_time=None, headless=False,
        flags=("--web-host", "127.0.0.1", "--web-port", str(port)),
    )  # fmt: skip
    return run, WebUi(port)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


class TestEachTestJudged:
    def test_stop_run_time_and_quitting_each_judge_their_own_test(
        self, web_run: tuple[LoadlensRun, WebUi], tmp_path: Path
    ) -> None:
        """Three tests in one process: stopped with /stop, ended by the form's run time, and still
        running when the process is told to stop. Three run directories, each judged on its own test
        alone (its count is Locust's count for that test), three verdicts in the log, and the
        process exits with the worst of them (the interrupted one: INCONCLUSIVE, 3)."""
        run, ui = web_run
        proc = run.start(log_dir=tmp_path)
        try:
            wait_http(f"{ui.base}/", proc=proc)
            counts = []
            # 1: the Stop button (GET /stop)
            ui.swarm(4, 20)
            wait_until(lambda: ui.requests() > 30, timeout_s=30, what="the first test's requests")
            ui.post("/stop")
            wait_until(lambda: len(judged(run.out)) == 1, timeout_s=60, what="the first test judged")
            counts.append(ui.requests())
            # 2: the run time given in the start form expires
            ui.swarm(4, 20, run_time="3s")
            wait_until(lambda: len(judged(run.out)) == 2, timeout_s=60, what="the second test judged")
            counts.append(ui.requests())
            # 3: still running when the process is stopped
            ui.swarm(4, 20)
            wait_until(lambda: ui.requests() > 30, timeout_s=30, what="the third test's requests")
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=90)
        finally:
            _stop(proc)
        tests = judged(run.out)
        assert len(tests) == 3, [d.name for d in run_dirs(run.out)]
        assert len({t["run_id"] for t in tests}) == 3
        for test, count in zip(tests, counts, strict=False):
            assert test["client"]["whole_run"]["total"]["requests"] == count  # that test alone
        assert [t["interrupted"] for t in tests] == [False, False, True]
        assert [t["exit_code"] for t in tests] == [0, 0, 3], [
            ([c for c in t["criteria"] if c["status"] != "pass"], t["notes"]) for t in tests
        ]
        assert tests[1]["window"]["kind"] == "steady_state"
        log = (tmp_path / "stdout.txt").read_text() + (tmp_path / "stderr.txt").read_text()
        for test in tests:
            assert test["run_id"] in log, log[-3000:]  # each verdict printed with its run directory
        assert proc.returncode == 3

    def test_a_failing_test_makes_the_process_fail(
        self, web_run: tuple[LoadlensRun, WebUi], tmp_path: Path
    ) -> None:
        """A test from the UI that fails its criteria (the 429s, failures here, break a 1 % limit on
        their endpoint): its run directory says FAIL and the process exits 1 when it is stopped. The
        test is stopped once Locust has seen some 429s, so their share is far above 1 %."""
        run, ui = web_run
        strict = f'[thresholds.endpoints."GET {RATE_LIMITED}"]\nerror_rate = 0.01\n'
        run = run.but(config=LIMITS + strict)
        proc = run.start(log_dir=tmp_path)
        try:
            wait_http(f"{ui.base}/", proc=proc)
            ui.swarm(4, 20)
            wait_until(
                lambda: ui.requests(RATE_LIMITED, "Failure Count") >= 3, timeout_s=30, what="some 429s"
            )
            ui.post("/stop")
            wait_until(lambda: len(judged(run.out)) == 1, timeout_s=60, what="the test judged")
            assert ui.state() == "stopped"
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        finally:
            _stop(proc)
        (test,) = judged(run.out)
        assert test["exit_code"] == 1 and proc.returncode == 1


class TestResetStats:
    def test_a_reset_restarts_loadlens_statistics_with_locusts(
        self, web_run: tuple[LoadlensRun, WebUi], tmp_path: Path
    ) -> None:
        """Reset Stats mid-test: the judged test counts what Locust counts after the reset, not the
        requests before it."""
        run, ui = web_run
        proc = run.start(log_dir=tmp_path)
        try:
            wait_http(f"{ui.base}/", proc=proc)
            ui.swarm(4, 20)
            wait_until(lambda: ui.requests() > 60, timeout_s=30, what="requests before the reset")
            before = ui.requests()
            ui.post("/stats/reset")
            wait_until(lambda: 0 < ui.requests() < before, timeout_s=30, what="requests after the reset")
            ui.post("/stop")
            wait_until(lambda: len(judged(run.out)) == 1, timeout_s=60, what="the test judged")
            after = ui.requests()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        finally:
            _stop(proc)
        (test,) = judged(run.out)
        assert test["client"]["whole_run"]["total"]["requests"] == after
        assert test["exit_code"] == 0


class TestRunTimeAndCtrlC:
    def test_run_time_on_the_command_line_ends_a_test_and_it_is_judged(
        self, web_run: tuple[LoadlensRun, WebUi], tmp_path: Path
    ) -> None:
        """``--autostart -t 3s`` with the web UI: the test started with the process ends when -t
        expires (the UI stays up), is judged into its own run directory, and a test started from the
        UI afterwards gets another one."""
        run, ui = web_run
        run = run.but("--autostart", users=4, spawn_rate=20, run_time="3s")
        proc = run.start(log_dir=tmp_path)
        try:
            wait_http(f"{ui.base}/", proc=proc)
            wait_until(lambda: len(judged(run.out)) == 1, timeout_s=60, what="the -t test judged")
            assert proc.poll() is None  # the UI stays up after -t (no --autoquit)
            assert ui.state() == "stopped"
            ui.swarm(4, 20)
            wait_until(lambda: ui.requests() > 30, timeout_s=30, what="the UI test's requests")
            ui.post("/stop")
            wait_until(lambda: len(judged(run.out)) == 2, timeout_s=60, what="the UI test judged")
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        finally:
            _stop(proc)
        first, second = judged(run.out)
        assert first["run_id"] != second["run_id"]
        assert [first["interrupted"], second["interrupted"]] == [False, False]
        assert first["window"]["kind"] == "steady_state" and first["client"]["total"]["requests"] > 0
        assert [first["exit_code"], second["exit_code"]] == [0, 0] and proc.returncode == 0

    def test_ctrl_c_while_a_ui_test_runs_judges_it_as_interrupted(
        self, web_run: tuple[LoadlensRun, WebUi], tmp_path: Path
    ) -> None:
        """SIGINT (Ctrl-C) during a test started from the UI: that test is judged (interrupted,
        INCONCLUSIVE) into its run directory with its verdict in the log, and the process exits 3."""
        run, ui = web_run
        proc = run.start(log_dir=tmp_path)
        try:
            wait_http(f"{ui.base}/", proc=proc)
            ui.swarm(4, 20)
            wait_until(lambda: ui.requests() > 30, timeout_s=30, what="the UI test's requests")
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=90)
        finally:
            _stop(proc)
        (test,) = judged(run.out)
        assert test["interrupted"] is True and test["verdict"] == "inconclusive"
        assert test["client"]["whole_run"]["total"]["requests"] > 30
        log = (tmp_path / "stdout.txt").read_text() + (tmp_path / "stderr.txt").read_text()
        assert test["run_id"] in log
        assert proc.returncode == 3
