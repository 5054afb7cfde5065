"""Where a baseline comes from: `latest` picks the newest passing run of the same scenario, a bad
--baseline is refused before the run, and a baseline that cannot be read is INCONCLUSIVE."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from runner.compare.baseline import check_baseline_spec, find_latest, parse_s3_url
from runner.compare.compare import view_of
from runner.compare.criteria import baseline_results
from runner.compare.regression import regression_results
from runner.errors import UsageError
from runner.model import Status
from runner.reports.summary_json import write_summary
from tests.compare.runs import SHAPE, T0, make_run

BASE = {"/health": 50.0, "/api/v1/jobs": 50.0}


def write(out: Path, name: str, *, scenario: str = "load", **kw) -> Path:
    record = make_run(BASE, run_id=name, **kw)
    record = replace(record, info=replace(record.info, scenario=scenario))
    return write_summary(record, out / name).parent


class TestLatest:
    def test_newest_passing_run_of_the_scenario(self, tmp_path: Path) -> None:
        """A newer failing run, another scenario's run and the current run itself are passed over."""
        write(tmp_path, "load_1", seed=1, start=T0)
        want = write(tmp_path, "load_2", seed=2, start=T0 + 100)
        write(tmp_path, "load_3", seed=3, start=T0 + 200, verdict=Status.FAIL)
        write(tmp_path, "other", seed=4, start=T0 + 300, scenario="smoke")
        current = write(tmp_path, "load_4", seed=5, start=T0 + 400)
        (tmp_path / "not-a-run").mkdir()
        assert find_latest(tmp_path, "load", exclude=current) == want

    def test_no_passing_run_yet_is_an_optional_inconclusive_row(self, tmp_path: Path) -> None:
        """The first run of a scenario has nothing to compare with: one non-required INCONCLUSIVE row."""
        rows = baseline_results("latest", view_of(make_run(BASE, seed=1)), out_dir=tmp_path, scenario="load")
        assert [(r.status, r.required) for r in rows] == [(Status.INCONCLUSIVE, False)]
        assert "no earlier passing run" in rows[0].reason

    def test_unreadable_baseline_is_a_required_inconclusive_row(self, tmp_path: Path) -> None:
        """A run directory whose summary is broken: required INCONCLUSIVE (exit 3), never a pass."""
        (tmp_path / "broken").mkdir()
        (tmp_path / "broken" / "summary.json").write_text("{not json")
        rows = baseline_results(
            str(tmp_path / "broken"), view_of(make_run(BASE, seed=1)), out_dir=tmp_path, scenario="load"
        )
        assert [(r.status, r.required) for r in rows] == [(Status.INCONCLUSIVE, True)]
        assert "not JSON" in rows[0].reason


class TestRegressionCriteria:
    def test_slower_endpoint_is_a_fail_row_with_interval_and_tolerance(self) -> None:
        """The row reads '+N % (95 % CI +a … +b %), tolerance +10 %' and FAILs; all requests p95 is required."""
        rows = regression_results(
            make_run(BASE, seed=1, run_id="base"), view_of(make_run({**BASE, "/api/v1/jobs": 75.0}, seed=2))
        )
        by_name = {r.name: r for r in rows}
        jobs = by_name["GET /api/v1/jobs p95 vs baseline"]
        assert (
            jobs.status is Status.FAIL
            and jobs.limit == 10
            and jobs.observed is not None
            and jobs.observed > 30
        )
        assert "(95 % CI +" in jobs.reason and "tolerance +10 %" in jobs.reason
        assert by_name["GET /health p95 vs baseline"].status is Status.PASS
        assert by_name["all requests p95 vs baseline"].required
        assert not by_name["GET /health p95 vs baseline"].required

    def test_uncomparable_runs_are_one_required_inconclusive_row(self) -> None:
        """Other users: no FAIL invented, one row that names the difference."""
        current = make_run({**BASE, "/api/v1/jobs": 75.0}, seed=2, shape=replace(SHAPE, users=50))
        rows = regression_results(make_run(BASE, seed=1), view_of(current))
        assert len(rows) == 1 and rows[0].status is Status.INCONCLUSIVE and rows[0].required
        assert "users: 10 in the baseline, 50 now" in rows[0].reason


class TestSpecs:
    @pytest.mark.parametrize(
        ("url", "bucket", "key"),
        [
            ("s3://b/ci/latest", "b", "ci/latest/summary.json"),
            ("s3://b/ci/latest/", "b", "ci/latest/summary.json"),
            ("s3://b", "b", "summary.json"),
            ("s3://b/x/run.json", "b", "x/run.json"),
        ],
    )
    def test_s3_url_names_a_directory_or_the_object(self, url: str, bucket: str, key: str) -> None:
        loc = parse_s3_url(url)
        assert (loc.bucket, loc.key) == (bucket, key)

    @pytest.mark.parametrize("spec", ["s3://", "s3:///key", "no/such/run"])
    def test_bad_spec_is_refused_before_the_run(self, spec: str) -> None:
        with pytest.raises(UsageError):
            check_baseline_spec(spec)

    def test_run_dir_and_latest_are_accepted(self, tmp_path: Path) -> None:
        check_baseline_spec("latest")
        check_baseline_spec(str(write(tmp_path, "load_1", seed=1)))


class TestVerdictTolerances:
    def test_verdict_baseline_reads_per_figure_tolerances(self, tmp_path: Path) -> None:
        """`loadlens verdict SLOW --baseline BASE` with [compare] p99_percent and [thresholds.endpoints]
        p95_vs_baseline_percent: the jobs endpoint's +50 % p95 row passes within its own +60 %, its
        p50 row keeps +10 % and fails, and all requests' p99 row has the figure's +70 %."""
        import io

        from runner.commands.verdict import rejudge
        from runner.reports.load import load_summary

        base = write(tmp_path / "runs", "load_1", seed=1)
        slow_record = make_run({**BASE, "/api/v1/jobs": 75.0}, run_id="load_2", seed=2, start=T0 + 100)
        slow = write_summary(slow_record, tmp_path / "runs" / "load_2").parent
        cfg = tmp_path / "loadlens.toml"
        cfg.write_text(
            "[compare]\np99_percent = 70\n"
            '[thresholds.endpoints."GET /api/v1/jobs"]\np95_vs_baseline_percent = 60\n'
        )
        code = rejudge(slow, config_file=str(cfg), env={}, out=io.StringIO(), baseline=str(base))
        rows = {r.name: r for r in load_summary(slow).verdict.results}
        jobs95 = rows["GET /api/v1/jobs p95 vs baseline"]
        assert (jobs95.status, jobs95.limit) == (Status.PASS, 60.0)
        assert rows["GET /api/v1/jobs p50 vs baseline"].status is Status.FAIL
        assert rows["all requests p99 vs baseline"].limit == 70.0
        assert code == 1

    def test_a_tolerance_only_endpoint_table_judges_nothing_itself(self) -> None:
        """[thresholds.endpoints."GET /x"] with only p95_vs_baseline_percent sets no limit: the
        default criteria still apply and GET /x (never requested) gets no INCONCLUSIVE row."""
        from runner.config.types import EndpointLimits, Thresholds
        from runner.judge.client import DEFAULT_NOTE, judge_client, with_defaults

        thresholds = Thresholds(endpoints={"GET /x": EndpointLimits(p95_vs_baseline_percent=20)})
        used, note = with_defaults(thresholds)
        assert note == DEFAULT_NOTE
        judged = make_run(BASE, seed=1).judged
        names = [r.name for r in judge_client(judged, used)]
        assert names and not any("GET /x" in n for n in names)
        per = replace(thresholds, per_endpoint=False, default=replace(thresholds.default, p95_ms=500.0))
        assert not any("GET /x" in r.name for r in judge_client(judged, per))
