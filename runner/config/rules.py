"""How each configuration value is checked: small markers put in ``Annotated[...]`` on the fields
of the config dataclasses (runner.config.types), which pydantic turns into its own validators.

pydantic walks the whole document, collects every error with its location and builds the frozen
dataclasses; a marker only picks pydantic's native check (strict int, float, bool, str, lists,
tables) or a small function for what pydantic has no type for (durations, CloudWatch periods,
URLs), and words the problem the way loadlens always has ("expected a number > 0, got "fast"").
pydantic is imported inside ``__get_pydantic_core_schema__``, so importing the config types (as
``loadlens run --help`` does through the CLI) does not pay for it; only loading a config does.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from runner.timefmt import DURATION_EXAMPLES, parse_duration_s

ERROR_TYPE = "loadlens"  # the pydantic error type of every problem a marker words itself


def show(value: object) -> str:
    """A value as a user wrote it, short enough for a one-line message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, dt.date | dt.time):
        return f"a date/time ({value.isoformat()})"
    text = json.dumps(value, default=str, ensure_ascii=False)
    text = text.replace("\n", "\\n")
    return text if len(text) <= 60 else text[:57] + "..."


_USERINFO = re.compile(r"^([^/@]*//)?[^/@]*@")


def problem_text(expected: str, value: object) -> str:
    """``expected a number > 0, got "fast"``."""
    if isinstance(value, str) and "@" in value:
        value = _USERINFO.sub(r"\1***@", value)  # a URL's user:password must never be printed
    return f"expected {expected}, got {show(value)}"


def _problem(expected: str, value: object) -> Exception:
    from pydantic_core import PydanticCustomError

    return PydanticCustomError(ERROR_TYPE, "{text}", {"text": problem_text(expected, value)})


class Rule:
    """A marker: ``expected`` words the accepted values; ``textual`` says a LOADLENS_* value is
    taken verbatim (LOADLENS_GRAFANA_DASHBOARD_UID=123 stays the text "123"); ``env`` says whether
    a variable may set the key at all (tables may not)."""

    expected: str = "a value"
    textual: bool = False
    env: bool = True

    def core(self) -> Any:
        """pydantic's native schema for the check; None: ``convert`` does it all."""
        return None

    def convert(self, value: object) -> object:
        return value

    def check(self, value: object) -> object:
        """The value checked without pydantic, for the few checks outside a config (a rule with
        no native schema); ValueError with the usual wording."""
        try:
            return self.convert(value)
        except ValueError:
            raise ValueError(problem_text(self.expected, value)) from None

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        from pydantic_core import ValidationError, core_schema

        inner = self.core()
        if inner is None:

            def plain(value: object) -> object:
                try:
                    return self.convert(value)
                except ValueError:
                    raise _problem(self.expected, value) from None

            return core_schema.no_info_plain_validator_function(plain)

        def wrap(value: object, validate: Callable[[object], object]) -> object:
            try:
                return self.convert(validate(value))
            except (ValidationError, ValueError):
                raise _problem(self.expected, value) from None

        return core_schema.no_info_wrap_validator_function(wrap, inner)


def _bounds(lo: str, hi: str, gt: float | None, ge: float | None, le: float | None) -> str:
    if ge is not None and le is not None:
        return f"{lo} from {ge:g} to {le:g}"
    if gt is not None and le is not None:
        return f"{lo} > {gt:g} and <= {le:g}"
    if gt is not None:
        return f"{lo} > {gt:g}"
    if ge is not None:
        return f"{lo} >= {ge:g}"
    return hi


class Number(Rule):
    """A finite int or float (not a boolean) within the bounds; held as float."""

    def __init__(self, *, gt: float | None = None, ge: float | None = None, le: float | None = None) -> None:
        self.gt, self.ge, self.le = gt, ge, le
        self.expected = _bounds("a number", "a number", gt, ge, le)

    def core(self) -> Any:
        from pydantic_core import core_schema

        return core_schema.float_schema(gt=self.gt, ge=self.ge, le=self.le, allow_inf_nan=False, strict=True)


class Integer(Rule):
    """An integer within the bounds (1.0 is not an integer: TOML says what it means)."""

    def __init__(self, *, ge: int | None = None, le: int | None = None, expected: str | None = None) -> None:
        self.ge, self.le = ge, le
        self.expected = expected or _bounds("an integer", "an integer", None, ge, le)

    def core(self) -> Any:
        from pydantic_core import core_schema

        return core_schema.int_schema(ge=self.ge, le=self.le, strict=True)


class Boolean(Rule):
    """true or false (not 0/1, not "yes")."""

    expected = "true or false"

    def core(self) -> Any:
        from pydantic_core import core_schema

        return core_schema.bool_schema(strict=True)


class Text(Rule):
    """A string; non-blank unless ``allow_empty``. ``as_path`` holds it as a Path."""

    textual = True

    def __init__(
        self, *, allow_empty: bool = False, expected: str | None = None, as_path: bool = False
    ) -> None:
        self.allow_empty, self.as_path = allow_empty, as_path
        self.expected = expected or ("a string" if allow_empty else "a non-empty string")

    def core(self) -> Any:
        from pydantic_core import core_schema

        return core_schema.str_schema(strict=True)

    def convert(self, value: object) -> object:
        if not self.allow_empty and not str(value).strip():
            raise ValueError("blank")
        return Path(str(value)) if self.as_path else value


class Url(Rule):
    """An http:// or https:// URL with a host, kept as written (without surrounding blanks)."""

    expected = "an http:// or https:// URL"
    textual = True

    def convert(self, value: object) -> object:
        if not isinstance(value, str):
            raise ValueError("not text")
        parts = urllib.parse.urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("not an http(s) URL")
        return value.strip()


class Choice(Rule):
    """One of a few fixed strings."""

    textual = True

    def __init__(self, *options: str) -> None:
        self.options = options
        self.expected = "one of " + ", ".join(f'"{o}"' for o in options)

    def convert(self, value: object) -> object:
        if value not in self.options:
            raise ValueError("not a choice")
        return value


class Duration(Rule):
    """A duration as Locust's --run-time writes it, or a number of seconds; held as seconds.

    A duration field is named ``<key>_s``: the TOML key is the field name without ``_s``."""

    def __init__(self, *, positive: bool) -> None:
        self.positive = positive
        self.expected = f"a duration{' > 0' if positive else ''} such as {DURATION_EXAMPLES}"

    def convert(self, value: object) -> object:
        if not isinstance(value, str | int | float):
            raise ValueError("not a duration")
        seconds = parse_duration_s(value)
        if self.positive and seconds <= 0:
            raise ValueError("not positive")
        return seconds


HIGH_RESOLUTION_PERIODS_S = frozenset({1, 5, 10, 30})


def is_cloudwatch_period(seconds: float) -> bool:
    """1, 5, 10 or 30 seconds (high-resolution metrics) or a multiple of 60."""
    return seconds in HIGH_RESOLUTION_PERIODS_S or (seconds >= 60 and seconds % 60 == 0)


class CloudWatchPeriod(Duration):
    """A CloudWatch period, written like a duration."""

    def __init__(self) -> None:
        super().__init__(positive=True)
        self.expected = "a period of 1s, 5s, 10s, 30s or a multiple of 60s"

    def convert(self, value: object) -> object:
        seconds = super().convert(value)
        if not is_cloudwatch_period(seconds):  # type: ignore[arg-type]
            raise ValueError("not a CloudWatch period")
        return seconds


class ListOf(Rule):
    """The container check of a list (its items carry their own marker); held as a tuple, or a
    frozenset with ``unique``."""

    def __init__(self, expected: str, *, non_empty: bool = False) -> None:
        self.expected, self.non_empty = expected, non_empty

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        from pydantic_core import core_schema

        def is_list(value: object) -> object:
            if not isinstance(value, list | tuple | frozenset) or (self.non_empty and not value):
                raise _problem(self.expected, value)
            return value

        return core_schema.no_info_before_validator_function(is_list, handler(source))


class TableOf(Rule):
    """The container check of a table of names to values; held read-only."""

    env = False

    def __init__(self, expected: str) -> None:
        self.expected = expected

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        from pydantic_core import core_schema

        def is_table(value: object) -> object:
            if not isinstance(value, dict | MappingProxyType):
                raise _problem(self.expected, value)
            return value

        def freeze(value: Any) -> object:
            return MappingProxyType(dict(value))

        return core_schema.no_info_after_validator_function(
            freeze, core_schema.no_info_before_validator_function(is_table, handler(source))
        )


class Named(Rule):
    """A table's key that must match a pattern (an endpoint "METHOD name", a scenario name)."""

    def __init__(self, pattern: str, problem: str) -> None:
        self.pattern = re.compile(pattern)
        self.problem = problem

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        from pydantic_core import PydanticCustomError, core_schema

        def check(value: object) -> object:
            if not isinstance(value, str) or not self.pattern.fullmatch(value):
                raise PydanticCustomError(ERROR_TYPE, "{text}", {"text": self.problem})
            return value

        return core_schema.no_info_plain_validator_function(check)


class Flat:
    """On a field holding a dataclass: its keys are written in the enclosing TOML table itself
    ([thresholds] p95_ms is ``Thresholds.default.p95_ms``)."""


class Derived:
    """On a field that is no key of its table: runner.config.load sets it from another table
    (the process's own limits and the WARN band in the server criteria)."""
