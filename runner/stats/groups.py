"""Endpoint groups selected by Locust tags or User classes, counted live into exact histograms.

A group that selects only by ``match`` is merged from the endpoint histograms where the verdict is
made (runner.judge.client), so a re-judge may change its regex. A group that names ``tags`` or
``user_classes`` cannot be rebuilt that way: an endpoint's histogram does not know which User or
task made each request. So each request is classified once more, here, into the histograms of the
groups it belongs to. A request belongs to a group when it satisfies every selector the group
gives: ``match`` (a regex searched in "METHOD name") AND ``tags`` (any one of them) AND
``user_classes`` (any one of them).

The request path stays one dict lookup: the groups of an (endpoint, User class, task tags)
combination are decided once and cached (bounded: past ``MAX_CACHED`` combinations the cache
starts over). Who made the request comes from ``origin`` (runner.locust.groups): None when no User
is known (a request fired outside a User's greenlet), and such a request joins no group.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from runner.model import EndpointStats, GroupKey
from runner.stats.store import _Recorder

MAX_CACHED = 10_000  # (endpoint, class, tags) combinations remembered; then the cache starts over
NO_TAGS: frozenset[str] = frozenset()

# (User class name, tags of the running task), or None when no User made the request.
Origin = tuple[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class Selector:
    """One group's selectors, compiled: what ``member`` decides for a request."""

    key: GroupKey
    regex: re.Pattern[str] | None

    @classmethod
    def of(cls, key: GroupKey) -> Selector:
        return cls(key, re.compile(key.match) if key.match is not None else None)

    def member(self, endpoint: str, user_class: str, tags: frozenset[str]) -> bool:
        """Whether a request to ``endpoint`` ("METHOD name") by a ``user_class`` User, in a task
        tagged ``tags``, belongs to the group (every selector given holds)."""
        key = self.key
        if key.user_classes and user_class not in key.user_classes:
            return False
        if key.tags and tags.isdisjoint(key.tags):
            return False
        return self.regex is None or self.regex.search(endpoint) is not None


def recorded_key(
    name: str, *, match: str | None, tags: Iterable[str], user_classes: Iterable[str]
) -> GroupKey | None:
    """The key a ``[thresholds.groups.NAME]`` table is recorded under, or None for a match-only
    group (merged from the endpoints where the verdict is made, never recorded)."""
    tags, user_classes = tuple(sorted(set(tags))), tuple(sorted(set(user_classes)))
    if not tags and not user_classes:
        return None
    return GroupKey(name, match, tags, user_classes)


class GroupRecorder:
    """The live groups' histograms. Fed by ``StatsStore.record`` (standalone, worker) or by
    workers' deltas (``add``, master); not thread-safe, like the store (one gevent thread)."""

    def __init__(self, keys: Sequence[GroupKey], *, origin: Callable[[], Origin | None]) -> None:
        self._selectors = tuple(Selector.of(k) for k in keys)
        self._origin = origin
        self._recorders: dict[GroupKey, _Recorder] = {k: _Recorder() for k in keys}
        self._cache: dict[tuple[str, str, str, frozenset[str]], tuple[_Recorder, ...]] = {}

    @property
    def keys(self) -> tuple[GroupKey, ...]:
        return tuple(self._recorders)

    def record(
        self, method: str, name: str, response_time_ms: float, status: int, failed: bool, length: int, i: int
    ) -> None:
        """Count one request (latency bucket ``i``, as the store computed it) in its groups."""
        origin = self._origin()
        if origin is None:
            return  # no User known: the request joins no tags/user_classes group
        combination = (method, name, *origin)
        recorders = self._cache.get(combination)
        if recorders is None:
            recorders = self._classify(method, name, *origin)
        for rec in recorders:
            rec.bump(response_time_ms, status, failed, length, i)

    def _classify(
        self, method: str, name: str, user_class: str, tags: frozenset[str]
    ) -> tuple[_Recorder, ...]:
        endpoint = f"{method} {name}" if method else name
        found = tuple(self._recorders[s.key] for s in self._selectors if s.member(endpoint, user_class, tags))
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[(method, name, user_class, tags)] = found
        return found

    def freeze(self, expected: frozenset[int]) -> dict[GroupKey, EndpointStats]:
        """Every group's statistics so far (a group that counted nothing is there at zero)."""
        return {key: rec.freeze(expected) for key, rec in self._recorders.items()}

    def reset(self) -> None:
        """Start every group over (a worker after sending its delta); the classification stays."""
        fresh = {key: _Recorder() for key in self._recorders}
        self._recorders = fresh
        self._cache.clear()

    def add(self, groups: Mapping[GroupKey, EndpointStats]) -> None:
        """Merge a worker's groups (a group the master was not configured with is kept too)."""
        for key, stats in groups.items():
            rec = self._recorders.get(key)
            if rec is None:
                rec = self._recorders[key] = _Recorder()
            rec.add(stats)
