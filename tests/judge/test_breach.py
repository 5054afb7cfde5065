"""The first broken client limit, told with what the server was doing at that moment."""

from __future__ import annotations

import pytest

from runner.config.load import Limits, Thresholds
from runner.judge.breach import BreachLimits, first_breach
from runner.judge.correlate import SeriesRef, resource_series
from runner.units import format_value
from tests.support.timelines import Stretch, Traffic, record, series

T0 = 1_699_970_400.0  # 2023-11-14 14:00:00 UTC
SLOW_FROM = T0 + 185  # 14:03:05


def jobs_latency(t: float) -> float:
    return 800.0 if t >= SLOW_FROM else 200.0


POST_JOBS = Traffic("POST", "/api/v1/jobs", 10, jobs_latency)
GET_JOB = Traffic("GET", "/api/v1/jobs/{id}", 20, lambda t: 40.0)
ECS_CPU = series("CPUUtilization", [40, 55, 70, 83, 90], start=T0)
ECS_MEM = series("MemoryUtilization", [60, 60, 61, 61, 62], start=T0)
ALB_REQUESTS = series(
    "RequestCount", [900] * 5, start=T0, resource="alb:app/shop/1", stat="Sum", unit="Count"
)


def run(*traffic: Traffic, seconds: int = 300) -> tuple:
    return record([Stretch(seconds, traffic)], start=T0)


class TestFirstBreach:
    def test_tells_when_an_endpoint_p95_broke_and_how_hot_the_server_was(self) -> None:
        """p95 of POST /api/v1/jobs crossing 500 ms at 14:03:10 is told with ECS CPU 83 % and memory 61 %."""
        server = resource_series([ECS_CPU, ECS_MEM, ALB_REQUESTS])
        found = first_breach(
            run(POST_JOBS, GET_JOB), server, BreachLimits(endpoint_p95_ms={"POST /api/v1/jobs": 500})
        )
        assert found is not None
        assert found.observed == pytest.approx(800, rel=0.005)
        assert found.sentence == (
            "p95 of POST /api/v1/jobs crossed 500 ms at 14:03:10 UTC "
            f"({format_value(found.observed, 'ms')} over 50 requests) while ECS CPU was 83 % and ECS memory 61 %"
        )
        assert (found.start, found.end, found.target, found.metric) == (
            SLOW_FROM,
            T0 + 190,
            "POST /api/v1/jobs",
            "p95",
        )
        assert found.server == {SeriesRef.of(ECS_CPU): 83.0, SeriesRef.of(ECS_MEM): 61.0}

    def test_nothing_broken_is_none(self) -> None:
        """A run inside every limit has no first breach."""
        limits = BreachLimits(p95_ms=1000, error_rate=0.01, endpoint_p95_ms={"POST /api/v1/jobs": 900})
        assert first_breach(run(POST_JOBS, GET_JOB), [ECS_CPU], limits) is None

    def test_the_overall_error_rate_is_watched_too(self) -> None:
        """Failures from 14:02:00 on break error rate <= 1 % of all requests in the interval ending 14:02:05."""
        failing = Traffic(
            "GET", "/api", 20, failing=lambda t: t >= T0 + 120 and round((t - T0) * 20) % 10 == 0
        )
        found = first_breach(run(failing), [ECS_CPU], BreachLimits(error_rate=0.01))
        assert found is not None
        assert found.sentence == (
            "error rate of all requests crossed 1 % at 14:02:05 UTC (10 % over 100 requests) while ECS CPU was 70 %"
        )

    def test_an_interval_with_few_requests_is_not_judged(self) -> None:
        """Five slow requests in an interval are its maximum, not a p95: below 20 they are skipped."""
        rare = Traffic("GET", "/report", 1, lambda t: 900.0)
        limits = BreachLimits(endpoint_p95_ms={"GET /report": 500})
        assert first_breach(run(rare), [], limits) is None
        found = first_breach(run(rare), [], limits, min_requests=5)
        assert found is not None and found.end == T0 + 5

    def test_without_server_data_the_sentence_says_so(self) -> None:
        """A moment no server point covers is reported as such, not as idle."""
        found = first_breach(run(POST_JOBS), [], BreachLimits(endpoint_p95_ms={"POST /api/v1/jobs": 500}))
        assert found is not None
        assert found.sentence.endswith("while no server metric covered that moment")
        assert found.server == {}

    def test_the_worst_breach_of_an_interval_leads_and_the_others_follow(self) -> None:
        """When several limits break together, the one exceeded by the largest ratio is the finding."""
        limits = BreachLimits(p95_ms=700, endpoint_p95_ms={"POST /api/v1/jobs": 500})
        found = first_breach(run(POST_JOBS), [ECS_CPU], limits)
        assert found is not None
        assert (found.target, found.limit) == ("POST /api/v1/jobs", 500)
        assert found.also == ("p95 of all requests",)

    def test_a_bare_name_applies_under_every_method(self) -> None:
        """A limit on "/api/v1/jobs" catches POST /api/v1/jobs, as the client criteria read it."""
        found = first_breach(run(POST_JOBS), [], BreachLimits(endpoint_p95_ms={"/api/v1/jobs": 500}))
        assert found is not None and found.target == "POST /api/v1/jobs"

    def test_every_endpoint_limit_applies_where_none_is_set(self) -> None:
        """The default per-endpoint p95 catches an endpoint without its own; its own limit wins over it."""
        traffic = run(POST_JOBS, GET_JOB)
        found = first_breach(traffic, [], BreachLimits(every_endpoint_p95_ms=100))
        assert found is not None and (found.target, found.end) == ("POST /api/v1/jobs", T0 + 5)
        own = BreachLimits(every_endpoint_p95_ms=100, endpoint_p95_ms={"POST /api/v1/jobs": 500})
        found = first_breach(traffic, [], own)
        assert found is not None and (found.target, found.end) == ("POST /api/v1/jobs", T0 + 190)
        tight = BreachLimits(every_endpoint_p95_ms=30, endpoint_p95_ms={"POST /api/v1/jobs": 500})
        found = first_breach(traffic, [], tight)
        assert found is not None and (found.target, found.end) == ("GET /api/v1/jobs/{id}", T0 + 5)


class TestJudgedWindowOnly:
    """First-breach analysis walks the judged window only, as the criteria do."""

    def test_a_slow_ramp_up_or_warm_up_is_no_breach(self) -> None:
        """p95 at 800 ms during a warm-up the window excludes, 200 ms after: no finding."""
        warm_until = T0 + 60

        def latency(t: float) -> float:
            return 800.0 if t < warm_until else 200.0

        timeline = run(Traffic("POST", "/api/v1/jobs", 20, latency))
        limits = BreachLimits(p95_ms=500)
        assert first_breach(timeline, [], limits) is not None  # the whole run does break
        assert first_breach(timeline, [], limits, window_start=warm_until, window_end=T0 + 300) is None

    def test_the_server_state_comes_from_whole_periods_inside_the_window(self) -> None:
        """A breach inside the window is told with server values whose period lies inside it; a
        period straddling the window's start (part warm-up) is not used."""
        server = resource_series([ECS_CPU])
        limits = BreachLimits(p95_ms=500)
        found = first_breach(run(POST_JOBS), server, limits, window_start=T0, window_end=T0 + 200)
        assert found is not None and found.end <= T0 + 200
        assert found.sentence.endswith("while no server metric covered that moment")  # 14:03 ends at 14:04
        whole = first_breach(run(POST_JOBS), server, limits, window_start=T0, window_end=T0 + 240)
        assert whole is not None and whole.sentence.endswith("while ECS CPU was 83 %")


class TestBreachLimits:
    def test_from_thresholds_mirrors_the_client_criteria(self) -> None:
        """Defaults apply to all requests and every endpoint; success_rate counts as an error limit."""
        thresholds = Thresholds(
            default=Limits(p95_ms=500, error_rate=0.05, success_rate=0.99),
            endpoints={"GET /health": Limits(p95_ms=50, error_rate=0.0)},
        )
        assert BreachLimits.from_thresholds(thresholds) == BreachLimits(
            p95_ms=500,
            error_rate=pytest.approx(0.01),
            endpoint_p95_ms={"GET /health": 50},
            endpoint_error_rate={"GET /health": 0.0},
            every_endpoint_p95_ms=500,
            every_endpoint_error_rate=pytest.approx(0.01),
        )

    def test_without_per_endpoint_only_named_endpoints_are_watched(self) -> None:
        """per_endpoint = false keeps the defaults on all requests only."""
        thresholds = Thresholds(default=Limits(p95_ms=500), per_endpoint=False)
        limits = BreachLimits.from_thresholds(thresholds)
        assert (limits.p95_ms, limits.every_endpoint_p95_ms) == (500, None)
