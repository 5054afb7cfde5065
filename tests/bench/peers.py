"""The exporters' counterparts for the ``loadlens+export`` mode, run inside the benchmark process.

- ``OtlpSink``: a tiny HTTP server on 127.0.0.1 that answers 200 to every POST (what an OTLP/HTTP
  collector does when it accepts a batch) and counts them. It is a stand-in, since no collector
  can be installed here; decoding is not its job (tests/exporters/test_otlp.py does that).
- ``Scraper``: a thread that GETs /metrics once a second, as a Prometheus with
  ``scrape_interval: 1s`` would, for a bounded number of times.

Both are plain OS threads in a process that gevent never patched, so they cost the measured Locust
process only what a real scrape or collector would: the request it has to answer.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _SinkHandler(BaseHTTPRequestHandler):
    server: _SinkServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.server.lock:
            self.server.posts += 1
            self.server.bytes += len(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: one line per export would bury the benchmark's output


class _SinkServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _SinkHandler)
        self.lock = threading.Lock()
        self.posts = 0
        self.bytes = 0


class OtlpSink:
    """Accepts OTLP/HTTP exports on 127.0.0.1:``port``; ``posts`` counts them."""

    def __init__(self, port: int) -> None:
        self._server = _SinkServer(port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-sink", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1/metrics"

    @property
    def posts(self) -> int:
        with self._server.lock:
            return self._server.posts

    def __enter__(self) -> OtlpSink:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class Scraper:
    """GETs ``url`` every ``every_s`` until stopped or ``max_scrapes`` is reached.

    Failed scrapes (the exporter not up yet, or gone) are counted, not raised: a benchmark reports
    them. ``ok`` counts answers with status 200 whose body has ``must_contain``.
    """

    def __init__(
        self, url: str, *, every_s: float = 1.0, max_scrapes: int, must_contain: str = "loadlens"
    ) -> None:
        self._url = url
        self._every_s = every_s
        self._max = max_scrapes
        self._must_contain = must_contain.encode()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scraper", daemon=True)
        self.ok = 0
        self.failed = 0
        self.last_bytes = 0
        self.durations_s: list[float] = []  # of the successful scrapes

    def _loop(self) -> None:
        next_at = time.monotonic()
        for _ in range(self._max):
            if self._stop.wait(max(0.0, next_at - time.monotonic())):
                return
            next_at += self._every_s
            began = time.perf_counter()
            try:
                with urllib.request.urlopen(self._url, timeout=self._every_s) as resp:
                    body = resp.read()
                if resp.status == 200 and self._must_contain in body:
                    self.ok += 1
                    self.last_bytes = len(body)
                    self.durations_s.append(time.perf_counter() - began)
                else:
                    self.failed += 1
            except (OSError, urllib.error.URLError):
                self.failed += 1

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
