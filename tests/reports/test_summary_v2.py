"""summary.json version 2: the early stop at the top level, and version 1 summaries still read."""

from __future__ import annotations

import dataclasses

import jsonschema

from runner.judge.sustained import stop_row
from runner.model import Result, Status
from runner.reports.load import record_from_dict
from runner.reports.summary_json import summary_dict, summary_schema
from tests.reports.test_reports import make_record


def with_rows(*rows: Result):
    record = make_record(Status.FAIL)
    return dataclasses.replace(record, verdict=dataclasses.replace(record.verdict, results=rows))


class TestEarlyStop:
    def test_a_client_stop_is_named_at_the_top_level(self) -> None:
        """The abort_after row becomes early_stop {scope: client, reason}, valid under the schema."""
        doc = summary_dict(with_rows(stop_row("stopped early at 12:00:10 UTC: ...")))
        assert doc["schema_version"] == 2
        assert doc["early_stop"] == {"scope": "client", "reason": "stopped early at 12:00:10 UTC: ..."}
        jsonschema.validate(doc, summary_schema())

    def test_the_server_safety_stop_too_and_none_otherwise(self) -> None:
        """The server safety stop is early_stop with scope server; a run that ran out is null."""
        safety = Result(
            "server safety stop", "no abort limit held", None, None, Status.FAIL, "cpu", scope="server"
        )
        assert summary_dict(with_rows(safety))["early_stop"] == {"scope": "server", "reason": "cpu"}
        doc = summary_dict(make_record())
        assert doc["early_stop"] is None
        jsonschema.validate(doc, summary_schema())


class TestVersionOne:
    def test_a_version_1_summary_is_still_read(self) -> None:
        """A summary written before version 2 (no early_stop) reads back: old runs stay re-judgeable."""
        doc = summary_dict(make_record())
        doc["schema_version"] = 1
        del doc["early_stop"]
        assert record_from_dict(doc).info.run_id == make_record().info.run_id
