"""What `loadlens run` refuses before any load, and what it leaves when a run never started.

- The target host (``-H``/``--host`` or ``[run] host``): a URL with a scheme, a host and a port in
  range. Without this, Locust's HttpUser raises on every request (``-H 127.0.0.1:8080`` printed
  about 1,500 tracebacks in 3 s). Schemes other than http(s) that non-HTTP User classes use
  (WebSocket, gRPC, MQTT, Kafka, databases ...) are accepted; ``ftp://``, ``file://`` and typos are
  not.
- The locustfile: a syntax error, a failed import or an exception while Locust imports it becomes
  one line, ``locustfile.py:12: SyntaxError: expected ':'`` (exit 2); ``--debug`` shows the
  traceback.
- A run refused before its first request (a port in use, a bad bind address, a locustfile that
  does not import) leaves no run directory behind: only files Locust created empty are removed,
  never anything that holds data.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runner.errors import UsageError

# Schemes Locust User classes are known to take as a host besides http(s): locust-plugins and
# Locust's own contrib users (WebSocket, gRPC, MQTT, Kafka, SocketIO, database and queue clients).
NON_HTTP_SCHEMES = frozenset(
    {
        "ws", "wss", "grpc", "grpcs", "mqtt", "mqtts", "tcp", "udp", "ssl", "tls", "amqp", "amqps",
        "kafka", "redis", "rediss", "postgres", "postgresql", "mysql", "mongodb", "mongodb+srv",
        "ldap", "ldaps", "smtp", "imap", "sftp", "ssh", "telnet", "zmq",
    }
)  # fmt: skip
_LOCUST_OUTPUTS = ("locust_stats.csv", "locust_failures.csv", "locust_exceptions.csv",
                   "locust_stats_history.csv", "locust.html")  # fmt: skip


class LocustfileError(UsageError):
    """The locustfile could not be imported; the message is ``file:line: Type: message``."""


def check_host(host: str, *, where: str) -> None:
    """Raise a one-line UsageError when ``host`` cannot be a Locust target."""
    example = f"http://{host}" if "://" not in host else "http://127.0.0.1:8080"
    if "://" not in host:
        raise UsageError(f"{where} {host}: no scheme: expected a URL such as {example}")
    try:
        parts = urlsplit(host)
        port = parts.port  # raises ValueError past 65535 or for text
    except ValueError as exc:
        raise UsageError(f"{where} {host}: {exc} (expected a URL such as http://127.0.0.1:8080)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") and scheme not in NON_HTTP_SCHEMES:
        raise UsageError(f"{where} {host}: unsupported scheme {parts.scheme!r}: expected http:// or https://")
    if not parts.hostname:
        raise UsageError(f"{where} {host}: no host name: expected a URL such as http://127.0.0.1:8080")
    if port == 0:
        raise UsageError(f"{where} {host}: port 0 is not a port to send requests to")


def one_line(exc: BaseException, path: str) -> str:
    """``file:line: Type: message`` for an exception raised while importing the locustfile at
    ``path``: the line is where the locustfile itself failed (or the deepest frame of it)."""
    name = type(exc).__name__
    if isinstance(exc, SyntaxError):
        where = f"{Path(exc.filename or path).name}:{exc.lineno}" if exc.lineno else Path(path).name
        return f"{where}: {name}: {exc.msg}"
    target = Path(path).resolve()
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if Path(f.filename).resolve() == target]
    frame = own[-1] if own else (frames[-1] if frames else None)
    where = f"{Path(frame.filename).name}:{frame.lineno}" if frame is not None else Path(path).name
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{where}: {name}: {message}" if message else f"{where}: {name}"


@contextmanager
def locustfile_errors_as_one_line() -> Iterator[None]:
    """While Locust runs, its locustfile loader turns import failures into LocustfileError."""
    import locust.main as locust_main

    original: Callable[..., Any] = locust_main.load_locustfile

    def load(path: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(path, *args, **kwargs)
        except SystemExit:
            raise
        except Exception as exc:  # the user's code: anything it raises while importing
            raise LocustfileError(one_line(exc, path)) from exc

    locust_main.load_locustfile = load
    try:
        yield
    finally:
        locust_main.load_locustfile = original


def discard_unstarted(run_dir: Path | None) -> bool:
    """Remove ``run_dir`` when it holds nothing but outputs Locust created empty (a run refused
    before any load); True when removed. Anything else in it, or any file with data, keeps it."""
    if run_dir is None or not run_dir.is_dir():
        return False
    entries = list(run_dir.iterdir())
    if any(e.name not in _LOCUST_OUTPUTS or not e.is_file() or e.stat().st_size > 0 for e in entries):
        return False
    for entry in entries:
        entry.unlink()
    run_dir.rmdir()
    return True
