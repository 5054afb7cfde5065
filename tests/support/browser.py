"""A real headless Chromium driven over the DevTools protocol (CDP), for the report's tests.

Chromium runs as a process on 127.0.0.1 (``--remote-debugging-port``); this module speaks CDP over
its websocket with websocket-client, synchronously: each command waits for its answer and keeps
the events that came meanwhile (console messages, exceptions, network requests). Every request a
page makes is recorded, and with ``block_network`` every http(s)/ws(s) request is refused, so a
test can prove a page needs nothing from outside.
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

from tests.support.procs import free_port, require, wait_http
from tests.support.wait import wait_until

BLOCK_ALL = ("http://*", "https://*", "ws://*", "wss://*")


@dataclass
class Page:
    """One browser tab and what it said and asked for since it was opened."""

    ws: websocket.WebSocket
    events: list[dict[str, Any]] = field(default_factory=list)
    _next_id: int = 0

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, timeout_s: float = 30.0
    ) -> dict[str, Any]:
        """Send one command and wait for its answer (events arriving meanwhile are kept)."""
        self._next_id += 1
        msg_id = self._next_id
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(f"no answer to {method} in {timeout_s}s")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (exceptions raise)."""
        out = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in out:
            raise RuntimeError(f"{expression!r} threw: {out['exceptionDetails']}")
        return out["result"].get("value")

    def wait_for(self, expression: str, *, timeout_s: float = 20.0) -> Any:
        """Poll ``expression`` until it is truthy; its value."""
        return wait_until(lambda: self.evaluate(expression), timeout_s, what=f"the page's {expression}")

    def open(self, url: str, *, block: Sequence[str] = ()) -> None:
        """Navigate to ``url`` (refusing requests matching ``block``) and wait for the load event."""
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Network.setBlockedURLs", {"urls": list(block)})
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
        )
        self.send("Page.navigate", {"url": url})

        def loaded() -> bool:
            self.send("Runtime.evaluate", {"expression": "1"})  # a round trip brings the events in
            return any(e["method"] == "Page.loadEventFired" for e in self.events)

        wait_until(loaded, 30, what=f"the load event of {url}", interval_s=0.05)

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries seen so far."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                out.append(json.dumps(p.get("exceptionDetails", {}))[:500])
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(json.dumps(p.get("args", []))[:500])
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(str(p["entry"].get("text")))
        return out

    def requests(self) -> list[str]:
        """Every URL the page asked for (the document itself included), in order."""
        return [
            e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"
        ]

    def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page, 1400 CSS pixels wide."""
        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1400, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        self.evaluate("window.dispatchEvent(new Event('resize')), 1")
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@dataclass(frozen=True)
class Browser:
    """A running headless Chromium, reached at ``base`` (its DevTools HTTP endpoint). Each ``tab()``
    is a fresh page of its own: its own websocket, events, blocked URLs and emulation, closed after
    use, so tests sharing one browser process share nothing else (the pages keep no storage)."""

    base: str

    @contextlib.contextmanager
    def tab(self) -> Iterator[Page]:
        """A new blank tab, closed afterwards."""
        req = urllib.request.Request(f"{self.base}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as resp:
            target = json.loads(resp.read())
        ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        try:
            yield Page(ws)
        finally:
            ws.close()
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{self.base}/json/close/{target['id']}", timeout=10).close()


@contextlib.contextmanager
def browser(tmp: Path) -> Iterator[Browser]:
    """A headless Chromium process on 127.0.0.1 (its profile and log in ``tmp``), stopped afterwards.
    Starting one costs about a second: a module or session shares it and takes a ``tab()`` per test."""
    binary = require("chromium")
    port = free_port()
    log = open(tmp / "chromium.log", "wb")  # noqa: SIM115 - closed with the process, below
    proc = subprocess.Popen(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",  # no update checks or field trials: no stray request
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-sync",
            "--remote-debugging-address=127.0.0.1",
            f"--remote-debugging-port={port}",
            f"--user-data-dir={tmp / 'chromium-profile'}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/json/version", proc=proc)
        yield Browser(base)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@contextlib.contextmanager
def chromium(tmp: Path) -> Iterator[Page]:
    """A headless Chromium process of its own and one blank tab of it, closed afterwards."""
    with browser(tmp) as b, b.tab() as page:
        yield page


# Each chart of the page: its non-transparent canvas pixels (uPlot draws axes, grid, shading and
# series on one canvas) and how many values its series drew (``data-points``, set by the page).
CHARTS_DRAWN_JS = """
(() => Array.from(document.querySelectorAll('.chart')).map(box => {
  const c = box.querySelector('canvas');
  if (!c || !c.width || !c.height) return {chart: box.dataset.chart, painted: 0, points: 0};
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let painted = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) painted++;
  return {chart: box.dataset.chart, painted, points: Number(box.dataset.points || 0)};
}))()
"""
