"""The two live-run dashboards: the same client rows, and the server read either as loadlens read
it or straight from CloudWatch."""

from __future__ import annotations

from typing import Any

from dashboards import client, server, variables
from dashboards.document import Settings, build
from dashboards.kit import Section


def _client_rows() -> list[Section]:
    return [client.overview(), client.load_and_latency(), client.per_endpoint(), client.criteria()]


def _run_variables() -> list[variables.Variable]:
    return [
        variables.datasource("datasource", "Prometheus", "prometheus"),
        variables.run_id(),
        variables.endpoint(),
    ]


def live() -> dict[str, Any]:
    return build(
        Settings(
            uid="loadlens-live",
            title="loadlens · live run",
            description="One loadlens run, live: users, throughput, errors, latency overall and per "
            "endpoint, each criterion's status, and the server metrics loadlens reads "
            "(loadlens_server_metric).",
            refresh="5s",
            since="now-30m",
            annotation_tags=("loadlens", "$run_id"),
        ),
        _run_variables(),
        [*_client_rows(), *server.as_loadlens_reads(), client.exporter_health()],
    )


def live_cloudwatch() -> dict[str, Any]:
    return build(
        Settings(
            uid="loadlens-live-cw",
            title="loadlens · live run (CloudWatch)",
            description="The live run dashboard with its server panels read straight from a Grafana "
            "CloudWatch datasource (ECS service, RDS instance, ALB chosen by variables) instead of "
            "loadlens_server_metric.",
            refresh="5s",
            since="now-30m",
            annotation_tags=("loadlens", "$run_id"),
        ),
        [*_run_variables(), *variables.cloudwatch_resources()],
        [*_client_rows(), *server.from_cloudwatch(), client.exporter_health()],
    )
