"""The client side of the page: the timeline's series, per-endpoint lines, table and distributions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from runner.model import TOTAL_NAME, EndpointKey, EndpointStats, Interval, RunRecord
from runner.reports.html.downsample import downsample
from runner.reports.html.numbers import sig, sig_all
from runner.stats.histogram import bucket_value_ms

MAX_ENDPOINT_LINES = 20  # endpoints with p50/p95/p99 lines of their own (the busiest ones)
MAX_ENDPOINT_ROWS = 500  # rows of the per-endpoint table and distributions
DISTRIBUTION_BINS = 40


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
    return {"t": t, **{name: sig_all(c) for name, c in zip(names, cols, strict=True)}}


def endpoint_series(timeline: Sequence[Interval], *, buckets: int) -> dict[str, Any]:
    """p50, p95 and p99 per interval of the busiest ``MAX_ENDPOINT_LINES`` endpoints, for the page's
    endpoint chooser: ``values[i]`` is endpoint i's p95, ``p50[i]``/``p99[i]`` its p50 and p99 (empty
    in a timeline stored before it kept them), all downsampled on one shared time axis."""
    counts: dict[EndpointKey, int] = {}
    for iv in timeline:
        for key, (n, _f) in iv.endpoint_counts.items():
            counts[key] = counts.get(key, 0) + n
    keys = sorted(counts, key=lambda k: (-counts[k], k))[:MAX_ENDPOINT_LINES]
    steps = [iv for iv in timeline if iv.end > iv.start]
    t = [iv.end for iv in steps]
    cols: list[list[float | None]] = []
    for k in keys:
        for per in (
            lambda iv: iv.endpoint_p50_ms,
            lambda iv: iv.endpoint_p95_ms,
            lambda iv: iv.endpoint_p99_ms,
        ):
            cols.append([per(iv).get(k) for iv in steps])
    t, cols = downsample(t, cols, buckets=buckets)
    out = [sig_all(c) for c in cols]
    return {
        "t": t,
        "names": [str(k) for k in keys],
        "p50": [_or_empty(c) for c in out[0::3]],
        "values": out[1::3],
        "p99": [_or_empty(c) for c in out[2::3]],
    }


def _or_empty(column: list[float | None]) -> list[float | None]:
    """A column with no value at all as [] (an older summary's timeline kept p95 only): smaller."""
    return column if any(v is not None for v in column) else []


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
        "p50_ms": sig(stats.quantile_ms(0.50)),
        "p95_ms": sig(stats.quantile_ms(0.95)),
        "p99_ms": sig(stats.quantile_ms(0.99)),
        "max_ms": sig(stats.max_ms),
        "rps": sig(stats.count / duration_s) if duration_s > 0 else None,
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
    return {"le_ms": [sig(e) or 0.0 for e in edges], "count": [float(n) for n in out]}
