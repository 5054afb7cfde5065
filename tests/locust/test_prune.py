"""Locust's own bookkeeping stays bounded on a long run, and what Locust shows stays right.

Real Locust against the real demo service on 127.0.0.1, always in a process of its own (Locust
patches the standard library with gevent at import, which a test session that imported ssl cannot
take): `loadlens run`, or tests/locust/prune_probe.py. A soak's hours are compressed: Locust's stats
module gets a clock that runs 60 times faster than the wall clock, so a few seconds leave minutes of
per-second counts behind. gevent and loadlens keep the real clock.
"""

from __future__ import annotations

import calendar
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runner.locust.prune import KEEP_S, MAX_HISTORY, thin_history
from tests.support.cli import LoadlensRun
from tests.support.procs import free_port
from tests.support.runs import REPO, child_env


def _probe(what: str, *args: str) -> dict[str, Any]:
    """Run tests/locust/prune_probe.py (real Locust in a process of its own) and read its JSON."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.locust.prune_probe", what, *args],
        cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


class TestPerSecondCounts:
    # Serial: at 60 times the wall clock, Locust's "current" rps spans 0.17 s of wall time, which a
    # starved load process can leave without a request (current_rps 0 in the parallel pass).
    @pytest.mark.serial
    def test_web_ui_and_csv_show_the_same_after_pruning(self, target: str) -> None:
        """Locust's /stats/requests (current rps, failures/s, percentiles...) and its requests CSV
        read the same before and after the prune, which leaves at most ~KEEP_S seconds per entry."""
        seen = _probe("ui", target, str(free_port()))
        assert seen["seconds_before"] > 100 and seen["dropped"] > 0
        assert seen["before"]["total_rps"] > 0 and seen["before"]["current_rps"] > 0
        assert seen["after"] == seen["before"]
        assert seen["csv_after"] == seen["csv_before"]
        assert max(seen["seconds_after"]) <= KEEP_S + 1
        # The endpoints' response-time caches go (30 of them had ~20 copies each); the Aggregated
        # one, which the "current" percentiles above are read from, stays.
        assert seen["caches_before"]["entries"] > 0 and seen["caches_dropped"] == 30
        assert seen["caches_after"] == {"total": seen["caches_before"]["total"], "entries": 0}
        assert seen["caches_after"]["total"] > 0


class TestHistory:
    def test_history_is_thinned_evenly_and_the_report_still_renders(self, target: str) -> None:
        """A day of Locust's 5-second history entries (made by Locust's own update_stats_history)
        thins to at most MAX_HISTORY entries, evenly spaced, oldest and newest kept; Locust's HTML
        report renders them."""
        seen = _probe("history", target)
        times = seen["times"]
        assert len(times) <= MAX_HISTORY
        assert times[0] == seen["stamps"][0] and times[-1] == seen["stamps"][-1]
        epochs = [calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ")) for t in times[:-1]]
        gaps = {b - a for a, b in itertools.pairwise(epochs)}
        assert len(gaps) == 1, gaps  # one resolution over the whole run, not a fine end and a coarse start
        assert seen["html_has_last"]

    def test_a_short_history_is_left_alone(self) -> None:
        """Under the cap nothing changes."""
        history = [{"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(5 * i))} for i in range(10)]
        kept = list(history)
        thin_history(history)
        assert history == kept


LOCUSTFILE = '''
"""30 names on the demo service; Locust's stats clock runs 60x faster; at the end the sizes of
Locust's per-second dicts and history go to $PRUNE_DUMP."""
import json, os, time
import locust.stats
from locust import HttpUser, constant, events, task

class _Fast:
    def __init__(self):
        self.t0 = time.time()
    def time(self):
        return self.t0 + (time.time() - self.t0) * 60
    def __getattr__(self, name):
        return getattr(time, name)

locust.stats.time = _Fast()

@events.quitting.add_listener
def _dump(environment, **_kw):
    stats = environment.stats
    if environment.parsed_options.worker:
        return
    with open(os.environ["PRUNE_DUMP"], "w") as f:
        json.dump({"total": len(stats.total.num_reqs_per_sec),
               "caches": {"total": len(stats.total.response_times_cache or ()),
                          "entries": max(len(e.response_times_cache or ()) for e in stats.entries.values())},
                   "entries": max(len(e.num_reqs_per_sec) for e in stats.entries.values()),
                   "requests": stats.total.num_requests}, f)

class Names(HttpUser):
    wait_time = constant(0.02)

    @task
    def health(self):
        for i in range(30):
            self.client.get("/health", name=f"/health/{i}")
'''


@pytest.mark.parametrize("role", ["standalone", "master"])
def test_loadlens_run_keeps_locusts_per_second_counts_bounded(tmp_path: Path, target: str, role: str) -> None:
    """`loadlens run` (standalone, and the master of a distributed run, where the workers' seconds
    are merged in) keeps Locust's per-second dicts to the last seconds: after ~10 minutes of
    Locust's time, each holds well under a minute of seconds instead of all of them."""
    locustfile = tmp_path / "names.py"
    locustfile.write_text(LOCUSTFILE)
    dump = tmp_path / "dump.json"
    run = LoadlensRun(
        tmp_path, target, locustfile=locustfile, users=3, spawn_rate=10, run_time="10s", only_summary=True,
        config="[thresholds]\np95_ms = 5000\n", env={"PRUNE_DUMP": str(dump)},
    )  # fmt: skip
    if role == "standalone":
        done = run.run(timeout_s=90)
        assert done.returncode == 0, done.tail()
    else:
        port = free_port()
        master = run.but(
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--expect-workers",
            "1",
        ).start(log_dir=tmp_path)
        worker = run.start_worker(port)
        assert master.wait(timeout=90) == 0, (tmp_path / "stderr.txt").read_text()[-3000:]
        worker.wait(timeout=30)
    sizes = json.loads(dump.read_text())
    assert sizes["requests"] > 0
    # 10 s at 60x is ~600 of Locust's seconds; pruned every 2 s (120 of them) to the last 20.
    assert sizes["total"] < 200, sizes
    assert sizes["entries"] < 200, sizes
    # Locust copies each endpoint's response times every second and keeps 20 copies; only the
    # Aggregated entry's are read (without --csv-full-history), so only it keeps them.
    assert sizes["caches"]["entries"] == 0 and sizes["caches"]["total"] > 0, sizes


def test_csv_full_history_keeps_the_endpoints_response_time_caches(tmp_path: Path, target: str) -> None:
    """With --csv-full-history Locust writes every endpoint's "current" percentiles into the history
    CSV, read from that endpoint's cache: then the caches stay, and the rows carry percentiles."""
    locustfile = tmp_path / "names.py"
    locustfile.write_text(LOCUSTFILE)
    dump = tmp_path / "dump.json"
    run = LoadlensRun(
        tmp_path, target, locustfile=locustfile, users=3, spawn_rate=10, run_time="6s", only_summary=True,
        config="[thresholds]\np95_ms = 5000\n", env={"PRUNE_DUMP": str(dump)},
        flags=("--csv", str(tmp_path / "csv" / "run"), "--csv-full-history"),
    )  # fmt: skip
    done = run.run(timeout_s=90)
    assert done.returncode == 0, done.tail()
    sizes = json.loads(dump.read_text())
    assert sizes["caches"]["entries"] > 0 and sizes["caches"]["total"] > 0, sizes
    lines = (tmp_path / "csv" / "run_stats_history.csv").read_text().splitlines()
    header = lines[0].split(",")
    name, p50 = header.index("Name"), header.index("50%")
    endpoint_rows = [r.split(",") for r in lines[1:] if r.split(",")[name].startswith("/health/")]
    assert any(int(r[p50]) > 0 for r in endpoint_rows if r[p50].isdigit())
