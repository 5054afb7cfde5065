"""The contract every server-metric source meets, and the plain data it answers with.

A source is asked for a time span and answers with what it found (``SourceResult.series``) and,
one entry per metric, what it could not find and why (``SourceResult.missing``). Every metric a
source was configured to read appears exactly once, in one of the two: the criteria turn a
``Missing`` into an INCONCLUSIVE row with its reason, never into a pass. A source that cannot
answer at all (no credentials, endpoint down, unknown resource) raises a ``runner.errors.SourceError``
subclass; it never returns made-up data.

Sources may answer with points before ``start`` (CloudWatch's idle baseline, the pre-roll): use
``window_points`` and ``baseline_points`` to separate them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from runner.readings import Missing, Series
from runner.timefmt import format_span


@dataclass(frozen=True, slots=True)
class SourceResult:
    """What one ``fetch`` found: series with points, metrics without (each with a reason), and
    notes for the user about what was read (e.g. a query's series were capped)."""

    series: tuple[Series, ...] = ()
    missing: tuple[Missing, ...] = ()
    notes: tuple[str, ...] = ()

    def find(self, *, metric: str, resource_prefix: str = "", stat: str | None = None) -> tuple[Series, ...]:
        """The series of ``metric`` whose resource starts with ``resource_prefix`` (and of ``stat``)."""
        return tuple(
            s
            for s in self.series
            if s.metric == metric
            and s.resource.startswith(resource_prefix)
            and (stat is None or s.stat == stat)
        )

    def find_missing(
        self, *, metric: str, resource_prefix: str = "", stat: str | None = None
    ) -> tuple[Missing, ...]:
        """The missing entries of ``metric`` whose resource starts with ``resource_prefix``."""
        return tuple(
            m
            for m in self.missing
            if m.metric == metric
            and m.resource.startswith(resource_prefix)
            and (stat is None or m.stat == stat)
        )

    def merge(self, other: SourceResult) -> SourceResult:
        """Both results together (e.g. two sources feeding one verdict)."""
        return SourceResult(
            series=self.series + other.series,
            missing=self.missing + other.missing,
            notes=self.notes + other.notes,
        )


@runtime_checkable
class MetricSource(Protocol):
    """A server-metric source: CloudWatch, Prometheus, the local process.

    ``fetch(start, end)`` (epoch seconds) answers with every configured metric over at least that
    span, as series or as missing entries. It blocks on I/O: call it off the load loop (from a
    greenlet when the I/O is gevent-patched sockets, from a real OS thread for blocking C calls).
    It raises ``SourceError`` (or a subclass) when it cannot answer at all.
    """

    @property
    def name(self) -> str:
        """The source's short name, as in ``Series.source``: "cloudwatch", "prometheus", "process"."""
        ...

    def fetch(self, start: float, end: float) -> SourceResult:
        """Every configured metric between ``start`` and ``end`` (epoch seconds)."""
        ...


@runtime_checkable
class SettlingSource(Protocol):
    """A source that publishes late (CloudWatch) and can wait for its last period: an optional
    ability beside ``MetricSource``, checked with ``isinstance``."""

    def wait_settled(
        self,
        start: float,
        end: float,
        *,
        settle_s: float,
        poll_s: float = ...,
        on_progress: Callable[[Any], None] | None = None,
    ) -> SourceResult:
        """Fetch until every regularly published metric has its last period, or ``settle_s`` ran out."""
        ...


def overlaps(t: float, period_s: float, start: float, end: float) -> bool:
    """Whether the period that begins at ``t`` overlaps ``[start, end)``.

    A point's timestamp is the start of the period it aggregates (CloudWatch, our own sampling).
    """
    return t < end and t + period_s > start


_EPSILON_S = 1e-6  # float slack on period bounds


def inside(t: float, period_s: float, start: float, end: float) -> bool:
    """Whether the period that begins at ``t`` lies wholly inside ``[start, end]``."""
    return t >= start - _EPSILON_S and t + period_s <= end + _EPSILON_S


def window_points(series: Series, start: float, end: float) -> tuple[tuple[float, float], ...]:
    """The points of ``series`` whose whole period lies inside ``[start, end]``: the judged window.

    A period that reaches outside the window is left out: its average would mix ramp-up, an
    excluded warm-up or idle time into the steady state (a 50 s steady state at 90 % inside a
    60 s period reads 75 %, or less with idle time). ``partial_points`` gives what was left out.
    """
    return tuple(p for p in series.points if inside(p[0], series.period_s, start, end))


def partial_points(series: Series, start: float, end: float) -> tuple[tuple[float, float], ...]:
    """The points whose period overlaps ``[start, end)`` without lying wholly inside it."""
    return tuple(
        p
        for p in series.points
        if overlaps(p[0], series.period_s, start, end) and not inside(p[0], series.period_s, start, end)
    )


def first_no_whole_period(
    series: Iterable[Series], start: float, end: float, *, run_s: float | None = None
) -> str | None:
    """``no_whole_period`` of the first of ``series`` that has one (the reason a row has nothing)."""
    return next((why for s in series if (why := no_whole_period(s, start, end, run_s=run_s))), None)


def no_whole_period(series: Series, start: float, end: float, *, run_s: float | None = None) -> str | None:
    """Why ``series`` has nothing to judge in ``[start, end]`` although it has points there: the
    window holds no whole period. The reason names the window, the period and the remedy (a run
    long enough to hold one whatever the alignment: twice the period, plus what the run spends
    outside its window). None when the series has a whole period inside, or no point near it."""
    if window_points(series, start, end) or not partial_points(series, start, end):
        return None
    period = series.period_s
    window_s = max(0.0, end - start)
    outside_s = max(0.0, (run_s or window_s) - window_s)
    need = format_span(2 * period + outside_s)
    title = {"cloudwatch": "CloudWatch", "prometheus": "Prometheus", "process": "process"}.get(
        series.source, series.source
    )
    finer = {
        "cloudwatch": "or use 1 s/10 s high-resolution metrics",
        "prometheus": "or a shorter step",
        "process": "or a shorter sampling interval",
    }.get(series.source, "or a shorter period")
    return (
        f"the steady window ({format_span(window_s)}) holds no whole {period:g} s {title} period: "
        f"run at least {need}, {finer}"
    )


def baseline_points(series: Series, start: float) -> tuple[tuple[float, float], ...]:
    """The points of ``series`` whose period ends at or before ``start``: the idle baseline."""
    return tuple(p for p in series.points if p[0] + series.period_s <= start)


def align_down(t: float, period_s: float) -> float:
    """``t`` rounded down to a multiple of ``period_s`` (epoch-aligned, as CloudWatch aligns)."""
    return math.floor(t / period_s) * period_s


def align_up(t: float, period_s: float) -> float:
    """``t`` rounded up to a multiple of ``period_s``."""
    return math.ceil(t / period_s) * period_s


def describe_series(series: Series) -> str:
    """A one-line name for a series: source, resource, metric and statistic."""
    return f"{series.source} {series.resource} {series.metric} ({series.stat})"
