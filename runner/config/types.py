"""The frozen sections of a loadlens Config: what other modules read (``cfg.run.host``,
``cfg.thresholds.default.p95_ms``, ``cfg.exporters.prometheus.port``...).

Field names carry units (``warmup_s``); the TOML keys they come from are in runner.config.keys and
docs/configuration.md. Import them from runner.config.load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType


def _no_entries() -> Mapping[str, object]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class RunConfig:
    """[run]: what to run and how the run is cut into a judged window."""

    locustfile: str | None = None
    host: str | None = None
    scenario: str | None = None
    out: Path = Path("results")
    warmup_s: float = 0.0  # excluded from the judged window after the ramp-up ends
    cooldown_s: float = 0.0  # excluded from the judged window before the end
    max_endpoints: int = 500  # distinct request names kept; more fold into "(other)"
    interval_s: float = 5.0  # timeline resolution
    progress_s: float = 5.0  # console progress line; 0 disables it


@dataclass(frozen=True, slots=True)
class Limits:
    """Client limits for all requests or one endpoint; ``None`` means not set."""

    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    error_rate: float | None = None
    success_rate: float | None = None
    min_rps: float | None = None
    # Fewer requests than this make a percentile INCONCLUSIVE; None: the default of 20, not required.
    min_samples: int | None = None


@dataclass(frozen=True, slots=True)
class Thresholds:
    """[thresholds]. ``endpoints`` holds only the keys each endpoint table gave ("METHOD name" ->
    Limits); runner.judge.client merges them over ``default`` when ``per_endpoint`` is on."""

    default: Limits = Limits()
    endpoints: Mapping[str, Limits] = field(default_factory=_no_entries)  # type: ignore[arg-type]
    expected_statuses: frozenset[int] = frozenset()
    warn_ratio: float = 0.9
    per_endpoint: bool = True
    include_expected: bool = False  # expected-status responses count in latency percentiles and rps


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """[server]: limits on server-side metrics, whatever the source; ``None`` means not judged."""

    cpu_percent: float = 70.0
    memory_percent: float = 80.0
    rds_cpu_percent: float | None = None
    rds_connections: float | None = None
    alb_5xx: float = 0.0  # load-balancer-generated 5xx responses allowed in the window
    leak_warn_percent_per_hour: float | None = None
    leak_fail_percent_per_hour: float | None = None
    leak_min_duration_s: float = 1800.0  # a steady state shorter than this cannot judge a leak
    # Safety stop: end the run early when a server metric stays above this for abort_periods
    # consecutive periods (protects a shared staging environment). None: no safety stop.
    abort_cpu_percent: float | None = None
    abort_memory_percent: float | None = None
    abort_periods: int = 3


@dataclass(frozen=True, slots=True)
class CloudWatchConfig:
    """[cloudwatch]: which AWS resources to pull metrics for, and when."""

    region: str | None = None
    profile: str | None = None
    ecs_cluster: str | None = None
    ecs_service: str | None = None
    rds_instance: str | None = None
    rds_cluster: str | None = None
    load_balancer: str | None = None
    target_groups: tuple[str, ...] = ()
    period_s: float = 60.0
    settle_s: float = 300.0  # wait after the run for CloudWatch to publish the last datapoints
    preroll_s: float = 300.0  # baseline fetched before the run started
    container_insights: bool | None = None  # None: detect
    require: bool = False  # missing CloudWatch data makes the run inconclusive
    correlate: bool = False  # pull CloudWatch for the run (also: --correlate-cloudwatch)

    @property
    def configured(self) -> bool:
        """True when at least one resource to watch is named."""
        return any(
            (
                self.ecs_cluster,
                self.ecs_service,
                self.rds_instance,
                self.rds_cluster,
                self.load_balancer,
                self.target_groups,
            )
        )


@dataclass(frozen=True, slots=True)
class PrometheusSourceConfig:
    """[prometheus_source]: server metrics from a Prometheus the team already runs."""

    url: str | None = None
    queries: Mapping[str, str] = field(default_factory=_no_entries)  # type: ignore[arg-type]
    step_s: float = 15.0


@dataclass(frozen=True, slots=True)
class ProcessConfig:
    """[process]: a local process to watch (pid or name), with its own limits if given."""

    pid: int | None = None
    name: str | None = None
    cpu_percent: float | None = None  # None: [server] cpu_percent applies
    memory_percent: float | None = None  # None: [server] memory_percent applies


@dataclass(frozen=True, slots=True)
class PrometheusExporterConfig:
    """[exporters.prometheus]: the /metrics endpoint; on when a port is given."""

    port: int | None = None
    bind: str = "127.0.0.1"
    linger_s: float = 15.0  # keep serving after the run so the last scrape sees the end
    max_names: int = 200
    max_statuses: int = 20

    @property
    def enabled(self) -> bool:
        return self.port is not None


@dataclass(frozen=True, slots=True)
class PushgatewayConfig:
    """[exporters.pushgateway]: pushes for short runs nobody scrapes; on when a url is given."""

    url: str | None = None
    interval_s: float = 10.0
    job: str = "loadlens"
    delete_on_finish: bool = False

    @property
    def enabled(self) -> bool:
        return self.url is not None


@dataclass(frozen=True, slots=True)
class OtlpConfig:
    """[exporters.otlp]: on when the table (or a LOADLENS_EXPORTERS_OTLP_* variable, or --otlp)
    is given, unless ``enabled = false``. No endpoint: the OTEL_* variables / SDK default apply."""

    enabled: bool = False
    endpoint: str | None = None
    protocol: str | None = None  # None: OTEL_EXPORTER_OTLP_[METRICS_]PROTOCOL, else http/protobuf
    interval_s: float = 5.0
    headers: Mapping[str, str] = field(default_factory=_no_entries)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ExportersConfig:
    """[exporters.*]."""

    prometheus: PrometheusExporterConfig = PrometheusExporterConfig()
    pushgateway: PushgatewayConfig = PushgatewayConfig()
    otlp: OtlpConfig = OtlpConfig()


@dataclass(frozen=True, slots=True)
class GrafanaConfig:
    """[grafana]: where annotations go and which dashboard links point at."""

    url: str | None = None
    dashboard_uid: str | None = None
    folder: str | None = None
