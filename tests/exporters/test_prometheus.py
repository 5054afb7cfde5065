"""/metrics: under gevent, scraped by a real Prometheus while a real StatsStore is being fed; and,
in-process, what a taken port or a failing state read does."""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exporters.prometheus import PrometheusExporter
from exporters.ratelimit import RateLimitedLog
from exporters.settings import PrometheusSettings
from runner.errors import ExporterError
from runner.model import LiveState
from tests.support.driver_client import ExporterDriver
from tests.support.live_states import INFO, fed_store, live_state
from tests.support.procs import free_port, prometheus, require, taken_port
from tests.support.wait import wait_until


def query(prom_url: str, promql: str) -> list[dict[str, Any]]:
    url = f"{prom_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]["result"]  # type: ignore[no-any-return]


def scalar(prom_url: str, promql: str) -> float | None:
    result = query(prom_url, promql)
    return float(result[0]["value"][1]) if result else None


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()  # type: ignore[no-any-return]


def _run_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith(("loadlens_exporter_scrape", "#"))]


class TestScrapedByPrometheus:
    def test_prometheus_totals_equal_the_stores_after_the_final_scrape(self, tmp_path: Path) -> None:
        """While requests are recorded Prometheus scrapes every second; after stop, during the linger,
        PromQL sums of requests, failures, _count and each endpoint's _sum equal the store's exactly."""
        port = free_port()
        with (
            prometheus(tmp_path, [f"127.0.0.1:{port}"], interval_s=1.0) as prom,
            ExporterDriver(tmp_path, {"prometheus": {"port": port, "linger_s": 60.0}, "names": 8}) as driver,
        ):
            driver.wait_for("started")
            # Several scrapes land while the store is being fed (reads interleave with record()).
            wait_until(
                lambda: (scalar(prom, "count_over_time(loadlens_users[5m])") or 0) >= 3, what="3 scrapes"
            )
            during = scalar(prom, "sum(loadlens_requests_total)")
            assert during is not None and during > 0
            live = scrape(port)
            lint = subprocess.run(
                [require("promtool"), "check", "metrics"], input=live.encode(), capture_output=True
            )
            assert lint.returncode == 0, lint.stdout.decode() + lint.stderr.decode()

            driver.signal("stop")
            final = driver.wait_for("final")
            total = final["total"]
            assert total["count"] > during
            wait_until(
                lambda: scalar(prom, "sum(loadlens_requests_total)") == total["count"],
                what=f"sum(loadlens_requests_total) == {total['count']}",
            )
            assert scalar(prom, 'sum(loadlens_requests_total{result="failure"})') == total["failures"]
            assert scalar(prom, "sum(loadlens_request_duration_seconds_count)") == total["count"]
            assert scalar(prom, 'sum(loadlens_request_duration_seconds_bucket{le="+Inf"})') == total["count"]
            sums = {
                (r["metric"]["method"], r["metric"]["endpoint"]): float(r["value"][1])
                for r in query(prom, "loadlens_request_duration_seconds_sum")
            }
            assert sums == {(e["method"], e["name"]): e["sum_ms"] / 1000.0 for e in final["endpoints"]}
            by_status = {
                (
                    r["metric"]["method"],
                    r["metric"]["endpoint"],
                    r["metric"]["status"],
                    r["metric"]["result"],
                ): float(r["value"][1])
                for r in query(prom, "loadlens_requests_total")
            }
            for e in final["endpoints"]:
                failed_200 = by_status.get((e["method"], e["name"], "200", "failure"), 0.0)
                assert failed_200 == e["failed_statuses"].get("200", 0)
            # Counters never went backwards across the scrapes, and every scrape read the state fine.
            assert all(float(r["value"][1]) == 0 for r in query(prom, "resets(loadlens_requests_total[5m])"))
            assert scalar(prom, "max(loadlens_exporter_scrape_errors_total)") == 0
            assert scalar(prom, 'loadlens_run_info{run_id="run-1",scenario="load"}') == 1
            driver.signal("close")
            done = driver.finish()
        assert done["violations"] == 0  # read_state only ever ran on the load loop's OS thread
        assert done["stats"]["prometheus"]["scrapes"] >= 4


class TestLinger:
    def test_the_final_state_is_served_for_the_linger_then_the_port_closes(self, tmp_path: Path) -> None:
        """After stop the endpoint answers with the final totals; when the linger ends it closes by itself."""
        with ExporterDriver(tmp_path, {"prometheus": {"port": 0, "linger_s": 1.5}}) as driver:
            port = driver.wait_for("started")["address"][1]
            driver.signal("stop")
            final = driver.wait_for("final")
            text = scrape(port)
            served = sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("loadlens_requests_total{")
            )
            assert served == final["total"]["count"]
            assert _run_lines(scrape(port)) == _run_lines(text)  # nothing about the run moves any more
            driver.finish()
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0

    def test_an_openmetrics_request_is_answered_in_the_text_format(self, tmp_path: Path) -> None:
        """Asked for OpenMetrics first (as Prometheus asks), the endpoint answers text format 0.0.4,
        which Prometheus accepts by its Content-Type."""
        with ExporterDriver(tmp_path, {"prometheus": {"port": 0, "linger_s": 0}}) as driver:
            port = driver.wait_for("started")["address"][1]
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/metrics",
                headers={
                    "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
                },
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
                assert b"# TYPE loadlens_requests_total counter" in response.read()
            driver.signal("stop")
            driver.finish()


class TestPrometheusPort:
    def test_a_port_in_use_is_one_line(self) -> None:
        """A taken port raises ExporterError "cannot serve /metrics on HOST:PORT: address already in use"."""
        with taken_port() as port:
            exporter = PrometheusExporter(PrometheusSettings(port=port))
            state = live_state(fed_store(requests=10))
            with pytest.raises(ExporterError) as caught:
                exporter.start(INFO, lambda: state)
        assert str(caught.value) == f"cannot serve /metrics on 127.0.0.1:{port}: address already in use"

    def test_an_unknown_bind_address_is_one_line(self) -> None:
        """A bind address the machine does not have is reported, not raised as a traceback."""
        exporter = PrometheusExporter(PrometheusSettings(port=0, bind="192.0.2.1"))
        with pytest.raises(ExporterError, match=r"^cannot serve /metrics on 192\.0\.2\.1:0: cannot assign"):
            exporter.start(INFO, lambda: live_state(fed_store(requests=1)))

    def test_port_zero_binds_a_free_port_and_close_releases_it(self) -> None:
        """Port 0 asks the OS; address reports the real port; close() frees it at once."""
        exporter = PrometheusExporter(PrometheusSettings(port=0, linger_s=0))
        exporter.start(INFO, lambda: live_state(fed_store(requests=1)))
        host, port = exporter.address
        assert host == "127.0.0.1" and port > 0
        exporter.close()
        assert exporter.wait_linger(0)
        with socket.socket() as again:
            again.bind(("127.0.0.1", port))


class TestScrapeErrors:
    def test_a_failing_state_read_answers_500_and_is_counted(self) -> None:
        """If reading the state raises, the scrape answers 500, the error is counted and logged once,
        and the next good scrape reports it in loadlens_exporter_scrape_errors_total."""
        state = live_state(fed_store(requests=20))
        reads: Iterator[LiveState | Exception] = iter([RuntimeError("boom"), RuntimeError("again"), state])

        def read_state() -> LiveState:
            item = next(reads)
            if isinstance(item, Exception):
                raise item
            return item

        lines: list[tuple[str, dict[str, object]]] = []

        class Logger:
            def warning(self, event: str, **fields: object) -> None:
                lines.append((event, fields))

            def info(self, event: str, **fields: object) -> None:
                pass

        exporter = PrometheusExporter(
            PrometheusSettings(port=0, linger_s=0), log=RateLimitedLog(every_s=60.0, logger=Logger())
        )
        exporter.start(INFO, read_state)
        try:
            statuses: list[str] = []
            bodies = [
                b"".join(exporter.wsgi({"REQUEST_METHOD": "GET"}, lambda s, h: statuses.append(s)))
                for _ in range(3)
            ]
        finally:
            exporter.close()
        assert statuses == ["500 Internal Server Error", "500 Internal Server Error", "200 OK"]
        assert b'loadlens_exporter_scrape_errors_total{run_id="run-42"} 2\n' in bodies[2]
        assert [event for event, _ in lines] == ["a /metrics scrape failed"]  # the second was held back
        assert exporter.health.errors == 2 and exporter.health.scrapes == 1

    def test_other_methods_are_refused(self) -> None:
        """POST to /metrics is 405 and does not count as a scrape."""
        exporter = PrometheusExporter(PrometheusSettings(port=0, linger_s=0))
        exporter.start(INFO, lambda: live_state(fed_store(requests=1)))
        try:
            statuses: list[str] = []
            exporter.wsgi({"REQUEST_METHOD": "POST"}, lambda s, h: statuses.append(s))
        finally:
            exporter.close()
        assert statuses == ["405 Method Not Allowed"] and exporter.health.scrapes == 0
