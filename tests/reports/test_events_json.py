"""summary.json's spike, server.logs and server.alarms: written, valid against the schema, and read
back to the same record (what `loadlens verdict RUN_DIR` re-judges from)."""

from __future__ import annotations

import dataclasses
import json

import jsonschema

from runner.model import SpikeMarks
from runner.readings import AlarmEntry, AlarmReading, LogGroup, LogReading
from runner.reports.load import record_from_dict
from runner.reports.summary_json import summary_dict, summary_schema
from tests.reports.test_reports import make_record

SPIKE = SpikeMarks(
    pre_start=1_790_000_000.5,
    spike_start=1_790_000_060.5,
    spike_end=1_790_000_180.5,
    pre_users=10,
    spike_users=100,
)
LOGS = LogReading(
    "/ecs/video-gen",
    "?ERROR ?Exception ?Traceback",
    groups=(
        LogGroup(
            "ERROR timeout after <n> ms", "ERROR timeout after 12 ms", (1_790_000_010.25, 1_790_000_011.5)
        ),
    ),
    capped="stopped after 1000 events (max_log_events)",
)
ALARMS = AlarmReading(prefix="video-", entries=(AlarmEntry("video-5xx", 1_790_000_100.125, "5xx > 10"),))


def test_spike_logs_and_alarms_round_trip_and_validate() -> None:
    """The three optional fields are written (schema-valid) and read back unchanged; a failure
    reading keeps its reason."""
    record = dataclasses.replace(make_record(), spike=SPIKE, logs=LOGS, alarms=ALARMS)
    doc = json.loads(json.dumps(summary_dict(record)))
    jsonschema.Draft202012Validator(summary_schema()).validate(doc)
    assert doc["spike"]["spike_end"].endswith(".500Z")
    assert doc["server"]["logs"]["groups"][0]["example"] == "ERROR timeout after 12 ms"
    back = record_from_dict(doc)
    assert (back.spike, back.logs, back.alarms) == (SPIKE, LOGS, ALARMS)
    failed = dataclasses.replace(record, logs=LogReading("/g", "ERROR", failure="AccessDenied"), alarms=None)
    again = record_from_dict(json.loads(json.dumps(summary_dict(failed))))
    assert again.logs is not None and again.logs.failure == "AccessDenied" and again.alarms is None


def test_a_summary_without_them_reads_as_none() -> None:
    """Older summaries (and runs without a spike, log group or alarms) have none of the fields."""
    doc = summary_dict(make_record())
    assert "spike" not in doc and "logs" not in doc["server"] and "alarms" not in doc["server"]
    back = record_from_dict(json.loads(json.dumps(doc)))
    assert (back.spike, back.logs, back.alarms) == (None, None, None)
