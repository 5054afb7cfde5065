"""The `loadlens` command: run, demo, verdict, report, init, cloudwatch, grafana, scenarios, plugin-path,
version.

Every loadlens error becomes one line on stderr and its exit code (2 for usage and configuration);
a traceback only with --debug.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from runner import __version__
from runner.config.options import add_options
from runner.errors import LoadlensError, UsageError
from runner.judge.verdict import EXIT_USAGE

USAGE = """usage: loadlens COMMAND [ARGS]

commands:
  run [LOCUST OPTIONS] [LOADLENS OPTIONS]   run Locust with live metrics and a verdict
  demo [--degrade]                          run the bundled demo service and load test
  verdict RUN_DIR                           judge a finished run again (e.g. with new thresholds)
  compare BASELINE CURRENT                  did it get worse? client and server, noise told apart
  history DIR [--scenario NAME]             one row per run, the trend and where a change began
  report RUN_DIR... [-o FILE]               write report.html again (several runs: overlaid)
  init [--from RUN_DIR] [--force]           write a commented loadlens.toml (limits from a real run)
  cloudwatch check                          preflight: credentials, permissions, recent datapoints
  grafana push [--url URL]                  create or update the loadlens folder and dashboards
  scenarios                                 list the scenario presets
  plugin-path                               print the plugin file for plain `locust -f ...,PATH`
  version                                   print versions

`loadlens run --help` shows Locust's options with loadlens's own at the end.
"""


# Every command, as `loadlens --help` lists them (an unknown command's message names them all).
COMMANDS = tuple(
    line.split()[0]
    for line in USAGE.split("commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    if line.strip()
)


class _Parser(argparse.ArgumentParser):
    """argparse that raises a one-line UsageError instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    debug = "--debug" in argv or env.get("LOADLENS_DEBUG", "") not in ("", "0", "false")
    try:
        return _dispatch(argv, env)
    except LoadlensError as exc:
        if debug:
            raise
        for line in str(exc).splitlines() or [""]:  # a config with several problems: one line each
            sys.stderr.write(f"loadlens: {line}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("loadlens: interrupted\n")
        return 130


def _dispatch(argv: list[str], env: Mapping[str, str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if argv else EXIT_USAGE
    command, rest = argv[0], argv[1:]
    if command == "run":
        from runner.commands.run import run

        return run(rest, env=env)
    if command == "demo":
        from runner.commands.demo import demo

        return demo(rest, env=env)
    if command == "verdict":
        return _verdict(rest, env)
    if command == "compare":
        from runner.commands.compare import compare_command

        return compare_command(rest, env=env, out=sys.stdout)
    if command == "history":
        from runner.commands.history import history_command

        return history_command(rest, out=sys.stdout)
    if command == "report":
        return _report(rest)
    if command == "init":
        from runner.commands.init import init_command

        return init_command(rest, env=env, out=sys.stdout, err=sys.stderr)
    if command == "cloudwatch":
        from runner.commands.cloudwatch import cloudwatch_command

        return cloudwatch_command(rest, env=env, out=sys.stdout)
    if command == "grafana":
        from runner.commands.grafana import grafana_command

        return grafana_command(rest, env=env, out=sys.stdout, err=sys.stderr)
    if command == "scenarios":
        return _scenarios(rest, env)
    if command == "plugin-path":
        sys.stdout.write(str(Path(__file__).with_name("plugin.py")) + "\n")
        return 0
    if command in ("version", "--version"):
        import importlib.metadata

        locust_version = importlib.metadata.version("locust")
        sys.stdout.write(f"loadlens {__version__} (locust {locust_version})\n")
        return 0
    raise UsageError(f"unknown command {command!r}: expected one of {', '.join(COMMANDS)} (loadlens --help)")


def _verdict(argv: list[str], env: Mapping[str, str]) -> int:
    parser = _Parser(prog="loadlens verdict")
    parser.add_argument("run_dir", type=Path)
    add_options(
        parser,
        "--loadlens-config",
        "--correlate-cloudwatch",
        "--require-server-metrics",
        "--baseline",
        "--aws-profile",
        "--aws-region",
        correlate_cloudwatch="pull CloudWatch again for the run's window",
    )
    parser.add_argument("--verbose", action="store_true", help="print every criteria row")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    from runner.commands.verdict import rejudge

    return rejudge(
        args.run_dir,
        config_file=args.loadlens_config,
        env=env,
        out=sys.stdout,
        correlate=bool(args.correlate_cloudwatch),
        require=bool(args.require_server_metrics),
        aws_profile=args.aws_profile,
        aws_region=args.aws_region,
        baseline=args.baseline,
        verbose=args.verbose,
    )


def _report(argv: list[str]) -> int:
    parser = _Parser(prog="loadlens report")
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    parser.add_argument("-o", "--output", type=Path, default=None, metavar="FILE")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    from runner.commands.report import report_command

    return report_command(args.run_dirs, output=args.output, out=sys.stdout)


def _scenarios(argv: list[str], env: Mapping[str, str]) -> int:
    parser = _Parser(prog="loadlens scenarios")
    add_options(parser, "--loadlens-config")
    args = parser.parse_args(argv)
    from runner.config.load import load_config
    from runner.timefmt import format_duration

    cfg = load_config(Path(args.loadlens_config) if args.loadlens_config else None, env=env)
    rows: list[tuple[str, ...]] = [("scenario", "users", "spawn rate", "run time", "stages", "description")]
    for name, sc in sorted(cfg.scenarios.items()):
        total = sc.total_time_s()
        stages = " → ".join(f"{s.users}u/{format_duration(s.duration_s)}" for s in sc.stages)
        rows.append(
            (
                name,
                str(sc.peak_users() or "—"),
                "—" if sc.spawn_rate is None else f"{sc.spawn_rate:g}/s",
                "—" if total is None else format_duration(total),
                stages or "—",
                sc.description,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] + "\n")
    return 0
