"""Client criteria of issue 13: more statistics (p90, p99.9, avg, max), endpoint groups,
require_statuses, per-scenario thresholds, and the abort_after stop judged on a live window."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from runner.config.load import Limits, Thresholds, load_config
from runner.config.types import GroupLimits
from runner.judge.run import Measurements, RunCriteria, WindowMarks, judge_run
from runner.judge.sustained import ROW_NAME, LiveCriteria
from runner.model import Snapshot, Status
from runner.stats.store import StatsStore
from tests.judge.test_client import UNIFORM, by_name, snapshot


def steady(final: Snapshot) -> WindowMarks:
    """Marks of a run whose steady state began at its start."""
    return WindowMarks(final=final, steady_start=Snapshot(start=0.0, end=0.0, endpoints={}))


def judged(rows, thresholds: Thresholds, **kw):
    from runner.judge.client import judge_client

    return by_name(judge_client(snapshot(rows, **kw), thresholds))


class TestMoreStatistics:
    @pytest.mark.parametrize(
        ("limits", "name", "observed", "status"),
        [
            (Limits(p90_ms=99), "all requests p90", 90, Status.WARN),
            (Limits(p90_ms=80), "all requests p90", 90, Status.FAIL),
            (Limits(p999_ms=200), "all requests p99.9", 100, Status.PASS),
            (Limits(p999_ms=99), "all requests p99.9", 100, Status.FAIL),
            (Limits(avg_ms=60), "all requests avg", 50.5, Status.PASS),
            (Limits(avg_ms=50), "all requests avg", 50.5, Status.FAIL),
            (Limits(max_ms=100), "all requests max", 100, Status.WARN),
            (Limits(max_ms=99.5), "all requests max", 100, Status.FAIL),
        ],
    )
    def test_each_statistic_is_judged(self, limits, name, observed, status) -> None:
        """p90 and p99.9 come from the histogram (within 0.5 %), avg and max are exact."""
        row = judged(UNIFORM, Thresholds(default=limits, per_endpoint=False))[name]
        assert row.status is status
        assert row.observed == pytest.approx(observed, rel=0.005)

    def test_max_is_the_exact_slowest_response(self) -> None:
        """max is the response time recorded, not its histogram bucket: 1234.567 ms fails 1234.5."""
        rows = [*UNIFORM, ("GET", "/a", 1234.567, 200, False)]
        row = judged(rows, Thresholds(default=Limits(max_ms=1234.5), per_endpoint=False))["all requests max"]
        assert row.observed == 1234.567 and row.status is Status.FAIL

    def test_avg_sets_expected_statuses_apart(self) -> None:
        """A fast expected 429 does not pull the mean down (it is judged on the histogram then)."""
        rows = [("GET", "/a", 100.0, 200, False)] * 30 + [("GET", "/a", 1.0, 429, False)] * 30
        row = judged(rows, Thresholds(default=Limits(avg_ms=90), per_endpoint=False), expected=(429,))
        assert row["all requests avg"].observed == pytest.approx(100, rel=0.005)
        assert row["all requests avg"].status is Status.FAIL


MIXED = [
    *[("POST", "/auth/login", 200.0, 200, False)] * 30,
    *[("POST", "/auth/refresh", 20.0, 200, False)] * 30,
    *[("GET", "/health", 5.0, 200, False)] * 30,
]


class TestGroups:
    def test_a_group_is_judged_on_its_merged_histogram(self) -> None:
        """One row per group key, on the matching endpoints together: p95 of 30 x 200 ms and
        30 x 20 ms is 200 ms, which neither endpoint's own row would show for the pair."""
        group = GroupLimits(match="^POST /auth/", p95_ms=150, p50_ms=150)
        rows = judged(MIXED, Thresholds(groups={"auth": group}))
        assert rows["group auth p95"].status is Status.FAIL
        assert rows["group auth p95"].observed == pytest.approx(200, rel=0.005)
        assert rows["group auth p50"].observed == pytest.approx(20, rel=0.005)
        assert rows["group auth p95"].details["requests"] == 60

    def test_per_endpoint_false_drops_the_groups_endpoints_own_rows(self) -> None:
        """Endpoints a group with per_endpoint = false takes get no row; the others keep theirs."""
        group = GroupLimits(match="^POST /auth/", p95_ms=500, per_endpoint=False)
        rows = judged(MIXED, Thresholds(default=Limits(p95_ms=500), groups={"auth": group}))
        assert "POST /auth/login p95" not in rows and "POST /auth/refresh p95" not in rows
        assert "GET /health p95" in rows and "group auth p95" in rows
        besides = dataclasses.replace(group, per_endpoint=True)
        both = judged(MIXED, Thresholds(default=Limits(p95_ms=500), groups={"auth": besides}))
        assert "POST /auth/login p95" in both and "group auth p95" in both

    def test_a_group_matching_nothing_is_inconclusive(self) -> None:
        """A group whose regex finds no endpoint is INCONCLUSIVE and required: never a pass."""
        rows = judged(MIXED, Thresholds(groups={"pay": GroupLimits(match="^POST /pay", error_rate=0)}))
        assert rows["group pay error rate"].status is Status.INCONCLUSIVE
        assert rows["group pay error rate"].required


class TestRequireStatuses:
    def test_a_status_that_occurred_passes_and_one_that_did_not_fails(self) -> None:
        """require_statuses = [429, 503]: the 429s seen pass, no 503 fails (exit 1)."""
        rows = [("GET", "/limited", 2.0, 200, False)] * 10 + [("GET", "/limited", 1.0, 429, False)] * 3
        out = judged(
            rows, Thresholds(default=Limits(require_statuses=frozenset({429, 503}))), expected=(429,)
        )
        assert out["all requests status 429"].status is Status.PASS
        assert out["all requests status 429"].observed == 3
        assert out["all requests status 503"].status is Status.FAIL
        assert "no response had status 503" in out["all requests status 503"].reason

    def test_on_an_endpoint_and_no_requests(self) -> None:
        """On an endpoint's table it counts that endpoint only; no requests at all is INCONCLUSIVE."""
        rows = [("GET", "/a", 2.0, 429, True)] * 3
        table = {"GET /b": Limits(require_statuses=frozenset({429}))}
        out = judged(rows, Thresholds(endpoints=table))
        assert out["GET /b status 429"].status is Status.INCONCLUSIVE
        assert "GET /a status 429" not in out  # not inherited by every endpoint


class TestScenarioThresholds:
    CONFIG = """
[thresholds]
p95_ms = 500
error_rate = 0.01
[thresholds.endpoints."GET /a"]
p95_ms = 400
error_rate = 0.5
[thresholds.groups.auth]
match = "^POST /auth/"
p99_ms = 900
[scenarios.smoke.thresholds]
p95_ms = 50
[scenarios.smoke.thresholds.endpoints."GET /a"]
p95_ms = 40
[scenarios.smoke.thresholds.groups.auth]
p99_ms = 90
"""

    def test_a_scenarios_table_overrides_key_by_key(self, tmp_path: Path) -> None:
        """smoke's keys replace the top level's; what it does not give stays; load keeps the top."""
        path = tmp_path / "loadlens.toml"
        path.write_text(self.CONFIG)
        cfg = load_config(path, env={})
        smoke, load = cfg.thresholds_for("smoke"), cfg.thresholds_for("load")
        assert (smoke.default.p95_ms, smoke.default.error_rate) == (50, 0.01)
        assert (smoke.endpoints["GET /a"].p95_ms, smoke.endpoints["GET /a"].error_rate) == (40, 0.5)
        assert (smoke.groups["auth"].p99_ms, smoke.groups["auth"].match) == (90, "^POST /auth/")
        assert load == cfg.thresholds and load.default.p95_ms == 500

    def test_one_run_fails_under_one_scenario_and_passes_under_another(self, tmp_path: Path) -> None:
        """The same measurements: p95 95 ms fails smoke's 50 ms and passes the top level's 500 ms."""
        path = tmp_path / "loadlens.toml"
        path.write_text(self.CONFIG)
        cfg = load_config(path, env={})
        snap = snapshot([*UNIFORM, *[("POST", "/auth/login", 10.0, 200, False)] * 30])
        measured = Measurements(run_start=0.0, run_end=10.0, window=steady(snap))
        smoke = judge_run(measured, RunCriteria(thresholds=cfg.thresholds_for("smoke"))).verdict
        load = judge_run(measured, RunCriteria(thresholds=cfg.thresholds_for("load"))).verdict
        assert (smoke.exit_code, load.exit_code) == (1, 0)


def cumulative(store: StatsStore, end: float) -> Snapshot:
    snap = store.snapshot()
    return Snapshot(start=0.0, end=end, endpoints=snap.endpoints)


class TestSustained:
    THRESHOLDS = Thresholds(default=Limits(p95_ms=50, abort_after_s=2.0), per_endpoint=False)

    def feed(self, store: StatsStore, ms: float, n: int = 40) -> None:
        for _ in range(n):
            store.record("GET", "/a", ms, 200, False, 0)

    def test_a_breach_held_for_abort_after_stops_once(self) -> None:
        """FAIL at t=1, 2, 3: the stop comes at t=3 (held 2 s), says since when, and only once."""
        store, live = StatsStore(clock=lambda: 0.0), LiveCriteria()
        self.feed(store, 100.0)
        answers = [
            live.judge(cumulative(store, t), self.THRESHOLDS, now=t, run_start=0.0) for t in (1, 2, 3, 4)
        ]
        assert answers[:2] == [None, None] and answers[3] is None
        assert answers[2] is not None and live.stop == answers[2]
        assert "all requests p95 (p95 <= 50 ms) failed continuously" in answers[2]
        assert "for 2 s (abort_after 2 s)" in answers[2]

    def test_a_tick_that_does_not_fail_starts_the_count_again(self) -> None:
        """FAIL, PASS, FAIL, FAIL: never two seconds in a row, no stop."""
        store, live = StatsStore(clock=lambda: 0.0), LiveCriteria()
        self.feed(store, 100.0)
        assert live.judge(cumulative(store, 1), self.THRESHOLDS, now=1, run_start=0.0) is None
        self.feed(store, 1.0, n=2000)  # now p95 is fast
        assert live.judge(cumulative(store, 2), self.THRESHOLDS, now=2, run_start=0.0) is None
        self.feed(store, 100.0, n=4000)
        assert live.judge(cumulative(store, 3), self.THRESHOLDS, now=3, run_start=0.0) is None
        assert live.judge(cumulative(store, 4), self.THRESHOLDS, now=4, run_start=0.0) is None
        assert live.stop is None

    def test_rows_without_abort_after_never_stop(self) -> None:
        """A FAIL row of a table without abort_after is judged live but stops nothing."""
        store, live = StatsStore(clock=lambda: 0.0), LiveCriteria()
        self.feed(store, 100.0)
        plain = Thresholds(default=Limits(p95_ms=50), per_endpoint=False)
        for t in range(10):
            assert live.judge(cumulative(store, t), plain, now=float(t), run_start=0.0) is None
        assert by_name(live.results)["all requests p95"].status is Status.FAIL

    def test_the_stop_is_a_fail_row_of_the_verdict(self) -> None:
        """judge_run turns the stop into one FAIL row (exit 1), even if the rows themselves pass."""
        snap = snapshot(UNIFORM)
        measured = Measurements(
            run_start=0.0, run_end=10.0, window=steady(snap), client_stop="stopped early at …"
        )
        verdict = judge_run(measured, RunCriteria(thresholds=Thresholds(default=Limits(p95_ms=500)))).verdict
        assert by_name(verdict.results)[ROW_NAME].status is Status.FAIL
        assert verdict.exit_code == 1
