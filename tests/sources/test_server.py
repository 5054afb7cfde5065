"""The server side's end of a run: a source that fails, whatever the way, never turns into a pass."""

from __future__ import annotations

import os
import time

import pytest

from runner.config.types import ServerCriteriaLimits
from runner.judge.server import judge_readings
from runner.model import Status
from runner.readings import Missing, Series
from runner.sources.base import SourceResult
from runner.sources.process import ProcessSource
from runner.sources.server import ServerPlan, ServerSide


class BrokenSource:
    """Fake: a source with a bug (no real component fails this way on purpose). Its fetch raises
    an error that is not a SourceError."""

    name = "broken"

    def fetch(self, start: float, end: float) -> SourceResult:
        raise TypeError("'str' object is not callable")


class AnsweringSource:
    """Fake: a source answering the same result at every poll (the real ones are tested with
    their own fakes of CloudWatch and Prometheus)."""

    name = "cloudwatch"

    def __init__(self, result: SourceResult) -> None:
        self.result = result

    def fetch(self, start: float, end: float) -> SourceResult:
        return self.result


class TestLivePoll:
    def test_the_latest_polls_missing_entries_are_live_next_to_its_series(self) -> None:
        """Each poll replaces the live series and the live missing entries of every source."""
        cpu = Series("cloudwatch", "ecs:c/s", "CPUUtilization", "Average", "Percent", ((1.0, 20.0),))
        gone = Missing("cloudwatch", "rds:db-1", "FreeableMemory", "Minimum", "AWS/RDS", "no datapoints")
        source = AnsweringSource(SourceResult(series=(cpu,), missing=(gone,)))
        side = ServerSide(ServerPlan(), clock=lambda: 100.0)
        assert side.live_missing() == ()
        side.sources = [source]  # type: ignore[list-item]
        side.poll(0.0)
        assert side.live_series() == (cpu,)
        assert side.live_missing() == (gone,)
        source.result = SourceResult(series=(cpu,))
        side.poll(0.0)
        assert side.live_missing() == ()


class TestFinish:
    @pytest.mark.parametrize("required", [True, False])
    def test_a_source_bug_is_one_inconclusive_row_that_keeps_required(self, required: bool) -> None:
        """A source failing with a bug gives one INCONCLUSIVE row carrying ``required`` (so a run
        with --require-server-metrics exits 3) and its error in one line; the other sources are
        still read and judged."""
        side = ServerSide(ServerPlan(process_pid=os.getpid(), required=required))
        process = ProcessSource(pid=os.getpid(), interval_s=0.2)
        first = process.sample_and_record()
        time.sleep(0.25)
        process.sample_and_record()
        time.sleep(0.25)
        last = process.sample_and_record()
        side.sources = [BrokenSource(), process]  # type: ignore[list-item]
        readings = side.finish(run_start=first.t, run_end=last.t, settle=False)
        rows = {
            r.name: r
            for r in judge_readings(
                readings,
                window_start=first.t,
                window_end=last.t,
                limits=ServerCriteriaLimits(),
                required=required,
            )
        }
        broken = rows["server metrics (broken)"]
        assert broken.status is Status.INCONCLUSIVE and broken.required is required
        assert broken.reason == "loadlens could not read broken: TypeError: 'str' object is not callable"
        assert rows["server process CPU"].status is not Status.INCONCLUSIVE
