"""The one shape of refused input, checked in one place: a single line that names what is wrong,
and from the command exit code 2 with no traceback (the house rule for bad input).

``assert_one_line`` checks an error's message (a ``ConfigError`` before any command runs);
``assert_one_line_exit_2`` checks a finished command, a subprocess or ``runner.cli.main`` called
in-process (wrap its code and captured stderr in ``Exited``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Finished(Protocol):
    """What a finished command shows: subprocess.CompletedProcess, tests.support.cli.Finished."""

    @property
    def returncode(self) -> int: ...

    @property
    def stderr(self) -> str: ...


@dataclass(frozen=True)
class Exited:
    """``runner.cli.main`` run in-process: its return value and the stderr captured by capsys."""

    returncode: int
    stderr: str


def assert_one_line(message: str, *needles: str, start: str = "") -> str:
    """``message`` is one line that starts with ``start`` and contains every needle; returns it."""
    assert message.strip() and "\n" not in message.rstrip("\n"), message
    assert message.startswith(start), message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message.rstrip("\n")


def assert_one_line_exit_2(result: Finished, *needles: str, start: str = "loadlens: ") -> str:
    """The command exited 2 and its stderr is one line (``start`` then every needle), no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") <= 1, result.stderr
    return assert_one_line(result.stderr, *needles, start=start)
