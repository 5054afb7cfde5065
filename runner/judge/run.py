"""How the verdict is made: one pure function from a run's measurements to its judgement.

``loadlens run`` (the Locust adapter gathers the measurements at the end of the run) and
``loadlens verdict RUN_DIR`` (it reads them back from summary.json) both call ``judge_run``, so a
re-judged run with the run's own config gives the run's own rows. In order: the judged window
(steady state, or the whole run with a note), client criteria, server criteria (from the series
read, the metrics missing, the sources that failed and the safety stop), the analysis (first
breach, headroom, trends) with the leak criterion, and the overall status with its notes.

No Locust, no I/O: frozen data in, frozen data out. A failure while judging the server side or
analysing becomes an INCONCLUSIVE row or a note, never a lost verdict and never a pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from runner.compare.regression import BaselineCheck, baseline_rows
from runner.config.types import RecoveryConfig, ServerCriteriaLimits
from runner.judge.alarms import judge_alarms
from runner.judge.analysis import Analysis, LeakLimits, analyse
from runner.judge.client import ThresholdSet, expected_note, judge_client, with_defaults
from runner.judge.logs import judge_logs
from runner.judge.recovery import NAME as RECOVERY
from runner.judge.recovery import judge_recovery, judge_scale_out
from runner.judge.server import judge_readings, source_failed
from runner.judge.sustained import stop_row
from runner.judge.verdict import decide
from runner.logs import get_logger
from runner.model import EndpointStats, Interval, PhaseMarks, Result, Snapshot, SpikeMarks, Status, Verdict
from runner.readings import Series, ServerReadings
from runner.stats.window import JudgedWindow, choose_window
from runner.timefmt import quantize_s

if TYPE_CHECKING:
    from runner.sources.server import ServerPlan

log = get_logger("loadlens")


@dataclass(frozen=True, slots=True)
class WindowMarks:
    """The cumulative snapshots a live run took: at its end, and where the steady state began and
    (with a cool-down) ended; None when that moment never came."""

    final: Snapshot
    steady_start: Snapshot | None = None
    steady_end: Snapshot | None = None
    phases: PhaseMarks | None = None  # the other phase changes, for the reports (not judged)


@dataclass(frozen=True, slots=True)
class Measurements:
    """Everything a run measured, before any judging.

    ``window`` is the marks of a live run (the window is chosen here) or, for a run read back from
    its summary, the window it judged. ``server`` is None when no server side was configured.
    ``incomplete``: why the run is incomplete (interrupted, a worker lost); ``notes``: what the
    measuring has to say (a cool-down before the steady state, names over the cap);
    ``client_stop``: the reason runner.judge.sustained stopped the run, a FAIL row."""

    run_start: float
    run_end: float
    window: WindowMarks | JudgedWindow
    timeline: tuple[Interval, ...] = ()
    server: ServerReadings | None = None
    interrupted: bool = False
    incomplete: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    client_stop: str | None = None  # why a sustained client breach ended the run (abort_after)
    spike: SpikeMarks | None = None  # a staged run with a recovery stage (runner.judge.recovery)


@dataclass(frozen=True, slots=True)
class RunCriteria:
    """The limits a run is judged by: ``[thresholds]``, ``[server]`` (``required`` copies
    --require-server-metrics onto every server row) and the leak levels."""

    thresholds: ThresholdSet
    server: ServerCriteriaLimits = field(default_factory=ServerCriteriaLimits)
    required: bool = False
    leak: LeakLimits = field(default_factory=LeakLimits)
    baseline: BaselineCheck | None = (
        None  # --baseline, read by the caller (runner.compare.criteria.read_baseline)
    )
    recovery: RecoveryConfig = field(default_factory=RecoveryConfig)
    max_log_errors: int | None = None  # [cloudwatch] max_log_errors
    max_alarms: int | None = None  # [cloudwatch] max_alarms

    @staticmethod
    def of(thresholds: ThresholdSet, plan: ServerPlan) -> RunCriteria:
        """The criteria of a run planned with ``thresholds`` and the server plan ``plan``."""
        return RunCriteria(
            thresholds=thresholds,
            server=plan.limits,
            required=plan.required,
            leak=LeakLimits(
                warn_per_h=plan.leak_warn_per_hour,
                fail_per_h=plan.leak_fail_per_hour,
                min_duration_s=plan.leak_min_duration_s,
            ),
            recovery=plan.recovery,
            max_log_errors=plan.max_log_errors,
            max_alarms=plan.max_alarms,
        )


@dataclass(frozen=True, slots=True)
class Judgement:
    """The verdict of one run, the window it judged, the analysis, and the server readings judged."""

    window: JudgedWindow
    verdict: Verdict
    analysis: Analysis
    server: ServerReadings


def judge_run(measured: Measurements, criteria: RunCriteria) -> Judgement:
    """Judge one run (see the module docstring for the order), on its times as summary.json keeps
    them (``at_report_precision``)."""
    measured = at_report_precision(measured)
    window = _window(measured)
    # A window cut from marks has new extremes (bounded by its histogram): round them as stored.
    window = replace(window, whole=_snapshot_ms(window.whole), judged=_snapshot_ms(window.judged))
    judged = window.judged
    notes = [*window.notes, *measured.notes]
    incomplete = list(measured.incomplete)
    if window.incomplete and not measured.interrupted:
        incomplete.append(window.incomplete)
    thresholds, default_note = with_defaults(criteria.thresholds)
    criteria = replace(criteria, thresholds=thresholds)
    if default_note is not None:
        notes.append(default_note)
    results: list[Result] = judge_client(judged, thresholds, window=window.label)
    if measured.client_stop is not None:
        results.append(stop_row(measured.client_stop))
    if (note := expected_note(judged, thresholds)) is not None:
        notes.append(note)
    readings = measured.server or ServerReadings()
    if measured.server is not None:
        try:
            results += judge_readings(
                readings,
                window_start=judged.start,
                window_end=judged.end,
                limits=criteria.server,
                required=criteria.required,
                run_s=measured.run_end - measured.run_start,
            )
        except Exception as exc:  # a bug on the server side must not cost the client verdict
            reason = f"loadlens could not judge server metrics: {type(exc).__name__}: {exc}"
            log.error("server metrics could not be judged", error=reason)
            results.append(source_failed("server", reason, required=criteria.required))
            readings = ServerReadings(logs=readings.logs, alarms=readings.alarms)
        notes += [n for n in readings.notes if n not in notes]  # a re-pull repeats the run's own
        results += _events(readings, judged, criteria, notes)
    try:
        results += _recovery(measured, readings, criteria)
    except Exception as exc:  # a bug here must not cost the verdict, nor pass it
        reason = f"loadlens could not judge recovery: {type(exc).__name__}: {exc}"
        log.error("recovery could not be judged", error=reason, exc_info=True)
        results.append(Result(RECOVERY, "recovery judged", None, None, Status.INCONCLUSIVE, reason))
    found = _analyse(measured, judged, readings, criteria, notes)
    results += found.results
    results += baseline_rows(  # --baseline: runner.compare.regression (read beforehand)
        criteria.baseline,
        judged=judged,
        timeline=measured.timeline,
        server=readings.series,
        analysis=found.section(),
    )
    verdict = decide(results, interrupted=measured.interrupted, notes=notes, incomplete=incomplete)
    return Judgement(window=window, verdict=verdict, analysis=found, server=readings)


def at_report_precision(measured: Measurements) -> Measurements:
    """``measured`` as summary.json stores it: every time rounded to the millisecond, latency
    extremes (min, max, an interval's endpoint p95) to the microsecond. A run and its re-judge then
    see the same window bounds, the same server periods inside them, the same durations and the
    same clamp of a percentile to the maximum (a process sample 0.3 ms from the window's edge must
    not flip sides). Rounding what is already rounded changes nothing."""
    window = measured.window
    if isinstance(window, WindowMarks):
        window = WindowMarks(
            final=_snapshot_ms(window.final),
            steady_start=None if window.steady_start is None else _snapshot_ms(window.steady_start),
            steady_end=None if window.steady_end is None else _snapshot_ms(window.steady_end),
        )
    else:
        window = replace(window, whole=_snapshot_ms(window.whole), judged=_snapshot_ms(window.judged))
    server = measured.server
    if server is not None:
        server = replace(server, series=tuple(_series_ms(s) for s in server.series))
    return replace(
        measured,
        run_start=quantize_s(measured.run_start),
        run_end=quantize_s(measured.run_end),
        window=window,
        timeline=tuple(
            replace(iv, start=quantize_s(iv.start), end=quantize_s(iv.end)) for iv in measured.timeline
        ),
        server=server,
        spike=None
        if measured.spike is None
        else replace(
            measured.spike,
            pre_start=quantize_s(measured.spike.pre_start),
            spike_start=quantize_s(measured.spike.spike_start),
            spike_end=quantize_s(measured.spike.spike_end),
        ),
    )


def _snapshot_ms(snapshot: Snapshot) -> Snapshot:
    return replace(
        snapshot,
        start=quantize_s(snapshot.start),
        end=quantize_s(snapshot.end),
        endpoints={key: _stats_us(stats) for key, stats in snapshot.endpoints.items()},
    )


def _stats_us(stats: EndpointStats) -> EndpointStats:
    return replace(stats, min_ms=_us(stats.min_ms), max_ms=_us(stats.max_ms))


def _us(value_ms: float | None) -> float | None:
    """A latency to the microsecond: summary.json's three decimals of a millisecond."""
    return None if value_ms is None or not math.isfinite(value_ms) else round(value_ms, 3)


def _series_ms(series: Series) -> Series:
    return replace(series, points=tuple((quantize_s(t), v) for t, v in series.points))


def _window(measured: Measurements) -> JudgedWindow:
    if isinstance(measured.window, JudgedWindow):
        return measured.window
    marks = measured.window
    return choose_window(
        marks.final,
        run_start=measured.run_start,
        run_end=measured.run_end,
        steady_start=marks.steady_start,
        steady_end=marks.steady_end,
    )


def _recovery(measured: Measurements, readings: ServerReadings, criteria: RunCriteria) -> list[Result]:
    """The recovery row and, when expected, the ECS scale-out rows of a run with a spike."""
    limits = criteria.recovery
    warn = criteria.thresholds.warn_ratio
    row = judge_recovery(
        measured.spike, measured.timeline, run_end=measured.run_end, limits=limits, warn_ratio=warn
    )
    scaled = judge_scale_out(measured.spike, readings.series, run_end=measured.run_end, limits=limits)
    return [*([row] if row is not None else []), *scaled]


def _events(
    readings: ServerReadings, judged: Snapshot, criteria: RunCriteria, notes: list[str]
) -> list[Result]:
    """Application log errors and alarms in the judged window: rows when limited, notes always.
    Notes a re-judge finds again in the run's own are not repeated."""
    rows, said = judge_logs(
        readings.logs,
        start=judged.start,
        end=judged.end,
        limit=criteria.max_log_errors,
        warn_ratio=criteria.thresholds.warn_ratio,
    )
    more, fired = judge_alarms(readings.alarms, start=judged.start, end=judged.end, limit=criteria.max_alarms)
    notes += [n for n in (*said, *fired) if n not in notes]
    return [*rows, *more]


def _analyse(
    measured: Measurements,
    judged: Snapshot,
    readings: ServerReadings,
    criteria: RunCriteria,
    notes: list[str],
) -> Analysis:
    """Correlation and soak analysis; a failure here is a note, never a lost verdict."""
    try:
        return analyse(
            timeline=measured.timeline,
            server=readings.series,
            window_start=judged.start,
            window_end=judged.end,
            thresholds=criteria.thresholds,
            cpu_limit_percent=criteria.server.cpu_percent,
            memory_limit_percent=criteria.server.memory_percent,
            leak=criteria.leak,
        )
    except Exception as exc:
        log.error("the run's analysis failed", error=str(exc), exc_info=True)
        notes.append(f"the analysis failed: {exc}")
        return Analysis()
