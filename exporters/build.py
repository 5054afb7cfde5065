"""Which exporters a run gets: the one place the bridge calls to turn settings into exporters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from exporters.base import Exporter
from exporters.settings import OtlpSettings, PrometheusSettings, PushgatewaySettings


def build_exporters(
    *,
    prometheus: PrometheusSettings | None = None,
    pushgateway: PushgatewaySettings | None = None,
    otlp: OtlpSettings | None = None,
    role: str = "standalone",
    expected_statuses: Iterable[int] = (),
    environ: Mapping[str, str] | None = None,
) -> list[Exporter]:
    """The exporters asked for, not yet started (``start`` binds ports; call it after any fork).

    Workers export nothing (``role="worker"`` gives an empty list): in a distributed run the master
    holds the merged view, so Prometheus and OTLP report the same totals as summary.json.
    ``expected_statuses`` are the scenario's expected codes, so exported failures match the
    summary's. ``environ`` (default: the process environment) is where OTEL_* variables are read.
    Settings errors raise ``ExporterError`` here, before anything starts.
    """
    if role == "worker":
        return []
    expected = frozenset(expected_statuses)
    out: list[Exporter] = []
    if prometheus is not None:
        from exporters.prometheus import PrometheusExporter

        out.append(PrometheusExporter(prometheus, expected_statuses=expected))
    if pushgateway is not None:
        from exporters.pushgateway import PushgatewayExporter

        out.append(PushgatewayExporter(pushgateway, expected_statuses=expected))
    if otlp is not None:
        from exporters.otlp import OtlpExporter

        out.append(OtlpExporter(otlp, expected_statuses=expected, environ=environ))
    return out
