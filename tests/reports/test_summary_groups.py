"""summary.json carries the groups recorded live (client.groups and client.whole_run.groups), an
additive field of schema version 2: valid under the schema, read back exactly (writing what was read
gives the same text), and absent when a run recorded none."""

from __future__ import annotations

import dataclasses
import json

import jsonschema

from runner.model import GroupKey, Snapshot, Status
from runner.reports.load import record_from_dict
from runner.reports.summary_json import summary_dict, summary_schema, summary_text
from runner.stats.groups import GroupRecorder
from runner.stats.store import StatsStore
from tests.reports.test_reports import make_record

KEYS = [
    GroupKey("buyers", user_classes=("Buyer",)),
    GroupKey("pay", match="^POST ", tags=("checkout", "pay")),
]


def with_groups() -> object:
    store = StatsStore(groups=GroupRecorder(KEYS, origin=lambda: ("Buyer", frozenset({"pay"}))))
    for i in range(30):
        store.record("POST", "/jobs", 10.0 + i, 500 if i == 0 else 201, i == 0, 12)
    snap = store.snapshot()
    record = make_record(Status.PASS)
    groups = dict(snap.groups) | {GroupKey("none", tags=("x",)): StatsStore().snapshot().total()}
    judged = dataclasses.replace(record.judged, groups=groups)
    whole = dataclasses.replace(record.whole, groups=groups)
    return dataclasses.replace(record, judged=judged, whole=whole)


class TestGroupsInTheSummary:
    def test_written_valid_and_read_back_exactly(self) -> None:
        record = with_groups()
        doc = summary_dict(record)
        jsonschema.validate(doc, summary_schema())
        written = {g["name"]: g for g in doc["client"]["groups"]}
        assert written["pay"]["tags"] == ["checkout", "pay"] and written["pay"]["match"] == "^POST "
        assert written["buyers"]["requests"] == 30 and written["buyers"]["failures"] == 1
        assert written["none"]["requests"] == 0  # recorded, counted nothing: still there
        back = record_from_dict(json.loads(summary_text(record)))
        assert back.judged.groups.keys() == record.judged.groups.keys()
        assert back.whole.groups[KEYS[0]].histogram == record.whole.groups[KEYS[0]].histogram
        assert summary_text(back) == summary_text(record)

    def test_absent_when_none_was_recorded(self) -> None:
        doc = summary_dict(make_record())
        assert "groups" not in doc["client"] and "groups" not in doc["client"]["whole_run"]
        assert record_from_dict(doc).judged.groups == {}
        assert Snapshot(start=0, end=0, endpoints={}).groups == {}


def test_a_percentile_clamped_to_the_slowest_request_rejudges_alike() -> None:
    """A p99 whose bucket lies above the slowest request is that request's time: written exactly,
    so the summary read back gives the same p99 to the last digit (it once differed at the 4th
    decimal, 69.7574 live against 69.757 re-judged, because max_ms was rounded)."""
    store = StatsStore(groups=GroupRecorder(KEYS, origin=lambda: ("Buyer", frozenset({"pay"}))))
    for _ in range(50):
        store.record("POST", "/jobs", 69.7574, 201, False, 12)
    snap = store.snapshot()
    record = make_record(Status.PASS)
    judged = dataclasses.replace(record.judged, endpoints=snap.endpoints, groups=dict(snap.groups))
    record = dataclasses.replace(record, judged=judged, whole=judged)
    live = judged.groups[KEYS[0]].quantile_ms(0.99)
    assert live == 69.7574  # clamped: the bucket's representative lies above it
    back = record_from_dict(json.loads(summary_text(record)))
    assert back.judged.groups[KEYS[0]].quantile_ms(0.99) == live
    (key,) = snap.endpoints
    assert back.judged.endpoints[key].quantile_ms(0.99) == snap.endpoints[key].quantile_ms(0.99)
