"""The plain, frozen data that flows between loadlens stages.

Nothing here imports Locust, boto3, prometheus_client or the OpenTelemetry SDK: every stage
(stats, sources, criteria, verdict, reports, exporters) speaks these types.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.readings import AlarmReading, LogReading, Missing, Series
from runner.stats.histogram import Histogram, bucket_value_ms

TOTAL_NAME = "all requests"


class Status(enum.Enum):
    """The outcome of one criterion, and of the whole verdict."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"

    @property
    def label(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True, order=True)
class EndpointKey:
    """One endpoint as Locust reports it: the request type (method) and the request name."""

    method: str
    name: str

    def __str__(self) -> str:
        return f"{self.method} {self.name}" if self.method else self.name


@dataclass(frozen=True, slots=True)
class EndpointStats:
    """Cumulative (or windowed) statistics of one endpoint, or of all of them together."""

    count: int = 0
    failures: int = 0
    expected: int = 0  # responses whose status the scenario declared as expected (not failures)
    sum_ms: float = 0.0
    min_ms: float | None = None
    max_ms: float | None = None
    bytes: int = 0
    statuses: Mapping[int, int] = field(default_factory=dict)  # every response, by HTTP status (0: none)
    failed_statuses: Mapping[int, int] = field(default_factory=dict)  # those Locust reported failed
    histogram: Histogram = field(default_factory=Histogram.empty)
    # The latency of non-2xx responses again, per status (a subset of ``histogram``): what lets the
    # verdict set expected statuses apart without workers knowing which ones are expected.
    status_histograms: Mapping[int, Histogram] = field(default_factory=dict)

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.count if self.count else None

    @property
    def mean_ms(self) -> float | None:
        return self.sum_ms / self.count if self.count else None

    def quantile_ms(self, q: float) -> float | None:
        if q >= 1.0 and self.count and self.max_ms is not None:
            return self.max_ms
        value = self.histogram.quantile_ms(q)
        if value is None:
            return None
        # The bucket representative may sit a hair outside what was actually observed.
        if self.min_ms is not None and value < self.min_ms:
            return self.min_ms
        if self.max_ms is not None and value > self.max_ms:
            return self.max_ms
        return value

    def merge(self, other: EndpointStats) -> EndpointStats:
        return EndpointStats(
            count=self.count + other.count,
            failures=self.failures + other.failures,
            expected=self.expected + other.expected,
            sum_ms=self.sum_ms + other.sum_ms,
            min_ms=_opt(min, self.min_ms, other.min_ms),
            max_ms=_opt(max, self.max_ms, other.max_ms),
            bytes=self.bytes + other.bytes,
            statuses=_add_counts(self.statuses, other.statuses),
            failed_statuses=_add_counts(self.failed_statuses, other.failed_statuses),
            histogram=self.histogram.merge(other.histogram),
            status_histograms=_add_histograms(self.status_histograms, other.status_histograms),
        )

    def excluding(self, statuses: Collection[int]) -> EndpointStats:
        """The responses whose status is not in ``statuses`` (the expected ones, which ``failures``
        already leaves out): what latency percentiles and rps are judged on when expected statuses
        are set apart. Only non-2xx statuses have a latency of their own, so a 2xx status is always
        kept. min/max are bounded by the histogram (within 0.5%) and the mean is unknown
        (``sum_ms`` is NaN): criteria need neither."""
        drop = [code for code in statuses if code in self.status_histograms]
        if not drop:
            return self
        dropped = Histogram.empty()
        for code in drop:
            dropped = dropped.merge(self.status_histograms[code])
        hist = self.histogram.subtract(dropped)
        lo, hi = _bounds(hist, self.min_ms, self.max_ms)
        failed = {code: n for code, n in self.failed_statuses.items() if code not in drop}
        return EndpointStats(
            count=self.count - dropped.total,
            failures=self.failures,
            expected=self.expected - dropped.total,
            sum_ms=math.nan,
            min_ms=lo,
            max_ms=hi,
            bytes=self.bytes,
            statuses={code: n for code, n in self.statuses.items() if code not in drop},
            failed_statuses=failed,
            histogram=hist,
            status_histograms={c: h for c, h in self.status_histograms.items() if c not in drop},
        )

    def subtract(self, earlier: EndpointStats) -> EndpointStats:
        """What happened since ``earlier``. min/max cannot be subtracted: they are bounded by the
        histogram's first and last non-empty bucket instead (within 0.5%)."""
        hist = self.histogram.subtract(earlier.histogram)
        lo, hi = _bounds(hist, self.min_ms, self.max_ms)
        return EndpointStats(
            count=self.count - earlier.count,
            failures=self.failures - earlier.failures,
            expected=self.expected - earlier.expected,
            sum_ms=self.sum_ms - earlier.sum_ms,
            min_ms=lo,
            max_ms=hi,
            bytes=self.bytes - earlier.bytes,
            statuses=_sub_counts(self.statuses, earlier.statuses),
            failed_statuses=_sub_counts(self.failed_statuses, earlier.failed_statuses),
            histogram=hist,
            status_histograms=_sub_histograms(self.status_histograms, earlier.status_histograms),
        )


def _bounds(hist: Histogram, min_ms: float | None, max_ms: float | None) -> tuple[float | None, float | None]:
    """min and max of a histogram's values: its first and last bucket, within the known extremes."""
    if not hist.counts:
        return None, None
    lo = bucket_value_ms(min(hist.counts))
    hi = bucket_value_ms(max(hist.counts))
    if max_ms is not None:
        hi = min(hi, max_ms)
    if min_ms is not None:
        lo = max(lo, min_ms)
    return lo, hi


def _add_histograms(a: Mapping[int, Histogram], b: Mapping[int, Histogram]) -> dict[int, Histogram]:
    out = dict(a)
    for code, h in b.items():
        out[code] = out[code].merge(h) if code in out else h
    return out


def _sub_histograms(a: Mapping[int, Histogram], b: Mapping[int, Histogram]) -> dict[int, Histogram]:
    out = {}
    for code, h in a.items():
        diff = h.subtract(b[code]) if code in b else h
        if diff.counts:
            out[code] = diff
    return out


def _add_counts(a: Mapping[int, int], b: Mapping[int, int]) -> dict[int, int]:
    out = dict(a)
    for k, n in b.items():
        out[k] = out.get(k, 0) + n
    return out


def _sub_counts(a: Mapping[int, int], b: Mapping[int, int]) -> dict[int, int]:
    return {k: d for k, n in a.items() if (d := n - b.get(k, 0))}


def _opt(fn: Callable[[float, float], float], a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return fn(a, b)


@dataclass(frozen=True, slots=True, order=True)
class GroupKey:
    """A ``[thresholds.groups.NAME]`` recorded live because it selects by Locust tags or User
    classes (runner.stats.groups): its name and its selectors, so a re-judge knows what was counted.
    Empty ``tags``/``user_classes`` mean "any"; ``match`` None means every endpoint."""

    name: str
    match: str | None = None
    tags: tuple[str, ...] = ()
    user_classes: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = [f"match={self.match!r}"] if self.match is not None else []
        parts += [
            f"{k}={list(v)}" for k, v in (("tags", self.tags), ("user_classes", self.user_classes)) if v
        ]
        return f"{self.name} ({', '.join(parts)})"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Per-endpoint statistics over a span of time (cumulative from the run's start, or a window)."""

    start: float  # epoch seconds
    end: float
    endpoints: Mapping[EndpointKey, EndpointStats]
    users: int = 0
    # The statuses the run declared expected (counted in ``EndpointStats.expected``, never failures):
    # the criteria set their responses apart from latency and rps.
    expected_statuses: frozenset[int] = frozenset()
    # Groups selected by tags or User classes, counted live (every configured one, even at zero).
    groups: Mapping[GroupKey, EndpointStats] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end - self.start)

    def total(self) -> EndpointStats:
        out = EndpointStats()
        for stats in self.endpoints.values():
            out = out.merge(stats)
        return out

    def rps(self) -> float | None:
        d = self.duration_s
        return self.total().count / d if d > 0 else None

    def since(self, earlier: Snapshot) -> Snapshot:
        """The window between an earlier cumulative snapshot and this one."""
        endpoints = {}
        for key, stats in self.endpoints.items():
            before = earlier.endpoints.get(key)
            diff = stats.subtract(before) if before is not None else stats
            if diff.count or diff.failures:
                endpoints[key] = diff
        groups = {  # every group stays, even at zero: "counted none" is not "not recorded"
            key: stats.subtract(before) if (before := earlier.groups.get(key)) is not None else stats
            for key, stats in self.groups.items()
        }
        return Snapshot(
            start=earlier.end,
            end=self.end,
            endpoints=endpoints,
            users=self.users,
            expected_statuses=self.expected_statuses,
            groups=groups,
        )


@dataclass(frozen=True, slots=True)
class Interval:
    """One point of the run's timeline: what happened in ``[start, end)``, all endpoints together,
    plus each endpoint's count, failures and p95 (kept small so a day-long run stays bounded).

    ``endpoint_histograms`` (live timelines only; a summary read back has none) let the timeline
    merge two intervals exactly when it halves its resolution: histograms add, p95s do not."""

    start: float
    end: float
    users: int
    total: EndpointStats
    endpoint_p95_ms: Mapping[EndpointKey, float]
    endpoint_counts: Mapping[EndpointKey, tuple[int, int]]  # (count, failures)
    endpoint_histograms: Mapping[EndpointKey, Histogram] = field(default_factory=dict)
    # Each endpoint's p50 and p99 too (runner.compare judges them per period; absent in older summaries).
    endpoint_p50_ms: Mapping[EndpointKey, float] = field(default_factory=dict)
    endpoint_p99_ms: Mapping[EndpointKey, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        d = self.end - self.start
        return self.total.count / d if d > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Result:
    """One judged criterion: the user's own words, what was seen, the limit and why."""

    name: str  # e.g. "p95_ms GET /health"
    criterion: str  # the user's text, e.g. "p95 <= 50 ms"
    observed: float | None
    limit: float | None
    status: Status
    reason: str
    unit: str = ""
    scope: str = "client"  # "client" or "server"
    required: bool = True  # an INCONCLUSIVE required criterion makes the run inconclusive (exit 3)
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    """All results, the overall status and the exit code CI gates on."""

    results: tuple[Result, ...]
    status: Status
    exit_code: int
    interrupted: bool = False
    notes: tuple[str, ...] = ()
    incomplete: tuple[str, ...] = ()  # why the run is incomplete (interrupted, lost worker...): never a pass


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Who this run is: stable for its whole life, carried by every export."""

    run_id: str
    scenario: str
    host: str
    started_at: float  # epoch seconds
    role: str = "standalone"  # "standalone", "master" or "worker"
    locustfile: str = ""


@dataclass(frozen=True, slots=True)
class PhaseMarks:
    """When a run's phases changed besides its judged window's edges, for the report's shading: the
    ramp-up's end (the warm-up's start; None if every user never spawned) and each load step after
    it as (at, users before, users after)."""

    ramp_end: float | None = None
    load_steps: tuple[tuple[float, int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class RunShape:
    """What makes two runs comparable (summary.json "comparability"): a baseline comparison warns
    when these differ instead of calling the difference a regression. ``host`` is redacted."""

    locustfile_sha256: str = ""  # of the locustfile(s), plugin excluded
    scenario: str = ""
    users: int | None = None
    spawn_rate: float | None = None
    duration_s: float | None = None
    host: str = ""
    user_classes: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LiveState:
    """What a live exporter reads while the run goes on (taken on the load loop's thread)."""

    info: RunInfo
    cumulative: Snapshot  # whole run so far, all workers merged
    users: int
    phase: str  # "starting", "ramp-up", "steady", "ramp-down", "stopped"
    results: tuple[Result, ...] = ()  # criteria judged on the running window
    server: tuple[Series, ...] = ()  # latest server-side series, when a source is configured
    # The latest poll's metrics a source could not answer (their reasons: summary.json and the log).
    server_missing: tuple[Missing, ...] = ()
    overflowed_requests: int = 0  # requests whose name was folded into "(other)" by the cap
    timeline: tuple[Interval, ...] = ()  # the run so far, for the live report page


@dataclass(frozen=True, slots=True)
class SpikeMarks:
    """When a staged run's spike happened (epoch seconds, from its load shape): the pre-spike stage
    began at ``pre_start``, the spike from ``spike_start`` to ``spike_end``, where the stage marked
    ``recovery = true`` began. What runner.judge.recovery measures recovery from."""

    pre_start: float
    spike_start: float
    spike_end: float
    pre_users: int = 0
    spike_users: int = 0


@dataclass(frozen=True, slots=True)
class RunRecord:
    """Everything the reports need about one finished (or interrupted) run."""

    info: RunInfo
    run_start: float
    run_end: float
    window_start: float  # the judged window (steady state unless it was never reached)
    window_end: float
    window_kind: str  # "steady_state" or "whole_run"
    whole: Snapshot  # the whole run
    judged: Snapshot  # the judged window
    timeline: tuple[Interval, ...]
    verdict: Verdict
    server: tuple[Series, ...] = ()
    interrupted: bool = False
    command: tuple[str, ...] = ()  # the command line, secrets redacted
    config_path: str | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    # Client-vs-server analysis and soak trends (runner.judge.analysis), JSON-ready; "findings" holds the
    # sentences a person reads ("p95 of POST /jobs crossed 500 ms at 14:03:10 UTC while ECS CPU was 83 %").
    analysis: Mapping[str, Any] = field(default_factory=dict)
    # Every server metric a source was asked for and could not answer, with the reason: with
    # ``server`` it names each metric read (summary.json "server.missing").
    server_missing: tuple[Missing, ...] = ()
    shape: RunShape | None = None  # None in summaries written before comparability was recorded
    phases: PhaseMarks | None = None  # None in summaries written before the phases were recorded
    spike: SpikeMarks | None = None  # a staged run with a recovery stage (summary.json "spike")
    logs: LogReading | None = None  # [cloudwatch] log_group's error events (summary.json "server.logs")
    alarms: AlarmReading | None = None  # alarms that entered ALARM (summary.json "server.alarms")
    locustfile_path: str = ""  # -f as given, each file made absolute (for `loadlens init --from`)
