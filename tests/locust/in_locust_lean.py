"""--lean's listener checked on real Locust objects in a process Locust monkey-patched first.

Not collected by the suite (the name does not start with test_): gevent must patch a process before
ssl is imported, which a pytest process running the whole suite has long done, so
tests/locust/test_lean.py runs this file in its own pytest process (``--noconftest``), where
``import locust`` comes first, exactly as in a real run.
"""

import locust  # noqa: F401, I001  (first: gevent's monkey-patching, as in a real run)

from typing import Any

import pytest
from locust import HttpUser
from locust.env import Environment
from locust.event import Events

from runner.locust.lean import LeanListener, RequestListener, listen_requests
from runner.stats.store import StatsStore


class _Owner:
    """What the listeners write loadlens's figures into: the bridge's ``store`` attribute."""

    def __init__(self) -> None:
        self.store = StatsStore()


class _Response:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


class _Env:
    """A real Locust Environment and LocalRunner (no users run: the test fires the requests)."""

    def __init__(self, *, lean: bool) -> None:
        self.events = Events()
        self.env = Environment(user_classes=[HttpUser], events=self.events, host="http://127.0.0.1")
        self.runner = self.env.create_local_runner()
        self.user_listener_calls = 0
        self.events.request.add_listener(self._user_listener)  # a locustfile's own, after Locust's
        self.owner = _Owner()
        self.lean = listen_requests(self.events, self.runner, self.owner, lean=lean)

    def _user_listener(self, **_kw: Any) -> None:
        self.user_listener_calls += 1

    def fire(self, i: int) -> None:
        status = 500 if i % 13 == 0 else 200
        self.events.request.fire(
            request_type="POST" if i % 5 == 0 else "GET",
            name=f"/n/{i % 7}",
            response_time=None if i % 401 == 0 else 0.2 + (i % 89) * 3.7 + (i % 3) * 1500,
            response_length=i % 11,
            response=_Response(status),
            context={},
            exception=RuntimeError(f"HTTP {status}") if status != 200 else None,
            start_time=0.0,
            url="http://127.0.0.1/",
        )


def _entry_figures(e: Any) -> dict[str, Any]:
    return {
        "requests": e.num_requests,
        "none": e.num_none_requests,
        "failures": e.num_failures,
        "sum": e.total_response_time,
        "min": e.min_response_time,
        "max": e.max_response_time,
        "response_times": dict(e.response_times),
        "per_second": sum(e.num_reqs_per_sec.values()),
        "fail_per_second": sum(e.num_fail_per_sec.values()),
        "bytes": e.total_content_length,
        "p95": e.get_response_time_percentile(0.95),
        "median": e.median_response_time,
    }


def _figures(env: Environment) -> dict[str, Any]:
    stats = env.stats
    return {
        "total": _entry_figures(stats.total),
        "entries": {k: _entry_figures(e) for k, e in stats.entries.items()},
        "errors": {k: e.occurrences for k, e in stats.errors.items()},
    }


class TestLeanListener:
    def test_locust_stats_are_the_same_with_and_without_lean(self) -> None:
        """The same requests give the same Locust figures (counts, failures, response-time dict,
        per-second counts, errors, percentiles) and the same loadlens store with lean as without."""
        plain, lean = _Env(lean=False), _Env(lean=True)
        assert (plain.lean, lean.lean) == (False, True)
        for i in range(3000):  # in lockstep, so both see the same seconds
            plain.fire(i)
            lean.fire(i)
        assert _figures(lean.env) == _figures(plain.env)
        assert lean.env.stats.total.num_requests == 3000
        assert lean.owner.store.snapshot().endpoints == plain.owner.store.snapshot().endpoints
        assert lean.user_listener_calls == plain.user_listener_calls == 3000

    def test_lean_takes_the_place_of_locusts_listener(self) -> None:
        """Under lean, one listener (in Locust's place, before the locustfile's own) does what
        Locust's and loadlens's did; without lean, loadlens's own is added after the others."""
        plain, lean = _Env(lean=False), _Env(lean=True)
        lean_handlers = lean.events.request._handlers
        assert len(lean_handlers) == 2 and isinstance(lean_handlers[0], LeanListener)
        plain_handlers = plain.events.request._handlers
        assert len(plain_handlers) == 3 and isinstance(plain_handlers[-1], RequestListener)

    def test_an_unknown_locust_listener_leaves_locust_alone(self) -> None:
        """When Locust's own listener is not found (another Locust, or none), lean does nothing and
        loadlens listens beside whatever is there: never a lost statistic."""
        events = Events()
        owner = _Owner()
        assert listen_requests(events, None, owner, lean=True) is False
        assert [type(h) for h in events.request._handlers] == [RequestListener]

    def test_customised_locust_statistics_leave_lean_aside(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A plugin or locustfile that replaced one of the methods lean stands in for keeps it: lean
        steps aside and Locust's listener (calling the replacement) runs beside loadlens's."""
        from locust.stats import StatsEntry

        calls: list[int] = []
        original = StatsEntry._log_time_of_request

        def counted(entry: StatsEntry, current_time: float) -> None:
            calls.append(1)
            original(entry, current_time)

        monkeypatch.setattr(StatsEntry, "_log_time_of_request", counted)
        env = _Env(lean=True)
        assert env.lean is False
        env.fire(1)
        assert len(calls) == 2  # the endpoint's entry and the Aggregated one
        assert env.owner.store.snapshot().total().count == 1

    def test_the_store_replaced_at_test_start_is_the_one_written(self) -> None:
        """The bridge makes a new store when the test starts: the listener reads it on every call."""
        env = _Env(lean=True)
        env.fire(1)
        env.owner.store = StatsStore()
        env.fire(2)
        assert env.owner.store.snapshot().total().count == 1
