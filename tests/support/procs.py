"""Real components for tests, started as processes on 127.0.0.1 and stopped afterwards.

A component that is not installed fails the test that needs it (``make test`` installs them);
nothing here skips.
"""

from __future__ import annotations

import contextlib
import http.server
import shutil
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.support.wait import wait_until


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def taken_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port on ``host`` that something listens on for the block's length (a port in use)."""
    with socket.socket() as taken:
        taken.bind((host, 0))
        taken.listen()
        yield int(taken.getsockname()[1])


def wait_http(url: str, *, timeout_s: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until it answers (any HTTP status), or fail; fail at once if ``proc`` exits."""
    last: list[OSError] = []

    def answers() -> bool:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError as exc:
            last[:] = [exc]
            return False

    wait_until(
        answers,
        timeout_s,
        what=lambda: f"{url} to come up ({last[0] if last else 'no answer'})",
        interval_s=0.1,
    )


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise RuntimeError(f"{binary} is not installed: run `make components` (Debian package)")
    return path


@contextlib.contextmanager
def process(
    args: Sequence[str], *, ready_url: str, log: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(list(args), stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        try:
            wait_http(ready_url, proc=proc)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def prometheus(tmp: Path, scrape_targets: Sequence[str] = (), *, interval_s: float = 1.0) -> Iterator[str]:
    """A real Prometheus scraping ``scrape_targets`` (host:port) every ``interval_s``; yields its URL."""
    binary = require("prometheus")
    port = free_port()
    targets = ", ".join(f"'{t}'" for t in scrape_targets)
    cfg = tmp / "prometheus.yml"
    every = f"{round(interval_s * 1000)}ms"
    cfg.write_text(
        "global:\n"
        f"  scrape_interval: {every}\n"
        f"  evaluation_interval: {every}\n"
        "scrape_configs:\n"
        "  - job_name: loadlens\n"
        f"    static_configs: [{{targets: [{targets}]}}]\n"
    )
    data = tmp / "prom-data"
    data.mkdir(exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    args = [
        binary,
        f"--config.file={cfg}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-remote-write-receiver",
        "--web.enable-admin-api",
    ]
    with process(args, ready_url=f"{url}/-/ready", log=tmp / "prometheus.log"):
        yield url


@contextlib.contextmanager
def pushgateway(tmp: Path) -> Iterator[str]:
    binary = require("prometheus-pushgateway")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [binary, f"--web.listen-address=127.0.0.1:{port}"]
    with process(args, ready_url=f"{url}/-/ready", log=tmp / "pushgateway.log"):
        yield url


@contextlib.contextmanager
def moto_server(tmp: Path) -> Iterator[str]:
    """A real moto server process (AWS API stand-in); yields its endpoint URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with process(args, ready_url=f"{url}/moto-api/", log=tmp / "moto.log"):
        yield url


class AnswersOk(http.server.BaseHTTPRequestHandler):
    """200 and a small body for every GET and POST: a target that never fails, for tests about
    what a locustfile does rather than what a service answers."""

    def _ok(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._ok()

    def do_POST(self) -> None:
        self._ok()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def local_http(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real threaded HTTP server on 127.0.0.1 answering with ``handler``; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
