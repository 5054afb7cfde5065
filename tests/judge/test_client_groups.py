"""Groups selected by tags or User classes are judged on what the run recorded for them (one row
per key), never rebuilt from the endpoints: a group the run did not record, or recorded with other
selectors, is INCONCLUSIVE with the reason; a recorded group that counted nothing says why."""

from __future__ import annotations

from runner.config.load import Thresholds
from runner.config.types import GroupLimits
from runner.judge.client import judge_client
from runner.model import GroupKey, Snapshot, Status
from runner.stats.groups import GroupRecorder
from runner.stats.store import StatsStore
from tests.judge.test_client import by_name

BUYERS = GroupKey("buyers", user_classes=("Buyer",))


def recorded(n: int, *, ms: float = 40.0, failed: int = 0) -> Snapshot:
    """A run whose Buyer users made ``n`` requests (``failed`` of them failed) over 10 s."""
    clock = iter([0.0, 10.0])
    store = StatsStore(
        groups=GroupRecorder([BUYERS], origin=lambda: ("Buyer", frozenset())), clock=lambda: next(clock)
    )
    for i in range(n):
        store.record("GET", "/a", ms, 500 if i < failed else 200, i < failed, 0)
    return store.snapshot()


class TestRecordedGroups:
    def test_one_row_per_key_on_the_recorded_counts(self) -> None:
        group = GroupLimits(user_classes=("Buyer",), error_rate=0.05, p95_ms=100)
        rows = by_name(judge_client(recorded(40, failed=4), Thresholds(groups={"buyers": group})))
        assert rows["group buyers error rate"].status is Status.FAIL
        assert rows["group buyers error rate"].details["requests"] == 40
        assert rows["group buyers p95"].status is Status.PASS

    def test_a_group_the_run_did_not_record_is_inconclusive(self) -> None:
        """A verdict config adding a tags group to an old run: no pass, and the reason says why."""
        group = GroupLimits(tags=("read",), error_rate=0.5)
        rows = by_name(judge_client(recorded(40), Thresholds(groups={"read": group})))
        row = rows["group read error rate"]
        assert row.status is Status.INCONCLUSIVE and row.observed is None
        assert "not recorded in this run" in row.reason and "cannot be rebuilt" in row.reason

    def test_a_group_recorded_with_other_selectors_is_inconclusive(self) -> None:
        group = GroupLimits(user_classes=("Admin",), error_rate=0.5)
        rows = by_name(judge_client(recorded(40), Thresholds(groups={"buyers": group})))
        row = rows["group buyers error rate"]
        assert row.status is Status.INCONCLUSIVE
        assert "recorded as buyers (user_classes=['Buyer'])" in row.reason

    def test_a_recorded_group_that_counted_nothing_says_why(self) -> None:
        group = GroupLimits(user_classes=("Buyer",), error_rate=0.5)
        rows = by_name(judge_client(recorded(0), Thresholds(groups={"buyers": group})))
        row = rows["group buyers error rate"]
        assert row.status is Status.INCONCLUSIVE and "outside a User's own greenlet" in row.reason

    def test_a_match_only_group_is_still_merged_from_the_endpoints(self) -> None:
        """Re-judging with a new match keeps working: nothing recorded is needed."""
        rows = by_name(
            judge_client(recorded(40), Thresholds(groups={"a": GroupLimits(match="/a", error_rate=0)}))
        )
        assert rows["group a error rate"].status is Status.PASS
