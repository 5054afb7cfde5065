"""The one bounded polling loop the tests share (tests/support/wait.py)."""

from __future__ import annotations

import itertools

import pytest

from tests.support.wait import wait_until


class TestWaitUntil:
    def test_returns_the_first_truthy_value(self) -> None:
        """Polling stops at the first truthy answer and hands it back."""
        answers = iter([None, [], ["ready"], ["later"]])
        assert wait_until(lambda: next(answers), 5, what="an answer", interval_s=0) == ["ready"]

    def test_timeout_names_what_was_awaited_and_the_last_value(self) -> None:
        """A timeout fails with what was awaited and the last value seen, after a bounded number of polls."""
        calls = itertools.count()
        with pytest.raises(AssertionError, match=r"not reached in 0\.05s: the scrape \(last: 0\)"):
            wait_until(lambda: next(calls) * 0, 0.05, what="the scrape", interval_s=0.01)

    def test_a_callable_what_describes_the_state_at_the_timeout(self) -> None:
        """``what`` can be asked at the end, so the message shows what the last poll saw."""
        seen: list[int] = []
        with pytest.raises(AssertionError, match=r"wanted 3, got \[1, 1\]"):
            wait_until(
                lambda: seen.append(1) and False,
                0.02,
                what=lambda: f"wanted 3, got {seen[:2]}",
                interval_s=0.01,
            )
