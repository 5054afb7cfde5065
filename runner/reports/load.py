"""Read a run back from its summary.json, for ``loadlens verdict RUN_DIR`` and the reports.

Fields this version does not know are ignored (additive changes keep schema_version); a missing or
mistyped field, another schema_version or a histogram of another layout is refused with one line
naming the file and the field. Numbers are kept as the JSON gave them (an int stays an int), so
writing a summary that was read gives back the same text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner.errors import RunDirError
from runner.judge.verdict import incomplete_reasons
from runner.model import (
    EndpointKey,
    EndpointStats,
    Interval,
    Missing,
    Result,
    RunInfo,
    RunRecord,
    RunShape,
    Series,
    Snapshot,
    Status,
    Verdict,
)
from runner.reports.summary_json import FILE_NAME, HISTOGRAM_SCHEME, SCHEMA_VERSION
from runner.stats.histogram import RELATIVE_ACCURACY, Histogram
from runner.timefmt import parse_iso_utc

_OPT_NUMBER = (int, float, type(None))
_OPT_STR = (str, type(None))


class _FieldError(ValueError):
    """A field of the document is missing or of the wrong type (message: where and what)."""


def load_summary(run_dir_or_file: Path) -> RunRecord:
    """The RunRecord a summary.json describes; ``run_dir_or_file`` is a run directory or the file.

    Raises RunDirError (one line) when the path is missing, holds no summary.json, is not JSON,
    is not a loadlens summary, or has a schema_version this loadlens does not read.
    """
    path = Path(run_dir_or_file)
    if path.is_dir():
        path = path / FILE_NAME
        if not path.is_file():
            raise RunDirError(f"{path.parent} holds no {FILE_NAME}: not a loadlens run directory")
    elif not path.exists():
        raise RunDirError(f"{path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise RunDirError(f"{path} is not JSON: not UTF-8 text") from err
    except OSError as err:
        raise RunDirError(f"cannot read {path}: {err.strerror or err}") from err
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise RunDirError(f"{path} is not JSON: {err.msg} at line {err.lineno}") from err
    return record_from_dict(doc, source=str(path))


def record_from_dict(doc: Any, *, source: str = "summary") -> RunRecord:
    """Rebuild a RunRecord from a parsed summary document (``source`` names it in errors)."""
    if not isinstance(doc, dict) or "schema_version" not in doc or "run_id" not in doc:
        raise RunDirError(f"{source} is not a loadlens summary (no schema_version and run_id)")
    version = doc["schema_version"]
    if version != SCHEMA_VERSION or isinstance(version, bool):
        newer = isinstance(version, int) and version > SCHEMA_VERSION
        raise RunDirError(
            f"{source} has schema_version {version!r}{' (written by a newer loadlens)' if newer else ''};"
            f" this loadlens reads schema_version {SCHEMA_VERSION}"
        )
    try:
        return _record(doc)
    except _FieldError as err:
        raise RunDirError(f"{source} is not a valid loadlens summary: {err}") from err


# -- the document ------------------------------------------------------------------------------------
def _record(doc: dict[str, Any]) -> RunRecord:
    window = _get(doc, "window", dict, "")
    run_start = _time(window, "run_start", "window")
    run_end = _time(window, "run_end", "window")
    window_start = _time(window, "start", "window")
    window_end = _time(window, "end", "window")
    client = _get(doc, "client", dict, "")
    whole_run = _get(client, "whole_run", dict, "client")
    server = _get(doc, "server", dict, "")
    interrupted = _get(doc, "interrupted", bool, "")
    expected = _expected_statuses(client)
    results = tuple(_result(c, f"criteria[{i}]") for i, c in enumerate(_get(doc, "criteria", list, "")))
    verdict = Verdict(
        results=results,
        status=_status(doc, "verdict", ""),
        exit_code=_get(doc, "exit_code", int, ""),
        interrupted=interrupted,
        notes=(notes := tuple(_strings(doc, "notes", ""))),
        incomplete=incomplete_reasons(notes),
    )
    versions = {
        name: value
        for name, key in (("loadlens", "loadlens_version"), ("locust", "locust_version"))
        if (value := _get(doc, key, _OPT_STR, "")) is not None
    }
    return RunRecord(
        info=RunInfo(
            run_id=_get(doc, "run_id", str, ""),
            scenario=_get(doc, "scenario", str, ""),
            host=_get(doc, "host", str, ""),
            started_at=run_start,
            role=role if isinstance(role := doc.get("role"), str) else "standalone",
            locustfile=_get(doc, "locustfile", str, ""),
        ),
        run_start=run_start,
        run_end=run_end,
        window_start=window_start,
        window_end=window_end,
        window_kind=_get(window, "kind", str, "window"),
        whole=_snapshot(whole_run, run_start, run_end, "client.whole_run", expected),
        judged=_snapshot(client, window_start, window_end, "client", expected),
        timeline=tuple(
            _interval(point, f"client.timeline[{i}]")
            for i, point in enumerate(_get(client, "timeline", list, "client"))
        ),
        verdict=verdict,
        server=tuple(
            _series(s, f"server.series[{i}]") for i, s in enumerate(_get(server, "series", list, "server"))
        ),
        interrupted=interrupted,
        server_missing=tuple(
            _missing(m, f"server.missing[{i}]")
            for i, m in enumerate(_get(server, "missing", list, "server") if "missing" in server else [])
        ),
        command=tuple(_strings(doc, "command", "")),
        config_path=_get(doc, "config_path", _OPT_STR, ""),
        versions=versions,
        analysis=_analysis(doc),
        shape=_shape(doc),
    )


def _shape(doc: dict[str, Any]) -> RunShape | None:
    """The optional comparability section (absent in older summaries: None)."""
    if "comparability" not in doc:
        return None
    part = _get(doc, "comparability", dict, "")
    at = "comparability"
    return RunShape(
        locustfile_sha256=_get(part, "locustfile_sha256", str, at),
        scenario=_get(part, "scenario", str, at),
        users=_get(part, "users", (int, type(None)), at),
        spawn_rate=_get(part, "spawn_rate", _OPT_NUMBER, at),
        duration_s=_get(part, "duration_s", _OPT_NUMBER, at),
        host=_get(part, "host", str, at),
        user_classes=tuple(_strings(part, "user_classes", at)),
        tags=tuple(_strings(part, "tags", at)),
        exclude_tags=tuple(_strings(part, "exclude_tags", at)),
    )


def _analysis(doc: dict[str, Any]) -> dict[str, Any]:
    """The optional analysis section, kept as it was written (absent in older summaries)."""
    value = doc.get("analysis")
    return value if isinstance(value, dict) else {}


def _expected_statuses(client: dict[str, Any]) -> frozenset[int]:
    """client.expected_statuses (absent in older summaries: none set apart)."""
    if "expected_statuses" not in client:
        return frozenset()
    codes = _get(client, "expected_statuses", list, "client")
    if not all(_is_int(c) for c in codes):
        raise _FieldError("client.expected_statuses should be a list of HTTP status codes")
    return frozenset(codes)


def _snapshot(
    part: dict[str, Any], start: float, end: float, where: str, expected: frozenset[int]
) -> Snapshot:
    endpoints: dict[EndpointKey, EndpointStats] = {}
    for i, row in enumerate(_get(part, "endpoints", list, where)):
        at = f"{where}.endpoints[{i}]"
        endpoints[_key(row, at)] = _endpoint(row, at)
    return Snapshot(
        start=start,
        end=end,
        endpoints=endpoints,
        users=_get(part, "users", int, where),
        expected_statuses=expected,
    )


def _endpoint(obj: Any, where: str) -> EndpointStats:
    hist = _get(obj, "histogram", dict, where)
    if hist.get("scheme") != HISTOGRAM_SCHEME or hist.get("relative_accuracy") != RELATIVE_ACCURACY:
        raise _FieldError(
            f"{where}.histogram is {hist.get('scheme')!r} at {hist.get('relative_accuracy')!r}, not"
            f" {HISTOGRAM_SCHEME!r} at {RELATIVE_ACCURACY}: its buckets cannot be read"
        )
    buckets = _pairs(_get(hist, "buckets", list, f"{where}.histogram"), f"{where}.histogram.buckets")
    by_status: dict[int, Histogram] = {}
    if "status_histograms" in obj:  # absent when there were no non-2xx responses, and in older summaries
        for code, pairs in _get(obj, "status_histograms", dict, where).items():
            at = f"{where}.status_histograms.{code}"
            if not code.isdigit():
                raise _FieldError(f"{where}.status_histograms should be keyed by HTTP status codes")
            by_status[int(code)] = Histogram.from_pairs(_pairs(pairs, at))
    sum_ms = _get(obj, "sum_ms", _OPT_NUMBER, where)
    return EndpointStats(
        count=_get(obj, "requests", int, where),
        failures=_get(obj, "failures", int, where),
        expected=_get(obj, "expected", int, where),
        sum_ms=sum_ms if sum_ms is not None else math.nan,
        min_ms=_get(obj, "min_ms", _OPT_NUMBER, where),
        max_ms=_get(obj, "max_ms", _OPT_NUMBER, where),
        bytes=_get(obj, "bytes", int, where),
        statuses=_codes(obj, "statuses", where),
        failed_statuses=_codes(obj, "failed_statuses", where),
        histogram=Histogram.from_pairs(buckets),
        status_histograms=by_status,
    )


def _pairs(buckets: Any, where: str) -> list[Any]:
    if not isinstance(buckets, list) or not all(
        isinstance(b, list) and len(b) == 2 and all(_is_int(x) for x in b) for b in buckets
    ):
        raise _FieldError(f"{where} should be [index, count] pairs of integers")
    return buckets


def _interval(obj: Any, where: str) -> Interval:
    counts: dict[EndpointKey, tuple[int, int]] = {}
    p95: dict[EndpointKey, float] = {}
    for i, row in enumerate(_get(obj, "endpoints", list, where)):
        at = f"{where}.endpoints[{i}]"
        key = _key(row, at)
        counts[key] = (_get(row, "requests", int, at), _get(row, "failures", int, at))
        value = _get(row, "p95_ms", _OPT_NUMBER, at)
        if value is not None:
            p95[key] = value
    return Interval(
        start=_time(obj, "start", where),
        end=_time(obj, "end", where),
        users=_get(obj, "users", int, where),
        total=_endpoint(obj, where),
        endpoint_p95_ms=p95,
        endpoint_counts=counts,
    )


def _missing(obj: Any, where: str) -> Missing:
    return Missing(
        source=_get(obj, "source", str, where),
        resource=_get(obj, "resource", str, where),
        metric=_get(obj, "metric", str, where),
        stat=_get(obj, "stat", str, where),
        what=_get(obj, "what", str, where),
        reason=_get(obj, "reason", str, where),
        sparse=bool(obj.get("sparse", False)),
        failed=bool(obj.get("failed", False)),
    )


def _series(obj: Any, where: str) -> Series:
    points = []
    for i, point in enumerate(_get(obj, "points", list, where)):
        if not (isinstance(point, list) and len(point) == 2 and _is_number(point[1])):
            raise _FieldError(f"{where}.points[{i}] should be [time, number]")
        points.append((_parse_time(point[0], f"{where}.points[{i}]"), point[1]))
    period_s = _get(obj, "period_s", _OPT_NUMBER, where)
    return Series(
        source=_get(obj, "source", str, where),
        resource=_get(obj, "resource", str, where),
        metric=_get(obj, "metric", str, where),
        stat=_get(obj, "stat", str, where),
        unit=_get(obj, "unit", str, where),
        points=tuple(points),
        period_s=period_s if period_s is not None else math.nan,
    )


def _result(obj: Any, where: str) -> Result:
    return Result(
        name=_get(obj, "name", str, where),
        criterion=_get(obj, "criterion", str, where),
        observed=_get(obj, "observed", _OPT_NUMBER, where),
        limit=_get(obj, "limit", _OPT_NUMBER, where),
        status=_status(obj, "status", where),
        reason=_get(obj, "reason", str, where),
        unit=_get(obj, "unit", str, where),
        scope=_get(obj, "scope", str, where),
        required=_get(obj, "required", bool, where),
        details=_get(obj, "details", dict, where),
    )


# -- fields ------------------------------------------------------------------------------------------
def _get(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``obj[key]`` checked against ``kind`` (a bool is not accepted as a number)."""
    at = f"{where}.{key}" if where else key
    if not isinstance(obj, dict):
        raise _FieldError(f"{where or 'the document'} should be an object")
    if key not in obj:
        raise _FieldError(f"{at} is missing")
    value = obj[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise _FieldError(f"{at} should be {names}, not {type(value).__name__}")
    return value


def _key(obj: Any, where: str) -> EndpointKey:
    return EndpointKey(_get(obj, "method", str, where), _get(obj, "name", str, where))


def _time(obj: Any, key: str, where: str) -> float:
    return _parse_time(_get(obj, key, str, where), f"{where}.{key}")


def _parse_time(value: Any, where: str) -> float:
    try:
        return parse_iso_utc(value)
    except ValueError as err:
        raise _FieldError(f"{where}: {err}") from err


def _status(obj: Any, key: str, where: str) -> Status:
    value = _get(obj, key, str, where)
    try:
        return Status(value)
    except ValueError as err:
        choices = ", ".join(s.value for s in Status)
        raise _FieldError(f"{where + '.' if where else ''}{key} is {value!r}, not one of {choices}") from err


def _strings(obj: Any, key: str, where: str) -> list[str]:
    values = _get(obj, key, list, where)
    if not all(isinstance(v, str) for v in values):
        raise _FieldError(f"{where + '.' if where else ''}{key} should be a list of strings")
    return values


def _codes(obj: Any, key: str, where: str) -> dict[int, int]:
    counts: Mapping[str, Any] = _get(obj, key, dict, where)
    try:
        out = {int(code): n for code, n in counts.items()}
    except ValueError as err:
        raise _FieldError(f"{where}.{key} should be keyed by HTTP status codes") from err
    if not all(_is_int(n) for n in out.values()):
        raise _FieldError(f"{where}.{key} should map status codes to counts")
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
