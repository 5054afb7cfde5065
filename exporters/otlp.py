"""OTLP metrics over HTTP (default) or gRPC, with the OpenTelemetry SDK's own OTLP exporters.

loadlens builds the MetricsData itself (exporters/otlp_data.py) and calls the SDK exporter's
``export`` on the exporter's own OS thread (exporters/periodic.py): no SDK instruments or readers
on the request path, no SDK thread on the hub, and gRPC's blocking calls never stall gevent.

Configuration follows the SDK: every ``OTEL_EXPORTER_OTLP_[METRICS_]*`` variable the SDK reads
(endpoint, headers, protocol, timeout, compression, certificates, insecure) applies, and a value
given to loadlens (flag or loadlens.toml) wins over it. While the exporter runs, the SDK's own
log lines are captured: they become the reason in loadlens's one rate-limited warning per
interval instead of several lines per failed attempt.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from exporters.base import ReadState
from exporters.periodic import ExportStats, PeriodicExport
from exporters.ratelimit import RateLimitedLog
from exporters.settings import OTLP_PROTOCOLS, OtlpSettings
from runner.errors import ExporterError
from runner.model import LiveState, RunInfo

HTTP = "http/protobuf"
GRPC = "grpc"
DEFAULT_HTTP_ENDPOINT = "http://localhost:4318"
DEFAULT_GRPC_ENDPOINT = "http://localhost:4317"
METRICS_PATH = "/v1/metrics"
SDK_LOGGER_PREFIX = "opentelemetry.exporter."
_MAX_REASON_CHARS = 300


@dataclass(frozen=True, slots=True)
class OtlpTarget:
    """Where and how exports go, after flags, OTEL_* variables and defaults are resolved."""

    protocol: str
    endpoint: str  # http: the full URL ending in /v1/metrics; grpc: the target URL
    headers: Mapping[str, str]
    timeout_s: float


def resolve_target(settings: OtlpSettings, environ: Mapping[str, str]) -> OtlpTarget:
    """Resolve the target the way the SDK would, with loadlens's own settings taking precedence."""
    protocol = (
        settings.protocol
        or environ.get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or HTTP
    ).strip()
    if protocol not in OTLP_PROTOCOLS:
        raise ExporterError(
            f"OTLP protocol {protocol!r} is not supported: use one of {', '.join(OTLP_PROTOCOLS)}"
        )
    signal_endpoint = environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
    base_endpoint = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if protocol == HTTP:
        if settings.endpoint:
            endpoint = _with_metrics_path(settings.endpoint)
        elif signal_endpoint:
            endpoint = signal_endpoint  # the SDK uses a signal-specific endpoint as given
        else:
            endpoint = _with_metrics_path(base_endpoint or DEFAULT_HTTP_ENDPOINT)
    else:
        endpoint = settings.endpoint or signal_endpoint or base_endpoint or DEFAULT_GRPC_ENDPOINT
    from opentelemetry.util.re import parse_env_headers

    raw = environ.get("OTEL_EXPORTER_OTLP_METRICS_HEADERS") or environ.get("OTEL_EXPORTER_OTLP_HEADERS") or ""
    headers = {k.lower(): v for k, v in parse_env_headers(raw, liberal=True).items()}
    headers.update({k.lower(): v for k, v in settings.headers.items()})
    timeout_s = settings.timeout_s
    if timeout_s is None:
        raw_timeout = environ.get("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT") or environ.get(
            "OTEL_EXPORTER_OTLP_TIMEOUT"
        )
        try:
            timeout_s = float(raw_timeout) if raw_timeout else min(10.0, settings.interval_s)
        except ValueError:
            raise ExporterError(
                f"OTEL_EXPORTER_OTLP_TIMEOUT {raw_timeout!r}: not a number of seconds"
            ) from None
        if timeout_s <= 0:
            raise ExporterError(f"OTEL_EXPORTER_OTLP_TIMEOUT {raw_timeout!r}: must be > 0 seconds")
    return OtlpTarget(protocol=protocol, endpoint=endpoint, headers=headers, timeout_s=timeout_s)


def _with_metrics_path(url: str) -> str:
    trimmed = url.rstrip("/")
    return trimmed if trimmed.endswith(METRICS_PATH) else trimmed + METRICS_PATH


class OtlpExporter:
    """Exports the run's metrics over OTLP every ``interval_s`` and once at the end."""

    name = "otlp"

    def __init__(
        self,
        settings: OtlpSettings,
        *,
        expected_statuses: Iterable[int] = (),
        environ: Mapping[str, str] | None = None,
        log: RateLimitedLog | None = None,
    ) -> None:
        self.settings = settings
        self.target = resolve_target(settings, os.environ if environ is None else environ)
        self._expected = frozenset(expected_statuses)
        self._log = log or RateLimitedLog(every_s=settings.interval_s)
        self._capture = _SdkLogCapture()
        self._captured: list[logging.Logger] = []
        self._factory: Any = None  # the SDK exporter class, imported at start
        self._sdk: Any = None  # the SDK exporter, created on our own thread at the first export
        self._builder: Any = None
        self._periodic = PeriodicExport(
            name=self.name,
            interval_s=settings.interval_s,
            timeout_s=self.target.timeout_s,
            send=self._send,
            finish=self._shutdown_sdk,
            log=self._log,
        )

    def start(self, info: RunInfo, read_state: ReadState) -> None:
        """Import the SDK, build the resource and start the interval (no network I/O here)."""
        try:
            from exporters.cardinality import LabelFolder
            from exporters.otlp_data import MetricsDataBuilder, build_resource

            if self.target.protocol == GRPC:
                from opentelemetry.exporter.otlp.proto.grpc import metric_exporter
            else:
                from opentelemetry.exporter.otlp.proto.http import metric_exporter  # type: ignore[no-redef]
        except ImportError as exc:
            raise ExporterError(
                f"OTLP export needs the OpenTelemetry SDK, not installed here: {exc}"
            ) from None
        self._factory = metric_exporter.OTLPMetricExporter
        folder = LabelFolder(
            max_names=self.settings.max_names,
            max_statuses=self.settings.max_statuses,
            expected_statuses=self._expected,
        )
        self._builder = MetricsDataBuilder(info, build_resource(info), folder)
        self._capture_sdk_logs()
        self._periodic.start(read_state)
        self._log.info(
            "exporting OTLP metrics",
            exporter=self.name,
            protocol=self.target.protocol,
            endpoint=self.target.endpoint,
        )

    def stop(self, final: LiveState) -> None:
        """Export ``final``, then shut the SDK exporter down, in the background."""
        self._periodic.stop(final)

    def wait_linger(self, timeout_s: float | None = None) -> bool:
        """Wait until the final export and the shutdown are over."""
        return self._periodic.wait(timeout_s)

    @property
    def stats(self) -> ExportStats:
        return self._periodic.stats

    # -- on the exporter's own thread ---------------------------------------------------------
    def _send(self, state: LiveState) -> None:
        from opentelemetry.sdk.metrics.export import MetricExportResult

        if self._sdk is None:
            self._sdk = self._make_sdk_exporter()
        data = self._builder.build(state)
        self._capture.reset()
        result = self._sdk.export(data, timeout_millis=self.target.timeout_s * 1000.0)
        if result is not MetricExportResult.SUCCESS:
            reason = self._capture.reason() or "the SDK exporter reported a failure"
            raise OtlpExportError(f"{self.target.protocol} to {self.target.endpoint}: {reason}")

    def _make_sdk_exporter(self) -> Any:
        # Same keywords for both SDK exporters; anything not given (TLS, compression, gRPC insecure)
        # the SDK reads from its OTEL_* variables.
        target = self.target
        return self._factory(
            endpoint=target.endpoint, headers=dict(target.headers) or None, timeout=target.timeout_s
        )

    def _shutdown_sdk(self) -> None:
        # Runs on the exporter's thread, whose gevent hub owns the SDK's sockets under monkey-patching.
        try:
            if self._sdk is not None:
                self._sdk.shutdown()
        finally:
            self._sdk = None
            self._release_sdk_logs()

    # -- the SDK's log lines ----------------------------------------------------------------------
    def _capture_sdk_logs(self) -> None:
        # The SDK logs every failed attempt (and every retry) through stdlib logging; while we run,
        # its exporter loggers hand their text to us instead. Loggers exist once the module is imported.
        manager = logging.Logger.manager
        for name, logger in list(manager.loggerDict.items()):
            if name.startswith(SDK_LOGGER_PREFIX) and isinstance(logger, logging.Logger):
                # First in line: the SDK's own DuplicateFilter would hide repeated failures from us.
                logger.filters.insert(0, self._capture)
                self._captured.append(logger)

    def _release_sdk_logs(self) -> None:
        for logger in self._captured:
            logger.removeFilter(self._capture)
        self._captured = []


class OtlpExportError(Exception):
    """The SDK exporter reported a failure; the message is its own last log line."""


class _SdkLogCapture(logging.Filter):
    """Keeps the first and last warning of the SDK's exporter loggers (the cause, then the outcome)
    and stops every record from being printed."""

    def __init__(self) -> None:
        super().__init__()
        self._first: str | None = None
        self._last: str | None = None

    def reset(self) -> None:
        self._first = self._last = None

    def reason(self) -> str | None:
        if self._first is None or self._last == self._first:
            return self._first
        return f"{self._first} / {self._last}"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            try:
                text = record.getMessage()
            except Exception:  # a malformed SDK log call must not break the export thread
                text = str(record.msg)
            text = text[:_MAX_REASON_CHARS]
            if self._first is None:
                self._first = text
            self._last = text
        return False
