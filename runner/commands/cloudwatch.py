"""`loadlens cloudwatch check`: confirm credentials, permissions, resources and recent datapoints
for every configured CloudWatch metric before anyone spends an hour on a soak test.

Exit 0 when every check passed (warnings allowed), 1 when a check failed, 2 for a usage or
configuration problem (no [cloudwatch] resources configured).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn, TextIO

from runner.config.load import load_config
from runner.config.options import add_options, flag_values
from runner.config.scenarios import parse_duration_s
from runner.errors import UsageError
from runner.sources.server import server_plan

MARKS = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def cloudwatch_command(argv: list[str], *, env: Mapping[str, str], out: TextIO) -> int:
    parser = _Parser(prog="loadlens cloudwatch")
    sub = parser.add_subparsers(dest="action", required=True, parser_class=_Parser)
    check = sub.add_parser("check", help="preflight the configured CloudWatch metrics")
    add_options(check, "--loadlens-config", "--aws-profile", "--aws-region")
    check.add_argument(
        "--lookback", metavar="DURATION", default="1h", help="how recent datapoints must be (default 1h)"
    )
    check.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    try:
        lookback_s = parse_duration_s(args.lookback)
    except ValueError as exc:
        raise UsageError(f"--lookback: {exc}") from None
    given = argparse.Namespace(
        correlate_cloudwatch=True, aws_profile=args.aws_profile, aws_region=args.aws_region
    )
    config_file = Path(args.loadlens_config) if args.loadlens_config else None
    plan = server_plan(load_config(config_file, env=env, flags=flag_values(given)))

    from runner import installed

    installed.require(installed.AWS, used_by="loadlens cloudwatch check")
    from runner.sources.aws import AwsApi, make_session
    from runner.sources.preflight import preflight

    api = AwsApi(make_session(profile=plan.aws_profile, region=plan.aws_region))
    # server_plan refuses to correlate with neither a target nor a log group or alarms.
    results = preflight(plan.cloudwatch, api=api, lookback_s=lookback_s) if plan.cloudwatch else []
    if plan.logs is not None:
        from runner.sources.logs import log_group_check

        results.append(log_group_check(api, plan.logs.log_group))
    for r in results:
        out.write(f"{MARKS.get(r.status.value, r.status.value)}  {r.name}: {r.detail}\n")
    failed = [r for r in results if not r.ok and r.status.value == "fail"]
    out.write(
        f"cloudwatch check: {'FAIL' if failed else 'OK'} — {len(results)} checks, {len(failed)} failed\n"
    )
    return 1 if failed else 0
