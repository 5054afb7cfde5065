"""The end of a run, after Locust stopped: the server side's last pull, the judgement's record, and
the closing text on the console.

The verdict itself is made by ``runner.judge.run.judge_run``; this module gathers what it needs
from the live objects and shapes what it returns. No Locust here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from runner.config.plan import RunPlan
from runner.judge.run import Judgement, Measurements, RunCriteria, WindowMarks, judge_run
from runner.locust.baseline import shape_and_baseline
from runner.locust.lifecycle import USER_STOP_GRACE_S, InterruptShield, stop_users_gracefully
from runner.locust.outputs import Annotator
from runner.locust.phases import Phases
from runner.locust.startup import exit_code_note, locustfile_paths
from runner.logs import get_logger, redact_text
from runner.model import LiveState, RunInfo, RunRecord, Snapshot, SpikeMarks
from runner.readings import ServerReadings, SourceFailure
from runner.reports import write_reports
from runner.reports.console import render_table
from runner.reports.redact import redact_html_report
from runner.sources.server import ServerSide
from runner.stats.store import StatsStore, Timeline

if TYPE_CHECKING:
    from exporters.base import Exporter

log = get_logger("loadlens")


def redact_locust_report(environment: Any) -> None:
    """Locust wrote its HTML report (before ``quitting``) with the raw host: a password in it
    must not stay in the run directory."""
    html = getattr(environment.parsed_options, "html_file", None)
    host = environment.host or ""
    if html and redact_text(host) != host:
        redact_html_report(Path(html))


def stop_users(environment: Any, shield: InterruptShield) -> None:
    """An interrupted standalone run lets its users finish the request they are in before the
    summary is taken, so no request the target received is missing from it (bounded; a second
    Ctrl-C ends the wait). A master's users live on its workers, which Locust stops."""
    runner = environment.runner
    if runner is None:
        return
    grace_s = float(getattr(environment, "stop_timeout", None) or USER_STOP_GRACE_S)
    left = stop_users_gracefully(runner.user_greenlets, grace_s=grace_s, hurry=shield.hurry)
    if left:
        log.warning(
            "users still running after the stop wait: their requests in flight are not counted",
            users=left,
        )


def stop_outputs(
    annotator: Annotator | None, exporters: Sequence[Exporter], state: LiveState, record: RunRecord | None
) -> None:
    """Stop the annotator and the exporters. With the run's ``record``, the last export carries the
    verdict's own results (server criteria included), so a dashboard's final state is the verdict,
    not the live approximation of it, and the annotator closes the run with the verdict."""
    final = state if record is None else replace(state, results=record.verdict.results)
    if annotator is not None:
        if record is not None:
            from exporters.grafana.annotations import verdict_text

            v = record.verdict
            annotator.finish(status=v.status.value, summary=verdict_text(v), end=record.run_end)
        annotator.stop(final)
    for exporter in exporters:
        try:
            exporter.stop(final)
        except Exception as exc:
            log.warning(
                "exporter failed to stop cleanly", exporter=getattr(exporter, "name", "?"), error=str(exc)
            )


def wait_outputs(annotator: Annotator | None, exporters: Sequence[Exporter], shield: InterruptShield) -> None:
    """Wait for the annotator's and the exporters' last sends and lingers; a Ctrl-C ends the wait."""
    waiting: list[Exporter | Annotator] = [*([annotator] if annotator is not None else []), *exporters]
    try:
        with shield.interruptible():
            for exporter in waiting:
                if shield.hurry.is_set():
                    break
                exporter.wait_linger()
    except KeyboardInterrupt:
        log.info("stopped waiting for the exporters to finish")


def measurement_notes(phases: Phases, store: StatsStore, *, max_endpoints: int) -> tuple[str, ...]:
    """What the measuring itself has to say: no steady state before the cool-down, names folded."""
    notes = [phases.cooldown_early] if phases.cooldown_early is not None else []
    if store.overflowed_requests:
        notes.append(
            f"{store.overflowed_requests} requests had names beyond the cap of {max_endpoints} "
            "endpoints and were counted under '(other)'"
        )
    return tuple(notes)


def gather_server(
    server: ServerSide | None, run: tuple[float, float], *, interrupted: bool, shield: InterruptShield
) -> ServerReadings | None:
    """The server side's readings of the run (its start and end, epoch s), or None when no source
    was configured. A bug while reading becomes a failed "server" source (an INCONCLUSIVE row),
    never a lost verdict."""
    if server is None or not (server.sources or server.failures or server.plan.events):
        return None
    run_start, run_end = run
    try:
        return _pull(server, run_start=run_start, run_end=run_end, interrupted=interrupted, shield=shield)
    except Exception as exc:  # a bug on the server side must not cost the client verdict
        reason = f"loadlens could not judge server metrics: {type(exc).__name__}: {exc}"
        log.error("server metrics could not be judged", error=reason)
        return ServerReadings(failures=(SourceFailure("server", reason),))


def _pull(
    server: ServerSide, *, run_start: float, run_end: float, interrupted: bool, shield: InterruptShield
) -> ServerReadings:
    """Pull the run from every source; wait for CloudWatch to settle unless the run was
    interrupted (a second Ctrl-C during the wait judges what has arrived)."""

    def progress(message: str) -> None:
        log.info("waiting for server metrics", detail=message)

    settle = not interrupted and not shield.hurry.is_set()
    try:
        with shield.interruptible():
            return server.finish(run_start=run_start, run_end=run_end, settle=settle, on_progress=progress)
    except KeyboardInterrupt:
        log.warning("stopped waiting for server metrics; judging what has arrived")
        got = server.finish(run_start=run_start, run_end=run_end, settle=False, on_progress=progress)
        return replace(got, notes=(*got.notes, "the wait for server metrics was interrupted"))


def run_record(
    plan: RunPlan,
    info: RunInfo,
    measured: Measurements,
    judged: Judgement,
    *,
    versions: Mapping[str, str],
) -> RunRecord:
    """What the reports write about a judged run."""
    window = judged.window
    return RunRecord(
        info=info,
        run_start=measured.run_start,
        run_end=measured.run_end,
        window_start=window.judged.start,
        window_end=window.judged.end,
        window_kind=window.kind,
        whole=window.whole,
        judged=window.judged,
        timeline=measured.timeline,
        verdict=judged.verdict,
        server=judged.server.series,
        interrupted=measured.interrupted,
        command=plan.command,
        config_path=str(plan.config_path) if plan.config_path else None,
        versions=dict(versions),
        analysis=judged.analysis.section(),
        server_missing=judged.server.missing,
        phases=measured.window.phases if isinstance(measured.window, WindowMarks) else None,
        spike=measured.spike,
        logs=judged.server.logs,
        alarms=judged.server.alarms,
    )


def closing_text(
    record: RunRecord, plan: RunPlan | None, *, color: bool, exit_code: int | None = None
) -> str:
    """The verdict table, the analysis's findings, the run directory and its report.html, where an
    exit code other than the verdict's came from, and the dashboard's link."""
    text = render_table(record.verdict, color=color, verbose=bool(plan and plan.verbose))
    findings = record.analysis.get("findings") or []
    if findings:
        text = text.rstrip("\n") + "\n" + "".join(f"analysis: {line}\n" for line in findings)
    where = f"\nrun directory: {plan.run_dir}\n" if plan and plan.run_dir else "\n"
    if plan and plan.run_dir and (page := Path(plan.run_dir) / "report.html").is_file():
        where += f"report: {page}\n"  # the page to open first (runner.reports.html)
    if exit_code is not None:
        where += exit_code_note(exit_code, record, plan.exit_code_on_error if plan else None)
    grafana = plan.config.grafana if plan else None
    if grafana is not None and grafana.url:
        from exporters.grafana.annotations import DEFAULT_DASHBOARD_UID, dashboard_link

        link = dashboard_link(
            grafana.url,
            uid=grafana.dashboard_uid or DEFAULT_DASHBOARD_UID,
            run_id=record.info.run_id,
            start=record.run_start,
            end=record.run_end,
        )
        where += f"grafana: {link}\n"
    return "\n" + text.rstrip("\n") + where


def measure(
    phases: Phases,
    final: Snapshot,
    store: StatsStore,
    timeline: Timeline,
    server: ServerReadings | None,
    plan: RunPlan,
    *,
    incomplete: Sequence[str],
    interrupted: bool,
    spike: SpikeMarks | None = None,
) -> Measurements:
    """What a run measured, ready for ``judge_run``."""
    assert phases.run_start is not None and phases.run_end is not None
    return Measurements(
        run_start=phases.run_start,
        run_end=phases.run_end,
        window=phases.marks(final),
        timeline=timeline.points,
        server=server,
        interrupted=interrupted,
        incomplete=tuple(incomplete),
        notes=measurement_notes(phases, store, max_endpoints=plan.max_endpoints),
        client_stop=phases.live.stop,
        spike=spike,
    )


def judge_and_write(
    environment: Any,
    plan: RunPlan,
    info: RunInfo,
    measured: Measurements,
    *,
    planned_s: float | None,
    versions: Mapping[str, str],
    env: Mapping[str, str],
) -> RunRecord:
    """Judge the run (``runner.judge.run``) and its ``--baseline``, write its run directory, return
    its record."""
    shape, baseline = shape_and_baseline(environment, plan, info, planned_s=planned_s)
    judged = judge_run(measured, replace(RunCriteria.of(plan.thresholds, plan.server), baseline=baseline))
    record = replace(
        run_record(plan, info, measured, judged, versions=versions),
        shape=shape,
        locustfile_path=locustfile_paths(getattr(environment, "parsed_options", None)),
    )
    if plan.run_dir is not None:
        write_reports(record, plan.run_dir, env=env)
    return record


def print_closing(
    out: TextIO, record: RunRecord, plan: RunPlan | None, *, env: Mapping[str, str], exit_code: int
) -> None:
    """The verdict table and closing lines, coloured on a terminal unless NO_COLOR is set."""
    color = out.isatty() and "NO_COLOR" not in env
    out.write(closing_text(record, plan, color=bool(color), exit_code=exit_code))
    out.flush()
