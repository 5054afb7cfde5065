"""judge_run: the one path from a run's measurements to its verdict (window, client and server
criteria, analysis, overall status), on snapshots recorded by the real StatsStore over a fake clock."""

from __future__ import annotations

from runner.config.load import Limits, Thresholds
from runner.config.types import ServerCriteriaLimits
from runner.judge.analysis import LeakLimits
from runner.judge.run import Measurements, RunCriteria, WindowMarks, judge_run
from runner.model import Snapshot, Status
from runner.readings import Series, ServerReadings, SourceFailure
from runner.stats.store import StatsStore
from runner.stats.window import JudgedWindow
from tests.support.timelines import FakeClock

T0 = 1_700_000_000.0
CRITERIA = RunCriteria(thresholds=Thresholds(default=Limits(p95_ms=100, error_rate=0.1), per_endpoint=False))


def load(clock: FakeClock, store: StatsStore, *, seconds: int, latency_ms: float) -> Snapshot:
    """``seconds`` of 50 requests a second to GET /x at ``latency_ms``; the cumulative snapshot after."""
    for _ in range(seconds):
        for _ in range(50):
            store.record("GET", "/x", latency_ms, 200, False, 10)
        clock.t += 1
    return store.snapshot(users=5)


def marks() -> tuple[WindowMarks, float]:
    """A run: 10 s of slow ramp-up (500 ms), then 20 s of fast steady state (20 ms)."""
    clock = FakeClock(T0)
    store = StatsStore(clock=clock)
    start = load(clock, store, seconds=10, latency_ms=500)
    final = load(clock, store, seconds=20, latency_ms=20)
    return WindowMarks(final=final, steady_start=start), clock.t


def by_name(verdict) -> dict:
    return {r.name: r for r in verdict.results}


def cpu(value: float, *, start: float, n: int = 30) -> Series:
    points = tuple((start + i, value) for i in range(n))
    return Series("process", "pid:1", "cpu_percent", "Average", "Percent", points, 1.0)


class TestWindow:
    def test_the_steady_state_is_judged_not_the_ramp_up(self) -> None:
        """With a steady-state mark, criteria judge the steady state only: the slow ramp-up is out."""
        window, end = marks()
        judged = judge_run(Measurements(run_start=T0, run_end=end, window=window), CRITERIA)
        rows = by_name(judged.verdict)
        assert judged.window.kind == "steady_state"
        assert rows["all requests p95"].status is Status.PASS
        assert rows["all requests p95"].observed is not None and rows["all requests p95"].observed < 25
        assert judged.verdict.status is Status.PASS

    def test_no_steady_state_judges_the_whole_run_and_never_passes(self) -> None:
        """Without a steady-state mark the whole run is judged and the verdict is at best INCONCLUSIVE."""
        window, end = marks()
        measured = Measurements(run_start=T0, run_end=end, window=WindowMarks(final=window.final))
        judged = judge_run(measured, CRITERIA)
        assert judged.window.kind == "whole_run"
        assert judged.verdict.status is Status.FAIL  # the ramp-up's 500 ms are in the whole run
        relaxed = RunCriteria(thresholds=Thresholds(default=Limits(p95_ms=1000), per_endpoint=False))
        again = judge_run(measured, relaxed)
        assert again.verdict.status is Status.INCONCLUSIVE
        assert again.verdict.incomplete == ("the steady state was never reached",)

    def test_an_interrupted_run_carries_its_own_reason_only(self) -> None:
        """An interrupted run's reason is the interruption, not also "no steady state"."""
        window, end = marks()
        measured = Measurements(
            run_start=T0,
            run_end=end,
            window=WindowMarks(final=window.final),
            interrupted=True,
            incomplete=("interrupted at 12:00:00 UTC",),
        )
        judged = judge_run(measured, RunCriteria(thresholds=Thresholds(default=Limits(p95_ms=1000))))
        assert judged.verdict.incomplete == ("interrupted at 12:00:00 UTC",)
        assert judged.verdict.status is Status.INCONCLUSIVE and judged.verdict.interrupted

    def test_a_stored_window_judges_as_the_marks_did(self) -> None:
        """`loadlens verdict` hands the window the run judged; the rows are the run's own."""
        window, end = marks()
        server = ServerReadings(series=(cpu(50.0, start=T0 + 10),))
        live = judge_run(Measurements(run_start=T0, run_end=end, window=window, server=server), CRITERIA)
        stored = JudgedWindow(whole=live.window.whole, judged=live.window.judged, kind=live.window.kind)
        again = judge_run(Measurements(run_start=T0, run_end=end, window=stored, server=server), CRITERIA)
        assert again.verdict.results == live.verdict.results
        assert again.analysis == live.analysis


class TestServer:
    def test_failures_missing_and_the_safety_stop_are_rows_never_a_pass(self) -> None:
        """A source that failed is an INCONCLUSIVE row carrying ``required``, first; the safety stop
        is a FAIL row; a series inside the window is judged against its limit."""
        window, end = marks()
        server = ServerReadings(
            series=(cpu(95.0, start=T0 + 10),),
            failures=(SourceFailure("cloudwatch", "no AWS credentials found"),),
            safety_stop="safety stop: cpu_percent of pid:1 stayed above 90 % for 3 consecutive periods",
            notes=("a note from a source",),
        )
        criteria = RunCriteria(thresholds=CRITERIA.thresholds, required=True)
        judged = judge_run(Measurements(run_start=T0, run_end=end, window=window, server=server), criteria)
        server_rows = [r for r in judged.verdict.results if r.scope == "server"]
        assert [r.name for r in server_rows] == [
            "server metrics (cloudwatch)",
            "server process CPU",
            "server safety stop",
        ]
        assert server_rows[0].status is Status.INCONCLUSIVE and server_rows[0].required
        assert server_rows[1].status is Status.FAIL
        assert server_rows[2].status is Status.FAIL and "stayed above" in server_rows[2].reason
        assert "a note from a source" in judged.verdict.notes
        assert judged.verdict.status is Status.FAIL

    def test_a_bug_while_judging_the_server_is_one_inconclusive_row(self) -> None:
        """A server series that breaks the judging (a value that is no number) costs neither the
        client rows nor the verdict: one INCONCLUSIVE "server" row says what broke (not required
        here, so the run WARNs; never a pass)."""
        window, end = marks()
        broken = Series("process", "pid:1", "cpu_percent", "Average", "Percent", ((T0 + 11, None),), 1.0)  # type: ignore[arg-type]
        server = ServerReadings(series=(broken,))
        judged = judge_run(Measurements(run_start=T0, run_end=end, window=window, server=server), CRITERIA)
        rows = by_name(judged.verdict)
        assert rows["all requests p95"].status is Status.PASS
        assert rows["server metrics (server)"].status is Status.INCONCLUSIVE
        assert rows["server metrics (server)"].reason.startswith("loadlens could not judge server metrics")
        assert judged.verdict.status is Status.WARN

    def test_the_leak_criterion_joins_the_verdict_when_configured(self) -> None:
        """Configured leak levels judge the memory trend; too short a steady state is INCONCLUSIVE."""
        window, end = marks()
        memory = Series(
            "process", "pid:1", "memory_percent", "Sample", "Percent",
            tuple((T0 + 10 + i, 10.0 + i) for i in range(20)), 1.0,
        )  # fmt: skip
        criteria = RunCriteria(
            thresholds=CRITERIA.thresholds,
            server=ServerCriteriaLimits(),
            leak=LeakLimits(warn_per_h=2, fail_per_h=5, min_duration_s=600),
        )
        measured = Measurements(
            run_start=T0, run_end=end, window=window, server=ServerReadings(series=(memory,))
        )
        judged = judge_run(measured, criteria)
        leak = by_name(judged.verdict)["server process memory growth"]
        assert leak.status is Status.INCONCLUSIVE
        assert [t.metric for t in judged.analysis.trends] == ["process memory", "client p95"]
        assert judged.analysis.section()["trends"][0]["metric"] == "process memory"


class TestReportPrecision:
    def test_a_run_judges_what_its_summary_keeps(self) -> None:
        """Times are judged to the millisecond and latency extremes to the microsecond, as
        summary.json keeps them: a server sample 0.2 ms before the window's unrounded start is
        inside it, and re-judging the stored window gives the same rows."""
        clock = FakeClock(T0)
        store = StatsStore(clock=clock)
        load(clock, store, seconds=10, latency_ms=500.0001234)
        clock.t += 0.0004  # the steady state begins 0.4 ms after a whole second
        start = store.snapshot(users=5)
        final = load(clock, store, seconds=20, latency_ms=20.0004321)
        cpu_series = Series(
            "process", "pid:1", "cpu_percent", "Average", "Percent",
            tuple((T0 + 10.0002 + i, 95.0 if i == 0 else 10.0) for i in range(19)), 1.0,
        )  # fmt: skip
        server = ServerReadings(series=(cpu_series,))
        limits = Limits(p95_ms=100, p99_ms=100)
        criteria = RunCriteria(thresholds=Thresholds(default=limits, per_endpoint=False))
        live = judge_run(
            Measurements(
                run_start=T0, run_end=clock.t, window=WindowMarks(final, steady_start=start), server=server
            ),
            criteria,
        )
        assert by_name(live.verdict)["server process CPU"].observed == 95.0
        stored = JudgedWindow(whole=live.window.whole, judged=live.window.judged, kind=live.window.kind)
        again = judge_run(
            Measurements(run_start=T0, run_end=round(clock.t, 3), window=stored, server=server), criteria
        )
        assert again.verdict.results == live.verdict.results
        assert live.window.judged.total().max_ms == round(live.window.judged.total().max_ms or 0, 3)
