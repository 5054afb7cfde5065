"""loadlens's command-line options: one definition, used by `loadlens run`'s pre-parse and
registered with Locust's own parser (so plain `locust` with the plugin accepts them too)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import UsageError

if TYPE_CHECKING:
    from runner.config.load import Config

LOG_FORMATS = ("console", "json")


@dataclass(frozen=True, slots=True)
class FlagValue:
    """A command-line flag's value for one key. ``add``: the values join those of the lower layers
    (--expect-status); ``clears``: keys of the same section the flag unsets (--process-pid drops a
    configured process name)."""

    flag: str
    section: str
    key: str
    value: object
    add: bool = False
    clears: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Option:
    """One loadlens option: its argparse definition and, when it sets a configuration key, that
    key (``section``, ``key``). Such options are applied by runner.config.load in the same step as
    the file and the variables, and checked by the same rules, so a bad value names the flag."""

    flag: str
    help: str
    metavar: str | None = None
    section: str | None = None
    key: str | None = None
    switch: bool = False  # takes no value: given means true
    negatable: bool = False  # a switch with a --no-... spelling that sets false
    repeat: bool = False  # may be given several times; adds to the values below it
    clears: tuple[str, ...] = ()  # keys of the section it unsets (pid and name exclude each other)
    hidden: bool = False
    # Whole numbers are parsed by argparse (so `--prometheus-port x` fails with the command line,
    # as Locust's own -u does); their range is the config rule's.
    integer: bool = False
    alias: str | None = None  # a second spelling, always accepted
    # locust-plugins (which Locust imports whenever it is installed) defines this flag itself: then
    # only the alias is registered, so both sets of options register and neither reads the other's.
    plugins_own_flag: bool = False

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


OPTIONS: tuple[Option, ...] = (
    Option(
        "--loadlens-config",
        "loadlens.toml to read (default: ./loadlens.toml if present; --config stays Locust's own)",
        "FILE",
    ),
    Option(
        "--scenario", "smoke, load, stress, spike, soak, or one from loadlens.toml", "NAME", "run", "scenario"
    ),
    Option("--out", "where run directories go (default: results)", "DIR", "run", "out"),
    Option(
        "--warmup", "excluded from judging after the ramp-up ends (e.g. 30s)", "DURATION", "run", "warmup"
    ),
    Option(
        "--expect-status",
        "an HTTP status the scenario expects (counted apart, not as a failure); repeatable",
        "CODE",
        "thresholds",
        "expected_statuses",
        repeat=True,
        integer=True,
    ),
    Option(
        "--include-expected",
        "count expected-status responses in latency percentiles and rps (default: left out)",
        section="thresholds",
        key="include_expected",
        switch=True,
    ),
    Option(
        "--prometheus-port",
        "serve live /metrics on this port",
        "PORT",
        "exporters.prometheus",
        "port",
        integer=True,
    ),
    Option(
        "--prometheus-bind",
        "address for /metrics (default 127.0.0.1)",
        "ADDR",
        "exporters.prometheus",
        "bind",
    ),
    Option(
        "--pushgateway",
        "push metrics to this Pushgateway during the run",
        "URL",
        "exporters.pushgateway",
        "url",
    ),
    Option(
        "--otlp",
        "export metrics over OTLP (OTEL_EXPORTER_OTLP_* apply)",
        section="exporters.otlp",
        key="enabled",
        switch=True,
    ),
    Option("--otlp-endpoint", "OTLP endpoint (implies --otlp)", "URL", "exporters.otlp", "endpoint"),
    Option(
        "--grafana-url",
        "annotate the run in Grafana (token: GRAFANA_TOKEN)",
        "URL",
        "grafana",
        "url",
        alias="--loadlens-grafana-url",
        plugins_own_flag=True,
    ),
    Option(
        "--correlate-cloudwatch",
        "pull ECS/RDS/ALB metrics from CloudWatch for the test window",
        section="cloudwatch",
        key="correlate",
        switch=True,
    ),
    Option(
        "--require-server-metrics",
        "missing server metrics make the run inconclusive (exit 3)",
        section="cloudwatch",
        key="require",
        switch=True,
    ),
    Option(
        "--aws-profile",
        "AWS profile for CloudWatch (standard boto3 chain otherwise)",
        "NAME",
        "cloudwatch",
        "profile",
    ),
    Option("--aws-region", "AWS region for CloudWatch", "REGION", "cloudwatch", "region"),
    Option(
        "--cloudwatch-settle",
        "wait up to this long after the run for CloudWatch's last datapoints (default 5m)",
        "DURATION",
        "cloudwatch",
        "settle",
    ),
    Option(
        "--process-pid",
        "judge CPU and memory of this local process",
        "PID",
        "process",
        "pid",
        clears=("name",),
        integer=True,
    ),
    Option(
        "--process-name",
        "judge CPU and memory of the local process with this name",
        "NAME",
        "process",
        "name",
        clears=("pid",),
    ),
    Option(
        "--lean",
        "keep Locust's request statistics and loadlens's in one listener (the default; --no-lean: two)",
        section="run",
        key="lean",
        switch=True,
        negatable=True,
    ),
    Option(
        "--baseline",
        "add regression criteria against this run (latest: the newest passing run of the scenario)",
        "RUN_DIR|latest|s3://...",
    ),
    Option(
        "--publish-baseline",
        "after a passing run, upload its summary.json there as the shared baseline",
        "s3://BUCKET/PREFIX",
    ),
    # Set by `loadlens run` so the master and forked workers agree on one run directory.
    Option("--loadlens-run-dir", "", "DIR", hidden=True),
)


def register_with_locust(events: Any) -> None:
    """Locust's own parser lists and parses loadlens's options too (its ``init_command_line_parser``
    event): the one registration, shared by the bridge and by ``loadlens run --help``, which then
    needs nothing else of loadlens imported."""
    events.init_command_line_parser.add_listener(
        lambda parser, **_kw: add_loadlens_arguments(parser, locust_parser=True)
    )


def add_options(parser: Any, *flags: str, **helps: str) -> None:
    """Add the named options of ``OPTIONS`` to another command's parser (`loadlens verdict`,
    `compare`, `cloudwatch check`...), so each flag is defined once; ``helps`` (by dest) words one
    for that command."""
    by_flag = {option.flag: option for option in OPTIONS}
    for flag in flags:
        option = by_flag[flag]
        _add_option(parser, option, [option.flag], helps.get(option.dest, option.help))


def add_loadlens_arguments(parser: Any, *, locust_parser: bool = False) -> None:
    """Add the loadlens options. On Locust's parser they form their own group in ``--help``."""
    group = parser.add_argument_group("loadlens options") if locust_parser else parser
    plugins = _locust_plugins_installed()
    for option in OPTIONS:
        help_text = argparse.SUPPRESS if option.hidden else option.help
        names = [option.flag] if not (option.plugins_own_flag and plugins) else []
        names += [option.alias] if option.alias else []
        _add_option(group, option, names, help_text)
    group.add_argument("--log-format", choices=LOG_FORMATS, default=None, help="console (default) or json")
    group.add_argument(
        "--debug", action="store_true", default=False, help="show tracebacks for loadlens errors"
    )
    group.add_argument(
        "--verbose",
        action="store_true",
        default=False,
        help="print every criteria row (a long table shows the overall rows and the broken ones)",
    )


def _add_option(parser: Any, option: Option, names: list[str], help_text: str) -> None:
    """One option on a parser or group, under ``names``: a switch (and its hidden ``--no-``
    spelling when negatable) or a value, repeatable when the option is."""
    if option.switch:
        parser.add_argument(*names, dest=option.dest, action="store_true", default=None, help=help_text)
        if option.negatable:
            no = "--no-" + option.flag.removeprefix("--")
            parser.add_argument(
                no, dest=option.dest, action="store_false", default=None, help=argparse.SUPPRESS
            )
        return
    parser.add_argument(
        *names,
        dest=option.dest,
        metavar=option.metavar,
        action="append" if option.repeat else "store",
        type=int if option.integer else None,
        default=None,
        help=help_text,
    )


def _locust_plugins_installed() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("locust_plugins") is not None
    except (ImportError, ValueError):
        return False


def flag_values(options: Any) -> tuple[FlagValue, ...]:
    """The configuration keys the given options set (an argparse namespace from `loadlens run` or
    Locust's parser; options not given are None), for runner.config.load.load_config."""
    if getattr(options, "process_pid", None) is not None and getattr(options, "process_name", None):
        raise UsageError("--process-pid and --process-name exclude each other")
    out: list[FlagValue] = []
    for option in OPTIONS:
        value = getattr(options, option.dest, None)
        if value is None or option.section is None or option.key is None:
            continue
        if option.repeat:
            value = list(value)
        out.append(FlagValue(option.flag, option.section, option.key, value, option.repeat, option.clears))
        if option.flag == "--otlp-endpoint" and getattr(options, "otlp", None) is None:
            out.append(FlagValue(option.flag, "exporters.otlp", "enabled", True))
    return tuple(out)


def load_options_config(options: Any, *, env: Mapping[str, str]) -> Config:
    """The configuration the options name, checked: one precedence step, the file, then LOADLENS_*
    variables, then the flags (runner.config.load). Imports nothing that opens a socket, so
    `loadlens run` refuses a bad config before it imports Locust."""
    from runner.config.load import load_config

    config_file = getattr(options, "loadlens_config", None)
    return load_config(Path(config_file) if config_file else None, env=env, flags=flag_values(options))


def pre_parser() -> argparse.ArgumentParser:
    """A parser for loadlens's own options only; everything else is Locust's."""
    parser = argparse.ArgumentParser(prog="loadlens run", add_help=False, allow_abbrev=False)
    add_loadlens_arguments(parser)
    return parser
