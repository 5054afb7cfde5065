"""The keys of recovery, application logs and alarms ([recovery], [cloudwatch] log_group ...
max_alarms, a stage's recovery): a bad value exits 2 with one line naming the key, no traceback,
before any load is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.refused import assert_one_line_exit_2
from tests.support.runs import LOCUSTFILES, loadlens_cmd, run

BASIC = str(LOCUSTFILES / "basic.py")
SPIKY = '[scenarios.s]\nstages = [{duration = "1s", users = 1, spawn_rate = 1, recovery = %s}]\n'

# (key, loadlens.toml text, text the one line must contain)
CASES = [
    ("log_group", '[cloudwatch]\nlog_group = ""\n', "cloudwatch.log_group: expected a non-empty string"),
    (
        "error_pattern",
        "[cloudwatch]\nerror_pattern = 5\n",
        "cloudwatch.error_pattern: expected a non-empty string",
    ),
    (
        "max_log_errors",
        "[cloudwatch]\nmax_log_errors = -1\n",
        "cloudwatch.max_log_errors: expected an integer >= 0",
    ),
    (
        "max_log_events",
        "[cloudwatch]\nmax_log_events = 0\n",
        "cloudwatch.max_log_events: expected an integer >= 1",
    ),
    ("alarms", '[cloudwatch]\nalarms = "yes"\n', "cloudwatch.alarms: expected true or false"),
    (
        "alarm_prefix",
        "[cloudwatch]\nalarm_prefix = 1\n",
        "cloudwatch.alarm_prefix: expected a non-empty string",
    ),
    ("max_alarms", "[cloudwatch]\nmax_alarms = 0.5\n", "cloudwatch.max_alarms: expected an integer >= 0"),
    ("enabled", "[recovery]\nenabled = 1\n", "recovery.enabled: expected true or false"),
    (
        "recover_within",
        '[recovery]\nrecover_within = "soon"\n',
        "recovery.recover_within: expected a duration > 0",
    ),
    ("p95_tolerance", "[recovery]\np95_tolerance = -0.1\n", "recovery.p95_tolerance: expected a number"),
    (
        "error_rate_tolerance",
        "[recovery]\nerror_rate_tolerance = 2\n",
        "recovery.error_rate_tolerance: expected",
    ),
    (
        "expect_scale_out",
        '[recovery]\nexpect_scale_out = "yes"\n',
        "recovery.expect_scale_out: expected true or false",
    ),
    ("stage-recovery-type", SPIKY % '"yes"', "scenarios.s.stages[0].recovery: expected true or false"),
    (
        "stage-recovery-first",
        SPIKY % "true",
        "scenarios.s.stages[0].recovery: a stage with recovery = true needs",
    ),
]


@pytest.mark.parametrize(("key", "toml", "needle"), CASES, ids=[c[0] for c in CASES])
def test_one_line_and_exit_2(tmp_path: Path, key: str, toml: str, needle: str) -> None:
    """A bad value of the key exits 2 with one line naming the file, the key and the problem."""
    (tmp_path / "loadlens.toml").write_text(toml)
    base = ["run", "-f", BASIC, "-H", "http://127.0.0.1:9", "--headless", "-t", "1s"]
    proc = run(loadlens_cmd(*base), cwd=tmp_path, timeout_s=60)
    assert_one_line_exit_2(proc, needle)
    assert not (tmp_path / "results").exists()
