"""nginx as a fast, fixed benchmark target: one worker, ``return 200 "ok"`` for every path.

It runs in the foreground (``daemon off``) as whatever user starts it: the config, pid file,
error log and every temp path live in a directory the caller owns, and there is no access log
(writing one per request would make the target slower and the disk busier than the generator).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

NGINX_CANDIDATES = ("/usr/sbin/nginx", "nginx")

_CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    server {{
        listen 127.0.0.1:{port};
        default_type text/plain;
        location / {{
            return 200 "ok";
        }}
    }}
}}
"""


def find_nginx() -> str:
    for candidate in NGINX_CANDIDATES:
        path = shutil.which(candidate)
        if path is not None:
            return path
    raise RuntimeError("nginx is not installed: run `make components` (Debian package nginx-light)")


def write_config(directory: Path, port: int) -> Path:
    """Write nginx.conf for ``port`` into ``directory`` and return its path."""
    conf = directory / "nginx.conf"
    conf.write_text(_CONFIG.format(dir=directory, port=port))
    return conf


def _wait_listening(port: int, proc: subprocess.Popen[bytes], *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited early with {proc.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on 127.0.0.1:{port} within {timeout_s}s")


@contextlib.contextmanager
def nginx_target(directory: Path, port: int, *, timeout_s: float = 10.0) -> Iterator[str]:
    """Run nginx on 127.0.0.1:``port`` with its files in ``directory``; yield its base URL.

    Stopped with SIGQUIT (graceful) and then SIGKILL if it lingers, whatever happens inside.
    """
    directory.mkdir(parents=True, exist_ok=True)
    conf = write_config(directory, port)
    # -e: the start-up error log, before the config's error_log applies (the compiled-in default
    # may not be writable by this user).
    args = [find_nginx(), "-p", str(directory), "-e", str(directory / "error.log"), "-c", str(conf)]
    with open(directory / "stderr.log", "wb") as err:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
    try:
        _wait_listening(port, proc, timeout_s=timeout_s)
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)  # graceful shutdown of master and worker
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
