"""Alarms that entered ALARM during a run: runner.sources.alarms and their judging
(runner.judge.alarms).

moto 5.2 does not implement DescribeAlarmHistory (facts.md), so the history's answers are given by
``botocore.stub.Stubber`` for that call only (named so in each test that uses it); what a real moto
server does answer, an error for that call, is checked against the server itself: the reading
carries the failure and the row is INCONCLUSIVE, never a pass."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from runner.judge.alarms import judge_alarms
from runner.model import Status
from runner.readings import AlarmEntry, AlarmReading
from runner.sources.alarms import AlarmsPlan, read_alarms
from runner.sources.aws import AwsApi
from runner.sources.server import ServerPlan, ServerSide
from tests.support.aws_stack import fresh

T0 = 1_700_000_000.0


def item(name: str, at: float, old: str, new: str, reason: str = "Threshold Crossed") -> dict[str, Any]:
    """One StateUpdate history item as CloudWatch writes it."""
    data = {
        "version": "1.0",
        "oldState": {"stateValue": old},
        "newState": {"stateValue": new, "stateReason": reason},
    }
    return {
        "AlarmName": name,
        "AlarmType": "MetricAlarm",
        "Timestamp": datetime.fromtimestamp(at, UTC),
        "HistoryItemType": "StateUpdate",
        "HistorySummary": f"Alarm updated from {old} to {new}",
        "HistoryData": json.dumps(data),
    }


@pytest.fixture
def api(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AwsApi:
    fresh(moto_url, monkeypatch, tmp_path)
    return AwsApi(boto3.session.Session(), max_attempts=1)


class TestRead:
    def test_lists_alarms_that_entered_alarm_stubber(self, api: AwsApi) -> None:
        """Stubber for DescribeAlarmHistory (moto lacks it): StateUpdate items over the run's span,
        paged; only transitions into ALARM are kept, filtered by prefix, oldest first."""
        client = api.client("cloudwatch")
        expected = {
            "HistoryItemType": "StateUpdate",
            "StartDate": datetime.fromtimestamp(T0, UTC),
            "EndDate": datetime.fromtimestamp(T0 + 600, UTC),
            "ScanBy": "TimestampAscending",
        }
        with Stubber(client) as stub:
            stub.add_response(
                "describe_alarm_history",
                {
                    "AlarmHistoryItems": [
                        item("shop-api-5xx", T0 + 120, "OK", "ALARM", "5xx > 10 for 1 datapoint"),
                        item("shop-api-cpu", T0 + 130, "OK", "INSUFFICIENT_DATA"),
                    ],
                    "NextToken": "n1",
                },
                expected,
            )
            stub.add_response(
                "describe_alarm_history",
                {
                    "AlarmHistoryItems": [
                        item("shop-api-5xx", T0 + 300, "ALARM", "OK"),
                        item("billing-total", T0 + 60, "OK", "ALARM"),
                        item("shop-api-latency", T0 + 90, "OK", "ALARM"),
                    ]
                },
                {**expected, "NextToken": "n1"},
            )
            got = read_alarms(api, AlarmsPlan(prefix="shop-"), start=T0, end=T0 + 600)
            stub.assert_no_pending_responses()
        assert got.failure is None and got.capped is None
        assert [(e.name, e.at) for e in got.entries] == [
            ("shop-api-latency", T0 + 90),
            ("shop-api-5xx", T0 + 120),
        ]
        assert got.entries[1].reason == "5xx > 10 for 1 datapoint"

    def test_the_read_is_bounded_stubber(self, api: AwsApi) -> None:
        """Stubber for DescribeAlarmHistory: past max_pages the read stops and says so."""
        client = api.client("cloudwatch")
        with Stubber(client) as stub:
            for n in range(2):
                stub.add_response(
                    "describe_alarm_history",
                    {"AlarmHistoryItems": [item(f"a{n}", T0 + n, "OK", "ALARM")], "NextToken": f"n{n}"},
                    {"HistoryItemType": "StateUpdate", "StartDate": ANY, "EndDate": ANY, "ScanBy": ANY,
                     **({"NextToken": f"n{n - 1}"} if n else {})},
                )  # fmt: skip
            got = read_alarms(api, AlarmsPlan(max_pages=1), start=T0, end=T0 + 600)
        assert [e.name for e in got.entries] == ["a0"]
        assert got.capped == "stopped after 1 pages of DescribeAlarmHistory"

    def test_moto_refusing_the_call_is_a_failure_reading(self, api: AwsApi) -> None:
        """Against the real moto server (which does not implement DescribeAlarmHistory): the
        reading carries the failure; nothing raises."""
        got = read_alarms(api, AlarmsPlan(), start=time.time() - 600, end=time.time())
        assert got.failure is not None and got.entries == ()

    def test_the_server_side_reads_alarms_without_any_metric_source(self, api: AwsApi) -> None:
        """[cloudwatch] alarms alone makes ServerSide.finish read the history (here moto fails it,
        so the reading says so and the judge makes it INCONCLUSIVE)."""
        side = ServerSide(ServerPlan(alarms=AlarmsPlan(), max_alarms=0))
        got = side.finish(run_start=time.time() - 600, run_end=time.time(), settle=False)
        assert got.alarms is not None and got.alarms.failure is not None
        rows, _ = judge_alarms(got.alarms, start=0, end=time.time(), limit=0)
        assert rows[0].status is Status.INCONCLUSIVE and rows[0].required


READING = AlarmReading(
    prefix="shop-",
    entries=(
        AlarmEntry("shop-api-5xx", T0 + 10, "5xx > 10"),
        AlarmEntry("shop-api-latency", T0 + 50, "p95 > 1 s"),
    ),
)


class TestJudged:
    def test_alarms_in_the_window_are_listed_in_the_notes(self) -> None:
        """Without max_alarms every alarm in the judged window is a note and there is no row."""
        rows, notes = judge_alarms(READING, start=T0 + 20, end=T0 + 100, limit=None)
        assert rows == []
        assert notes == ["alarm shop-api-latency entered ALARM at 2023-11-14T22:14:10.000Z: p95 > 1 s"]

    def test_max_alarms_zero_fails_on_one_alarm(self) -> None:
        rows, _ = judge_alarms(READING, start=T0, end=T0 + 100, limit=0)
        assert rows[0].status is Status.FAIL and rows[0].observed == 2
        assert "shop-api-5xx, shop-api-latency" in rows[0].reason

    def test_no_alarm_passes(self) -> None:
        rows, notes = judge_alarms(READING, start=T0 + 60, end=T0 + 100, limit=0)
        assert rows[0].status is Status.PASS and notes == []

    def test_the_notes_are_bounded(self) -> None:
        """Twelve alarms: ten notes and one saying how many more (summary.json keeps them all)."""
        many = AlarmReading(entries=tuple(AlarmEntry(f"a{i:02}", T0 + i) for i in range(12)))
        _, notes = judge_alarms(many, start=T0, end=T0 + 100, limit=None)
        assert len(notes) == 11 and notes[-1] == "alarm state changes into ALARM not listed here: 2"

    def test_a_capped_read_never_passes(self) -> None:
        capped = AlarmReading(entries=(), capped="stopped after 20 pages of DescribeAlarmHistory")
        rows, _ = judge_alarms(capped, start=T0, end=T0 + 100, limit=0)
        assert rows[0].status is Status.INCONCLUSIVE
