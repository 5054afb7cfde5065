"""Client against server: the run cut into periods beside the server's metrics, the CPU headroom,
and the CPU cost of a thousand requests.

- ``periods``: the client timeline aggregated onto the server's periods (requests, failures, rps,
  an exact p95 from merged histograms, users) beside each server series' value in that period.
- ``runner.judge.breach.first_breach`` (its own module): the first client limit that broke, and the
  server's state then, as a sentence.
- ``headroom``: a robust line CPU % = a + b * rps through the load steps, and the rps at which it
  would reach the CPU limit.
- ``cpu_seconds_per_1000``: CPU-seconds the server spent per 1,000 requests.

Pure functions on the model types; no I/O. docs/analysis.md explains each figure and its caveats.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from runner.judge.soak import report_unit, theil_sen
from runner.model import EndpointStats, Interval
from runner.readings import CPU_METRICS, MEMORY_METRICS, Series, custom_metric_name
from runner.sources.base import align_down, align_up, inside, period_points, window_points
from runner.sources.cloudwatch_catalog import ECS, RDS_CLUSTER, RDS_INSTANCE
from runner.units import format_value

FULL_COVERAGE = (0.9, 1.1)  # a period the client timeline covers this fraction of counts as full
MIN_RPS_SPREAD = 0.25  # headroom needs (max rps - min rps) >= this fraction of max rps
MIN_FIT_PERIODS = 3
# A line is an estimate only near the loads it was fitted through: reaching the limit beyond this
# multiple of the highest tested rps is extrapolation, not headroom (a run at 2 rps says nothing
# about 170 rps), so no rps is given then, only what the run measured (CPU cost per 1,000 requests).
# About twice the tested load, with room for the scatter of a fit that lands on 2x.
MAX_EXTRAPOLATION = 2.5


@dataclass(frozen=True, slots=True, order=True)
class SeriesRef:
    """Which server series a value came from: the identity of a ``Series`` without its points."""

    source: str
    resource: str
    metric: str
    stat: str
    unit: str = ""

    @staticmethod
    def of(series: Series) -> SeriesRef:
        """The reference of ``series``."""
        return SeriesRef(series.source, series.resource, series.metric, series.stat, series.unit)

    @property
    def label(self) -> str:
        """How a sentence names it: "ECS CPU", "RDS CPU", "process memory", "ECS CPU (Maximum)"."""
        if (named := custom_metric_name(self.resource)) is not None:
            return named  # a [[server.metrics]]: the user's own name for it
        kind = {"CPUUtilization": "CPU", "MemoryUtilization": "memory", "cpu_percent": "CPU"}
        kind |= {"memory_percent": "memory", "rss_bytes": "RSS"}
        what = kind.get(self.metric, self.metric)
        if self.source == "cloudwatch":
            if self.resource.startswith(ECS):
                owner = "ECS"
            elif self.resource.startswith((RDS_INSTANCE, RDS_CLUSTER)):
                owner = "RDS"
            else:
                owner = self.resource.split(":", 1)[0].upper()
            plain = self.stat == "Average"
        else:
            owner = "process" if self.source == "process" else "Prometheus"
            plain = self.stat in ("Average", "Sample", "value")
        return f"{owner} {what}" if plain else f"{owner} {what} ({self.stat})"

    @property
    def report_unit(self) -> str:
        """The unit ``runner.units.format_value`` shows its values in."""
        return report_unit(self.unit)


def resource_series(series: Sequence[Series]) -> tuple[Series, ...]:
    """The CPU and memory series among ``series`` (CloudWatch ECS and RDS Average, the local process,
    Prometheus ``cpu_percent`` / ``memory_percent``) and the user's ``[[server.metrics]]``: what
    ``periods`` and ``first_breach`` report."""
    return tuple(
        s
        for s in series
        if custom_metric_name(s.resource) is not None
        or (
            (s.source, s.metric) in CPU_METRICS | MEMORY_METRICS
            and (s.source != "cloudwatch" or s.stat == "Average")
        )
    )


def find_cpu(series: Sequence[Series]) -> Series | None:
    """The service's CPU series: CloudWatch ECS CPUUtilization (Average), else the local process's
    cpu_percent, else the first Prometheus cpu_percent; None without any."""
    return _find(series, CPU_METRICS)


def find_memory(series: Sequence[Series]) -> Series | None:
    """The service's memory series, in the same order of preference as ``find_cpu``."""
    return _find(series, MEMORY_METRICS)


def reserved_vcpus(series: Sequence[Series], *, start: float, end: float) -> float | None:
    """The vCPUs the ECS service's tasks reserve, averaged over ``[start, end)``: Container Insights
    ``CpuReserved`` (CPU units, 1,024 a vCPU, summed over the running tasks). What 100 % of ECS
    CPUUtilization is, i.e. the ``cores`` of ``cpu_seconds_per_1000``; None without Container Insights."""
    for s in series:
        if s.source == "cloudwatch" and s.metric == "CpuReserved" and s.resource.startswith(ECS):
            pts = window_points(s, start, end)
            if pts:
                return statistics.fmean(v for _, v in pts) / 1024.0
    return None


def _find(series: Sequence[Series], kinds: frozenset[tuple[str, str]]) -> Series | None:
    def rank(s: Series) -> int:
        return {"cloudwatch": 0, "process": 1}.get(s.source, 2)

    found = [
        s
        for s in series
        if (s.source, s.metric) in kinds
        and s.points
        and custom_metric_name(s.resource) is None  # another service's CPU is not this one's
        and (s.source != "cloudwatch" or (s.resource.startswith(ECS) and s.stat == "Average"))
    ]
    return min(found, key=rank) if found else None


# -- periods ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Period:
    """One server period ``[start, end)`` of the run: the client intervals whose middle falls in it,
    and each server series' value over it (the mean of its points whose middle falls in it, none
    longer than it)."""

    start: float
    end: float
    requests: int
    failures: int
    client_s: float  # the summed length of the client intervals assigned to this period
    p95_ms: float | None  # exact over the period's requests (merged histograms)
    users: int  # the most users in any of its intervals
    server: Mapping[SeriesRef, float] = field(default_factory=dict)

    @property
    def rps(self) -> float | None:
        """Requests per second over the client intervals assigned to the period."""
        return self.requests / self.client_s if self.client_s > 0 else None

    @property
    def error_rate(self) -> float | None:
        """Failed / all requests in the period."""
        return self.failures / self.requests if self.requests else None

    @property
    def coverage(self) -> float:
        """``client_s`` / the period's length: about 1 for a period inside the test."""
        length = self.end - self.start
        return self.client_s / length if length > 0 else 0.0

    @property
    def full(self) -> bool:
        """Whether the client timeline covers the whole period (``FULL_COVERAGE``)."""
        return FULL_COVERAGE[0] <= self.coverage <= FULL_COVERAGE[1]


def periods(
    timeline: Sequence[Interval],
    server: Sequence[Series],
    *,
    period_s: float,
    window: tuple[float, float] | None = None,
) -> tuple[Period, ...]:
    """The run cut into epoch-aligned periods of ``period_s`` (use the server's period: 60 s for
    CloudWatch), from the one holding the first interval's start to the one holding the last's end.

    Each client interval goes wholly to the period holding its middle (an interval longer than
    ``period_s`` leaves neighbours empty: pick a period at least as long as the intervals). Server
    values outside the client timeline (a pre-roll baseline) are not used, and a server point counts
    in the period holding its middle when its own period is no longer (``base.period_points``: an
    aligned CloudWatch point in its own minute; a process sample, which starts at whatever
    sub-second the sampler woke, in the 1 s period holding most of it). With ``window`` (the judged
    window), only the periods lying wholly inside it are kept, and only the server points lying
    wholly inside it: ramp-up, an excluded warm-up and idle time stay out of the correlation, the
    headroom and the CPU cost, as they stay out of the criteria.
    """
    if period_s <= 0:
        raise ValueError(f"period_s must be > 0, got {period_s}")
    if not timeline:
        return ()
    first = align_down(min(iv.start for iv in timeline), period_s)
    last = align_up(max(iv.end for iv in timeline), period_s)
    if window is not None:
        first = max(first, align_up(window[0], period_s))
        last = min(last, align_down(window[1], period_s))
        if last - first < period_s:
            return ()
    count = max(1, round((last - first) / period_s))
    buckets: list[list[Interval]] = [[] for _ in range(count)]
    for iv in timeline:
        k = math.floor(((iv.start + iv.end) / 2 - first) / period_s)
        if window is not None and not 0 <= k < count:
            continue
        buckets[min(max(k, 0), count - 1)].append(iv)
    out = []
    for k, group in enumerate(buckets):
        start = first + k * period_s
        end = start + period_s
        total = EndpointStats()
        for iv in group:
            total = total.merge(iv.total)
        values = {}
        for s in server:
            value = _mean_over(s, start, end, window=window)
            if value is not None:
                values[SeriesRef.of(s)] = value
        out.append(
            Period(
                start=start,
                end=end,
                requests=total.count,
                failures=total.failures,
                client_s=sum(max(0.0, iv.end - iv.start) for iv in group),
                p95_ms=total.quantile_ms(0.95),
                users=max((iv.users for iv in group), default=0),
                server=values,
            )
        )
    return tuple(out)


def _mean_over(
    series: Series, start: float, end: float, *, window: tuple[float, float] | None
) -> float | None:
    pts = period_points(series, start, end)
    if window is not None:  # a point reaching into ramp-up or idle time stays out, as in the criteria
        pts = tuple(p for p in pts if inside(p[0], series.period_s, *window))
    return statistics.fmean(v for _, v in pts) if pts else None


# -- headroom and CPU cost ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Headroom:
    """How far the load could rise before CPU reaches its limit, from a line CPU % = a + b * rps.

    ``rps_at_limit`` is None when there is no estimate; ``summary`` then says why. ``caveat`` is
    what a reader must keep in mind even when there is one.
    """

    cpu: SeriesRef
    cpu_limit_percent: float
    points: int  # full periods with CPU data the line was fitted through
    rps_at_limit: float | None
    summary: str
    caveat: str = ""
    slope_percent_per_rps: float | None = None
    intercept_percent: float | None = None
    rps_min: float | None = None
    rps_max: float | None = None
    residual_percent: float | None = None  # median absolute deviation of CPU from the line
    marginal_cpu_s_per_1000: float | None = None  # 10 * cores * slope: the CPU a further 1,000 requests cost
    saturated: bool = False  # the fitted line is above the limit even at zero load: no headroom

    @property
    def ratio_to_tested(self) -> float | None:
        """``rps_at_limit`` / the highest load tested: 2.0 means "twice today's peak"."""
        if self.rps_at_limit is None or not self.rps_max:
            return None
        return self.rps_at_limit / self.rps_max


def headroom(
    periods: Sequence[Period], *, cpu: SeriesRef, cpu_limit_percent: float, cores: float = 1.0
) -> Headroom:
    """Fit CPU % = a + b * rps (Theil-Sen) through the full periods with a value of ``cpu`` and give
    the rps at which the line reaches ``cpu_limit_percent``.

    Needs at least ``MIN_FIT_PERIODS`` such periods whose rps spread over at least
    ``MIN_RPS_SPREAD`` of the highest (load steps or a ramp); otherwise, or when CPU does not rise
    with load, ``rps_at_limit`` is None and ``summary`` says why. ``cores``: what 100 % of ``cpu``
    is in cores, for ``marginal_cpu_s_per_1000`` (see ``cpu_seconds_per_1000``).
    """
    pts = [(p.rps, p.server[cpu]) for p in periods if p.full and p.rps is not None and cpu in p.server]
    base = Headroom(cpu, cpu_limit_percent, len(pts), None, "")
    label = cpu.label
    if len(pts) < MIN_FIT_PERIODS:
        why = f"only {len(pts)} full periods with {label}: a fit needs at least {MIN_FIT_PERIODS}"
        return replace(base, summary=f"no headroom estimate: {why}")
    lo = min(x for x, _ in pts)
    hi = max(x for x, _ in pts)
    rng = f"{_rps(lo)}-{_rps(hi)}"
    if hi <= 0 or (hi - lo) < MIN_RPS_SPREAD * hi:
        why = (
            f"every period ran at about the same load ({rng}): a fit needs load steps or a ramp "
            f"spanning at least {MIN_RPS_SPREAD:.0%} of the highest rps"
        )
        return replace(base, summary=f"no headroom estimate: {why}", rps_min=lo, rps_max=hi)
    fit = theil_sen(pts)
    if fit is None:  # unreachable with a spread > 0, kept for the type checker
        return replace(base, summary="no headroom estimate: no line through the periods")
    residual = statistics.median(abs(y - (fit.intercept + fit.slope * x)) for x, y in pts)
    fitted = replace(
        base,
        slope_percent_per_rps=fit.slope,
        intercept_percent=fit.intercept,
        rps_min=lo,
        rps_max=hi,
        residual_percent=residual,
        marginal_cpu_s_per_1000=10.0 * cores * fit.slope,
    )
    lim = format_value(cpu_limit_percent, "percent")
    if fit.slope <= 0:
        why = f"{label} does not rise with load over {rng} (slope {fit.slope:.3g} % per rps)"
        return replace(fitted, summary=f"no headroom estimate: {why}")
    at = (cpu_limit_percent - fit.intercept) / fit.slope
    line = f"{label} = {fit.intercept:.1f} % + {fit.slope:.3g} % per rps"
    over = f"line through {len(pts)} periods at {rng}: {line}"
    if at <= 0:
        # The line is above the limit from zero load upwards: an rps "at the limit" would be
        # negative, which says nothing a reader can use. There is no headroom on this line.
        summary = f"no headroom: the fitted {label} is above {lim} even at zero load ({over})"
        return replace(fitted, summary=summary, saturated=True)
    if at > MAX_EXTRAPOLATION * hi:
        summary = (
            f"no headroom estimate: the run did not vary the load enough to estimate headroom: the line "
            f"through {rng} would reach {lim} only at {at / hi:.0f}x the highest tested load, far outside "
            f"the data (test up to {MAX_EXTRAPOLATION:g}x the load, or read the CPU cost per 1,000 requests)"
        )
        return replace(fitted, summary=summary)
    if at <= hi:
        summary = f"{label} reaches {lim} at about {_rps(at)}, within the tested load ({over})"
    else:
        summary = (
            f"{label} would reach {lim} at about {_rps(at)}, {at / hi:.1f}x the highest tested load ({over})"
        )
    return replace(fitted, rps_at_limit=at, summary=summary, caveat=_caveat(at, hi, residual))


def _caveat(at: float, hi: float, residual: float) -> str:
    text = (
        "A straight line through the tested loads. Services are rarely linear near saturation "
        "(queueing, garbage collection, CPU throttling), and the database, a connection pool or a "
        "downstream service may give out before CPU does: read it as an upper bound and test at that load"
    )
    if residual > 0:
        text += f"; CPU scatters about {residual:.1f} percentage points around the line"
    return text + "."


def _rps(x: float) -> str:
    return format_value(x, "rps")


def cpu_seconds_per_1000(periods: Sequence[Period], *, cpu: SeriesRef, cores: float = 1.0) -> float | None:
    """CPU-seconds the server spent per 1,000 requests, over the full periods with a ``cpu`` value:
    ``sum(cpu % / 100 * cores * period length) / sum(requests) * 1000``.

    ``cores`` says what 100 % is: 1 for the local process (100 = one core); for ECS CPUUtilization
    (percent of the CPU the service's tasks reserve) the reserved vCPUs of all running tasks, e.g.
    4 tasks of 0.5 vCPU = 2; left at 1 the figure is "reservation-seconds". Idle CPU counts too (this
    is the average cost; ``Headroom.marginal_cpu_s_per_1000`` is the cost of one more thousand).
    None without requests in such periods.
    """
    if cores <= 0:
        raise ValueError(f"cores must be > 0, got {cores}")
    used = [p for p in periods if p.full and cpu in p.server]
    requests = sum(p.requests for p in used)
    if not requests:
        return None
    cpu_s = sum(p.server[cpu] / 100.0 * cores * (p.end - p.start) for p in used)
    return cpu_s / requests * 1000.0
