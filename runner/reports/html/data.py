"""What the run report shows, as one JSON-ready document built from a RunRecord.

The page's script only draws: every number it shows is computed here, from the same RunRecord
that summary.json holds and ``loadlens verdict`` reloads, so the page agrees with the verdict.
Every part of it is bounded whatever the run's length or breadth: series are downsampled
(min/max per time bucket), per-endpoint timelines are kept for the busiest endpoints only, and
latency distributions are re-binned into a fixed number of bins.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.judge.correlate import SeriesRef
from runner.judge.soak import client_p95_trend, series_trend
from runner.model import TOTAL_NAME, EndpointKey, EndpointStats, Interval, Result, RunRecord, Series
from runner.reports.html.downsample import DEFAULT_BUCKETS, downsample
from runner.reports.redact import redacted_record
from runner.reports.tables import observed_and_limit, verdict_line
from runner.stats.histogram import bucket_value_ms
from runner.timefmt import iso_utc
from runner.units import format_value

# Bounds that keep a 24 h x 200-endpoint report small (docs/report.md states the resulting size).
MAX_ENDPOINT_LINES = 40  # endpoints with a p95 line of their own (the busiest ones)
MAX_ENDPOINT_ROWS = 500  # rows of the per-endpoint table and distributions
MAX_FAILURE_ROWS = 200
DISTRIBUTION_BINS = 40
_DIGITS = 4  # significant digits of a drawn value: the eye sees no more, the file stays smaller


@dataclass(frozen=True, slots=True)
class PageOptions:
    """How one page is built: ``buckets`` per chart, ``live`` (poll URL and period) for the live page."""

    buckets: int = DEFAULT_BUCKETS
    live_url: str | None = None
    live_every_s: float = 5.0


def page_data(
    records: Sequence[RunRecord],
    *,
    failures: Sequence[Mapping[str, str]] = (),
    options: PageOptions = PageOptions(),
) -> dict[str, Any]:
    """The page's document: the first record in full, and an overlay of all when there are several."""
    if not records:
        raise ValueError("a report needs at least one run")
    first = redacted_record(records[0])
    doc = run_data(first, failures=failures, buckets=options.buckets)
    if len(records) > 1:
        doc["overlay"] = [overlay_run(redacted_record(r), buckets=options.buckets) for r in records]
    if options.live_url is not None:
        doc["live"] = {"url": options.live_url, "every_s": options.live_every_s}
    return doc


def run_data(
    record: RunRecord, *, failures: Sequence[Mapping[str, str]] = (), buckets: int
) -> dict[str, Any]:
    """One run's full page document (``record`` already redacted)."""
    return {
        "meta": _meta(record),
        "verdict": {
            "status": record.verdict.status.value,
            "line": verdict_line(record.verdict),
            "notes": list(record.verdict.notes),
            "findings": [str(s) for s in record.analysis.get("findings") or []],
        },
        "criteria": [_criterion(r) for r in record.verdict.results],
        "phases": phases(record),
        "marks": marks(record),
        "client": client_series(record.timeline, buckets=buckets),
        "endpoint_p95": endpoint_p95_series(record.timeline, buckets=buckets),
        "server": [server_chart(s, record.verdict.results, buckets=buckets) for s in record.server],
        "server_missing": [m.reason for m in record.server_missing],
        "correlation": correlation(record),
        "trends": trends(record, buckets=buckets),
        "endpoints": endpoint_rows(record),
        "failures": list(failures)[:MAX_FAILURE_ROWS] or failure_rows_from_statuses(record),
    }


# -- what ran -------------------------------------------------------------------------------------------
def _meta(record: RunRecord) -> dict[str, Any]:
    return {
        "run_id": record.info.run_id,
        "scenario": record.info.scenario,
        "host": record.info.host,
        "locustfile": record.info.locustfile,
        "start": iso_utc(record.run_start),
        "end": iso_utc(record.run_end),
        "t_start": record.run_start,
        "t_end": record.run_end,
        "window": {
            "start": iso_utc(record.window_start),
            "end": iso_utc(record.window_end),
            "t_start": record.window_start,
            "t_end": record.window_end,
            "kind": record.window_kind.replace("_", " "),
        },
        "versions": dict(record.versions),
        "command": " ".join(record.command),
        "interrupted": record.interrupted or record.verdict.interrupted,
    }


def _criterion(result: Result) -> dict[str, Any]:
    observed, limit = observed_and_limit(result)
    return {
        "name": result.name,
        "criterion": result.criterion,
        "observed": observed,
        "limit": limit,
        "status": result.status.value,
        "reason": result.reason,
        "scope": result.scope,
    }


def phases(record: RunRecord) -> list[dict[str, Any]]:
    """Shaded spans: before the judged window (ramp-up / warm-up), the window, after it (cool-down)."""
    out = []
    if record.window_start > record.run_start:
        out.append({"name": "ramp-up / warm-up", "start": record.run_start, "end": record.window_start})
    kind = "steady state (judged)" if record.window_kind == "steady_state" else "judged window"
    out.append({"name": kind, "start": record.window_start, "end": record.window_end})
    if record.run_end > record.window_end:
        out.append({"name": "cool-down", "start": record.window_end, "end": record.run_end})
    return out


def marks(record: RunRecord) -> list[dict[str, Any]]:
    """Vertical marks: load steps (the user count changing inside the window) and the first breach."""
    out: list[dict[str, Any]] = []
    previous: int | None = None
    for iv in record.timeline:
        if (
            previous is not None
            and iv.users != previous
            and record.window_start <= iv.start <= record.window_end
        ):
            out.append({"kind": "step", "at": iv.start, "text": f"load step: {previous} → {iv.users} users"})
        previous = iv.users
    breach = record.analysis.get("first_breach")
    if isinstance(breach, Mapping) and isinstance(breach.get("at"), int | float):
        out.append(
            {"kind": "breach", "at": breach["at"], "text": str(breach.get("sentence", "first breach"))}
        )
    return out


# -- client -----------------------------------------------------------------------------------------------
def client_series(timeline: Sequence[Interval], *, buckets: int) -> dict[str, Any]:
    """Users, requests/s (ok, failed, expected), p50/p95/p99 (ms) and the error rate (%) per interval."""
    t: list[float] = []
    cols: list[list[float | None]] = [[] for _ in range(8)]
    for iv in timeline:
        d = iv.end - iv.start
        if d <= 0:
            continue
        total = iv.total
        failed, expected = total.failures, total.expected
        ok = total.count - failed - expected
        t.append(iv.end)
        values = (
            iv.users,
            ok / d,
            failed / d,
            expected / d,
            total.quantile_ms(0.50),
            total.quantile_ms(0.95),
            total.quantile_ms(0.99),
            None if total.error_rate is None else total.error_rate * 100.0,
        )
        for column, v in zip(cols, values, strict=True):
            column.append(v)
    t, cols = downsample(t, cols, buckets=buckets)
    names = ("users", "rps_ok", "rps_failed", "rps_expected", "p50_ms", "p95_ms", "p99_ms", "error_percent")
    return {"t": t, **{name: _round_all(c) for name, c in zip(names, cols, strict=True)}}


def endpoint_p95_series(timeline: Sequence[Interval], *, buckets: int) -> dict[str, Any]:
    """p95 per interval of the busiest ``MAX_ENDPOINT_LINES`` endpoints (the timeline keeps no more
    than p95 per endpoint, so p50/p99 are for all requests only)."""
    counts: dict[EndpointKey, int] = {}
    for iv in timeline:
        for key, (n, _f) in iv.endpoint_counts.items():
            counts[key] = counts.get(key, 0) + n
    keys = sorted(counts, key=lambda k: (-counts[k], k))[:MAX_ENDPOINT_LINES]
    steps = [iv for iv in timeline if iv.end > iv.start]
    t = [iv.end for iv in steps]
    cols: list[list[float | None]] = [[iv.endpoint_p95_ms.get(k) for iv in steps] for k in keys]
    t, cols = downsample(t, cols, buckets=buckets)
    return {"t": t, "names": [str(k) for k in keys], "values": [_round_all(c) for c in cols]}


def endpoint_rows(record: RunRecord) -> list[dict[str, Any]]:
    """The per-endpoint table of the judged window, busiest first, with a latency distribution each."""
    snap = record.judged
    duration_s = snap.duration_s
    ordered = sorted(snap.endpoints.items(), key=lambda kv: (-kv[1].count, kv[0]))[:MAX_ENDPOINT_ROWS]
    rows = [_endpoint_row(str(k), s, duration_s) for k, s in ordered]
    if ordered:
        rows.insert(0, _endpoint_row(TOTAL_NAME, snap.total(), duration_s))
    return rows


def _endpoint_row(name: str, stats: EndpointStats, duration_s: float) -> dict[str, Any]:
    return {
        "name": name,
        "count": stats.count,
        "failures": stats.failures,
        "failed_statuses": {str(c): n for c, n in sorted(stats.failed_statuses.items())},
        "p50_ms": _round(stats.quantile_ms(0.50)),
        "p95_ms": _round(stats.quantile_ms(0.95)),
        "p99_ms": _round(stats.quantile_ms(0.99)),
        "max_ms": _round(stats.max_ms),
        "rps": _round(stats.count / duration_s) if duration_s > 0 else None,
        "distribution": distribution(stats),
    }


def distribution(stats: EndpointStats, *, bins: int = DISTRIBUTION_BINS) -> dict[str, list[float]]:
    """The stored histogram re-binned into at most ``bins`` log-spaced bins: (upper edge ms, count)."""
    counts = stats.histogram.counts
    if not counts:
        return {"le_ms": [], "count": []}
    lo = max(bucket_value_ms(min(counts)), 0.001)
    hi = max(bucket_value_ms(max(counts)), lo * 1.0001)
    ratio = (hi / lo) ** (1.0 / bins)
    edges = [lo * ratio ** (i + 1) for i in range(bins)]
    out = [0] * bins
    for index, n in counts.items():
        v = max(bucket_value_ms(index), lo)
        b = min(bins - 1, int(math.log(v / lo) / math.log(ratio))) if ratio > 1 else 0
        out[b] += n
    return {"le_ms": [_round(e) or 0.0 for e in edges], "count": [float(n) for n in out]}


# -- server -----------------------------------------------------------------------------------------------
def series_label(series: Series) -> str:
    """The name a reader sees: the analysis' label plus the resource (``ECS CPU · ecs:c/s``)."""
    return f"{SeriesRef.of(series).label} · {series.resource}"


def server_chart(series: Series, results: Sequence[Result], *, buckets: int) -> dict[str, Any]:
    """One server series (downsampled) with the limit lines the verdict judged it against."""
    points = [(t, v) for t, v in series.points if math.isfinite(v)]
    t, (v,) = downsample([p[0] for p in points], [[p[1] for p in points]], buckets=buckets)
    return {
        "label": series_label(series),
        "metric": series.metric,
        "stat": series.stat,
        "unit": series.unit,
        "t": t,
        "v": _round_all(v),
        "limits": limit_lines(series, results),
    }


_KINDS = (("cpu", "cpu"), ("memory", "mem"), ("rss", "rss"), ("connection", "connection"))


def limit_lines(series: Series, results: Sequence[Result]) -> list[dict[str, Any]]:
    """The limits of the server criteria judged on this series' resource and kind (ECS CPU 70 %,
    memory 80 %...), in the series' unit."""
    metric = series.metric.lower()
    out = []
    for r in results:
        if r.scope != "server" or r.limit is None or r.details.get("resource") != series.resource:
            continue
        name = r.name.lower()
        if any(word in name and part in metric for word, part in _KINDS) and _same_unit(r.unit, series.unit):
            out.append({"value": r.limit, "text": f"limit {format_value(r.limit, r.unit)}"})
    return out


def _same_unit(result_unit: str, series_unit: str) -> bool:
    return (result_unit == "percent") == (series_unit == "Percent")


# -- analysis ----------------------------------------------------------------------------------------------
def correlation(record: RunRecord) -> dict[str, Any] | None:
    """p95 and rps against CPU per analysis period, with the headroom fit (rps = a + b x CPU)."""
    section = record.analysis
    periods = section.get("periods")
    head = section.get("headroom")
    if not isinstance(periods, list) or not isinstance(head, Mapping):
        return None
    cpu_label = str(head.get("cpu", ""))
    rows = sorted(
        (float(p["server"][cpu_label]), p.get("p95_ms"), p.get("rps"))
        for p in periods
        if isinstance(p, Mapping)
        and isinstance(p.get("server"), Mapping)
        and isinstance(p["server"].get(cpu_label), int | float)
    )
    fit = _line_fit([(c, r) for c, _p, r in rows if isinstance(r, int | float)])
    return {
        "cpu_label": cpu_label,
        "cpu": [_round(c) for c, _p, _r in rows],
        "p95_ms": [_round(p) for _c, p, _r in rows],
        "rps": [_round(r) for _c, _p, r in rows],
        "fit": [_round(fit[0] + fit[1] * c) for c, _p, _r in rows] if fit else None,
        "cpu_limit_percent": head.get("cpu_limit_percent"),
        "summary": str(head.get("summary", "")),
        "caveat": str(head.get("caveat", "")),
    }


def _line_fit(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """Least squares ``y = a + b x`` (a drawing aid; the headroom figures are the analysis')."""
    if len(points) < 2:
        return None
    mx = math.fsum(x for x, _ in points) / len(points)
    my = math.fsum(y for _, y in points) / len(points)
    sxx = math.fsum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    b = math.fsum((x - mx) * (y - my) for x, y in points) / sxx
    return my - b * mx, b


def trends(record: RunRecord, *, buckets: int) -> list[dict[str, Any]]:
    """The soak trends of the analysis, each with its data and its Theil-Sen line (recomputed with
    the analysis' own functions, so the line is the one the leak criterion judged)."""
    out = []
    names = {str(t.get("metric")): t for t in record.analysis.get("trends") or [] if isinstance(t, Mapping)}
    w0, w1 = record.window_start, record.window_end
    if "client p95" in names:
        fit = client_p95_trend(record.timeline, window_start=w0, window_end=w1)
        steps = [iv for iv in record.timeline if iv.end > iv.start]
        t = [(iv.start + iv.end) / 2 for iv in steps]
        v = [iv.total.quantile_ms(0.95) for iv in steps]
        out.append(_trend("client p95", "ms", t, v, fit, names["client p95"], buckets))
    for series in record.server:
        label = SeriesRef.of(series).label
        if label in names:
            fit = series_trend(series, window_start=w0, window_end=w1)
            half = series.period_s / 2 if math.isfinite(series.period_s) else 0.0
            pts = [(t + half, v) for t, v in series.points if math.isfinite(v)]
            t, v2 = [p[0] for p in pts], [p[1] for p in pts]
            out.append(_trend(label, series.unit, t, v2, fit, names.pop(label), buckets))
    return out


def _trend(
    label: str,
    unit: str,
    t: list[float],
    v: Sequence[float | None],
    fit: Any,
    section: Mapping[str, Any],
    buckets: int,
) -> dict[str, Any]:
    ts, (vs,) = downsample(t, [list(v)], buckets=buckets)
    line = None
    if fit.start_level is not None and fit.end_level is not None:
        line = {
            "t": [fit.window_start, fit.window_end],
            "v": [_round(fit.start_level), _round(fit.end_level)],
        }
    return {
        "label": label,
        "unit": unit,
        "t": ts,
        "v": _round_all(vs),
        "line": line,
        "text": str(section.get("line", "")),
    }


# -- failures ---------------------------------------------------------------------------------------------
def read_failures_csv(path: Path) -> list[dict[str, str]]:
    """Locust's failures table (``locust_failures.csv``: method, name, error, occurrences), if any."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    out = []
    for row in rows[:MAX_FAILURE_ROWS]:
        out.append(
            {
                "method": row.get("Method", "") or "",
                "name": row.get("Name", "") or "",
                "error": row.get("Error", "") or "",
                "occurrences": row.get("Occurrences", "") or "",
            }
        )
    return out


def failure_rows_from_statuses(record: RunRecord) -> list[dict[str, str]]:
    """Failures by endpoint and status, when Locust's own table is not at hand (a live page)."""
    rows = []
    for key, stats in sorted(record.whole.endpoints.items()):
        for code, n in sorted(stats.failed_statuses.items()):
            error = "no response" if code == 0 else f"HTTP {code}"
            rows.append({"method": key.method, "name": key.name, "error": error, "occurrences": str(n)})
    return rows[:MAX_FAILURE_ROWS]


# -- overlay ----------------------------------------------------------------------------------------------
def overlay_run(record: RunRecord, *, buckets: int) -> dict[str, Any]:
    """One run of an overlay: its client series on seconds since its own start."""
    client = client_series(record.timeline, buckets=buckets)
    rel = [_round(t - record.run_start) for t in client["t"]]
    return {
        "run_id": record.info.run_id,
        "verdict": record.verdict.status.value,
        "start": iso_utc(record.run_start),
        "t": rel,
        **{k: client[k] for k in ("users", "p95_ms", "error_percent")},
        "rps": [_add(a, b) for a, b in zip(client["rps_ok"], client["rps_failed"], strict=True)],
    }


# -- numbers ----------------------------------------------------------------------------------------------
def _round(value: float | None, digits: int = _DIGITS) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    if value == 0:
        return 0.0
    return round(value, max(0, digits - 1 - math.floor(math.log10(abs(value)))))


def _round_all(values: Iterable[float | None]) -> list[float | None]:
    return [_round(v) for v in values]


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None and b is None else (a or 0.0) + (b or 0.0)
