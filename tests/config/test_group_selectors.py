"""``[thresholds.groups.NAME]`` selects by ``tags`` and ``user_classes`` too: lists of non-empty
strings, merged key by key under ``[scenarios.NAME.thresholds.groups]``; a group that selects
nothing is refused (one line naming it, exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.cli import main
from runner.config.load import load_config
from runner.errors import ConfigError
from tests.support.refused import Exited, assert_one_line_exit_2

BAD = [
    ('[thresholds.groups.g]\ntags = "read"\n', "thresholds.groups.g.tags: ", "a list of non-empty strings"),
    ("[thresholds.groups.g]\ntags = []\n", "thresholds.groups.g.tags: ", "a list of non-empty strings"),
    ('[thresholds.groups.g]\ntags = ["a", ""]\n', "thresholds.groups.g.tags[1]: ", "a non-empty string"),
    ("[thresholds.groups.g]\nuser_classes = [3]\n", "thresholds.groups.g.user_classes[0]: ", "string"),
    ("[thresholds.groups.g]\nuser_classes = []\n", "thresholds.groups.g.user_classes: ", "non-empty"),
    (
        "[thresholds.groups.g]\nerror_rate = 0.1\n",
        "thresholds.groups.g: ",
        "a group needs match, tags or user_classes",
    ),
    (
        '[thresholds.groups.g]\ntags = ["read"]\nper_endpoint = false\n',
        "thresholds.groups.g: ",
        "per_endpoint = false needs a group selected by match only",
    ),
    (
        "[scenarios.smoke.thresholds.groups.g]\nerror_rate = 0.1\n",
        "scenarios.smoke.thresholds.groups.g: ",
        "a group needs match, tags or user_classes",
    ),
]


class TestBadSelectors:
    @pytest.mark.parametrize(("text", "key", "fragment"), BAD, ids=[b[0].split("\n")[1] for b in BAD])
    def test_the_command_exits_2_with_one_line(
        self, tmp_path: Path, text: str, key: str, fragment: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A bad tags/user_classes value, or a group with no selector, is one line naming it: exit 2."""
        path = tmp_path / "bad.toml"
        path.write_text(text)
        code = main(["scenarios", "--loadlens-config", str(path)])
        assert_one_line_exit_2(
            Exited(code, capsys.readouterr().err), fragment, start=f"loadlens: {path}: {key}"
        )


class TestSelectorsLoad:
    def test_tags_and_user_classes_are_read(self, tmp_path: Path) -> None:
        """Either selector alone makes a group; both may go with match."""
        (tmp_path / "loadlens.toml").write_text(
            '[thresholds.groups.buyers]\nuser_classes = ["Buyer", "Admin"]\np95_ms = 300\n'
            '[thresholds.groups.read]\ntags = ["read"]\nmatch = "^GET "\n'
        )
        groups = load_config(None, env={}, cwd=tmp_path).thresholds.groups
        assert groups["buyers"].user_classes == ("Buyer", "Admin") and groups["buyers"].tags is None
        assert groups["read"].tags == ("read",) and groups["read"].match == "^GET "

    def test_a_scenario_group_keeps_the_top_levels_selectors_and_may_add_its_own(
        self, tmp_path: Path
    ) -> None:
        """[scenarios.NAME.thresholds.groups.X] overrides key by key: a limit alone keeps tags; a new
        group may select by user class."""
        (tmp_path / "loadlens.toml").write_text(
            '[thresholds.groups.read]\ntags = ["read"]\np95_ms = 300\n'
            "[scenarios.smoke.thresholds.groups.read]\np95_ms = 100\n"
            '[scenarios.smoke.thresholds.groups.buyers]\nuser_classes = ["Buyer"]\nerror_rate = 0\n'
        )
        cfg = load_config(None, env={}, cwd=tmp_path)
        groups = cfg.thresholds_for("smoke").groups
        assert groups["read"].tags == ("read",) and groups["read"].p95_ms == 100
        assert groups["buyers"].user_classes == ("Buyer",)
        with pytest.raises(ConfigError):
            (tmp_path / "loadlens.toml").write_text("[scenarios.smoke.thresholds.groups.x]\np95_ms = 1\n")
            load_config(None, env={}, cwd=tmp_path)
