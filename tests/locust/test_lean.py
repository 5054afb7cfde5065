"""--lean (the default): one request listener keeps Locust's statistics and loadlens's.

In process, real Locust objects (Environment, LocalRunner, RequestStats) are fed the same requests
with and without lean and must hold the same figures. End to end, real `loadlens run` processes
against a real HTTP server on 127.0.0.1 show that Locust's web UI JSON and --csv agree with
loadlens's summary.json under lean, standalone and with a master and a worker.
"""

from __future__ import annotations

import csv
import http.server
import json
import random
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runner.config.load import load_config
from runner.config.options import flag_values, pre_parser
from runner.stats.histogram import bucket_upper_ms
from tests.support.cli import end_linger
from tests.support.procs import free_port, local_http
from tests.support.runs import LOCUSTFILES, child_env, loadlens_cmd, run_in_locust_process
from tests.support.wait import wait_until

LEAN_FILE = LOCUSTFILES / "lean.py"
LOCUST_OWN = "locust.runners:Runner.__init__.<locals>.on_request"
LEAN = "runner.locust.lean:LeanListener"


class TestLeanListener:
    def test_the_in_process_checks_pass_in_a_locust_patched_process(self) -> None:
        """tests/locust/in_locust_lean.py (same figures with and without lean, lean in Locust's
        listener's place, stepping aside for unknown or customised statistics, the store replaced at
        test start) run in their own pytest process, where Locust monkey-patches first."""
        proc = run_in_locust_process(Path(__file__).with_name("in_locust_lean.py"))
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        assert "5 passed" in proc.stdout, proc.stdout[-2000:]


class TestLeanOption:
    @pytest.mark.parametrize(
        ("argv", "toml", "expected"),
        [
            ([], "", True),
            (["--lean"], "", True),
            (["--no-lean"], "", False),
            ([], "[run]\nlean = false\n", False),
            (["--lean"], "[run]\nlean = false\n", True),
        ],
    )
    def test_lean_is_on_by_default_and_no_lean_turns_it_off(
        self, tmp_path: Path, argv: list[str], toml: str, expected: bool
    ) -> None:
        """[run] lean defaults to true; --lean and --no-lean override the file."""
        path = tmp_path / "loadlens.toml"
        path.write_text(toml)
        options, _ = pre_parser().parse_known_args(argv)
        cfg = load_config(path, env={}, flags=flag_values(options))
        assert cfg.run.lean is expected


# -- end to end --------------------------------------------------------------------------------------
class _Target(http.server.BaseHTTPRequestHandler):
    """/fast answers at once, /slow after 20-60 ms, /broken with a 500."""

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(0.02 + random.random() * 0.04)
        code = 500 if self.path == "/broken" else 200
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_a: object) -> None:
        pass


@pytest.fixture
def lean_target() -> Any:
    with local_http(_Target) as url:
        yield url


def _is_quantile(locust_ms: float, q: float, row: dict[str, Any]) -> bool:
    """Whether Locust's ``q`` percentile is one of loadlens's, given both precisions: Locust rounds
    each response time (whole milliseconds below 100 ms, 2 significant digits above) and picks its
    own rank; loadlens's histogram (in summary.json) is within 0.5 %. So within 1 ms + 5 % of the
    value there must be samples at rank ``q * n`` (one either side), read from loadlens's buckets."""
    n = row["requests"]
    low, high = locust_ms * 0.95 - 1.0, locust_ms * 1.05 + 1.0
    buckets = row["histogram"]["buckets"]
    at_most_high = sum(c for i, c in buckets if bucket_upper_ms(i) <= high)
    below_low = sum(c for i, c in buckets if bucket_upper_ms(i - 1) < low and bucket_upper_ms(i) < low)
    return at_most_high >= q * n - 1 and below_low <= q * n + 1


def _rows_by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = {f"{e['method']} {e['name']}": e for e in doc["client"]["whole_run"]["endpoints"]}
    rows["Aggregated"] = doc["client"]["whole_run"]["total"]
    return rows


def _listeners(directory: Path) -> list[list[str]]:
    return [json.loads(p.read_text()) for p in sorted(directory.glob("listeners.json.*"))]


def _csv_rows(prefix: Path) -> list[dict[str, str]]:
    try:
        with open(f"{prefix}_stats.csv", newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


@dataclass(frozen=True)
class _Seen:
    """What one run showed: Locust's web UI JSON and --csv rows once stopped, loadlens's summary."""

    ui: dict[str, Any]
    csv_rows: list[dict[str, str]]
    summary: dict[str, Any]
    listeners: list[list[str]]


def _run_with_ui(tmp_path: Path, target: str, *flags: str, worker: tuple[str, ...] | None = None) -> _Seen:
    """`loadlens run` with Locust's web UI (--autostart, --autoquit) and --csv; with ``worker``, as
    a master with one worker given those flags. Locust rewrites its CSV once a second while it runs
    (not at exit), so the test reads both after the run stopped, once the CSV caught up with the UI."""
    web, port = free_port(), free_port()
    cfg = tmp_path / "loadlens.toml"
    cfg.write_text("[thresholds]\np95_ms = 5000\nerror_rate = 1.0\n")
    prefix = tmp_path / "locust"
    master = ("--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
              "--expect-workers", "1") if worker is not None else ()  # fmt: skip
    cmd = loadlens_cmd(
        "run", "-f", str(LEAN_FILE), "-H", target, "--autostart", "--autoquit", "10",
        "-u", "4", "-r", "20", "-t", "4s", "--web-host", "127.0.0.1", "--web-port", str(web),
        "--csv", str(prefix), "--loadlens-config", str(cfg), "--out", str(tmp_path / "out"), *master, *flags,
    )  # fmt: skip
    env = child_env({"LISTENERS_FILE": str(tmp_path / "listeners.json")})
    workers = []
    with subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        if worker is not None:
            argv = loadlens_cmd(
                "run", "-f", str(LEAN_FILE), "--worker", "--master-host", "127.0.0.1",
                "--master-port", str(port), "--loadlens-config", str(cfg), *worker,
            )  # fmt: skip
            workers.append(subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL))

        def stopped() -> dict[str, Any] | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web}/stats/requests", timeout=5) as r:
                    doc = json.loads(r.read())
            except OSError:
                return None
            return doc if doc.get("state") == "stopped" else None

        wait_until(stopped, 90, what="Locust's web UI in state stopped")
        if worker is not None:
            time.sleep(3.5)  # a worker's last report may reach the master after it says "stopped"

        def settled() -> dict[str, Any] | None:
            """The UI's JSON (memoized by Locust for a few seconds) once it shows the live count."""
            doc = stopped()
            if doc is None:
                return None
            with urllib.request.urlopen(f"http://127.0.0.1:{web}/stats/requests/csv", timeout=5) as r:
                live = next(
                    row
                    for row in csv.DictReader(r.read().decode().splitlines())
                    if row["Name"] == "Aggregated"
                )
            shown = next(s["num_requests"] for s in doc["stats"] if s["name"] == "Aggregated")
            return doc if str(shown) == live["Request Count"] else None

        ui = wait_until(settled, 30, what="Locust's web UI JSON showing the final count")
        total = str(next(s["num_requests"] for s in ui["stats"] if s["name"] == "Aggregated"))
        rows = wait_until(
            lambda: (rows := _csv_rows(prefix)) and rows[-1]["Request Count"] == total and rows,
            30,
            what="Locust's CSV written after the run stopped",
        )
        # Nothing is left to read: end Locust's 10 s --autoquit wait (summary.json is written at stop).
        end_linger(proc, tmp_path / "out")
        _, err = proc.communicate(timeout=60)
        for w in workers:
            w.wait(timeout=30)
    assert proc.returncode in (0, 1), err[-3000:]
    summary = json.loads(next((tmp_path / "out").glob("*/summary.json")).read_text())
    return _Seen(ui, rows, summary, _listeners(tmp_path))


def _assert_agree(seen: _Seen) -> None:
    """Locust's web UI rows and CSV rows hold loadlens's request and failure counts exactly and
    its percentiles within the two histograms' precision."""
    ours = _rows_by_name(seen.summary)
    assert ours["Aggregated"]["requests"] > 0
    assert ours["GET /broken"]["failures"] == ours["GET /broken"]["requests"] > 0
    total = ours["Aggregated"]
    assert not _is_quantile(total["p50_ms"] * 3 + 10, 0.5, total)  # the check can fail
    assert {(s["method"] + " " + s["name"]).strip() for s in seen.ui["stats"]} == set(ours)
    for s in seen.ui["stats"]:
        mine = ours[(s["method"] + " " + s["name"]).strip()]
        assert (s["num_requests"], s["num_failures"]) == (mine["requests"], mine["failures"]), s
        assert _is_quantile(s["response_time_percentile_0.95"], 0.95, mine), (s, mine["p95_ms"])
        assert _is_quantile(s["median_response_time"], 0.5, mine), (s, mine["p50_ms"])
    assert {(r["Type"] + " " + r["Name"]).strip() for r in seen.csv_rows} == set(ours)
    for r in seen.csv_rows:
        mine = ours[(r["Type"] + " " + r["Name"]).strip()]
        assert (int(r["Request Count"]), int(r["Failure Count"])) == (mine["requests"], mine["failures"]), r
        for column, q in (("50%", 0.5), ("90%", 0.9), ("95%", 0.95), ("99%", 0.99)):
            assert _is_quantile(float(r[column]), q, mine), (r["Name"], column, r[column], mine)


class TestLeanEndToEnd:
    def test_standalone_locust_web_ui_and_csv_agree_with_summary(
        self, tmp_path: Path, lean_target: str
    ) -> None:
        """With lean on by default, Locust's /stats/requests JSON and its --csv stats hold the same
        request and failure counts as loadlens's summary.json and percentiles within both histograms'
        precision; Locust's own listener does not run, the lean one does."""
        seen = _run_with_ui(tmp_path, lean_target)
        assert seen.summary["role"] == "standalone"
        _assert_agree(seen)
        (listeners,) = seen.listeners
        assert LOCUST_OWN not in listeners and LEAN in listeners

    @pytest.mark.serial  # the worker's last report must reach the master within a few seconds
    def test_master_and_worker_aggregate_correctly_under_lean(self, tmp_path: Path, lean_target: str) -> None:
        """A master and a worker, both --lean: what Locust aggregated from the worker's reports (web
        UI and CSV at the master) agrees with what loadlens merged (the master's summary.json)."""
        seen = _run_with_ui(tmp_path, lean_target, "--lean", worker=("--lean",))
        assert seen.summary["role"] == "master"
        _assert_agree(seen)
        worker_listeners = [names for names in seen.listeners if LEAN in names]
        assert len(worker_listeners) == 1 and LOCUST_OWN not in worker_listeners[0], seen.listeners

    def test_no_lean_keeps_locusts_own_listener(self, tmp_path: Path, lean_target: str) -> None:
        """--no-lean: Locust's listener and loadlens's both run, and the figures agree as well."""
        seen = _run_with_ui(tmp_path, lean_target, "--no-lean")
        _assert_agree(seen)
        (listeners,) = seen.listeners
        assert LOCUST_OWN in listeners and "runner.locust.lean:RequestListener" in listeners
