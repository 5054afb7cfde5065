"""loadlens's command-line options: one definition, used by `loadlens run`'s pre-parse and
registered with Locust's own parser (so plain `locust` with the plugin accepts them too)."""

from __future__ import annotations

import argparse
from typing import Any

LOG_FORMATS = ("console", "json")


def add_loadlens_arguments(parser: Any, *, locust_parser: bool = False) -> None:
    """Add the loadlens options. On Locust's parser they form their own group in ``--help``."""
    group = parser.add_argument_group("loadlens options") if locust_parser else parser
    group.add_argument(
        "--loadlens-config",
        metavar="FILE",
        default=None,
        help="loadlens.toml to read (default: ./loadlens.toml if present; --config stays Locust's own)",
    )
    group.add_argument(
        "--scenario",
        metavar="NAME",
        default=None,
        help="smoke, load, stress, spike, soak, or one from loadlens.toml",
    )
    group.add_argument(
        "--out", metavar="DIR", default=None, help="where run directories go (default: results)"
    )
    group.add_argument(
        "--warmup",
        metavar="DURATION",
        default=None,
        help="excluded from judging after the ramp-up ends (e.g. 30s)",
    )
    group.add_argument(
        "--expect-status",
        metavar="CODE",
        type=int,
        action="append",
        default=None,
        help="an HTTP status the scenario expects (counted apart, not as a failure); repeatable",
    )
    group.add_argument(
        "--include-expected",
        action="store_true",
        default=None,
        help="count expected-status responses in latency percentiles and rps (default: left out)",
    )
    group.add_argument(
        "--prometheus-port", metavar="PORT", type=int, default=None, help="serve live /metrics on this port"
    )
    group.add_argument(
        "--prometheus-bind", metavar="ADDR", default=None, help="address for /metrics (default 127.0.0.1)"
    )
    group.add_argument(
        "--pushgateway", metavar="URL", default=None, help="push metrics to this Pushgateway during the run"
    )
    group.add_argument(
        "--otlp",
        action="store_true",
        default=None,
        help="export metrics over OTLP (OTEL_EXPORTER_OTLP_* apply)",
    )
    group.add_argument("--otlp-endpoint", metavar="URL", default=None, help="OTLP endpoint (implies --otlp)")
    group.add_argument(
        "--grafana-url",
        metavar="URL",
        default=None,
        help="annotate the run in Grafana (token: GRAFANA_TOKEN)",
    )
    group.add_argument(
        "--correlate-cloudwatch",
        action="store_true",
        default=False,
        help="pull ECS/RDS/ALB metrics from CloudWatch for the test window",
    )
    group.add_argument(
        "--require-server-metrics",
        action="store_true",
        default=False,
        help="missing server metrics make the run inconclusive (exit 3)",
    )
    group.add_argument(
        "--aws-profile",
        metavar="NAME",
        default=None,
        help="AWS profile for CloudWatch (standard boto3 chain otherwise)",
    )
    group.add_argument("--aws-region", metavar="REGION", default=None, help="AWS region for CloudWatch")
    group.add_argument(
        "--cloudwatch-settle",
        metavar="DURATION",
        default=None,
        help="wait up to this long after the run for CloudWatch's last datapoints (default 5m)",
    )
    group.add_argument(
        "--process-pid",
        metavar="PID",
        type=int,
        default=None,
        help="judge CPU and memory of this local process",
    )
    group.add_argument(
        "--process-name",
        metavar="NAME",
        default=None,
        help="judge CPU and memory of the local process with this name",
    )
    group.add_argument(
        "--baseline",
        metavar="RUN_DIR|latest|s3://...",
        default=None,
        help="add regression criteria against this run (latest: the newest passing run of the scenario)",
    )
    group.add_argument(
        "--publish-baseline",
        metavar="s3://BUCKET/PREFIX",
        default=None,
        help="after a passing run, upload its summary.json there as the shared baseline",
    )
    group.add_argument("--log-format", choices=LOG_FORMATS, default=None, help="console (default) or json")
    group.add_argument(
        "--debug", action="store_true", default=False, help="show tracebacks for loadlens errors"
    )
    # Set by `loadlens run` so the master and forked workers agree on one run directory.
    group.add_argument("--loadlens-run-dir", metavar="DIR", default=None, help=argparse.SUPPRESS)


def pre_parser() -> argparse.ArgumentParser:
    """A parser for loadlens's own options only; everything else is Locust's."""
    parser = argparse.ArgumentParser(prog="loadlens run", add_help=False, allow_abbrev=False)
    add_loadlens_arguments(parser)
    return parser
