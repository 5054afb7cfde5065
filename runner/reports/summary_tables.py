"""summary.json's types, one table of fields each: what is written for a type and how it is read
back are the same lines (``runner/reports/fields.py`` walks them both ways).

Derived fields (rates, percentiles, a series' min/mean/max) are written for readers and recomputed
from the histograms and points when a summary is judged again, never read.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from typing import Any

from runner.model import EndpointKey, EndpointStats, GroupKey, Interval, Result, RunShape, Snapshot, Status
from runner.readings import Missing, Series
from runner.reports.fields import (
    OMIT,
    OPT_NUMBER,
    Field,
    FieldError,
    Table,
    by_code,
    derived,
    exact,
    finite,
    get,
    is_number,
    ms,
    rate,
    read_codes,
    read_nan,
    read_pairs,
    read_strings,
    read_time,
    sig,
    time_field,
)
from runner.stats.histogram import RELATIVE_ACCURACY, Histogram
from runner.timefmt import iso_utc, quantize_s

HISTOGRAM_SCHEME = "log"
_QUANTILES = (("p50_ms", 0.50), ("p90_ms", 0.90), ("p95_ms", 0.95), ("p99_ms", 0.99))


# -- the types ----------------------------------------------------------------------
def read_status(value: str, where: str) -> Status:
    """A criterion's or the verdict's status word, or a FieldError listing the words there are."""
    try:
        return Status(value)
    except ValueError as err:
        choices = ", ".join(s.value for s in Status)
        raise FieldError(f"{where} is {value!r}, not one of {choices}") from err


def _write_histogram(hist: Histogram) -> dict[str, Any]:
    return {"scheme": HISTOGRAM_SCHEME, "relative_accuracy": RELATIVE_ACCURACY, "buckets": hist.pairs()}


def _read_histogram(hist: dict[str, Any], where: str) -> Histogram:
    if hist.get("scheme") != HISTOGRAM_SCHEME or hist.get("relative_accuracy") != RELATIVE_ACCURACY:
        raise FieldError(
            f"{where} is {hist.get('scheme')!r} at {hist.get('relative_accuracy')!r}, not"
            f" {HISTOGRAM_SCHEME!r} at {RELATIVE_ACCURACY}: its buckets cannot be read"
        )
    return Histogram.from_pairs(read_pairs(get(hist, "buckets", list, where), f"{where}.buckets"))


def _status_histograms(stats: EndpointStats, context: Mapping[str, Any]) -> Any:
    # Only where asked (timeline points leave them out) and when there were non-2xx responses.
    if not context.get("per_status", True) or not stats.status_histograms:
        return OMIT
    return {str(code): stats.status_histograms[code].pairs() for code in sorted(stats.status_histograms)}


def _read_status_histograms(by_code: dict[str, Any], where: str) -> dict[int, Histogram]:
    out: dict[int, Histogram] = {}
    for code, pairs in by_code.items():
        if not code.isdigit():
            raise FieldError(f"{where} should be keyed by HTTP status codes")
        out[int(code)] = Histogram.from_pairs(read_pairs(pairs, f"{where}.{code}"))
    return out


def _quantile(q: float) -> Callable[[EndpointStats, Mapping[str, Any]], float | None]:
    return lambda stats, _context: ms(stats.quantile_ms(q))


# One ENDPOINT object: counts, rates, latency summary and the sparse histogram (context:
# ``duration_s`` for the rate; ``per_status`` False leaves the non-2xx histograms out).
ENDPOINT: Table[EndpointStats] = Table(
    EndpointStats,
    (
        Field("requests", int, attr="count"),
        Field("failures", int),
        Field("expected", int),
        derived("error_rate", lambda stats, _context: sig(stats.error_rate)),
        derived("rps", lambda stats, context: rate(stats.count, context.get("duration_s"))),
        derived("mean_ms", lambda stats, _context: ms(stats.mean_ms)),
        # Exact too: a percentile beyond them is clamped to them, so re-judging needs the same value.
        Field("min_ms", OPT_NUMBER, write=exact),
        Field("max_ms", OPT_NUMBER, write=exact),
        *(derived(key, _quantile(q)) for key, q in _QUANTILES),
        # Exact (not rounded) so that the mean of a summary read back is the same mean.
        Field("sum_ms", OPT_NUMBER, write=finite, read=read_nan),
        Field("bytes", int),
        Field("statuses", dict, write=by_code, read=read_codes),
        Field("failed_statuses", dict, write=by_code, read=read_codes),
        Field("histogram", dict, write=_write_histogram, read=_read_histogram),
        # Absent when there were no non-2xx responses, and in older summaries.
        Field("status_histograms", dict, dump=_status_histograms, read=_read_status_histograms, absent={}),
    ),
)

KEY: Table[EndpointKey] = Table(EndpointKey, (Field("method", str), Field("name", str)))

# One judged criterion, in the user's words, with what was observed and why it has its status.
RESULT: Table[Result] = Table(
    Result,
    (
        Field("name", str),
        Field("criterion", str),
        Field("observed", OPT_NUMBER, write=sig),
        Field("limit", OPT_NUMBER, write=sig),
        Field("unit", str),
        Field("status", str, write=lambda status: status.value, read=read_status),
        Field("reason", str),
        Field("scope", str),
        Field("required", bool),
        Field("details", dict, write=lambda details: _jsonable(details)),
    ),
)

# One server metric a source was asked for and could not answer, with the reason.
MISSING: Table[Missing] = Table(
    Missing,
    (
        *(Field(key, str) for key in ("source", "resource", "metric", "stat", "what", "reason")),
        # Read as truthiness, absent as False, as older summaries have them.
        Field("sparse", (bool, object), read=lambda value, _where: bool(value), absent=False),
        Field("failed", (bool, object), read=lambda value, _where: bool(value), absent=False),
        # missing = "zero" metrics only: whether CloudWatch lists it, and the period counted as 0.
        Field(
            "exists",
            (bool, object),
            dump=lambda m, _c: OMIT if m.exists is None else m.exists,
            read=lambda value, _where: None if value is None else bool(value),
            absent=None,
        ),
        Field(
            "period_s", OPT_NUMBER, dump=lambda m, _c: OMIT if m.period_s is None else m.period_s, absent=None
        ),
    ),
)

_SERIES_ID = tuple(Field[Series](key, str) for key in ("source", "resource", "metric", "stat", "unit"))


def _finite_points(series: Series) -> list[tuple[float, float]]:
    return [(t, v) for t, v in series.points if math.isfinite(v)]


def _read_points(points: list[Any], where: str) -> tuple[tuple[float, float], ...]:
    out = []
    for i, point in enumerate(points):
        if not (isinstance(point, list) and len(point) == 2 and is_number(point[1])):
            raise FieldError(f"{where}[{i}] should be [time, number]")
        out.append((read_time(point[0], f"{where}[{i}]"), point[1]))
    return tuple(out)


# One server metric over time; points with no finite value (NaN) are left out, not invented.
SERIES: Table[Series] = Table(
    Series,
    (
        *_SERIES_ID,
        Field("period_s", OPT_NUMBER, write=finite, read=read_nan),
        Field(
            "points",
            list,
            dump=lambda series, _context: [[iso_utc(t), v] for t, v in _finite_points(series)],
            read=_read_points,
        ),
    ),
)


_SUMMARY_STATS: Mapping[str, Callable[[list[float]], float | None]] = {
    "min": min,
    "mean": lambda values: sig(math.fsum(values) / len(values)),
    "max": max,
    "last": lambda values: values[-1],
}


def _summary_of(stat: Callable[[list[float]], float | None]) -> Callable[[Series, Mapping[str, Any]], Any]:
    def value(series: Series, _context: Mapping[str, Any]) -> float | None:
        values = [v for _t, v in _finite_points(series)]
        return stat(values) if values else None

    return value


# min, mean, max and last of one series over the run (nulls when it has no points); written only.
SERIES_SUMMARY: Table[Series] = Table(
    Series,
    (
        *_SERIES_ID,
        *(derived(key, _summary_of(stat)) for key, stat in _SUMMARY_STATS.items()),
        derived("points", lambda series, _context: len(_finite_points(series))),
    ),
)


def _digest(interval: Interval, _context: Mapping[str, Any]) -> list[dict[str, Any]]:
    keys = sorted(set(interval.endpoint_counts) | set(interval.endpoint_p95_ms))
    out = []
    for key in keys:
        count, failures = interval.endpoint_counts.get(key, (0, 0))
        p95 = ms(interval.endpoint_p95_ms.get(key))
        row = {**KEY.dump(key), "requests": count, "failures": failures, "p95_ms": p95}
        # p50/p99 (runner.compare judges them per period), left out when unknown (older summaries).
        for name, values in (("p50_ms", interval.endpoint_p50_ms), ("p99_ms", interval.endpoint_p99_ms)):
            if key in values:
                row[name] = ms(values[key])
        out.append(row)
    return out


_Digest = tuple[
    dict[EndpointKey, tuple[int, int]],
    dict[EndpointKey, float],
    dict[EndpointKey, float],
    dict[EndpointKey, float],
]


def _read_digest(rows: list[Any], where: str) -> _Digest:
    counts: dict[EndpointKey, tuple[int, int]] = {}
    p95: dict[EndpointKey, float] = {}
    p50: dict[EndpointKey, float] = {}
    p99: dict[EndpointKey, float] = {}
    for i, row in enumerate(rows):
        at_row = f"{where}[{i}]"
        key = KEY.load(row, at_row)
        counts[key] = (get(row, "requests", int, at_row), get(row, "failures", int, at_row))
        for name, values in (("p95_ms", p95), ("p50_ms", p50), ("p99_ms", p99)):
            if name == "p95_ms" or name in row:
                value = get(row, name, OPT_NUMBER, at_row)
                if value is not None:
                    values[key] = value
    return counts, p95, p50, p99


def _interval(*, start: float, end: float, users: int, total: EndpointStats, digest: _Digest) -> Interval:
    counts, p95, p50, p99 = digest
    return Interval(
        start,
        end,
        users,
        total,
        endpoint_p95_ms=p95,
        endpoint_counts=counts,
        endpoint_p50_ms=p50,
        endpoint_p99_ms=p99,
    )


# One timeline point: an ENDPOINT over ``[start, end)`` plus users and a per-endpoint digest.
INTERVAL: Table[Interval] = Table(
    _interval,
    (
        time_field("start"),
        time_field("end"),
        Field("users", int),
        Field(
            "",
            dict,
            attr="total",
            embed=True,
            dump=lambda i, _context: ENDPOINT.dump(
                i.total, {"duration_s": duration_s(i.start, i.end), "per_status": False}
            ),
            read=lambda obj, where: ENDPOINT.load(obj, where),
        ),
        Field("endpoints", list, attr="digest", dump=_digest, read=_read_digest),
    ),
)


def _snapshot_total(snapshot: Snapshot, context: Mapping[str, Any]) -> dict[str, Any]:
    # The total is merged in the order the endpoints are written (not Snapshot.total()'s order),
    # so a summary read back adds the same floats in the same order and gets the same sum_ms.
    total = EndpointStats()
    for _key, stats in sorted(snapshot.endpoints.items()):
        total = total.merge(stats)
    return ENDPOINT.dump(total, context)


def _read_endpoints(rows: list[Any], where: str) -> dict[EndpointKey, EndpointStats]:
    return {KEY.load(row, f"{where}[{i}]"): ENDPOINT.load(row, f"{where}[{i}]") for i, row in enumerate(rows)}


# A group recorded live (selected by tags or User classes): its name and selectors.
GROUP_KEY: Table[GroupKey] = Table(
    GroupKey,
    (
        Field("name", str),
        Field("match", (str, type(None))),
        *(
            Field(key, list, write=list, read=lambda value, where: tuple(read_strings(value, where)))
            for key in ("tags", "user_classes")
        ),
    ),
)


def _dump_groups(snapshot: Snapshot, context: Mapping[str, Any]) -> Any:
    # Written only when the run recorded groups: other summaries stay as they were.
    if not snapshot.groups:
        return OMIT
    return [
        {**GROUP_KEY.dump(key), **ENDPOINT.dump(stats, context)}
        for key, stats in sorted(snapshot.groups.items())
    ]


def _read_groups(rows: list[Any], where: str) -> dict[GroupKey, EndpointStats]:
    return {
        GROUP_KEY.load(row, f"{where}[{i}]"): ENDPOINT.load(row, f"{where}[{i}]")
        for i, row in enumerate(rows)
    }


# Per-endpoint statistics of a span (context: ``duration_s``), and its live groups; its start,
# end and expected statuses are the document's.
SNAPSHOT: Table[Snapshot] = Table(
    Snapshot,
    (
        Field("users", int),
        derived("total", _snapshot_total),
        Field(
            "endpoints",
            list,
            dump=lambda snapshot, context: [
                {**KEY.dump(key), **ENDPOINT.dump(stats, context)}
                for key, stats in sorted(snapshot.endpoints.items())
            ],
            read=_read_endpoints,
        ),
        Field("groups", list, dump=_dump_groups, read=_read_groups, absent={}),
    ),
)


# -- numbers ----------------------------------------------------------------------------------------
def duration_s(start: float, end: float) -> float:
    # From the millisecond-rounded times a reader sees, so rates agree with them after a reload.
    return round(max(0.0, quantize_s(end) - quantize_s(start)), 3)


def _jsonable(value: Any) -> Any:
    """Criterion details as JSON: mappings with string keys, lists, finite numbers, strings."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_jsonable(v) for v in value), key=repr)
    return str(value)


def _strings_field(key: str) -> Field[Any]:
    return Field(key, list, write=list, read=lambda value, where: tuple(read_strings(value, where)))


# What makes two runs comparable (runner.compare.shape): "comparability", absent in older summaries.
SHAPE: Table[RunShape] = Table(
    RunShape,
    (
        Field("locustfile_sha256", str),
        Field("scenario", str),
        Field("users", (int, type(None))),
        Field("spawn_rate", OPT_NUMBER),
        Field("duration_s", OPT_NUMBER),
        Field("host", str),
        *(_strings_field(key) for key in ("user_classes", "tags", "exclude_tags")),
    ),
)
