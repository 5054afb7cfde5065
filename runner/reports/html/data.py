"""What the run report shows, as one JSON-ready document built from a RunRecord.

The page's script only draws: every number it shows is computed here and in the modules beside
(client, server, analysis), from the same RunRecord that summary.json holds and ``loadlens
verdict`` reloads, so the page agrees with the verdict.
Every part of it is bounded whatever the run's length or breadth: series are downsampled
(min/max per time bucket), per-endpoint timelines are kept for the busiest endpoints only, and
latency distributions are re-binned into a fixed number of bins.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import runner
from runner.model import Result, RunRecord
from runner.reports.html.analysis import correlation, trends
from runner.reports.html.client import client_series, endpoint_rows, endpoint_series
from runner.reports.html.downsample import DEFAULT_BUCKETS
from runner.reports.html.numbers import add, sig
from runner.reports.html.server import server_chart
from runner.reports.redact import redacted_record
from runner.reports.tables import observed_and_limit, verdict_line
from runner.timefmt import iso_utc

# Bounds that keep a 24 h x 200-endpoint report small (docs/report.md states the resulting size);
# the client's are in client.py.
MAX_FAILURE_ROWS = 200


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
    sections: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The page's document: the first record in full, and an overlay of all when there are several.
    ``sections``: JSON-ready parts made elsewhere, drawn when present ("comparison" by ``loadlens
    compare --html``, "history" by ``loadlens history --html``: runner.compare.render)."""
    if not records:
        raise ValueError("a report needs at least one run")
    first = redacted_record(records[0])
    doc = run_data(first, failures=failures, buckets=options.buckets)
    if len(records) > 1:
        doc["overlay"] = [overlay_run(redacted_record(r), buckets=options.buckets) for r in records]
    for name, section in (sections or {}).items():
        doc[name] = dict(section)
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
        "endpoint_latency": endpoint_series(record.timeline, buckets=buckets),
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
        "command": " ".join(shown_command(record.command)),
        "interrupted": record.interrupted or record.verdict.interrupted,
    }


def shown_command(parts: Sequence[str]) -> list[str]:
    """The command line as the page shows it: a path inside loadlens's own package (the demo's
    locustfile and config) as ``runner/...``, which is where it is on every machine, instead of
    where this one installed it. Everything else as typed (secrets already redacted)."""
    package_root = str(Path(runner.__file__).resolve().parent.parent)
    prefix = package_root.rstrip(os.sep) + os.sep
    return [part.replace(prefix, "") for part in parts]


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
    """Shaded spans, each phase apart: ramp-up, warm-up, the judged window (steady state) cut at
    each load step inside it, cool-down. ``kind`` picks the shade. A summary written before the
    phases were recorded shades ramp-up and warm-up as one span, and its load steps are marks only."""
    out: list[dict[str, Any]] = []
    start, end = record.window_start, record.window_end
    marks = record.phases
    ramp_end = marks.ramp_end if marks is not None else None
    steady = record.window_kind == "steady_state"
    if steady and ramp_end is not None:
        ramp_end = min(max(ramp_end, record.run_start), start)
        if ramp_end > record.run_start:
            out.append(_span("ramp", "ramp-up", record.run_start, ramp_end))
        if start > ramp_end:
            out.append(_span("warm", "warm-up", ramp_end, start))
    elif start > record.run_start:
        name = "ramp-up" if marks is not None else "ramp-up / warm-up"
        out.append(_span("ramp", name, record.run_start, start))
    # Load steps as recorded (a summary written before has them only as marks, from the timeline).
    recorded = marks.load_steps if marks is not None else ()
    steps = [(at, a, b) for at, a, b in recorded if start < at < end]
    edges = [start, *(at for at, _a, _b in steps), end]
    out.append(_span("steady", "steady state (judged)" if steady else "judged window", start, edges[1]))
    for i, (at, before, after) in enumerate(steps):
        name = f"load step {i + 2}: {before} → {after} users (judged)"
        out.append(_span("step" if i % 2 == 0 else "steady", name, at, edges[i + 2]))
    if record.run_end > end:
        out.append(_span("cool", "cool-down", end, record.run_end))
    return out


def _span(kind: str, name: str, start: float, end: float) -> dict[str, Any]:
    return {"kind": kind, "name": name, "start": start, "end": end}


def _load_steps(record: RunRecord) -> list[tuple[float, int, int]]:
    """The load steps as the run recorded them (at the moment the user count rose) or, in a summary
    written before that, as the timeline shows them (the user count changing between intervals)."""
    if record.phases is not None:
        return list(record.phases.load_steps)
    out, previous = [], None
    for iv in record.timeline:
        if previous is not None and iv.users != previous:
            out.append((iv.start, previous, iv.users))
        previous = iv.users
    return out


def marks(record: RunRecord) -> list[dict[str, Any]]:
    """Vertical marks: load steps inside the judged window and the first breach."""
    out: list[dict[str, Any]] = [
        {"kind": "step", "at": at, "text": f"load step: {before} → {after} users"}
        for at, before, after in _load_steps(record)
        if record.window_start <= at <= record.window_end
    ]
    breach = record.analysis.get("first_breach")
    if isinstance(breach, Mapping) and isinstance(breach.get("at"), int | float):
        out.append(
            {"kind": "breach", "at": breach["at"], "text": str(breach.get("sentence", "first breach"))}
        )
    return out


# -- client -----------------------------------------------------------------------------------------------


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
    rel = [sig(t - record.run_start) for t in client["t"]]
    return {
        "run_id": record.info.run_id,
        "verdict": record.verdict.status.value,
        "start": iso_utc(record.run_start),
        "t": rel,
        **{k: client[k] for k in ("users", "p95_ms", "error_percent")},
        "rps": [add(a, b) for a, b in zip(client["rps_ok"], client["rps_failed"], strict=True)],
    }
