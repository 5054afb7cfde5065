"""The bundled demo service, run as a real process on 127.0.0.1, and its locustfile under plain Locust."""

from __future__ import annotations

import csv
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from runner.config.load import load_config
from runner.demo.app import MAX_UPLOAD_BYTES, Job, JobStore
from runner.demo.service import READY_PREFIX, ServiceProcess, start_service
from runner.errors import UsageError
from tests.support.procs import free_port, taken_port
from tests.support.wait import wait_until

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "runner" / "demo"
LOCUST = REPO / ".venv" / "bin" / "locust"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_ms: float

    def json(self) -> object:
        return json.loads(self.body)

    @property
    def server_ms(self) -> float:
        """The latency the service chose for this request (its Server-Timing header)."""
        value = self.headers["server-timing"]
        assert value.startswith("app;dur="), value
        return float(value.removeprefix("app;dur="))


def connect(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    assert parts.hostname is not None
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)


def call(
    url: str, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Reply:
    """One HTTP request on a fresh connection (urllib would raise on 4xx/5xx; we want the reply)."""
    conn = connect(url)
    try:
        started = time.monotonic()
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        elapsed_ms = (time.monotonic() - started) * 1000
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data, elapsed_ms)
    finally:
        conn.close()


def post_json(url: str, path: str, payload: object) -> Reply:
    body = json.dumps(payload).encode()
    return call(url, "POST", path, body=body, headers={"Content-Type": "application/json"})


def create_job(url: str, *, prompt: str = "a fox in the snow", duration_s: int = 5) -> dict:
    """Submit a job, retrying the healthy service's rare 503 (queue full), which is part of its model."""
    for _ in range(10):
        reply = post_json(url, "/api/v1/jobs", {"prompt": prompt, "duration_s": duration_s})
        if reply.status != 503:
            assert reply.status == 201, reply.body
            body = reply.json()
            assert isinstance(body, dict)
            return body
    raise AssertionError("job creation answered 503 ten times in a row")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[object]:
    with open(tmp_path / "service.log", "wb") as out:
        yield out


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    log = tmp_path_factory.mktemp("healthy") / "service.log"
    with open(log, "wb") as out:
        service = start_service(seed=7, stderr=out, cwd=str(REPO))
        try:
            yield service
        finally:
            assert service.stop() == 0, log.read_text()


@pytest.fixture(scope="module")
def degraded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    log = tmp_path_factory.mktemp("degraded") / "service.log"
    with open(log, "wb") as out:
        service = start_service(degrade=True, seed=11, stderr=out, cwd=str(REPO))
        try:
            yield service
        finally:
            assert service.stop() == 0, log.read_text()


class TestProcess:
    def test_port_zero_prints_the_real_port(self, healthy: ServiceProcess) -> None:
        """With --port 0 the ready line names a real, non-zero port that answers."""
        parts = urlsplit(healthy.url)
        assert parts.hostname == "127.0.0.1"
        assert parts.port
        assert call(healthy.url, "GET", "/health").status == 200

    def test_command_line_with_explicit_port(self, tmp_path: Path) -> None:
        """`python -m runner.demo.service --port N` prints the exact ready line and serves on N."""
        port = free_port()
        cmd = [sys.executable, "-m", "runner.demo.service", "--port", str(port), "--seed", "1"]
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        with proc.stdout as stdout:
            try:
                assert stdout.readline() == f"{READY_PREFIX}http://127.0.0.1:{port}\n"
                assert call(f"http://127.0.0.1:{port}", "GET", "/health").status == 200
            finally:
                proc.terminate()
                assert proc.wait(timeout=10) == 0

    @pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
    def test_signal_stops_cleanly(self, sig: signal.Signals, log_file: object, tmp_path: Path) -> None:
        """SIGTERM and SIGINT stop the service with exit code 0 and nothing on stderr."""
        service = start_service(seed=1, stderr=log_file, cwd=str(REPO))
        assert call(service.url, "GET", "/health").status == 200
        service.process.send_signal(sig)
        assert service.process.wait(timeout=10) == 0
        service.stop()
        assert (tmp_path / "service.log").read_bytes() == b""

    def test_sigterm_drains_requests_in_flight(self, log_file: object) -> None:
        """On SIGTERM, requests already being served get their answers, then the process exits 0."""
        service = start_service(degrade=True, seed=2, stderr=log_file, cwd=str(REPO))
        conns = [connect(service.url) for _ in range(5)]
        replies: list[tuple[int, str | None]] = []
        try:
            body = json.dumps({"prompt": "x", "duration_s": 5}).encode()
            for conn in conns:
                conn.request("POST", "/api/v1/jobs", body=body, headers={"Content-Type": "application/json"})
            # Sent; give the server a moment to accept them (degraded creation takes >= ~180 ms).
            time.sleep(0.2)
            service.process.send_signal(signal.SIGTERM)
            for conn in conns:
                response = conn.getresponse()
                response.read()
                replies.append((response.status, response.getheader("Server-Timing")))
        finally:
            for conn in conns:
                conn.close()
        assert service.process.wait(timeout=10) == 0
        service.stop()
        assert len(replies) == 5
        # Answered by the application (its Server-Timing header), not cut off by the server's own 500.
        assert all(timing is not None for _, timing in replies), replies
        assert {status for status, _ in replies} <= {201, 500, 503}

    def test_port_in_use_is_a_usage_error(self, log_file: object, tmp_path: Path) -> None:
        """A taken port makes the service exit with code 2 and one line, and start_service raises."""
        with taken_port() as port, pytest.raises(UsageError, match="exited with 2"):
            start_service(port=port, stderr=log_file, cwd=str(REPO))
        err = (tmp_path / "service.log").read_text()
        assert "cannot listen on 127.0.0.1" in err
        assert "Traceback" not in err

    def test_import_does_not_monkey_patch(self) -> None:
        """Importing the module leaves the process unpatched (the CLI imports it before Locust)."""
        code = (
            "import runner.demo.service, gevent.monkey, sys; "
            "sys.exit(1 if gevent.monkey.is_module_patched('socket') else 0)"
        )
        assert subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=60).returncode == 0


class TestHealth:
    def test_health_answers_ok_quickly(self, healthy: ServiceProcess) -> None:
        """GET /health is 200 {"status": "ok"} as JSON, with a 1-3 ms service latency."""
        reply = call(healthy.url, "GET", "/health")
        assert reply.status == 200
        assert reply.headers["content-type"] == "application/json"
        assert reply.json() == {"status": "ok"}
        assert 1.0 <= reply.server_ms <= 3.0

    def test_wrong_method_is_405(self, healthy: ServiceProcess) -> None:
        """DELETE /health is 405 with an Allow header."""
        reply = call(healthy.url, "DELETE", "/health")
        assert reply.status == 405
        assert reply.headers["allow"] == "GET"

    def test_unknown_path_is_404(self, healthy: ServiceProcess) -> None:
        """An unknown path is a JSON 404."""
        reply = call(healthy.url, "GET", "/api/v2/nothing")
        assert reply.status == 404
        assert reply.json()["error"] == "not_found"  # type: ignore[index]


class TestJobs:
    def test_create_returns_queued_job(self, healthy: ServiceProcess) -> None:
        """POST /api/v1/jobs is 201 with an id, status "queued" and a Location to poll."""
        reply = post_json(healthy.url, "/api/v1/jobs", {"prompt": "a paper boat", "duration_s": 10})
        if reply.status == 503:  # the healthy model's ~0.3% queue-full answer: try once more
            reply = post_json(healthy.url, "/api/v1/jobs", {"prompt": "a paper boat", "duration_s": 10})
        assert reply.status == 201
        body = reply.json()
        assert isinstance(body, dict)
        assert set(body) == {"id", "status"}
        assert body["status"] == "queued"
        assert reply.headers["location"] == f"/api/v1/jobs/{body['id']}"

    def test_get_returns_the_job(self, healthy: ServiceProcess) -> None:
        """GET /api/v1/jobs/{id} is 200 with the submitted prompt and duration."""
        job = create_job(healthy.url, prompt="a red fox", duration_s=15)
        reply = call(healthy.url, "GET", f"/api/v1/jobs/{job['id']}")
        assert reply.status == 200
        body = reply.json()
        assert isinstance(body, dict)
        assert body["id"] == job["id"]
        assert body["prompt"] == "a red fox"
        assert body["duration_s"] == 15
        assert body["status"] in {"queued", "processing", "done"}
        assert body["created_at"].endswith("Z")
        assert 4.0 <= reply.server_ms <= 60.0

    def test_status_advances_to_done(self, healthy: ServiceProcess) -> None:
        """A job's status goes queued -> processing -> done, with output_url only when done."""
        job = create_job(healthy.url)
        seen: list[str] = []

        def done() -> bool:
            body = call(healthy.url, "GET", f"/api/v1/jobs/{job['id']}").json()
            assert isinstance(body, dict)
            assert (body["output_url"] is not None) == (body["status"] == "done")
            if not seen or seen[-1] != body["status"]:
                seen.append(body["status"])
            if body["status"] == "done":
                assert body["progress"] == 100
                return True
            return False

        wait_until(done, 20, what=lambda: f"the job to be done (statuses seen: {seen})", interval_s=0.1)
        assert seen == ["queued", "processing", "done"]

    def test_unknown_id_is_404(self, healthy: ServiceProcess) -> None:
        """An id the service never issued is 404."""
        reply = call(healthy.url, "GET", "/api/v1/jobs/job_doesnotexist")
        assert reply.status == 404
        assert reply.json()["error"] == "not_found"  # type: ignore[index]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            (b"not json", "body"),
            (b"[1, 2]", "body"),
            (b'{"duration_s": 5}', "prompt"),
            (b'{"prompt": "  ", "duration_s": 5}', "prompt"),
            (b'{"prompt": 3, "duration_s": 5}', "prompt"),
            (b'{"prompt": "ok"}', "duration_s"),
            (b'{"prompt": "ok", "duration_s": "5"}', "duration_s"),
            (b'{"prompt": "ok", "duration_s": true}', "duration_s"),
            (b'{"prompt": "ok", "duration_s": 0}', "duration_s"),
            (b'{"prompt": "ok", "duration_s": 5.5}', "duration_s"),
        ],
    )
    def test_bad_body_is_422(self, healthy: ServiceProcess, body: bytes, field: str) -> None:
        """A job body that is not {"prompt": non-empty str, "duration_s": int} is 422 naming the field."""
        reply = call(
            healthy.url, "POST", "/api/v1/jobs", body=body, headers={"Content-Type": "application/json"}
        )
        assert reply.status == 422
        answer = reply.json()
        assert isinstance(answer, dict)
        assert answer["error"] == "validation_error"
        assert field in {problem["field"] for problem in answer["detail"]}

    def test_list_is_newest_first_and_limited(self, healthy: ServiceProcess) -> None:
        """GET /api/v1/jobs?limit=N lists at most N jobs, newest first, with the total held."""
        ids = [create_job(healthy.url, prompt=f"list test {i}")["id"] for i in range(3)]
        reply = call(healthy.url, "GET", "/api/v1/jobs?limit=2")
        assert reply.status == 200
        body = reply.json()
        assert isinstance(body, dict)
        assert [job["id"] for job in body["jobs"]] == ids[::-1][:2]
        assert body["count"] == 2
        assert body["total"] >= 3

    @pytest.mark.parametrize("limit", ["0", "101", "abc", "-1"])
    def test_bad_limit_is_422(self, healthy: ServiceProcess, limit: str) -> None:
        """A limit outside 1..100 is 422."""
        assert call(healthy.url, "GET", f"/api/v1/jobs?limit={limit}").status == 422

    def test_healthy_creation_latency_is_inside_the_demo_threshold(self, healthy: ServiceProcess) -> None:
        """The healthy service chooses job-creation latencies whose p95 is well under 300 ms."""
        with ThreadPoolExecutor(max_workers=20) as pool:
            replies = list(
                pool.map(
                    lambda i: post_json(healthy.url, "/api/v1/jobs", {"prompt": f"p{i}", "duration_s": 5}),
                    range(100),
                )
            )
        assert {r.status for r in replies} <= {201, 503}
        latencies = [r.server_ms for r in replies]
        assert 30.0 <= statistics.median(latencies) <= 80.0
        assert p95(latencies) < 150.0


class TestJobStore:
    def test_oldest_jobs_are_dropped_beyond_capacity(self) -> None:
        """The store keeps only the newest `capacity` jobs, so memory stays bounded on long runs."""
        store = JobStore(capacity=3)
        for i in range(5):
            store.add(Job(f"j{i}", "p", 5, 0.0, 0.0, 1.0, 2.0))
        assert len(store) == 3
        assert store.get("j0") is None
        assert store.get("j1") is None
        assert [job.id for job in store.newest(10)] == ["j4", "j3", "j2"]


class TestUpload:
    @pytest.mark.parametrize("size", [0, 200 * 1024, 3 * 1024 * 1024])
    def test_upload_counts_bytes(self, healthy: ServiceProcess, size: int) -> None:
        """POST /api/v1/assets/upload is 201 with an asset id and the body's byte count."""
        reply = call(healthy.url, "POST", "/api/v1/assets/upload", body=os.urandom(size))
        assert reply.status == 201
        body = reply.json()
        assert isinstance(body, dict)
        assert body["bytes"] == size
        assert body["asset_id"].startswith("asset_")
        per_mb_ms = 20.0 * size / (1024 * 1024)
        assert 50.0 + per_mb_ms - 0.1 <= reply.server_ms <= 150.0 + per_mb_ms + 0.1

    def test_too_large_upload_is_413(self, healthy: ServiceProcess) -> None:
        """A body declared larger than the upload limit is refused with 413 before it is read."""
        conn = connect(healthy.url)
        try:
            conn.putrequest("POST", "/api/v1/assets/upload")
            conn.putheader("Content-Length", str(MAX_UPLOAD_BYTES + 1))
            conn.endheaders()
            response = conn.getresponse()
            assert response.status == 413
            response.read()
        finally:
            conn.close()


class TestRateLimited:
    def test_about_a_fifth_are_429(self, healthy: ServiceProcess) -> None:
        """Over 200 calls, GET /api/v1/rate-limited answers 429 (with Retry-After) about 20% of the time."""
        replies = [call(healthy.url, "GET", "/api/v1/rate-limited") for _ in range(200)]
        counts = Counter(r.status for r in replies)
        assert set(counts) == {200, 429}
        # 200 draws at 20%: mean 40, sd ~5.7; the band is over 4 sd wide on each side.
        assert 15 <= counts[429] <= 65
        assert all(r.headers["retry-after"] == "1" for r in replies if r.status == 429)


class TestDegrade:
    def test_job_creation_is_slow(self, degraded: ServiceProcess) -> None:
        """--degrade makes job creation pick a p95 of ~700-900 ms, and the service really waits that long."""
        with ThreadPoolExecutor(max_workers=50) as pool:
            replies = list(
                pool.map(
                    lambda i: post_json(degraded.url, "/api/v1/jobs", {"prompt": f"p{i}", "duration_s": 5}),
                    range(100),
                )
            )
        latencies = [r.server_ms for r in replies]
        assert 650.0 <= p95(latencies) <= 1000.0
        assert statistics.median(latencies) >= 400.0
        # The chosen latency is spent, not just reported (a lower bound: a loaded machine only adds).
        assert statistics.median(r.elapsed_ms for r in replies) >= 0.8 * statistics.median(latencies)

    def test_hundreds_of_slow_requests_are_served_concurrently(self, degraded: ServiceProcess) -> None:
        """300 job creations in flight at once (each ~0.5 s when degraded) are all answered by the app."""
        with ThreadPoolExecutor(max_workers=300) as pool:
            replies = list(
                pool.map(
                    lambda i: post_json(degraded.url, "/api/v1/jobs", {"prompt": f"c{i}", "duration_s": 5}),
                    range(300),
                )
            )
        assert all("server-timing" in r.headers for r in replies)
        assert {r.status for r in replies} <= {201, 500, 503}
        assert sum(r.status == 201 for r in replies) >= 250

    def test_about_five_percent_are_server_errors(self, degraded: ServiceProcess) -> None:
        """--degrade fails ~5% of requests with 500 or 503, each with a JSON error body."""
        replies = [call(degraded.url, "GET", "/health") for _ in range(300)]
        counts = Counter(r.status for r in replies)
        assert set(counts) <= {200, 500, 503}
        errors = counts[500] + counts[503]
        # 300 draws at 5%: mean 15, sd ~3.8; the band is about 4 sd wide on each side.
        assert 2 <= errors <= 30
        assert all("error" in r.json() for r in replies if r.status >= 500)  # type: ignore[operator]


def run_locust(tmp_path: Path, url: str, *extra: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the demo locustfile under plain `locust`, in an empty directory (no stray locust.conf)."""
    prefix = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    cmd = [
        str(LOCUST),
        "-f",
        str(DEMO / "locustfile.py"),
        "-H",
        url,
        "--headless",
        *extra,
        "--only-summary",
        "--csv",
        str(prefix),
    ]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90)
    return done, prefix


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


EXPECTED_ENDPOINTS = {
    ("GET", "/health"),
    ("POST", "/api/v1/jobs"),
    ("GET", "/api/v1/jobs/{id}"),
    ("GET", "/api/v1/jobs"),
    ("POST", "/api/v1/assets/upload"),
    ("GET", "/api/v1/rate-limited"),
}
# The only failures the healthy service produces: the rate-limited 429s and the rare queue-full 503.
ALLOWED_FAILURES = {("GET", "/api/v1/rate-limited", "429"), ("POST", "/api/v1/jobs", "503")}


class TestLocustfile:
    def test_plain_locust_run_hits_every_endpoint(self, healthy: ServiceProcess, tmp_path: Path) -> None:
        """Under plain `locust --headless` the demo locustfile requests every endpoint, without exceptions."""
        done, prefix = run_locust(tmp_path, healthy.url, "-u", "10", "-r", "10", "-t", "8s")
        stats = {(row["Type"], row["Name"]): row for row in read_csv(Path(f"{prefix}_stats.csv"))}
        assert set(stats) == EXPECTED_ENDPOINTS | {("", "Aggregated")}, done.stderr[-3000:]
        for key in EXPECTED_ENDPOINTS:
            assert int(stats[key]["Request Count"]) > 0, key
        assert read_csv(Path(f"{prefix}_exceptions.csv")) == []
        failures = read_csv(Path(f"{prefix}_failures.csv"))
        for row in failures:
            code = next((c for c in ("429", "503") if c in row["Error"]), "")
            assert (row["Method"], row["Name"], code) in ALLOWED_FAILURES, row
        # Locust exits 1 when any request failed (the 429s), else 0; anything else is a crash.
        assert done.returncode == (1 if failures else 0), done.stderr[-3000:]

    def test_tags_select_tasks(self, healthy: ServiceProcess, tmp_path: Path) -> None:
        """--tags health upload runs only the health and upload tasks."""
        done, prefix = run_locust(
            tmp_path, healthy.url, "-u", "10", "-r", "10", "-t", "5s", "--tags", "health", "upload"
        )
        stats = {(row["Type"], row["Name"]) for row in read_csv(Path(f"{prefix}_stats.csv"))}
        assert stats == {("GET", "/health"), ("POST", "/api/v1/assets/upload"), ("", "Aggregated")}, (
            done.stderr[-3000:]
        )
        assert done.returncode == 0, done.stderr[-3000:]


class TestDemoConfig:
    def test_demo_config_loads_with_the_demo_scenario_and_limits(self) -> None:
        """The demo's loadlens.toml passes loadlens's own config loader with the demo scenario and limits."""
        config = load_config(DEMO / "loadlens.toml", env={}, cwd=DEMO)
        scenario = config.selected_scenario()
        assert scenario is not None
        assert (scenario.name, scenario.users, scenario.spawn_rate, scenario.run_time_s) == (
            "demo",
            20,
            10.0,
            30.0,
        )
        limits = config.thresholds.default
        assert (limits.p95_ms, limits.p99_ms, limits.error_rate, limits.min_rps) == (500.0, 1000.0, 0.01, 5.0)
        assert config.thresholds.expected_statuses == frozenset({429})
        assert config.thresholds.endpoints["GET /health"].p95_ms == 50.0
        assert config.thresholds.endpoints["POST /api/v1/jobs"].p95_ms == 300.0
        assert (config.process.cpu_percent, config.process.memory_percent) == (70.0, 80.0)
