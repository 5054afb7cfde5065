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
    """p95 and rps against CPU per analysis period, with the analysis' own headroom line."""
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
    line, note = headroom_line(head)
    return {
        "cpu_label": cpu_label,
        "cpu": [sig(c) for c, _p, _r in rows],
        "p95_ms": [sig(p) for _c, p, _r in rows],
        "rps": [sig(r) for _c, _p, r in rows],
        "line": line,
        "line_note": note,
        "cpu_limit_percent": head.get("cpu_limit_percent"),
        "summary": str(head.get("summary", "")),
        "caveat": str(head.get("caveat", "")),
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def headroom_line(head: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The analysis' fit CPU % = a + b x rps (runner.judge.correlate.headroom, Theil-Sen) as the page
    draws it: over the rps it was fitted on, and from there on to the CPU limit at the estimate
    (``to_limit``, None when the limit is within the tested load). No line when the analysis made
    no estimate, or the summary predates the stored fit: the page fits nothing of its own, so the
    line it shows is always the one the headroom sentence speaks of. The text says why there is none."""
    a, b = _number(head.get("intercept_percent")), _number(head.get("slope_percent_per_rps"))
    lo, hi = _number(head.get("rps_min")), _number(head.get("rps_max"))
    at, limit = _number(head.get("rps_at_limit")), _number(head.get("cpu_limit_percent"))
    if at is None:
        return None, "no fitted line: the analysis made no headroom estimate"
    if a is None or b is None or lo is None or hi is None:
        return None, (
            "no fitted line: this summary.json was written before the headroom line was stored "
            "(loadlens verdict RUN_DIR judges it again and stores it)"
        )
    line: dict[str, Any] = {
        "rps": [sig(lo), sig(hi)],
        "cpu": [sig(a + b * lo), sig(a + b * hi)],
        "to_limit": None,
    }
    if limit is not None and at > hi:
        line["to_limit"] = {"rps": [sig(hi), sig(at)], "cpu": [sig(a + b * hi), sig(limit)]}
    text = f"headroom line: {_fmt(a)} % + {_fmt(b)} % per rps, fitted over {_fmt(lo)}-{_fmt(hi)} rps"
    return line, text


def _fmt(x: float) -> str:
    return f"{x:.3g}"


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
