"""Locust's own bookkeeping stays bounded on a long run, and what Locust shows stays right.

Real Locust against the real demo service on 127.0.0.1. A soak's hours are compressed: the tests
(and, end to end, the test's locustfile) give Locust's stats module a clock that runs 60 times
faster than the wall clock, so a few seconds leave minutes of per-second counts behind. gevent and
loadlens keep the real clock.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import gevent
import locust.stats
import pytest
import requests
from locust import HttpUser, constant, task
from locust.env import Environment
from locust.html import get_html_report

from runner.locust.prune import KEEP_S, MAX_HISTORY, prune_per_second, thin_history
from tests.support.cli import LoadlensRun
from tests.support.procs import free_port

SPEED = 60


class FastClock:
    """``time`` for Locust's stats module only: ``time()`` runs ``speed`` times faster than the wall
    clock from the moment it is made (until ``freeze``), everything else is the real module."""

    def __init__(self, speed: float) -> None:
        self._t0 = time.time()
        self._speed = speed
        self._frozen: float | None = None

    def time(self) -> float:
        if self._frozen is not None:
            return self._frozen
        return self._t0 + (time.time() - self._t0) * self._speed

    def freeze(self) -> None:
        self._frozen = self.time()

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _user_class(host: str) -> type[HttpUser]:
    class Names(HttpUser):
        wait_time = constant(0.01)

        @task
        def health(self) -> None:
            for i in range(30):
                self.client.get("/health", name=f"/health/{i}")

    Names.host = host
    return Names


class TestPerSecondCounts:
    def test_web_ui_and_csv_show_the_same_after_pruning(self, target: str, monkeypatch) -> None:
        """Locust's /stats/requests (current rps, failures/s, percentiles...) and its requests CSV
        read the same before and after the prune, which leaves at most ~KEEP_S seconds per entry."""
        clock = FastClock(SPEED)
        monkeypatch.setattr(locust.stats, "time", clock)
        monkeypatch.setattr(sys, "argv", ["locust"])  # the web UI parses the command line for its options
        env = Environment(user_classes=[_user_class(target)], host=target)
        runner = env.create_local_runner()
        port = free_port()
        web_ui = env.create_web_ui("127.0.0.1", port)
        gevent.sleep(0.2)
        try:
            runner.start(4, spawn_rate=100)
            gevent.sleep(3.0)  # ~3 minutes of Locust's seconds
            runner.stop()
            clock.freeze()  # nothing moves between the two reads
            base = f"http://127.0.0.1:{port}"
            before = requests.get(f"{base}/stats/requests", timeout=10).json()
            csv_before = requests.get(f"{base}/stats/requests/csv", timeout=10).text
            seconds_before = len(env.stats.total.num_reqs_per_sec)
            dropped = prune_per_second(env.stats)
            after = requests.get(f"{base}/stats/requests", timeout=10).json()
            csv_after = requests.get(f"{base}/stats/requests/csv", timeout=10).text
        finally:
            runner.quit()
            web_ui.stop()
        assert seconds_before > 100 and dropped > 0
        assert before["total_rps"] > 0 and before["current_rps"] > 0
        assert after == before
        assert csv_after == csv_before
        for entry in (*env.stats.entries.values(), env.stats.total):
            assert len(entry.num_reqs_per_sec) <= KEEP_S + 1


class TestHistory:
    def test_history_is_thinned_evenly_and_the_report_still_renders(self, target: str) -> None:
        """A day of Locust's 5-second history entries (made by Locust's own update_stats_history)
        thins to at most MAX_HISTORY entries, evenly spaced, oldest and newest kept; Locust's HTML
        report renders them."""
        env = Environment(user_classes=[_user_class(target)], host=target)
        runner = env.create_local_runner()
        t0 = 1_790_000_000
        stamps = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 5 * i)) for i in range(17_280)]
        for k, stamp in enumerate(stamps):
            locust.stats.update_stats_history(runner, stamp)
            if k % 50 == 0:
                thin_history(env.stats.history)  # as the pruner's loop would, every few entries
        thin_history(env.stats.history)
        history = env.stats.history
        assert len(history) <= MAX_HISTORY
        assert history[0]["time"] == stamps[0] and history[-1]["time"] == stamps[-1]
        epochs = [time.mktime(time.strptime(h["time"], "%Y-%m-%dT%H:%M:%SZ")) for h in history[:-1]]
        gaps = {b - a for a, b in itertools.pairwise(epochs)}
        assert len(gaps) == 1, gaps  # one resolution over the whole run, not a fine end and a coarse start
        html = get_html_report(env)
        assert stamps[-1] in html
        runner.quit()

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
