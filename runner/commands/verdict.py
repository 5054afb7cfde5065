"""`loadlens verdict RUN_DIR`: judge a finished run again from its summary.json.

Client criteria are recomputed exactly from the stored histograms against the thresholds now in
force (the config the run used, unless another is named), so a team can tighten a threshold and
re-gate an old run. Server metrics are pulled again for the run's window from CloudWatch and
Prometheus when they are configured (CloudWatch publishes late: a re-pull an hour later sees the
last periods), otherwise the stored series are judged with the current limits. The run directory's
summary.json, verdict.md and junit.xml are rewritten.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TextIO, TypeVar

from runner.compare.criteria import read_baseline
from runner.compare.tolerances import tolerances_from
from runner.config.load import load_config
from runner.config.options import flag_values
from runner.judge.alarms import ALARM_NOTE_PREFIX
from runner.judge.client import DEFAULT_NOTE, EXPECTED_NOTE_PREFIX
from runner.judge.logs import LOG_NOTE_PREFIX
from runner.judge.run import Measurements, RunCriteria, judge_run
from runner.judge.sustained import ROW_NAME as STOP_ROW
from runner.judge.verdict import INCOMPLETE_NOTE, incomplete_reasons
from runner.model import RunRecord, Status
from runner.readings import AlarmReading, LogReading, Missing, Series, ServerReadings, SourceFailure
from runner.reports import write_reports
from runner.reports.console import render_table
from runner.reports.load import load_summary
from runner.sources.server import ServerPlan, ServerSide, server_plan
from runner.stats.window import JudgedWindow

_REJUDGED = "re-judged by `loadlens verdict`"
_SAFETY_STOP = "server safety stop"
_NOT_AGAIN = ("application logs could not be read again", "the alarm history could not be read again")


def rejudge(
    run_dir: Path,
    *,
    config_file: str | None,
    env: Mapping[str, str],
    out: TextIO,
    correlate: bool = False,
    require: bool = False,
    aws_profile: str | None = None,
    aws_region: str | None = None,
    verbose: bool = False,
    baseline: str | None = None,
) -> int:
    record = load_summary(run_dir)
    directory = run_dir if run_dir.is_dir() else run_dir.parent
    path = Path(config_file) if config_file else None
    if path is None and record.config_path and Path(record.config_path).exists():
        path = Path(record.config_path)
    given = argparse.Namespace(
        correlate_cloudwatch=correlate or None,
        require_server_metrics=require or None,
        aws_profile=aws_profile,
        aws_region=aws_region,
    )
    cfg = load_config(path, env=env, flags=flag_values(given))
    plan = server_plan(cfg)
    if plan.cloudwatch is not None or plan.events:
        from runner import installed

        logs = "logs and alarms ([cloudwatch])"
        used_by = "--correlate-cloudwatch" if plan.cloudwatch is not None else logs
        installed.require(installed.AWS, used_by=f"loadlens verdict {used_by}")
    readings = stored_readings(record)
    if plan.cloudwatch is not None or plan.prometheus_url or plan.events:
        readings = _pull_again(record, plan, readings)
    # The run's own notes stay (its window, its cap, its sources'); what the judging adds is redone.
    kept = (
        _REJUDGED,
        EXPECTED_NOTE_PREFIX,
        INCOMPLETE_NOTE,
        DEFAULT_NOTE.split(" (")[0],  # older summaries wrote the server part as "CPU < 70 %"
        LOG_NOTE_PREFIX,
        ALARM_NOTE_PREFIX,
        *_NOT_AGAIN,
    )
    notes = tuple(n for n in record.verdict.notes if not n.startswith(kept))
    measured = Measurements(
        run_start=record.run_start,
        run_end=record.run_end,
        window=JudgedWindow(whole=record.whole, judged=record.judged, kind=record.window_kind),
        timeline=record.timeline,
        server=readings,
        interrupted=record.interrupted,
        incomplete=incomplete_reasons(record.verdict.notes),
        notes=(*notes, f"{_REJUDGED} with {path or 'the default thresholds'}"),
        client_stop=next((r.reason for r in record.verdict.results if r.name == STOP_ROW), None),
        spike=record.spike,
    )
    check = read_baseline(
        baseline,
        current_id=record.info.run_id,
        current_shape=record.shape,
        out_dir=directory.parent,
        scenario=record.info.scenario,
        run_dir=directory,
        aws_profile=aws_profile,
        aws_region=aws_region,
        tolerances=tolerances_from(
            cfg.compare, endpoint_limits=cfg.thresholds_for(record.info.scenario).endpoints
        ),
    )
    judged = judge_run(
        measured, replace(RunCriteria.of(cfg.thresholds_for(record.info.scenario), plan), baseline=check)
    )
    verdict = judged.verdict
    record = replace(
        record,
        verdict=verdict,
        server=judged.server.series,
        server_missing=judged.server.missing,
        config_path=str(path) if path else None,
        analysis=judged.analysis.section(),
        logs=judged.server.logs,
        alarms=judged.server.alarms,
    )
    write_reports(record, directory, env=env)
    color = out.isatty() and "NO_COLOR" not in env
    text = render_table(verdict, color=color, verbose=verbose).rstrip("\n")
    text += "".join(f"\nanalysis: {line}" for line in judged.analysis.findings)
    out.write(text + f"\nrun directory: {directory}\n")
    return verdict.exit_code


def stored_readings(record: RunRecord) -> ServerReadings:
    """The server side as the run recorded it: its series and missing metrics, and, read back from
    its rows, the sources that failed and the safety stop (summary.json keeps those as rows)."""
    failures: list[SourceFailure] = []
    safety_stop = None
    for row in record.verdict.results:
        if row.scope != "server":
            continue
        source = row.name[len("server metrics (") : -1] if row.name.startswith("server metrics (") else ""
        if source and row.criterion == f"{source} answers" and row.status is Status.INCONCLUSIVE:
            failures.append(SourceFailure(source, row.reason))
        elif row.name == _SAFETY_STOP and row.status is Status.FAIL:
            safety_stop = row.reason
    return ServerReadings(
        series=record.server,
        missing=record.server_missing,
        failures=tuple(failures),
        safety_stop=safety_stop,
        logs=record.logs,
        alarms=record.alarms,
    )


def _pull_again(record: RunRecord, plan: ServerPlan, stored: ServerReadings) -> ServerReadings:
    """Pull CloudWatch and Prometheus again for the run (they answer for the past; a process's
    samples are gone, so its series stay as stored). A series pulled again replaces the stored one
    in its place; a metric answered now is no longer missing."""
    side = ServerSide(replace(plan, process_pid=None, process_name=None))
    side.start()
    pulled = side.finish(run_start=record.run_start, run_end=record.run_end, settle=False)
    again = {_key(s): s for s in pulled.series}
    series = [again.pop(_key(s), s) for s in stored.series]
    series += again.values()
    answered = {_key(s) for s in series} | {_key(m) for m in pulled.missing}
    missing = [m for m in stored.missing if _key(m) not in answered]
    repulled = {"cloudwatch"} if plan.cloudwatch is not None else set()
    repulled |= {"prometheus"} if plan.prometheus_url else set()
    notes = list(pulled.notes)
    logs = _again(pulled.logs, stored.logs, _NOT_AGAIN[0], notes)
    alarms = _again(pulled.alarms, stored.alarms, _NOT_AGAIN[1], notes)
    return ServerReadings(
        series=tuple(series),
        missing=(*pulled.missing, *missing),
        failures=(*(f for f in stored.failures if f.source not in repulled), *pulled.failures),
        notes=tuple(notes),
        safety_stop=stored.safety_stop,
        logs=logs,
        alarms=alarms,
    )


_Read = TypeVar("_Read", LogReading, AlarmReading)


def _again(pulled: _Read | None, stored: _Read | None, note: str, notes: list[str]) -> _Read | None:
    """A log or alarm reading read again, else the run's own: a read that fails now keeps what the
    run read (with a note), and fails the row only when the run had nothing either."""
    if pulled is None:
        return stored
    if pulled.failure is not None and stored is not None and stored.failure is None:
        notes.append(f"{note} ({pulled.failure}): judged as the run read them")
        return stored
    return pulled


def _key(item: Series | Missing) -> tuple[str, str, str, str]:
    return (item.source, item.resource, item.metric, item.stat)
