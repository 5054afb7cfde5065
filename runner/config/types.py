"""The frozen sections of a loadlens Config: what other modules read (``cfg.run.host``,
``cfg.thresholds.default.p95_ms``, ``cfg.exporters.prometheus.port``...), and the schema of
loadlens.toml at the same time.

Each field is one key: its ``Annotated`` marker (runner.config.rules) is the check pydantic applies,
its default is the built-in value. Field names carry units (``warmup_s``); a duration's TOML key is
its name without ``_s`` (``warmup``). runner.config.keys derives the key tables (and the LOADLENS_*
names) from these classes; docs/configuration.md lists them. Import them from runner.config.load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated

from runner.config.rules import (
    Container,
    Derived,
    Flat,
    Named,
    boolean,
    choice,
    duration,
    integer,
    list_of,
    number,
    path,
    pattern,
    table_of,
    text,
    url,
)
from runner.sources.cloudwatch_catalog import CloudWatchTarget
from runner.sources.custom import ServerMetric

# Every section rejects keys it does not know, and a duration field x_s is written x in TOML.
SECTION: dict[str, object] = {"extra": "forbid", "alias_generator": lambda name: name.removesuffix("_s")}

_TEXT = Annotated[str | None, text()]
_PERCENT = Annotated[float | None, number(gt=0, le=100)]
_MS = Annotated[float | None, number(gt=0)]
_RATIO = Annotated[float | None, number(ge=0, le=1)]
_URL = Annotated[str | None, url()]
_BOOL = Annotated[bool, boolean()]
_COUNT = Annotated[int, integer(ge=1)]
STATUS = Annotated[int, integer(ge=100, le=599, expected="an HTTP status code from 100 to 599")]
SERVER_METRICS_EXPECTED = (
    'a list of tables like {name = "Redis CPU", namespace = "AWS/ElastiCache", '
    'metric = "CPUUtilization", max = 75}'
)
STATUSES = Annotated[frozenset[STATUS], list_of("a list of HTTP status codes")]
NAMES = Annotated[tuple[Annotated[str, text()], ...], list_of("a list of strings")]
# "METHOD name" as Locust reports an endpoint: an upper-case request type, one space, the name.
ENDPOINT = Annotated[
    str,
    Named(
        r"[A-Z][A-Z0-9_]* \S.*",
        'an endpoint must be written "METHOD name" with METHOD in upper case, e.g. "GET /health"',
    ),
]

GROUP = Annotated[
    str,
    Named(r"[A-Za-z0-9][A-Za-z0-9_.-]*", 'a group name may only use letters, digits, "-", "_" and "."'),
]


def _no_entries() -> Mapping[str, object]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class RunConfig:
    """[run]: what to run and how the run is cut into a judged window."""

    __pydantic_config__ = SECTION

    locustfile: _TEXT = None
    host: _TEXT = None
    scenario: _TEXT = None
    out: Annotated[Path, path()] = Path("results")
    warmup_s: Annotated[float, duration(positive=False)] = 0.0  # excluded after the ramp-up ends
    cooldown_s: Annotated[float, duration(positive=False)] = 0.0  # excluded before the end
    max_endpoints: _COUNT = 500  # distinct request names kept; more fold into "(other)"
    interval_s: Annotated[float, duration(positive=True)] = 5.0  # timeline resolution
    progress_s: Annotated[float, duration(positive=False)] = 5.0  # console progress line; 0: off
    lean: _BOOL = True  # one request listener for Locust's statistics and loadlens's (runner.locust.lean)


@dataclass(frozen=True, slots=True)
class Limits:
    """Client limits for all requests or one endpoint; ``None`` means not set."""

    __pydantic_config__ = SECTION

    p50_ms: _MS = None
    p95_ms: _MS = None
    p99_ms: _MS = None
    error_rate: _RATIO = None
    success_rate: _RATIO = None
    min_rps: Annotated[float | None, number(ge=0)] = None
    # Fewer requests than this make a percentile INCONCLUSIVE; None: the default of 20, not required.
    min_samples: Annotated[int | None, integer(ge=1)] = None
    p90_ms: _MS = None
    p999_ms: _MS = None
    avg_ms: _MS = None
    max_ms: _MS = None
    # Statuses that must have answered at least once (a rate limiter proven by its 429s).
    require_statuses: STATUSES | None = None
    # Stop the run once one of this table's criteria has failed continuously this long, live.
    abort_after_s: Annotated[float | None, duration(positive=True)] = None


@dataclass(frozen=True, slots=True)
class EndpointLimits(Limits):
    """[thresholds.endpoints."METHOD name"]: an endpoint's limits, and the tolerances of its figures
    against a baseline beside them (the same as [compare.endpoints."METHOD name"]'s p50_percent,
    p95_percent, p99_percent, error_rate_points and rps_percent; one figure in both is an error)."""

    p50_vs_baseline_percent: Annotated[float | None, number(ge=0)] = None
    p95_vs_baseline_percent: Annotated[float | None, number(ge=0)] = None
    p99_vs_baseline_percent: Annotated[float | None, number(ge=0)] = None
    error_rate_vs_baseline_points: Annotated[float | None, number(ge=0, le=100)] = None
    rps_vs_baseline_percent: Annotated[float | None, number(ge=0, le=100)] = None


@dataclass(frozen=True, slots=True)
class GroupLimits(Limits):
    """[thresholds.groups.NAME]: limits judged on the merged requests the group selects: those whose
    "METHOD name" the ``match`` regex finds AND (with ``tags``) made in a task with one of the tags
    AND (with ``user_classes``) made by a User of one of the classes. ``per_endpoint = false``
    drops the own rows of the endpoints a match-only group takes (runner.judge.client)."""

    match: Annotated[str | None, pattern()] = None
    per_endpoint: _BOOL = True
    tags: Annotated[
        tuple[Annotated[str, text()], ...] | None, list_of("a list of non-empty strings", non_empty=True)
    ] = None
    user_classes: Annotated[
        tuple[Annotated[str, text()], ...] | None, list_of("a list of non-empty strings", non_empty=True)
    ] = None


@dataclass(frozen=True, slots=True)
class Thresholds:
    """[thresholds]. ``endpoints`` holds only the keys each endpoint table gave ("METHOD name" ->
    Limits); runner.judge.client merges them over ``default`` when ``per_endpoint`` is on."""

    __pydantic_config__ = SECTION

    default: Annotated[Limits, Flat()] = Limits()
    endpoints: Annotated[Mapping[ENDPOINT, EndpointLimits], table_of("a table of endpoints")] = field(
        default_factory=_no_entries  # type: ignore[arg-type]
    )
    expected_statuses: STATUSES = frozenset()
    warn_ratio: Annotated[float, number(gt=0, le=1)] = 0.9
    per_endpoint: _BOOL = True
    include_expected: _BOOL = False  # expected-status responses count in latency percentiles and rps
    groups: Annotated[Mapping[GROUP, GroupLimits], table_of("a table of endpoint groups")] = field(
        default_factory=_no_entries  # type: ignore[arg-type]
    )


@dataclass(frozen=True, slots=True)
class ScenarioThresholds(Limits):
    """[scenarios.NAME.thresholds]: what overrides [thresholds] when that scenario runs, key by key
    (an endpoint's or a group's table key by key over the top-level one of that name)."""

    endpoints: Annotated[Mapping[ENDPOINT, EndpointLimits], table_of("a table of endpoints")] = field(
        default_factory=_no_entries  # type: ignore[arg-type]
    )
    groups: Annotated[Mapping[GROUP, GroupLimits], table_of("a table of endpoint groups")] = field(
        default_factory=_no_entries  # type: ignore[arg-type]
    )
    per_endpoint: Annotated[bool | None, boolean()] = None


@dataclass(frozen=True, slots=True)
class ServerCriteriaLimits:
    """The limits server-side criteria are judged by (runner.judge.server), whatever the source.

    Its keys are written in [server]; the process's own limits ([process] cpu_percent and
    memory_percent) and the WARN band ([thresholds] warn_ratio) are set by the loader from their
    tables. ``None`` switches a criterion off. The process limits fall back to ``cpu_percent`` and
    ``memory_percent``. ``warn_ratio``: WARN from this fraction of a limit upwards.
    """

    __pydantic_config__ = SECTION

    cpu_percent: Annotated[float, number(gt=0, le=100)] = 70.0
    memory_percent: Annotated[float, number(gt=0, le=100)] = 80.0
    rds_cpu_percent: _PERCENT = None
    rds_connections: Annotated[float | None, number(gt=0)] = None
    alb_5xx: Annotated[float | None, number(ge=0)] = 0.0  # load-balancer 5xx allowed in the window
    process_cpu_percent: Annotated[float | None, Derived()] = None
    process_memory_percent: Annotated[float | None, Derived()] = None
    warn_ratio: Annotated[float, Derived()] = 0.9
    alb_p95_ms: _MS = None  # ALB TargetResponseTime p95 of every whole period (CloudWatch: seconds)
    alb_p99_ms: _MS = None
    unhealthy_hosts: Annotated[float | None, number(ge=0)] = 0.0  # UnHealthyHostCount in any period
    # [[server.metrics]]: any CloudWatch metric or PromQL query, with its max and/or min.
    metrics: Annotated[
        tuple[ServerMetric, ...],
        Container(SERVER_METRICS_EXPECTED, (list, tuple), non_empty=False, env=False),
    ] = ()


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """[server]: the server criteria's limits, the leak judgement and the safety stop."""

    __pydantic_config__ = SECTION

    criteria: Annotated[ServerCriteriaLimits, Flat()] = field(default_factory=ServerCriteriaLimits)
    leak_warn_percent_per_hour: Annotated[float | None, number(gt=0)] = None
    leak_fail_percent_per_hour: Annotated[float | None, number(gt=0)] = None
    # A steady state shorter than this cannot judge a leak.
    leak_min_duration_s: Annotated[float, duration(positive=True)] = 1800.0
    # Safety stop: end the run early when a server metric stays above this for abort_periods
    # consecutive periods (protects a shared staging environment). None: no safety stop.
    abort_cpu_percent: _PERCENT = None
    abort_memory_percent: _PERCENT = None
    abort_periods: _COUNT = 3


@dataclass(frozen=True, slots=True)
class CloudWatchConfig:
    """[cloudwatch]: how to reach AWS and when to read; ``target`` (what to watch: the table's
    resource, period, preroll and container_insights keys) is the CloudWatch source's own type."""

    __pydantic_config__ = SECTION

    region: _TEXT = None
    profile: _TEXT = None
    target: Annotated[CloudWatchTarget, Flat()] = field(default_factory=CloudWatchTarget)
    settle_s: Annotated[float, duration(positive=False)] = 300.0  # wait for the last datapoints
    require: _BOOL = False  # missing CloudWatch data makes the run inconclusive
    correlate: _BOOL = False  # pull CloudWatch for the run (also: --correlate-cloudwatch)
    # Application logs (runner.sources.logs): events matching error_pattern in the judged window.
    log_group: _TEXT = None
    error_pattern: Annotated[str, text()] = "?ERROR ?Exception ?Traceback"
    max_log_errors: Annotated[int | None, integer(ge=0)] = None  # None: counted and listed, not judged
    max_log_events: _COUNT = 1000  # the read stops here (the count is then a lower bound)
    # Alarms that entered ALARM during the run (runner.sources.alarms); on with any of these keys.
    alarms: _BOOL = False
    alarm_prefix: _TEXT = None
    max_alarms: Annotated[int | None, integer(ge=0)] = None  # None: listed, not judged


@dataclass(frozen=True, slots=True)
class PrometheusSourceConfig:
    """[prometheus_source]: server metrics from a Prometheus the team already runs."""

    __pydantic_config__ = SECTION

    url: _URL = None
    queries: Annotated[
        Mapping[str, Annotated[str, text(expected="a PromQL query")]],
        table_of("a table of names to PromQL querys"),
    ] = field(default_factory=_no_entries)  # type: ignore[arg-type]
    step_s: Annotated[float, duration(positive=True)] = 15.0


@dataclass(frozen=True, slots=True)
class ProcessConfig:
    """[process]: a local process to watch (pid or name), with its own limits if given."""

    __pydantic_config__ = SECTION

    pid: Annotated[int | None, integer(ge=1)] = None
    name: _TEXT = None
    # A process can use more than one core: psutil reports up to 100 x cores. None: [server]'s.
    cpu_percent: Annotated[float | None, number(gt=0)] = None
    memory_percent: _PERCENT = None  # None: [server] memory_percent applies


@dataclass(frozen=True, slots=True)
class PrometheusExporterConfig:
    """[exporters.prometheus]: the /metrics endpoint; on when a port is given."""

    __pydantic_config__ = SECTION

    port: Annotated[int | None, integer(ge=1, le=65535)] = None
    bind: Annotated[str, text()] = "127.0.0.1"
    linger_s: Annotated[float, duration(positive=False)] = 15.0  # serve on so the last scrape sees the end
    max_names: _COUNT = 200
    max_statuses: _COUNT = 20

    @property
    def enabled(self) -> bool:
        return self.port is not None


@dataclass(frozen=True, slots=True)
class PushgatewayConfig:
    """[exporters.pushgateway]: pushes for short runs nobody scrapes; on when a url is given."""

    __pydantic_config__ = SECTION

    url: _URL = None
    interval_s: Annotated[float, duration(positive=True)] = 10.0
    job: Annotated[str, text()] = "loadlens"
    delete_on_finish: _BOOL = False

    @property
    def enabled(self) -> bool:
        return self.url is not None


@dataclass(frozen=True, slots=True)
class OtlpConfig:
    """[exporters.otlp]: on when the table (or a LOADLENS_EXPORTERS_OTLP_* variable, or --otlp)
    is given, unless ``enabled = false``. No endpoint: the OTEL_* variables / SDK default apply."""

    __pydantic_config__ = SECTION

    enabled: _BOOL = False
    endpoint: _URL = None
    # None: OTEL_EXPORTER_OTLP_[METRICS_]PROTOCOL, else http/protobuf
    protocol: Annotated[str | None, choice("http/protobuf", "grpc")] = None
    interval_s: Annotated[float, duration(positive=True)] = 5.0
    headers: Annotated[
        Mapping[str, Annotated[str, text(expected="a header value")]],
        table_of("a table of names to header values"),
    ] = field(default_factory=_no_entries)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ExportersConfig:
    """[exporters.*]."""

    __pydantic_config__ = SECTION

    prometheus: PrometheusExporterConfig = PrometheusExporterConfig()
    pushgateway: PushgatewayConfig = PushgatewayConfig()
    otlp: OtlpConfig = OtlpConfig()


@dataclass(frozen=True, slots=True)
class GrafanaConfig:
    """[grafana]: where annotations go and which dashboard links point at."""

    __pydantic_config__ = SECTION

    url: _URL = None
    dashboard_uid: _TEXT = None
    folder: _TEXT = None


@dataclass(frozen=True, slots=True)
class StageTable:
    """One item of a scenario's ``stages``: checked here, made a Stage by runner.config.load (the
    scenario's spawn_rate fills a stage that gives none)."""

    __pydantic_config__ = SECTION

    duration_s: Annotated[float | None, duration(positive=True)] = None
    users: Annotated[int | None, integer(ge=0)] = None
    spawn_rate: Annotated[float | None, number(gt=0)] = None
    recovery: _BOOL = False  # the service must recover in this stage from the spike before it


@dataclass(frozen=True, slots=True)
class RecoveryConfig:
    """[recovery]: how a spike's recovery is judged (runner.judge.recovery) in a staged scenario
    with a stage marked ``recovery = true`` (the built-in spike's last stage is): p95 and the error
    rate must come back within a tolerance of the pre-spike stage within ``recover_within``."""

    __pydantic_config__ = SECTION

    enabled: Annotated[bool, boolean()] = True
    recover_within_s: Annotated[float, duration(positive=True)] = 60.0
    p95_tolerance: Annotated[float, number(ge=0)] = 0.5  # p95 up to 1.5 x the pre-spike p95
    error_rate_tolerance: Annotated[float, number(ge=0, le=1)] = 0.01  # + 1 point over pre-spike
    # With ECS Container Insights read: RunningTaskCount must rise during the spike and come back.
    expect_scale_out: Annotated[bool, boolean()] = False


STAGES_EXPECTED = 'a non-empty list of tables like {duration = "1m", users = 10, spawn_rate = 5}'


@dataclass(frozen=True, slots=True)
class ScenarioTable:
    """A [scenarios.NAME] table: only what it gives (``None``: not given), merged over the built-in
    of that name by runner.config.load."""

    __pydantic_config__ = SECTION

    description: Annotated[str | None, text(allow_empty=True)] = None
    users: Annotated[int | None, integer(ge=1)] = None
    spawn_rate: Annotated[float | None, number(gt=0)] = None
    run_time_s: Annotated[float | None, duration(positive=True)] = None
    tags: NAMES | None = None
    exclude_tags: NAMES | None = None
    expected_statuses: STATUSES | None = None
    stages: Annotated[tuple[StageTable, ...] | None, list_of(STAGES_EXPECTED, non_empty=True)] = None
    thresholds: ScenarioThresholds | None = None


SCENARIO_NAME = Annotated[
    str,
    Named(
        r"[A-Za-z0-9][A-Za-z0-9_.-]*",
        'a scenario name may only use letters, digits, "-", "_" and "." (it names the run directory)',
    ),
]
SCENARIOS = Annotated[Mapping[SCENARIO_NAME, ScenarioTable], table_of("a table of scenarios")]
