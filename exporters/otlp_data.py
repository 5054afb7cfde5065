"""OTLP payloads built straight from a LiveState: the SDK's MetricsData, no SDK instruments.

Nothing is recorded per request on behalf of OpenTelemetry. At export time the cumulative
snapshot becomes (all cumulative temporality, start time = the run's start):

- ``http.client.request.duration`` (histogram, s): one point per endpoint, explicit buckets from
  exporters/buckets.py; count and sum exact. Attributes ``http.request.method``, ``url.template``
  (the Locust name, or "(other)" past the cap), ``server.address`` (from the host).
- ``loadlens.client.requests`` (monotonic sum, {request}): the same attributes plus
  ``http.response.status_code`` (absent when there was no response, or when the code was folded
  into ``loadlens.status_class``) and ``error.type`` on failed requests.
- ``loadlens.users`` (gauge, {user}) and ``loadlens.criterion.status`` (gauge: 0 pass, 1 warn,
  2 fail, 3 inconclusive; attribute ``loadlens.criterion``).
- ``loadlens.server.metric`` (gauge): the latest point of each server-side series, attributes
  ``loadlens.source``, ``loadlens.resource``, ``loadlens.metric``, ``loadlens.stat``, and ``name``
  for a ``[[server.metrics]]`` series (the Prometheus exporter's ``loadlens_server_metric``).

The duration histogram carries no status or error attribute: loadlens keeps one fixed-memory
histogram per endpoint, not per status, and will not invent a split it did not measure.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from exporters.buckets import CoarseBuckets
from exporters.cardinality import FAILURE, LabelFolder
from exporters.exposition import STATUS_VALUES
from runner import __version__
from runner.model import LiveState, RunInfo
from runner.readings import custom_metric_name

DURATION = "http.client.request.duration"
REQUESTS = "loadlens.client.requests"
USERS = "loadlens.users"
CRITERION = "loadlens.criterion.status"
SERVER = "loadlens.server.metric"
SERVICE_NAME = "loadlens"
# http.request.method values the semantic conventions know; anything else is "_OTHER".
KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"}
)


def build_resource(info: RunInfo) -> Resource:
    """The run's resource, merged the SDK's way with OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME.

    ``loadlens.run_id`` and ``loadlens.scenario`` always come from the run; ``service.name`` is
    "loadlens" unless the environment names the service.
    """
    resource = Resource.create(
        {"loadlens.run_id": info.run_id, "loadlens.scenario": info.scenario, "service.version": __version__}
    )
    if not OTELResourceDetector().detect().attributes.get("service.name"):
        resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
    return resource


def server_address(host: str) -> str | None:
    """The host part of Locust's --host URL ("https://api.example.com:8443" -> "api.example.com")."""
    if not host:
        return None
    try:
        return urlsplit(host if "//" in host else f"//{host}").hostname or None
    except ValueError:
        return None


class MetricsDataBuilder:
    """Builds MetricsData for one run; owns the label caps (one per exporter)."""

    def __init__(
        self, info: RunInfo, resource: Resource, folder: LabelFolder, *, buckets: CoarseBuckets | None = None
    ) -> None:
        self._resource = resource
        self._folder = folder
        self._buckets = buckets or CoarseBuckets()
        self._bounds = list(self._buckets.bounds_s)
        self._start_ns = int(info.started_at * 1e9)
        self._address = server_address(info.host)
        self._scope = InstrumentationScope("loadlens", __version__)

    def build(self, state: LiveState) -> MetricsData:
        """The whole cumulative state as one OTLP export."""
        start = self._start_ns
        now = max(int(state.cumulative.end * 1e9), start)
        points: list[HistogramDataPoint] = []
        counts: list[NumberDataPoint] = []
        for row in self._folder.fold(state.cumulative).rows:
            stats = row.stats
            if stats.count <= 0:
                continue
            base = self._attributes(row.method, row.endpoint)
            points.append(
                HistogramDataPoint(
                    attributes=base,
                    start_time_unix_nano=start,
                    time_unix_nano=now,
                    count=stats.count,
                    sum=stats.sum_ms / 1000.0,
                    bucket_counts=self._buckets.counts(stats.histogram),
                    explicit_bounds=self._bounds,
                    min=(stats.min_ms or 0.0) / 1000.0,
                    max=(stats.max_ms or 0.0) / 1000.0,
                )
            )
            for sc in self._folder.statuses(stats):
                attrs: dict[str, str | int] = dict(base)
                if sc.code is None:
                    attrs["loadlens.status_class"] = sc.status
                elif sc.code > 0:
                    attrs["http.response.status_code"] = sc.code
                if sc.result == FAILURE:
                    attrs["error.type"] = _error_type(sc.code)
                counts.append(
                    NumberDataPoint(
                        attributes=attrs, start_time_unix_nano=start, time_unix_nano=now, value=sc.n
                    )
                )
        users = NumberDataPoint(
            attributes={}, start_time_unix_nano=start, time_unix_nano=now, value=state.users
        )
        criteria = {
            r.name: NumberDataPoint(
                attributes={"loadlens.criterion": r.name},
                start_time_unix_nano=start,
                time_unix_nano=now,
                value=STATUS_VALUES[r.status],
            )
            for r in state.results
        }
        cumulative = AggregationTemporality.CUMULATIVE
        metrics = [
            Metric(DURATION, "Duration of HTTP client requests.", "s", Histogram(points, cumulative)),
            Metric(
                REQUESTS,
                "HTTP client requests by status and result.",
                "{request}",
                Sum(counts, cumulative, True),
            ),
            Metric(USERS, "Simulated users running now.", "{user}", Gauge([users])),
        ]
        server = self._server_points(state, start, now)
        if server:
            metrics.append(Metric(SERVER, "Latest point of each server-side series.", "1", Gauge(server)))
        if criteria:
            metrics.append(
                Metric(
                    CRITERION,
                    "Criterion status: 0 pass, 1 warn, 2 fail, 3 inconclusive.",
                    "1",
                    Gauge(list(criteria.values())),
                )
            )
        return MetricsData([ResourceMetrics(self._resource, [ScopeMetrics(self._scope, metrics, "")], "")])

    @staticmethod
    def _server_points(state: LiveState, start: int, now: int) -> list[NumberDataPoint]:
        """The latest point of each server series; a [[server.metrics]] one carries its ``name``."""
        latest: dict[tuple[str, str, str, str], NumberDataPoint] = {}
        for series in state.server:
            if not series.points:
                continue
            attrs = {
                "loadlens.source": series.source,
                "loadlens.resource": series.resource,
                "loadlens.metric": series.metric,
                "loadlens.stat": series.stat,
            }
            name = custom_metric_name(series.resource)
            if name is not None:
                attrs["name"] = name
            latest[(series.source, series.resource, series.metric, series.stat)] = NumberDataPoint(
                attributes=attrs, start_time_unix_nano=start, time_unix_nano=now, value=series.points[-1][1]
            )
        return list(latest.values())

    def _attributes(self, method: str, endpoint: str) -> dict[str, str]:
        upper = method.upper()
        attrs = {
            "http.request.method": upper if upper in KNOWN_METHODS else "_OTHER",
            "url.template": endpoint,
        }
        if upper not in KNOWN_METHODS:
            attrs["http.request.method_original"] = method
        if self._address is not None:
            attrs["server.address"] = self._address
        return attrs


def _error_type(code: int | None) -> str:
    """Semantic conventions: the status code as a string for HTTP errors, else "_OTHER" (no
    response, a failure Locust reported on a 2xx/3xx, or a code folded into its class)."""
    if code is not None and code >= 400:
        return str(code)
    return "_OTHER"
