"""The run as Prometheus text (exposition format 0.0.4), rendered at scrape or push time.

The names and labels are a contract (docs/exporters.md, "Prometheus names" in the architecture).
Everything is derived from the frozen LiveState handed in; nothing is touched per request.

Why not prometheus_client's metric families and ``generate_latest``: with 200 endpoints a scrape
has ~5,000 samples, and the library's generic encoder (which re-validates and re-escapes every
label name of every sample) spent 35-70 ms on them alone, against a budget of 20 ms for the whole
scrape (tests/bench/bench_scrape.py). Here the label part of each series is escaped once, cached
per label set (bounded by the label caps), and a sample is one string concatenation. The output
is checked against prometheus_client's parser and ``promtool check metrics`` in the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client.utils import floatToGoString

from exporters.buckets import CoarseBuckets
from exporters.cardinality import LabelFolder
from runner.model import LiveState, Status
from runner.readings import custom_metric_name

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATUS_VALUES = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2, Status.INCONCLUSIVE: 3}

REQUESTS = "loadlens_requests_total"
DURATION = "loadlens_request_duration_seconds"
USERS = "loadlens_users"
RUN_INFO = "loadlens_run_info"
CRITERION = "loadlens_criterion_status"
SERVER = "loadlens_server_metric"
SERVER_MISSING = "loadlens_server_metric_missing"
OVERFLOW = "loadlens_exporter_overflow_requests_total"
FOLDED = "loadlens_exporter_folded_label_sets"
SCRAPES = "loadlens_exporter_scrapes_total"
SCRAPE_ERRORS = "loadlens_exporter_scrape_errors_total"
SCRAPE_DURATION = "loadlens_exporter_scrape_duration_seconds"

# (name, type, help) of every family, in exposition order.
FAMILIES: tuple[tuple[str, str, str], ...] = (
    (REQUESTS, "counter", "Requests sent, by endpoint, method, HTTP status (0: no response) and result."),
    (
        DURATION,
        "histogram",
        "Request latency; _count and _sum are exact, each le bound within one 1% fine bucket.",
    ),
    (USERS, "gauge", "Simulated users running now."),
    (RUN_INFO, "gauge", "The run this process reports (always 1)."),
    (
        CRITERION,
        "gauge",
        "Each criterion judged on the running window: 0 pass, 1 warn, 2 fail, 3 inconclusive.",
    ),
    (SERVER, "gauge", "Latest point of each server-side series (CloudWatch, Prometheus, process)."),
    (
        SERVER_MISSING,
        "gauge",
        "1 per server metric the latest poll got no data for; the reason is in summary.json server.missing.",
    ),
    (OVERFLOW, "counter", 'Requests reported under endpoint="(other)" because of a name cap.'),
    (FOLDED, "gauge", "Label values folded away by this exporter's caps: endpoint names, status codes."),
    (SCRAPES, "counter", "Scrapes of this /metrics endpoint served so far."),
    (SCRAPE_ERRORS, "counter", "Scrapes that failed to read the run's state."),
    (SCRAPE_DURATION, "gauge", "Time the previous scrape took to read, render and answer, in seconds."),
)
_HEADER = {name: f"# HELP {name} {text}\n# TYPE {name} {kind}\n" for name, kind, text in FAMILIES}
_CACHE_LIMIT = 20_000  # label strings kept; far above what the caps allow, a guard not a tuning knob

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ScrapeHealth:
    """The /metrics endpoint's own health, as of the previous scrape."""

    scrapes: int
    errors: int
    last_duration_s: float | None


def escape(value: str) -> str:
    """A label value as the text format wants it: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 2**53):
        return str(int(value))
    return floatToGoString(value)


class TextExposition:
    """Renders LiveStates as exposition text; one per exporter (it owns the label caps and caches)."""

    def __init__(self, folder: LabelFolder, *, buckets: CoarseBuckets | None = None) -> None:
        self._folder = folder
        self._buckets = buckets or CoarseBuckets()
        self._le = [floatToGoString(b) for b in self._buckets.bounds_s] + ["+Inf"]
        # (run_id, method, endpoint) -> the escaped label text of that series, and derived prefixes.
        self._series: dict[tuple[str, str, str], tuple[str, tuple[str, ...], str, str]] = {}
        self._counters: dict[tuple[str, str, str, str, str], str] = {}

    def render(self, state: LiveState, *, health: ScrapeHealth | None = None) -> bytes:
        """The whole exposition for ``state`` (plus the endpoint's own health when scraped)."""
        run_id = state.info.run_id
        rid = f'run_id="{escape(run_id)}"'
        folded = self._folder.fold(state.cumulative)
        out: list[str] = [_HEADER[REQUESTS]]
        histograms: list[str] = [_HEADER[DURATION]]
        cumulative = self._buckets.cumulative
        for row in folded.rows:
            stats = row.stats
            labels, bucket_prefixes, sum_prefix, count_prefix = self._series_prefixes(
                run_id, row.method, row.endpoint
            )
            for sc in self._folder.statuses(stats):
                out += (
                    self._counter_prefix(run_id, row.method, row.endpoint, sc.status, sc.result, labels),
                    str(sc.n),
                    "\n",
                )
            cum = cumulative(stats.histogram)
            cum.append(stats.count)
            for prefix, n in zip(bucket_prefixes, cum, strict=True):
                histograms += (prefix, str(n), "\n")
            histograms += (
                sum_prefix,
                _number(stats.sum_ms / 1000.0),
                "\n",
                count_prefix,
                str(stats.count),
                "\n",
            )
        out += histograms

        out += (_HEADER[USERS], f"{USERS}{{{rid}}} {_number(state.users)}\n")
        info = state.info
        out += (
            _HEADER[RUN_INFO],
            f'{RUN_INFO}{{{rid},scenario="{escape(info.scenario)}",host="{escape(info.host)}"}} 1\n',
        )
        out.append(_HEADER[CRITERION])
        for result in _last_per_key(state.results, lambda r: r.name):
            out.append(
                f'{CRITERION}{{{rid},criterion="{escape(result.name)}"}} {STATUS_VALUES[result.status]}\n'
            )
        out.append(_HEADER[SERVER])
        for series in _last_per_key(state.server, lambda s: (s.source, s.resource, s.metric, s.stat)):
            if series.points:
                out.append(
                    f'{SERVER}{{{rid},source="{escape(series.source)}",resource="{escape(series.resource)}",'
                    f'metric="{escape(series.metric)}",stat="{escape(series.stat)}"'
                    f"{_named(series.resource)}}} "
                    f"{_number(series.points[-1][1])}\n"
                )
        out.append(_HEADER[SERVER_MISSING])
        for m in _last_per_key(state.server_missing, lambda m: (m.source, m.resource, m.metric, m.stat)):
            out.append(
                f'{SERVER_MISSING}{{{rid},source="{escape(m.source)}",resource="{escape(m.resource)}",'
                f'metric="{escape(m.metric)}",stat="{escape(m.stat)}"{_named(m.resource)}}} 1\n'
            )
        out += (
            _HEADER[OVERFLOW],
            f"{OVERFLOW}{{{rid}}} {folded.overflow_requests}\n",
            _HEADER[FOLDED],
            f'{FOLDED}{{{rid},kind="endpoint"}} {folded.folded_names}\n',
            f'{FOLDED}{{{rid},kind="status"}} {self._folder.folded_status_codes}\n',
        )
        if health is not None:
            out += (
                _HEADER[SCRAPES],
                f"{SCRAPES}{{{rid}}} {health.scrapes}\n",
                _HEADER[SCRAPE_ERRORS],
                f"{SCRAPE_ERRORS}{{{rid}}} {health.errors}\n",
            )
            if health.last_duration_s is not None:
                out += (
                    _HEADER[SCRAPE_DURATION],
                    f"{SCRAPE_DURATION}{{{rid}}} {_number(health.last_duration_s)}\n",
                )
        return "".join(out).encode("utf-8")

    def _series_prefixes(
        self, run_id: str, method: str, endpoint: str
    ) -> tuple[str, tuple[str, ...], str, str]:
        key = (run_id, method, endpoint)
        cached = self._series.get(key)
        if cached is None:
            if len(self._series) >= _CACHE_LIMIT:
                self._series.clear()
            labels = f'run_id="{escape(run_id)}",endpoint="{escape(endpoint)}",method="{escape(method)}"'
            buckets = tuple(f'{DURATION}_bucket{{{labels},le="{le}"}} ' for le in self._le)
            cached = (labels, buckets, f"{DURATION}_sum{{{labels}}} ", f"{DURATION}_count{{{labels}}} ")
            self._series[key] = cached
        return cached

    def _counter_prefix(
        self, run_id: str, method: str, endpoint: str, status: str, result: str, labels: str
    ) -> str:
        key = (run_id, method, endpoint, status, result)
        prefix = self._counters.get(key)
        if prefix is None:
            if len(self._counters) >= _CACHE_LIMIT:
                self._counters.clear()
            prefix = f'{REQUESTS}{{{labels},status="{escape(status)}",result="{result}"}} '
            self._counters[key] = prefix
        return prefix


def _last_per_key(items: Iterable[T], key: Callable[[T], Hashable]) -> Iterator[T]:
    """Last one wins for duplicate label sets (an exposition must never repeat a series)."""
    seen: dict[Hashable, T] = {}
    for item in items:
        seen[key(item)] = item
    return iter(seen.values())


def _named(resource: str) -> str:
    """The ``name`` label of a [[server.metrics]] series (its criterion's name); none for the rest."""
    name = custom_metric_name(resource)
    return "" if name is None else f',name="{escape(name)}"'
