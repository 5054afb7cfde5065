"""The end-of-run rules that need no Locust: lost workers and the words of an interruption."""

from __future__ import annotations

from runner.locust.lifecycle import WorkerWatch, interrupted_reason

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


class TestWorkerWatch:
    def test_a_missing_worker_is_noted_once_with_the_users_it_ran_before(self) -> None:
        """Locust clears a missing worker's users; the watch keeps what it last ran, and notes it once."""
        watch = WorkerWatch()
        assert watch.observe(T0 + 1, [("a", False, 3), ("b", False, 3)]) == []
        lost = watch.observe(T0 + 5, [("a", True, 0), ("b", False, 6)])
        assert [(w.worker_id, w.users, w.lost_at) for w in lost] == [("a", 3, T0 + 5)]
        assert watch.observe(T0 + 6, [("a", True, 0), ("b", False, 6)]) == []
        assert len(watch.lost) == 1
        sentence = watch.lost[0].sentence(T0)
        assert "worker a was lost at 22:13:25 UTC" in sentence and "3 users" in sentence

    def test_workers_that_keep_reporting_are_never_lost(self) -> None:
        """No heartbeat missed, nothing noted."""
        watch = WorkerWatch()
        for t in range(5):
            assert watch.observe(T0 + t, [("a", False, 2)]) == []
        assert watch.lost == ()


class TestInterruptedReason:
    def test_says_when_and_how_far_into_the_planned_run(self) -> None:
        """The verdict line's words: the clock time, the time into the run, the planned length."""
        text = interrupted_reason(at=T0 + 3, run_start=T0, planned_s=120)
        assert text.startswith("interrupted at 22:13:23 UTC, ") and "into the run" in text
        assert "planned" in text
