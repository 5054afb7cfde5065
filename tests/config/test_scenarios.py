"""Scenario presets, load shapes, -u/-r/-t resolution and run-time durations (runner.config.scenarios)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from runner.config.scenarios import (
    BUILTIN,
    Scenario,
    Stage,
    format_duration,
    parse_duration_s,
    resolve_scenario,
)

STAGED = Scenario(
    "shape",
    stages=(Stage(60.0, 10, 5.0), Stage(120.0, 40, 10.0), Stage(60.0, 0, 10.0)),
)
STEADY = Scenario("steady", users=20, spawn_rate=2.0, run_time_s=300.0, tags=("api",))


class TestPresets:
    def test_all_five_presets_exist_with_descriptions(self) -> None:
        """smoke, load, stress, spike and soak are built in, each explaining itself."""
        assert list(BUILTIN) == ["smoke", "load", "stress", "spike", "soak"]
        for name, scenario in BUILTIN.items():
            assert scenario.name == name
            assert scenario.description

    def test_smoke_is_short_and_small(self) -> None:
        """smoke runs a handful of users for about a minute."""
        smoke = BUILTIN["smoke"]
        assert smoke.peak_users() == 5
        assert smoke.total_time_s() == 60.0

    def test_load_is_a_steady_ten_minutes(self) -> None:
        """load holds a steady user count for ten minutes, without stages."""
        load = BUILTIN["load"]
        assert not load.staged
        assert (load.users, load.total_time_s()) == (50, 600.0)

    def test_stress_steps_up(self) -> None:
        """stress is a staircase of strictly increasing user counts, two minutes a step."""
        stages = BUILTIN["stress"].stages
        users = [s.users for s in stages]
        assert users == sorted(set(users)) and len(users) >= 4
        assert {s.duration_s for s in stages} == {120.0}
        assert BUILTIN["stress"].peak_users() == 200

    def test_spike_jumps_holds_and_drops(self) -> None:
        """spike goes baseline -> a much higher count at a faster rate -> baseline again."""
        base, jump, after = BUILTIN["spike"].stages
        assert jump.users >= 5 * base.users and after.users == base.users
        assert jump.spawn_rate > base.spawn_rate
        assert jump.duration_s == 120.0

    def test_soak_lasts_at_least_an_hour(self) -> None:
        """soak holds a moderate steady load for an hour or more."""
        soak = BUILTIN["soak"]
        assert soak.total_time_s() is not None and soak.total_time_s() >= 3600  # type: ignore[operator]
        assert not soak.staged


class TestScenarioShape:
    def test_totals_of_a_staged_scenario(self) -> None:
        """A staged scenario's time is the sum of its stages and its peak the largest stage."""
        assert STAGED.total_time_s() == 240.0
        assert STAGED.peak_users() == 40

    def test_totals_of_a_steady_scenario(self) -> None:
        """A steady scenario's time and peak are its run_time_s and users."""
        assert (STEADY.total_time_s(), STEADY.peak_users()) == (300.0, 20)
        assert Scenario("open").total_time_s() is None

    @pytest.mark.parametrize(
        ("elapsed_s", "users"),
        [(0.0, 10), (59.9, 10), (60.0, 40), (179.9, 40), (180.0, 0), (239.9, 0), (240.0, None)],
    )
    def test_stage_at_follows_the_boundaries(self, elapsed_s: float, users: int | None) -> None:
        """stage_at returns the stage in force at each moment and None once the shape is over."""
        stage = STAGED.stage_at(elapsed_s)
        assert (stage.users if stage else None) == users

    def test_stages_and_steady_fields_exclude_each_other(self) -> None:
        """A scenario cannot have both stages and users."""
        with pytest.raises(ValueError, match="stages exclude"):
            Scenario("x", users=3, stages=(Stage(1.0, 1, 1.0),))

    @pytest.mark.parametrize(
        "kwargs", [{"duration_s": 0.0}, {"users": -1}, {"spawn_rate": 0.0}, {"duration_s": math.nan}]
    )
    def test_a_bad_stage_is_refused(self, kwargs: dict[str, float]) -> None:
        """A stage with no duration, negative users or no spawn rate cannot be built."""
        values = {"duration_s": 1.0, "users": 1, "spawn_rate": 1.0, **kwargs}
        with pytest.raises(ValueError):
            Stage(**values)  # type: ignore[arg-type]

    def test_scenarios_are_frozen(self) -> None:
        """Presets cannot be changed in place by whoever reads them."""
        with pytest.raises(dataclasses.FrozenInstanceError):
            BUILTIN["load"].users = 1  # type: ignore[misc]
        with pytest.raises(TypeError):
            BUILTIN["x"] = STEADY  # type: ignore[index]


class TestResolveScenario:
    def test_nothing_given_keeps_the_scenario(self) -> None:
        """With no -u/-r/-t the scenario comes back unchanged."""
        assert resolve_scenario(STAGED, users=None, spawn_rate=None, run_time_s=None) == STAGED
        assert resolve_scenario(STEADY, users=None, spawn_rate=None, run_time_s=None) == STEADY

    def test_flags_replace_a_steady_scenarios_values(self) -> None:
        """On a steady scenario -u, -r and -t simply replace users, spawn_rate and run_time_s."""
        out = resolve_scenario(STEADY, users=7, spawn_rate=None, run_time_s=30.0)
        assert (out.users, out.spawn_rate, out.run_time_s, out.tags) == (7, 2.0, 30.0, ("api",))

    def test_users_scale_stages_so_the_peak_matches(self) -> None:
        """-u on a staged scenario scales every stage proportionally, the peak becoming -u exactly."""
        out = resolve_scenario(BUILTIN["stress"], users=300, spawn_rate=None, run_time_s=None)
        assert [s.users for s in out.stages] == [38, 75, 150, 225, 300]
        assert out.peak_users() == 300
        assert [s.duration_s for s in out.stages] == [s.duration_s for s in BUILTIN["stress"].stages]

    def test_scaled_users_round_half_up_and_keep_at_least_one(self) -> None:
        """Scaling rounds half up, never drops a populated stage to zero, and keeps a drain at zero."""
        out = resolve_scenario(STAGED, users=1, spawn_rate=None, run_time_s=None)
        assert [s.users for s in out.stages] == [1, 1, 0]
        half = Scenario("h", stages=(Stage(1.0, 1, 1.0), Stage(1.0, 4, 1.0)))
        assert [
            s.users for s in resolve_scenario(half, users=10, spawn_rate=None, run_time_s=None).stages
        ] == [
            3,
            10,
        ]

    def test_run_time_scales_stage_durations_proportionally(self) -> None:
        """-t stretches the stages in proportion so they add up to exactly -t."""
        out = resolve_scenario(STAGED, users=None, spawn_rate=None, run_time_s=100.0)
        assert out.total_time_s() == pytest.approx(100.0, abs=1e-12)
        assert [s.duration_s for s in out.stages] == pytest.approx([25.0, 50.0, 25.0])
        odd = resolve_scenario(BUILTIN["spike"], users=None, spawn_rate=None, run_time_s=7.0)
        assert math.fsum(s.duration_s for s in odd.stages) == 7.0

    def test_spawn_rate_replaces_every_stage_rate(self) -> None:
        """-r sets the spawn rate of every stage."""
        out = resolve_scenario(STAGED, users=None, spawn_rate=3.5, run_time_s=None)
        assert {s.spawn_rate for s in out.stages} == {3.5}

    def test_all_three_together_and_the_base_is_untouched(self) -> None:
        """-u, -r and -t combine on a staged scenario, leaving the preset itself as it was."""
        before = BUILTIN["spike"]
        out = resolve_scenario(before, users=50, spawn_rate=20.0, run_time_s=120.0)
        assert [(s.users, s.spawn_rate) for s in out.stages] == [(5, 20.0), (50, 20.0), (5, 20.0)]
        assert out.total_time_s() == 120.0
        assert BUILTIN["spike"].stages[1].users == 100 and out.name == "spike"

    @pytest.mark.parametrize(
        "kwargs", [{"users": 0}, {"spawn_rate": 0.0}, {"run_time_s": -1.0}, {"run_time_s": math.inf}]
    )
    def test_nonsense_flags_are_refused(self, kwargs: dict[str, float]) -> None:
        """Zero users, a zero spawn rate or a non-positive run time raise ValueError."""
        values: dict[str, float | None] = {"users": None, "spawn_rate": None, "run_time_s": None, **kwargs}
        with pytest.raises(ValueError):
            resolve_scenario(STAGED, **values)  # type: ignore[arg-type]


class TestDurations:
    @pytest.mark.parametrize(
        ("text", "seconds"),
        [
            ("30", 30.0),
            ("30s", 30.0),
            ("5m", 300.0),
            ("2h", 7200.0),
            ("90m", 5400.0),
            ("1h30m", 5400.0),
            ("1h2m3s", 3723.0),
            ("1h3s", 3603.0),
            (" 5m ", 300.0),
            ("1.5", 1.5),
            ("0", 0.0),
            (45, 45.0),
            (2.5, 2.5),
        ],
    )
    def test_locust_grammar_and_bare_seconds(self, text: str | float, seconds: float) -> None:
        """Locust's --run-time forms and bare numbers of seconds are understood."""
        assert parse_duration_s(text) == seconds

    @pytest.mark.parametrize(
        "text", ["", "abc", "5x", "1m1h", "-5", "1.5m", "5 m", "h", "m30", True, None, math.nan, -1, [5]]
    )
    def test_anything_else_is_a_clear_value_error(self, text: object) -> None:
        """Unknown units, wrong order, negatives, booleans and non-text raise ValueError with the forms."""
        with pytest.raises(ValueError, match="duration"):
            parse_duration_s(text)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("seconds", "text"),
        [(0, "0s"), (45, "45s"), (60, "1m"), (5400, "1h30m"), (3723, "1h2m3s"), (89.6, "1m30s")],
    )
    def test_format_duration_writes_locusts_form(self, seconds: float, text: str) -> None:
        """format_duration writes whole seconds the way --run-time reads them, and they round-trip."""
        assert format_duration(seconds) == text
        assert parse_duration_s(text) == round(seconds)
