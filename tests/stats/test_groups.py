"""Groups selected by tags or User classes are classified per request and counted exactly: every
selector a group gives must hold, each combination is classified once, and the counts travel
through snapshots, windows and the worker -> master wire unchanged."""

from __future__ import annotations

import pytest

from runner.model import GroupKey, Snapshot
from runner.stats.groups import GroupRecorder, Selector, recorded_key
from runner.stats.store import StatsStore, from_wire, to_wire

BUYERS = GroupKey("buyers", user_classes=("Admin", "Buyer"))
READ = GroupKey("read", tags=("read",))
BUY_POSTS = GroupKey("buy_posts", match="^POST ", tags=("checkout", "pay"))


class Origin:
    """Stands in for runner.locust.groups.current_origin: the User class and task tags a test sets
    (an argument of the recorder, not a fake of a component)."""

    def __init__(self) -> None:
        self.now: tuple[str, frozenset[str]] | None = None
        self.calls = 0

    def __call__(self) -> tuple[str, frozenset[str]] | None:
        self.calls += 1
        return self.now


MEMBERS = [
    (BUYERS, "GET /a", "Buyer", set(), True),
    (BUYERS, "GET /a", "Admin", {"x"}, True),
    (BUYERS, "GET /a", "Browser", set(), False),
    (READ, "GET /a", "Browser", {"read", "x"}, True),
    (READ, "GET /a", "Browser", {"write"}, False),
    (READ, "GET /a", "Browser", set(), False),
    (BUY_POSTS, "POST /jobs", "Buyer", {"pay"}, True),
    (BUY_POSTS, "GET /jobs", "Buyer", {"pay"}, False),  # match fails
    (BUY_POSTS, "POST /jobs", "Buyer", {"read"}, False),  # tags fail
    (GroupKey("both", tags=("t",), user_classes=("U",)), "GET /", "U", {"t"}, True),
    (GroupKey("both", tags=("t",), user_classes=("U",)), "GET /", "V", {"t"}, False),
    (GroupKey("both", tags=("t",), user_classes=("U",)), "GET /", "U", set(), False),
]


class TestSelector:
    @pytest.mark.parametrize(("key", "endpoint", "user_class", "tags", "member"), MEMBERS)
    def test_every_given_selector_must_hold(
        self, key: GroupKey, endpoint: str, user_class: str, tags: set[str], member: bool
    ) -> None:
        """match AND any of the tags AND any of the classes; a selector not given holds."""
        assert Selector.of(key).member(endpoint, user_class, frozenset(tags)) is member

    def test_only_groups_with_tags_or_classes_are_recorded(self) -> None:
        """A match-only group is merged from the endpoints where the verdict is made: no key."""
        assert recorded_key("a", match="^GET", tags=(), user_classes=()) is None
        assert recorded_key("a", match=None, tags=("y", "x", "x"), user_classes=()) == GroupKey(
            "a", None, ("x", "y")
        )


class TestRecorder:
    def test_counts_each_request_in_every_group_it_belongs_to(self) -> None:
        origin = Origin()
        store = StatsStore(groups=GroupRecorder([BUYERS, READ, BUY_POSTS], origin=origin))
        origin.now = ("Buyer", frozenset({"pay"}))
        for _ in range(3):
            store.record("POST", "/jobs", 12.0, 201, False, 10)
        origin.now = ("Buyer", frozenset({"read"}))
        store.record("GET", "/jobs", 5.0, 500, True, 0)
        origin.now = ("Browser", frozenset({"read"}))
        store.record("GET", "/jobs", 7.0, 200, False, 0)
        origin.now = None  # a request from no User's greenlet
        store.record("GET", "/jobs", 9.0, 200, False, 0)
        groups = store.snapshot().groups
        assert groups[BUYERS].count == 4 and groups[BUYERS].failures == 1
        assert groups[READ].count == 2 and groups[READ].max_ms == 7.0
        assert groups[BUY_POSTS].count == 3 and groups[BUY_POSTS].histogram.total == 3
        assert store.snapshot().total().count == 6  # the endpoints still see every request

    def test_a_combination_is_classified_once(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The hot path looks the combination up; Selector.member runs only on a new one."""
        calls = []
        real = Selector.member
        monkeypatch.setattr(Selector, "member", lambda self, *a: calls.append(a) or real(self, *a))
        origin = Origin()
        origin.now = ("Buyer", frozenset({"pay"}))
        store = StatsStore(groups=GroupRecorder([BUYERS, READ], origin=origin))
        for _ in range(50):
            store.record("POST", "/jobs", 1.0, 200, False, 0)
        assert len(calls) == 2 and store.snapshot().groups[BUYERS].count == 50

    def test_a_group_that_counted_nothing_is_present_at_zero(self) -> None:
        """ "Counted none" stays distinct from "not recorded", in the cumulative and in a window."""
        store = StatsStore(groups=GroupRecorder([READ], origin=Origin()))
        first = store.snapshot()
        store.record("GET", "/", 1.0, 200, False, 0)
        window = store.snapshot().since(first)
        assert window.groups[READ].count == 0 and first.groups[READ].count == 0

    def test_a_window_holds_only_its_own_requests(self) -> None:
        origin = Origin()
        origin.now = ("Buyer", frozenset())
        store = StatsStore(groups=GroupRecorder([BUYERS], origin=origin))
        store.record("GET", "/", 1.0, 200, False, 0)
        start = store.snapshot()
        store.record("GET", "/", 400.0, 200, False, 0)
        store.record("GET", "/", 300.0, 200, False, 0)
        window = store.snapshot().since(start)
        assert window.groups[BUYERS].count == 2 and window.groups[BUYERS].quantile_ms(0.0) >= 290


class TestWire:
    def test_worker_deltas_merge_exactly_at_the_master(self) -> None:
        """Each worker drains its groups with its report; the master's sum is every request."""
        master = StatsStore(groups=GroupRecorder([BUYERS], origin=Origin()))
        origin = Origin()
        origin.now = ("Admin", frozenset({"read"}))
        worker = StatsStore(groups=GroupRecorder([BUYERS, READ], origin=origin))
        for n in (3, 4):
            for _ in range(n):
                worker.record("GET", "/a", 20.0, 200, False, 0)
            master.add(from_wire(to_wire(worker.drain())))
        groups = master.snapshot().groups
        assert groups[BUYERS].count == 7 and groups[READ].count == 7  # a worker's own group kept too
        assert worker.snapshot().groups[BUYERS].count == 0  # drained

    def test_a_version_2_delta_without_groups_is_read(self) -> None:
        wire = to_wire(Snapshot(start=0.0, end=1.0, endpoints={}))
        wire.pop("groups")
        wire["v"] = 2
        assert from_wire(wire).groups == {}
