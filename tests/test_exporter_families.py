"""The Prometheus families built from a LiveState: names, labels, exact totals, promtool-clean."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from exporters.buckets import LATENCY_BOUNDS_S
from exporters.cardinality import LabelFolder
from exporters.families import FamilyBuilder, ScrapeHealth
from runner.model import LiveState, Series, Status
from runner.stats import OVERFLOW_NAME, StatsStore
from tests.support.live_states import INFO, fed_store, live_state, result
from tests.support.procs import require


class _Collector:
    def __init__(self, builder: FamilyBuilder, state: LiveState, health: ScrapeHealth | None = None) -> None:
        self.builder, self.state, self.health = builder, state, health

    def collect(self) -> Iterator[Metric]:
        return iter(self.builder.build(self.state, health=self.health))


def _text(state: LiveState, *, max_names: int = 200, health: ScrapeHealth | None = None) -> str:
    registry = CollectorRegistry()
    registry.register(
        _Collector(FamilyBuilder(LabelFolder(max_names=max_names, max_statuses=20)), state, health)
    )
    return generate_latest(registry).decode()


def _samples(text: str) -> list:  # type: ignore[type-arg]
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def _state_with_everything() -> LiveState:
    return live_state(
        fed_store(requests=5000),
        results=[result("p95_ms GET /a", Status.PASS), result("error_rate", Status.FAIL)],
        server=[
            Series(
                "cloudwatch", "ecs:c/s", "CPUUtilization", "Average", "Percent", ((1.0, 10.0), (2.0, 55.5))
            ),
            Series("cloudwatch", "rds:db-1", "FreeableMemory", "Minimum", "Bytes", ()),
        ],
    )


class TestExactTotals:
    def test_requests_total_sums_to_the_stores_count_and_failures(self) -> None:
        """sum(loadlens_requests_total) is every request; its failure part is the store's failures."""
        state = _state_with_everything()
        total = state.cumulative.total()
        requests = [s for s in _samples(_text(state)) if s.name == "loadlens_requests_total"]
        assert sum(s.value for s in requests) == total.count
        assert sum(s.value for s in requests if s.labels["result"] == "failure") == total.failures

    def test_histogram_count_and_sum_match_each_endpoint_exactly(self) -> None:
        """_count is the exact count and _sum the exact sum_ms / 1000 of each endpoint, as in summary.json."""
        state = _state_with_everything()
        samples = _samples(_text(state))
        for key, stats in state.cumulative.endpoints.items():
            labels = {"run_id": INFO.run_id, "endpoint": key.name, "method": key.method}
            (count,) = [s.value for s in samples if s.name.endswith("_count") and s.labels == labels]
            (total,) = [s.value for s in samples if s.name.endswith("_sum") and s.labels == labels]
            (inf,) = [
                s.value
                for s in samples
                if s.name.endswith("_bucket") and s.labels == {**labels, "le": "+Inf"}
            ]
            assert count == inf == stats.count
            assert total == stats.sum_ms / 1000.0

    def test_buckets_are_cumulative_with_the_documented_bounds(self) -> None:
        """Each endpoint has one bucket per bound plus +Inf, non-decreasing."""
        samples = _samples(_text(_state_with_everything()))
        buckets = [s for s in samples if s.name == "loadlens_request_duration_seconds_bucket"]
        by_series: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for s in buckets:
            by_series.setdefault((s.labels["endpoint"], s.labels["method"]), []).append(
                (float(s.labels["le"]), s.value)
            )
        for points in by_series.values():
            assert [le for le, _ in points] == [*LATENCY_BOUNDS_S, float("inf")]
            values = [v for _, v in points]
            assert values == sorted(values)


class TestNamesAndLabels:
    def test_every_contract_family_is_present_with_run_id(self) -> None:
        """All contract names appear and every loadlens series carries run_id."""
        samples = _samples(_text(_state_with_everything(), health=ScrapeHealth(3, 0, 0.004)))
        names = {s.name for s in samples}
        assert {
            "loadlens_requests_total",
            "loadlens_request_duration_seconds_bucket",
            "loadlens_request_duration_seconds_count",
            "loadlens_request_duration_seconds_sum",
            "loadlens_users",
            "loadlens_run_info",
            "loadlens_criterion_status",
            "loadlens_server_metric",
            "loadlens_exporter_overflow_requests_total",
            "loadlens_exporter_folded_label_sets",
            "loadlens_exporter_scrapes_total",
            "loadlens_exporter_scrape_errors_total",
            "loadlens_exporter_scrape_duration_seconds",
        } <= names
        assert all(s.labels.get("run_id") == INFO.run_id for s in samples)

    def test_run_info_users_criteria_and_server_values(self) -> None:
        """run_info is 1 with scenario and host; users, criterion status codes and the latest server point."""
        samples = _samples(_text(_state_with_everything()))

        def values(name: str) -> dict[tuple[tuple[str, str], ...], float]:
            return {tuple(sorted(s.labels.items())): s.value for s in samples if s.name == name}

        assert values("loadlens_run_info") == {
            (("host", INFO.host), ("run_id", INFO.run_id), ("scenario", "load")): 1.0
        }
        assert list(values("loadlens_users").values()) == [25.0]
        criteria = {dict(k)["criterion"]: v for k, v in values("loadlens_criterion_status").items()}
        assert criteria == {"p95_ms GET /a": 0.0, "error_rate": 2.0}
        server = {dict(k)["metric"]: (dict(k), v) for k, v in values("loadlens_server_metric").items()}
        assert list(server) == ["CPUUtilization"]  # a series with no points has no latest value
        labels, value = server["CPUUtilization"]
        assert value == 55.5
        assert (labels["source"], labels["resource"], labels["stat"]) == ("cloudwatch", "ecs:c/s", "Average")

    def test_all_four_criterion_states_have_their_codes(self) -> None:
        """pass 0, warn 1, fail 2, inconclusive 3."""
        store = fed_store(requests=10)
        state = live_state(store, results=[result(s.value, s) for s in Status])
        got = {
            s.labels["criterion"]: s.value
            for s in _samples(_text(state))
            if s.name == "loadlens_criterion_status"
        }
        assert got == {"pass": 0.0, "warn": 1.0, "fail": 2.0, "inconclusive": 3.0}

    def test_500_names_are_capped_and_the_overflow_reported(self) -> None:
        """With 500 names and a cap of 200 the exposition has 201 endpoint labels and counts the rest."""
        store = StatsStore(max_endpoints=1000)
        for i in range(500):
            store.record("GET", f"/order/{i}", 12.0, 200, False, 10)
            store.record("GET", f"/order/{i}", 14.0, 200, False, 10)
        samples = _samples(_text(live_state(store)))
        endpoints = {s.labels["endpoint"] for s in samples if s.name == "loadlens_requests_total"}
        assert len(endpoints) == 201 and OVERFLOW_NAME in endpoints
        overflow = [s.value for s in samples if s.name == "loadlens_exporter_overflow_requests_total"]
        folded = {
            s.labels["kind"]: s.value for s in samples if s.name == "loadlens_exporter_folded_label_sets"
        }
        assert overflow == [600.0]
        assert folded == {"endpoint": 300.0, "status": 0.0}
        assert sum(s.value for s in samples if s.name == "loadlens_requests_total") == 1000


class TestLint:
    def test_exposition_passes_promtool_check_metrics(self) -> None:
        """promtool finds nothing to complain about in a full exposition (health included)."""
        text = _text(_state_with_everything(), health=ScrapeHealth(3, 1, 0.0042))
        done = subprocess.run(
            [require("promtool"), "check", "metrics"], input=text.encode(), capture_output=True
        )
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
        assert done.stdout.decode().strip() == "" and done.stderr.decode().strip() == ""

    def test_openmetrics_exposition_parses(self) -> None:
        """The OpenMetrics form (what Prometheus asks for) parses with the strict OpenMetrics parser."""
        registry = CollectorRegistry()
        builder = FamilyBuilder(LabelFolder(max_names=200, max_statuses=20))
        registry.register(_Collector(builder, _state_with_everything(), ScrapeHealth(1, 0, 0.001)))
        families = {f.name: f for f in parse_openmetrics(generate_openmetrics(registry).decode())}
        assert families["loadlens_requests"].type == "counter"
        assert families["loadlens_request_duration_seconds"].type == "histogram"

    def test_describe_names_every_family(self) -> None:
        """describe() lists the families build() yields, so ?name[]= filtering works."""
        described = {m.name for m in FamilyBuilder.describe(health=True)}
        built = {m.name for m in FamilyBuilder(LabelFolder(max_names=5, max_statuses=5)).build(
            _state_with_everything(), health=ScrapeHealth(1, 0, 0.1))}  # fmt: skip
        assert described == built
