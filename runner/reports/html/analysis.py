"""The analysis on the page: client against server per period, and the soak trends' lines."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from runner.judge.correlate import SeriesRef
from runner.judge.soak import Trend, client_p95_trend, series_trend
from runner.model import RunRecord
from runner.reports.html.downsample import downsample
from runner.reports.html.numbers import sig, sig_all


def correlation(record: RunRecord) -> dict[str, Any] | None:
    """p95 and rps against CPU per analysis period, with the headroom fit (rps = a + b x CPU)."""
    section = record.analysis
    periods = section.get("periods")
    head = section.get("headroom")
    if not isinstance(periods, list) or not isinstance(head, Mapping):
        return None
    cpu_label = str(head.get("cpu", ""))
    rows = sorted(
        (
            (float(p["server"][cpu_label]), _number(p.get("p95_ms")), _number(p.get("rps")))
            for p in periods
            if isinstance(p, Mapping)
            and isinstance(p.get("server"), Mapping)
            and isinstance(p["server"].get(cpu_label), int | float)
        ),
        key=lambda row: row[0],
    )
    fit = _line_fit([(c, r) for c, _p, r in rows if r is not None])
    return {
        "cpu_label": cpu_label,
        "cpu": [sig(c) for c, _p, _r in rows],
        "p95_ms": [sig(p) for _c, p, _r in rows],
        "rps": [sig(r) for _c, _p, r in rows],
        "fit": [sig(fit[0] + fit[1] * c) for c, _p, _r in rows] if fit else None,
        "cpu_limit_percent": head.get("cpu_limit_percent"),
        "summary": str(head.get("summary", "")),
        "caveat": str(head.get("caveat", "")),
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


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
    fit: Trend,
    section: Mapping[str, Any],
    buckets: int,
) -> dict[str, Any]:
    ts, (vs,) = downsample(t, [list(v)], buckets=buckets)
    line = None
    if fit.start_level is not None and fit.end_level is not None:
        line = {
            "t": [fit.window_start, fit.window_end],
            "v": [sig(fit.start_level), sig(fit.end_level)],
        }
    return {
        "label": label,
        "unit": unit,
        "t": ts,
        "v": sig_all(vs),
        "line": line,
        "text": str(section.get("line", "")),
    }
