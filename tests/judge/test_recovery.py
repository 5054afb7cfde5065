"""Recovery after a spike (runner.judge.recovery), on timelines recorded by the real StatsStore and
Timeline over a fake clock, and through judge_run, the one judging path."""

from __future__ import annotations

import pytest

from runner.config.load import Limits, Thresholds, load_config
from runner.config.scenarios import BUILTIN
from runner.config.types import RecoveryConfig
from runner.judge.recovery import NAME, judge_recovery, judge_scale_out, spike_marks
from runner.judge.run import Measurements, RunCriteria, judge_run
from runner.judge.verdict import EXIT_INCONCLUSIVE
from runner.model import Interval, SpikeMarks, Status
from runner.stats.window import JudgedWindow
from tests.support.timelines import Stretch, Traffic, record, series

T0 = 1_700_000_000.0
PRE_S, SPIKE_S = 30, 30
SPIKE = SpikeMarks(
    pre_start=T0, spike_start=T0 + PRE_S, spike_end=T0 + PRE_S + SPIKE_S, pre_users=2, spike_users=20
)


def spike_run(
    *, slow_after_s: int, after_s: int, fail_after: bool = False, slow_again: tuple[int, int] = (0, 0)
) -> tuple[Interval, ...]:
    """30 s at 20 ms, a 30 s spike at 400 ms, then ``slow_after_s`` more seconds at 400 ms before
    falling back to 20 ms, for ``after_s`` seconds after the spike in all (5 s intervals);
    ``slow_again``: seconds after the spike from and to which it is slow again."""
    spike_end = T0 + PRE_S + SPIKE_S

    def latency(t: float) -> float:
        again = spike_end + slow_again[0] <= t < spike_end + slow_again[1]
        return 400.0 if T0 + PRE_S <= t < spike_end + slow_after_s or again else 20.0

    def failing(t: float) -> bool:
        return fail_after and t >= spike_end

    traffic = (Traffic("GET", "/x", 20, latency_ms=latency, failing=failing),)
    return record(
        [Stretch(PRE_S, traffic, 2), Stretch(SPIKE_S, traffic, 20), Stretch(after_s, traffic, 2)], start=T0
    )


def judge(timeline: tuple[Interval, ...], *, limits: RecoveryConfig | None = None):
    return judge_recovery(SPIKE, timeline, run_end=timeline[-1].end, limits=limits or RecoveryConfig())


class TestRecoveryRow:
    def test_recovered_says_how_long_it_took(self) -> None:
        """p95 back at the pre-spike level 10 s after the spike: PASS, observed 10 s (the end of the
        first recovered 5 s interval), limit the default 60 s."""
        row = judge(spike_run(slow_after_s=5, after_s=60))
        assert row is not None and row.name == NAME
        assert row.status is Status.PASS
        assert row.observed == 10.0 and row.limit == 60.0 and row.unit == "s"
        assert "recovered 10 s after the spike ended" in row.reason
        assert row.details["pre_spike_p95_ms"] == pytest.approx(20.0, rel=0.01)

    def test_still_slow_at_recover_within_fails(self) -> None:
        """Slow for 70 s after the spike, judged on the default recover_within (60 s): FAIL, no time."""
        row = judge(spike_run(slow_after_s=70, after_s=75))
        assert row is not None and row.status is Status.FAIL
        assert row.observed is None
        assert "did not recover within 60 s" in row.reason

    def test_one_slow_interval_does_not_undo_a_recovery(self) -> None:
        """Back after 10 s, then one slow second at 30 s: still recovered after 10 s (the
        requests from then on, taken together, are within the tolerance)."""
        row = judge(spike_run(slow_after_s=5, after_s=60, slow_again=(30, 31)))
        assert row is not None and row.status is Status.PASS and row.observed == 10.0

    def test_a_relapse_is_not_a_recovery(self) -> None:
        """Fast for 10 s after the spike, then slow again from 15 s to the end: FAIL."""
        row = judge(spike_run(slow_after_s=0, after_s=60, slow_again=(15, 60)))
        assert row is not None and row.status is Status.FAIL

    def test_errors_after_the_spike_are_not_a_recovery(self) -> None:
        """Fast again but every request failing: the error rate is not back, so FAIL."""
        row = judge(spike_run(slow_after_s=0, after_s=60, fail_after=True))
        assert row is not None and row.status is Status.FAIL

    def test_a_run_ending_before_recover_within_unrecovered_is_inconclusive(self) -> None:
        """The run ended 20 s after the spike, before recover_within, still slow: INCONCLUSIVE (it
        might have recovered by 60 s; a FAIL would be a guess)."""
        row = judge(spike_run(slow_after_s=30, after_s=20))
        assert row is not None and row.status is Status.INCONCLUSIVE and row.observed is None
        assert "not recovered when the run ended 20 s after the spike" in row.reason
        assert "before recover_within (60 s)" in row.reason

    def test_a_recovery_before_an_early_end_passes_and_says_so(self) -> None:
        """The run ended 20 s after the spike (a compressed built-in spike), recovered after 5 s and
        within the tolerance to the end: it did recover within recover_within, PASS, with the note."""
        row = judge(spike_run(slow_after_s=0, after_s=20))
        assert row is not None and row.status is Status.PASS and row.observed == 5.0
        assert "stayed recovered until the run ended 20 s after the spike" in row.reason

    def test_a_relapse_before_an_early_end_is_not_a_recovery(self) -> None:
        """Recovered, then slow again before the run ended early: not recovered, INCONCLUSIVE."""
        row = judge(spike_run(slow_after_s=0, after_s=20, slow_again=(10, 20)))
        assert row is not None and row.status is Status.INCONCLUSIVE

    def test_no_pre_spike_requests_is_inconclusive(self) -> None:
        """Without requests in the stage before the spike there is nothing to recover to."""
        timeline = tuple(iv for iv in spike_run(slow_after_s=0, after_s=60) if iv.start >= SPIKE.spike_start)
        row = judge(timeline)
        assert row is not None and row.status is Status.INCONCLUSIVE
        assert "no pre-spike baseline" in row.reason

    def test_a_shorter_recover_within_and_tolerance_are_honoured(self) -> None:
        """recover_within = 5 s fails a recovery that took 10 s; a p95 tolerance wide enough to
        cover the slow latency passes at once."""
        timeline = spike_run(slow_after_s=5, after_s=60)
        short = judge(timeline, limits=RecoveryConfig(recover_within_s=5.0))
        assert short is not None and short.status is Status.FAIL
        wide = judge(timeline, limits=RecoveryConfig(p95_tolerance=30.0))
        assert wide is not None and wide.status is Status.PASS and wide.observed == 5.0

    def test_off_or_without_a_spike_there_is_no_row(self) -> None:
        timeline = spike_run(slow_after_s=0, after_s=60)
        assert judge_recovery(None, timeline, run_end=timeline[-1].end, limits=RecoveryConfig()) is None
        assert judge(timeline, limits=RecoveryConfig(enabled=False)) is None


def tasks(values: list[float], *, stat: str = "Maximum"):
    """ECS RunningTaskCount (Container Insights) one point per 10 s from the pre-spike stage on."""
    return series("RunningTaskCount", values, start=T0, period_s=10.0, stat=stat, unit="Count")


class TestScaleOut:
    EXPECT = RecoveryConfig(expect_scale_out=True)

    @pytest.mark.parametrize(
        ("values", "status", "words"),
        [
            ([2, 2, 2, 3, 4, 4, 4, 3, 2, 2], Status.PASS, "scaled out 2 -> 4 tasks and back to 2"),
            ([2, 2, 2, 3, 4, 4, 4, 4, 4, 4], Status.WARN, "not back yet: still 4 at the end of the run"),
            (
                [2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
                Status.FAIL,
                "did not scale out: 2 tasks before the spike, peak 2",
            ),
        ],
    )
    def test_scaled_out_and_back(self, values: list[float], status: Status, words: str) -> None:
        """Pre-spike 2 tasks (t 0-30 s), the spike 30-60 s, the run ends at 100 s: out and back
        passes, out and not back warns (scale-in is slow by design), never out fails."""
        rows = judge_scale_out(
            SPIKE, [tasks(values), tasks(values, stat="Minimum")], run_end=T0 + 100, limits=self.EXPECT
        )
        assert [(r.status, r.name) for r in rows] == [(status, "ECS scale-out after spike (ecs:shop/api)")]
        assert words in rows[0].reason

    def test_without_the_series_it_is_inconclusive_and_off_by_default(self) -> None:
        """Expected but not read (no Container Insights, no CloudWatch): a required INCONCLUSIVE row.
        Not expected (the default): no row at all."""
        rows = judge_scale_out(SPIKE, [], run_end=T0 + 100, limits=self.EXPECT)
        assert rows[0].status is Status.INCONCLUSIVE and rows[0].required and "Container" in rows[0].reason
        assert judge_scale_out(SPIKE, [tasks([2] * 10)], run_end=T0 + 100, limits=RecoveryConfig()) == []


class TestDefaults:
    def test_recover_within_defaults_to_60_s(self) -> None:
        """[recovery] recover_within is 60 s when the file says nothing."""
        assert load_config(None, env={}).recovery.recover_within_s == 60.0

    def test_the_builtin_spike_marks_its_last_stage_as_the_recovery(self) -> None:
        """The built-in spike: 1 min pre-spike, 2 min spike, recovery measured from minute 3."""
        marks = spike_marks(BUILTIN["spike"], start=T0)
        assert marks == SpikeMarks(T0, T0 + 60, T0 + 180, pre_users=10, spike_users=100)
        assert spike_marks(BUILTIN["stress"], start=T0) is None


class TestJudgeRun:
    def test_judge_run_adds_the_row_and_an_early_end_makes_the_run_inconclusive(self) -> None:
        """Through judge_run (what `loadlens run` and `loadlens verdict` both call): the recovery row
        is in the verdict; an INCONCLUSIVE recovery is required, so the run exits 3."""
        thresholds = Thresholds(default=Limits(error_rate=0.5), per_endpoint=False)
        for after_s, slow_after_s, status in ((60, 5, Status.PASS), (20, 30, Status.INCONCLUSIVE)):
            timeline = spike_run(slow_after_s=slow_after_s, after_s=after_s)
            whole = _snapshot(timeline)
            measured = Measurements(
                run_start=T0,
                run_end=timeline[-1].end,
                window=JudgedWindow(whole=whole, judged=whole, kind="whole_run"),
                timeline=timeline,
                spike=SPIKE,
            )
            verdict = judge_run(measured, RunCriteria(thresholds=thresholds)).verdict
            row = {r.name: r for r in verdict.results}[NAME]
            assert row.status is status
            if status is Status.INCONCLUSIVE:
                assert verdict.exit_code == EXIT_INCONCLUSIVE

    def test_a_bug_while_judging_recovery_is_inconclusive_never_lost(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A failure inside the recovery judgement (simulated by replacing it with one that raises)
        becomes a required INCONCLUSIVE row; the client rows are still judged."""
        import runner.judge.run as run_module

        def broken(*_a: object, **_k: object) -> None:
            raise ZeroDivisionError("boom")

        monkeypatch.setattr(run_module, "judge_recovery", broken)
        timeline = spike_run(slow_after_s=5, after_s=60)
        whole = _snapshot(timeline)
        measured = Measurements(
            run_start=T0,
            run_end=timeline[-1].end,
            window=JudgedWindow(whole=whole, judged=whole, kind="whole_run"),
            timeline=timeline,
            spike=SPIKE,
        )
        thresholds = Thresholds(default=Limits(error_rate=0.5), per_endpoint=False)
        verdict = judge_run(measured, RunCriteria(thresholds=thresholds)).verdict
        rows = {r.name: r for r in verdict.results}
        assert rows[NAME].status is Status.INCONCLUSIVE and "ZeroDivisionError: boom" in rows[NAME].reason
        assert rows["all requests error rate"].status is Status.PASS
        assert verdict.exit_code == EXIT_INCONCLUSIVE


def _snapshot(timeline: tuple[Interval, ...]):
    from runner.model import EndpointKey, EndpointStats, Snapshot

    total = EndpointStats()
    for iv in timeline:
        total = total.merge(iv.total)
    return Snapshot(
        start=timeline[0].start, end=timeline[-1].end, endpoints={EndpointKey("GET", "/x"): total}
    )
