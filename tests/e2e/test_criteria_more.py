"""Client criteria of issue 13 on real runs: Locust against the demo service on 127.0.0.1.

One config, two scenarios: ``smoke``'s own [scenarios.smoke.thresholds] fail the run that
``load`` (the top-level [thresholds]) passes; the group row on the merged API endpoints replaces
their own rows; require_statuses proves the demo's rate limiter answered 429; `loadlens verdict`
gives back the same rows (the scenario is in summary.json). Then abort_after, at the default
[run] interval, ends a clearly failing 60 s run early with exit 1 and a FAIL row saying when.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tests.e2e.test_verdict_reproduces import assert_reproduced
from tests.support.cli import LoadlensRun

CONFIG = """
[thresholds]
p95_ms = 60000
p90_ms = 60000
p999_ms = 60000
avg_ms = 60000
max_ms = 60000
error_rate = 0.5
expected_statuses = [429]
require_statuses = [429]

[thresholds.groups.api]
match = "^(GET|POST) /api/"
per_endpoint = false
p95_ms = 60000

[scenarios.smoke.thresholds]
p95_ms = 0.001
"""

ABORT = """
[thresholds]
error_rate = 0.5
expected_statuses = [429]

[thresholds.groups.api]
match = "^(GET|POST) /api/"
p95_ms = 1
abort_after = "1s"
"""


class TestScenarioGroupsStatuses:
    def test_a_scenarios_thresholds_fail_it_and_not_another(self, tmp_path: Path, target: str) -> None:
        """smoke fails on its own p95 limit (exit 1); load passes the same file's top level (exit 0)
        with a group row, the five latency statistics and the 429 required; both re-judge alike."""
        base = LoadlensRun(tmp_path, target, config=CONFIG, users=6, run_time="4s", only_summary=True)
        smoke = base.but("--scenario", "smoke", out_name="smoke").run()
        assert smoke.returncode == 1, smoke.tail()
        assert smoke.summary["scenario"] == "smoke"
        row = smoke.criteria["all requests p95"]
        assert (row["status"], row["limit"]) == ("fail", 0.001)

        load = base.but("--scenario", "load", out_name="load").run()
        assert load.returncode == 0, load.tail()
        rows = load.criteria
        assert rows["all requests p95"]["limit"] == 60000
        group = rows["group api p95"]
        assert group["status"] == "pass" and group["details"]["requests"] > 0
        # per_endpoint = false: the API endpoints are judged in their group only.
        assert not [n for n in rows if n.startswith(("POST /api/", "GET /api/"))]
        assert rows["GET /health p95"]["status"] == "pass"
        for stat in ("p90", "p95", "p99.9", "avg", "max"):
            assert rows[f"all requests {stat}"]["status"] == "pass", stat
        assert rows["all requests max"]["observed"] >= rows["all requests p99.9"]["observed"]
        limiter = rows["all requests status 429"]
        assert limiter["status"] == "pass" and limiter["observed"] >= 1, limiter

        assert_reproduced(tmp_path, smoke.run_dir)
        assert_reproduced(tmp_path, load.run_dir)


class TestAbortAfter:
    def test_a_sustained_breach_ends_the_run_early(self, tmp_path: Path, target: str) -> None:
        """A group p95 no run can meet, abort_after 1s, ticks at the default 5 s interval: the run
        planned for 60 s stops after the second failing tick, exit 1, with the stop as a FAIL row."""
        run = LoadlensRun(tmp_path, target, config=ABORT, users=4, run_time="60s", only_summary=True)
        done = run.run(timeout_s=90)
        assert done.returncode == 1, done.tail()
        stop = done.criteria["client early stop"]
        assert stop["status"] == "fail"
        assert "group api p95 (p95 <= 1 ms) failed continuously since" in stop["reason"], stop["reason"]
        assert "(abort_after 1 s)" in stop["reason"]
        window = done.summary["window"]
        ran = datetime.fromisoformat(window["run_end"]) - datetime.fromisoformat(window["run_start"])
        ran_s = ran.total_seconds()
        assert ran_s < 30, ran_s  # planned for 60 s: ended by the stop, not by -t
        assert "early stop" in done.stdout + done.stderr
        assert_reproduced(tmp_path, done.run_dir)
