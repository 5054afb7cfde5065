"""Client criteria and the overall verdict: statuses, warnings, no-data, per-endpoint overrides."""

from __future__ import annotations

import pytest

from runner.config.load import Limits, Thresholds
from runner.judge.client import expected_note, judge_client
from runner.judge.verdict import decide
from runner.model import Snapshot, Status
from runner.stats.store import StatsStore


def snapshot(
    rows: list[tuple[str, str, float, int, bool]], *, duration_s: float = 10.0, expected=()
) -> Snapshot:
    store = StatsStore(expected_statuses=expected, clock=lambda: 0.0)
    for method, name, ms, status, failed in rows:
        store.record(method, name, ms, status, failed, 0)
    snap = store.snapshot()
    return Snapshot(
        start=0.0, end=duration_s, endpoints=snap.endpoints, expected_statuses=snap.expected_statuses
    )


def by_name(results):
    return {r.name: r for r in results}


UNIFORM = [("GET", "/a", float(ms), 200, False) for ms in range(1, 101)]  # p95 = 95 ms, 10 rps over 10 s


class TestStatuses:
    @pytest.mark.parametrize(
        ("limits", "name", "status"),
        [
            (Limits(p95_ms=200), "all requests p95", Status.PASS),
            (Limits(p95_ms=100), "all requests p95", Status.WARN),  # 95 >= 0.9 * 100
            (Limits(p95_ms=90), "all requests p95", Status.FAIL),
            (Limits(p50_ms=52), "all requests p50", Status.WARN),
            (Limits(p99_ms=98), "all requests p99", Status.FAIL),
            (Limits(error_rate=0.0), "all requests error rate", Status.PASS),
            (Limits(success_rate=0.99), "all requests success rate", Status.PASS),
            (Limits(min_rps=5), "all requests rps", Status.PASS),
            (Limits(min_rps=9.5), "all requests rps", Status.WARN),  # limit >= 0.9 * observed
            (Limits(min_rps=11), "all requests rps", Status.FAIL),
        ],
    )
    def test_each_metric_is_judged_against_its_limit(self, limits, name, status) -> None:
        """Each threshold key gives PASS below 90% of its limit, WARN from 90%, FAIL beyond it."""
        results = by_name(judge_client(snapshot(UNIFORM), Thresholds(default=limits, per_endpoint=False)))
        assert results[name].status is status
        assert results[name].criterion  # the user's words are kept

    def test_error_and_success_rates_are_twins(self) -> None:
        """A 2% error rate fails error_rate <= 1% and success_rate >= 99% alike, warns at a 2.1% budget."""
        rows = [("GET", "/a", 10.0, 200, False)] * 98 + [("GET", "/a", 10.0, 500, True)] * 2
        fail = by_name(
            judge_client(
                snapshot(rows),
                Thresholds(default=Limits(error_rate=0.01, success_rate=0.99), per_endpoint=False),
            )
        )
        assert fail["all requests error rate"].status is Status.FAIL
        assert fail["all requests success rate"].status is Status.FAIL
        assert fail["all requests error rate"].observed == pytest.approx(0.02)
        warn = by_name(
            judge_client(snapshot(rows), Thresholds(default=Limits(success_rate=0.979), per_endpoint=False))
        )
        assert warn["all requests success rate"].status is Status.WARN

    def test_expected_statuses_do_not_count_as_errors(self) -> None:
        """429s declared as expected leave the error rate at zero."""
        rows = [("GET", "/r", 5.0, 429, True)] * 20 + [("GET", "/r", 5.0, 200, False)] * 80
        results = by_name(
            judge_client(snapshot(rows, expected=[429]), Thresholds(default=Limits(error_rate=0.0)))
        )
        assert results["all requests error rate"].status is Status.PASS
        assert results["all requests error rate"].observed == 0.0

    def test_no_samples_is_inconclusive_never_pass(self) -> None:
        """A criterion with no requests to judge is INCONCLUSIVE with a reason, and required."""
        results = by_name(judge_client(snapshot([]), Thresholds(default=Limits(p95_ms=100))))
        r = results["all requests p95"]
        assert r.status is Status.INCONCLUSIVE and r.required and "no requests" in r.reason


class TestEndpoints:
    def test_global_thresholds_apply_to_every_endpoint_with_overrides(self) -> None:
        """Per-endpoint rows inherit the global limits; an override replaces the limit for its endpoint."""
        rows = [("GET", "/fast", 10.0, 200, False)] * 50 + [("POST", "/slow", 400.0, 200, False)] * 50
        t = Thresholds(default=Limits(p95_ms=300), endpoints={"GET /fast": Limits(p95_ms=5)})
        results = by_name(judge_client(snapshot(rows), t))
        assert results["GET /fast p95"].status is Status.FAIL and results["GET /fast p95"].limit == 5
        assert results["POST /slow p95"].status is Status.FAIL and results["POST /slow p95"].limit == 300
        assert results["all requests p95"].status is Status.FAIL

    def test_named_endpoint_without_traffic_is_inconclusive(self) -> None:
        """An endpoint the user gave its own threshold, but which got no requests, is INCONCLUSIVE."""
        t = Thresholds(default=Limits(), endpoints={"GET /health": Limits(p95_ms=50)})
        results = by_name(judge_client(snapshot(UNIFORM), t))
        assert results["GET /health p95"].status is Status.INCONCLUSIVE

    def test_global_min_rps_is_not_applied_per_endpoint(self) -> None:
        """[thresholds] min_rps is a whole-run criterion, not one per endpoint."""
        rows = [*UNIFORM, ("GET", "/b", 1.0, 200, False)]
        results = by_name(judge_client(snapshot(rows), Thresholds(default=Limits(min_rps=5))))
        assert "all requests rps" in results
        assert not [n for n in results if n.endswith(" rps") and not n.startswith("all")]


class TestVerdict:
    def test_exit_codes_follow_the_worst_status(self) -> None:
        """FAIL exits 1; a required INCONCLUSIVE exits 3; WARN and PASS exit 0."""
        good = judge_client(snapshot(UNIFORM), Thresholds(default=Limits(p95_ms=500), per_endpoint=False))
        warn = judge_client(snapshot(UNIFORM), Thresholds(default=Limits(p95_ms=100), per_endpoint=False))
        bad = judge_client(snapshot(UNIFORM), Thresholds(default=Limits(p95_ms=10), per_endpoint=False))
        empty = judge_client(snapshot([]), Thresholds(default=Limits(p95_ms=10)))
        assert (decide(good).status, decide(good).exit_code) == (Status.PASS, 0)
        assert (decide(warn).status, decide(warn).exit_code) == (Status.WARN, 0)
        assert (decide(bad).status, decide(bad).exit_code) == (Status.FAIL, 1)
        assert (decide(empty).status, decide(empty).exit_code) == (Status.INCONCLUSIVE, 3)
        assert decide([*bad, *empty]).exit_code == 1

    def test_no_criteria_is_inconclusive(self) -> None:
        """A run with no thresholds at all is not a pass: it says no criteria were defined."""
        v = decide([])
        assert v.status is Status.INCONCLUSIVE and v.exit_code == 3 and v.notes


class TestExactRatios:
    """Ratio criteria compare counts exactly, so twins agree at the limit (issue 8, item 5)."""

    SEVEN_IN_100 = [("GET", "/a", 10.0, 200, False)] * 93 + [("GET", "/a", 10.0, 500, True)] * 7

    def test_success_rate_at_its_limit_is_not_below_it(self) -> None:
        """7 failures in 100 against success_rate >= 0.93 is at the limit: WARN, like error_rate <= 0.07."""
        t = Thresholds(default=Limits(error_rate=0.07, success_rate=0.93), per_endpoint=False)
        results = by_name(judge_client(snapshot(self.SEVEN_IN_100), t))
        success, error = results["all requests success rate"], results["all requests error rate"]
        assert success.status is Status.WARN, success.reason
        assert error.status is Status.WARN, error.reason
        assert "below" not in success.reason

    @pytest.mark.parametrize(("failures", "status"), [(5, Status.PASS), (7, Status.WARN), (8, Status.FAIL)])
    def test_twins_agree_around_the_limit(self, failures: int, status: Status) -> None:
        """On any count, error_rate <= x and success_rate >= 1 - x give the same status."""
        rows = [("GET", "/a", 10.0, 200, False)] * (100 - failures) + [
            ("GET", "/a", 10.0, 500, True)
        ] * failures
        t = Thresholds(default=Limits(error_rate=0.07, success_rate=0.93), per_endpoint=False)
        results = by_name(judge_client(snapshot(rows), t))
        assert results["all requests error rate"].status is status
        assert results["all requests success rate"].status is status


class TestMinSamples:
    """Percentiles on too few requests are INCONCLUSIVE, not decided by one request (issue 8, item 9)."""

    def test_one_request_does_not_decide_a_p95(self) -> None:
        """One slow request: the p95 row is INCONCLUSIVE, not required, and says why."""
        rows = [("GET", "/a", 900.0, 200, False)]
        t = Thresholds(default=Limits(p95_ms=500, error_rate=0.01), per_endpoint=False)
        results = by_name(judge_client(snapshot(rows), t))
        p95 = results["all requests p95"]
        assert p95.status is Status.INCONCLUSIVE and not p95.required
        assert "1 request: too few for a p95" in p95.reason
        assert results["all requests error rate"].status is Status.PASS  # error rates keep judging
        assert decide(results.values()).exit_code == 0

    def test_error_rate_still_fails_on_few_requests(self) -> None:
        """A failing request among 3 fails error_rate: the rule is for percentiles only."""
        rows = [("GET", "/a", 9.0, 200, False)] * 2 + [("GET", "/a", 9.0, 500, True)]
        t = Thresholds(default=Limits(p99_ms=500, error_rate=0.01), per_endpoint=False)
        results = by_name(judge_client(snapshot(rows), t))
        assert results["all requests error rate"].status is Status.FAIL
        assert results["all requests p99"].status is Status.INCONCLUSIVE
        assert "3 requests: too few for a p99" in results["all requests p99"].reason

    def test_enough_requests_are_judged(self) -> None:
        """At min_samples requests a percentile is judged as before."""
        rows = [("GET", "/a", 900.0, 200, False)] * 20
        t = Thresholds(default=Limits(p95_ms=500), per_endpoint=False)
        assert by_name(judge_client(snapshot(rows), t))["all requests p95"].status is Status.FAIL

    def test_explicit_min_samples_is_required(self) -> None:
        """A min_samples the user set makes the INCONCLUSIVE row required (exit 3)."""
        rows = [("GET", "/a", 10.0, 200, False)] * 40
        t = Thresholds(default=Limits(p95_ms=500, min_samples=50), per_endpoint=False)
        results = judge_client(snapshot(rows), t)
        (p95,) = results
        assert p95.status is Status.INCONCLUSIVE and p95.required
        assert "40 requests: too few for a p95 (min_samples 50)" in p95.reason
        assert decide(results).exit_code == 3

    def test_per_endpoint_min_samples_overrides_the_global_one(self) -> None:
        """An endpoint's own min_samples applies to it; others keep the global default of 20."""
        rows = [("GET", "/rare", 10.0, 200, False)] * 5 + [("GET", "/b", 10.0, 200, False)] * 5
        t = Thresholds(default=Limits(p95_ms=500), endpoints={"GET /rare": Limits(min_samples=5)})
        results = by_name(judge_client(snapshot(rows), t))
        assert results["GET /rare p95"].status is Status.PASS
        assert results["GET /b p95"].status is Status.INCONCLUSIVE
        assert not results["GET /b p95"].required
        assert results["all requests p95"].status is Status.INCONCLUSIVE  # 10 < 20

    def test_global_min_samples_applies_to_named_endpoints_without_per_endpoint(self) -> None:
        """With per_endpoint = false, an endpoint's own p95 row still follows the global min_samples."""
        rows = [("GET", "/a", 10.0, 200, False)] * 8
        t = Thresholds(
            default=Limits(min_samples=5), endpoints={"GET /a": Limits(p95_ms=500)}, per_endpoint=False
        )
        assert by_name(judge_client(snapshot(rows), t))["GET /a p95"].status is Status.PASS


class TestExpectedStatuses:
    """Expected-status responses are counted apart from latency and throughput (issue 8, item 8)."""

    REFUSED = [("GET", "/a", 2.0, 429, True)] * 900 + [("GET", "/a", 400.0, 200, False)] * 100

    def test_expected_responses_are_not_in_percentiles_or_rps(self) -> None:
        """900 fast 429s and 100 slow 200s: p50 is the 200s' 400 ms, rps counts 10 /s, not 100 /s."""
        t = Thresholds(default=Limits(p50_ms=100, min_rps=50), per_endpoint=False)
        results = by_name(judge_client(snapshot(self.REFUSED, expected=[429]), t))
        p50, rps = results["all requests p50"], results["all requests rps"]
        assert p50.status is Status.FAIL and p50.observed == pytest.approx(400, rel=0.01)
        assert rps.status is Status.FAIL and rps.observed == pytest.approx(10.0)
        assert p50.details["expected"] == 900

    def test_include_expected_keeps_them(self) -> None:
        """With include_expected the 429s count in latency and rps again."""
        t = Thresholds(default=Limits(p50_ms=100, min_rps=50), per_endpoint=False, include_expected=True)
        results = by_name(judge_client(snapshot(self.REFUSED, expected=[429]), t))
        assert results["all requests p50"].status is Status.PASS
        assert results["all requests rps"].observed == pytest.approx(100.0)

    def test_error_rate_is_unchanged(self) -> None:
        """The error rate is still failures over all requests: expected 429s are neither."""
        t = Thresholds(default=Limits(error_rate=0.01), per_endpoint=False)
        results = by_name(judge_client(snapshot(self.REFUSED, expected=[429]), t))
        assert results["all requests error rate"].observed == 0.0

    def test_min_samples_counts_what_percentiles_are_judged_on(self) -> None:
        """3 slow 200s among 900 expected 429s are too few for a p95."""
        rows = [("GET", "/a", 2.0, 429, True)] * 900 + [("GET", "/a", 400.0, 200, False)] * 3
        t = Thresholds(default=Limits(p95_ms=100), per_endpoint=False)
        (p95,) = judge_client(snapshot(rows, expected=[429]), t)
        assert p95.status is Status.INCONCLUSIVE
        assert "3 requests: too few for a p95" in p95.reason and "900" in p95.reason

    def test_the_verdict_notes_their_count(self) -> None:
        """A note says how many responses were set apart, by status, and how to keep them."""
        note = expected_note(snapshot(self.REFUSED, expected=[429]), Thresholds())
        assert note is not None
        assert "900 responses with expected statuses (429: 900)" in note
        assert "include_expected" in note
        assert expected_note(snapshot(UNIFORM, expected=[429]), Thresholds()) is None


class TestDefaultCriteria:
    def test_nothing_configured_is_judged_by_the_default_error_rate(self) -> None:
        """No client limit anywhere: error rate <= 1 % on all requests only, and the note says so."""
        from runner.judge.client import DEFAULT_NOTE, with_defaults

        thresholds, note = with_defaults(Thresholds(warn_ratio=0.8))
        assert note == DEFAULT_NOTE
        rows = by_name(judge_client(snapshot([("GET", "/a", 10.0, 200, False)] * 50), thresholds))
        assert list(rows) == ["all requests error rate"]
        assert rows["all requests error rate"].limit == 0.01
        assert thresholds.warn_ratio == 0.8  # the user's own WARN band stays

    def test_any_limit_or_endpoint_table_turns_the_defaults_off(self) -> None:
        from runner.judge.client import with_defaults

        for given in (
            Thresholds(default=Limits(p95_ms=100)),
            Thresholds(endpoints={"GET /a": Limits(p95_ms=5)}),
            Thresholds(default=Limits(min_rps=0)),
        ):
            assert with_defaults(given) == (given, None)
