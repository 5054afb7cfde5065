"""Prometheus /metrics, served from the process that holds the merged view.

The exposition is rendered from the run's state at scrape time, on the load loop's thread: the
HTTP server is gevent's WSGIServer, whose handlers are greenlets on the same hub as Locust's users,
whether or not gevent has monkey-patched the process. (prometheus_client's own server runs its
handler in a thread; that is only a greenlet when the process is monkey-patched, and a real thread
reading the state would race the load loop. It was also no faster: tests/bench/bench_scrape.py.)
There is no registry at all, so no global state: each exporter renders its own text.

After ``stop(final)`` the endpoint keeps serving ``final`` for ``linger_s`` so Prometheus' last
scrape sees the end of the run, then closes; ``wait_linger()`` waits for that.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable, Iterable
from typing import Any

import gevent
from gevent.event import Event
from gevent.pywsgi import WSGIServer

from exporters.base import ReadState
from exporters.cardinality import LabelFolder
from exporters.exposition import CONTENT_TYPE, ScrapeHealth, TextExposition
from exporters.ratelimit import RateLimitedLog
from exporters.settings import PrometheusSettings
from runner.errors import ExporterError
from runner.model import LiveState, RunInfo
from runner.reports.html import live as live_report

StartResponse = Callable[..., Any]
REPORT_PATH = "/report"


class PrometheusExporter:
    """Serves the exposition on ``settings.bind:settings.port`` (any path answers, like
    prometheus_client's handler; /metrics is the documented one), and the live run report at
    ``/report`` (its data at ``/report/data.json``)."""

    name = "prometheus"

    def __init__(
        self,
        settings: PrometheusSettings,
        *,
        expected_statuses: Iterable[int] = (),
        log: RateLimitedLog | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.settings = settings
        folder = LabelFolder(
            max_names=settings.max_names,
            max_statuses=settings.max_statuses,
            expected_statuses=expected_statuses,
        )
        self._exposition = TextExposition(folder)
        self._log = log or RateLimitedLog(every_s=settings.log_every_s)
        self._clock = clock
        self._read_state: ReadState | None = None
        self._final: LiveState | None = None
        self._server: WSGIServer | None = None
        self._linger: gevent.Greenlet | None = None
        self._wake = Event()  # ends the linger early (close())
        self._closed = Event()
        self._scrapes = 0
        self._errors = 0
        self._last_duration_s: float | None = None
        self._live = live_report.LiveReport(self._state, page_path=REPORT_PATH)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, info: RunInfo, read_state: ReadState) -> None:
        """Bind and serve; ``ExporterError`` with one line when the address cannot be used."""
        if self._server is not None:
            raise ExporterError("the Prometheus exporter is already started")
        self._read_state = read_state
        bind, port = self.settings.bind, self.settings.port
        server = WSGIServer((bind, port), self.wsgi, log=None, error_log=_ErrorLog(self._log))
        try:
            server.start()
        except OSError as exc:
            raise ExporterError(f"cannot serve /metrics on {_hostport(bind, port)}: {_reason(exc)}") from None
        self._server = server
        host, bound = self.address
        self._log.info(
            "serving /metrics",
            exporter=self.name,
            address=f"http://{_hostport(host, bound)}/metrics",
            run_id=info.run_id,
        )

    def stop(self, final: LiveState) -> None:
        """Serve ``final`` from now on, for ``linger_s``, then close (in the background)."""
        if self._final is not None:
            return
        self._final = final
        if self._server is None:
            self._closed.set()
            return
        if self.settings.linger_s > 0:
            self._log.info(
                "serving the final state so the last scrape sees the end; Ctrl-C or SIGTERM ends the wait",
                exporter=self.name,
                linger_s=self.settings.linger_s,
            )
        self._linger = gevent.spawn(self._linger_then_close)

    def wait_linger(self, timeout_s: float | None = None) -> bool:
        """Wait until the linger is over and the endpoint closed; True when it is."""
        return bool(self._closed.wait(timeout_s))

    def close(self) -> None:
        """Close now: no (further) linger. Safe to call at any time, more than once."""
        self._wake.set()
        if self._linger is None or self._linger.dead:
            self._shutdown()

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound: the OS's choice when the port was 0."""
        if self._server is None:
            raise ExporterError("the Prometheus exporter is not started")
        host, port = self._server.address[:2]
        return str(host), int(port)

    @property
    def health(self) -> ScrapeHealth:
        """Scrapes served, failed, and how long the previous one took."""
        return ScrapeHealth(scrapes=self._scrapes, errors=self._errors, last_duration_s=self._last_duration_s)

    def render(self) -> bytes:
        """The exposition for the current state (``final`` once stopped). Runs on the load loop."""
        return self._exposition.render(self._state(), health=self.health)

    def _state(self) -> LiveState:
        if self._final is not None:
            return self._final
        assert self._read_state is not None
        return self._read_state()

    # -- internals ------------------------------------------------------------------------------
    def _linger_then_close(self) -> None:
        self._wake.wait(self.settings.linger_s)
        self._shutdown()

    def _shutdown(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop(timeout=1.0)
        self._closed.set()

    def wsgi(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI application behind the server: GET renders, anything else is 405."""
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Type", "text/plain")])
            return [b"use GET\n"]
        page = live_report.route(environ.get("PATH_INFO", ""), REPORT_PATH)
        if page is not None:
            return self._report(page, start_response)
        began = self._clock()
        try:
            body = self.render()
        except Exception as exc:  # a broken state read must not kill the server nor the run
            self._errors += 1
            self._log.warning("a /metrics scrape failed", exporter=self.name, error=repr(exc))
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"loadlens: could not read the run's state (see the run's log)\n"]
        # No gzip: on loopback and LANs it costs the load loop more CPU than it saves.
        start_response("200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))])
        self._scrapes += 1
        self._last_duration_s = self._clock() - began
        return [body]

    def _report(self, page: str, start_response: StartResponse) -> Iterable[bytes]:
        """The live run report (``page``: "page" or "data"), drawn from the same state as /metrics."""
        try:
            body = self._live.answer(page)
        except Exception as exc:  # a broken page must not kill the server nor the run
            self._log.warning("the live report failed", exporter=self.name, error=repr(exc))
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"loadlens: could not draw the live report (see the run's log)\n"]
        kind = "text/html; charset=utf-8" if page == "page" else "application/json"
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]


class _ErrorLog:
    """gevent's error log (bad client requests) routed to the rate-limited structlog logger."""

    def __init__(self, log: RateLimitedLog) -> None:
        self._log = log

    def write(self, message: str) -> None:
        self._log.warning("the /metrics server saw a bad request", detail=message.strip())

    def flush(self) -> None:
        pass


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _reason(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "address already in use"
    return (exc.strerror or str(exc) or type(exc).__name__).lower()
