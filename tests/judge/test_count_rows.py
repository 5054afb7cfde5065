"""The server-side count criteria (``max_alarms``, ``max_log_errors``) build their rows through one
helper, runner.judge.rows.CountCriterion, so both say a limit, a status and "required" the same way."""

from __future__ import annotations

import pytest

from runner.judge.alarms import judge_alarms
from runner.judge.logs import judge_logs
from runner.judge.rows import CountCriterion
from runner.model import Result, Status
from runner.readings import AlarmEntry, AlarmReading, LogGroup, LogReading

T0 = 1_700_000_000.0


class TestCountCriterion:
    def test_a_limit_makes_the_row_required_and_carries_the_limit(self) -> None:
        """With a limit the row is required and its limit is the limit as a float."""
        row = CountCriterion("CloudWatch alarms", "alarms entering ALARM <= 2", 2, "alarms").row(
            Status.FAIL, "3 alarms entered ALARM > 2", 3
        )
        assert row == Result(
            name="CloudWatch alarms",
            criterion="alarms entering ALARM <= 2",
            observed=3,
            limit=2.0,
            status=Status.FAIL,
            reason="3 alarms entered ALARM > 2",
            unit="alarms",
            scope="server",
            required=True,
        )

    def test_without_a_limit_the_row_is_not_required(self) -> None:
        """No limit: only a failed read gives a row, and it informs without gating the run."""
        row = CountCriterion("log errors (g)", "logs answer", None, "events").row(Status.INCONCLUSIVE, "no")
        assert row.limit is None and row.observed is None and not row.required and row.scope == "server"


@pytest.mark.parametrize("limit", [None, 0, 5])
def test_alarm_and_log_rows_come_from_the_shared_helper(limit: int | None) -> None:
    """A failed read of either source is the helper's INCONCLUSIVE row, word for word."""
    alarms, _ = judge_alarms(AlarmReading(failure="denied"), start=T0, end=T0 + 1, limit=limit)
    logs, _ = judge_logs(LogReading("g", "ERROR", failure="denied"), start=T0, end=T0 + 1, limit=limit)
    alarm_text = "alarms entering ALARM <= {}" if limit is not None else "alarm history answers"
    log_text = "log events matching 'ERROR' <= {}" if limit is not None else "logs answer"
    assert alarms == [
        CountCriterion("CloudWatch alarms", alarm_text.format(limit), limit, "alarms").row(
            Status.INCONCLUSIVE, "the alarm history could not be read: denied"
        )
    ]
    assert logs == [
        CountCriterion("log errors (g)", log_text.format(limit), limit, "events").row(
            Status.INCONCLUSIVE, "CloudWatch Logs could not be read: denied"
        )
    ]


def test_counted_rows_keep_their_wording() -> None:
    """The PASS/FAIL rows of both sources, through the helper, are the rows they were before."""
    alarms = AlarmReading(entries=(AlarmEntry("a", T0 + 1),))
    logs = LogReading("g", "ERROR", groups=(LogGroup("E", "E", (T0 + 1, T0 + 2)),))
    (alarm_row,), _ = judge_alarms(alarms, start=T0, end=T0 + 10, limit=1)
    (log_row,), _ = judge_logs(logs, start=T0, end=T0 + 10, limit=1)
    assert (alarm_row.status, alarm_row.reason, alarm_row.observed) == (
        Status.PASS,
        "1 alarms entered ALARM <= 1: a",
        1,
    )
    assert (log_row.status, log_row.reason, log_row.observed, log_row.required) == (
        Status.FAIL,
        "2 matching log events > 1",
        2,
        True,
    )
