"""The bundled demo target: a small video-generation job API served on loopback.

It is shaped like the APIs teams put under load (submit a job, poll it, list, upload an asset) and
answers with realistic, seeded latencies so ``loadlens demo`` has something honest to measure
without AWS or any network beyond 127.0.0.1. ``--degrade`` makes it misbehave (slow job creation and
~5% server errors) so the demo's thresholds fail and the verdict can explain why.

Run it as its own process (that is how the demo uses it)::

    python -m runner.demo.service --port 0 [--bind 127.0.0.1] [--degrade] [--seed N]

It prints ``loadlens demo service listening on http://HOST:PORT`` once it accepts connections, and
stops cleanly (exit 0) on SIGTERM or SIGINT. ``start_service`` launches it that way and waits for
that line. Every response carries ``Server-Timing: app;dur=MS``, the latency the service chose, so
tests can check the latency model without timing anything.

gevent is imported only where the server starts: importing this module patches nothing and leaves a
process that will import Locust later untouched.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.demo.app import STOP_TIMEOUT_S, Behaviour, DemoApp

if TYPE_CHECKING:
    import subprocess

READY_PREFIX = "loadlens demo service listening on "


def serve(port: int, *, bind: str = "127.0.0.1", degrade: bool = False, seed: int | None = None) -> None:
    """Serve the demo API on ``bind:port`` (0 picks a free port) until SIGTERM or SIGINT.

    Prints the ready line (with the real port) to stdout once the socket is listening. Blocks; returns
    after a clean stop. Callers that want cheap concurrency in the rest of their process should have
    gevent monkey-patched it first (``main`` does).
    """
    import signal

    import gevent
    from gevent.event import Event
    from gevent.pool import Pool
    from gevent.pywsgi import WSGIServer

    app = DemoApp(
        rng=random.Random(seed),
        behaviour=Behaviour.degraded() if degrade else Behaviour.healthy(),
        sleep=gevent.sleep,
    )
    # log=None: no access line per request (the demo is a load target; a log line per hit would cost
    # more than the request). Application errors still go to stderr.
    # A pool (unbounded) rather than bare greenlets, so stop() can kill the connection handlers.
    server = WSGIServer((bind, port), app, log=None, backlog=1024, spawn=Pool())
    server.start()

    stopped = Event()

    def drain_and_stop() -> None:
        # Stop accepting, let requests in flight finish (STOP_TIMEOUT_S is longer than the slowest
        # degraded answer), then close what is left: idle keep-alive connections, which would
        # otherwise hold the pool open for the whole timeout.
        server.close()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while app.in_flight and time.monotonic() < deadline:
            gevent.sleep(0.01)
        server.stop(timeout=0)
        stopped.set()

    handlers = [gevent.signal_handler(sig, drain_and_stop) for sig in (signal.SIGTERM, signal.SIGINT)]
    print(f"{READY_PREFIX}http://{bind}:{server.server_port}", flush=True)
    try:
        # Not serve_forever(): it wakes as soon as the listener closes and kills the pool before the
        # requests in flight have been answered.
        stopped.wait()
    finally:
        for handler in handlers:
            handler.cancel()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m runner.demo.service",
        description="The loadlens demo target: a video-generation job API.",
    )
    parser.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--degrade", action="store_true", help="misbehave: slow job creation, ~5%% errors")
    parser.add_argument("--seed", type=int, default=None, help="seed the latency and error draws")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m runner.demo.service``."""
    args = build_parser().parse_args(argv)
    from gevent import monkey

    # Only the service's own process is patched, and only here: importing this module never patches.
    monkey.patch_all()
    try:
        serve(args.port, bind=args.bind, degrade=args.degrade, seed=args.seed)
    except OSError as exc:
        # Port taken, address not local: one line, usage exit code, no traceback.
        print(f"loadlens demo service: cannot listen on {args.bind}:{args.port}: {exc}", file=sys.stderr)
        return 2
    return 0


# -- launching it as a subprocess ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceProcess:
    """A running demo service process: its URL and PID (for the local process metric source)."""

    url: str
    pid: int
    process: subprocess.Popen[bytes]

    def stop(self, *, timeout_s: float = 10.0) -> int:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL; returns the exit code (0 on a clean stop)."""
        # Imported here, not at the top: the service process imports this module before it
        # monkey-patches, and subprocess would pull in threading before gevent could patch it.
        import subprocess

        proc = self.process
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        return int(proc.returncode)


def service_command(
    *, port: int = 0, bind: str = "127.0.0.1", degrade: bool = False, seed: int | None = None
) -> list[str]:
    """The command line that runs the demo service with this interpreter."""
    cmd = [sys.executable, "-m", "runner.demo.service", "--port", str(port), "--bind", bind]
    if degrade:
        cmd.append("--degrade")
    if seed is not None:
        cmd += ["--seed", str(seed)]
    return cmd


def start_service(
    *,
    port: int = 0,
    bind: str = "127.0.0.1",
    degrade: bool = False,
    seed: int | None = None,
    stderr: Any = None,
    cwd: str | None = None,
    timeout_s: float = 20.0,
) -> ServiceProcess:
    """Start ``python -m runner.demo.service`` and wait for its ready line.

    ``stderr`` is passed to ``subprocess.Popen`` (a file, ``subprocess.DEVNULL``, or None to inherit).
    Raises ``UsageError`` if the process exits or stays silent for ``timeout_s``.
    """
    import selectors
    import subprocess

    from runner.errors import UsageError

    cmd = service_command(port=port, bind=bind, degrade=degrade, seed=seed)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, cwd=cwd)
    assert proc.stdout is not None
    handle = ServiceProcess(url="", pid=proc.pid, process=proc)
    deadline = time.monotonic() + timeout_s
    line = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            left_s = deadline - time.monotonic()
            if left_s <= 0 or not sel.select(timeout=left_s):
                handle.stop()
                raise UsageError(f"the demo service did not start within {timeout_s:g} s: {' '.join(cmd)}")
            chunk = os.read(proc.stdout.fileno(), 1024)
            if not chunk:
                code = handle.stop()
                raise UsageError(f"the demo service exited with {code} before it was ready: {' '.join(cmd)}")
            line += chunk
    text = line.decode(errors="replace").strip()
    if not text.startswith(READY_PREFIX):
        handle.stop()
        raise UsageError(f"the demo service printed an unexpected first line: {text!r}")
    return ServiceProcess(url=text[len(READY_PREFIX) :], pid=proc.pid, process=proc)


if __name__ == "__main__":
    raise SystemExit(main())
