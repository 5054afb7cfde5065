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
from typing import TextIO

from runner.compare.compare import tolerances_from, view_of
from runner.compare.criteria import BASELINE_SUFFIX, baseline_results
from runner.config.load import load_config
from runner.config.options import flag_values
from runner.judge.analysis import analyse_with_plan
from runner.judge.client import EXPECTED_NOTE_PREFIX, expected_note, judge_client
from runner.judge.server import judge_server
from runner.judge.verdict import decide, incomplete_reasons
from runner.model import Result, RunRecord, Series
from runner.reports import write_reports
from runner.reports.console import render_table
from runner.reports.load import load_summary
from runner.sources.base import SourceResult
from runner.sources.server import ServerPlan, ServerSide, server_plan

_REJUDGED = "re-judged by `loadlens verdict`"


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
    baseline: str | None = None,
    verbose: bool = False,
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
    window = "steady state" if record.window_kind == "steady_state" else "whole run"
    client = judge_client(record.judged, cfg.thresholds, window=window)
    plan = server_plan(cfg)
    if plan.cloudwatch is not None:
        from runner import installed

        installed.require(installed.AWS, used_by="loadlens verdict --correlate-cloudwatch")
    notes = [n for n in record.verdict.notes if not n.startswith((_REJUDGED, EXPECTED_NOTE_PREFIX))]
    if (note := expected_note(record.judged, cfg.thresholds)) is not None:
        notes.append(note)

    server_rows: list[Result]
    series: tuple[Series, ...]
    missing = record.server_missing
    if plan.cloudwatch is not None or plan.prometheus_url:
        # Pull again: only the sources that can answer for the past (a process's samples are gone).
        side = ServerSide(replace(plan, process_pid=None, process_name=None))
        side.start()
        outcome = side.finish(
            run_start=record.run_start,
            run_end=record.run_end,
            window_start=record.window_start,
            window_end=record.window_end,
            settle=False,
        )
        pulled = {(s.source, s.resource, s.metric, s.stat) for s in outcome.result.series}
        kept = tuple(s for s in record.server if (s.source, s.resource, s.metric, s.stat) not in pulled)
        series = (*outcome.result.series, *kept)
        answered = pulled | {(m.source, m.resource, m.metric, m.stat) for m in outcome.result.missing}
        missing = (
            *outcome.result.missing,
            *(m for m in record.server_missing if (m.source, m.resource, m.metric, m.stat) not in answered),
        )
        server_rows = list(outcome.results)
        if kept:
            server_rows += _judge_stored(kept, record, plan)
        notes += list(outcome.notes)
    elif record.server:
        series = record.server
        server_rows = _judge_stored(series, record, plan)
    else:
        series = ()
        server_rows = [r for r in record.verdict.results if r.scope != "client"]
    # Criteria the analysis adds (the leak criterion) and baseline rows are recomputed below, not kept.
    server_rows = [r for r in server_rows if not r.name.endswith((" growth", BASELINE_SUFFIX))]
    found = analyse_with_plan(
        timeline=record.timeline,
        server=series,
        window_start=record.window_start,
        window_end=record.window_end,
        thresholds=cfg.thresholds,
        plan=plan,
    )
    notes.append(f"{_REJUDGED} with {path or 'the default thresholds'}")
    vs_baseline = baseline_results(
        baseline,
        replace(view_of(record), server=series, analysis=found.section),
        out_dir=directory.parent,
        scenario=record.info.scenario,
        run_dir=directory,
        aws_profile=aws_profile,
        aws_region=aws_region,
        tolerances=tolerances_from(cfg.compare),
    )
    verdict = decide(
        [*client, *server_rows, *found.results, *vs_baseline],
        interrupted=record.interrupted,
        notes=notes,
        incomplete=incomplete_reasons(notes),
    )
    record = replace(
        record,
        verdict=verdict,
        server=series,
        server_missing=missing,
        config_path=str(path) if path else None,
        analysis={**found.section, "findings": list(found.sentences)},
    )
    write_reports(record, directory, env=env)
    color = out.isatty() and "NO_COLOR" not in env
    text = render_table(verdict, color=color, verbose=verbose).rstrip("\n")
    text += "".join(f"\nanalysis: {line}" for line in found.sentences)
    out.write(text + f"\nrun directory: {directory}\n")
    return verdict.exit_code


def _judge_stored(series: tuple[Series, ...], record: RunRecord, plan: ServerPlan) -> list[Result]:
    return list(
        judge_server(
            SourceResult(series=series),
            window_start=record.window_start,
            window_end=record.window_end,
            limits=plan.limits,
            required=plan.required,
            run_s=record.run_end - record.run_start,
        )
    )
