"""Bounded label sets: the name cap, status classes, and exact results by status."""

from __future__ import annotations

from exporters.cardinality import FAILURE, SUCCESS, LabelFolder, status_class
from runner.stats.store import OVERFLOW_NAME, StatsStore
from tests.support.live_states import fed_store


def _store_with(names: int, *, per_name: int = 2, method: str = "GET") -> StatsStore:
    store = StatsStore(max_endpoints=10_000)
    for i in range(names):
        for _ in range(per_name):
            store.record(method, f"/user/{i}", 10.0, 200, False, 0)
    return store


class TestNameCap:
    def test_500_names_keep_the_label_set_at_the_cap(self) -> None:
        """500 distinct names give 200 endpoint labels plus one "(other)" holding the rest, counted."""
        folder = LabelFolder(max_names=200, max_statuses=20)
        folded = folder.fold(_store_with(500, per_name=3).snapshot())
        labels = [row.endpoint for row in folded.rows]
        assert len(labels) == 201
        assert labels.count(OVERFLOW_NAME) == 1
        assert folded.folded_names == 300
        assert folded.overflow_requests == 300 * 3
        assert sum(row.stats.count for row in folded.rows) == 500 * 3

    def test_an_admitted_name_keeps_its_label_and_a_folded_one_stays_folded(self) -> None:
        """Labels never change between exports, so counters stay monotonic as names come and go."""
        folder = LabelFolder(max_names=2, max_statuses=20)
        store = StatsStore()
        store.record("GET", "/a", 1.0, 200, False, 0)
        store.record("GET", "/b", 1.0, 200, False, 0)
        store.record("GET", "/c", 1.0, 200, False, 0)
        first = {r.endpoint for r in folder.fold(store.snapshot()).rows}
        store.record("GET", "/d", 1.0, 200, False, 0)
        second = folder.fold(store.snapshot())
        assert first == {"/a", "/b", OVERFLOW_NAME}
        assert {r.endpoint for r in second.rows} == {"/a", "/b", OVERFLOW_NAME}
        assert second.folded_names == 2

    def test_overflow_is_per_method(self) -> None:
        """Folded names keep their method: one "(other)" row per method."""
        folder = LabelFolder(max_names=1, max_statuses=20)
        store = StatsStore()
        for method, name in (("GET", "/a"), ("GET", "/b"), ("POST", "/c"), ("POST", "/d")):
            store.record(method, name, 1.0, 200, False, 0)
        rows = {(r.method, r.endpoint): r.stats.count for r in folder.fold(store.snapshot()).rows}
        assert rows == {("GET", "/a"): 1, ("GET", OVERFLOW_NAME): 1, ("POST", OVERFLOW_NAME): 2}

    def test_the_stores_own_overflow_joins_the_exporters(self) -> None:
        """Names the store already folded into "(other)" are reported there, without using a slot."""
        store = StatsStore(max_endpoints=2)
        for name in ("/a", "/b", "/c", "/d"):
            store.record("GET", name, 1.0, 200, False, 0)
        folder = LabelFolder(max_names=200, max_statuses=20)
        folded = folder.fold(store.snapshot())
        assert {(r.endpoint, r.stats.count) for r in folded.rows} == {
            ("/a", 1),
            ("/b", 1),
            (OVERFLOW_NAME, 2),
        }
        assert folded.overflow_requests == 2
        assert folded.folded_names == 0


class TestStatuses:
    def test_codes_beyond_the_cap_fold_to_their_class(self) -> None:
        """Once max_statuses codes are admitted, new codes are reported as "4xx", "5xx"..."""
        folder = LabelFolder(max_names=10, max_statuses=2)
        store = StatsStore()
        for code in (200, 404, 503, 502, 0, 200):
            store.record("GET", "/a", 1.0, code, code >= 400 or code == 0, 0)
        (stats,) = store.snapshot().endpoints.values()
        counts = {(s.status, s.result): s.n for s in folder.statuses(stats)}
        assert counts == {
            ("200", SUCCESS): 2,
            ("404", FAILURE): 1,
            ("5xx", FAILURE): 2,
            ("other", FAILURE): 1,
        }
        assert folder.folded_status_codes == 3

    def test_status_class_labels(self) -> None:
        """Classes are the hundreds digit for HTTP codes, "other" for anything else."""
        assert [status_class(c) for c in (101, 204, 301, 429, 599, 0, 999)] == [
            "1xx", "2xx", "3xx", "4xx", "5xx", "other", "other",
        ]  # fmt: skip

    def test_failures_by_status_add_up_to_the_stores_failures(self) -> None:
        """result="failure" counts come from failed_statuses and sum to the store's own failures."""
        store = fed_store(requests=4000)
        folder = LabelFolder(max_names=200, max_statuses=20)
        for stats in store.snapshot().endpoints.values():
            split = folder.statuses(stats)
            assert sum(s.n for s in split) == stats.count
            assert sum(s.n for s in split if s.result == FAILURE) == stats.failures
            # A failed 200 (a body check) is a failure with status 200, not moved elsewhere.
            assert sum(
                s.n for s in split if s.status == "200" and s.result == FAILURE
            ) == stats.failed_statuses.get(200, 0)

    def test_expected_statuses_are_successes(self) -> None:
        """A failed response whose code the scenario expects counts as a success, as in the summary."""
        store = fed_store(requests=2000, expected_statuses=(404,))
        folder = LabelFolder(max_names=200, max_statuses=20, expected_statuses=(404,))
        for stats in store.snapshot().endpoints.values():
            split = {(s.status, s.result): s.n for s in folder.statuses(stats)}
            assert ("404", FAILURE) not in split
            assert split.get(("404", SUCCESS), 0) == stats.statuses.get(404, 0)
            assert sum(n for (_, r), n in split.items() if r == FAILURE) == stats.failures
