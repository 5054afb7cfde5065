"""[scenarios.NAME.thresholds] laid over [thresholds]: one merge, key by key.

Users' guides set different targets per scenario (a smoke test stricter on errors, a peak test
looser on latency): a scenario's table replaces only the keys it gives, an endpoint's or a group's
table of the same name likewise, and a new endpoint or group is added. Everything else
([thresholds] warn_ratio, expected_statuses, include_expected) stays the top level's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TypeVar

from runner.config.types import (
    EndpointLimits,
    GroupLimits,
    Limits,
    ScenarioTable,
    ScenarioThresholds,
    Thresholds,
)

_L = TypeVar("_L", bound=Limits)
_LIMIT_FIELDS = tuple(f.name for f in dataclasses.fields(Limits))


def override(base: Thresholds, own: ScenarioThresholds) -> Thresholds:
    """``base`` with the scenario's ``own`` keys over it."""
    default = _over(base.default, own, Limits)
    return dataclasses.replace(
        base,
        default=default,
        endpoints=_tables(base.endpoints, own.endpoints, EndpointLimits),
        groups=_tables(base.groups, own.groups, GroupLimits),
        per_endpoint=base.per_endpoint if own.per_endpoint is None else own.per_endpoint,
    )


def group_problems(
    top: Thresholds, scenarios: Mapping[str, ScenarioTable]
) -> Iterator[tuple[tuple[str, ...], str]]:
    """The key path and problem of every group that, once merged (a scenario's table may leave
    a key to the top level's group of the same name), selects nothing (no ``match``, ``tags`` or
    ``user_classes``: it would judge nothing) or asks ``per_endpoint = false`` with ``tags`` or
    ``user_classes`` (an endpoint's requests cannot be split between its own row and the group's)."""
    tables: list[tuple[tuple[str, ...], GroupLimits]] = [
        (("thresholds", "groups", name), g) for name, g in top.groups.items()
    ]
    for scenario, table in scenarios.items():
        if table.thresholds is not None:
            merged = override(top, table.thresholds).groups
            tables += [
                (("scenarios", scenario, "thresholds", "groups", n), merged[n])
                for n in table.thresholds.groups
            ]
    for parts, group in tables:
        if group.match is None and not group.tags and not group.user_classes:
            yield parts, "a group needs match, tags or user_classes"
        elif not group.per_endpoint and (group.tags or group.user_classes):
            yield (
                parts,
                "per_endpoint = false needs a group selected by match only (not tags or user_classes)",
            )


def _tables(base: Mapping[str, _L], own: Mapping[str, _L], kind: type[_L]) -> Mapping[str, _L]:
    merged = dict(base)
    for name, table in own.items():
        merged[name] = _over(base[name], table, kind) if name in base else table
    return MappingProxyType(merged)


def _over(base: Limits, own: Limits, kind: type[_L]) -> _L:
    """A ``kind`` table holding ``own``'s given keys, else ``base``'s (a group also keeps its
    match and per_endpoint unless the scenario's table gives them)."""
    names = [f.name for f in dataclasses.fields(kind)]
    values = {}
    for name in names:
        mine = getattr(own, name, None)
        values[name] = mine if mine is not None and _given(own, name) else getattr(base, name, None)
    return kind(**values)


def _given(table: Limits, name: str) -> bool:
    """Whether ``table`` set ``name`` itself: a bool like per_endpoint counts only when it differs
    from its default (TOML cannot say "unset" for it)."""
    if name in _LIMIT_FIELDS or name in ("match", "tags", "user_classes"):
        return True
    default = next(f.default for f in dataclasses.fields(table) if f.name == name)
    return bool(getattr(table, name) != default)
