"""A [[server.metrics]] series is exported live with its criterion's name: ``name`` on
loadlens_server_metric (Prometheus text, parsed by prometheus_client) and on
loadlens.server.metric (the OTLP payload as the SDK would send it)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from exporters.cardinality import LabelFolder
from exporters.exposition import TextExposition
from exporters.otlp_data import MetricsDataBuilder, build_resource
from runner.readings import Missing, Series
from tests.support.live_states import INFO, fed_store, live_state

REDIS = Series("cloudwatch", "metric:Redis CPU", "CPUUtilization", "Maximum", "", ((1.0, 80.0), (2.0, 90.0)))
ECS = Series("cloudwatch", "ecs:c/s", "CPUUtilization", "Average", "Percent", ((2.0, 40.0),))
QUEUE = Missing("prometheus", "metric:queue", "queue", "value", "Prometheus query q", "no datapoints")


def _state() -> Any:
    return replace(live_state(fed_store(requests=10), server=[REDIS, ECS]), server_missing=(QUEUE,))


def test_prometheus_text_names_the_criterion() -> None:
    """The custom series carries name="Redis CPU"; the built-in ECS series has no name label."""
    text = TextExposition(LabelFolder(max_names=20, max_statuses=20)).render(_state()).decode()
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
    server = {s.labels["resource"]: s for s in samples if s.name == "loadlens_server_metric"}
    assert server["metric:Redis CPU"].labels["name"] == "Redis CPU" and server["metric:Redis CPU"].value == 90
    assert "name" not in server["ecs:c/s"].labels
    (gone,) = [s for s in samples if s.name == "loadlens_server_metric_missing"]
    assert gone.labels["name"] == "queue"


def test_otlp_gauge_carries_the_name() -> None:
    """loadlens.server.metric holds the latest point of each series, the custom one with its name."""
    data = MetricsDataBuilder(INFO, build_resource(INFO), LabelFolder(max_names=20, max_statuses=20)).build(
        _state()
    )
    metrics = {m.name: m for m in data.resource_metrics[0].scope_metrics[0].metrics}
    points = {
        p.attributes["loadlens.resource"]: p for p in metrics["loadlens.server.metric"].data.data_points
    }
    assert (
        points["metric:Redis CPU"].value == 90
        and points["metric:Redis CPU"].attributes["name"] == "Redis CPU"
    )
    assert points["ecs:c/s"].value == 40 and "name" not in points["ecs:c/s"].attributes
