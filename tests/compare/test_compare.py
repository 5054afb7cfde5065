"""Comparing two runs figure by figure: regressions need both the tolerance and significance,
missing data is 'not comparable', and the runs' differences are named."""

from __future__ import annotations

import pytest

from runner.commands.compare import exit_code, parse_tolerances
from runner.compare.compare import compare_runs
from runner.compare.model import Change, Comparison, Tolerance
from runner.compare.render import render_console, render_json, render_markdown
from runner.errors import UsageError
from tests.compare.runs import SHAPE, T0, make_run
from tests.support.timelines import series

BASE = {"/health": 50.0, "/api/v1/jobs": 50.0, "/api/v1/assets": 50.0}


def status(c: Comparison, label: str) -> Change:
    return {r.label: r.status for r in c.rows}[label]


class TestClient:
    def test_a_a_is_unchanged(self) -> None:
        """Same medians, other seeds: nothing regressed, exit 0."""
        c = compare_runs(make_run(BASE, seed=1), make_run(BASE, seed=2))
        assert c.regressed == () and exit_code(c) == 0
        assert all(r.status is Change.UNCHANGED for r in c.rows)

    def test_slower_endpoint_regressed_others_unchanged(self) -> None:
        """+50 % on one endpoint: its p95 regressed, the other endpoints' p95 unchanged, exit 1."""
        c = compare_runs(make_run(BASE, seed=1), make_run({**BASE, "/api/v1/jobs": 75.0}, seed=2))
        assert status(c, "GET /api/v1/jobs p95") is Change.REGRESSED
        assert status(c, "GET /health p95") is Change.UNCHANGED
        assert status(c, "GET /api/v1/assets p95") is Change.UNCHANGED
        assert exit_code(c) == 1
        row = next(r for r in c.rows if r.label == "GET /api/v1/jobs p95")
        assert row.shift is not None and row.shift.low is not None and row.shift.low > 0.3

    def test_small_real_change_within_tolerance_is_unchanged(self) -> None:
        """+5 % on quiet periods is real but inside the +10 % tolerance: unchanged, says why."""
        quiet = dict(period_sigma=0.005, request_sigma=0.02)
        c = compare_runs(
            make_run(BASE, seed=1, **quiet), make_run({**BASE, "/health": 52.5}, seed=2, **quiet)
        )
        row = next(r for r in c.rows if r.label == "GET /health p95")
        assert row.status is Change.UNCHANGED and "within the tolerance" in row.reason
        assert row.shift is not None and row.shift.significant

    def test_large_noisy_change_that_is_not_significant_is_unchanged(self) -> None:
        """+20 % on four wildly varying periods each: beyond the tolerance, not real: unchanged."""
        noisy = dict(period_sigma=0.6, seconds=20)
        c = compare_runs(
            make_run(BASE, seed=3, **noisy), make_run({**BASE, "/health": 60.0}, seed=4, **noisy)
        )
        row = next(r for r in c.rows if r.label == "GET /health p95")
        assert row.status is Change.UNCHANGED, row
        assert "not significant" in row.reason or "within" in row.reason

    def test_faster_endpoint_improved(self) -> None:
        """-40 % on one endpoint: improved (not a regression, exit 0)."""
        c = compare_runs(make_run(BASE, seed=1), make_run({**BASE, "/health": 30.0}, seed=2))
        assert status(c, "GET /health p95") is Change.IMPROVED and exit_code(c) == 0

    def test_error_rate_regression_is_in_points(self) -> None:
        """0 % -> ~5 % errors on one endpoint: regressed beyond +0.5 points."""
        c = compare_runs(make_run(BASE, seed=1), make_run(BASE, seed=2, error_share={"/api/v1/jobs": 0.05}))
        assert status(c, "GET /api/v1/jobs error rate") is Change.REGRESSED
        assert status(c, "GET /health error rate") is Change.UNCHANGED

    def test_new_endpoint_and_too_few_periods_are_not_comparable(self) -> None:
        """An endpoint only in the current run, and runs of 3 periods: 'not comparable', not 'unchanged'."""
        c = compare_runs(make_run(BASE, seed=1), make_run({**BASE, "/new": 5.0}, seed=2))
        assert status(c, "GET /new p95") is Change.NOT_COMPARABLE
        short = compare_runs(make_run(BASE, seed=1, seconds=15), make_run(BASE, seed=2, seconds=15))
        row = next(r for r in short.rows if r.label == "all requests p95")
        assert row.status is Change.NOT_COMPARABLE and "too few periods" in row.reason
        assert exit_code(short) == 3  # nothing compared is never a pass


class TestComparability:
    def test_differences_are_named_and_exit_3(self) -> None:
        """Other users and another locustfile: both named, exit 3 whatever the rows say."""
        from dataclasses import replace

        other = replace(SHAPE, users=20, locustfile_sha256="b" * 64)
        c = compare_runs(make_run(BASE, seed=1), make_run({**BASE, "/health": 90.0}, seed=2, shape=other))
        assert any(w.startswith("users: 10 in the baseline, 20 now") for w in c.warnings)
        assert any("locustfile content differs" in w for w in c.warnings)
        assert exit_code(c) == 3

    def test_rows_of_runs_that_differ_are_not_comparable_not_regressed(self) -> None:
        """Users 10 vs 20 and /health 50 -> 90 ms: every row is 'not comparable' (its change and
        interval kept as information), nothing is 'regressed' in the table, the Markdown, the JSON
        or the page, and the outcome line names the difference."""
        import json
        from dataclasses import replace

        from runner.compare.render import comparison_page

        other = replace(SHAPE, users=20)
        c = compare_runs(make_run(BASE, seed=1), make_run({**BASE, "/health": 90.0}, seed=2, shape=other))
        assert {r.status for r in c.rows} == {Change.NOT_COMPARABLE} and c.regressed == ()
        health = next(r for r in c.rows if r.label == "GET /health p95")
        assert health.shift is not None and health.change_ratio is not None and health.change_ratio > 0.5
        assert "not comparable" in health.reason
        doc = json.loads(render_json(c))
        assert doc["regressed"] == [] and doc["exit_code"] == 3
        text, md = render_console(c), render_markdown(c)
        assert "regressed" not in text and "regressed" not in md, text
        assert "users: 10 in the baseline, 20 now" in text.splitlines()[-1]
        page = comparison_page(c)
        assert {r["status"] for r in page["rows"]} == {"not comparable"}
        assert "users: 10 in the baseline, 20 now" in page["outcome"]

    def test_rows_of_too_short_runs_are_not_comparable_not_regressed(self) -> None:
        """Runs of 3 periods (all requests' p95 cannot be judged) whose server CPU doubled: the CPU
        rows are 'not comparable' too, nothing regressed, and the outcome line says why (exit 3)."""
        import random

        def cpu(level: float, seed: int):
            rng = random.Random(seed)
            return series(
                "cpu_percent", [level + rng.uniform(-2, 2) for _ in range(12)], start=T0, period_s=1.0,
                source="process", resource="pid:1", stat="Average",
            )  # fmt: skip

        c = compare_runs(
            make_run(BASE, seed=1, seconds=15, server=(cpu(30, 1),)),
            make_run(BASE, seed=2, seconds=15, server=(cpu(60, 2),)),
        )
        assert c.regressed == () and exit_code(c) == 3
        peak = next(r for r in c.rows if r.label == "process pid:1 cpu_percent Average peak")
        assert peak.status is Change.NOT_COMPARABLE and peak.shift is not None
        assert "regressed" not in render_console(c)
        assert "too few periods" in render_console(c).splitlines()[-1]

    def test_older_summary_without_comparability_is_warned(self) -> None:
        """A baseline written before comparability was recorded: a warning, not silence."""
        c = compare_runs(make_run(BASE, seed=1, shape=None), make_run(BASE, seed=2))
        assert c.warnings and "no comparability data" in c.warnings[0]


class TestServer:
    def test_cpu_mean_and_peak_regress_with_the_series(self) -> None:
        """Process CPU ~30 % -> ~45 %: mean and peak regressed; memory unchanged."""

        def cpu(level: float, seed: int):
            import random

            rng = random.Random(seed)
            return series(
                "cpu_percent", [level + rng.uniform(-2, 2) for _ in range(12)], start=T0, period_s=5.0,
                source="process", resource="pid:1", stat="Average",
            )  # fmt: skip

        mem = series("memory_rss", [1e8] * 12, start=T0, period_s=5.0, source="process", resource="pid:1",
                     stat="Maximum", unit="Bytes")  # fmt: skip
        c = compare_runs(
            make_run(BASE, seed=1, server=(cpu(30, 1), mem)), make_run(BASE, seed=2, server=(cpu(45, 2), mem))
        )
        assert status(c, "process pid:1 cpu_percent Average mean") is Change.REGRESSED
        assert status(c, "process pid:1 cpu_percent Average peak") is Change.REGRESSED
        assert status(c, "process pid:1 memory_rss Maximum mean") is Change.UNCHANGED


class TestOutput:
    def test_console_markdown_and_json_agree(self) -> None:
        """The regressed row appears in all three, with its change and interval."""
        c = compare_runs(make_run(BASE, seed=1), make_run({**BASE, "/api/v1/jobs": 75.0}, seed=2))
        text = render_console(c)
        assert "regressed: " in text and "GET /api/v1/jobs p95" in text
        md = render_markdown(c)
        assert md.index("**regressed**") < md.index("unchanged")
        import json

        doc = json.loads(render_json(c))
        assert doc["exit_code"] == 1 and "GET /api/v1/jobs p95" in doc["regressed"]


class TestAbsoluteChange:
    @pytest.mark.parametrize(
        ("unit", "baseline", "current", "relative", "higher", "shown"),
        [
            ("ms", 80.0, 105.0, True, True, "+25 ms (+31.2 %)"),
            ("percent", 30.0, 33.1, True, True, "+3.10 pts (+10.3 %)"),
            ("rps", 120.0, 108.0, True, False, "-12 /s (-10.0 %)"),
            ("bytes", 100e6, 150e6, True, True, "+47.7 MiB (+50.0 %)"),
            ("ratio", 0.01, 0.014, False, True, "+0.40 points"),
        ],
    )
    def test_the_change_is_shown_absolute_and_relative(
        self, unit: str, baseline: float, current: float, relative: bool, higher: bool, shown: str
    ) -> None:
        """Each row's change reads in the figure's own unit and, for a relative figure, in %."""
        from runner.compare.model import Row
        from runner.compare.render import cells

        row = Row("client", "GET /x", "p95_ms", unit, baseline, current,
                  Tolerance(0.1, relative=relative, higher_is_worse=higher), Change.UNCHANGED, "")  # fmt: skip
        assert cells(row)[4] == shown

    def test_console_markdown_and_page_show_the_absolute_change(self) -> None:
        """A slower endpoint: its change reads '+… ms (+… %)' in the console, the Markdown and the page."""
        from runner.compare.render import comparison_page

        c = compare_runs(make_run(BASE, seed=1), make_run({**BASE, "/api/v1/jobs": 75.0}, seed=2))
        jobs = next(r for r in comparison_page(c)["rows"] if r["cells"][:2] == ["GET /api/v1/jobs", "p95_ms"])
        change = jobs["cells"][4]
        assert change.startswith("+") and " ms (+" in change and change.endswith(" %)"), change
        assert change in render_console(c) and change in render_markdown(c)


class TestTolerances:
    def test_overrides_keep_the_metric_kind(self) -> None:
        """p95_ms=20% is relative; error_rate=1% is one point; rps stays 'lower is worse'."""
        tol = parse_tolerances(["p95_ms=20%", "error_rate=1%", "rps=15%"])
        assert tol.for_metric("p95_ms") == Tolerance(0.2)
        assert tol.for_metric("error_rate") == Tolerance(0.01, relative=False)
        assert tol.for_metric("rps") == Tolerance(0.15, higher_is_worse=False)
        assert tol.for_metric("p99_ms") == Tolerance(0.10)

    @pytest.mark.parametrize("bad", ["p95_ms", "p95_ms=", "p95_ms=fast", "p95_ms=-5%"])
    def test_bad_tolerance_is_a_usage_error(self, bad: str) -> None:
        with pytest.raises(UsageError):
            parse_tolerances([bad])

    def test_a_looser_tolerance_turns_a_regression_into_unchanged(self) -> None:
        """+50 % with p95_ms=60%: unchanged (within the tolerance)."""
        c = compare_runs(
            make_run(BASE, seed=1),
            make_run({**BASE, "/api/v1/jobs": 75.0}, seed=2),
            tolerances=parse_tolerances(["p95_ms=60%"]),
        )
        assert status(c, "GET /api/v1/jobs p95") is Change.UNCHANGED


class TestFalsePositives:
    def test_simulated_a_a_pairs_rarely_regress(self) -> None:
        """100 simulated A/A pairs (12 periods each, periods varying 5 %): a pair with any regressed
        figure is rare (measured 0/100 here; docs/compare.md)."""
        hits = sum(
            bool(
                compare_runs(
                    make_run(BASE, seed=2 * i, rps=5), make_run(BASE, seed=2 * i + 1, rps=5)
                ).regressed
            )
            for i in range(100)
        )
        assert hits <= 2


class TestEndpointPercentiles:
    def test_endpoint_p50_and_p99_are_judged_per_period(self) -> None:
        """+50 % on one endpoint moves its p50 and p99 too: both regressed, the other endpoint's unchanged."""
        c = compare_runs(make_run(BASE, seed=1), make_run({**BASE, "/api/v1/jobs": 75.0}, seed=2))
        for metric in ("p50", "p99"):
            assert status(c, f"GET /api/v1/jobs {metric}") is Change.REGRESSED
            assert status(c, f"GET /health {metric}") is Change.UNCHANGED

    def test_a_baseline_without_them_is_not_comparable_for_them(self) -> None:
        """A baseline from before per-endpoint p50/p99 were kept: those rows are 'not comparable', p95 judged."""
        from dataclasses import replace

        base = make_run(BASE, seed=1)
        old = replace(
            base, timeline=tuple(replace(iv, endpoint_p50_ms={}, endpoint_p99_ms={}) for iv in base.timeline)
        )
        c = compare_runs(old, make_run(BASE, seed=2))
        assert status(c, "GET /health p99") is Change.NOT_COMPARABLE
        assert status(c, "GET /health p95") is Change.UNCHANGED


class TestEfficiency:
    def test_cpu_seconds_per_1000_requests_regress_with_the_cost(self) -> None:
        """The same rps at +40 % CPU per period: CPU-seconds per 1,000 requests regressed."""
        from dataclasses import replace

        def with_cost(seed: int, cpu: float):
            import random

            rng = random.Random(seed)
            record = make_run(BASE, seed=seed)
            label = "process pid:1 cpu_percent"
            periods = [
                {
                    "start": T0 + 5 * i,
                    "end": T0 + 5 * i + 5,
                    "requests": 300,
                    "server": {label: cpu + rng.uniform(-1, 1)},
                }
                for i in range(12)
            ]
            cost = sum(p["server"][label] / 100 * 5 for p in periods) / 3600 * 1000
            analysis = {"headroom": {"cpu": label}, "cpu_cores_basis": 1.0, "periods": periods,
                        "cpu_seconds_per_1000_requests": cost}  # fmt: skip
            return replace(record, analysis=analysis)

        c = compare_runs(with_cost(1, 30.0), with_cost(2, 42.0))
        row = next(r for r in c.rows if r.metric == "cpu_s_per_1000")
        assert row.status is Change.REGRESSED and row.change_ratio is not None and row.change_ratio > 0.3
        assert row.label == "process pid:1 cpu_percent CPU-seconds per 1,000 requests"
