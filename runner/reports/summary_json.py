"""summary.json: the machine-readable record of a run (a **contract**; see docs/summary-schema.md).

It carries everything ``loadlens verdict RUN_DIR`` needs to judge the run again: per-endpoint
counts, statuses and the sparse latency histograms (so a latency threshold is re-judged exactly,
not from rounded percentiles), the non-2xx statuses' own histograms and the run's expected
statuses (so expected responses are set apart exactly again), the timeline and the server series.
``load.load_summary`` reads it back; writing what was read gives the same text. Each type's
fields are one table (``runner/reports/fields.py``) that both directions walk.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from runner.judge.sustained import ROW_NAME as STOP_ROW
from runner.judge.verdict import incomplete_reasons
from runner.model import (
    PhaseMarks,
    Result,
    RunInfo,
    RunRecord,
    Verdict,
)
from runner.reports.atomic import write_atomic
from runner.reports.events_json import dump_alarms, dump_logs, dump_spike, load_alarms, load_logs, load_spike
from runner.reports.fields import (
    OPT_STR,
    FieldError,
    get,
    is_int,
    read_strings,
    read_time,
)
from runner.reports.redact import redacted_record
from runner.reports.summary_tables import (
    INTERVAL,
    MISSING,
    RESULT,
    SERIES,
    SERIES_SUMMARY,
    SHAPE,
    SNAPSHOT,
    duration_s,
    read_status,
)
from runner.timefmt import iso_utc

# 2: client criteria per scenario and per group, more statistics, require_statuses rows and the
# early stop (``early_stop``). Version 1 summaries are still read (nothing they hold changed).
SCHEMA_VERSION = 2
READ_VERSIONS = frozenset({1, 2})
# The rows of a run a stop ended early, and who stopped it (runner.judge.sustained, runner.judge.server).
_STOP_ROWS = {STOP_ROW: "client", "server safety stop": "server"}
FILE_NAME = "summary.json"
_INLINE_MAX_CHARS = 160  # a timeline point's endpoint digest row (~110 characters) stays on one line


def _early_stop(rows: Iterable[Result]) -> dict[str, str] | None:
    """Who ended the run before its planned end, and why: read off its stop row, if any."""
    found = next((r for r in rows if r.name in _STOP_ROWS), None)
    return None if found is None else {"scope": _STOP_ROWS[found.name], "reason": found.reason}


def summary_dict(record: RunRecord) -> dict[str, Any]:
    """The summary document of ``record`` as plain JSON-ready data (see docs/summary-schema.md),
    with credentials redacted from the host, command line, reasons and notes.

    Its reader, ``document_record``, is next to it: the document's own fields are written and read
    here, each type below it through its table."""
    record = redacted_record(record)
    info, verdict = record.info, record.verdict
    window_s = duration_s(record.window_start, record.window_end)
    run_s = duration_s(record.run_start, record.run_end)
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": info.run_id,
        "scenario": info.scenario,
        "host": info.host,
        "locustfile": info.locustfile,
        # -f as given with each file made absolute (added later: absent in older summaries)
        **({"locustfile_path": record.locustfile_path} if record.locustfile_path else {}),
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
            **_phases_dump(record.phases),
        },
        "criteria": [RESULT.dump(r) for r in verdict.results],
        "early_stop": _early_stop(verdict.results),
        "client": {
            # The statuses the run declared expected: their responses are counted apart, and the
            # criteria leave them out of latency and rps (see status_histograms in each ENDPOINT).
            "expected_statuses": sorted(record.judged.expected_statuses | record.whole.expected_statuses),
            **SNAPSHOT.dump(record.judged, {"duration_s": window_s}),
            "whole_run": SNAPSHOT.dump(record.whole, {"duration_s": run_s}),
            "timeline": [INTERVAL.dump(i) for i in record.timeline],
        },
        "server": {
            "series": [SERIES.dump(s) for s in record.server],
            "summaries": [SERIES_SUMMARY.dump(s) for s in record.server],
            "missing": [MISSING.dump(m) for m in record.server_missing],
            # Application log errors and alarms ([cloudwatch] log_group, alarms), when read.
            **({"logs": dump_logs(record.logs)} if record.logs is not None else {}),
            **({"alarms": dump_alarms(record.alarms)} if record.alarms is not None else {}),
        },
        "analysis": dict(record.analysis),
        # What makes two runs comparable (runner.compare); absent in summaries written before it.
        **({"comparability": SHAPE.dump(record.shape)} if record.shape is not None else {}),
        # When a staged run's spike happened (a stage marked recovery = true): recovery is judged from it.
        **({"spike": dump_spike(record.spike)} if record.spike is not None else {}),
    }


def document_record(doc: dict[str, Any]) -> RunRecord:
    """The RunRecord a summary document describes (its schema_version already checked); raises
    FieldError naming the first missing or mistyped field."""
    window = get(doc, "window", dict, "")
    run_start, run_end = (
        read_time(get(window, k, str, "window"), f"window.{k}") for k in ("run_start", "run_end")
    )
    start, end = (read_time(get(window, k, str, "window"), f"window.{k}") for k in ("start", "end"))
    client = get(doc, "client", dict, "")
    server = get(doc, "server", dict, "")
    interrupted = get(doc, "interrupted", bool, "")
    expected = _expected_statuses(client)
    notes = tuple(read_strings(get(doc, "notes", list, ""), "notes"))
    verdict = Verdict(
        results=tuple(RESULT.load(c, f"criteria[{i}]") for i, c in enumerate(get(doc, "criteria", list, ""))),
        status=read_status(get(doc, "verdict", str, ""), "verdict"),
        exit_code=get(doc, "exit_code", int, ""),
        interrupted=interrupted,
        notes=notes,
        incomplete=incomplete_reasons(notes),
    )
    versions = {
        name: value
        for name, key in (("loadlens", "loadlens_version"), ("locust", "locust_version"))
        if (value := get(doc, key, OPT_STR, "")) is not None
    }
    whole_run = get(client, "whole_run", dict, "client")
    return RunRecord(
        info=RunInfo(
            run_id=get(doc, "run_id", str, ""),
            scenario=get(doc, "scenario", str, ""),
            host=get(doc, "host", str, ""),
            started_at=run_start,
            role=role if isinstance(role := doc.get("role"), str) else "standalone",
            locustfile=get(doc, "locustfile", str, ""),
        ),
        run_start=run_start,
        run_end=run_end,
        window_start=start,
        window_end=end,
        window_kind=get(window, "kind", str, "window"),
        whole=SNAPSHOT.load(
            whole_run, "client.whole_run", start=run_start, end=run_end, expected_statuses=expected
        ),
        judged=SNAPSHOT.load(client, "client", start=start, end=end, expected_statuses=expected),
        timeline=tuple(
            INTERVAL.load(point, f"client.timeline[{i}]")
            for i, point in enumerate(get(client, "timeline", list, "client"))
        ),
        verdict=verdict,
        server=tuple(
            SERIES.load(s, f"server.series[{i}]") for i, s in enumerate(get(server, "series", list, "server"))
        ),
        interrupted=interrupted,
        server_missing=tuple(
            MISSING.load(m, f"server.missing[{i}]")
            for i, m in enumerate(get(server, "missing", list, "server") if "missing" in server else [])
        ),
        command=tuple(read_strings(get(doc, "command", list, ""), "command")),
        config_path=get(doc, "config_path", OPT_STR, ""),
        versions=versions,
        # The optional analysis section, kept as it was written (absent in older summaries).
        analysis=analysis if isinstance(analysis := doc.get("analysis"), dict) else {},
        shape=SHAPE.load(doc["comparability"], "comparability") if "comparability" in doc else None,
        phases=_phases_load(window),
        spike=load_spike(doc["spike"]) if "spike" in doc else None,
        logs=load_logs(server["logs"]) if "logs" in server else None,
        alarms=load_alarms(server["alarms"]) if "alarms" in server else None,
        locustfile_path=path if isinstance(path := doc.get("locustfile_path"), str) else "",
    )


def _phases_dump(phases: PhaseMarks | None) -> dict[str, Any]:
    """window.ramp_end and window.load_steps (the report's phase shading); absent when not known."""
    if phases is None:
        return {}
    return {
        "ramp_end": None if phases.ramp_end is None else iso_utc(phases.ramp_end),
        "load_steps": [
            {"at": iso_utc(at), "from_users": before, "to_users": after}
            for at, before, after in phases.load_steps
        ],
    }


def _phases_load(window: dict[str, Any]) -> PhaseMarks | None:
    """The phase marks of window (absent in summaries written before they were recorded)."""
    if "load_steps" not in window:
        return None
    raw = get(window, "ramp_end", OPT_STR, "window")
    steps = []
    for i, step in enumerate(get(window, "load_steps", list, "window")):
        where = f"window.load_steps[{i}]"
        steps.append(
            (
                read_time(get(step, "at", str, where), f"{where}.at"),
                get(step, "from_users", int, where),
                get(step, "to_users", int, where),
            )
        )
    return PhaseMarks(
        ramp_end=None if raw is None else read_time(raw, "window.ramp_end"), load_steps=tuple(steps)
    )


def _expected_statuses(client: dict[str, Any]) -> frozenset[int]:
    """client.expected_statuses (absent in older summaries: none set apart)."""
    if "expected_statuses" not in client:
        return frozenset()
    codes = get(client, "expected_statuses", list, "client")
    if not all(is_int(c) for c in codes):
        raise FieldError("client.expected_statuses should be a list of HTTP status codes")
    return frozenset(codes)


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


# -- text ---------------------------------------------------------------------------------------------
def _render(value: Any, depth: int) -> str:
    # json.dumps(indent=2) would put every histogram bucket and series point on lines of their
    # own (tens of thousands of lines): lists of scalars and short flat objects (a timeline
    # point's endpoint digest, status counts) stay on one line; everything else is indented. Lists
    # of numbers are written without spaces: histogram buckets are most of a long run's file.
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
    if isinstance(value, list):  # numbers on one line, without the spaces: a quarter of a soak's file
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return json.dumps(value, ensure_ascii=False, allow_nan=False)
