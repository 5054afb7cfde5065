"""What the server side reads, before any judging: the series, the metrics not answered, the
sources that failed, application logs and alarms, and which (source, metric) pairs are a service's
CPU and memory.

Plain frozen data like runner.model (which re-exports every name here, so ``from runner.model import
Series`` keeps working); kept apart so that the client's types and the server's each stay one
readable module.
"""

from __future__ import annotations

from dataclasses import dataclass

# The (source, metric) pairs that measure a service's CPU and memory, whatever the source: what the
# safety stop watches, what the analysis correlates and what a leak is judged on. One home, read by
# both the sources (which collect) and the judge.
CPU_METRICS = frozenset(
    {("cloudwatch", "CPUUtilization"), ("process", "cpu_percent"), ("prometheus", "cpu_percent")}
)
MEMORY_METRICS = frozenset(
    {("cloudwatch", "MemoryUtilization"), ("process", "memory_percent"), ("prometheus", "memory_percent")}
)


@dataclass(frozen=True, slots=True)
class Series:
    """One server-side metric over time, as a source answered it."""

    source: str  # "cloudwatch", "prometheus", "process"
    resource: str  # e.g. "ecs:cluster/service", "rds:db-1", "pid:1234"
    metric: str  # e.g. "CPUUtilization"
    stat: str  # e.g. "Average", "Maximum", "p95"
    unit: str  # e.g. "Percent", "Count", "Seconds", "Bytes"
    points: tuple[tuple[float, float], ...]  # (epoch seconds, value), ascending time
    period_s: float = 60.0


# The resource of a series read for a [[server.metrics]] criterion: "metric:<name>", plus the
# labels for a Prometheus query's ("metric:<name>{job=\"api\"}"). Never a built-in CPU or memory.
CUSTOM_RESOURCE = "metric:"


def custom_metric_name(resource: str) -> str | None:
    """The [[server.metrics]] name a series resource belongs to, or None for a built-in one."""
    if not resource.startswith(CUSTOM_RESOURCE):
        return None
    return resource[len(CUSTOM_RESOURCE) :].split("{", 1)[0]


def metric_kind(series: Series) -> str | None:
    """ "cpu", "memory", or None: what a server series measures (see ``CPU_METRICS``); a
    [[server.metrics]] series is the user's own, never the service's CPU or memory."""
    if series.resource.startswith(CUSTOM_RESOURCE):
        return None
    key = (series.source, series.metric)
    if key in CPU_METRICS:
        return "cpu"
    if key in MEMORY_METRICS:
        return "memory"
    return None


@dataclass(frozen=True, slots=True)
class Missing:
    """One metric a source was asked for and could not answer, with the reason a user can act on.

    ``what`` names the metric the way its source does (for CloudWatch: namespace, metric name and
    dimensions, e.g. ``AWS/ECS CPUUtilization ClusterName=c ServiceName=s``); ``reason`` is one
    line, e.g. ``no datapoints for AWS/ECS CPUUtilization ClusterName=c ServiceName=s: check the
    names and the region``. ``sparse`` marks metrics the source publishes only when non-zero (ALB
    5xx counts): their absence next to live traffic means zero, which the criteria know.
    ``failed``: the source refused or failed to answer this one metric (as opposed to answering
    with no datapoints). ``exists``: for a ``missing = "zero"`` [[server.metrics]], whether
    CloudWatch lists the metric (None: not checked, or the check failed: see ``reason``); with
    True the judge counts its periods as 0, of ``period_s`` seconds.
    """

    source: str
    resource: str
    metric: str
    stat: str
    what: str
    reason: str
    sparse: bool = False
    failed: bool = False
    exists: bool | None = None
    period_s: float | None = None


@dataclass(frozen=True, slots=True)
class SourceFailure:
    """A whole source that could not answer (it did not start, or its read failed): the judge makes
    it one INCONCLUSIVE row, never a pass."""

    source: str  # "cloudwatch", "prometheus", "process", or "server" when loadlens itself broke
    reason: str


@dataclass(frozen=True, slots=True)
class LogGroup:
    """Application log events that read alike once digits and ids are normalised (runner.sources.logs):
    the normalised text, one event's own text, and when each event happened (epoch seconds)."""

    message: str
    example: str
    times: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class LogReading:
    """The events of ``[cloudwatch] log_group`` that matched ``error_pattern`` during the run.

    ``capped``: why the read stopped before the end (its events/pages cap), so the counts are a
    lower bound; ``failure``: why it could not be read at all (an INCONCLUSIVE row, never a pass)."""

    log_group: str
    pattern: str
    groups: tuple[LogGroup, ...] = ()
    capped: str | None = None
    failure: str | None = None


@dataclass(frozen=True, slots=True)
class AlarmEntry:
    """One CloudWatch alarm entering ALARM (DescribeAlarmHistory), at epoch seconds ``at``."""

    name: str
    at: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AlarmReading:
    """The alarms that entered ALARM during the run (names starting with ``prefix`` when given);
    ``capped`` and ``failure`` as in ``LogReading``."""

    prefix: str | None = None
    entries: tuple[AlarmEntry, ...] = ()
    capped: str | None = None
    failure: str | None = None


@dataclass(frozen=True, slots=True)
class ServerReadings:
    """What the server side gathered for a finished run, before any judging: the series read, the
    metrics asked for and not answered, the sources that failed (in the order they failed), the
    sources' notes, and the safety stop's reason when it ended the run."""

    series: tuple[Series, ...] = ()
    missing: tuple[Missing, ...] = ()
    failures: tuple[SourceFailure, ...] = ()
    notes: tuple[str, ...] = ()
    safety_stop: str | None = None
    logs: LogReading | None = None  # [cloudwatch] log_group, when set
    alarms: AlarmReading | None = None  # [cloudwatch] alarms, when asked for
