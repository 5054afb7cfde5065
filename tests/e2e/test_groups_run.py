"""Groups selected by Locust tags and User classes on real runs: real Locust (standalone, and a
master with forked workers) against the demo service, two User classes with tagged tasks
(tests/locustfiles/two_classes.py). Each group's row counts exactly the requests those Users or
tasks made, as the tasks counted them themselves; `loadlens verdict RUN_DIR` gives the rows back;
a User class the locustfile does not define is one line and exit 2."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from tests.support.cli import Finished, LoadlensRun, loadlens_verdict
from tests.support.procs import free_port, wait_http
from tests.support.runs import LOCUSTFILES, child_env, criteria, loadlens_cmd, run_dirs, summary
from tests.support.wait import wait_until

TWO_CLASSES = LOCUSTFILES / "two_classes.py"

CONFIG = """
[thresholds]
error_rate = 1

[thresholds.groups.buyers]
user_classes = ["Buyer"]
error_rate = 0.5

[thresholds.groups.read]
tags = ["read"]
error_rate = 0.5

[thresholds.groups.buy_posts]
match = "^POST "
tags = ["checkout", "nowhere"]
p95_ms = 60000
"""

# smoke: its own group by User class, and a limit of its own for the top level's tag group.
SCENARIO = """
[scenarios.smoke.thresholds.groups.browsers]
user_classes = ["Browser"]
p99_ms = 60000

[scenarios.smoke.thresholds.groups.read]
p95_ms = 60000
"""


def made(directory: Path) -> Counter[tuple[str, str, str, str]]:
    """What the tasks counted themselves, every process together: (class, tag, method, name) -> n."""
    out: Counter[tuple[str, str, str, str]] = Counter()
    for f in directory.glob("made-*.tsv"):
        for line in f.read_text().splitlines():
            user_class, tag, method, name, n = line.split("\t")
            out[(user_class, tag, method, name)] += int(n)
    return out


def expected(truth: Counter[tuple[str, str, str, str]]) -> dict[str, int]:
    return {
        "buyers": sum(n for (c, _t, _m, _n), n in truth.items() if c == "Buyer"),
        "browsers": sum(n for (c, _t, _m, _n), n in truth.items() if c == "Browser"),
        "read": sum(n for (_c, t, _m, _n), n in truth.items() if t == "read"),
        "buy_posts": sum(n for (_c, t, m, _n), n in truth.items() if t == "checkout" and m == "POST"),
    }


def groups(doc: dict[str, Any], part: str) -> dict[str, dict[str, Any]]:
    section = doc["client"] if part == "judged" else doc["client"]["whole_run"]
    return {g["name"]: g for g in section["groups"]}


def group_rows(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: row for name, row in rows.items() if name.startswith("group ")}


def check_counts(done: Finished, made_dir: Path, names: set[str]) -> None:
    """Whole run: each group's count is what the tasks made; judged window: each group's one row
    counts what the window's group statistics hold."""
    assert done.returncode == 0, done.tail()
    doc = done.summary
    truth = expected(made(made_dir))
    whole = groups(doc, "whole")
    assert set(whole) == names
    for name in names:
        assert whole[name]["requests"] == truth[name] > 0, name
    judged = groups(doc, "judged")
    rows = group_rows(done.criteria)
    assert {name.split()[1] for name in rows} == names  # one row per key a group sets
    for row in rows.values():
        assert row["status"] == "pass"
        assert row["details"]["requests"] == judged[row["name"].split()[1]]["requests"] > 0


class TestGroupsBySelectors:
    def test_standalone_under_a_scenario_counts_each_group_exactly_and_rejudges_alike(
        self, tmp_path: Path, target: str
    ) -> None:
        """--scenario smoke: the top level's groups and smoke's own, each one row with exactly the
        requests those Users/tasks made; `loadlens verdict RUN_DIR` reproduces every row."""
        made_dir = tmp_path / "made"
        made_dir.mkdir()
        done = LoadlensRun(
            tmp_path, target, locustfile=TWO_CLASSES, config=CONFIG + SCENARIO, users=6, run_time="4s",
            only_summary=True, flags=("--scenario", "smoke"), env={"MADE_LOG_DIR": str(made_dir)},
        ).run()  # fmt: skip
        check_counts(done, made_dir, {"buyers", "browsers", "read", "buy_posts"})
        assert done.criteria["group read p95"]["limit"] == 60000  # smoke's key over the top level's

        before = done.criteria
        again = loadlens_verdict(done.run_dir, cwd=tmp_path)  # the run's own config and scenario
        assert again.returncode == 0, again.stderr[-3000:]
        assert criteria(summary(done.run_dir)) == before  # every row, the group rows among them

    def test_master_with_forked_workers_counts_the_same(self, tmp_path: Path, target: str) -> None:
        """--processes 2: the master's groups reach the workers, whose counts merge exactly."""
        made_dir = tmp_path / "made"
        made_dir.mkdir()
        port = free_port()  # not Locust's fixed 5557: tests run in parallel
        done = LoadlensRun(
            tmp_path, target, locustfile=TWO_CLASSES, config=CONFIG, users=6, run_time="4s",
            only_summary=True, flags=("--processes", "2", "--master-bind-port", str(port), "--master-port", str(port)),
            env={"MADE_LOG_DIR": str(made_dir)},
        ).run()  # fmt: skip
        check_counts(done, made_dir, {"buyers", "read", "buy_posts"})
        assert len(list(made_dir.glob("made-*.tsv"))) >= 2  # the workers made the requests

    def test_workers_without_a_config_record_the_masters_groups(self, tmp_path: Path, target: str) -> None:
        """--master and two `loadlens run --worker` processes given no loadlens.toml: the master
        sends its groups, so the counts are still exact."""
        made_dir = tmp_path / "made"
        made_dir.mkdir()
        bare = tmp_path / "bare"  # the workers' directory: no loadlens.toml to find there
        bare.mkdir()
        port = free_port()
        runner = LoadlensRun(
            tmp_path, target, locustfile=TWO_CLASSES, config=CONFIG, users=6, run_time="4s", only_summary=True,
            env={"MADE_LOG_DIR": str(made_dir)}, flags=("--master", "--master-bind-host", "127.0.0.1",
                                                        "--master-bind-port", str(port), "--expect-workers", "2"),
        )  # fmt: skip
        master = runner.start()
        worker_argv = loadlens_cmd(
            "run",
            "-f",
            str(TWO_CLASSES),
            "--worker",
            "--master-host",
            "127.0.0.1",
            "--master-port",
            str(port),
        )
        workers = [
            subprocess.Popen(worker_argv, cwd=bare, env=child_env({"MADE_LOG_DIR": str(made_dir)}),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(2)
        ]  # fmt: skip
        try:
            out, err = master.communicate(timeout=90)
            for w in workers:
                w.wait(timeout=30)
        finally:
            for proc in (master, *workers):
                if proc.poll() is None:
                    proc.kill()
        done = Finished(master.returncode, out, err, runner.out)
        check_counts(done, made_dir, {"buyers", "read", "buy_posts"})
        made_by = [f for f in made_dir.glob("made-*.tsv") if f.read_text()]
        assert len(made_by) == 2  # the two workers made every request (the master none)

    def test_a_verdict_config_with_a_group_the_run_did_not_record_is_inconclusive(
        self, tmp_path: Path, target: str
    ) -> None:
        """A run recorded with no tags group, re-judged with one: INCONCLUSIVE (exit 3), never a pass."""
        done = LoadlensRun(
            tmp_path, target, locustfile=TWO_CLASSES, config="[thresholds]\nerror_rate = 1\n", users=4,
            run_time="2s", only_summary=True,
        ).run()  # fmt: skip
        assert done.returncode == 0, done.tail()
        later = tmp_path / "later.toml"
        later.write_text('[thresholds.groups.read]\ntags = ["read"]\nerror_rate = 1\n')
        again = loadlens_verdict(done.run_dir, cwd=tmp_path, config=later)
        assert again.returncode == 3, again.stdout[-3000:] + again.stderr[-3000:]
        row = criteria(summary(done.run_dir))["group read error rate"]
        assert row["status"] == "inconclusive" and "not recorded in this run" in row["reason"]

    def test_a_user_class_the_locustfile_does_not_define_exits_2(self, tmp_path: Path, target: str) -> None:
        done = LoadlensRun(
            tmp_path, target, locustfile=TWO_CLASSES, users=2, run_time="2s",
            config='[thresholds.groups.x]\nuser_classes = ["Buyer", "Nobody"]\nerror_rate = 1\n',
        ).run()  # fmt: skip
        assert done.returncode == 2, done.tail()
        lines = [line for line in done.stderr.splitlines() if line.startswith("loadlens:")]
        assert lines == [
            "loadlens: [thresholds.groups.x] user_classes: Nobody is not a User class of the locustfile "
            "(it defines Browser, Buyer)"
        ], done.stderr[-3000:]
        assert "Traceback" not in done.stderr


class TestGroupsFromTheWebUi:
    def test_each_test_from_the_web_ui_counts_its_own_requests(self, tmp_path: Path, target: str) -> None:
        """Two tests started from Locust's web UI, each judged into its own run directory: the tag
        group "read" counts exactly Locust's own GET /health count of that test (only "read" tasks
        call it), and the match + tags group Locust's POST /api/v1/jobs count."""
        port = free_port()
        run = LoadlensRun(
            tmp_path, target, locustfile=TWO_CLASSES, config=CONFIG, users=None, spawn_rate=None,
            run_time=None, headless=False, flags=("--web-host", "127.0.0.1", "--web-port", str(port)),
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        proc = run.start(log_dir=tmp_path)
        locust_counts = []
        try:
            wait_http(f"{base}/", proc=proc)
            for n in (1, 2):
                _swarm(base, users=4, rate=20, run_time="3s")  # the start form of the web UI
                wait_until(lambda n=n: len(_judged(run.out)) == n, timeout_s=60, what=f"test {n} judged")
                locust_counts.append(_by_name(base))
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        tests = _judged(run.out)
        assert len(tests) == 2
        for test, counts in zip(tests, locust_counts, strict=True):
            whole = groups(test, "whole")
            assert whole["read"]["requests"] == counts["GET /health"] > 0
            assert whole["buy_posts"]["requests"] == counts["POST /api/v1/jobs"] > 0
            assert whole["buyers"]["requests"] > 0
            assert {c["name"] for c in test["criteria"] if c["name"].startswith("group ")} == {
                "group buyers error rate", "group read error rate", "group buy_posts p95",
            }  # fmt: skip


def _swarm(base: str, *, users: int, rate: int, run_time: str) -> None:
    form = urllib.parse.urlencode({"user_count": users, "spawn_rate": rate, "run_time": run_time}).encode()
    with urllib.request.urlopen(f"{base}/swarm", data=form, timeout=10) as resp:
        assert json.load(resp)["success"], "Locust refused the swarm"


def _judged(out: Path) -> list[dict[str, Any]]:
    """The summaries written so far under ``out``, oldest first."""
    return [summary(d) for d in run_dirs(out) if (d / "summary.json").exists()]


def _by_name(base: str) -> dict[str, int]:
    """Locust's own request count per "METHOD name" for the current test (its CSV download)."""
    with urllib.request.urlopen(f"{base}/stats/requests/csv", timeout=10) as resp:
        rows = csv.DictReader(io.StringIO(resp.read().decode()))
        return {f"{r['Type']} {r['Name']}": int(r["Request Count"]) for r in rows if r["Type"]}
