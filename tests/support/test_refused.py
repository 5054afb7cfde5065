"""The shared check of refused input (tests/support/refused.py) fails on every way of breaking the
rule "one line, exit 2, no traceback", and passes the one line it is given back."""

from __future__ import annotations

import pytest

from tests.support.refused import Exited, assert_one_line, assert_one_line_exit_2

LINE = "loadlens: loadlens.toml: run.users: expected an integer >= 1, got 0\n"


class TestOneLineExit2:
    def test_one_line_and_exit_2_passes_and_gives_the_line(self) -> None:
        """The line comes back without its newline, for further assertions."""
        got = assert_one_line_exit_2(Exited(2, LINE), "run.users: ", "got 0")
        assert got == LINE.rstrip("\n")

    @pytest.mark.parametrize(
        ("code", "stderr", "needles"),
        [
            (1, LINE, ()),  # wrong exit code
            (2, LINE + "second line\n", ()),  # two lines
            (2, "\n" + LINE, ()),  # a blank line first is a second line
            (2, "Traceback (most recent call last): x\n", ()),
            (2, "boom: " + LINE, ()),  # not the loadlens prefix
            (2, LINE, ("run.workers",)),  # a needle missing
            (2, "", ()),  # nothing said
        ],
        ids=["exit-1", "two-lines", "blank-first", "traceback", "prefix", "needle", "empty"],
    )
    def test_each_breach_of_the_rule_fails(self, code: int, stderr: str, needles: tuple[str, ...]) -> None:
        with pytest.raises(AssertionError):
            assert_one_line_exit_2(Exited(code, stderr), *needles)


class TestOneLine:
    def test_a_message_with_a_newline_fails(self) -> None:
        """An error message of two lines is refused even when both carry the needles."""
        with pytest.raises(AssertionError):
            assert_one_line("a.toml: x: bad\nmore", "x: ", start="a.toml: ")

    def test_the_start_is_checked(self) -> None:
        assert assert_one_line("a.toml: x: bad", "bad", start="a.toml: x: ") == "a.toml: x: bad"
        with pytest.raises(AssertionError):
            assert_one_line("b.toml: x: bad", start="a.toml: ")
