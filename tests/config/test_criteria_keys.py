"""The client-criteria keys of issue 13 refuse bad values: one line naming file, key and problem,
and `loadlens` exits 2 with no traceback (``[thresholds]`` p90_ms, p999_ms, avg_ms, max_ms,
require_statuses, abort_after; ``[thresholds.groups.NAME]``; ``[scenarios.NAME.thresholds]``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.cli import main
from runner.config.load import load_config
from runner.errors import ConfigError
from tests.support.refused import Exited, assert_one_line, assert_one_line_exit_2

BAD = [
    ("[thresholds]\np90_ms = 0\n", "thresholds.p90_ms: ", "expected a number > 0, got 0"),
    ('[thresholds]\np999_ms = "slow"\n', "thresholds.p999_ms: ", 'expected a number > 0, got "slow"'),
    ("[thresholds]\navg_ms = -1\n", "thresholds.avg_ms: ", "expected a number > 0, got -1"),
    ("[thresholds]\nmax_ms = true\n", "thresholds.max_ms: ", "expected a number > 0, got true"),
    ("[thresholds]\nrequire_statuses = [42]\n", "thresholds.require_statuses[0]: ", "HTTP status code"),
    ('[thresholds]\nrequire_statuses = "429"\n', "thresholds.require_statuses: ", "a list of HTTP status"),
    ('[thresholds]\nabort_after = "soon"\n', "thresholds.abort_after: ", "expected a duration > 0"),
    ("[thresholds]\nabort_after = 0\n", "thresholds.abort_after: ", "expected a duration > 0"),
    (
        '[thresholds.endpoints."GET /a"]\nabort_after = "x"\n',
        'thresholds.endpoints."GET /a".abort_after: ',
        "expected a duration > 0",
    ),
    ("[thresholds]\ngroups = 3\n", "thresholds.groups: ", "a table of endpoint groups"),
    ("[thresholds.groups.auth]\np95_ms = 300\n", "thresholds.groups.auth: ", "a group needs match"),
    (
        '[thresholds.groups.auth]\nmatch = "(unclosed"\n',
        "thresholds.groups.auth.match: ",
        "regular expression",
    ),
    (
        '[thresholds.groups.auth]\nmatch = "^/a"\nper_endpoint = "no"\n',
        "thresholds.groups.auth.per_endpoint: ",
        "",
    ),
    (
        '[thresholds.groups.auth]\nmatch = "^/a"\np95 = 3\n',
        "thresholds.groups.auth.p95: ",
        'did you mean "p95_ms"',
    ),
    ('[thresholds.groups."a b"]\nmatch = "^/a"\n', 'thresholds.groups."a b"', "a group name may only use"),
    ("[scenarios.smoke.thresholds]\np95_ms = 0\n", "scenarios.smoke.thresholds.p95_ms: ", "got 0"),
    ("[scenarios.smoke.thresholds]\np95 = 3\n", "scenarios.smoke.thresholds.p95: ", 'did you mean "p95_ms"'),
    ("[scenarios.smoke]\nthresholds = 3\n", "scenarios.smoke.thresholds: ", "expected a table"),
    (
        "[scenarios.smoke.thresholds.groups.new]\np95_ms = 3\n",
        "scenarios.smoke.thresholds.groups.new: ",
        "a group needs match",
    ),
]


class TestBadCriteriaKeys:
    @pytest.mark.parametrize(("text", "key", "fragment"), BAD, ids=[b[1].rstrip(": ") for b in BAD])
    def test_one_line_naming_the_key(self, tmp_path: Path, text: str, key: str, fragment: str) -> None:
        """Each bad value is one ConfigError line: the file, the dotted key, what is wrong."""
        (tmp_path / "loadlens.toml").write_text(text)
        with pytest.raises(ConfigError) as caught:
            load_config(None, env={}, cwd=tmp_path)
        assert_one_line(str(caught.value), fragment, start="loadlens.toml: " + key)

    @pytest.mark.parametrize(("text", "key", "fragment"), BAD, ids=[b[1].rstrip(": ") for b in BAD])
    def test_the_command_exits_2_with_that_line(
        self, tmp_path: Path, text: str, key: str, fragment: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`loadlens scenarios --loadlens-config FILE` (any command reading the config) exits 2, one line."""
        path = tmp_path / "bad.toml"
        path.write_text(text)
        code = main(["scenarios", "--loadlens-config", str(path)])
        assert_one_line_exit_2(
            Exited(code, capsys.readouterr().err), fragment, start=f"loadlens: {path}: {key}"
        )

    def test_the_variable_sets_a_list_and_a_duration(self, tmp_path: Path) -> None:
        """LOADLENS_THRESHOLDS_REQUIRE_STATUSES and _ABORT_AFTER work like the file's keys."""
        env = {"LOADLENS_THRESHOLDS_REQUIRE_STATUSES": "[429]", "LOADLENS_THRESHOLDS_ABORT_AFTER": "30s"}
        cfg = load_config(None, env=env, cwd=tmp_path)
        assert cfg.thresholds.default.require_statuses == frozenset({429})
        assert cfg.thresholds.default.abort_after_s == 30
        with pytest.raises(ConfigError, match=r"^LOADLENS_THRESHOLDS_ABORT_AFTER: expected a duration > 0"):
            load_config(None, env={"LOADLENS_THRESHOLDS_ABORT_AFTER": "never"}, cwd=tmp_path)
