"""`loadlens run`: validate everything loadlens owns, then hand the command line to Locust.

Locust's options pass through unchanged. loadlens adds ``--csv`` and ``--html`` pointing into the
run directory unless the user gave their own, and tells Locust to skip its logging set-up only when
JSON logs are asked for (so one stream carries both).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from runner.config.options import pre_parser
from runner.errors import UsageError
from runner.locust.startup import (
    check_web_port,
    discard_unstarted,
    locustfile_errors_as_one_line,
    otel_overlap,
)

if TYPE_CHECKING:
    from runner.config.plan import RunPlan

_LOCUSTFILE_FLAGS = ("-f", "--locustfile")
_HOST_FLAGS = ("-H", "--host")
LOOPBACK = "127.0.0.1"


def _has_flag(args: Sequence[str], *flags: str) -> bool:
    for a in args:
        for f in flags:
            if (
                a == f
                or a.startswith(f + "=")
                or (len(f) == 2 and a.startswith(f) and not a.startswith("--"))
            ):
                return True
    return False


def _flag_value(args: Sequence[str], *flags: str) -> str | None:
    """The value of the last occurrence of a flag (as argparse takes it)."""
    found = None
    for i, a in enumerate(args):
        for f in flags:
            if a == f and i + 1 < len(args):
                found = args[i + 1]
            elif a.startswith(f + "="):
                found = a.split("=", 1)[1]
            elif len(f) == 2 and a.startswith(f) and len(a) > 2 and not a.startswith("--"):
                found = a[2:]
    return found


def _check_locustfiles(value: str) -> None:
    for entry in value.split(","):
        entry = entry.strip()
        if not entry or "://" in entry:
            continue  # Locust also loads locustfiles from URLs
        path = Path(entry)
        if not (path.exists() or path.with_suffix(".py").exists()):
            raise UsageError(f"locustfile not found: {entry}")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise UsageError(message)


def _validate_locust_args(args: list[str]) -> argparse.Namespace:
    """Catch bad values of Locust's own options (``-u abc``) as one line before Locust starts, and
    return them as Locust will see them (its variables and config files included). Unknown options
    are left alone: a locustfile may add its own."""
    from locust.argument_parser import get_parser

    parser = get_parser()
    parser.error = _Parser().error  # type: ignore[method-assign]
    parser.exit = lambda status=0, message=None: None
    try:
        options, _unknown = parser.parse_known_args(args)
    except UsageError as exc:
        raise UsageError(f"bad Locust option: {exc}") from None
    return options


def run(argv: list[str], *, env: Mapping[str, str]) -> int:  # returns only on workers and for --help
    if any(a in ("-h", "--help") for a in argv):
        import locust

        from runner.config.options import register_with_locust

        register_with_locust(locust.events)  # Locust's --help lists loadlens's options too
        _web_ui_on_loopback()
        return _locust_main(["--help"])
    ours_parser = pre_parser()
    ours_parser.error = _Parser().error  # type: ignore[method-assign]
    ours, rest = ours_parser.parse_known_args(argv)
    # A bad loadlens.toml, LOADLENS_* variable or flag is refused now, before Locust is imported
    # (most of a refusal's time): the config needs neither Locust nor anything that opens a socket.
    from runner.config.options import load_options_config

    config = load_options_config(ours, env=env)

    # Import Locust (and so gevent's monkey patching) before anything that opens sockets or ssl.
    import locust

    from runner import logs
    from runner.config.plan import exit_code_on_error, plan_from_options, with_run_dir
    from runner.locust.bridge import install

    _web_ui_on_loopback()  # first: the options read below then hold the web UI's host as Locust will
    locust_options = _validate_locust_args(rest)
    given_locustfile = _flag_value(rest, *_LOCUSTFILE_FLAGS)
    if _has_flag(rest, "--worker"):
        role = "worker"
    elif _has_flag(rest, "--master", "--processes"):
        role = "master"
    else:
        role = "standalone"
    plan = plan_from_options(
        ours, env=env, role=role, command=("loadlens", "run", *argv), create_dir=False, config=config
    )
    plan = replace(plan, exit_code_on_error=exit_code_on_error(locust_options, argv=rest, env=env))
    _require_packages(plan)
    locust_otel = _has_flag(rest, "--otel") or env.get("LOCUST_ENABLE_OPENTELEMETRY", "").lower() in (
        "1",
        "true",
    )
    if note := otel_overlap(locust_otel=locust_otel, loadlens_otlp=plan.config.exporters.otlp.enabled):
        sys.stderr.write(f"loadlens: {note}\n")
    _check_baseline_options(ours)
    locustfile = given_locustfile or plan.locustfile
    if locustfile:
        _check_locustfiles(locustfile)
    if role != "worker" and not getattr(locust_options, "headless", False):
        # Locust's web UI: a port it cannot bind is refused now, before any run directory.
        web_host = str(getattr(locust_options, "web_host", "") or "")
        check_web_port(web_host, int(getattr(locust_options, "web_port", 8089)))
    args = list(rest)
    if given_locustfile is None and plan.locustfile:
        args = ["-f", plan.locustfile, *args]
    plan = with_run_dir(plan)  # only now: a rejected command line leaves no run directory behind
    if not _has_flag(args, *_HOST_FLAGS) and plan.host:
        args += ["--host", plan.host]
    asked_bind_host = _has_flag(args, "--master-bind-host") or "LOCUST_MASTER_BIND_HOST" in env
    if _has_flag(args, "--processes") and not asked_bind_host:
        # Forked workers connect over loopback; Locust's default ("*") would open its
        # unauthenticated master port on every interface.
        args += ["--master-bind-host", LOOPBACK]
    if plan.run_dir is not None:
        args += ["--loadlens-run-dir", str(plan.run_dir)]
        if not _has_flag(args, "--csv"):
            args += ["--csv", str(plan.run_dir / "locust")]
        if not _has_flag(args, "--html"):
            args += ["--html", str(plan.run_dir / "locust.html")]
    if ours.baseline:  # read by the bridge from Locust's options, where it judges
        args += ["--baseline", ours.baseline]
    if ours.loadlens_config:
        args += ["--loadlens-config", str(Path(ours.loadlens_config).resolve())]
    if plan.log_format == "json":
        if not _has_flag(args, "--skip-log-setup"):
            args.append("--skip-log-setup")
        logs.configure(fmt="json", level=_flag_value(args, "--loglevel", "-L") or "INFO")
    else:
        logs.configure(fmt="console")
    bridge = install(plan=plan)
    try:
        with locustfile_errors_as_one_line():
            code = int(_locust_main(args) or 0)
    finally:
        if bridge.record is None and bridge.role != "worker":
            discard_unstarted(plan.run_dir)  # refused before any load: leave nothing behind
    if bridge.role == "worker":
        # A worker's last stats report may still sit in ZeroMQ's I/O thread: a normal exit lets the
        # context linger and deliver it.
        return code
    if bridge.record is None and code != 0:
        # Locust stopped before loadlens reached a verdict (locustfile error, no User class...):
        # that is a usage problem, not a failed criterion.
        code = 2
    if ours.publish_baseline and bridge.record is not None and code == 0 and plan.run_dir is not None:
        code = _publish(ours, plan.run_dir)
    exit_now(code)


def _web_ui_on_loopback() -> None:
    """Bind Locust's web UI (and so the live page at ``/loadlens``) to 127.0.0.1 unless the user
    chose otherwise: Locust's own default binds every interface, and the UI has no authentication.

    Only the *default* changes, in Locust's parser: configargparse lets a config file
    (locust.conf, pyproject.toml, ``--config``), ``LOCUST_WEB_HOST`` and ``--web-host`` all win over a
    default, so any explicit choice stands (``--web-host '*'`` binds every interface again).
    """
    from locust import events

    events.init_command_line_parser.add_listener(_loopback_default)


def _loopback_default(parser: Any, **_kw: Any) -> None:
    parser.set_defaults(web_host=LOOPBACK)
    for action in parser._actions:  # --help says the default that applies under loadlens run
        if action.dest == "web_host":
            action.help = (
                f"Host to bind the web interface to. Defaults to {LOOPBACK} under loadlens run ('*' for all)"
            )


def _require_packages(plan: RunPlan) -> None:
    """Every package the plan's features need is importable, or one line and exit 2 now."""
    from runner import installed

    if plan.server.cloudwatch is not None:
        installed.require(installed.AWS, used_by="CloudWatch ([cloudwatch], --correlate-cloudwatch)")
    if plan.server.events:
        installed.require(
            installed.AWS, used_by="application logs and alarms ([cloudwatch] log_group, alarms)"
        )
    if plan.config.exporters.otlp.enabled:
        installed.require(installed.OTLP, used_by="OTLP export ([exporters.otlp], --otlp)")
    if plan.config.grafana.url is not None and plan.role != "worker":
        installed.require(installed.GRAFANA, used_by="Grafana annotations ([grafana] url, --grafana-url)")


def _check_baseline_options(ours: argparse.Namespace) -> None:
    """--baseline and --publish-baseline that can never work stop the run before it starts."""
    from runner.compare.baseline import check_baseline_spec, parse_s3_url

    if ours.baseline:
        check_baseline_spec(ours.baseline)
    if any(spec and spec.startswith("s3://") for spec in (ours.baseline, ours.publish_baseline)):
        from runner import installed

        installed.require(installed.AWS, used_by="S3 baselines (--baseline / --publish-baseline s3://...)")
    if ours.publish_baseline:
        if not ours.publish_baseline.startswith("s3://"):
            raise UsageError(
                "--publish-baseline: expected s3://BUCKET/PREFIX (a local run directory is one already)"
            )
        parse_s3_url(ours.publish_baseline)


def _publish(ours: argparse.Namespace, run_dir: Path) -> int:
    """Upload a passing run's summary.json as the shared baseline; a failure is exit 2, loudly."""
    from runner.compare.baseline import publish_s3
    from runner.errors import LoadlensError

    try:
        where = publish_s3(
            run_dir / "summary.json",
            ours.publish_baseline,
            aws_profile=ours.aws_profile,
            aws_region=ours.aws_region,
        )
    except LoadlensError as exc:
        sys.stderr.write(f"loadlens: {exc}\n")
        return exc.exit_code
    sys.stdout.write(f"baseline published: {where.url}\n")
    return 0


def exit_now(code: int) -> NoReturn:
    """End the judging process without interpreter finalisation.

    Everything is on disk by now (written atomically) and atexit handlers still run (Locust's,
    which reap --processes children, and logging's flush). What is skipped is the tear-down of
    modules while exporter threads that own a gevent hub of their own may still exist: that
    tear-down can crash the interpreter, turning a clean verdict's exit code into a signal.
    Never used on workers (see above).
    """
    import atexit
    import contextlib
    import os

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _locust_main(args: list[str]) -> int:
    from locust.main import main as locust_main

    saved = sys.argv
    sys.argv = ["locust", *args]
    try:
        locust_main()
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        sys.argv = saved
    return 0
