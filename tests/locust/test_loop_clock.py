"""A run lasts the -t it was given, however slowly it started.

Locust sets its -t timer with ``gevent.spawn_later`` right after its init event, on the event
loop's clock, which libev reads once per loop iteration. Whatever ran since the loop last turned (a
locustfile's imports, loadlens's own start-up, a crowded machine) was not counted, and the run
ended that much before its -t: in the parallel suite, -t 2s runs that stopped after 0.1 s, and a
-t 5s run with the process source that stopped after 2 s, before the source's first whole period.
A real `loadlens run` against a local target, with a locustfile that lets the loop turn on a timer
and then works for 3 s while it is imported.
"""

from __future__ import annotations

from pathlib import Path

from runner.timefmt import parse_iso_utc
from tests.support.cli import LoadlensRun
from tests.support.procs import AnswersOk, local_http

SLOW_IMPORT = """
import time

import gevent
from locust import HttpUser, constant, task

gevent.sleep(0.01)  # the loop turns on a timer: its clock is read now
_until = time.monotonic() + 3
while time.monotonic() < _until:  # 3 s of import-time work the loop's clock does not see
    pass


class Slow(HttpUser):
    wait_time = constant(0.1)

    @task
    def home(self):
        self.client.get("/")
"""


def test_a_slow_start_does_not_shorten_the_run(tmp_path: Path) -> None:
    """-t 5s after a 3 s start-up: the run (summary.json's run_start to run_end) lasts 5 s, not 2."""
    locustfile = tmp_path / "slow_import.py"
    locustfile.write_text(SLOW_IMPORT)
    with local_http(AnswersOk) as target:
        done = LoadlensRun(
            tmp_path, target, locustfile=locustfile, config="[thresholds]\np95_ms = 5000\n", users=2,
            run_time="5s", only_summary=True,
        ).run()  # fmt: skip
    assert done.returncode == 0, done.tail()
    window = done.summary["window"]
    lasted_s = parse_iso_utc(window["run_end"]) - parse_iso_utc(window["run_start"])
    assert lasted_s >= 4.5, window
