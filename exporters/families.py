"""Prometheus metric families built from one LiveState, at scrape (or push) time.

The names and labels are a contract (docs/exporters.md, docs/architecture.md "Prometheus names").
Everything is derived from the frozen state handed in; nothing here is touched per request.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

from exporters.buckets import CoarseBuckets
from exporters.cardinality import LabelFolder
from runner.model import LiveState, Status

T = TypeVar("T")

STATUS_VALUES = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2, Status.INCONCLUSIVE: 3}

REQUESTS = "loadlens_requests"  # exposed as loadlens_requests_total
DURATION = "loadlens_request_duration_seconds"
USERS = "loadlens_users"
RUN_INFO = "loadlens_run_info"
CRITERION = "loadlens_criterion_status"
SERVER = "loadlens_server_metric"
OVERFLOW = "loadlens_exporter_overflow_requests"  # exposed with _total
FOLDED = "loadlens_exporter_folded_label_sets"
SCRAPE_DURATION = "loadlens_exporter_scrape_duration_seconds"
SCRAPES = "loadlens_exporter_scrapes"  # exposed with _total
SCRAPE_ERRORS = "loadlens_exporter_scrape_errors"  # exposed with _total


@dataclass(frozen=True, slots=True)
class ScrapeHealth:
    """The /metrics endpoint's own health, as of the previous scrape."""

    scrapes: int
    errors: int
    last_duration_s: float | None


class FamilyBuilder:
    """Turns LiveStates into metric families; one per exporter (it owns the label caps)."""

    def __init__(self, folder: LabelFolder, *, buckets: CoarseBuckets | None = None) -> None:
        self._folder = folder
        self._buckets = buckets or CoarseBuckets()
        self._le = [floatToGoString(b) for b in self._buckets.bounds_s] + ["+Inf"]

    def build(self, state: LiveState, *, health: ScrapeHealth | None = None) -> list[Metric]:
        """Every family for ``state`` (and the endpoint's health, for a scraped exporter)."""
        run_id = state.info.run_id
        folded = self._folder.fold(state.cumulative)
        requests = CounterMetricFamily(
            REQUESTS,
            "Requests sent, by endpoint, method, HTTP status (0: no response) and result.",
            labels=("run_id", "endpoint", "method", "status", "result"),
        )
        duration = HistogramMetricFamily(
            DURATION,
            "Request latency; _count and _sum are exact, each le bound within one 1% fine bucket.",
            labels=("run_id", "endpoint", "method"),
        )
        le = self._le
        cumulative = self._buckets.cumulative
        for row in folded.rows:
            stats = row.stats
            for sc in self._folder.statuses(stats):
                requests.add_metric((run_id, row.endpoint, row.method, sc.status, sc.result), sc.n)
            cum = cumulative(stats.histogram)
            cum.append(stats.count)
            duration.add_metric(
                (run_id, row.endpoint, row.method),
                buckets=list(zip(le, cum, strict=True)),
                sum_value=stats.sum_ms / 1000.0,
            )
        out: list[Metric] = [requests, duration]

        users = GaugeMetricFamily(USERS, "Simulated users running now.", labels=("run_id",))
        users.add_metric((run_id,), state.users)
        info = GaugeMetricFamily(
            RUN_INFO, "The run this process reports (always 1).", labels=("run_id", "scenario", "host")
        )
        info.add_metric((run_id, state.info.scenario, state.info.host), 1)
        out += [users, info]

        criterion = GaugeMetricFamily(
            CRITERION,
            "Each criterion judged on the running window: 0 pass, 1 warn, 2 fail, 3 inconclusive.",
            labels=("run_id", "criterion"),
        )
        for result in _unique(state.results, key=lambda r: r.name):
            criterion.add_metric((run_id, result.name), STATUS_VALUES[result.status])
        out.append(criterion)

        server = GaugeMetricFamily(
            SERVER,
            "Latest point of each server-side series (CloudWatch, Prometheus, process).",
            labels=("run_id", "source", "resource", "metric", "stat"),
        )
        for series in _unique(state.server, key=lambda s: (s.source, s.resource, s.metric, s.stat)):
            if series.points:
                server.add_metric(
                    (run_id, series.source, series.resource, series.metric, series.stat), series.points[-1][1]
                )
        out.append(server)

        overflow = CounterMetricFamily(
            OVERFLOW, 'Requests reported under endpoint="(other)" because of a name cap.', labels=("run_id",)
        )
        overflow.add_metric((run_id,), folded.overflow_requests)
        dropped = GaugeMetricFamily(
            FOLDED,
            "Label values folded away by this exporter's caps: endpoint names, status codes.",
            labels=("run_id", "kind"),
        )
        dropped.add_metric((run_id, "endpoint"), folded.folded_names)
        dropped.add_metric((run_id, "status"), self._folder.folded_status_codes)
        out += [overflow, dropped]

        if health is not None:
            out += _health(run_id, health)
        return out

    @staticmethod
    def describe(*, health: bool) -> list[Metric]:
        """Empty families naming everything ``build`` yields (so ``?name[]=`` filters work)."""
        names: list[Metric] = [
            CounterMetricFamily(REQUESTS, ""),
            HistogramMetricFamily(DURATION, ""),
            GaugeMetricFamily(USERS, ""),
            GaugeMetricFamily(RUN_INFO, ""),
            GaugeMetricFamily(CRITERION, ""),
            GaugeMetricFamily(SERVER, ""),
            CounterMetricFamily(OVERFLOW, ""),
            GaugeMetricFamily(FOLDED, ""),
        ]
        if health:
            names += [
                GaugeMetricFamily(SCRAPE_DURATION, ""),
                CounterMetricFamily(SCRAPES, ""),
                CounterMetricFamily(SCRAPE_ERRORS, ""),
            ]
        return names


def _health(run_id: str, health: ScrapeHealth) -> list[Metric]:
    scrapes = CounterMetricFamily(
        SCRAPES, "Scrapes of this /metrics endpoint served so far.", labels=("run_id",)
    )
    scrapes.add_metric((run_id,), health.scrapes)
    errors = CounterMetricFamily(
        SCRAPE_ERRORS, "Scrapes that failed to read the run's state.", labels=("run_id",)
    )
    errors.add_metric((run_id,), health.errors)
    out: list[Metric] = [scrapes, errors]
    if health.last_duration_s is not None:
        took = GaugeMetricFamily(
            SCRAPE_DURATION,
            "Time the previous scrape took to build and encode, in seconds.",
            labels=("run_id",),
        )
        took.add_metric((run_id,), health.last_duration_s)
        out.append(took)
    return out


def _unique(items: Iterable[T], key: Callable[[T], Hashable]) -> Iterator[T]:
    """Last one wins for duplicate label sets (a scrape must never repeat a series)."""
    seen: dict[Hashable, T] = {}
    for item in items:
        seen[key(item)] = item
    return iter(seen.values())
