"""The server side of the page: one chart per series, with the limits its criteria judged."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from runner.judge.correlate import SeriesRef
from runner.model import Result
from runner.readings import Series, custom_metric_name
from runner.reports.html.downsample import downsample
from runner.reports.html.numbers import sig_all
from runner.units import format_value


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
        "v": sig_all(v),
        "limits": limit_lines(series, results),
    }


_KINDS = (("cpu", "cpu"), ("memory", "mem"), ("rss", "rss"), ("connection", "connection"))


def limit_lines(series: Series, results: Sequence[Result]) -> list[dict[str, Any]]:
    """The limits of the server criteria judged on this series' resource and kind (ECS CPU 70 %,
    memory 80 %...), in the series' unit; a [[server.metrics]] series gets its own row's limit."""
    metric = series.metric.lower()
    named = custom_metric_name(series.resource)
    out = []
    for r in results:
        if named is not None and r.scope == "server" and r.limit is not None and r.name == f"server {named}":
            out.append({"value": r.limit, "text": f"limit {format_value(r.limit, r.unit)}"})
            continue
        if r.scope != "server" or r.limit is None or r.details.get("resource") != series.resource:
            continue
        name = r.name.lower()
        if any(word in name and part in metric for word, part in _KINDS) and _same_unit(r.unit, series.unit):
            out.append({"value": r.limit, "text": f"limit {format_value(r.limit, r.unit)}"})
    return out


def _same_unit(result_unit: str, series_unit: str) -> bool:
    return (result_unit == "percent") == (series_unit == "Percent")
