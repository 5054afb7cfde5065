"""Live export from real `loadlens run`s: a real Prometheus scraping every second, a real Pushgateway,
and an OTLP/HTTP receiver in the test; their totals must equal summary.json's."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.cli import LoadlensRun, end_linger
from tests.support.procs import free_port, prometheus, pushgateway, require
from tests.support.runs import LOCUSTFILES, only_run_dir, summary
from tests.support.wait import wait_until

CONFIG = """
[thresholds]
p95_ms = 5000
expected_statuses = [429]
[run]
interval = "1s"
[exporters.prometheus]
linger = "4s"
"""


def promql(base: str, query: str) -> list[dict]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as r:
        doc = json.load(r)
    assert doc["status"] == "success", doc
    return doc["data"]["result"]


def scalar(base: str, query: str) -> float:
    result = promql(base, query)
    assert len(result) == 1, (query, result)
    return float(result[0]["value"][1])


def export_run(
    tmp_path: Path, target: str, *flags: str, seconds: int = 5, env: dict[str, str] | None = None
) -> LoadlensRun:
    """basic.py with 6 users for ``seconds`` under CONFIG, plus the exporter ``flags``."""
    return LoadlensRun(
        tmp_path,
        target,
        config=CONFIG,
        users=6,
        run_time=f"{seconds}s",
        only_summary=True,
        flags=flags,
        env=env or {},
    )


def start_run(
    tmp_path: Path, target: str, *flags: str, seconds: int = 5, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], Path]:
    run = export_run(tmp_path, target, *flags, seconds=seconds, env=env)
    return run.start(), run.out


def finish(proc: subprocess.Popen, *, out_dir: Path | None = None) -> tuple[str, str]:
    """Wait for the run's end (with ``out_dir``: end its linger with a Ctrl-C once summary.json is
    written, see tests/support/cli.py end_linger) and check it exited 0."""
    if out_dir is not None:
        end_linger(proc, out_dir)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    return out, err


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


class TestPrometheus:
    def test_real_prometheus_scrapes_a_run_and_promql_matches_the_summary(
        self, tmp_path: Path, target: str
    ) -> None:
        """Prometheus scraping every second sees request and histogram totals equal to summary.json."""
        port = free_port()
        with prometheus(tmp_path, [f"127.0.0.1:{port}"], interval_s=1.0) as prom:
            proc, out = start_run(tmp_path, target, "--prometheus-port", str(port), seconds=6)
            # Mid-run: the exposition passes promtool's lint.
            text = wait_until(
                lambda: _try_fetch(f"http://127.0.0.1:{port}/metrics", "loadlens_requests_total{"),
                what="a scrape with requests",
            )
            lint = subprocess.run(
                [require("promtool"), "check", "metrics"], input=text, capture_output=True, text=True
            )
            assert lint.returncode == 0, lint.stdout + lint.stderr
            wait_until(lambda: list(out.glob("*/summary.json")), 60, what="the run's summary.json")
            doc = summary(only_run_dir(out))
            run_id = doc["run_id"]
            total = doc["client"]["whole_run"]["total"]
            sel = f'{{run_id="{run_id}"}}'
            wait_until(
                lambda: (
                    promql(prom, f"sum(last_over_time(loadlens_requests_total{sel}[5m]))")
                    and scalar(prom, f"sum(last_over_time(loadlens_requests_total{sel}[5m]))")
                    == total["requests"]
                ),
                what="Prometheus to hold the final totals",
            )
            finish(proc, out_dir=out)  # the final totals are stored: the rest of the linger is not waited out
            assert (
                scalar(prom, f"sum(last_over_time(loadlens_request_duration_seconds_count{sel}[5m]))")
                == total["requests"]
            )
            failed = scalar(
                prom,
                f'sum(last_over_time(loadlens_requests_total{{run_id="{run_id}",result="failure"}}[5m])) or vector(0)',
            )
            assert failed == total["failures"]
            expected = scalar(
                prom,
                f'sum(last_over_time(loadlens_requests_total{{run_id="{run_id}",status="429"}}[5m])) or vector(0)',
            )
            assert expected == total["statuses"].get("429", 0)
            hist_sum = scalar(prom, f"sum(last_over_time(loadlens_request_duration_seconds_sum{sel}[5m]))")
            endpoints_sum_s = sum(e["sum_ms"] for e in doc["client"]["whole_run"]["endpoints"]) / 1000
            assert hist_sum == pytest.approx(endpoints_sum_s, rel=1e-6)
            info = promql(prom, f"last_over_time(loadlens_run_info{sel}[5m])")
            assert info and info[0]["metric"]["scenario"] == doc["scenario"]
            statuses = promql(prom, f"last_over_time(loadlens_criterion_status{sel}[5m])")
            assert {s["metric"]["criterion"] for s in statuses} >= {"all requests p95"}

    def test_distributed_master_exports_the_merged_totals(self, tmp_path: Path, target: str) -> None:
        """With a master and two workers, the master's /metrics equals the summary; workers export nothing."""
        port, master_port = free_port(), free_port()
        run = export_run(
            tmp_path, target, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port),
            "--expect-workers", "2", "--prometheus-port", str(port),
        )  # fmt: skip
        with prometheus(tmp_path, [f"127.0.0.1:{port}"], interval_s=1.0) as prom:
            master = run.start()
            workers = [run.start_worker(master_port, "--prometheus-port", str(port)) for _ in range(2)]
            wait_until(lambda: list(run.out.glob("*/summary.json")), 60, what="the run's summary.json")
            doc = summary(only_run_dir(run.out))
            sel = f'{{run_id="{doc["run_id"]}"}}'
            want = doc["client"]["whole_run"]["total"]["requests"]
            wait_until(
                lambda: (
                    promql(prom, f"sum(last_over_time(loadlens_requests_total{sel}[5m]))")
                    and scalar(prom, f"sum(last_over_time(loadlens_requests_total{sel}[5m]))") == want
                ),
                what="Prometheus to hold the merged totals",
            )
            finish(master, out_dir=run.out)  # the merged totals are stored: the linger is cut short
            for w in workers:
                assert w.wait(timeout=30) == 0  # a worker given the same port did not try to bind it


class TestCardinality:
    def test_500_names_keep_the_label_set_at_the_cap(self, tmp_path: Path, target: str) -> None:
        """A locustfile with 500 distinct request names exports at most 200 names plus "(other)", and
        reports how many requests and names were folded."""
        port = free_port()
        run = LoadlensRun(
            tmp_path, target, locustfile=LOCUSTFILES / "many_names.py",
            config=CONFIG.replace('linger = "4s"', 'linger = "30s"'), users=5, run_time="8s", only_summary=True,
            flags=("--prometheus-port", str(port)),
        )  # fmt: skip
        out = run.out
        # Output to files, not pipes nobody reads while the run lingers: Locust's 500-row table fills a pipe.
        proc = run.start(log_dir=tmp_path)
        try:
            wait_until(lambda: list(out.glob("*/summary.json")), timeout_s=90, what="the summary")
            doc = summary(only_run_dir(out))
            want = doc["client"]["whole_run"]["total"]["requests"]

            def final_scrape() -> str | None:
                text = _try_fetch(f"http://127.0.0.1:{port}/metrics", "loadlens_requests_total{")
                return text if text is not None and _requests_total(text) == want else None

            last = _try_fetch(f"http://127.0.0.1:{port}/metrics", "loadlens_requests_total{") or ""
            text = wait_until(
                final_scrape, what=f"the final state on /metrics ({_requests_total(last)} != {want})"
            )
        finally:
            proc.send_signal(signal.SIGINT)  # ends the 30 s linger (SIGTERM would wait it out)
            proc.wait(timeout=60)
        names = {
            line.split('endpoint="', 1)[1].split('"', 1)[0]
            for line in text.splitlines()
            if line.startswith("loadlens_requests_total{")
        }
        assert len(doc["client"]["whole_run"]["endpoints"]) == 500  # the summary keeps every name (cap 500)
        assert "(other)" in names and len(names) == 201
        folded = [
            ln
            for ln in text.splitlines()
            if ln.startswith("loadlens_exporter_folded_label_sets{") and 'kind="endpoint"' in ln
        ]
        assert folded and float(folded[0].rsplit(" ", 1)[1]) == 300
        overflow = [
            ln for ln in text.splitlines() if ln.startswith("loadlens_exporter_overflow_requests_total{")
        ]
        assert overflow and float(overflow[0].rsplit(" ", 1)[1]) > 0


class TestSigterm:
    def test_sigterm_during_the_linger_ends_it_with_the_verdicts_exit_code(
        self, tmp_path: Path, target: str
    ) -> None:
        """SIGTERM, what CI runners, Docker and Kubernetes send to stop a process, ends the
        exporters' linger once the run is judged (as a further Ctrl-C does) instead of being
        ignored for the linger's length; the exit code stays the verdict's (a FAIL here: 1)."""
        port = free_port()
        config = '[thresholds]\np95_ms = 0.001\n[exporters.prometheus]\nlinger = "10m"\n'
        run = LoadlensRun(tmp_path, target, config=config, users=2, run_time="2s", only_summary=True)
        proc = run.but("--prometheus-port", str(port)).start(log_dir=tmp_path)
        try:
            wait_until(lambda: list(run.out.glob("*/summary.json")), 60, what="the run's summary.json")
            doc = summary(only_run_dir(run.out))
            assert doc["exit_code"] == 1
            # The linger is on: the endpoint still serves the final state, and the log says how to end it.
            assert "loadlens_requests_total{" in fetch(f"http://127.0.0.1:{port}/metrics")
            wait_until(
                lambda: "Ctrl-C or SIGTERM ends the wait" in (tmp_path / "stderr.txt").read_text(),
                10,
                what="the linger's log line",
            )
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)  # the 10 min linger is not waited out
        finally:
            if proc.poll() is None:
                proc.kill()
        assert code == 1
        stderr = (tmp_path / "stderr.txt").read_text()
        assert "Traceback" not in stderr
        assert _try_fetch(f"http://127.0.0.1:{port}/metrics", "loadlens_") is None  # closed


class TestPushgateway:
    def test_run_pushes_its_final_totals(self, tmp_path: Path, target: str) -> None:
        """--pushgateway pushes during the run and once at the end, grouped by job and run_id."""
        with pushgateway(tmp_path) as gw:
            proc, out = start_run(tmp_path, target, "--pushgateway", gw, seconds=4)
            finish(proc)
            doc = summary(only_run_dir(out))
            text = fetch(f"{gw}/metrics")
            lines = [
                ln
                for ln in text.splitlines()
                if ln.startswith("loadlens_requests_total{") and f'run_id="{doc["run_id"]}"' in ln
            ]
            assert lines and all('job="loadlens"' in ln for ln in lines)
            assert (
                sum(float(ln.rsplit(" ", 1)[1]) for ln in lines)
                == doc["client"]["whole_run"]["total"]["requests"]
            )


class _OtlpSink(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        type(self).bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def otlp_sink() -> Iterator[tuple[str, list[bytes]]]:
    handler = type("Sink", (_OtlpSink,), {"bodies": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.bodies
    server.shutdown()


class TestOtlp:
    def test_run_exports_otlp_http_with_totals_matching_the_summary(
        self, tmp_path: Path, target: str, otlp_sink
    ) -> None:
        """--otlp-endpoint sends http.client.request.duration whose final counts equal summary.json."""
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

        url, bodies = otlp_sink
        proc, out = start_run(
            tmp_path, target, "--otlp-endpoint", url, seconds=4, env={"OTEL_METRIC_EXPORT_INTERVAL": "1000"}
        )
        finish(proc)
        doc = summary(only_run_dir(out))
        assert bodies, "no OTLP export arrived"
        last = ExportMetricsServiceRequest()
        last.ParseFromString(bodies[-1])
        resource = {a.key: a.value.string_value for a in last.resource_metrics[0].resource.attributes}
        assert resource["service.name"] == "loadlens" and resource["loadlens.run_id"] == doc["run_id"]
        count = 0
        for sm in last.resource_metrics[0].scope_metrics:
            for metric in sm.metrics:
                if metric.name == "http.client.request.duration":
                    assert metric.unit == "s"
                    count += sum(dp.count for dp in metric.histogram.data_points)
        assert count == doc["client"]["whole_run"]["total"]["requests"]


def _requests_total(text: str) -> float:
    return sum(
        float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines() if ln.startswith("loadlens_requests_total{")
    )


def _try_fetch(url: str, needle: str) -> str | None:
    try:
        text = fetch(url)
    except OSError:
        return None
    return text if needle in text else None


@pytest.fixture
def silent_backend() -> Iterator[str]:
    """A backend that is down in the worst way: it accepts connections and never answers."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in accepted:
        conn.close()
    sock.close()


class TestShutdownBounded:
    def test_a_silent_otlp_backend_costs_one_bounded_wait_said_once(
        self, tmp_path: Path, target: str, silent_backend: str
    ) -> None:
        """OTLP export to a backend that never answers (its timeout 30 s): the end of the run waits for
        the final export only up to the shutdown bound, and says so in exactly one line."""
        proc, out = start_run(
            tmp_path, target, "--otlp-endpoint", silent_backend, seconds=3,
            env={"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "30"},
        )  # fmt: skip
        _, err = finish(proc)
        gave_up = [ln for ln in err.splitlines() if "stopped waiting for the backend" in ln]
        assert len(gave_up) == 1, err[-3000:]
        assert "otlp" in gave_up[0] and "3 s" in gave_up[0], gave_up
        doc = summary(only_run_dir(out))  # the verdict is the run's, untouched by the exporter
        assert doc["exit_code"] == 0 and not [
            r for r in doc["criteria"] if r["status"] in ("fail", "inconclusive") and r.get("required", True)
        ]
