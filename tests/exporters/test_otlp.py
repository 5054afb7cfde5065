"""OTLP export over HTTP and gRPC to local receivers that decode what the SDK sent.

No OTLP collector runs here, so each receiver is a small server in this test process decoding
``ExportMetricsServiceRequest`` with opentelemetry-proto: an http.server for OTLP/HTTP and a grpc
server implementing ``MetricsServiceServicer`` for gRPC. The exporters run in a gevent-patched
subprocess, as under Locust.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import sys
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from exporters.buckets import LATENCY_BOUNDS_S
from exporters.cardinality import LabelFolder
from exporters.otlp_data import MetricsDataBuilder, build_resource, server_address
from runner.stats.store import StatsStore
from tests.support.driver_client import ExporterDriver
from tests.support.live_states import INFO, fed_store, live_state
from tests.support.procs import free_port

Request = metrics_service_pb2.ExportMetricsServiceRequest


@dataclass
class Received:
    """What a receiver got: decoded requests and the headers (or gRPC metadata) they came with."""

    requests: list[Any] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, request: Any, headers: dict[str, str]) -> None:
        with self.lock:
            self.requests.append(request)
            self.headers.append(headers)

    def last(self) -> Any:
        with self.lock:
            assert self.requests, "the receiver got nothing"
            return self.requests[-1]


@contextlib.contextmanager
def http_receiver(*, delay_s: float = 0.0) -> Iterator[tuple[str, Received]]:
    """An OTLP/HTTP receiver on 127.0.0.1 (optionally answering only after ``delay_s``)."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            request = Request()
            request.ParseFromString(body)
            time.sleep(delay_s)
            received.add(request, {k.lower(): v for k, v in self.headers.items()})
            answer = metrics_service_pb2.ExportMetricsServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            # A client that gave up (the exporter's timeout) leaves a broken pipe: expected here.
            if not isinstance(sys.exc_info()[1], ConnectionError):
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def grpc_receiver() -> Iterator[tuple[str, Received]]:
    """An OTLP/gRPC receiver on 127.0.0.1 (plaintext)."""
    received = Received()

    class Servicer(metrics_service_pb2_grpc.MetricsServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:  # noqa: N802  (the generated name)
            received.add(request, dict(context.invocation_metadata()))
            return metrics_service_pb2.ExportMetricsServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        server.stop(grace=None)


# -- decoding --------------------------------------------------------------------------------------
def _value(v: AnyValue) -> Any:
    return getattr(v, v.WhichOneof("value"))


def attrs(kvs: list[KeyValue]) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


def metrics(request: Any) -> dict[str, Any]:
    (resource_metrics,) = request.resource_metrics
    (scope,) = resource_metrics.scope_metrics
    return {m.name: m for m in scope.metrics}


def resource(request: Any) -> dict[str, Any]:
    return attrs(request.resource_metrics[0].resource.attributes)


def check_totals(request: Any, final: dict[str, Any]) -> None:
    """The decoded request carries the final state's exact counts, failures and sums."""
    by_name = metrics(request)
    duration = by_name["http.client.request.duration"]
    assert duration.unit == "s"
    assert (
        duration.histogram.aggregation_temporality
        == AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    )
    points = {
        (attrs(p.attributes)["http.request.method"], attrs(p.attributes)["url.template"]): p
        for p in duration.histogram.data_points
    }
    expected = {(e["method"], e["name"]): e for e in final["endpoints"]}
    assert set(points) == set(expected)
    for key, p in points.items():
        assert p.count == expected[key]["count"] == sum(p.bucket_counts)
        assert p.sum == expected[key]["sum_ms"] / 1000.0
        assert list(p.explicit_bounds) == list(LATENCY_BOUNDS_S)
    requests = by_name["loadlens.client.requests"]
    assert requests.sum.is_monotonic
    values = [(attrs(p.attributes), p.as_int) for p in requests.sum.data_points]
    assert sum(n for _, n in values) == final["total"]["count"]
    assert sum(n for a, n in values if "error.type" in a) == final["total"]["failures"]
    (users,) = by_name["loadlens.users"].gauge.data_points
    assert users.as_int == 7


class TestOverHttp:
    def test_decoded_counts_equal_the_store_and_otel_variables_apply(self, tmp_path: Path) -> None:
        """With only OTEL_* variables set (endpoint, headers, service name, resource attributes), the
        receiver gets the run's exact totals, the headers and the merged resource."""
        env = {
            "OTEL_SERVICE_NAME": "checkout-load",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=staging,loadlens.run_id=not-this-one",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=s3cret",
        }
        with http_receiver() as (url, received):
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = url
            config = {"otlp": {"interval_s": 0.3}, "names": 5}
            with ExporterDriver(tmp_path, config, env={**_base_env(), **env}) as driver:
                driver.wait_for("exports", where=lambda e: e["attempts"] >= 2)
                driver.signal("stop")
                final = driver.wait_for("final")
                done = driver.finish()
            last = received.last()
            assert all(h.get("x-api-key") == "s3cret" for h in received.headers)
            assert all(h["content-type"] == "application/x-protobuf" for h in received.headers)
        check_totals(last, final)
        res = resource(last)
        assert res["service.name"] == "checkout-load"
        assert res["deployment.environment"] == "staging"
        assert (res["loadlens.run_id"], res["loadlens.scenario"]) == ("run-1", "load")
        point = metrics(last)["http.client.request.duration"].histogram.data_points[0]
        assert attrs(point.attributes)["server.address"] == "target.example"
        stats = done["stats"]["otlp"]
        assert stats["failures"] == 0 and stats["attempts"] == stats["successes"] == len(received.requests)
        assert done["violations"] == 0

    def test_a_slow_backend_never_stalls_the_load_loop(self, tmp_path: Path) -> None:
        """A receiver that takes seconds to answer: requests keep being recorded while an export is in
        flight on the exporter's own thread, intervals are skipped rather than queued, no exception."""
        with http_receiver(delay_s=1.5) as (url, _received):
            config = {"otlp": {"endpoint": url, "interval_s": 0.2, "timeout_s": 1.0}}
            with ExporterDriver(tmp_path, config, env=_base_env()) as driver:
                driver.wait_for("exports", where=lambda e: e["attempts"] >= 3, timeout_s=30)
                driver.signal("stop")
                done = driver.finish()
        stats = done["stats"]["otlp"]
        assert done["fed"]["while_in_flight"] > 0  # the loop fed the store while the thread waited
        assert stats["skipped"] >= 1
        assert stats["failures"] >= 1  # timed out after 1 s, reported, not retried forever
        assert any(line["event"] == "export failed" for line in driver.logs())


class TestOverGrpc:
    def test_decoded_counts_equal_the_store(self, tmp_path: Path) -> None:
        """protocol=grpc: the gRPC receiver gets the exact totals, with headers as metadata."""
        with grpc_receiver() as (url, received):
            config = {
                "otlp": {
                    "endpoint": url,
                    "protocol": "grpc",
                    "interval_s": 0.3,
                    "headers": {"x-team": "perf"},
                }
            }
            with ExporterDriver(tmp_path, config, env=_base_env()) as driver:
                driver.wait_for("exports", where=lambda e: e["attempts"] >= 2)
                driver.signal("stop")
                final = driver.wait_for("final")
                done = driver.finish()
            last = received.last()
            assert all(h.get("x-team") == "perf" for h in received.headers)
        check_totals(last, final)
        assert resource(last)["service.name"] == "loadlens"
        assert done["stats"]["otlp"]["failures"] == 0


class TestBackendDown:
    @pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
    def test_a_refusing_port_costs_only_rate_limited_warnings(self, tmp_path: Path, protocol: str) -> None:
        """Nothing listens: no exception escapes, the SDK's per-attempt log lines are not printed, and
        loadlens writes at most one warning per interval, carrying the SDK's reason."""
        url = f"http://127.0.0.1:{free_port()}"
        config = {"otlp": {"endpoint": url, "protocol": protocol, "interval_s": 0.2}}
        with ExporterDriver(tmp_path, config, env=_base_env()) as driver:
            driver.wait_for("exports", where=lambda e: e["attempts"] >= 6, timeout_s=30)
            driver.signal("stop")
            done = driver.finish()
        stats = done["stats"]["otlp"]
        assert stats["failures"] >= 6 and stats["successes"] == 0
        failed = [
            line for line in driver.logs() if line["level"] == "warning" and line["event"] == "export failed"
        ]
        assert 1 <= len(failed) <= stats["failures"]
        assert len(failed) + sum(line.get("suppressed", 0) for line in failed) <= stats["failures"]
        assert all(f"{protocol} to {url}" in line["error"] for line in failed)
        stderr = driver.stderr()
        assert (
            "Failed to export" not in stderr and "Transient error" not in stderr and "Traceback" not in stderr
        )

    def test_memory_stays_flat_while_the_backend_is_down(self, tmp_path: Path) -> None:
        """Once warm, a dozen more failed exports of 120 endpoints leave the process's memory where it
        was: nothing is queued or kept per failed export."""
        url = f"http://127.0.0.1:{free_port()}"
        config = {
            "otlp": {"endpoint": url, "interval_s": 0.1},
            "names": 120,
            "max_requests": 20_000,  # then the store stops growing: only the exporter could grow
            "trace_memory": True,
            "memory_at": [8, 20],
        }
        with ExporterDriver(tmp_path, config, env=_base_env()) as driver:
            warm = driver.wait_for("memory", where=lambda e: e["mark"] == 8, timeout_s=90)["bytes"]
            later = driver.wait_for("memory", where=lambda e: e["mark"] == 20, timeout_s=90)["bytes"]
            driver.signal("stop")
            done = driver.finish()
        assert done["stats"]["otlp"]["failures"] >= 20
        # One payload of 120 endpoints is ~0.6 MiB as MetricsData: a dozen kept ones would be ~7 MiB.
        assert later - warm < 1024 * 1024, (warm, later)


class TestPayload:
    def test_default_resource_names_the_service_loadlens(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without OTEL_SERVICE_NAME the resource says service.name=loadlens, with the run's id and scenario."""
        monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
        monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
        res = build_resource(INFO).attributes
        assert (res["service.name"], res["loadlens.run_id"], res["loadlens.scenario"]) == (
            "loadlens",
            "run-42",
            "load",
        )

    def test_attributes_follow_the_semantic_conventions(self) -> None:
        """Known methods are upper-case, others "_OTHER" with the original; failures carry error.type,
        no response has no status code; a folded status code becomes loadlens.status_class."""
        store = StatsStore()
        store.record("GET", "/a", 5.0, 200, False, 0)
        store.record("GET", "/a", 5.0, 503, True, 0)
        store.record("GET", "/a", 5.0, 0, True, 0)
        store.record("GET", "/a", 5.0, 200, True, 0)
        store.record("WS", "chat", 5.0, 101, False, 0)
        folder = LabelFolder(max_names=10, max_statuses=3)
        data = MetricsDataBuilder(INFO, build_resource(INFO), folder).build(live_state(store))
        (rm,) = data.resource_metrics
        (sm,) = rm.scope_metrics
        by_name = {m.name: m for m in sm.metrics}
        points = [(dict(p.attributes), p.value) for p in by_name["loadlens.client.requests"].data.data_points]
        base = {"http.request.method": "GET", "url.template": "/a", "server.address": "api.example.com"}
        assert (dict(base, **{"http.response.status_code": 200}), 1) in points
        assert (dict(base, **{"http.response.status_code": 200, "error.type": "_OTHER"}), 1) in points
        assert (dict(base, **{"http.response.status_code": 503, "error.type": "503"}), 1) in points
        assert (dict(base, **{"error.type": "_OTHER"}), 1) in points  # no response: no status code
        ws = {
            "http.request.method": "_OTHER",
            "http.request.method_original": "WS",
            "url.template": "chat",
            "server.address": "api.example.com",
            "loadlens.status_class": "1xx",
        }
        assert (ws, 1) in points  # the fourth distinct code is past the cap of 3

    def test_server_address_is_the_host_name(self) -> None:
        """server.address is the host of Locust's --host, without scheme or port."""
        assert server_address("https://api.example.com:8443/base") == "api.example.com"
        assert server_address("10.0.0.7:8080") == "10.0.0.7"
        assert server_address("") is None

    def test_histogram_points_match_the_store(self) -> None:
        """Each endpoint's point has the exact count and sum, and bucket counts that add up to it."""
        state = live_state(fed_store(requests=3000))
        folder = LabelFolder(max_names=200, max_statuses=20)
        data = MetricsDataBuilder(INFO, build_resource(INFO), folder).build(state)
        (duration,) = [
            m for m in data.resource_metrics[0].scope_metrics[0].metrics if m.name.startswith("http.")
        ]
        for p in duration.data.data_points:
            stats = next(
                s
                for k, s in state.cumulative.endpoints.items()
                if (k.method, k.name) == (p.attributes["http.request.method"], p.attributes["url.template"])
            )
            assert p.count == stats.count == sum(p.bucket_counts)
            assert p.sum == stats.sum_ms / 1000.0
            assert p.start_time_unix_nano == int(INFO.started_at * 1e9) < p.time_unix_nano


def _base_env() -> dict[str, str]:
    """The subprocess's environment: this one, without OTEL_* variables a developer may have set."""
    return {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
