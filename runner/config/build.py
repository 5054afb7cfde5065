"""Scenario tables (already checked by pydantic) merged over the built-in presets, and how a key
path is written in a message.

What pydantic cannot check key by key lives here: a stage without a spawn rate when its scenario
gives none, stages beside users/run_time, a shape with no users at all. Each problem is one line
appended to ``problems``, so they are reported with every other one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType

from runner.config.scenarios import BUILTIN, RECOVERY_NEEDS, Scenario, Stage, resolve_scenario
from runner.config.types import STAGES_EXPECTED, ScenarioTable

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def dotted_part(key: str) -> str:
    """A key as TOML would write it in a dotted path: bare when it can be, else quoted."""
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def dotted(*parts: str | int) -> str:
    """``thresholds``, ``endpoints``, ``GET /health`` -> ``thresholds.endpoints."GET /health"``;
    integers are list indexes: ``stages[2]``; an empty first part gives a path to append."""
    out = ""
    for i, part in enumerate(parts):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part or i:
            out += ("." if out or (i and not parts[0]) else "") + dotted_part(part)
    return out


def build_scenarios(
    tables: Mapping[str, ScenarioTable], *, at: Callable[..., str], problems: list[str]
) -> Mapping[str, Scenario]:
    """The built-in presets with each [scenarios.NAME] table merged over the preset of its name
    (a new name is added after them)."""
    scenarios = dict(BUILTIN)
    for name, table in tables.items():
        built = _scenario(name, table, scenarios.get(name), at, problems)
        if built is not None:
            scenarios[name] = built
    return MappingProxyType(scenarios)


def _scenario(
    name: str, table: ScenarioTable, base: Scenario | None, at: Callable[..., str], problems: list[str]
) -> Scenario | None:
    given = {
        k: getattr(table, k)
        for k in ("description", "tags", "exclude_tags", "expected_statuses")
        if getattr(table, k) is not None
    }
    start = replace(base, **given) if base is not None else Scenario(name, **given)
    if table.stages is not None:
        if table.users is not None or table.run_time_s is not None:
            problems.append(
                f"{at('scenarios', name)}: give either stages or users/run_time, not both "
                f"(spawn_rate beside stages is the rate of stages that give none)"
            )
            return None
        stages = _stages(name, table, at, problems)
        if stages is None:
            return None
        return replace(start, users=None, spawn_rate=None, run_time_s=None, stages=stages)
    # Over a staged preset, users/spawn_rate/run_time reshape it exactly like -u/-r/-t do.
    return resolve_scenario(
        start, users=table.users, spawn_rate=table.spawn_rate, run_time_s=table.run_time_s
    )


def _stages(
    name: str, table: ScenarioTable, at: Callable[..., str], problems: list[str]
) -> tuple[Stage, ...] | None:
    stages: list[Stage] = []
    before = len(problems)
    for i, item in enumerate(table.stages or ()):
        rate = item.spawn_rate if item.spawn_rate is not None else table.spawn_rate
        values = {"duration": item.duration_s, "users": item.users, "spawn_rate": rate}
        missing = [k for k, v in values.items() if v is None]
        if missing:
            also = " (or give spawn_rate for the whole scenario)" if missing == ["spawn_rate"] else ""
            problems.append(f"{at('scenarios', name, 'stages', i)}: missing {', '.join(missing)}{also}")
            continue
        if item.recovery and i < 2:
            problems.append(f"{at('scenarios', name, 'stages', i, 'recovery')}: {RECOVERY_NEEDS}")
            continue
        stages.append(Stage(item.duration_s, item.users, rate, recovery=item.recovery))  # type: ignore[arg-type]
    if len(problems) > before:
        return None
    if not stages:
        problems.append(f"{at('scenarios', name, 'stages')}: expected {STAGES_EXPECTED}")
        return None
    if max(s.users for s in stages) < 1:
        problems.append(f"{at('scenarios', name, 'stages')}: at least one stage needs users >= 1")
        return None
    return tuple(stages)
