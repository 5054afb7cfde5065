"""The Prometheus source against a real Prometheus server scraping a tiny local exporter whose gauges
the test sets (prometheus_client on 127.0.0.1)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from runner.errors import SourceError, SourceUnavailableError
from runner.judge.server import ServerCriteriaLimits, judge_server
from runner.model import Status
from runner.sources.base import MetricSource
from runner.sources.prometheus import PrometheusSource
from tests.support.procs import free_port, prometheus
from tests.support.wait import wait_until


@dataclass(frozen=True)
class Scraped:
    prometheus_url: str
    exporter: str  # host:port of the exporter Prometheus scrapes


def _has_data(url: str, query: str) -> bool:
    q = urllib.parse.urlencode({"query": query})
    try:
        with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=5) as r:
            return bool(json.load(r)["data"]["result"])
    except urllib.error.HTTPError as exc:
        if exc.code == 503:  # still starting: procs.wait_http accepts /-/ready's 503 as "up"
            return False
        raise


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    """Prometheus scraping an exporter with app_cpu_percent = 42 and app_memory_percent = 30 (two pods)."""
    registry = CollectorRegistry()
    cpu = Gauge("app_cpu_percent", "CPU of the app", ["pod"], registry=registry)
    cpu.labels(pod="a").set(42)
    cpu.labels(pod="b").set(35)
    Gauge("app_memory_percent", "memory of the app", registry=registry).set(30)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    exporter = f"127.0.0.1:{port}"
    try:
        with prometheus(tmp_path_factory.mktemp("prom"), [exporter], interval_s=0.5) as url:
            wait_until(
                lambda: _has_data(url, "app_memory_percent"), 30, what="Prometheus to scrape the exporter"
            )
            time.sleep(1.5)  # a few more scrapes, so a range query has several points
            yield Scraped(url, exporter)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


QUERIES = {"cpu_percent": "app_cpu_percent", "memory_percent": "app_memory_percent"}


class TestPrometheusSource:
    def test_is_a_metric_source(self, scraped: Scraped) -> None:
        """PrometheusSource satisfies the MetricSource protocol."""
        source = PrometheusSource(scraped.prometheus_url, QUERIES)
        assert isinstance(source, MetricSource) and source.name == "prometheus"

    def test_range_query_returns_one_series_per_result(self, scraped: Scraped) -> None:
        """Each result series of a named query comes back with its labels as the resource and the step
        as period."""
        now = time.time()
        result = PrometheusSource(scraped.prometheus_url, QUERIES, step_s=0.5).fetch(now - 60, now)
        assert result.missing == ()
        cpu = {s.resource: s for s in result.find(metric="cpu_percent")}
        assert set(cpu) == {
            f'{{instance="{scraped.exporter}",job="loadlens",pod="a"}}',
            f'{{instance="{scraped.exporter}",job="loadlens",pod="b"}}',
        }
        pod_a = cpu[f'{{instance="{scraped.exporter}",job="loadlens",pod="a"}}']
        assert len(pod_a.points) >= 2 and {v for _, v in pod_a.points} == {42.0}
        assert pod_a.unit == "Percent" and pod_a.period_s == 0.5 and pod_a.stat == "value"
        assert all(now - 60 <= t <= now for t, _ in pod_a.points)

    def test_named_queries_are_judged_against_server_limits(self, scraped: Scraped) -> None:
        """Queries named cpu_percent / memory_percent are judged: 42 % passes 70 %, fails 40 % naming
        the pod."""
        now = time.time()
        result = PrometheusSource(scraped.prometheus_url, QUERIES, step_s=1).fetch(now - 60, now)
        rows = {r.name: r for r in judge_server(result, window_start=now - 60, window_end=now + 1)}
        assert rows["server Prometheus CPU"].status is Status.PASS
        assert rows["server Prometheus CPU"].observed == 42
        assert rows["server Prometheus memory"].observed == 30
        strict = judge_server(
            result, window_start=now - 60, window_end=now + 1, limits=ServerCriteriaLimits(cpu_percent=40)
        )
        cpu = next(r for r in strict if r.name == "server Prometheus CPU")
        assert cpu.status is Status.FAIL and 'pod="a"' in cpu.reason

    def test_query_without_result_is_missing(self, scraped: Scraped) -> None:
        """A query that matches nothing is reported missing with the query named, never as an empty series."""
        now = time.time()
        result = PrometheusSource(scraped.prometheus_url, {"cpu_percent": "no_such_metric"}).fetch(
            now - 60, now
        )
        assert result.series == ()
        (missing,) = result.missing
        assert missing.reason == (
            "no datapoints for Prometheus query 'cpu_percent' (no_such_metric): "
            "check the query and the labels"
        )
        rows = judge_server(result, window_start=now - 60, window_end=now)
        assert [(r.name, r.status) for r in rows] == [("server Prometheus CPU", Status.INCONCLUSIVE)]

    def test_invalid_promql_is_named(self, scraped: Scraped) -> None:
        """Prometheus's own parse error comes back in one line naming the query."""
        now = time.time()
        with pytest.raises(SourceError) as err:
            PrometheusSource(scraped.prometheus_url, {"cpu_percent": "rate(app_cpu_percent["}).fetch(
                now - 60, now
            )
        assert str(err.value).startswith("Prometheus rejected query 'cpu_percent': ")
        assert "parse error" in str(err.value)

    def test_not_a_prometheus_is_named(self, scraped: Scraped) -> None:
        """A URL that answers but is no Prometheus API (here the exporter itself) is a one-line error."""
        now = time.time()
        with pytest.raises(SourceError, match="answered query 'cpu_percent' with something not JSON"):
            PrometheusSource(f"http://{scraped.exporter}", QUERIES).fetch(now - 60, now)

    def test_unreachable_prometheus_is_source_unavailable(self) -> None:
        """A closed port gives SourceUnavailableError naming the URL."""
        url = f"http://127.0.0.1:{free_port()}"
        with pytest.raises(SourceUnavailableError, match=f"cannot reach Prometheus at {url}"):
            PrometheusSource(url, QUERIES).fetch(time.time() - 60, time.time())

    def test_step_grows_to_stay_under_the_point_limit(self, scraped: Scraped) -> None:
        """A minute at 1 ms steps would pass Prometheus's 11,000 points a series: the step grows to 1
        s instead."""
        now = time.time()
        result = PrometheusSource(scraped.prometheus_url, QUERIES, step_s=0.001).fetch(now - 60, now)
        assert result.find(metric="memory_percent")[0].period_s == 1.0
