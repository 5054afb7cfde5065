"""The test helpers themselves: the `loadlens run` command-line builder and the one polling loop."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tests.support.cli import BASIC, LoadlensRun
from tests.support.wait import wait_until


class TestWaitUntil:
    def test_returns_the_first_truthy_value(self) -> None:
        """Polling stops at the first truthy answer and hands it back."""
        answers = iter([None, [], ["ready"], ["later"]])
        assert wait_until(lambda: next(answers), 5, what="an answer", interval_s=0) == ["ready"]

    def test_timeout_names_what_was_awaited_and_the_last_value(self) -> None:
        """A timeout fails with what was awaited and the last value seen, after a bounded number of polls."""
        calls = itertools.count()
        with pytest.raises(AssertionError, match=r"not reached in 0\.05s: the scrape \(last: 0\)"):
            wait_until(lambda: next(calls) * 0, 0.05, what="the scrape", interval_s=0.01)

    def test_a_callable_what_describes_the_state_at_the_timeout(self) -> None:
        """``what`` can be asked at the end, so the message shows what the last poll saw."""
        seen: list[int] = []
        with pytest.raises(AssertionError, match=r"wanted 3, got \[1, 1\]"):
            wait_until(
                lambda: seen.append(1) and False,
                0.02,
                what=lambda: f"wanted 3, got {seen[:2]}",
                interval_s=0.01,
            )


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
