"""summary.json: the machine-readable record of a run (a **contract**; see docs/summary-schema.md).

It carries everything ``loadlens verdict RUN_DIR`` needs to judge the run again: per-endpoint
counts, statuses and the sparse latency histograms (so a latency threshold is re-judged exactly,
not from rounded percentiles), the non-2xx statuses' own histograms and the run's expected
statuses (so expected responses are set apart exactly again), the timeline and the server series.
``load.load_summary`` reads it back; writing what was read gives the same text.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from runner.model import (
    EndpointKey,
    EndpointStats,
    Interval,
    Missing,
    Result,
    RunRecord,
    RunShape,
    Series,
)
from runner.reports.atomic import write_atomic
from runner.reports.redact import redacted_record
from runner.stats.histogram import RELATIVE_ACCURACY
from runner.timefmt import iso_utc, quantize_s

SCHEMA_VERSION = 1
FILE_NAME = "summary.json"
HISTOGRAM_SCHEME = "log"
_INLINE_MAX_CHARS = 100
_QUANTILES = (("p50_ms", 0.50), ("p90_ms", 0.90), ("p95_ms", 0.95), ("p99_ms", 0.99))


def summary_dict(record: RunRecord) -> dict[str, Any]:
    """The summary document of ``record`` as plain JSON-ready data (see docs/summary-schema.md),
    with credentials redacted from the host, command line, reasons and notes."""
    record = redacted_record(record)
    info, verdict = record.info, record.verdict
    window_s = _duration_s(record.window_start, record.window_end)
    run_s = _duration_s(record.run_start, record.run_end)
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": info.run_id,
        "scenario": info.scenario,
        "host": info.host,
        "locustfile": info.locustfile,
        "role": info.role,
        "loadlens_version": record.versions.get("loadlens"),
        "locust_version": record.versions.get("locust"),
        "command": list(record.command),
        "config_path": record.config_path,
        "interrupted": bool(record.interrupted or verdict.interrupted),
        "verdict": verdict.status.value,
        "exit_code": verdict.exit_code,
        "notes": list(verdict.notes),
        "window": {
            "start": iso_utc(record.window_start),
            "end": iso_utc(record.window_end),
            "run_start": iso_utc(record.run_start),
            "run_end": iso_utc(record.run_end),
            "kind": record.window_kind,
            "duration_s": window_s,
        },
        "criteria": [criterion_dict(r) for r in verdict.results],
        "client": {
            # The statuses the run declared expected: their responses are counted apart, and the
            # criteria leave them out of latency and rps (see status_histograms in each ENDPOINT).
            "expected_statuses": sorted(record.judged.expected_statuses | record.whole.expected_statuses),
            **_snapshot_part(record.judged.endpoints, record.judged.users, window_s),
            "whole_run": _snapshot_part(record.whole.endpoints, record.whole.users, run_s),
            "timeline": [interval_dict(i) for i in record.timeline],
        },
        "server": {
            "series": [series_dict(s) for s in record.server],
            "summaries": [series_summary(s) for s in record.server],
            "missing": [missing_dict(m) for m in record.server_missing],
        },
        "analysis": dict(record.analysis),
        # What makes two runs comparable (runner.compare); absent in summaries written before it.
        **({"comparability": shape_dict(record.shape)} if record.shape is not None else {}),
    }


def summary_text(record: RunRecord) -> str:
    """summary.json's text: indented, with lists of numbers (histograms, points) kept on one line."""
    return _render(summary_dict(record), 0) + "\n"


def write_summary(record: RunRecord, run_dir: Path) -> Path:
    """Write ``run_dir/summary.json`` atomically (creating ``run_dir``); returns its path."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return write_atomic(run_dir / FILE_NAME, summary_text(record))


def summary_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of summary.json, as shipped with this version."""
    text = resources.files("runner.reports").joinpath("summary.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


# -- the parts ------------------------------------------------------------------------------------
def endpoint_dict(
    stats: EndpointStats, *, duration_s: float | None, per_status: bool = True
) -> dict[str, Any]:
    """One ENDPOINT object: counts, rates, latency summary and the sparse histogram; with
    ``per_status``, also the histograms of non-2xx statuses (when there are any), which let a
    re-judge set expected statuses apart exactly (timeline points leave them out)."""
    out: dict[str, Any] = {
        "requests": stats.count,
        "failures": stats.failures,
        "expected": stats.expected,
        "error_rate": _sig(stats.error_rate),
        "rps": _rate(stats.count, duration_s),
        "mean_ms": _ms(stats.mean_ms),
        "min_ms": _ms(stats.min_ms),
        "max_ms": _ms(stats.max_ms),
    }
    for key, q in _QUANTILES:
        out[key] = _ms(stats.quantile_ms(q))
    out.update(
        {
            # Exact (not rounded) so that the mean of a summary read back is the same mean.
            "sum_ms": _finite(stats.sum_ms),
            "bytes": stats.bytes,
            "statuses": _by_code(stats.statuses),
            "failed_statuses": _by_code(stats.failed_statuses),
            "histogram": {
                "scheme": HISTOGRAM_SCHEME,
                "relative_accuracy": RELATIVE_ACCURACY,
                "buckets": stats.histogram.pairs(),
            },
        }
    )
    if per_status and stats.status_histograms:
        out["status_histograms"] = {
            str(code): stats.status_histograms[code].pairs() for code in sorted(stats.status_histograms)
        }
    return out


def criterion_dict(result: Result) -> dict[str, Any]:
    """One judged criterion, in the user's words, with what was observed and why it has its status."""
    return {
        "name": result.name,
        "criterion": result.criterion,
        "observed": _sig(result.observed),
        "limit": _sig(result.limit),
        "unit": result.unit,
        "status": result.status.value,
        "reason": result.reason,
        "scope": result.scope,
        "required": result.required,
        "details": _jsonable(result.details),
    }


def interval_dict(interval: Interval) -> dict[str, Any]:
    """One timeline point: an ENDPOINT over ``[start, end)`` plus users and a per-endpoint digest."""
    keys = sorted(set(interval.endpoint_counts) | set(interval.endpoint_p95_ms))
    endpoints = []
    for key in keys:
        count, failures = interval.endpoint_counts.get(key, (0, 0))
        endpoints.append(
            {
                "method": key.method,
                "name": key.name,
                "requests": count,
                "failures": failures,
                "p95_ms": _ms(interval.endpoint_p95_ms.get(key)),
            }
        )
    return {
        "start": iso_utc(interval.start),
        "end": iso_utc(interval.end),
        "users": interval.users,
        **endpoint_dict(
            interval.total, duration_s=_duration_s(interval.start, interval.end), per_status=False
        ),
        "endpoints": endpoints,
    }


def series_dict(series: Series) -> dict[str, Any]:
    """One server metric over time; points with no finite value (NaN) are left out, not invented."""
    return {
        **_series_id(series),
        "period_s": _finite(series.period_s),
        "points": [[iso_utc(t), v] for t, v in _finite_points(series)],
    }


def missing_dict(missing: Missing) -> dict[str, Any]:
    """One server metric a source was asked for and could not answer, with the reason."""
    return {
        "source": missing.source,
        "resource": missing.resource,
        "metric": missing.metric,
        "stat": missing.stat,
        "what": missing.what,
        "reason": missing.reason,
        "sparse": missing.sparse,
        "failed": missing.failed,
    }


def shape_dict(shape: RunShape) -> dict[str, Any]:
    """What makes two runs comparable: a baseline comparison warns when any of these differ."""
    return {
        "locustfile_sha256": shape.locustfile_sha256,
        "scenario": shape.scenario,
        "users": shape.users,
        "spawn_rate": shape.spawn_rate,
        "duration_s": shape.duration_s,
        "host": shape.host,
        "user_classes": list(shape.user_classes),
        "tags": list(shape.tags),
        "exclude_tags": list(shape.exclude_tags),
    }


def series_summary(series: Series) -> dict[str, Any]:
    """min, mean, max and last of one series over the run (nulls when it has no points)."""
    values = [v for _t, v in _finite_points(series)]
    return {
        **_series_id(series),
        "min": min(values) if values else None,
        "mean": _sig(math.fsum(values) / len(values)) if values else None,
        "max": max(values) if values else None,
        "last": values[-1] if values else None,
        "points": len(values),
    }


def _snapshot_part(
    endpoints: Mapping[EndpointKey, EndpointStats], users: int, duration_s: float | None
) -> dict[str, Any]:
    ordered = sorted(endpoints.items())
    # The total is merged in the order the endpoints are written (not Snapshot.total()'s order),
    # so a summary read back adds the same floats in the same order and gets the same sum_ms.
    total = EndpointStats()
    for _key, stats in ordered:
        total = total.merge(stats)
    return {
        "users": users,
        "total": endpoint_dict(total, duration_s=duration_s),
        "endpoints": [
            {"method": key.method, "name": key.name, **endpoint_dict(stats, duration_s=duration_s)}
            for key, stats in ordered
        ],
    }


def _series_id(series: Series) -> dict[str, Any]:
    return {
        "source": series.source,
        "resource": series.resource,
        "metric": series.metric,
        "stat": series.stat,
        "unit": series.unit,
    }


def _finite_points(series: Series) -> Iterable[tuple[float, float]]:
    return ((t, v) for t, v in series.points if math.isfinite(v))


# -- numbers ----------------------------------------------------------------------------------------
def _duration_s(start: float, end: float) -> float:
    # From the millisecond-rounded times a reader sees, so rates agree with them after a reload.
    return round(max(0.0, quantize_s(end) - quantize_s(start)), 3)


def _rate(count: int, duration_s: float | None) -> float | None:
    return round(count / duration_s, 3) if duration_s else None


def _ms(value: float | None) -> float | None:
    return round(float(value), 3) if value is not None and math.isfinite(value) else None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _sig(value: float | None, digits: int = 6) -> float | None:
    """``digits`` significant digits, but never rounded coarser than a whole number."""
    if value is None or isinstance(value, int):
        return value
    if not math.isfinite(value):
        return None
    if value == 0:
        return 0.0
    return round(value, max(0, digits - 1 - math.floor(math.log10(abs(value)))))


def _by_code(counts: Mapping[int, int]) -> dict[str, int]:
    return {str(code): counts[code] for code in sorted(counts)}


def _jsonable(value: Any) -> Any:
    """Criterion details as JSON: mappings with string keys, lists, finite numbers, strings."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_jsonable(v) for v in value), key=repr)
    return str(value)


# -- text ---------------------------------------------------------------------------------------------
def _render(value: Any, depth: int) -> str:
    # json.dumps(indent=2) would put every histogram bucket and series point on lines of their
    # own (tens of thousands of lines): lists of scalars and short flat objects (a timeline
    # point's endpoint digest, status counts) stay on one line; everything else is indented.
    inner = "  " * (depth + 1)
    if isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values()):
        flat = json.dumps(value, ensure_ascii=False, allow_nan=False)
        if len(flat) <= _INLINE_MAX_CHARS:
            return flat
    if isinstance(value, dict) and value:
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {_render(v, depth + 1)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + "  " * depth + "}"
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        items = [inner + _render(v, depth + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * depth + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)
