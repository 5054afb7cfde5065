"""What makes runs comparable is recorded in summary.json, read back unchanged, and compared."""

from __future__ import annotations

from pathlib import Path

import jsonschema

from runner.compare.shape import locustfile_sha256, run_shape, shape_differences
from runner.reports.load import load_summary
from runner.reports.summary_json import summary_dict, summary_schema, summary_text, write_summary
from tests.compare.runs import SHAPE, make_run

PLUGIN = Path(__file__).resolve().parents[2] / "runner" / "plugin.py"


class TestSummary:
    def test_comparability_round_trips_and_validates(self, tmp_path: Path) -> None:
        """Written, read back and written again: the same text; the schema accepts it."""
        record = make_run({"/health": 5.0}, seed=1)
        path = write_summary(record, tmp_path)
        again = load_summary(path)
        assert again.shape == SHAPE
        assert summary_text(again) == path.read_text()
        jsonschema.Draft202012Validator(summary_schema()).validate(summary_dict(record))

    def test_older_summary_without_it_reads_as_none(self, tmp_path: Path) -> None:
        """A summary written before comparability existed: no field, shape None, nothing invented."""
        record = make_run({"/health": 5.0}, seed=1, shape=None)
        assert "comparability" not in summary_dict(record)
        assert load_summary(write_summary(record, tmp_path)).shape is None


class TestShape:
    def test_locustfile_hash_follows_content_and_leaves_the_plugin_out(self, tmp_path: Path) -> None:
        """Same content: same hash; one byte more: another; loadlens's plugin does not count."""
        lf = tmp_path / "locustfile.py"
        lf.write_text("x = 1\n")
        first = locustfile_sha256([str(lf)])
        assert first == locustfile_sha256([str(lf), str(PLUGIN)]) and len(first) == 64
        lf.write_text("x = 2\n")
        assert locustfile_sha256([str(lf)]) != first
        assert locustfile_sha256([str(tmp_path / "missing.py")]) == ""

    def test_differences_name_each_field(self) -> None:
        """Users, spawn rate, host and tags that differ are each named with both values."""
        a = run_shape(
            locustfiles=[], scenario="load", users=10, spawn_rate=5, duration_s=60, host="http://a",
            user_classes=["U"], tags=["x"],
        )  # fmt: skip
        b = run_shape(
            locustfiles=[], scenario="load", users=20, spawn_rate=10, duration_s=60, host="http://b",
            user_classes=["U"], tags=[],
        )  # fmt: skip
        assert shape_differences(a, b) == (
            "users: 10 in the baseline, 20 now",
            "spawn rate: 5 in the baseline, 10 now",
            "target host: http://a in the baseline, http://b now",
            "tags: x in the baseline, none now",
        )
        assert shape_differences(a, a) == ()
