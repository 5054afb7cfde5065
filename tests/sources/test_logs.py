"""Application log errors: runner.sources.logs against a real moto server (CloudWatch Logs), the
server side reading them at the end of a run, and their judging (runner.judge.logs).

moto's FilterLogEvents matches a single term but not CloudWatch's ``?A ?B`` alternatives (it
answers every event for them, checked 2026-11), so counting is tested against moto with
``error_pattern = "ERROR"``, and that the default pattern is sent exactly as written is checked
with ``botocore.stub.Stubber`` (named so in that test): moto cannot answer it faithfully."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from runner.config.types import RecoveryConfig
from runner.judge.logs import judge_logs
from runner.model import Status
from runner.readings import LogGroup, LogReading
from runner.sources.aws import AwsApi
from runner.sources.logs import DEFAULT_PATTERN, LogsPlan, log_group_check, normalise, read_log_errors
from runner.sources.preflight import CheckStatus
from runner.sources.server import ServerPlan, ServerSide
from tests.support.aws_stack import plain_session

GROUP = "/ecs/video-gen"


def seed(t0: float, lines: list[tuple[float, str]], *, group: str = GROUP) -> None:
    """Put ``lines`` (seconds after t0, message) into ``group`` in two streams."""
    logs = plain_session().client("logs")
    logs.create_log_group(logGroupName=group)
    for stream in ("a", "b"):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    for i, stream in enumerate(("a", "b")):
        events = [
            {"timestamp": int((t0 + dt) * 1000), "message": msg}
            for j, (dt, msg) in enumerate(lines)
            if j % 2 == i
        ]
        if events:
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


LINES = [
    (1.0, "INFO started"),
    (2.0, "ERROR timeout after 1203 ms for job 9f1c2d3e4f5a6b7c"),
    (3.0, "ERROR timeout after 877 ms for job 0a1b2c3d4e5f6a7b"),
    (4.0, "INFO ok"),
    (5.0, "ERROR db connection refused (pool 3/10)"),
    (6.0, "ERROR timeout after 15 ms for job 1234abcd5678ef90"),
    (500.0, "ERROR long after the run"),
]


class TestRead:
    def test_counts_and_groups_matching_events(self, aws: str) -> None:
        """Four ERROR events in the run's span, two alike messages once ids and numbers are
        normalised: one group of 3, one of 1; INFO lines and events after the span are not read."""
        t0 = float(int(time.time()) - 60)
        seed(t0, LINES)
        reading = read_log_errors(
            AwsApi(boto3.session.Session()), LogsPlan(GROUP, pattern="ERROR"), start=t0, end=t0 + 60
        )
        assert reading.failure is None and reading.capped is None
        assert [len(g.times) for g in reading.groups] == [3, 1]
        assert reading.groups[0].message == "ERROR timeout after <n> ms for job <id>"
        assert reading.groups[0].example.startswith("ERROR timeout after")
        assert reading.groups[0].times == (t0 + 2, t0 + 3, t0 + 6)

    def test_the_read_is_bounded_and_says_so(self, aws: str) -> None:
        """max_events = 2 stops the read (through boto3's paginator, page size 2) and says why."""
        t0 = float(int(time.time()) - 60)
        seed(t0, LINES)
        reading = read_log_errors(
            AwsApi(boto3.session.Session()),
            LogsPlan(GROUP, pattern="ERROR", max_events=2),
            start=t0,
            end=t0 + 60,
        )
        assert sum(len(g.times) for g in reading.groups) == 2
        assert reading.capped == "stopped after 2 events (max_log_events)"
        pages = read_log_errors(
            AwsApi(boto3.session.Session()),
            LogsPlan(GROUP, pattern="ERROR", max_events=1, max_pages=2),
            start=t0,
            end=t0 + 60,
        )
        assert pages.capped is not None

    def test_a_missing_log_group_is_a_failure_not_an_exception(self, aws: str) -> None:
        """A group that does not exist: the reading carries the reason (an INCONCLUSIVE row later)."""
        reading = read_log_errors(
            AwsApi(boto3.session.Session()), LogsPlan("/ecs/nope"), start=time.time() - 60, end=time.time()
        )
        assert reading.failure is not None and "/ecs/nope" in reading.failure
        assert reading.groups == ()

    def test_the_default_pattern_is_sent_as_written_stubber(self, aws: str) -> None:
        """Stubber (moto does not implement ``?A ?B``): FilterLogEvents gets the default pattern
        verbatim, the run's span in milliseconds, and each page is read."""
        api = AwsApi(boto3.session.Session())
        client = api.client("logs")
        with Stubber(client) as stub:
            expected: dict[str, Any] = {
                "logGroupName": GROUP,
                "startTime": 1_700_000_000_000,
                "endTime": 1_700_000_060_000,
                "filterPattern": DEFAULT_PATTERN,
                "limit": 1000,
            }
            stub.add_response(
                "filter_log_events",
                {"events": [{"timestamp": 1_700_000_001_000, "message": "Traceback (most recent call last):"}],
                 "nextToken": "t1"},
                expected,
            )  # fmt: skip
            stub.add_response(
                "filter_log_events",
                {"events": [{"timestamp": 1_700_000_002_000, "message": "ValueError Exception 42"}]},
                {**expected, "nextToken": "t1"},
            )
            reading = read_log_errors(api, LogsPlan(GROUP), start=1_700_000_000.0, end=1_700_000_060.0)
            stub.assert_no_pending_responses()
        assert reading.pattern == DEFAULT_PATTERN
        assert sorted(len(g.times) for g in reading.groups) == [1, 1]


class TestPreflight:
    def test_the_cloudwatch_check_says_whether_the_log_group_exists(self, aws: str) -> None:
        """`loadlens cloudwatch check` line for log_group: OK when it exists, FAIL naming a
        misspelt one (DescribeLogGroups against moto)."""
        seed(time.time(), [])
        api = AwsApi(boto3.session.Session())
        assert log_group_check(api, GROUP).status is CheckStatus.OK
        missing = log_group_check(api, "/ecs/video-gne")
        assert missing.status is CheckStatus.FAIL and "no such CloudWatch Logs group" in missing.detail


class TestNormalise:
    @pytest.mark.parametrize(
        ("raw", "grouped"),
        [
            ("job 3fa85f64-5717-4562-b3fc-2c963f66afa6 failed", "job <id> failed"),
            ("took 1.25 s   on  worker 7", "took <n> s on worker <n>"),
            ("request deadbeef12 failed", "request <id> failed"),
            ("ERROR plain words", "ERROR plain words"),
        ],
    )
    def test_ids_and_numbers_are_normalised(self, raw: str, grouped: str) -> None:
        assert normalise(raw) == grouped


class TestServerSide:
    def test_the_server_side_reads_log_errors_at_the_end_of_the_run(self, aws: str) -> None:
        """ServerSide.finish (what `loadlens run` and `loadlens verdict` call) returns the reading
        when [cloudwatch] log_group is set, with no metric source configured at all."""
        t0 = float(int(time.time()) - 60)
        seed(t0, LINES)
        plan = ServerPlan(logs=LogsPlan(GROUP, pattern="ERROR"), max_log_errors=0, recovery=RecoveryConfig())
        side = ServerSide(plan)
        side.start()
        got = side.finish(run_start=t0, run_end=t0 + 60, settle=False)
        assert got.logs is not None and sum(len(g.times) for g in got.logs.groups) == 4

    def test_no_aws_region_is_a_failure_reading(self, aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without a region the logs cannot be read: the reading says why, nothing raises."""
        monkeypatch.delenv("AWS_REGION")
        monkeypatch.delenv("AWS_DEFAULT_REGION")
        side = ServerSide(ServerPlan(logs=LogsPlan(GROUP)))
        got = side.finish(run_start=0.0, run_end=60.0, settle=False)
        assert got.logs is not None and got.logs.failure is not None and "region" in got.logs.failure


def reading(*times: float, capped: str | None = None) -> LogReading:
    groups = (
        LogGroup(
            "ERROR timeout after <n> ms", "ERROR timeout after 12 ms", tuple(t for t in times if t < 50)
        ),
        LogGroup("ERROR pool exhausted", "ERROR pool exhausted", tuple(t for t in times if t >= 50)),
    )
    return LogReading(GROUP, "ERROR", groups=groups, capped=capped)


class TestJudged:
    def test_only_the_judged_window_counts_and_top_messages_are_noted(self) -> None:
        """Events before the window are left out; the notes name the window's count and the
        messages, most frequent first."""
        rows, notes = judge_logs(reading(5, 20, 30, 40, 60), start=10, end=100, limit=5)
        assert [r.status for r in rows] == [Status.PASS] and rows[0].observed == 4
        assert notes[0] == f"log errors in {GROUP}: 4 in the judged window, most frequent:"
        assert notes[1] == "log errors: 3 x 'ERROR timeout after 12 ms'"

    def test_over_the_limit_fails(self) -> None:
        rows, _ = judge_logs(reading(20, 30), start=0, end=100, limit=1)
        assert rows[0].status is Status.FAIL and rows[0].observed == 2 and rows[0].scope == "server"

    def test_no_limit_is_notes_only(self) -> None:
        rows, notes = judge_logs(reading(20), start=0, end=100, limit=None)
        assert rows == [] and "1 in the judged window" in notes[0]

    def test_a_capped_read_fails_but_never_passes(self) -> None:
        """A capped count is a lower bound: over the limit it fails, under it it is INCONCLUSIVE."""
        over, _ = judge_logs(reading(20, 30, capped="stopped after 2 events"), start=0, end=100, limit=1)
        assert over[0].status is Status.FAIL
        under, notes = judge_logs(reading(20, 30, capped="stopped after 2 events"), start=0, end=100, limit=5)
        assert under[0].status is Status.INCONCLUSIVE and under[0].required
        assert "at least 2" in notes[0]

    def test_a_failed_read_is_inconclusive_never_a_pass(self) -> None:
        """Required when a limit is set (exit 3), a WARN-level INCONCLUSIVE row otherwise."""
        failed = LogReading(GROUP, "ERROR", failure="AccessDenied: logs:FilterLogEvents")
        rows, _ = judge_logs(failed, start=0, end=100, limit=0)
        assert rows[0].status is Status.INCONCLUSIVE and rows[0].required
        assert "logs:FilterLogEvents" in rows[0].reason
        rows, _ = judge_logs(failed, start=0, end=100, limit=None)
        assert rows[0].status is Status.INCONCLUSIVE and not rows[0].required
