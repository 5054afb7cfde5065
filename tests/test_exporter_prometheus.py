"""/metrics under gevent, scraped by a real Prometheus while a real StatsStore is being fed."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.driver_client import ExporterDriver
from tests.support.procs import free_port, prometheus, require


def query(prom_url: str, promql: str) -> list[dict[str, Any]]:
    url = f"{prom_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]["result"]  # type: ignore[no-any-return]


def scalar(prom_url: str, promql: str) -> float | None:
    result = query(prom_url, promql)
    return float(result[0]["value"][1]) if result else None


def eventually(fn: Any, *, timeout_s: float = 30.0, what: str = "") -> Any:
    """Poll ``fn`` until it returns something truthy (Prometheus scrapes on its own schedule)."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"not reached in {timeout_s}s: {what} (last: {last!r})")


def scrape(port: int, *, accept: str | None = None) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Accept": accept} if accept else {}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
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
            eventually(
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
            eventually(
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

    def test_openmetrics_is_served_on_request(self, tmp_path: Path) -> None:
        """Asked for OpenMetrics (as Prometheus does), the endpoint answers in that format, # EOF ended."""
        with ExporterDriver(tmp_path, {"prometheus": {"port": 0, "linger_s": 0}}) as driver:
            port = driver.wait_for("started")["address"][1]
            text = scrape(port, accept="application/openmetrics-text; version=1.0.0")
            assert text.endswith("# EOF\n")
            assert "# TYPE loadlens_requests counter" in text
            driver.signal("stop")
            driver.finish()
