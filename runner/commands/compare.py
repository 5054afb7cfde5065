"""`loadlens compare BASELINE CURRENT`: did it get worse?

Prints the comparison (console table, or Markdown / JSON), optionally writes Markdown and JSON
files too. Exit 0 when nothing regressed, 1 when something did, 2 on bad input, 3 when the runs
are not comparable (a different locustfile, load or target: the differences are listed and
nothing is called a regression) or too short to judge even all requests' p95.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn, TextIO

from runner.compare.baseline import fetch_s3, parse_s3_url
from runner.compare.compare import compare_runs
from runner.compare.model import Comparison
from runner.compare.render import comparison_page, render_console, render_json, render_markdown
from runner.compare.tolerances import Tolerances, tolerances_from
from runner.config.load import load_config
from runner.config.options import add_options
from runner.errors import UsageError
from runner.model import RunRecord
from runner.reports.atomic import write_atomic
from runner.reports.load import load_summary

FORMATS = ("console", "markdown", "json")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def compare_command(argv: Sequence[str], *, env: Mapping[str, str], out: TextIO) -> int:
    parser = _Parser(prog="loadlens compare")
    parser.add_argument("baseline", help="baseline run directory (or s3://BUCKET/PREFIX)")
    parser.add_argument("current", type=Path, help="current run directory")
    parser.add_argument("--format", choices=FORMATS, default="console", help="what to print")
    parser.add_argument("--markdown", metavar="FILE", type=Path, default=None, help="also write Markdown")
    parser.add_argument("--json", metavar="FILE", type=Path, default=None, help="also write JSON here")
    parser.add_argument(
        "--html",
        metavar="FILE",
        type=Path,
        default=None,
        help="also write the report, baseline overlaid",
    )
    parser.add_argument(
        "--tolerance",
        metavar="METRIC=VALUE",
        action="append",
        default=[],
        help="e.g. p95_ms=20%%, error_rate=1%% (points), rps=15%%, peak=25%%; repeatable",
    )
    add_options(
        parser,
        "--loadlens-config",
        "--aws-profile",
        "--aws-region",
        loadlens_config="[compare] tolerances from this file",
    )
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(list(argv))
    cfg = load_config(Path(args.loadlens_config) if args.loadlens_config else None, env=env)
    baseline = _read(args.baseline, aws_profile=args.aws_profile, aws_region=args.aws_region)
    current = load_summary(args.current)
    endpoint_limits = cfg.thresholds_for(current.info.scenario).endpoints  # as verdict --baseline reads them
    tolerances = parse_tolerances(
        args.tolerance, base=tolerances_from(cfg.compare, endpoint_limits=endpoint_limits)
    )
    comparison = compare_runs(baseline, current, tolerances=tolerances)
    text = {"console": render_console, "markdown": render_markdown, "json": render_json}[args.format]
    out.write(text(comparison))
    if args.markdown is not None:
        write_atomic(args.markdown, render_markdown(comparison))
    if args.json is not None:
        write_atomic(args.json, render_json(comparison))
    if args.html is not None:
        from runner.reports.html import report_html

        # The current run in full with the comparison's rows, the baseline overlaid on a time axis
        # from each run's start.
        sections = {"comparison": comparison_page(comparison)}
        write_atomic(args.html, report_html([current, baseline], run_dir=args.current, sections=sections))
    return exit_code(comparison)


def exit_code(comparison: Comparison) -> int:
    """The command's exit code: ``Comparison.exit_code`` (0, 1, or 3 when not comparable)."""
    return comparison.exit_code


def _read(spec: str, *, aws_profile: str | None, aws_region: str | None) -> RunRecord:
    if spec.startswith("s3://"):
        return fetch_s3(parse_s3_url(spec), aws_profile=aws_profile, aws_region=aws_region)
    return load_summary(Path(spec))


def parse_tolerances(items: Sequence[str], *, base: Tolerances | None = None) -> Tolerances:
    """``METRIC=VALUE`` items over ``base`` (the [compare] section's): a trailing % divides by 100
    (error_rate=0.5% is half a point)."""
    defaults = base or Tolerances()
    overrides = {}
    for item in items:
        metric, sep, raw = item.partition("=")
        metric, raw = metric.strip(), raw.strip()
        if not sep or not metric or not raw:
            raise UsageError(f"--tolerance {item!r}: expected METRIC=VALUE, e.g. p95_ms=20%")
        try:
            value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
        except ValueError:
            raise UsageError(f"--tolerance {item!r}: {raw!r} is not a number") from None
        if value < 0:
            raise UsageError(f"--tolerance {item!r}: a tolerance is not negative")
        overrides[metric] = replace(defaults.of_kind(metric), value=value)
    return replace(defaults, overrides=overrides)
