"""How each configuration value is checked: markers put in ``Annotated[...]`` on the fields of the
config dataclasses (runner.config.types), which pydantic turns into its own validators.

pydantic walks the whole document, collects every error with its place and builds the frozen
dataclasses. A marker picks pydantic's native check (strict float, int, bool, str, literal) or a
small function for what pydantic has no type for (durations, CloudWatch periods, URLs), and words
the problem the way loadlens always has: ``expected a number > 0, got "fast"``. pydantic is
imported inside ``__get_pydantic_core_schema__``: importing the types (as `loadlens run --help`
does) does not pay for it, only loading a config does.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from runner.timefmt import DURATION_EXAMPLES, parse_duration_s

ERROR_TYPE = "loadlens"  # the pydantic error type of every problem worded here
_USERINFO = re.compile(r"^([^/@]*//)?[^/@]*@")


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
    text = json.dumps(value, default=str, ensure_ascii=False).replace("\n", "\\n")
    return text if len(text) <= 60 else text[:57] + "..."


def problem_text(expected: str, value: object) -> str:
    """``expected a number > 0, got "fast"``; a URL's user:password is never printed."""
    if isinstance(value, str) and "@" in value:
        value = _USERINFO.sub(r"\1***@", value)
    return f"expected {expected}, got {show(value)}"


def _problem(text: str) -> Exception:
    from pydantic_core import PydanticCustomError

    return PydanticCustomError(ERROR_TYPE, "{text}", {"text": text})


class Rule:
    """One key's check. ``native``: a pydantic-core schema name and its constraints (run first,
    strictly); ``convert``: a function run after it (or alone) that raises ValueError.
    ``textual``: a LOADLENS_* value is taken verbatim (LOADLENS_GRAFANA_DASHBOARD_UID=123 stays
    "123"). ``env``: a variable may set the key (tables may not)."""

    def __init__(
        self,
        expected: str,
        *,
        native: tuple[str, Mapping[str, object]] | None = None,
        convert: Callable[[Any], object] | None = None,
        textual: bool = False,
        env: bool = True,
    ) -> None:
        self.expected, self.native, self.textual, self.env = expected, native, textual, env
        self._convert = convert

    def check(self, value: object) -> object:
        """The value checked without pydantic (a rule with no native schema, e.g. ``url()``);
        ValueError with the usual wording."""
        try:
            return self._convert(value) if self._convert else value
        except ValueError:
            raise ValueError(problem_text(self.expected, value)) from None

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        from pydantic_core import ValidationError, core_schema

        convert = self._convert or (lambda value: value)
        if self.native is None:

            def plain(value: object) -> object:
                try:
                    return convert(value)
                except ValueError:
                    raise _problem(problem_text(self.expected, value)) from None

            return core_schema.no_info_plain_validator_function(plain)

        name, constraints = self.native
        inner = getattr(core_schema, f"{name}_schema")(**constraints)

        def wrap(value: object, validate: Callable[[object], object]) -> object:
            try:
                return convert(validate(value))
            except (ValidationError, ValueError):
                raise _problem(problem_text(self.expected, value)) from None

        return core_schema.no_info_wrap_validator_function(wrap, inner)


def _bounds(what: str, gt: float | None, ge: float | None, le: float | None) -> str:
    if ge is not None and le is not None:
        return f"{what} from {ge:g} to {le:g}"
    if gt is not None:
        return f"{what} > {gt:g}" + (f" and <= {le:g}" if le is not None else "")
    return f"{what} >= {ge:g}" if ge is not None else what


def number(*, gt: float | None = None, ge: float | None = None, le: float | None = None) -> Rule:
    """A finite int or float (not a boolean) within the bounds; held as float."""
    bounds = {"gt": gt, "ge": ge, "le": le, "allow_inf_nan": False, "strict": True}
    return Rule(_bounds("a number", gt, ge, le), native=("float", bounds))


def integer(*, ge: int | None = None, le: int | None = None, expected: str | None = None) -> Rule:
    """An integer within the bounds (1.0 is not an integer: TOML says what it means)."""
    return Rule(
        expected or _bounds("an integer", None, ge, le), native=("int", {"ge": ge, "le": le, "strict": True})
    )


def boolean() -> Rule:
    """true or false (not 0/1, not "yes")."""
    return Rule("true or false", native=("bool", {"strict": True}))


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("blank")
    return value


def text(*, allow_empty: bool = False, expected: str | None = None) -> Rule:
    """A string; non-blank unless ``allow_empty``."""
    what = expected or ("a string" if allow_empty else "a non-empty string")
    return Rule(
        what, native=("str", {"strict": True}), convert=None if allow_empty else _not_blank, textual=True
    )


def path() -> Rule:
    """A non-empty string naming a file or directory; held as a Path."""
    return Rule(
        "a non-empty string",
        native=("str", {"strict": True}),
        convert=lambda v: Path(_not_blank(v)),
        textual=True,
    )


def _url(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("not text")
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an http(s) URL")
    return value.strip()


def url() -> Rule:
    """An http:// or https:// URL with a host, kept as written (without surrounding blanks)."""
    return Rule("an http:// or https:// URL", convert=_url, textual=True)


def choice(*options: str) -> Rule:
    """One of a few fixed strings."""
    expected = "one of " + ", ".join(f'"{o}"' for o in options)
    return Rule(expected, native=("literal", {"expected": list(options)}), textual=True)


def _seconds(value: object, *, positive: bool) -> float:
    if not isinstance(value, str | int | float):
        raise ValueError("not a duration")
    seconds = parse_duration_s(value)
    if positive and seconds <= 0:
        raise ValueError("not positive")
    return seconds


def duration(*, positive: bool) -> Rule:
    """A duration as Locust's --run-time writes it, or a number of seconds; held as seconds.
    A duration field is named ``<key>_s``: the TOML key is the field name without ``_s``."""
    expected = f"a duration{' > 0' if positive else ''} such as {DURATION_EXAMPLES}"
    return Rule(expected, convert=lambda value: _seconds(value, positive=positive))


def _regex(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("not text")
    try:
        re.compile(value)
    except re.error:
        raise ValueError("not a regular expression") from None
    return value


def pattern() -> Rule:
    """A regular expression (Python syntax) that compiles."""
    return Rule('a regular expression such as "^POST /api/auth/"', convert=_regex, textual=True)


def is_cloudwatch_period(seconds: float) -> bool:
    """1, 5, 10 or 30 seconds (high-resolution metrics) or a multiple of 60."""
    return seconds in (1, 5, 10, 30) or (seconds >= 60 and seconds % 60 == 0)


def _period(value: object) -> float:
    seconds = _seconds(value, positive=True)
    if not is_cloudwatch_period(seconds):
        raise ValueError("not a CloudWatch period")
    return seconds


def cloudwatch_period() -> Rule:
    """A CloudWatch period, written like a duration."""
    return Rule("a period of 1s, 5s, 10s, 30s or a multiple of 60s", convert=_period)


class Container:
    """A list or table: its own shape is checked before pydantic checks the items (each with its
    own marker), so the message for a wrong shape names what was expected."""

    textual = False

    def __init__(self, expected: str, kinds: tuple[type, ...], *, non_empty: bool, env: bool) -> None:
        self.expected, self.kinds, self.non_empty, self.env = expected, kinds, non_empty, env

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        from pydantic_core import core_schema

        def shape(value: object) -> object:
            if not isinstance(value, self.kinds) or (self.non_empty and not value):
                raise _problem(problem_text(self.expected, value))
            return value

        schema = core_schema.no_info_before_validator_function(shape, handler(source))
        if dict in self.kinds:  # a table is held read-only
            return core_schema.no_info_after_validator_function(lambda v: MappingProxyType(dict(v)), schema)
        return schema


def list_of(expected: str, *, non_empty: bool = False) -> Container:
    """A list (held as a tuple or frozenset, per the field's type)."""
    return Container(expected, (list, tuple, frozenset), non_empty=non_empty, env=True)


def table_of(expected: str) -> Container:
    """A table of names to values; LOADLENS_* variables cannot set it."""
    return Container(expected, (dict, MappingProxyType), non_empty=False, env=False)


class Named:
    """A table's key that must match a pattern (an endpoint "METHOD name", a scenario name)."""

    def __init__(self, pattern: str, problem: str) -> None:
        self.pattern, self.problem = re.compile(pattern), problem

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        from pydantic_core import core_schema

        def check(value: object) -> object:
            if not isinstance(value, str) or not self.pattern.fullmatch(value):
                raise _problem(self.problem)
            return value

        return core_schema.no_info_plain_validator_function(check)


class Flat:
    """On a field holding a dataclass: its keys are written in the enclosing TOML table itself
    ([thresholds] p95_ms is ``Thresholds.default.p95_ms``)."""


class Derived:
    """On a field that is no key of its table: runner.config.load sets it from another table
    (the process's own limits and the WARN band in the server criteria)."""
