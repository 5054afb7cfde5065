"""What each live exporter is asked to do: plain frozen settings, checked when built.

Kept apart from the exporters themselves so the CLI and config code can build settings without
importing prometheus_client, gevent or the OpenTelemetry SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from runner.errors import ExporterError

OTLP_PROTOCOLS = ("http/protobuf", "grpc")


def _no_headers() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PrometheusSettings:
    """``--prometheus-port``: serve /metrics from the process holding the merged view."""

    port: int  # 0 asks the OS for a free port (tests); the bound one is ``PrometheusExporter.address``
    bind: str = "127.0.0.1"
    linger_s: float = 15.0  # keep serving the final state this long after the run
    max_names: int = 200  # distinct (method, name) label sets; the rest fold into endpoint="(other)"
    max_statuses: int = 20  # distinct status codes; the rest fold into their class ("5xx")
    log_every_s: float = 30.0  # at most one warning per kind this often (scrape errors)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ExporterError(f"--prometheus-port {self.port}: not a port number (0-65535)")
        if not self.bind:
            raise ExporterError("--prometheus-bind: empty address")
        _check_non_negative("prometheus linger", self.linger_s)
        _check_caps("prometheus", self.max_names, self.max_statuses)


@dataclass(frozen=True, slots=True)
class PushgatewaySettings:
    """``--pushgateway URL``: push on an interval and once at the end, grouped by job and run_id."""

    url: str
    interval_s: float = 10.0
    job: str = "loadlens"
    delete_on_finish: bool = False  # delete the group right after the final push
    timeout_s: float | None = None  # per push; None: min(10 s, interval_s)
    max_names: int = 200
    max_statuses: int = 20

    def __post_init__(self) -> None:
        _check_url("--pushgateway", self.url)
        _check_positive("pushgateway interval", self.interval_s)
        if self.timeout_s is not None:
            _check_positive("pushgateway timeout", self.timeout_s)
        if not self.job:
            raise ExporterError("pushgateway job: empty name")
        _check_caps("pushgateway", self.max_names, self.max_statuses)

    @property
    def effective_timeout_s(self) -> float:
        return self.timeout_s if self.timeout_s is not None else min(10.0, self.interval_s)


@dataclass(frozen=True, slots=True)
class OtlpSettings:
    """``--otlp`` / ``--otlp-endpoint URL``: export metrics with the OpenTelemetry SDK.

    Anything left as None is taken from the standard ``OTEL_EXPORTER_OTLP_*`` variables, then the
    SDK's default, exactly as the SDK resolves it. A value given here (a flag or loadlens.toml) wins
    over the variables.
    """

    endpoint: str | None = None  # base URL, like OTEL_EXPORTER_OTLP_ENDPOINT (http: + /v1/metrics)
    protocol: str | None = None  # "http/protobuf" or "grpc"; None: OTEL_EXPORTER_OTLP_*PROTOCOL, else http
    interval_s: float = 5.0
    headers: Mapping[str, str] = field(default_factory=_no_headers)  # merged over OTEL_..._HEADERS
    timeout_s: float | None = None  # per export; None: OTEL_..._TIMEOUT, else min(10 s, interval_s)
    max_names: int = 200
    max_statuses: int = 20

    def __post_init__(self) -> None:
        if self.endpoint is not None:
            _check_url("--otlp-endpoint", self.endpoint)
        if self.protocol is not None and self.protocol not in OTLP_PROTOCOLS:
            raise ExporterError(f"OTLP protocol {self.protocol!r}: use one of {', '.join(OTLP_PROTOCOLS)}")
        _check_positive("OTLP interval", self.interval_s)
        if self.timeout_s is not None:
            _check_positive("OTLP timeout", self.timeout_s)
        _check_caps("OTLP", self.max_names, self.max_statuses)


def _check_url(what: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ExporterError(f"{what} {url!r}: not an http(s) URL with a host")
    try:
        parts.port  # noqa: B018  (parsing the port is the check: "host:99999" raises)
    except ValueError as exc:
        raise ExporterError(f"{what} {url!r}: {exc}") from None


def _check_positive(what: str, value: float) -> None:
    if not value > 0:
        raise ExporterError(f"{what} must be > 0 seconds, got {value}")


def _check_non_negative(what: str, value: float) -> None:
    if not value >= 0:
        raise ExporterError(f"{what} must be >= 0 seconds, got {value}")


def _check_caps(what: str, max_names: int, max_statuses: int) -> None:
    if max_names < 1 or max_statuses < 1:
        raise ExporterError(f"{what}: max_names and max_statuses must be >= 1")
