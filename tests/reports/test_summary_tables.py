"""summary.json's field tables: one table per type, walked to write and to read, and the schema
shipped with loadlens names exactly the fields each table has."""

from __future__ import annotations

from typing import Any

import pytest

from runner.model import EndpointKey, EndpointStats, Result, Status
from runner.readings import Missing, Series
from runner.reports import summary_tables as tables
from runner.reports.fields import Field, FieldError, Table
from runner.reports.summary_json import summary_schema

SCHEMA = summary_schema()
DEFS = SCHEMA["$defs"]
MISSING_ITEM = SCHEMA["properties"]["server"]["properties"]["missing"]["items"]


def keys(table: Table[Any]) -> list[str]:
    """The JSON keys a table writes, embedded tables' left out (they are checked on their own)."""
    return [f.key for f in table.fields if not f.embed]


@pytest.mark.parametrize(
    ("table", "schema_keys"),
    [
        (tables.ENDPOINT, list(DEFS["endpointFields"]["properties"])),
        (tables.KEY, list(DEFS["namedEndpoint"]["properties"])),
        (tables.RESULT, list(DEFS["criterion"]["properties"])),
        (tables.MISSING, list(MISSING_ITEM["properties"])),
        (tables.SERIES, [*DEFS["seriesId"]["properties"], *DEFS["series"]["properties"]]),
        (tables.SERIES_SUMMARY, [*DEFS["seriesId"]["properties"], *DEFS["seriesSummary"]["properties"]]),
        (tables.SNAPSHOT, list(DEFS["snapshot"]["properties"])),
        (tables.INTERVAL, list(DEFS["timelinePoint"]["properties"])),
    ],
    ids=["endpoint", "key", "criterion", "missing", "series", "series summary", "snapshot", "timeline point"],
)
def test_each_table_writes_the_fields_the_schema_names_in_its_order(
    table: Table[Any], schema_keys: list[str]
) -> None:
    """A field added to a table and not to the schema (or the other way round) fails here."""
    assert keys(table) == schema_keys


def test_a_timeline_point_embeds_the_endpoint_fields() -> None:
    """A timeline point is an ENDPOINT object plus its own fields, read back from the same object."""
    (embedded,) = [f for f in tables.INTERVAL.fields if f.embed]
    assert embedded.name == "total"
    assert "endpointFields" in DEFS["timelinePoint"]["$ref"]


@pytest.mark.parametrize(
    "value",
    [
        Result("p95", "p95 <= 5 ms", 3.25, 5, Status.PASS, "ok", "ms", "client", True, {"n": 2}),
        Missing("cloudwatch", "ecs:c/s", "CPUUtilization", "Average", "AWS/ECS CPU", "no data", sparse=True),
        Series("process", "pid:1", "cpu_percent", "Average", "Percent", ((1_790_000_000.5, 12.5),), 1.0),
        EndpointKey("GET", "/health"),
    ],
    ids=["criterion", "missing", "series", "key"],
)
def test_what_a_table_writes_it_reads_back_unchanged(value: Any) -> None:
    """Dump then load through one table gives the same value."""
    table = {Result: tables.RESULT, Missing: tables.MISSING, Series: tables.SERIES, EndpointKey: tables.KEY}[
        type(value)
    ]
    assert table.load(table.dump(value), "x") == value


def test_a_mistyped_field_is_named_by_its_path() -> None:
    """Reading checks each field against the table's kind and names it from the document's root."""
    written = tables.RESULT.dump(Result("p95", "p95 <= 5 ms", 3.0, 5.0, Status.FAIL, "over"))
    with pytest.raises(FieldError, match=r"^criteria\[2\]\.required should be bool, not str$"):
        tables.RESULT.load({**written, "required": "yes"}, "criteria[2]")
    with pytest.raises(FieldError, match=r"^criteria\[2\]\.status is 'bad', not one of pass, warn"):
        tables.RESULT.load({**written, "status": "bad"}, "criteria[2]")


def test_derived_fields_are_written_not_read() -> None:
    """A derived field (a rate, a percentile) is computed on writing and ignored on reading."""
    field: Field[Any] = next(f for f in tables.ENDPOINT.fields if f.key == "rps")
    assert field.derived
    assert "rps" not in tables.ENDPOINT.values(
        {**tables.ENDPOINT.dump(EndpointStats(), {"duration_s": 1.0}), "rps": "ignored"}, "e"
    )
