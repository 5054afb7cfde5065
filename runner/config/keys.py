"""The keys loadlens.toml and LOADLENS_* variables accept, and how each value is checked.

A ``Rule`` turns a raw TOML (or environment) value into the typed value the config holds, or raises
``RuleError`` with the end of a one-line message ("expected a number > 0, got "fast""); runner.config.load
puts the file and dotted key (or the variable's name) in front. Defaults live on the dataclasses in
runner.config.load, not here.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from runner.config.scenarios import DURATION_EXAMPLES, parse_duration_s


class RuleError(ValueError):
    """A value failed its rule. ``at`` is a sub-path inside the value (``[2]``, ``."name"``)."""

    def __init__(self, message: str, *, at: str = "") -> None:
        super().__init__(message)
        self.at = at


@dataclass(frozen=True, slots=True)
class Rule:
    """How one key's value is checked and converted."""

    convert: Callable[[object], object]
    # Environment values for textual keys are taken verbatim, so LOADLENS_GRAFANA_DASHBOARD_UID=123
    # stays the string "123" instead of becoming an integer that then fails the check.
    textual: bool = False


@dataclass(frozen=True, slots=True)
class Key:
    """One key of a section: its rule, the dataclass attribute it fills, and whether LOADLENS_*
    may set it (tables such as ``headers`` may not)."""

    rule: Rule
    attr: str
    env: bool = True


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


def _fail(expected: str, value: object) -> RuleError:
    return RuleError(f"expected {expected}, got {show(value)}")


def _is_number(value: object) -> bool:
    # TOML booleans arrive as Python bools, which are ints: they are not numbers here.
    return isinstance(value, int | float) and not isinstance(value, bool)


def number(*, gt: float | None = None, ge: float | None = None, le: float | None = None) -> Rule:
    """A finite int or float within the bounds; returned as float."""
    if ge is not None and le is not None:
        expected = f"a number from {ge:g} to {le:g}"
    elif gt is not None and le is not None:
        expected = f"a number > {gt:g} and <= {le:g}"
    elif gt is not None:
        expected = f"a number > {gt:g}"
    elif ge is not None:
        expected = f"a number >= {ge:g}"
    else:
        expected = "a number"

    def convert(value: object) -> float:
        if not _is_number(value) or not math.isfinite(value):  # type: ignore[arg-type]
            raise _fail(expected, value)
        x = float(value)  # type: ignore[arg-type]
        if (gt is not None and not x > gt) or (ge is not None and x < ge) or (le is not None and x > le):
            raise _fail(expected, value)
        return x

    return Rule(convert)


def integer(*, ge: int | None = None, le: int | None = None) -> Rule:
    """An integer within the bounds (1.0 is not an integer: TOML says what it means)."""
    if ge is not None and le is not None:
        expected = f"an integer from {ge} to {le}"
    elif ge is not None:
        expected = f"an integer >= {ge}"
    else:
        expected = "an integer"

    def convert(value: object) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _fail(expected, value)
        if (ge is not None and value < ge) or (le is not None and value > le):
            raise _fail(expected, value)
        return value

    return Rule(convert)


def duration(*, positive: bool) -> Rule:
    """A duration as Locust's --run-time writes it, or a number of seconds; returned as seconds."""
    expected = f"a duration{' > 0' if positive else ''} such as {DURATION_EXAMPLES}"

    def convert(value: object) -> float:
        if not isinstance(value, str | int | float):
            raise _fail(expected, value)
        try:
            seconds = parse_duration_s(value)
        except ValueError:
            raise _fail(expected, value) from None
        if positive and seconds <= 0:
            raise _fail(expected, value)
        return seconds

    return Rule(convert)


def cloudwatch_period() -> Rule:
    """A CloudWatch period: 1, 5, 10 or 30 seconds (high-resolution metrics) or a multiple of 60."""
    expected = "a period of 1s, 5s, 10s, 30s or a multiple of 60s"

    def convert(value: object) -> float:
        if not isinstance(value, str | int | float):
            raise _fail(expected, value)
        try:
            seconds = parse_duration_s(value)
        except ValueError:
            raise _fail(expected, value) from None
        if seconds not in (1, 5, 10, 30) and (seconds <= 0 or seconds % 60 != 0):
            raise _fail(expected, value)
        return seconds

    return Rule(convert)


def boolean() -> Rule:
    """true or false (not 0/1, not "yes")."""

    def convert(value: object) -> bool:
        if not isinstance(value, bool):
            raise _fail("true or false", value)
        return value

    return Rule(convert)


def text(*, allow_empty: bool = False) -> Rule:
    """A string; non-blank unless ``allow_empty``."""
    expected = "a string" if allow_empty else "a non-empty string"

    def convert(value: object) -> str:
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise _fail(expected, value)
        return value

    return Rule(convert, textual=True)


def path() -> Rule:
    """A non-empty string naming a file or directory; returned as a Path."""
    inner = text().convert
    return Rule(lambda value: Path(inner(value)), textual=True)  # type: ignore[arg-type]


_USERINFO = re.compile(r"^([^/@]*//)?[^/@]*@")


def url() -> Rule:
    """An http:// or https:// URL with a host."""
    expected = "an http:// or https:// URL"

    def convert(value: object) -> str:
        if not isinstance(value, str):
            raise _fail(expected, value)
        parts = urllib.parse.urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            # A URL may carry user:password@; the message must not print it.
            raise _fail(expected, _USERINFO.sub(r"\1***@", value))
        return value.strip()

    return Rule(convert, textual=True)


def choice(*options: str) -> Rule:
    """One of a few fixed strings."""
    expected = "one of " + ", ".join(f'"{o}"' for o in options)

    def convert(value: object) -> str:
        if value not in options:
            raise _fail(expected, value)
        return value

    return Rule(convert, textual=True)


def string_list() -> Rule:
    """A list of non-empty strings; returned as a tuple."""

    def convert(value: object) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise _fail("a list of strings", value)
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise RuleError(f"expected a non-empty string, got {show(item)}", at=f"[{i}]")
        return tuple(value)

    return Rule(convert)


def status_list() -> Rule:
    """A list of HTTP status codes (integers 100..599); returned as a frozenset."""

    def convert(value: object) -> frozenset[int]:
        if not isinstance(value, list):
            raise _fail("a list of HTTP status codes", value)
        for i, item in enumerate(value):
            if not isinstance(item, int) or isinstance(item, bool) or not 100 <= item <= 599:
                raise RuleError(
                    f"expected an HTTP status code from 100 to 599, got {show(item)}", at=f"[{i}]"
                )
        return frozenset(value)

    return Rule(convert)


def string_table(*, what: str) -> Rule:
    """A table of string -> non-empty string (``what`` names the values, e.g. "a PromQL query")."""

    def convert(value: object) -> Mapping[str, str]:
        if not isinstance(value, dict):
            raise _fail(f"a table of names to {what}s", value)
        for name, item in value.items():
            if not isinstance(item, str) or not item.strip():
                raise RuleError(f"expected {what}, got {show(item)}", at="." + dotted_part(name))
        return MappingProxyType(dict(value))

    return Rule(convert)


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def dotted_part(key: str) -> str:
    """A key as TOML would write it in a dotted path: bare when it can be, else quoted."""
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def dotted(*parts: str | int) -> str:
    """``thresholds``, ``endpoints``, ``GET /health`` -> ``thresholds.endpoints."GET /health"``;
    integers are list indexes: ``stages[2]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + dotted_part(part)
    return out


def _frozen(sections: dict[str, dict[str, Key]]) -> Mapping[str, Mapping[str, Key]]:
    return MappingProxyType({name: MappingProxyType(keys) for name, keys in sections.items()})


SCENARIO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# "METHOD name" as Locust reports an endpoint: an upper-case request type, one space, the name.
ENDPOINT_KEY = re.compile(r"[A-Z][A-Z0-9_]* \S.*")

_PERCENT = number(gt=0, le=100)
_RATIO = number(ge=0, le=1)
_MS = number(gt=0)

LIMIT_KEYS: Mapping[str, Key] = MappingProxyType(
    {
        "p50_ms": Key(_MS, "p50_ms"),
        "p95_ms": Key(_MS, "p95_ms"),
        "p99_ms": Key(_MS, "p99_ms"),
        "error_rate": Key(_RATIO, "error_rate"),
        "success_rate": Key(_RATIO, "success_rate"),
        "min_rps": Key(number(ge=0), "min_rps"),
        "min_samples": Key(integer(ge=1), "min_samples"),
    }
)

# Section id -> its keys. Ids with a dot are sub-tables ([exporters.prometheus]); the environment
# variable prefix is the id upper-cased with "_" for ".": LOADLENS_EXPORTERS_PROMETHEUS_PORT.
SECTIONS: Mapping[str, Mapping[str, Key]] = _frozen(
    {
        "run": {
            "locustfile": Key(text(), "locustfile"),
            "host": Key(text(), "host"),
            "scenario": Key(text(), "scenario"),
            "out": Key(path(), "out"),
            "warmup": Key(duration(positive=False), "warmup_s"),
            "cooldown": Key(duration(positive=False), "cooldown_s"),
            "max_endpoints": Key(integer(ge=1), "max_endpoints"),
            "interval": Key(duration(positive=True), "interval_s"),
            "progress": Key(duration(positive=False), "progress_s"),
        },
        "thresholds": {
            **LIMIT_KEYS,
            "expected_statuses": Key(status_list(), "expected_statuses"),
            "warn_ratio": Key(number(gt=0, le=1), "warn_ratio"),
            "per_endpoint": Key(boolean(), "per_endpoint"),
            "include_expected": Key(boolean(), "include_expected"),
        },
        "server": {
            "cpu_percent": Key(_PERCENT, "cpu_percent"),
            "memory_percent": Key(_PERCENT, "memory_percent"),
            "rds_cpu_percent": Key(_PERCENT, "rds_cpu_percent"),
            "rds_connections": Key(number(gt=0), "rds_connections"),
            "alb_5xx": Key(number(ge=0), "alb_5xx"),
            "leak_warn_percent_per_hour": Key(number(gt=0), "leak_warn_percent_per_hour"),
            "leak_fail_percent_per_hour": Key(number(gt=0), "leak_fail_percent_per_hour"),
            "leak_min_duration": Key(duration(positive=True), "leak_min_duration_s"),
            "abort_cpu_percent": Key(_PERCENT, "abort_cpu_percent"),
            "abort_memory_percent": Key(_PERCENT, "abort_memory_percent"),
            "abort_periods": Key(integer(ge=1), "abort_periods"),
        },
        "cloudwatch": {
            "region": Key(text(), "region"),
            "profile": Key(text(), "profile"),
            "ecs_cluster": Key(text(), "ecs_cluster"),
            "ecs_service": Key(text(), "ecs_service"),
            "rds_instance": Key(text(), "rds_instance"),
            "rds_cluster": Key(text(), "rds_cluster"),
            "load_balancer": Key(text(), "load_balancer"),
            "target_groups": Key(string_list(), "target_groups"),
            "period": Key(cloudwatch_period(), "period_s"),
            "settle": Key(duration(positive=False), "settle_s"),
            "preroll": Key(duration(positive=False), "preroll_s"),
            "container_insights": Key(boolean(), "container_insights"),
            "require": Key(boolean(), "require"),
            "correlate": Key(boolean(), "correlate"),
        },
        "prometheus_source": {
            "url": Key(url(), "url"),
            "queries": Key(string_table(what="a PromQL query"), "queries", env=False),
            "step": Key(duration(positive=True), "step_s"),
        },
        "process": {
            "pid": Key(integer(ge=1), "pid"),
            "name": Key(text(), "name"),
            # A process can use more than one core: psutil reports up to 100 x cores.
            "cpu_percent": Key(number(gt=0), "cpu_percent"),
            "memory_percent": Key(_PERCENT, "memory_percent"),
        },
        "exporters.prometheus": {
            "port": Key(integer(ge=1, le=65535), "port"),
            "bind": Key(text(), "bind"),
            "linger": Key(duration(positive=False), "linger_s"),
            "max_names": Key(integer(ge=1), "max_names"),
            "max_statuses": Key(integer(ge=1), "max_statuses"),
        },
        "exporters.pushgateway": {
            "url": Key(url(), "url"),
            "interval": Key(duration(positive=True), "interval_s"),
            "job": Key(text(), "job"),
            "delete_on_finish": Key(boolean(), "delete_on_finish"),
        },
        "exporters.otlp": {
            "enabled": Key(boolean(), "enabled"),
            "endpoint": Key(url(), "endpoint"),
            "protocol": Key(choice("http/protobuf", "grpc"), "protocol"),
            "interval": Key(duration(positive=True), "interval_s"),
            "headers": Key(string_table(what="a header value"), "headers", env=False),
        },
        "grafana": {
            "url": Key(url(), "url"),
            "dashboard_uid": Key(text(), "dashboard_uid"),
            "folder": Key(text(), "folder"),
        },
    }
)

SCENARIO_KEYS: Mapping[str, Rule] = MappingProxyType(
    {
        "description": text(allow_empty=True),
        "users": integer(ge=1),
        "spawn_rate": number(gt=0),
        "run_time": duration(positive=True),
        "tags": string_list(),
        "exclude_tags": string_list(),
        "expected_statuses": status_list(),
        "stages": Rule(lambda value: value),  # a list of tables: runner.config.load walks it
    }
)

STAGE_KEYS: Mapping[str, Rule] = MappingProxyType(
    {"duration": duration(positive=True), "users": integer(ge=0), "spawn_rate": number(gt=0)}
)

# Variables the CLI reads itself; everything else starting LOADLENS_ must be a key below.
ENV_RESERVED = frozenset({"LOADLENS_CONFIG", "LOADLENS_LOG_FORMAT", "LOADLENS_DEBUG"})

ENV_KEYS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        f"LOADLENS_{section.replace('.', '_').upper()}_{key.upper()}": (section, key)
        for section, keys in SECTIONS.items()
        for key, spec in keys.items()
        if spec.env
    }
)
