"""What `loadlens run` refuses before any load, and what it leaves when a run never started.

- The target host (``-H``/``--host``, ``[run] host`` or a User class's ``host``), checked once
  Locust has loaded the User classes and before the first user starts: for HTTP users an http(s)
  URL with a host and a port in range. Without this, HttpUser raises on every request (``-H
  127.0.0.1:8080`` printed about 1,500 tracebacks in 3 s). Users that are not HTTP users
  (locust-plugins' FTP or Kafka users...) read the host their own way and keep it.
- The locustfile: a syntax error, a failed import or an exception while Locust imports it becomes
  one line, ``locustfile.py:12: SyntaxError: expected ':'`` (exit 2); ``--debug`` shows the
  traceback.
- A run refused before its first request (a port in use, a bad bind address, a locustfile that
  does not import) leaves no run directory behind: only files Locust created empty are removed,
  never anything that holds data.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from runner.errors import LoadlensError, UsageError
from runner.model import RunRecord

if TYPE_CHECKING:
    from runner.config.plan import RunPlan

_LOCUST_OUTPUTS = ("locust_stats.csv", "locust_failures.csv", "locust_exceptions.csv",
                   "locust_stats_history.csv", "locust.html")  # fmt: skip


class LocustfileError(UsageError):
    """The locustfile could not be imported; the message is ``file:line: Type: message``."""


def check_host(host: str, *, where: str, http: bool = True) -> None:
    """Raise a one-line UsageError when ``host`` cannot be the target of the users that take it.

    For HTTP users (HttpUser, FastHttpUser) it must be an http(s) URL with a host and a port in
    range. Other users (locust-plugins' FTP, Kafka, WebSocket users...) read the host their own
    way, often without a scheme: only a port given in a URL is checked for them."""
    if http and "://" not in host:
        raise UsageError(f"{where} {host}: no scheme: expected a URL such as http://{host}")
    if "://" not in host:
        return
    try:
        parts = urlsplit(host)
        port = parts.port  # raises ValueError past 65535 or for text
    except ValueError as exc:
        raise UsageError(f"{where} {host}: {exc} (expected a URL such as http://127.0.0.1:8080)") from None
    if not http:
        return
    if parts.scheme.lower() not in ("http", "https"):
        raise UsageError(f"{where} {host}: unsupported scheme {parts.scheme!r}: expected http:// or https://")
    if not parts.hostname:
        raise UsageError(f"{where} {host}: no host name: expected a URL such as http://127.0.0.1:8080")
    if port == 0:
        raise UsageError(f"{where} {host}: port 0 is not a port to send requests to")


def host_origin(host: str, plan: RunPlan | None) -> str:
    """Who set ``host``, for the message: ``[run] host`` of the config file (its path) or
    LOADLENS_RUN_HOST when that is where the value came from, else the flag."""
    if plan is None or not plan.host or host != plan.host:
        return "-H/--host"
    if "LOADLENS_RUN_HOST" in plan.config.env_applied:
        return "LOADLENS_RUN_HOST"
    return f"{plan.config_path}: [run] host" if plan.config_path else "-H/--host"


def check_targets(host: str | None, user_classes: Iterable[type], plan: RunPlan | None = None) -> None:
    """Check the host every User class will use (``-H``/``[run] host``, else the class's own
    ``host``) before the first user starts, by the rules of that class: HTTP or not. ``plan`` tells
    whether the host came from loadlens's config, so the message names the file and key."""
    from locust import FastHttpUser, HttpUser

    for cls in user_classes:
        own = getattr(cls, "host", None)
        target = host or own
        if not target:
            continue  # Locust itself refuses an HTTP user without a host
        where = host_origin(host, plan) if host else f"{cls.__name__}.host"
        check_host(str(target), where=where, http=issubclass(cls, HttpUser | FastHttpUser))


def check_web_port(host: str, port: int) -> None:
    """Raise a one-line UsageError when Locust's web UI could not bind ``host``:``port``, before
    any load (Locust would print two tracebacks and leave a run directory of empty CSVs). ``host``
    "" or "*" is every interface, as Locust binds it. The socket is closed at once, with
    SO_REUSEADDR as gevent's server sets it, so a port in TIME_WAIT is not mistaken for one in use."""
    import errno
    import socket

    bind_host = "" if host in ("", "*") else host
    try:
        infos = socket.getaddrinfo(bind_host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise UsageError(f"--web-host {host}: {getattr(exc, 'strerror', None) or exc}") from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(f"--web-port {port}: address already in use") from None
            if exc.errno == errno.EACCES:
                raise UsageError(
                    f"--web-port {port}: permission denied (ports below 1024 need privileges): "
                    "choose another --web-port"
                ) from None
            where = f"--web-host {host}" if exc.errno == errno.EADDRNOTAVAIL else f"--web-port {port}"
            raise UsageError(f"{where}: {exc.strerror or exc}") from None


def locustfile_paths(options: Any) -> str:
    """Locust's ``-f`` as given, each file or folder made absolute (URLs kept, loadlens's own plugin
    left out): what ``loadlens init --from`` needs to name the locustfile from anywhere, where
    Locust itself keeps only the first file's name."""
    given = getattr(options, "locustfile", None)
    if not isinstance(given, str) or given == "-":
        return ""
    plugin = Path(__file__).resolve().parents[1] / "plugin.py"
    paths = []
    for entry in (e.strip() for e in given.split(",")):
        if not entry or "://" in entry:
            paths += [entry] if entry else []
        elif Path(entry).resolve() != plugin:
            paths.append(os.path.abspath(entry))
    return ",".join(paths)


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


def merged_exit_code(earlier: int | None, record: RunRecord, plan: RunPlan | None) -> int:
    """The process's exit code. A verdict that does not pass keeps its own (FAIL 1, INCONCLUSIVE
    3). A passing one gives way, in Locust's own order, to a non-zero code the locustfile or a
    Locust plugin set in its ``quitting`` handler (locust-plugins' ``--check-rps`` sets 3: a check
    the user asked for is never turned into a pass), then to ``--exit-code-on-error N`` when the
    user gave it and a request failed (Locust's meaning: failures -> N; an expected status is not
    a failure). Locust's default of 1 on any failure is not applied: the error-rate criterion
    judges failures."""
    verdict = record.verdict
    if verdict.exit_code != 0:
        return verdict.exit_code
    if earlier not in (None, 0):
        return int(earlier)
    on_error = plan.exit_code_on_error if plan is not None else None
    if on_error is not None and record.whole.total().failures > 0:
        return on_error
    return 0


def exit_code_note(exit_code: int, record: RunRecord, on_error: int | None) -> str:
    """The line under the verdict that says where the exit code came from, when it is not the
    verdict's alone ("" when it is): ``--exit-code-on-error`` (applied or not), or the locustfile."""
    verdict = record.verdict
    failures = record.whole.total().failures
    if on_error is not None and failures > 0:
        if verdict.exit_code != 0 and exit_code == verdict.exit_code:
            return (
                f"exit code {exit_code}: the verdict's ({verdict.status.value.upper()}); "
                f"--exit-code-on-error {on_error} applies to a passing run\n"
            )
        if verdict.exit_code == 0 and exit_code == on_error:
            return (
                f"exit code {on_error}: --exit-code-on-error {on_error} ({failures} requests failed); "
                "the verdict alone is exit 0\n"
            )
    if exit_code in (0, verdict.exit_code):
        return ""
    return (
        f"exit code {exit_code}: set by the locustfile or a Locust plugin (locust-plugins' --check-* "
        f"options set 3); loadlens's verdict alone is exit {verdict.exit_code}\n"
    )


OTEL_NOTE = (
    "note: Locust's --otel and loadlens's OTLP export are both on: the collector receives request "
    "latency twice, as Locust's locust.client.duration (per request name, the first 20 names) and as "
    "loadlens's http.client.request.duration (per endpoint, with loadlens's statuses and run labels), "
    "plus Locust's traces; keep one of them unless you want both (docs/from-locust.md)"
)


def otel_overlap(*, locust_otel: bool, loadlens_otlp: bool) -> str | None:
    """The note for a run with both Locust's and loadlens's OpenTelemetry export on, else None."""
    return OTEL_NOTE if locust_otel and loadlens_otlp else None


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Inside Locust's ``init`` event: a LoadlensError is one line on stderr and exit with its code
    (Locust would log an event handler's exception and run on)."""
    import sys

    try:
        yield
    except LoadlensError as exc:
        sys.stderr.write(f"loadlens: {exc}\n")
        raise SystemExit(exc.exit_code) from None


def verdict_stream(options: Any, out: TextIO) -> TextIO:
    """Where the verdict table goes: stderr when Locust's ``--json`` owns stdout (it must stay one
    JSON document), else ``out``."""
    import sys

    return sys.stderr if getattr(options, "json", False) and out is sys.stdout else out
