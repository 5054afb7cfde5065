"""`loadlens demo`: start the bundled service on 127.0.0.1, load it through `loadlens run` for about
30 seconds, print the verdict and the run directory, and stop everything it started.

No AWS and no network beyond loopback. ``--degrade`` makes the service slow and error-prone, so a
newcomer can also see a failing verdict and its explanation.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from runner.config.options import add_options
from runner.demo.service import start_service
from runner.errors import UsageError

HERE = Path(__file__).resolve().parents[1] / "demo"  # runner/demo: its locustfile and config


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"loadlens demo: {message}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="loadlens demo", description=__doc__)
    p.add_argument(
        "--degrade", action="store_true", help="make the service slow and failing (see a FAIL verdict)"
    )
    add_options(p, "--out", out="where the run directory goes (default: results)")
    p.set_defaults(out="results")
    p.add_argument(
        "-u", "--users", type=int, default=None, help="simulated users (default: the demo scenario's 20)"
    )
    p.add_argument("-t", "--run-time", default=None, help="how long (default: the demo scenario's 30s)")
    p.add_argument("--log-format", choices=("console", "json"), default=None)
    p.add_argument("--port", type=int, default=0, help="the service's port (default: any free one)")
    return p


def demo(argv: list[str], *, env: Mapping[str, str]) -> int:
    args = _parser().parse_args(argv)
    service = start_service(port=args.port, degrade=args.degrade)
    url = service.url
    sys.stderr.write(
        f"loadlens demo: service {'(degraded) ' if args.degrade else ''}at {url} (pid {service.pid})\n"
    )
    sys.stderr.flush()
    cmd = [
        sys.executable,
        "-m",
        "runner",
        "run",
        "-f",
        str(HERE / "locustfile.py"),
        "--host",
        url,
        "--headless",
        "--only-summary",
        "--loadlens-config",
        str(HERE / "loadlens.toml"),
        "--scenario",
        "demo",
        "--out",
        args.out,
        "--process-pid",
        str(service.pid),
    ]
    if args.users is not None:
        cmd += ["-u", str(args.users)]
    if args.run_time is not None:
        cmd += ["-t", args.run_time]
    if args.log_format:
        cmd += ["--log-format", args.log_format]
    child_env = dict(env)
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    run = subprocess.Popen(cmd, env=child_env)
    try:
        code = run.wait()
    except KeyboardInterrupt:
        # The run got the same Ctrl-C (same process group): let it write its interrupted summary.
        code = run.wait()
    finally:
        service.stop()
    if args.degrade and code == 1:
        sys.stderr.write("loadlens demo: the degraded service failed its thresholds, as intended (exit 1)\n")
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(demo(sys.argv[1:], env=os.environ))
