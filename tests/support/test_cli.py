"""The `loadlens run` command-line builder the end-to-end tests share (tests/support/cli.py)."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import BASIC, LoadlensRun


class TestLoadlensRun:
    def test_command_line_has_what_a_test_said_and_nothing_else(self, tmp_path: Path) -> None:
        """The builder spells locustfile, host, users, spawn rate, run time, config and out dir once;
        None leaves an option out, and extra flags come last."""
        run = LoadlensRun(tmp_path, "http://127.0.0.1:1", config="[thresholds]\n", only_summary=True)
        argv = run.but("--expect-status", "429", users=3).argv()
        assert argv[argv.index("run") :] == [
            "run", "-f", str(BASIC), "-H", "http://127.0.0.1:1", "--headless", "-u", "3", "-r", "20",
            "-t", "4s", "--only-summary", "--loadlens-config", str(tmp_path / "loadlens.toml"),
            "--out", str(tmp_path / "out"), "--expect-status", "429",
        ]  # fmt: skip
        bare = LoadlensRun(tmp_path, None, users=None, spawn_rate=None, run_time=None, headless=False).argv()
        assert bare[bare.index("run") :] == ["run", "-f", str(BASIC), "--out", str(tmp_path / "out")]
