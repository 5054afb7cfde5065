"""The exposition rendered from a LiveState: names, labels, exact totals, parseable, promtool-clean."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from exporters.buckets import LATENCY_BOUNDS_S
from exporters.cardinality import LabelFolder
from exporters.exposition import FAMILIES, ScrapeHealth, TextExposition
from runner.model import LiveState, RunInfo, Status
from runner.readings import Missing, Series
from runner.stats.store import OVERFLOW_NAME, StatsStore
from tests.support.live_states import INFO, fed_store, live_state, result
from tests.support.procs import require


def _text(state: LiveState, *, max_names: int = 200, health: ScrapeHealth | None = None) -> str:
    return (
        TextExposition(LabelFolder(max_names=max_names, max_statuses=20))
        .render(state, health=health)
        .decode()
    )


def _samples(text: str) -> list[Any]:
    """Parsed with prometheus_client's own parser: the oracle for the format."""
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
        """Each endpoint has one bucket per bound plus +Inf, non-decreasing, equal to the fine-bucket rule."""
        state = _state_with_everything()
        samples = _samples(_text(state))
        buckets = [s for s in samples if s.name == "loadlens_request_duration_seconds_bucket"]
        by_series: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for s in buckets:
            labels = (s.labels["method"], s.labels["endpoint"])
            by_series.setdefault(labels, []).append((float(s.labels["le"]), s.value))
        for key, stats in state.cumulative.endpoints.items():
            points = by_series[(key.method, key.name)]
            assert [le for le, _ in points] == [*LATENCY_BOUNDS_S, float("inf")]
            values = [v for _, v in points]
            assert values == sorted(values)
            assert values[:-1] == [stats.histogram.count_at_or_below(b * 1000) for b in LATENCY_BOUNDS_S]


class TestNamesAndLabels:
    def test_every_family_is_present_typed_and_carries_run_id(self) -> None:
        """All contract families appear with HELP and TYPE, and every series carries run_id."""
        text = _text(_state_with_everything(), health=ScrapeHealth(3, 0, 0.004))
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert {name: f.type for name, f in families.items()} == {
            "loadlens_requests": "counter",
            "loadlens_request_duration_seconds": "histogram",
            "loadlens_users": "gauge",
            "loadlens_run_info": "gauge",
            "loadlens_criterion_status": "gauge",
            "loadlens_server_metric": "gauge",
            "loadlens_server_metric_missing": "gauge",
            "loadlens_exporter_overflow_requests": "counter",
            "loadlens_exporter_folded_label_sets": "gauge",
            "loadlens_exporter_scrapes": "counter",
            "loadlens_exporter_scrape_errors": "counter",
            "loadlens_exporter_scrape_duration_seconds": "gauge",
        }
        assert all(f.documentation for f in families.values())
        assert all(s.labels.get("run_id") == INFO.run_id for s in _samples(text))
        assert len(FAMILIES) == len(families)

    def test_run_info_users_criteria_and_server_values(self) -> None:
        """run_info is 1 with scenario and host; users, criterion codes and the latest server point."""
        samples = _samples(_text(_state_with_everything()))

        def values(name: str) -> list[tuple[dict[str, str], float]]:
            return [(s.labels, s.value) for s in samples if s.name == name]

        assert values("loadlens_run_info") == [
            ({"run_id": INFO.run_id, "scenario": "load", "host": INFO.host}, 1.0)
        ]
        assert values("loadlens_users") == [({"run_id": INFO.run_id}, 25.0)]
        criteria = {labels["criterion"]: v for labels, v in values("loadlens_criterion_status")}
        assert criteria == {"p95_ms GET /a": 0.0, "error_rate": 2.0}
        (server,) = values("loadlens_server_metric")  # a series with no points has no latest value
        assert server == (
            {
                "run_id": INFO.run_id,
                "source": "cloudwatch",
                "resource": "ecs:c/s",
                "metric": "CPUUtilization",
                "stat": "Average",
            },
            55.5,
        )

    def test_each_missing_server_metric_is_a_gauge_without_its_reason(self) -> None:
        """The latest poll's missing metrics are loadlens_server_metric_missing 1, one per
        (source, resource, metric, stat); the free-text reason stays out of the labels (it is in
        summary.json and the log), and the HELP line says so."""
        reason = 'no datapoints for AWS/RDS "FreeableMemory" DBInstanceIdentifier=db-1: check the names'
        missing = [
            Missing("cloudwatch", "rds:db-1", "FreeableMemory", "Minimum", "AWS/RDS ...", reason),
            Missing("cloudwatch", "alb:app/a/1", "HTTPCode_Target_5XX_Count", "Sum", "AWS/ALB", "x", True),
            Missing("cloudwatch", "rds:db-1", "FreeableMemory", "Minimum", "AWS/RDS ...", reason),
        ]
        text = _text(replace(_state_with_everything(), server_missing=tuple(missing)))
        got = [(s.labels, s.value) for s in _samples(text) if s.name == "loadlens_server_metric_missing"]
        assert got == [
            (
                {
                    "run_id": INFO.run_id,
                    "source": "cloudwatch",
                    "resource": "rds:db-1",
                    "metric": "FreeableMemory",
                    "stat": "Minimum",
                },
                1.0,
            ),
            (
                {
                    "run_id": INFO.run_id,
                    "source": "cloudwatch",
                    "resource": "alb:app/a/1",
                    "metric": "HTTPCode_Target_5XX_Count",
                    "stat": "Sum",
                },
                1.0,
            ),
        ]
        assert "no datapoints" not in text
        (family,) = [
            f for f in text_string_to_metric_families(text) if f.name == "loadlens_server_metric_missing"
        ]
        assert "summary.json" in family.documentation

    def test_no_missing_entry_means_an_empty_missing_family(self) -> None:
        """A poll that answered every metric leaves the family with no samples."""
        samples = _samples(_text(_state_with_everything()))
        assert [s for s in samples if s.name == "loadlens_server_metric_missing"] == []

    def test_all_four_criterion_states_have_their_codes(self) -> None:
        """pass 0, warn 1, fail 2, inconclusive 3."""
        state = live_state(fed_store(requests=10), results=[result(s.value, s) for s in Status])
        got = {
            s.labels["criterion"]: s.value
            for s in _samples(_text(state))
            if s.name == "loadlens_criterion_status"
        }
        assert got == {"pass": 0.0, "warn": 1.0, "fail": 2.0, "inconclusive": 3.0}

    def test_label_values_are_escaped(self) -> None:
        """Quotes, backslashes, newlines and non-ASCII in names and hosts survive a parse unchanged."""
        store = StatsStore()
        weird = '/search?q="a\\b"\nnext/é'
        store.record("GET", weird, 5.0, 200, False, 0)
        info = RunInfo(run_id='r"1', scenario="load\\x", host="https://exämple.com", started_at=0.0)
        samples = _samples(_text(live_state(store, info=info)))
        (req,) = [s for s in samples if s.name == "loadlens_requests_total"]
        assert (req.labels["endpoint"], req.labels["run_id"]) == (weird, 'r"1')
        (run,) = [s for s in samples if s.name == "loadlens_run_info"]
        assert (run.labels["scenario"], run.labels["host"]) == ("load\\x", "https://exämple.com")

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

    def test_renders_the_same_twice(self) -> None:
        """The caches change nothing: rendering the same state again gives the same bytes."""
        exposition = TextExposition(LabelFolder(max_names=200, max_statuses=20))
        state = _state_with_everything()
        assert exposition.render(state) == exposition.render(state)


class TestLint:
    def test_exposition_passes_promtool_check_metrics(self) -> None:
        """promtool finds nothing to complain about in a full exposition (health included)."""
        text = _text(_state_with_everything(), health=ScrapeHealth(3, 1, 0.0042))
        done = subprocess.run(
            [require("promtool"), "check", "metrics"], input=text.encode(), capture_output=True
        )
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
        assert done.stdout.decode().strip() == "" and done.stderr.decode().strip() == ""
