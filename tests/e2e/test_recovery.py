"""Recovery after a spike, end to end: real `loadlens run` (real Locust) with a staged spike against
a local HTTP target that slows down with the requests it serves at once (as a service with a fixed
pool does), then `loadlens verdict RUN_DIR` giving the same row back from summary.json.

Time is compressed: 1 s timeline intervals, stages of a few seconds and recover_within = 6 s. The
default recover_within (60 s) is judged in tests/judge/test_recovery.py, and end to end below: a
run ending soon after the recovery judges it at its default."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from runner.judge.recovery import NAME
from runner.timefmt import parse_iso_utc
from tests.support import aws_stack
from tests.support.cli import Finished, LoadlensRun, loadlens_verdict
from tests.support.runs import LOCUSTFILES, criteria, summary

BASE_S = 0.02  # one request alone
PER_REQUEST_S = 0.015  # each other request in flight adds this
LINGER_CROWD = 6  # a sticky target: this many requests at once leave it slow for its linger
LINGER_EXTRA_S = 0.2


class Crowded:
    """A target whose answer takes longer the more requests it is serving at once."""

    def __init__(self, *, linger_s: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.slow_until = 0.0  # with linger_s: a crowd leaves it slow this long (a queue draining)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with outer.lock:
                    outer.in_flight += 1
                    crowd = outer.in_flight
                    now = time.monotonic()
                    if linger_s and crowd >= LINGER_CROWD:
                        outer.slow_until = now + linger_s
                    lingering = now < outer.slow_until
                try:
                    time.sleep(BASE_S + PER_REQUEST_S * (crowd - 1) + (LINGER_EXTRA_S if lingering else 0.0))
                    body = b"ok"
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # Locust closed the connection at the end of the run
                finally:
                    with outer.lock:
                        outer.in_flight -= 1

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def _serve(target: Crowded) -> Iterator[str]:
    target.thread.start()
    yield target.url
    target.server.shutdown()
    target.server.server_close()


@pytest.fixture
def crowded() -> Iterator[str]:
    yield from _serve(Crowded())


@pytest.fixture
def sticky() -> Iterator[str]:
    """A crowded target that stays slow for a minute after a crowd: it has not recovered when a
    short run ends."""
    yield from _serve(Crowded(linger_s=60.0))


@pytest.fixture(scope="module")
def recovered_early(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Finished]:
    """One short spike run, read by two tests: a crowding target, no [recovery] table (the default
    60 s recover_within), and a recovery stage of 3 s, so the run ends soon after the recovery."""
    tmp = tmp_path_factory.mktemp("recovered-early")
    for url in _serve(Crowded()):
        config = spike_config(pre_s=4, spike_s=3, after_s=3, recover_within=None)
        yield spike_run(tmp, url, config).run(timeout_s=120)


def spike_config(*, pre_s: int, spike_s: int, after_s: int, recover_within: str | None) -> str:
    within = f'\n[recovery]\nrecover_within = "{recover_within}"\n' if recover_within else "\n"
    return f"""
[run]
interval = "1s"
progress = "0s"

[thresholds]
error_rate = 0.5

[scenarios.blip]
stages = [
  {{ duration = "{pre_s}s", users = 2, spawn_rate = 20 }},
  {{ duration = "{spike_s}s", users = 24, spawn_rate = 100 }},
  {{ duration = "{after_s}s", users = 2, spawn_rate = 100, recovery = true }},
]
{within}"""


def spike_run(tmp_path: Path, host: str, config: str) -> LoadlensRun:
    return LoadlensRun(
        tmp_path,
        host,
        locustfile=LOCUSTFILES / "steady_get.py",
        config=config,
        users=None,
        spawn_rate=None,
        run_time=None,
        flags=("--scenario", "blip"),
    )


class TestRecoveryEndToEnd:
    @pytest.mark.serial  # the target must recover to its pre-spike latency in time
    def test_a_spike_against_a_crowding_target_reports_its_recovery_time(
        self, tmp_path: Path, crowded: str
    ) -> None:
        """The target slows ~10x during the spike and recovers once the users drop: the recovery row
        passes with the time it took (within recover_within), summary.json keeps the spike, and
        `loadlens verdict` gives the same row back."""
        # A recovery stage a second longer than recover_within: the run outlives it (not an early end).
        run = spike_run(tmp_path, crowded, spike_config(pre_s=4, spike_s=3, after_s=7, recover_within="6s"))
        done = run.run(timeout_s=120)
        assert done.returncode == 0, done.tail()
        row = done.criteria[NAME]
        assert row["status"] == "pass", row
        assert 0 < row["observed"] <= 6 and row["limit"] == 6
        assert "recovered" in row["reason"]
        spike = done.summary["spike"]
        assert spike["pre_users"] == 2 and spike["spike_users"] == 24
        # The spike really slowed the target: the pre-spike level is far under the spike's p95.
        timeline = done.summary["client"]["timeline"]
        assert max(p["p95_ms"] or 0 for p in timeline) > 3 * row["details"]["pre_spike_p95_ms"]
        again = loadlens_verdict(done.run_dir, cwd=tmp_path, config=run.config_path)
        assert again.returncode == 0, again.stdout + again.stderr
        rejudged = criteria(summary(done.run_dir))[NAME]
        assert (rejudged["status"], rejudged["observed"]) == (row["status"], row["observed"])

    def test_a_run_cut_before_recover_within_is_inconclusive(self, tmp_path: Path, sticky: str) -> None:
        """recover_within longer than what follows the spike, and the target still slow when the run
        ends: the row is INCONCLUSIVE and the run exits 3, never a pass (nor a guessed FAIL)."""
        run = spike_run(tmp_path, sticky, spike_config(pre_s=4, spike_s=3, after_s=3, recover_within="30s"))
        done = run.run(timeout_s=120)
        assert done.returncode == 3, done.tail()
        assert done.criteria[NAME]["status"] == "inconclusive"
        assert "not recovered when the run ended" in done.criteria[NAME]["reason"]

    @pytest.mark.serial  # the target must recover to its pre-spike latency in time
    def test_a_recovery_inside_a_short_run_passes(self, recovered_early: Finished) -> None:
        """A short run against a target that recovers as soon as the crowd leaves: it recovered
        within recover_within before the run ended, PASS, and the row says the run ended early."""
        done = recovered_early
        assert done.returncode == 0, done.tail()
        row = done.criteria[NAME]
        assert row["status"] == "pass" and "stayed recovered until the run ended" in row["reason"]

    @pytest.mark.serial  # the target must recover to its pre-spike latency in time
    def test_the_default_recover_within_end_to_end(self, recovered_early: Finished) -> None:
        """No [recovery] table: the default recover_within (60 s) is what is judged. The run need not
        last 60 s after the spike: the target recovers as soon as the crowd leaves, and a recovery
        seen before an early end passes, so the row passes with limit 60."""
        done = recovered_early
        assert done.returncode == 0, done.tail()
        row = done.criteria[NAME]
        assert row["status"] == "pass" and row["limit"] == 60 and row["observed"] < 60


@pytest.mark.serial  # the target must recover to its pre-spike latency in time
def test_ecs_scale_out_is_judged_from_running_task_count(
    tmp_path: Path, crowded: str, aws: dict[str, str]
) -> None:
    """[recovery] expect_scale_out with a real spike run and a real moto server: the run itself read
    no CloudWatch, so the scale-out row is INCONCLUSIVE (exit 3, never a pass); once
    ECS/ContainerInsights RunningTaskCount is seeded at the run's own spike times (2 tasks, 4 during
    the spike, 2 after), `loadlens verdict --correlate-cloudwatch` pulls it and the row passes."""
    stack = aws_stack.build_web_stack(aws_stack.plain_session())
    config = (
        spike_config(pre_s=4, spike_s=4, after_s=5, recover_within="4s")
        + f"""
expect_scale_out = true

[cloudwatch]
region = "{aws_stack.REGION}"
ecs_cluster = "{stack.cluster}"
ecs_service = "{stack.service}"
container_insights = true
period = "1s"
settle = "0s"
preroll = "1m"
"""
    )
    run = dataclasses.replace(spike_run(tmp_path, crowded, config), env=aws)
    done = run.run(timeout_s=120)
    assert done.returncode == 3, done.tail()
    name = "ECS scale-out after spike"
    assert done.criteria[name]["status"] == "inconclusive"

    marks = {k: parse_iso_utc(v) for k, v in done.summary["spike"].items() if isinstance(v, str)}
    start, end = int(marks["pre_start"]) - 5, int(parse_iso_utc(done.summary["window"]["run_end"])) + 5
    spike = (marks["spike_start"] + 1.5, marks["spike_end"])

    def tasks(t: float) -> float:
        return 4.0 if spike[0] <= t <= spike[1] else 2.0

    dims = [("ClusterName", stack.cluster), ("ServiceName", stack.service)]
    points = [(float(t), tasks(t)) for t in range(start, end)]
    cw = aws_stack.plain_session().client("cloudwatch")
    aws_stack.put_series(cw, "ECS/ContainerInsights", "RunningTaskCount", dims, points, unit="Count")

    again = loadlens_verdict(
        done.run_dir, cwd=tmp_path, config=run.config_path, flags=("--correlate-cloudwatch",), env=aws
    )
    rows = criteria(summary(done.run_dir))
    row = rows[f"{name} (ecs:{stack.cluster}/{stack.service})"]
    assert row["status"] == "pass", (row, again.stdout)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "scaled out 2 -> 4 tasks and back to 2" in row["reason"]
    assert name not in rows  # the INCONCLUSIVE row of the run is gone
