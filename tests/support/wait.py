"""One polling loop for the tests: things that happen on their own schedule (a scrape, a file
written by a running Locust, a Prometheus sample) are waited for here, bounded, and a timeout
says what was awaited and what was last seen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout_s: float = 30.0,
    *,
    what: str | Callable[[], str],
    interval_s: float = 0.2,
) -> T:
    """The first truthy value ``predicate`` returns, polled every ``interval_s``; an AssertionError
    naming ``what`` and the last value seen once ``timeout_s`` has passed (``what`` may be a
    callable, asked then, to describe the state the wait ended in)."""
    deadline = time.monotonic() + timeout_s
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"not reached in {timeout_s:g}s: {said} (last: {last!r})")
        time.sleep(interval_s)
