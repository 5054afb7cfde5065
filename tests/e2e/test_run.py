"""`loadlens run` end to end: real Locust, real HTTP target on 127.0.0.1, real files and exit codes."""

from __future__ import annotations

import http.server
import itertools
import json
import math
import signal
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.timefmt import parse_iso_utc
from tests.support.cli import BASIC, Finished, LoadlensRun, loadlens_verdict, started_run_dir
from tests.support.procs import AnswersOk, free_port, local_http, process
from tests.support.runs import (
    LOCUSTFILES,
    REPO,
    criteria,
    loadlens_cmd,
    locust_cmd,
    only_run_dir,
    run,
    summary,
)


def basic_run(
    tmp_path: Path, target: str, config: str, *flags: str, seconds: int = 4, env: dict[str, str] | None = None
) -> Finished:
    """basic.py with 8 users for ``seconds``, only the summary printed."""
    return LoadlensRun(
        tmp_path, target, config=config, run_time=f"{seconds}s", only_summary=True, flags=flags, env=env or {}
    ).run()


def raw_count(raw: Path) -> int:
    return sum(len(f.read_text().splitlines()) for f in raw.glob("raw-*.tsv"))


class TestVerdicts:
    def test_passing_run_exits_0_and_writes_the_run_directory(self, tmp_path: Path, target: str) -> None:
        """Generous thresholds pass: exit 0, and summary.json, verdict.md, junit.xml, Locust's CSV and HTML exist."""
        raw = tmp_path / "raw"
        raw.mkdir()
        done = basic_run(
            tmp_path,
            target,
            "[thresholds]\np95_ms = 5000\nerror_rate = 0.5\nexpected_statuses = [429]\n",
            env={"RAW_LOG_DIR": str(raw)},
        )
        assert done.returncode == 0, done.stderr[-3000:]
        rd = done.run_dir
        assert rd.name.startswith("adhoc_")
        for name in ("summary.json", "verdict.md", "junit.xml", "locust_stats.csv", "locust.html"):
            assert (rd / name).is_file(), name
        doc = done.summary
        assert doc["verdict"] == "pass" and doc["exit_code"] == 0 and doc["interrupted"] is False
        assert doc["schema_version"] == 2 and doc["run_id"] == rd.name
        assert doc["window"]["kind"] == "steady_state"
        # Our whole-run count is exactly the number of requests the locustfile saw.
        assert doc["client"]["whole_run"]["total"]["requests"] == raw_count(raw) > 0
        assert doc["client"]["total"]["requests"] <= doc["client"]["whole_run"]["total"]["requests"]
        assert "verdict: PASS" in done.stdout

    def test_failing_threshold_exits_1_and_names_the_criterion(self, tmp_path: Path, target: str) -> None:
        """An impossible p95 fails: exit 1, the criterion is FAIL in summary.json with observed > limit."""
        done = basic_run(tmp_path, target, "[thresholds]\np95_ms = 0.5\nper_endpoint = false\n")
        assert done.returncode == 1, done.stderr[-3000:]
        doc = done.summary
        c = criteria(doc)["all requests p95"]
        assert doc["verdict"] == "fail" and c["status"] == "fail"
        assert c["observed"] > c["limit"] == 0.5
        assert "verdict: FAIL (exit 1)" in done.stdout

    def test_per_endpoint_override_fails_only_that_endpoint(self, tmp_path: Path, target: str) -> None:
        """A tight limit on POST /api/v1/jobs fails that row while the same global limit passes elsewhere."""
        done = basic_run(
            tmp_path,
            target,
            '[thresholds]\np95_ms = 5000\nexpected_statuses = [429]\n[thresholds.endpoints."POST /api/v1/jobs"]\np95_ms = 1\n',
        )
        assert done.returncode == 1
        rows = done.criteria
        assert rows["POST /api/v1/jobs p95"]["status"] == "fail"
        assert rows["POST /api/v1/jobs p95"]["limit"] == 1
        assert rows["GET /health p95"]["status"] == "pass"
        assert rows["all requests p95"]["status"] == "pass"

    def test_expected_status_is_not_a_failure(self, tmp_path: Path, target: str) -> None:
        """429s declared expected leave the error rate at 0; undeclared, the same run fails on them."""
        done = basic_run(
            tmp_path,
            target,
            "[thresholds]\nerror_rate = 0.01\nper_endpoint = false\n",
            "--expect-status",
            "429",
        )
        assert done.returncode == 0, done.stderr[-3000:]
        doc = done.summary
        total = doc["client"]["whole_run"]["total"]
        assert total["expected"] == total["statuses"]["429"] > 0
        # The service's own rare 503s are still failures; the 429s are not.
        assert total["failures"] == sum(n for code, n in total["failed_statuses"].items() if code != "429")
        assert criteria(doc)["all requests error rate"]["status"] == "pass"
        (tmp_path / "out").rename(tmp_path / "first")
        done = basic_run(tmp_path, target, "[thresholds]\nerror_rate = 0.01\nper_endpoint = false\n")
        assert done.returncode == 1
        assert done.criteria["all requests error rate"]["status"] == "fail"

    def test_github_step_summary_is_appended(self, tmp_path: Path, target: str) -> None:
        """With GITHUB_STEP_SUMMARY set, the verdict markdown is appended to that file."""
        step = tmp_path / "step.md"
        step.write_text("earlier step\n")
        done = LoadlensRun(
            tmp_path, target, config="[thresholds]\np95_ms = 5000\n", users=2, spawn_rate=10, run_time="2s",
            flags=("--expect-status", "429"), env={"GITHUB_STEP_SUMMARY": str(step)},
        ).run()  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        text = step.read_text()
        assert text.startswith("earlier step\n") and "PASS" in text and done.run_dir.name in text


class TestAccuracy:
    def test_percentiles_match_a_raw_per_request_log_within_1_percent(
        self, tmp_path: Path, target: str
    ) -> None:
        """p50/p95/p99 per endpoint in summary.json are within 1% of the exact values from a raw log."""
        raw = tmp_path / "raw"
        raw.mkdir()
        done = LoadlensRun(
            tmp_path, target, config="[thresholds]\np95_ms = 5000\n", users=10, spawn_rate=50, run_time="5s",
            only_summary=True, env={"RAW_LOG_DIR": str(raw)},
        ).run()  # fmt: skip
        assert done.returncode in (0, 1), done.stderr[-3000:]
        values: dict[tuple[str, str], list[float]] = defaultdict(list)
        for f in raw.glob("raw-*.tsv"):
            for line in f.read_text().splitlines():
                method, name, ms, _status, _failed = line.split("\t")
                values[(method, name)].append(float(ms))
        doc = done.summary
        endpoints = {(e["method"], e["name"]): e for e in doc["client"]["whole_run"]["endpoints"]}
        assert set(endpoints) == set(values)
        for key, vals in values.items():
            vals.sort()
            assert endpoints[key]["requests"] == len(vals)
            assert len(vals) > 50
            for q, field in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
                exact = vals[max(1, math.ceil(q * len(vals))) - 1]
                assert abs(endpoints[key][field] - exact) <= 0.01 * exact, (
                    key,
                    field,
                    endpoints[key][field],
                    exact,
                )


class TestDistributed:
    def test_master_and_two_workers_merge_exactly(self, tmp_path: Path, target: str) -> None:
        """With a master and two workers, the merged totals equal the sum of what each worker sent."""
        raw = tmp_path / "raw"
        raw.mkdir()
        port = free_port()
        env = {"RAW_LOG_DIR": str(raw)}
        runner = LoadlensRun(
            tmp_path, target, config="[thresholds]\np95_ms = 5000\nexpected_statuses = [429]\n", run_time="5s",
            only_summary=True, env=env, flags=("--master", "--master-bind-host", "127.0.0.1",
                                               "--master-bind-port", str(port), "--expect-workers", "2"),
        )  # fmt: skip
        master = runner.start()
        workers = [runner.start_worker(port) for _ in range(2)]
        _, m_err = master.communicate(timeout=90)
        for w in workers:
            w.wait(timeout=30)
        assert master.returncode == 0, m_err[-3000:]
        sent = [len(f.read_text().splitlines()) for f in raw.glob("raw-*.tsv")]
        assert len([n for n in sent if n > 0]) == 2, sent  # two workers sent requests; the master none
        doc = summary(only_run_dir(runner.out))
        assert doc["role"] == "master"
        assert doc["client"]["whole_run"]["total"]["requests"] == sum(sent)
        assert not any(
            p.name.startswith("adhoc") for p in tmp_path.iterdir() if p.is_dir()
        )  # workers write nothing

    @pytest.mark.serial  # the command line as typed: Locust's fixed master port 5557, one run at a time
    def test_processes_mode_merges_forked_workers(self, tmp_path: Path, target: str) -> None:
        """--processes 2 forks two workers; the master's summary counts every request they made."""
        raw = tmp_path / "raw"
        raw.mkdir()
        done = LoadlensRun(
            tmp_path, target, config="[thresholds]\np95_ms = 5000\nexpected_statuses = [429]\n", users=6,
            only_summary=True, flags=("--processes", "2"), env={"RAW_LOG_DIR": str(raw)},
        ).run()  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.summary["client"]["whole_run"]["total"]["requests"] == raw_count(raw) > 0


class TestInterruption:
    @pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
    def test_signal_mid_run_leaves_an_interrupted_summary(
        self, tmp_path: Path, target: str, sig: int
    ) -> None:
        """Ctrl-C or SIGTERM mid-run stops cleanly and still writes a valid summary marked interrupted."""
        runner = LoadlensRun(
            tmp_path, target, config='[thresholds]\np95_ms = 5000\nexpected_statuses = [429]\n[run]\ninterval = "1s"\n',
            users=5, spawn_rate=10, run_time="120s",
        )  # fmt: skip
        proc = runner.start()
        rd = started_run_dir(runner.out)
        time.sleep(3)  # let some requests happen
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
        doc = summary(rd)
        assert doc["interrupted"] is True
        assert doc["client"]["whole_run"]["total"]["requests"] > 0
        assert doc["exit_code"] == proc.returncode
        assert "Traceback" not in stderr, stderr[-4000:]
        assert not list(rd.glob("*.tmp*"))


class TestLocustCompatibility:
    def test_locustfile_with_own_shape_arguments_and_listeners_runs_unchanged(
        self, tmp_path: Path, target: str
    ) -> None:
        """A locustfile's LoadTestShape drives the run, its custom option parses, and its listeners fire."""
        report = tmp_path / "shaped.json"
        done = LoadlensRun(
            tmp_path, target, locustfile=LOCUSTFILES / "shaped.py", config="[thresholds]\np95_ms = 5000\n",
            users=None, spawn_rate=None, run_time=None, flags=("--greeting", "hello", "--scenario", "load"),
            env={"SHAPED_REPORT": str(report)},
        ).run()  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        seen = json.loads(report.read_text())
        assert seen["greeting"] == "hello"
        assert seen["max_users"] == 6  # the locustfile's shape, not the load preset's 50 users
        assert done.summary["client"]["whole_run"]["total"]["requests"] == seen["requests"]

    def test_plugin_in_plain_locust(self, tmp_path: Path, target: str) -> None:
        """Plain `locust -f file,PLUGIN` gets the same verdict, run directory and exit code."""
        plugin = run(loadlens_cmd("plugin-path"), cwd=tmp_path).stdout.strip()
        cfg = tmp_path / "loadlens.toml"
        cfg.write_text("[thresholds]\np95_ms = 0.5\nper_endpoint = false\n")
        out = tmp_path / "out"
        cmd = locust_cmd("-f", f"{BASIC},{plugin}", "-H", target, "--headless", "-u", "4", "-r", "10", "-t", "3s",
                         "--loadlens-config", str(cfg), "--out", str(out))  # fmt: skip
        proc = run(cmd, cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr[-3000:]
        rd = only_run_dir(out)
        assert summary(rd)["verdict"] == "fail"
        assert (rd / "locust.html").is_file()
        assert "verdict: FAIL" in proc.stdout

    def test_staged_preset_is_scaled_by_explicit_users_and_run_time(
        self, tmp_path: Path, target: str
    ) -> None:
        """--scenario spike with -u 6 -t 6s runs the spike shape scaled to a peak of 6 users in 6 s."""
        spike = LoadlensRun(
            tmp_path, target, config='[thresholds]\np95_ms = 5000\nexpected_statuses = [429]\n[run]\ninterval = "1s"\n'
            '[recovery]\nenabled = false\n',  # 1.5 s after the spike cannot show a 60 s recovery
            users=6, spawn_rate=None, run_time="6s", flags=("--scenario", "spike"),
        )  # fmt: skip
        started = time.monotonic()
        done = spike.run()
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.run_dir.name.startswith("spike_")
        doc = done.summary
        peak = max(p["users"] for p in doc["client"]["timeline"])
        assert peak == 6
        assert time.monotonic() - started < 60  # the 5-minute preset really was compressed


class TestLocustOptions:
    def test_tags_pass_through_to_locust(self, tmp_path: Path, target: str) -> None:
        """--tags reaches Locust unchanged: only the tagged task's endpoint is requested."""
        done = LoadlensRun(
            tmp_path, target, locustfile=REPO / "runner" / "demo" / "locustfile.py",
            config="[thresholds]\np95_ms = 5000\n", users=3, spawn_rate=10, run_time="3s", flags=("--tags", "health"),
        ).run()  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        names = {e["name"] for e in done.summary["client"]["whole_run"]["endpoints"]}
        assert names == {"/health"}

    def test_warmup_moves_the_judged_window(self, tmp_path: Path, target: str) -> None:
        """--warmup excludes its seconds after the ramp-up from the judged window."""
        done = basic_run(
            tmp_path,
            target,
            "[thresholds]\np95_ms = 5000\nexpected_statuses = [429]\n",
            "--warmup",
            "2s",
            seconds=5,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        doc = done.summary
        from datetime import datetime

        def t(s: str) -> float:
            return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()

        w = doc["window"]
        assert w["kind"] == "steady_state"
        assert t(w["start"]) - t(w["run_start"]) >= 2.0  # ramp-up (~0.4 s) plus the 2 s warm-up
        assert doc["client"]["total"]["requests"] < doc["client"]["whole_run"]["total"]["requests"]


@pytest.mark.serial  # the burner must be seen above 50 % CPU for two periods
class TestSafetyStop:
    def test_server_cpu_above_the_abort_limit_stops_the_run_early(self, tmp_path: Path, target: str) -> None:
        """A watched process burning a core past abort_cpu_percent for 2 periods ends the run, recorded as FAIL."""
        burner = subprocess.Popen(
            [sys.executable, "-c", "import time\nend = time.time() + 120\nwhile time.time() < end: pass"]
        )
        try:
            watched = LoadlensRun(
                tmp_path,
                target,
                config="[thresholds]\np95_ms = 5000\nexpected_statuses = [429]\n"
                "[server]\nabort_cpu_percent = 50\nabort_periods = 2\ncpu_percent = 70\n",
                users=2,
                spawn_rate=10,
                run_time="90s",
                flags=("--process-pid", str(burner.pid)),
            )
            started = time.monotonic()
            done = watched.run()
            elapsed = time.monotonic() - started
        finally:
            burner.kill()
            burner.wait()
        assert done.returncode == 1, done.stderr[-3000:]
        rows = done.criteria
        stop = rows["server safety stop"]
        assert stop["status"] == "fail" and "cpu_percent" in stop["reason"] and "50" in stop["reason"]
        assert rows["server process CPU"]["observed"] > 50
        assert elapsed < 80  # well before the 90 s it was planned for


@pytest.mark.serial  # a CPU figure: the service's CPU-seconds per request
class TestProcessCpuCost:
    def test_one_second_intervals_give_the_cpu_cost_of_the_judged_window(self, tmp_path: Path) -> None:
        """With the process source and `[run] interval = "1s"` (analysis periods as long as the process's
        own 1 s samples, which start at whatever sub-second the sampler woke), summary.json has the CPU
        cost: the process's CPU-seconds over the judged window / its requests x 1000."""
        port = free_port()
        service = [sys.executable, "-m", "runner.demo.service", "--port", str(port), "--seed", "1"]
        url = f"http://127.0.0.1:{port}"
        with process(service, ready_url=f"{url}/health", log=tmp_path / "service.log", cwd=REPO) as svc:
            done = LoadlensRun(
                tmp_path, url, config='[thresholds]\np95_ms = 5000\nexpected_statuses = [429]\n[run]\ninterval = "1s"\n',
                users=8, spawn_rate=40, run_time="6s", only_summary=True, flags=("--process-pid", str(svc.pid)),
            ).run()  # fmt: skip
        assert done.returncode == 0, done.tail()
        doc = done.summary
        cost = doc["analysis"]["cpu_seconds_per_1000_requests"]
        assert cost is not None and cost > 0, doc["analysis"]
        # The figure is the analysis' own full periods (the client there 90-110 % of the time) added
        # up: CPU-seconds over requests.
        cpu_periods = [
            p for p in doc["analysis"]["periods"]
            if "process CPU" in p["server"] and p["rps"] and 0.9 <= p["requests"] / p["rps"] / (p["end"] - p["start"]) <= 1.1
        ]  # fmt: skip
        window = doc["window"]
        start, end = (_epoch(window[k]) for k in ("start", "end"))
        assert len(cpu_periods) >= (end - start) / 2, doc["analysis"]["periods"]  # most seconds have CPU
        cpu_s = sum(p["server"]["process CPU"] / 100 * (p["end"] - p["start"]) for p in cpu_periods)
        assert cost == pytest.approx(cpu_s / sum(p["requests"] for p in cpu_periods) * 1000, rel=1e-9)
        # ... and that is the window's, the CPU of the samples inside it over the window's requests,
        # but for the partial first and last second the periods leave out (the first one's new
        # connections cost more): 0.89-1.06 in five runs on a shared machine.
        (cpu,) = [
            s for s in doc["server"]["series"] if s["source"] == "process" and s["metric"] == "cpu_percent"
        ]
        inside = [v for t, v in cpu["points"] if _epoch(t) >= start and _epoch(t) + cpu["period_s"] <= end]
        window_cpu_s = sum(inside) / len(inside) / 100 * (end - start)
        expected = window_cpu_s / doc["client"]["total"]["requests"] * 1000
        assert cost == pytest.approx(expected, rel=0.2), (cost, expected)


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class TestLogs:
    def test_json_logs_and_secrets_redacted(self, tmp_path: Path, target: str) -> None:
        """--log-format json gives one JSON object per log line; a password in the host URL is never printed."""
        host = target.replace("http://", "http://user:hunter2secret@")
        done = LoadlensRun(
            tmp_path, host, config='[thresholds]\np95_ms = 5000\n[run]\ninterval = "1s"\nprogress = "1s"\n',
            users=2, spawn_rate=10, run_time="3s", flags=("--log-format", "json", "--expect-status", "429"),
        ).run()  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        events = [json.loads(ln) for ln in lines]
        assert any(e.get("event") == "progress" and "rps" in e for e in events)
        assert any(e.get("logger", "").startswith("locust") for e in events)
        everything = done.stdout + done.stderr + (done.run_dir / "summary.json").read_text()
        assert "hunter2secret" not in everything


class _RateLimiting(http.server.BaseHTTPRequestHandler):
    """Nine requests in ten get an immediate 429; the tenth is served after 60 ms."""

    counter = itertools.count()  # shared by the handler threads: next() is atomic under the GIL

    def do_GET(self) -> None:
        served = next(self.counter) % 10 == 9
        if served:
            time.sleep(0.06)
        body = b"ok" if served else b"slow down"
        self.send_response(200 if served else 429)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def rate_limiting_target() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 that refuses 90 % of requests fast with 429."""
    with local_http(_RateLimiting) as url:
        yield url


class TestExpectedStatuses:
    CONFIG = "[thresholds]\np50_ms = 25\nmin_rps = 1\nper_endpoint = false\n"

    def _run(self, tmp_path: Path, target: str, *extra: str) -> Finished:
        return LoadlensRun(
            tmp_path, target, locustfile=LOCUSTFILES / "refused.py", config=self.CONFIG, users=6,
            only_summary=True, flags=("--expect-status", "429", *extra),
        ).run()  # fmt: skip

    def test_expected_429s_are_left_out_of_latency_and_rps(
        self, tmp_path: Path, rate_limiting_target: str
    ) -> None:
        """90 % fast 429s declared expected: p50 is the served requests' (about 60 ms, FAIL at 25 ms),
        rps counts only them, the verdict notes how many were set apart, and `loadlens verdict`
        re-judges the same; with --include-expected the 429s count again and p50 passes."""
        done = self._run(tmp_path, rate_limiting_target)
        assert done.returncode == 1, done.tail()
        rd = done.run_dir
        doc = done.summary
        total = doc["client"]["total"]
        assert doc["client"]["expected_statuses"] == [429]
        assert total["expected"] == total["statuses"]["429"] > total["statuses"]["200"] > 20
        assert total["failures"] == 0 and "429" in total["status_histograms"]
        rows = criteria(doc)
        p50, rps = rows["all requests p50"], rows["all requests rps"]
        assert p50["status"] == "fail" and p50["observed"] >= 50, p50
        assert p50["details"]["expected"] == total["expected"]
        served = total["requests"] - total["expected"]
        assert rps["observed"] * doc["window"]["duration_s"] == pytest.approx(served, rel=0.01)
        (note,) = [n for n in doc["notes"] if n.startswith("expected statuses: ")]
        assert f"{total['expected']} responses with expected statuses (429: {total['expected']})" in note
        assert "note: expected statuses: " in done.stdout
        assert "expected statuses" in (rd / "verdict.md").read_text()

        again = loadlens_verdict(rd, cwd=tmp_path, config=tmp_path / "loadlens.toml")
        assert again.returncode == 1, again.stderr
        after = summary(rd)
        assert criteria(after)["all requests p50"]["observed"] == p50["observed"]
        assert [n for n in after["notes"] if n.startswith("expected statuses: ")] == [note]

        (tmp_path / "out").rename(tmp_path / "first")
        done = self._run(tmp_path, rate_limiting_target, "--include-expected")
        assert done.returncode == 0, done.tail()
        doc = done.summary
        assert criteria(doc)["all requests p50"]["status"] in ("pass", "warn")
        assert criteria(doc)["all requests p50"]["observed"] < 25


class TestMinSamples:
    def test_one_request_does_not_decide_a_p95(self, tmp_path: Path, target: str) -> None:
        """One request and an impossible p95: the p95 is INCONCLUSIVE ("1 request: too few for a
        p95"), not required, the error rate still judged: WARN, exit 0 (was FAIL on one request)."""
        done = LoadlensRun(
            tmp_path, target, locustfile=LOCUSTFILES / "once.py",
            config="[thresholds]\np95_ms = 0.001\nerror_rate = 0.5\nper_endpoint = false\n",
            users=1, spawn_rate=10, run_time="2s", only_summary=True,
        ).run()  # fmt: skip
        assert done.returncode == 0, done.tail()
        doc = done.summary
        rows = criteria(doc)
        p95 = rows["all requests p95"]
        assert p95["status"] == "inconclusive" and p95["required"] is False
        assert p95["reason"].startswith("1 request: too few for a p95")
        assert rows["all requests error rate"]["status"] == "pass"
        assert doc["verdict"] == "warn"


class _RarelySlow(http.server.BaseHTTPRequestHandler):
    """Every 50th request is answered after 60 ms, the rest at once: the p95 is a fast answer."""

    protocol_version = "HTTP/1.1"  # keep-alive: enough requests per timeline point
    counter = itertools.count()

    def do_GET(self) -> None:
        if next(self.counter) % 50 == 49:
            time.sleep(0.06)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.mark.serial  # 2 ms ticks must keep their pace for the points to span alike
class TestTimelineMerging:
    def test_a_long_timeline_merges_to_one_resolution_and_adds_up(self, tmp_path: Path) -> None:
        """With ticks every 2 ms a run passes the timeline's 720 points (its default) several times,
        so neighbours merge: the points stay bounded, every point but the one still gathering spans
        the same time (not an early point of seconds beside points of one tick), they add up to every
        request of the run, and a merged point's endpoint p95 is its histogram's (the point's own p95
        for a one-endpoint run). That a merged p95 is not the slowest of the merged p95s, with enough
        requests per point to tell, is tests/stats/test_store.py::TestTimeline::test_merged_intervals_are_exact."""
        with local_http(_RarelySlow) as target:
            done = LoadlensRun(
                tmp_path, target, locustfile=LOCUSTFILES / "no_wait.py",
                config="[run]\ninterval = 0.002\nprogress = 0\n[thresholds]\np95_ms = 5000\n",
                spawn_rate=50, run_time="8s", only_summary=True,
            ).run()  # fmt: skip
        assert done.returncode == 0, done.tail()
        timeline = done.summary["client"]["timeline"]
        assert 360 <= len(timeline) <= 720  # merged at least once, and bounded
        # One resolution: every point but the one still gathering holds the same number of ticks,
        # so their spans differ only by the ticks' jitter, never by the factors of 2, 4, 8... of
        # points merged more often than others.
        spans = [parse_iso_utc(p["end"]) - parse_iso_utc(p["start"]) for p in timeline[:-1]]
        assert max(spans) <= 3 * statistics.median(spans), sorted(spans)[-5:]
        assert statistics.median(spans) >= 0.004  # merged: more than one 2 ms tick per point
        assert (
            sum(p["requests"] for p in timeline) == done.summary["client"]["whole_run"]["total"]["requests"]
        )
        for point in (p for p in timeline if p["requests"]):
            (endpoint,) = point["endpoints"]
            assert endpoint["requests"] == point["requests"]
            assert endpoint["p95_ms"] == pytest.approx(point["p95_ms"], rel=0.01), point


class _FailOnRequest(http.server.BaseHTTPRequestHandler):
    """/fail answers 500, anything else 200."""

    def do_GET(self) -> None:
        self.send_response(500 if self.path == "/fail" else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


class TestExactRatios:
    def test_seven_failures_in_100_are_at_both_limits(self, tmp_path: Path) -> None:
        """Exactly 7 failures in 100 against error_rate <= 0.07 and success_rate >= 0.93: both rows
        are at their limit (WARN), exit 0; the float 1 - 7/100 used to FAIL the success rate."""
        with local_http(_FailOnRequest) as target:
            done = LoadlensRun(
                tmp_path, target, locustfile=LOCUSTFILES / "seven_in_100.py",
                config="[thresholds]\nerror_rate = 0.07\nsuccess_rate = 0.93\nper_endpoint = false\n",
                users=1, spawn_rate=10, run_time="3s", only_summary=True,
            ).run()  # fmt: skip
        doc = done.summary
        total = doc["client"]["total"]
        assert (total["requests"], total["failures"]) == (100, 7), total
        rows = criteria(doc)
        assert rows["all requests error rate"]["status"] == "warn"
        assert rows["all requests success rate"]["status"] == "warn", rows["all requests success rate"]
        assert done.returncode == 0, done.tail()


class TestRejudge:
    def test_verdict_command_rejudges_with_new_thresholds(self, tmp_path: Path, target: str) -> None:
        """`loadlens verdict RUN_DIR` re-judges the stored histograms: a stricter config turns PASS into FAIL."""
        done = basic_run(
            tmp_path,
            target,
            "[thresholds]\np95_ms = 5000\nper_endpoint = false\nexpected_statuses = [429]\n",
            seconds=3,
        )
        assert done.returncode == 0
        rd = done.run_dir
        before = summary(rd)
        strict = tmp_path / "strict.toml"
        strict.write_text("[thresholds]\np95_ms = 0.5\nper_endpoint = false\n")
        again = loadlens_verdict(rd, cwd=tmp_path, config=strict)
        assert again.returncode == 1, again.stderr
        after = summary(rd)
        assert after["verdict"] == "fail"
        assert (
            criteria(after)["all requests p95"]["observed"]
            == criteria(before)["all requests p95"]["observed"]
        )
        assert after["client"] == before["client"]


class _CountingHandler(AnswersOk):
    """Answers every request 200 after a short pause and counts what it received: the target's own
    count, the ground truth for "nothing lost" (the pause keeps a few requests in flight)."""

    received: list[int] = []
    pause_s = 0.05
    protocol_version = "HTTP/1.1"

    def _ok(self) -> None:
        type(self).received.append(1)
        time.sleep(self.pause_s)
        super()._ok()


@pytest.fixture
def counting_target():
    """A real HTTP server on 127.0.0.1 that counts the requests it received."""
    handler = type("Counting", (_CountingHandler,), {"received": []})
    with local_http(handler) as url:
        yield url, handler.received


def _start(
    tmp_path: Path,
    target: str,
    config: str,
    *,
    users: int,
    spawn_rate: int,
    run_time: str,
    flags: tuple[str, ...] = (),
) -> tuple[subprocess.Popen[str], Path]:
    runner = LoadlensRun(
        tmp_path, target, config=config, users=users, spawn_rate=spawn_rate, run_time=run_time, flags=flags
    )
    return runner.start(), runner.out


def _master_port(port: int | None = None) -> tuple[str, ...]:
    """A free master port for --processes (its forked workers connect to --master-port)."""
    port = port or free_port()
    return ("--master-bind-port", str(port), "--master-port", str(port))


def _communicate(proc: subprocess.Popen, *, timeout_s: float = 90) -> tuple[str, str]:
    """Wait for a run to end; a run that hangs is killed, so a failing test leaves nothing behind."""
    try:
        return proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        for child in _children(proc.pid):
            child.kill()
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"the run did not end in {timeout_s} s: {err[-3000:]}") from None


def _children(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


class TestIncompleteRuns:
    def test_interrupted_during_ramp_up_never_passes(self, tmp_path: Path, target: str) -> None:
        """SIGINT during the ramp-up: criteria are judged and shown, but the run is INCONCLUSIVE (exit 3)
        and the verdict line says it was interrupted, and when."""
        proc, out = _start(
            tmp_path, target, "[thresholds]\np95_ms = 5000\nexpected_statuses = [429]\n",
            users=50, spawn_rate=1, run_time="120s",
        )  # fmt: skip
        rd = started_run_dir(out)
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = _communicate(proc, timeout_s=60)
        doc = summary(rd)
        assert proc.returncode == 3, stderr[-3000:]
        assert doc["verdict"] == "inconclusive" and doc["interrupted"] is True
        assert criteria(doc)["all requests p95"]["status"] == "pass"  # judged on what was measured
        verdict_line = next(ln for ln in stdout.splitlines() if ln.startswith("verdict: "))
        assert "interrupted at" in verdict_line and "into the run" in verdict_line, verdict_line
        assert "interrupted at" in (rd / "verdict.md").read_text()
        again = loadlens_verdict(rd, cwd=tmp_path)  # re-judging keeps the cap
        assert again.returncode == 3 and summary(rd)["verdict"] == "inconclusive", again.stderr[-2000:]

    def test_interrupted_failing_run_stays_fail(self, tmp_path: Path, target: str) -> None:
        """An interrupted run whose criteria failed is still FAIL (exit 1), not softened to INCONCLUSIVE."""
        proc, out = _start(
            tmp_path, target, "[thresholds]\np95_ms = 0.001\nper_endpoint = false\n",
            users=50, spawn_rate=1, run_time="120s",
        )  # fmt: skip
        rd = started_run_dir(out)
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        _, stderr = _communicate(proc, timeout_s=60)
        assert proc.returncode == 1, stderr[-3000:]
        assert summary(rd)["verdict"] == "fail"

    def test_cool_down_before_warm_up_ends_is_inconclusive_and_said(
        self, tmp_path: Path, target: str
    ) -> None:
        """A warm-up longer than the time before the cool-down leaves no steady state: the run is
        INCONCLUSIVE (not judged as if whole), and a note says the cool-down began before the warm-up ended."""
        done = basic_run(
            tmp_path,
            target,
            '[thresholds]\np95_ms = 5000\nexpected_statuses = [429]\n[run]\nwarmup = "30s"\ncooldown = "2s"\n',
            seconds=4,
        )
        assert done.returncode == 3, done.stderr[-3000:]
        doc = done.summary
        assert doc["verdict"] == "inconclusive"
        notes = " ".join(doc["notes"])
        assert "cool-down" in notes and "warm-up" in notes and "before" in notes, notes


class TestNothingLost:
    @pytest.mark.parametrize(
        ("sig", "gap_s", "times"),
        [
            (signal.SIGINT, 0.05, 2),
            (signal.SIGINT, 0.1, 2),
            (signal.SIGINT, 0.075, 8),  # an impatient user: Ctrl-C again and again
            (signal.SIGTERM, 0.05, 2),
        ],
    )
    def test_second_ctrl_c_does_not_lose_the_run_directory(
        self, tmp_path: Path, target: str, sig: int, gap_s: float, times: int
    ) -> None:
        """SIGINT (or SIGTERM) repeated 50-100 ms apart: every report is still written, and the exit
        code is the verdict's."""
        proc, out = _start(
            tmp_path, target, "[thresholds]\np95_ms = 5000\nexpected_statuses = [429]\n",
            users=5, spawn_rate=20, run_time="120s",
        )  # fmt: skip
        rd = started_run_dir(out)
        time.sleep(2)
        for n in range(times):
            if n:
                time.sleep(gap_s)
            if proc.poll() is None:
                proc.send_signal(sig)
        _, stderr = _communicate(proc, timeout_s=60)
        for name in ("summary.json", "verdict.md", "junit.xml"):
            assert (rd / name).exists(), (name, stderr[-3000:])
        doc = summary(rd)
        assert doc["interrupted"] is True and proc.returncode == doc["exit_code"] == 3
        assert not list(rd.glob("*.tmp*"))

    def test_interrupted_summary_counts_every_request_the_target_received(
        self, tmp_path: Path, counting_target
    ) -> None:
        """The summary of an interrupted run is taken after the users stopped: its total equals the
        number of requests the target itself received (none in flight is lost)."""
        url, received = counting_target
        proc, out = _start(
            tmp_path, url, "[thresholds]\np95_ms = 5000\n", users=8, spawn_rate=50, run_time="120s"
        )
        rd = started_run_dir(out)
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        _, stderr = _communicate(proc, timeout_s=60)
        doc = summary(rd)
        assert doc["interrupted"] is True, stderr[-3000:]
        assert doc["client"]["whole_run"]["total"]["requests"] == len(received) > 0

    def test_a_worker_killed_mid_run_is_named_and_the_run_is_inconclusive(
        self, tmp_path: Path, target: str
    ) -> None:
        """--processes 2 with one worker killed -9: the verdict names the lost worker, when, and its
        users, and the run is INCONCLUSIVE (exit 3), not a silent PASS."""
        import psutil

        proc, out = _start(
            tmp_path, target, "[thresholds]\np95_ms = 5000\nexpected_statuses = [429]\n",
            users=6, spawn_rate=50, run_time="12s", flags=("--processes", "2", *_master_port()),
        )  # fmt: skip
        started_run_dir(out)
        time.sleep(2)
        children = psutil.Process(proc.pid).children()
        assert len(children) == 2
        children[0].kill()
        _, stderr = _communicate(proc, timeout_s=90)
        rd = only_run_dir(out)
        doc = summary(rd)
        assert proc.returncode == 3, stderr[-3000:]
        assert doc["verdict"] == "inconclusive"
        lost = [n for n in doc["notes"] if "worker" in n and "lost" in n]
        assert len(lost) == 1 and "3 users" in lost[0], doc["notes"]
        assert "lost" in (rd / "verdict.md").read_text()


class TestMasterPort:
    def test_processes_bind_the_master_port_to_loopback(self, tmp_path: Path, target: str) -> None:
        """--processes N listens for its workers on 127.0.0.1 only, not on every interface."""
        import psutil

        port = free_port()
        proc, out = _start(
            tmp_path, target, "[thresholds]\np95_ms = 5000\nexpected_statuses = [429]\n",
            users=2, spawn_rate=20, run_time="3s", flags=("--processes", "2", *_master_port(port)),
        )  # fmt: skip
        try:
            started_run_dir(out)
            listening = [
                c.laddr
                for c in psutil.Process(proc.pid).net_connections(kind="tcp")
                if c.status == psutil.CONN_LISTEN and c.laddr.port == port
            ]
        finally:
            _, stderr = _communicate(proc, timeout_s=60)
        assert listening and all(addr.ip == "127.0.0.1" for addr in listening), listening
        assert proc.returncode == 0, stderr[-3000:]


class TestSecrets:
    def test_url_password_never_reaches_locust_html(self, tmp_path: Path, target: str) -> None:
        """-H http://user:pass@host: the password is not in Locust's HTML report in the run directory."""
        host = target.replace("http://", "http://user:hunter2secret@")
        done = basic_run(
            tmp_path, host, "[thresholds]\np95_ms = 5000\nexpected_statuses = [429]\n", seconds=2
        )
        assert done.returncode == 0, done.stderr[-3000:]
        html = (done.run_dir / "locust.html").read_text()
        assert target.split("//")[1] in html  # the host itself is still shown
        assert "hunter2secret" not in html

    @pytest.mark.parametrize("fmt", ["console", "json"])
    def test_session_token_not_in_debug_logs(
        self, tmp_path: Path, target: str, fmt: str, aws: dict[str, str]
    ) -> None:
        """With -L DEBUG, botocore's request headers (X-Amz-Security-Token, Authorization) are redacted
        in console and JSON logs. A real moto server answers the CloudWatch calls."""
        from tests.support import aws_stack

        token = "SeSsIoNtOkEn0123456789abcdef"
        secrets = {"AWS_ACCESS_KEY_ID": "AKIATESTING", "AWS_SECRET_ACCESS_KEY": "SeCrEtKeY0123456789"}
        env = {**aws, **secrets, "AWS_SESSION_TOKEN": token}
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        config = (
            "[thresholds]\np95_ms = 5000\nexpected_statuses = [429]\n"
            f'[cloudwatch]\nregion = "{aws_stack.REGION}"\necs_cluster = "{stack.cluster}"\n'
            f'ecs_service = "{stack.service}"\nsettle = "0s"\n'
        )
        done = basic_run(
            tmp_path, target, config, "-L", "DEBUG", "--log-format", fmt, "--correlate-cloudwatch",
            seconds=2, env=env,
        )  # fmt: skip
        everything = done.stdout + done.stderr
        assert "X-Amz-Security-Token" in everything or "x-amz-security-token" in everything  # botocore logged
        assert token not in everything
        assert "SeCrEtKeY0123456789" not in everything

    def test_credential_error_line_keeps_its_words(self) -> None:
        """AWS's "The security token included in the request is invalid" is not a secret: the logged
        line keeps "included" (only real credentials are masked)."""
        import botocore.exceptions as bx

        from runner import logs
        from runner.sources.aws import _translate_client_error

        exc = bx.ClientError(
            {
                "Error": {
                    "Code": "UnrecognizedClientException",
                    "Message": "The security token included in the request is invalid.",
                },
                "ResponseMetadata": {"HTTPStatusCode": 400},
            },
            "GetMetricData",
        )
        error = _translate_client_error(exc, action="cloudwatch:GetMetricData", region="eu-west-1", what="")
        # The processor every loadlens log line (console and JSON) goes through.
        line = logs.redact_processor(None, "warning", {"event": "server source failed", "error": str(error)})
        assert "The security token included in the request is invalid" in line["error"], line
        assert "abc.DEF-123" not in logs.redact_text("Authorization: Bearer abc.DEF-123")
        assert "dXNlcjpwYXNz" not in logs.redact_text("Basic dXNlcjpwYXNz")
