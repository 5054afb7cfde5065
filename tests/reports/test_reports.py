"""Reports: summary.json (schema, round trip), verdict.md, junit.xml, the console tables, atomic writes.

Runs are real StatsStore recordings driven by a settable clock (no Locust, no sleeping); verdicts
and server series are built by hand so each status can be shown on its own.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from runner.errors import RunDirError
from runner.model import EndpointKey, Result, RunInfo, RunRecord, Snapshot, Status, Verdict
from runner.readings import Series
from runner.reports import write_reports
from runner.reports.atomic import write_atomic
from runner.reports.console import render_endpoints, render_table
from runner.reports.junit import junit_xml, write_junit
from runner.reports.load import load_summary, record_from_dict
from runner.reports.markdown import append_step_summary, verdict_markdown, write_verdict_md
from runner.reports.summary_json import summary_dict, summary_schema, summary_text, write_summary
from runner.stats.store import StatsStore, Timeline
from runner.timefmt import iso_utc, parse_iso_utc
from runner.units import format_value

T0 = 1_790_000_000.123456  # deliberately not on a millisecond
EXIT = {Status.PASS: 0, Status.WARN: 0, Status.FAIL: 1, Status.INCONCLUSIVE: 3}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Clock:
    """A settable clock handed to StatsStore, so the recorded run has exact, known times."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def record_run(*, requests: int = 600, ramp_s: float = 2.0) -> tuple[Snapshot, Snapshot, tuple, float]:
    """A recorded run: three endpoints (one with an expected 404, one with connection failures),
    a timeline ticked every simulated second. Returns (whole, steady window, timeline, steady start)."""
    clock = Clock(T0)
    store = StatsStore(clock=clock, expected_statuses=(404,))
    timeline = Timeline()
    timeline.tick(store.snapshot(users=0))
    steady_base = None
    for i in range(requests):
        clock.now = T0 + (i + 1) * 0.01337
        latency_ms = 3.0 + (i * 37 % 401) * 1.0123
        store.record("GET", "/items/<id>", latency_ms, 404 if i % 50 == 0 else 200, i % 50 == 0, 512)
        store.record("POST", "/login|auth", latency_ms * 2.5, 200, False, 64)
        if i % 40 == 0:
            store.record("GET", "/flaky", 1500.0 + i, 0 if i % 80 == 0 else 503, True, 0)
        if steady_base is None and clock.now - T0 >= ramp_s:
            steady_base = store.snapshot(users=20)
        if i % 75 == 74:
            timeline.tick(store.snapshot(users=min(20, i // 20)))
    clock.now += 0.5  # ramp-down: the last interval is not empty
    whole = store.snapshot(users=20)
    timeline.tick(whole)
    if steady_base is None:  # never reached: the whole run is judged
        return whole, whole, timeline.points, whole.start
    return whole, whole.since(steady_base), timeline.points, steady_base.end


RESULTS = {
    Status.PASS: Result(
        "all requests p95",
        "p95 <= 500 ms",
        412.345678,
        500.0,
        Status.PASS,
        "p95 412.3 ms is within 500 ms",
        "ms",
    ),
    Status.WARN: Result(
        "GET /items/<id> error rate",
        "error rate <= 1 %",
        0.0095,
        0.01,
        Status.WARN,
        "error rate 0.95 % is close to the limit 1 %",
        "ratio",
        details={"requests": 600, "window": ("a", 2.5), "status": Status.WARN},
    ),
    Status.FAIL: Result(
        "all requests rps",
        "rps >= 100 /s",
        51.2,
        100.0,
        Status.FAIL,
        "rps 51.2 /s is below 100 /s",
        "rps",
    ),
    Status.INCONCLUSIVE: Result(
        "cpu_percent ecs:c/s",
        "cpu <= 70 %",
        None,
        70.0,
        Status.INCONCLUSIVE,
        "no CPUUtilization datapoints in the window",
        "percent",
        scope="server",
    ),
}


def make_record(
    status: Status = Status.FAIL,
    *,
    results: tuple[Result, ...] | None = None,
    interrupted: bool = False,
    notes: tuple[str, ...] = ("steady state reached after 2 s",),
    empty: bool = False,
) -> RunRecord:
    """A RunRecord from a real recording whose verdict has the given overall status."""
    whole, judged, timeline, _steady_start = record_run(requests=0 if empty else 600)
    if results is None:
        order = [Status.PASS, Status.WARN, Status.INCONCLUSIVE, Status.FAIL]
        results = tuple(RESULTS[s] for s in order[: order.index(status) + 1])
        if status is Status.INCONCLUSIVE:
            results = (RESULTS[Status.PASS], RESULTS[Status.INCONCLUSIVE])
    verdict = Verdict(results, status, EXIT[status], interrupted=interrupted, notes=notes)
    server = (
        Series(
            "cloudwatch",
            "ecs:cluster/service",
            "CPUUtilization",
            "Average",
            "Percent",
            ((T0 + 0.5, 12.5), (T0 + 60.5, math.nan), (T0 + 120.5, 33.333333333)),
        ),
        Series("process", "pid:1", "memory_rss", "Maximum", "Bytes", (), period_s=5.0),
    )
    return RunRecord(
        info=RunInfo("load_20261103T120000Z", "load", "https://staging.example.com", T0, locustfile="lf.py"),
        run_start=T0,
        run_end=whole.end,
        window_start=judged.start,
        window_end=judged.end,
        window_kind="whole_run" if empty else "steady_state",
        whole=whole,
        judged=judged,
        timeline=timeline,
        verdict=verdict,
        server=server,
        interrupted=interrupted,
        command=("loadlens", "run", "-f", "lf.py", "-H", "https://staging.example.com"),
        config_path="loadlens.toml",
        versions={"loadlens": "0.1.0", "locust": "2.47.0"},
    )


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = summary_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def tmp_leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


class TestWriteAtomic:
    def test_writes_text_and_bytes(self, tmp_path: Path) -> None:
        """Text is written as UTF-8 and bytes as given, and the path is returned."""
        assert write_atomic(tmp_path / "a.txt", "héllo") == tmp_path / "a.txt"
        write_atomic(tmp_path / "b.bin", b"\x00\x01")
        assert (tmp_path / "a.txt").read_bytes() == "héllo".encode()
        assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"

    def test_replaces_and_leaves_no_temp_file(self, tmp_path: Path) -> None:
        """Rewriting a file replaces its content and leaves only the file in the directory."""
        target = tmp_path / "summary.json"
        write_atomic(target, "old")
        write_atomic(target, "new")
        assert target.read_text() == "new"
        assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]

    def test_file_is_readable_by_others(self, tmp_path: Path) -> None:
        """The written file gets mode 0644, not the 0600 of a temporary file."""
        target = write_atomic(tmp_path / "junit.xml", "x")
        assert stat.S_IMODE(target.stat().st_mode) == 0o644

    def test_failure_keeps_old_content_and_removes_temp(self, tmp_path: Path, monkeypatch) -> None:
        """A failing fsync (injected: a full disk cannot be produced here) keeps the old file intact."""
        target = tmp_path / "summary.json"
        write_atomic(target, "old")

        def broken_fsync(fd: int) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "fsync", broken_fsync)
        with pytest.raises(RunDirError, match="No space left"):
            write_atomic(target, "new content that must not appear")
        assert target.read_text() == "old"
        assert tmp_leftovers(tmp_path) == []

    def test_interrupt_mid_write_removes_temp(self, tmp_path: Path, monkeypatch) -> None:
        """A KeyboardInterrupt during the write propagates and leaves no temporary file behind."""

        def interrupted(fd: int) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(os, "fsync", interrupted)
        with pytest.raises(KeyboardInterrupt):
            write_atomic(tmp_path / "verdict.md", "x")
        assert list(tmp_path.iterdir()) == []

    def test_target_is_a_directory(self, tmp_path: Path) -> None:
        """Replacing a directory fails with RunDirError and cleans up its temporary file."""
        (tmp_path / "summary.json").mkdir()
        with pytest.raises(RunDirError, match="cannot write"):
            write_atomic(tmp_path / "summary.json", "x")
        assert tmp_leftovers(tmp_path) == []
        assert (tmp_path / "summary.json").is_dir()

    def test_missing_directory(self, tmp_path: Path) -> None:
        """A file in a directory that does not exist is a RunDirError naming the file."""
        with pytest.raises(RunDirError, match="nope"):
            write_atomic(tmp_path / "nope" / "summary.json", "x")


class TestFormatValue:
    @pytest.mark.parametrize(
        ("value", "unit", "shown"),
        [
            (412.3, "ms", "412.3 ms"),
            (412.0, "ms", "412 ms"),
            (5.123, "ms", "5.12 ms"),
            (0.0042, "ratio", "0.42 %"),
            (0.01, "ratio", "1 %"),
            (0.0, "ratio", "0 %"),
            (51.23, "rps", "51.2 /s"),
            (70, "percent", "70 %"),
            (12345, "count", "12,345"),
            (512, "bytes", "512 B"),
            (1536, "bytes", "1.50 KiB"),
            (3 * 1024**3, "bytes", "3 GiB"),
            (0.5, "%/h", "0.5 %/h"),
            (300.0, "s", "300 s"),
            (0.125, "", "0.12"),
            (7.5, "widgets", "7.50 widgets"),
            (None, "ms", "—"),
            (math.nan, "ratio", "—"),
            (math.inf, "ms", "∞ ms"),
        ],
    )
    def test_formats_by_unit(self, value: float | None, unit: str, shown: str) -> None:
        """Each unit is shown with its own scale and suffix; a missing value is a dash."""
        assert format_value(value, unit) == shown


class TestTimes:
    def test_iso_has_milliseconds_and_z(self) -> None:
        """Times are ISO 8601 UTC with a Z, rounded to the millisecond."""
        assert iso_utc(0.0) == "1970-01-01T00:00:00.000Z"
        assert iso_utc(T0) == "2026-09-21T14:13:20.123Z"
        assert iso_utc(1.9996) == "1970-01-01T00:00:02.000Z"

    def test_parse_round_trips_to_the_millisecond(self) -> None:
        """Parsing what iso_utc wrote gives the time back within half a millisecond."""
        assert abs(parse_iso_utc(iso_utc(T0)) - T0) <= 0.0005
        assert iso_utc(parse_iso_utc(iso_utc(T0))) == iso_utc(T0)

    def test_parse_refuses_times_without_offset(self) -> None:
        """A time with no UTC offset is ambiguous and refused."""
        with pytest.raises(ValueError, match="offset"):
            parse_iso_utc("2026-11-03T12:00:00")


class TestSummaryDict:
    @pytest.mark.parametrize("status", list(Status))
    def test_valid_against_schema(self, status: Status, validator) -> None:
        """A summary of each overall status validates against summary.schema.json."""
        doc = json.loads(summary_text(make_record(status)))
        validator.validate(doc)
        assert doc["verdict"] == status.value
        assert doc["exit_code"] == EXIT[status]

    def test_phase_marks_are_kept_and_read_back(self, validator, tmp_path: Path) -> None:
        """The ramp-up's end and the load steps (for the report's phase shading) are written in
        window, valid against the schema, and read back to the millisecond; a summary without them
        reads as None."""
        from runner.model import PhaseMarks

        record = make_record(Status.PASS)
        marks = PhaseMarks(ramp_end=record.run_start + 1.5, load_steps=((record.run_start + 4.25, 10, 20),))
        doc = json.loads(summary_text(dataclasses.replace(record, phases=marks)))
        validator.validate(doc)
        assert doc["window"]["load_steps"] == [
            {"at": iso_utc(record.run_start + 4.25), "from_users": 10, "to_users": 20}
        ]
        again = record_from_dict(doc).phases
        assert again is not None and again.ramp_end == pytest.approx(marks.ramp_end, abs=0.001)
        assert again.load_steps[0][1:] == (10, 20)
        assert record_from_dict(json.loads(summary_text(record))).phases is None

    def test_empty_interrupted_run_is_valid(self, validator) -> None:
        """An interrupted run with no requests at all still gives a valid summary, with nulls."""
        doc = json.loads(summary_text(make_record(Status.INCONCLUSIVE, interrupted=True, empty=True)))
        validator.validate(doc)
        assert doc["interrupted"] is True
        assert doc["client"]["total"]["requests"] == 0
        assert doc["client"]["total"]["p95_ms"] is None
        assert doc["client"]["total"]["error_rate"] is None
        assert doc["client"]["endpoints"] == []

    def test_schema_rejects_a_wrong_document(self, validator) -> None:
        """The schema is not vacuous: an unknown verdict, a missing field or an extra one fail it."""
        doc = summary_dict(make_record())
        bad = [
            {**doc, "verdict": "ok"},
            {k: v for k, v in doc.items() if k != "window"},
            {**doc, "surprise": 1},
            {**doc, "window": {**doc["window"], "start": "2026-11-03 12:00"}},
            {**doc, "client": {**doc["client"], "total": {**doc["client"]["total"], "p95": 1.0}}},
        ]
        for document in bad:
            assert not validator.is_valid(json.loads(json.dumps(document)))

    def test_every_schema_field_is_documented(self) -> None:
        """docs/summary-schema.md names (in backticks) every field the schema defines."""
        names: set[str] = set()

        def walk(node: object) -> None:
            if isinstance(node, dict):
                names.update(node.get("properties", {}))
                for child in node.values():
                    walk(child)
            elif isinstance(node, list):
                for child in node:
                    walk(child)

        walk(summary_schema())
        doc = (Path(__file__).resolve().parents[2] / "docs" / "summary-schema.md").read_text(encoding="utf-8")
        assert len(names) > 50
        assert sorted(n for n in names if f"`{n}`" not in doc) == []

    def test_top_level_fields_come_from_the_record(self) -> None:
        """Identity, versions, command and window come from the record, times as ISO with ms."""
        record = make_record(Status.WARN)
        doc = summary_dict(record)
        assert doc["schema_version"] == 2
        assert (doc["run_id"], doc["scenario"], doc["host"]) == (
            "load_20261103T120000Z",
            "load",
            "https://staging.example.com",
        )
        assert (doc["loadlens_version"], doc["locust_version"]) == ("0.1.0", "2.47.0")
        assert doc["command"] == list(record.command)
        assert doc["interrupted"] is False
        assert doc["notes"] == ["steady state reached after 2 s"]
        window = doc["window"]
        assert window["kind"] == "steady_state"
        assert window["run_start"] == "2026-09-21T14:13:20.123Z"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", window["end"])
        assert window["duration_s"] == pytest.approx(record.window_end - record.window_start, abs=0.002)

    def test_endpoint_numbers_match_the_recording(self) -> None:
        """Per-endpoint counts, statuses, percentiles and rps are those of the judged snapshot."""
        record = make_record()
        doc = summary_dict(record)
        rows = {(e["method"], e["name"]): e for e in doc["client"]["endpoints"]}
        assert set(rows) == {(k.method, k.name) for k in record.judged.endpoints}
        items = rows[("GET", "/items/<id>")]
        stats = record.judged.endpoints[EndpointKey("GET", "/items/<id>")]
        assert items["requests"] == stats.count > 0
        assert items["expected"] == stats.statuses.get(404, 0) > 0  # 404s were declared expected
        assert items["failures"] == 0
        assert items["p95_ms"] == round(stats.quantile_ms(0.95), 3)
        assert items["rps"] == pytest.approx(stats.count / doc["window"]["duration_s"], rel=1e-3)
        flaky = rows[("GET", "/flaky")]
        assert flaky["failures"] == flaky["requests"] > 0
        assert set(flaky["statuses"]) <= {"0", "503"}
        assert flaky["failed_statuses"] == flaky["statuses"]
        assert flaky["error_rate"] == 1.0
        whole = doc["client"]["whole_run"]["total"]
        assert whole["requests"] == record.whole.total().count > doc["client"]["total"]["requests"]

    def test_histogram_allows_exact_rejudging(self) -> None:
        """The sparse histogram written is the recorded one, so a threshold is re-judged exactly."""
        record = make_record()
        doc = summary_dict(record)
        total = doc["client"]["total"]
        assert total["histogram"]["scheme"] == "log"
        assert total["histogram"]["relative_accuracy"] == 0.005
        assert total["histogram"]["buckets"] == record.judged.total().histogram.pairs()
        assert sum(c for _i, c in total["histogram"]["buckets"]) == total["requests"]

    def test_none_and_non_finite_become_null(self) -> None:
        """None and NaN observed values, and NaN server points, are written as null or left out."""
        nan_result = dataclasses.replace(RESULTS[Status.PASS], observed=math.nan, details={"x": math.inf})
        record = make_record(Status.INCONCLUSIVE, results=(nan_result, RESULTS[Status.INCONCLUSIVE]))
        doc = json.loads(summary_text(record))
        assert doc["criteria"][0]["observed"] is None
        assert doc["criteria"][0]["details"] == {"x": None}
        assert doc["criteria"][1]["observed"] is None
        cpu = doc["server"]["series"][0]
        assert [v for _t, v in cpu["points"]] == [12.5, 33.333333333]
        summary = doc["server"]["summaries"][0]
        assert (summary["min"], summary["max"], summary["last"], summary["points"]) == (
            12.5,
            33.333333333,
            33.333333333,
            2,
        )
        assert summary["mean"] == 22.9167
        empty = doc["server"]["summaries"][1]
        assert (empty["min"], empty["mean"], empty["points"]) == (None, None, 0)

    def test_details_become_json(self) -> None:
        """Criterion details with tuples and enums are written as lists and strings."""
        doc = json.loads(summary_text(make_record(Status.WARN)))
        warn = next(c for c in doc["criteria"] if c["status"] == "warn")
        assert warn["details"] == {"requests": 600, "window": ["a", 2.5], "status": "warn"}

    def test_every_timeline_interval_is_written(self) -> None:
        """Every timeline interval is written with its span, users, totals and per-endpoint digest."""
        record = make_record()
        timeline = summary_dict(record)["client"]["timeline"]
        assert len(timeline) == len(record.timeline) > 3
        assert sum(p["requests"] for p in timeline) == record.whole.total().count
        last = timeline[-1]
        assert last["users"] == record.timeline[-1].users
        assert {e["name"] for e in last["endpoints"]} <= {"/items/<id>", "/login|auth", "/flaky"}
        assert all(p["start"] <= p["end"] for p in timeline)

    def test_zero_length_interval_has_no_rate(self, validator) -> None:
        """A zero-length interval (the timeline's first tick) has a null rps, not a division error."""
        doc = summary_dict(make_record())
        first = doc["client"]["timeline"][0]
        assert first["start"] == first["end"]
        assert first["rps"] is None
        assert all(p["rps"] is not None for p in doc["client"]["timeline"][1:])

    def test_write_summary_creates_the_file(self, tmp_path: Path) -> None:
        """write_summary writes summary.json (creating the run directory) with the document's text."""
        record = make_record()
        path = write_summary(record, tmp_path / "run")
        assert path == tmp_path / "run" / "summary.json"
        assert json.loads(path.read_text()) == json.loads(json.dumps(summary_dict(record)))


class TestLoadSummary:
    @pytest.mark.parametrize(
        ("status", "options"),
        [
            (Status.PASS, {}),
            (Status.WARN, {}),
            (Status.FAIL, {}),
            (Status.INCONCLUSIVE, {"interrupted": True}),
            (Status.INCONCLUSIVE, {"empty": True}),
        ],
    )
    def test_round_trip_is_identical(self, status: Status, options: dict, tmp_path: Path) -> None:
        """record -> summary.json -> record -> summary.json gives exactly the same text."""
        record = make_record(status, **options)
        first = write_summary(record, tmp_path).read_text()
        again = load_summary(tmp_path)
        assert summary_text(again) == first

    def test_rejudging_a_loaded_record_sets_expected_statuses_apart_exactly(self, tmp_path: Path) -> None:
        """summary.json keeps the expected statuses and the non-2xx latency per status, so judging the
        loaded record gives exactly the results the run had, expected 404s left out of percentiles."""
        from runner.config.load import Limits, Thresholds
        from runner.judge.client import judge_client

        record = make_record(Status.FAIL)
        loaded = load_summary(write_summary(record, tmp_path))
        assert loaded.judged.expected_statuses == frozenset({404})
        for key, stats in record.judged.endpoints.items():
            assert loaded.judged.endpoints[key].status_histograms == stats.status_histograms
        assert set(record.judged.endpoints[EndpointKey("GET", "/items/<id>")].status_histograms) == {404}
        t = Thresholds(default=Limits(p50_ms=200, p95_ms=400, p99_ms=2000, min_rps=10))
        original, again = judge_client(record.judged, t), judge_client(loaded.judged, t)
        assert [(r.name, r.status, r.details) for r in again] == [
            (r.name, r.status, r.details) for r in original
        ]
        for a, b in zip(again, original, strict=True):
            # percentiles exact; rps within the millisecond rounding of the window's times
            assert a.observed == (b.observed if a.unit == "ms" else pytest.approx(b.observed, rel=1e-3))
        items_p50 = {r.name: r for r in again}["GET /items/<id> p50"]
        assert (
            items_p50.details["expected"]
            == record.judged.endpoints[EndpointKey("GET", "/items/<id>")].expected
            > 0
        )

    def test_loaded_record_keeps_what_rejudging_needs(self, tmp_path: Path) -> None:
        """The loaded record has the same histograms, counts, verdict and (ms-rounded) times."""
        record = make_record(Status.FAIL, interrupted=True)
        loaded = load_summary(write_summary(record, tmp_path))
        assert loaded.judged.endpoints.keys() == record.judged.endpoints.keys()
        for key, stats in record.judged.endpoints.items():
            back = loaded.judged.endpoints[key]
            assert back.histogram == stats.histogram
            assert (back.count, back.failures, back.expected) == (stats.count, stats.failures, stats.expected)
            assert back.statuses == stats.statuses
            assert (back.sum_ms, back.mean_ms) == (stats.sum_ms, stats.mean_ms)  # exact, not rounded
            limit_ms = 200.0
            assert back.histogram.count_at_or_below(limit_ms) == stats.histogram.count_at_or_below(limit_ms)
        assert loaded.verdict.status is Status.FAIL and loaded.verdict.exit_code == 1
        assert [r.status for r in loaded.verdict.results] == [r.status for r in record.verdict.results]
        assert loaded.interrupted and loaded.verdict.interrupted
        assert loaded.window_start == pytest.approx(record.window_start, abs=0.0005)
        assert loaded.info.run_id == record.info.run_id
        assert loaded.versions == {"loadlens": "0.1.0", "locust": "2.47.0"}
        assert len(loaded.timeline) == len(record.timeline)
        assert loaded.server[0].points[0][1] == 12.5
        assert loaded.judged.duration_s == pytest.approx(record.judged.duration_s, abs=0.001)

    def test_total_agrees_with_the_loaded_endpoints(self, tmp_path: Path) -> None:
        """The written total's sum_ms is exactly what the loaded endpoints add up to (float addition
        depends on order: 0.1 + 0.2 + 0.3 differs from 0.3 + 0.2 + 0.1)."""
        clock = Clock(T0)
        store = StatsStore(clock=clock)
        for name, latency_ms in (("/c", 0.3), ("/b", 0.2), ("/a", 0.1)):
            store.record("GET", name, latency_ms, 200, False, 0)
        clock.now += 1.0
        snap = store.snapshot(users=1)
        record = dataclasses.replace(make_record(), whole=snap, judged=snap)
        written = summary_dict(record)["client"]["total"]["sum_ms"]
        assert written == load_summary(write_summary(record, tmp_path)).judged.total().sum_ms

    def test_accepts_the_file_itself(self, tmp_path: Path) -> None:
        """The path may be summary.json itself rather than its directory."""
        path = write_summary(make_record(), tmp_path)
        assert load_summary(path).info.scenario == "load"

    def test_ignores_unknown_fields(self, tmp_path: Path) -> None:
        """Fields added later (an additive change keeps schema_version) are ignored."""
        doc = summary_dict(make_record())
        doc["added_later"] = {"x": 1}
        doc["client"]["total"]["p999_ms"] = 1.0
        assert record_from_dict(doc).info.run_id == "load_20261103T120000Z"

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (None, "does not exist"),
            ("", "not JSON"),
            ("{not json", "not JSON"),
            (b"\xff\xfe\x00", "not JSON"),
            ("[1, 2]", "not a loadlens summary"),
            ('{"stats": []}', "not a loadlens summary"),
            ('{"schema_version": 3, "run_id": "x"}', "schema_version 3 (written by a newer loadlens)"),
            ('{"schema_version": "1", "run_id": "x"}', "schema_version '1'"),
        ],
    )
    def test_refuses_what_is_not_a_summary(
        self, tmp_path: Path, content: str | bytes | None, message: str
    ) -> None:
        """A missing file, non-JSON, a foreign JSON or another schema_version is a one-line RunDirError."""
        path = tmp_path / "summary.json"
        if isinstance(content, str):
            path.write_text(content)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        with pytest.raises(RunDirError, match=re.escape(message)) as caught:
            load_summary(path)
        assert "\n" not in str(caught.value)

    def test_directory_without_summary(self, tmp_path: Path) -> None:
        """A directory with no summary.json is refused, naming the directory."""
        with pytest.raises(RunDirError, match=r"holds no summary\.json"):
            load_summary(tmp_path)

    @pytest.mark.parametrize(
        ("mutate", "message"),
        [
            (lambda d: d.pop("window"), "window is missing"),
            (lambda d: d.update(verdict="great"), "verdict is 'great'"),
            (lambda d: d.update(exit_code="1"), "exit_code should be int"),
            (lambda d: d["window"].update(start="yesterday"), "window.start"),
            (lambda d: d["window"].update(start="2026-11-03T12:00:00"), "no UTC offset"),
            (
                lambda d: d["client"]["endpoints"][0].pop("requests"),
                "client.endpoints[0].requests is missing",
            ),
            (lambda d: d["client"]["endpoints"][0].update(requests=True), "should be int, not bool"),
            (lambda d: d["client"]["endpoints"][0]["histogram"].update(scheme="hdr"), "cannot be read"),
            (
                lambda d: d["client"]["endpoints"][0]["histogram"].update(buckets=[[1]]),
                "[index, count] pairs",
            ),
            (lambda d: d["client"]["endpoints"][0].update(statuses={"OK": 1}), "HTTP status codes"),
            (lambda d: d["criteria"][0].update(required="yes"), "criteria[0].required should be bool"),
            (lambda d: d["server"]["series"][0].update(points=[["2026-11-03T12:00:00Z"]]), "[time, number]"),
        ],
    )
    def test_refuses_a_broken_summary(self, mutate, message: str) -> None:
        """A summary with a missing or mistyped field is refused with a line naming the field."""
        doc = json.loads(summary_text(make_record()))
        mutate(doc)
        with pytest.raises(RunDirError, match=re.escape(message)) as caught:
            record_from_dict(doc, source="run/summary.json")
        assert str(caught.value).startswith("run/summary.json")
        assert "\n" not in str(caught.value)


class TestVerdictMarkdown:
    @pytest.mark.parametrize(
        ("status", "heading"),
        [
            (Status.PASS, "# ✅ PASS"),
            (Status.WARN, "# ⚠️ WARN"),
            (Status.FAIL, "# ❌ FAIL"),
            (Status.INCONCLUSIVE, "# ❔ INCONCLUSIVE"),
        ],
    )
    def test_heading_shows_the_verdict(self, status: Status, heading: str) -> None:
        """The first line names the overall verdict with its emoji and the run id."""
        first = verdict_markdown(make_record(status)).splitlines()[0]
        assert first.startswith(heading + " ")
        assert "load_20261103T120000Z" in first
        assert "interrupted" not in verdict_markdown(make_record(status)).lower()

    def test_shows_scenario_host_and_the_judged_window(self) -> None:
        """Scenario, host and the judged window (kind and duration) are shown."""
        record = make_record()
        text = verdict_markdown(record)
        assert "- **Scenario:** load" in text
        assert "- **Host:** https://staging.example.com" in text
        assert f"{iso_utc(record.window_start)} → {iso_utc(record.window_end)} (steady state, " in text

    def test_criteria_table_shows_each_criterion_in_its_units(self) -> None:
        """One row per criterion with observed and limit in their units, status and reason."""
        text = verdict_markdown(make_record(Status.FAIL))
        rows = [line for line in text.splitlines() if "p95 &lt;= 500 ms" in line or "cpu &lt;= 70" in line]
        assert len(rows) == 2
        assert "| 412.3 ms | 500 ms | ✅ PASS | p95 412.3 ms is within 500 ms |" in rows[0]
        assert "| — | 70 % | ❔ INCONCLUSIVE |" in rows[1]
        assert "| 51.2 /s | 100 /s | ❌ FAIL | rps 51.2 /s is below 100 /s |" in text

    def test_cells_are_escaped(self) -> None:
        """A pipe or an angle bracket in a name does not break the table or vanish as HTML."""
        text = verdict_markdown(make_record())
        row = next(line for line in text.splitlines() if "login" in line)
        assert "POST /login\\|auth" in row
        unescaped_pipes = len(re.findall(r"(?<!\\)\|", row))
        assert unescaped_pipes == 9  # 8 columns
        assert "GET /items/&lt;id&gt;" in text

    def test_endpoints_table_and_notes(self) -> None:
        """The endpoints of the judged window are listed with a total row, then the notes."""
        record = make_record()
        text = verdict_markdown(record)
        assert "## Endpoints (steady state)" in text
        total = record.judged.total()
        total_row = next(line for line in text.splitlines() if line.startswith("| **all requests**"))
        assert f"**{total.count:,}**" in total_row
        assert text.rstrip().endswith("- steady state reached after 2 s")

    def test_endpoint_rows_are_capped(self) -> None:
        """Beyond max_endpoints the busiest are shown and the rest counted."""
        text = verdict_markdown(make_record(), max_endpoints=1)
        assert "… and 2 more" in text
        assert "/flaky" not in text

    def test_interrupted_is_clearly_shown(self) -> None:
        """An interrupted run says so in the heading and in a call-out."""
        text = verdict_markdown(make_record(Status.FAIL, interrupted=True))
        assert text.splitlines()[0].startswith("# ❌ FAIL (interrupted)")
        assert "**Interrupted:**" in text

    def test_no_criteria_and_no_requests(self) -> None:
        """A run with no criteria and no requests says both rather than showing empty tables."""
        text = verdict_markdown(make_record(Status.INCONCLUSIVE, results=(), empty=True))
        assert "_No criteria were judged._" in text
        assert "_No requests in the judged window._" in text

    def test_written_verdict_md_is_the_rendered_markdown(self, tmp_path: Path) -> None:
        """write_verdict_md writes verdict.md with exactly the rendered Markdown."""
        record = make_record()
        path = write_verdict_md(record, tmp_path)
        assert path.name == "verdict.md"
        assert path.read_text(encoding="utf-8") == verdict_markdown(record)


class TestStepSummary:
    def test_appends_to_the_step_summary_when_set(self, tmp_path: Path) -> None:
        """With GITHUB_STEP_SUMMARY set, the Markdown is appended after what other steps wrote."""
        target = tmp_path / "step_summary.md"
        target.write_text("earlier step\n")
        assert append_step_summary("# ✅ PASS\n", {"GITHUB_STEP_SUMMARY": str(target)}) == target
        assert target.read_text(encoding="utf-8") == "earlier step\n\n# ✅ PASS\n"

    @pytest.mark.parametrize("env", [{}, {"GITHUB_STEP_SUMMARY": ""}])
    def test_nothing_when_unset(self, env: dict[str, str], tmp_path: Path) -> None:
        """Without the variable nothing is written and None is returned."""
        assert append_step_summary("# x", env) is None
        assert list(tmp_path.iterdir()) == []

    def test_unwritable_target(self, tmp_path: Path) -> None:
        """A step summary path that cannot be appended to is a RunDirError naming it."""
        with pytest.raises(RunDirError, match="GITHUB_STEP_SUMMARY"):
            append_step_summary("# x", {"GITHUB_STEP_SUMMARY": str(tmp_path)})


class TestJunit:
    def parse(self, record: RunRecord) -> ET.Element:
        root = ET.fromstring(junit_xml(record).encode("utf-8"))
        assert root.tag == "testsuites"
        (suite,) = root.findall("testsuite")
        assert suite.get("name") == "loadlens"
        return suite

    def test_one_testcase_per_criterion_with_counts(self) -> None:
        """Each criterion is a testcase; tests/failures/errors/skipped count them correctly."""
        optional = dataclasses.replace(RESULTS[Status.INCONCLUSIVE], name="optional cpu", required=False)
        results = (*RESULTS.values(), optional)
        suite = self.parse(make_record(Status.FAIL, results=results))
        cases = suite.findall("testcase")
        assert [c.get("name") for c in cases] == [r.name for r in results]
        assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
            "5",
            "1",
            "1",
            "1",
        )
        assert [c.get("classname") for c in cases] == ["loadlens.client"] * 3 + ["loadlens.server"] * 2

    def test_each_status_has_its_junit_outcome(self) -> None:
        """FAIL is <failure>, required INCONCLUSIVE <error>, optional <skipped>, WARN passes with a note."""
        optional = dataclasses.replace(RESULTS[Status.INCONCLUSIVE], name="optional cpu", required=False)
        suite = self.parse(make_record(Status.FAIL, results=(*RESULTS.values(), optional)))
        by_name = {c.get("name"): c for c in suite.findall("testcase")}
        passed = by_name["all requests p95"]
        assert [child.tag for child in passed] == ["system-out"]
        warned = by_name["GET /items/<id> error rate"]
        assert [child.tag for child in warned] == ["system-out"]
        assert warned.findtext("system-out").startswith("WARNING: error rate 0.95 % is close")
        failed = by_name["all requests rps"].find("failure")
        assert failed is not None and failed.get("message") == "rps 51.2 /s is below 100 /s"
        assert "observed 51.2 /s, limit 100 /s" in failed.text
        error = by_name["cpu_percent ecs:c/s"].find("error")
        assert error is not None and error.get("message") == "no CPUUtilization datapoints in the window"
        skipped = by_name["optional cpu"].find("skipped")
        assert skipped is not None and skipped.get("message") == "no CPUUtilization datapoints in the window"

    def test_run_id_scenario_and_verdict_are_suite_properties(self) -> None:
        """run_id, scenario and verdict (and interrupted) are suite properties."""
        suite = self.parse(make_record(Status.WARN, interrupted=True))
        props = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert props["run_id"] == "load_20261103T120000Z"
        assert props["scenario"] == "load"
        assert props["verdict"] == "warn"
        assert props["interrupted"] == "true"

    def test_control_characters_stay_valid_xml(self) -> None:
        """A reason with characters XML cannot carry still gives a parseable file."""
        odd = dataclasses.replace(RESULTS[Status.FAIL], reason="body: \x00\x1b[31mboom\x07")
        suite = self.parse(make_record(Status.FAIL, results=(odd,)))
        message = suite.find("testcase/failure").get("message")
        assert message.startswith("body: ") and "boom" in message and "\x00" not in message

    def test_no_criteria_is_an_empty_valid_suite(self) -> None:
        """A verdict without criteria is an empty but valid suite."""
        suite = self.parse(make_record(Status.INCONCLUSIVE, results=()))
        assert suite.get("tests") == "0"
        assert suite.findall("testcase") == []

    def test_written_junit_parses_back_to_the_same_suite(self, tmp_path: Path) -> None:
        """write_junit writes junit.xml that parses back to the same suite."""
        path = write_junit(make_record(), tmp_path)
        assert path.name == "junit.xml"
        assert ET.parse(path).getroot().find("testsuite").get("tests") == "4"


class TestConsole:
    def test_columns_are_aligned(self) -> None:
        """Every row's status starts in the same column as the header's, values right-aligned."""
        text = render_table(make_record(Status.FAIL).verdict, color=False)
        lines = text.splitlines()
        header, rule, rows = lines[0], lines[1], lines[2:6]
        column = header.index("status")
        for row in rows:
            assert re.match(r"(PASS|WARN|FAIL|INCONCLUSIVE)$", row[column:])
        limit_end = header.index("limit") + len("limit")
        assert all(row[limit_end - 1] != " " for row in rows)  # right-aligned numbers end together
        assert set(rule.replace(" ", "")) == {"-"}

    def test_values_with_units(self) -> None:
        """Observed and limit are shown with their units, a dash for a missing value."""
        text = render_table(make_record(Status.FAIL).verdict, color=False)
        row = next(line for line in text.splitlines() if line.startswith("all requests p95"))
        assert re.search(r"412\.3 ms\s+500 ms\s+PASS$", row)
        assert re.search(r"0\.95 %\s+1 %\s+WARN$", text, re.M)
        assert re.search(r"—\s+70 %\s+INCONCLUSIVE$", text, re.M)

    def test_reasons_only_for_fail_and_inconclusive(self) -> None:
        """After the table, the reason of each FAIL and INCONCLUSIVE is given, not of PASS or WARN."""
        text = render_table(make_record(Status.FAIL).verdict, color=False)
        assert "FAIL all requests rps: rps 51.2 /s is below 100 /s" in text
        assert "INCONCLUSIVE cpu_percent ecs:c/s: no CPUUtilization datapoints in the window" in text
        assert "is within 500 ms" not in text
        assert "close to the limit" not in text
        assert "note: steady state reached after 2 s" in text

    @pytest.mark.parametrize(
        ("status", "last"),
        [
            (Status.PASS, "verdict: PASS (exit 0) — 1 criterion passed"),
            (Status.WARN, "verdict: WARN (exit 0) — 1 of 2 criteria warned"),
            (Status.INCONCLUSIVE, "verdict: INCONCLUSIVE (exit 3) — 1 of 2 criteria inconclusive"),
            (Status.FAIL, "verdict: FAIL (exit 1) — 1 of 4 criteria failed, 1 inconclusive, 1 warned"),
        ],
    )
    def test_final_line_gives_verdict_exit_code_and_counts(self, status: Status, last: str) -> None:
        """The last line gives the verdict, the exit code and how many criteria did what."""
        text = render_table(make_record(status).verdict, color=False)
        assert text.splitlines()[-1] == last

    def test_final_line_when_interrupted(self) -> None:
        """An interrupted run says so on the verdict line."""
        text = render_table(make_record(Status.PASS, interrupted=True).verdict, color=False)
        assert text.splitlines()[-1].startswith("verdict: PASS (exit 0, interrupted) — ")

    def test_colour_only_when_asked(self) -> None:
        """ANSI codes wrap the status words when color=True and appear nowhere when False."""
        verdict = make_record(Status.FAIL).verdict
        plain = render_table(verdict, color=False)
        coloured = render_table(verdict, color=True)
        assert not ANSI.search(plain)
        assert "\x1b[32mPASS\x1b[0m" in coloured
        assert "\x1b[1;31mFAIL\x1b[0m" in coloured
        assert "verdict: \x1b[1;31mFAIL\x1b[0m (exit 1)" in coloured
        assert ANSI.sub("", coloured) == plain

    def test_endpoints_are_listed_busiest_first_with_the_total_last(self) -> None:
        """The endpoint table lists each endpoint, busiest first, and the total last."""
        record = make_record()
        lines = render_endpoints(record.judged).splitlines()
        assert lines[0].split() == ["endpoint", "requests", "failures", "errors", "p50", "p95", "p99", "rps"]
        names = [line.split("  ")[0].strip() for line in lines[2:]]
        assert names == ["GET /items/<id>", "POST /login|auth", "GET /flaky", "all requests"]
        flaky = lines[4]
        assert re.search(r"100 %\s", flaky)
        total = record.judged.total()
        assert f"{total.count:,}" in lines[-1]

    def test_render_endpoints_caps_rows(self) -> None:
        """With more endpoints than max_rows, the rest are counted above the total."""
        lines = render_endpoints(make_record().judged, max_rows=2).splitlines()
        assert lines[-2] == "… and 1 more endpoints"
        assert lines[-1].startswith("all requests")


class TestRedaction:
    def test_no_credential_in_any_report(self, tmp_path: Path) -> None:
        """A password in the host URL, the command line, a reason or a note appears in no report."""
        secret = "hunter2secret"
        record = make_record(
            Status.FAIL, notes=(f"could not reach https://ops:{secret}@staging.example.com",)
        )
        leaky = dataclasses.replace(
            RESULTS[Status.FAIL], reason=f"GET failed: Authorization: Bearer {secret}"
        )
        record = dataclasses.replace(
            record,
            info=dataclasses.replace(record.info, host=f"https://user:{secret}@staging.example.com"),
            command=(
                "loadlens",
                "run",
                "-H",
                f"https://user:{secret}@staging.example.com",
                f"--token={secret}",
            ),
            verdict=dataclasses.replace(record.verdict, results=(leaky,)),
        )
        target = tmp_path / "step.md"
        paths = write_reports(record, tmp_path / "run", env={"GITHUB_STEP_SUMMARY": str(target)})
        texts = [p.read_text(encoding="utf-8") for p in [*paths, target]]
        texts.append(render_table(record.verdict, color=False))
        assert all(secret not in text for text in texts)
        doc = json.loads(texts[0])
        assert doc["host"] == "https://***@staging.example.com"
        assert "staging.example.com" in verdict_markdown(record)

    def test_redaction_keeps_the_round_trip(self, tmp_path: Path) -> None:
        """A redacted summary read back and written again is unchanged."""
        record = make_record()
        record = dataclasses.replace(
            record, info=dataclasses.replace(record.info, host="https://u:pw@h.example")
        )
        first = write_summary(record, tmp_path).read_text()
        assert summary_text(load_summary(tmp_path)) == first


class TestWriteReports:
    def test_writes_all_files_atomically(self, tmp_path: Path) -> None:
        """summary.json, verdict.md, junit.xml and report.html are written (directory created), no
        temp files left."""
        run_dir = tmp_path / "results" / "load_20261103T120000Z"
        record = make_record(Status.FAIL, interrupted=True)
        paths = write_reports(record, run_dir, env={})
        assert [p.name for p in paths] == ["summary.json", "verdict.md", "junit.xml", "report.html"]
        files = sorted(p.name for p in run_dir.iterdir())
        assert files == ["junit.xml", "report.html", "summary.json", "verdict.md"]
        assert load_summary(run_dir).interrupted

    def test_appends_step_summary(self, tmp_path: Path) -> None:
        """With GITHUB_STEP_SUMMARY set, the verdict Markdown is appended to it as well."""
        target = tmp_path / "step.md"
        record = make_record(Status.PASS)
        write_reports(record, tmp_path / "run", env={"GITHUB_STEP_SUMMARY": str(target)})
        assert target.read_text(encoding="utf-8") == "\n" + verdict_markdown(record)

    def test_broken_step_summary_does_not_stop_the_reports(self, tmp_path: Path, capsys) -> None:
        """A step summary that cannot be written is logged; the run's own reports are still written."""
        run_dir = tmp_path / "run"
        paths = write_reports(make_record(), run_dir, env={"GITHUB_STEP_SUMMARY": str(tmp_path)})
        assert all(p.is_file() for p in paths) and len(paths) == 4
        captured = capsys.readouterr()
        assert "step summary not written" in captured.out + captured.err
