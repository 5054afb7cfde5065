"""The judged window: steady state when there is one, the whole run (with a note) otherwise."""

from __future__ import annotations

from runner.stats.store import StatsStore
from runner.stats.window import STEADY, WHOLE, choose_window


def store_at(now: list[float]) -> StatsStore:
    return StatsStore(clock=lambda: now[0])


class TestChooseWindow:
    def test_steady_state_is_the_difference_after_the_ramp(self) -> None:
        """Requests before the ramp-up ended are excluded; the window runs to the run's end."""
        now = [0.0]
        store = store_at(now)
        for _ in range(10):
            store.record("GET", "/a", 500.0, 200, False, 0)  # slow during the ramp-up
        now[0] = 5.0
        steady = store.snapshot()
        for _ in range(30):
            store.record("GET", "/a", 5.0, 200, False, 0)
        now[0] = 20.0
        w = choose_window(store.snapshot(), run_start=0.0, run_end=20.0, steady_start=steady)
        assert w.kind == STEADY and w.label == "steady state" and not w.notes
        assert w.judged.total().count == 30 and w.whole.total().count == 40
        assert (w.judged.start, w.judged.end) == (5.0, 20.0)
        assert w.judged.total().quantile_ms(0.99) < 6

    def test_cool_down_ends_the_window_early(self) -> None:
        """With a snapshot at the cool-down's start, later requests are outside the window."""
        now = [0.0]
        store = store_at(now)
        steady = store.snapshot()
        store.record("GET", "/a", 5.0, 200, False, 0)
        now[0] = 10.0
        end = store.snapshot()
        store.record("GET", "/a", 900.0, 200, False, 0)
        w = choose_window(store.snapshot(), run_start=0.0, run_end=12.0, steady_start=steady, steady_end=end)
        assert w.judged.total().count == 1 and w.judged.end == 10.0

    def test_no_steady_state_judges_the_whole_run_and_says_so(self) -> None:
        """A run that ended during its ramp-up is judged whole, with a note."""
        store = store_at([0.0])
        store.record("GET", "/a", 5.0, 200, False, 0)
        w = choose_window(store.snapshot(), run_start=0.0, run_end=3.0, steady_start=None)
        assert w.kind == WHOLE and w.judged.total().count == 1 and "never reached" in w.notes[0]

    def test_empty_steady_state_falls_back_to_the_whole_run(self) -> None:
        """A steady state without requests (but a run with some) is not judged empty: the whole run is."""
        now = [0.0]
        store = store_at(now)
        store.record("GET", "/a", 5.0, 200, False, 0)
        steady = store.snapshot()
        w = choose_window(store.snapshot(), run_start=0.0, run_end=3.0, steady_start=steady)
        assert (
            w.kind == WHOLE
            and w.judged.total().count == 1
            and "no requests in the steady state" in w.notes[0]
        )


class TestIncompleteVerdict:
    """An incomplete run (interrupted, no steady state, a worker lost) never passes."""

    def _result(self, status):
        from runner.model import Result

        return Result(
            name="all requests p95",
            criterion="p95 <= 5 ms",
            observed=1.0,
            limit=5.0,
            status=status,
            reason="",
        )

    def test_passing_criteria_of_an_incomplete_run_are_inconclusive_exit_3(self) -> None:
        """All criteria passed, but the run is incomplete: INCONCLUSIVE, exit 3, and the reason is kept."""
        from runner.judge.verdict import decide
        from runner.model import Status

        v = decide([self._result(Status.PASS)], incomplete=("interrupted at 12:00:03 UTC",))
        assert (v.status, v.exit_code) == (Status.INCONCLUSIVE, 3)
        assert v.incomplete == ("interrupted at 12:00:03 UTC",)

    def test_a_failed_criterion_of_an_incomplete_run_stays_fail(self) -> None:
        """FAIL stays FAIL (exit 1) in an incomplete run."""
        from runner.judge.verdict import decide
        from runner.model import Status

        v = decide([self._result(Status.FAIL)], incomplete=("a worker was lost",))
        assert (v.status, v.exit_code) == (Status.FAIL, 1)


class TestNoSteadyState:
    def test_a_run_without_steady_state_is_incomplete(self) -> None:
        """The whole run is shown, but the window says the run is incomplete (so it cannot pass)."""
        store = store_at([0.0])
        store.record("GET", "/a", 5.0, 200, False, 0)
        w = choose_window(store.snapshot(), run_start=0.0, run_end=3.0, steady_start=None)
        assert w.incomplete == "the steady state was never reached"
