"""The run report while the run goes on: the same page, built from the running state.

Served at ``/report`` by the Prometheus exporter's server and at ``/loadlens`` on Locust's web UI;
the page fetches ``<path>/data.json`` every few seconds and redraws, so criteria turn red as they
break. A live page never shows PASS: until the run has ended its status is at best INCONCLUSIVE
(the verdict is made, and written to report.html, when the run ends).

Both servers answer on the load loop's hub. Only the state is read there (``live_state()``, a
frozen snapshot); the page is built from it in a real OS thread (gevent's thread pool), because a
day-long run over 200 endpoints takes ~0.3 s to draw and a stall that long on the loop would show
up as latency in every user's requests. A built document is reused for half a refresh period, so
several open tabs cost what one does.
"""

from __future__ import annotations

import importlib.metadata
import json
import time
from collections.abc import Callable
from typing import Any

import gevent

from runner import __version__
from runner.judge.verdict import decide
from runner.model import LiveState, RunRecord
from runner.reports.html import json_for_script, render_page
from runner.reports.html.data import PageOptions, page_data

REFRESH_S = 5.0
DATA_PATH = "data.json"  # below the page's own path: /report/data.json, /loadlens/data.json


def live_record(state: LiveState) -> RunRecord:
    """A RunRecord of the run so far: the whole run is the judged window, the criteria are the
    running ones, and the status is at best INCONCLUSIVE (the run has not ended)."""
    snap = state.cumulative
    start = state.timeline[0].start if state.timeline else snap.start
    if state.phase == "stopped":
        why = "live view of a run that has ended: its verdict is report.html in the run directory"
    else:
        why = f"live view ({state.phase}): the verdict is made when the run ends"
    verdict = decide(state.results, incomplete=[why])
    return RunRecord(
        info=state.info,
        run_start=start,
        run_end=max(snap.end, start),
        window_start=start,
        window_end=max(snap.end, start),
        window_kind="run so far",
        whole=snap,
        judged=snap,
        timeline=state.timeline,
        verdict=verdict,
        server=state.server,
        server_missing=state.server_missing,
        versions={"loadlens": __version__, "locust": _locust_version()},
    )


def live_document(state: LiveState, *, page_path: str, refresh_s: float = REFRESH_S) -> dict[str, Any]:
    """The page document of the running state, polling ``page_path``/data.json."""
    url = page_path.rstrip("/") + "/" + DATA_PATH
    return page_data([live_record(state)], options=PageOptions(live_url=url, live_every_s=refresh_s))


def live_page(state: LiveState, *, page_path: str) -> bytes:
    """The whole live page (HTML, UTF-8)."""
    return render_page(live_document(state, page_path=page_path)).encode("utf-8")


def live_json(state: LiveState, *, page_path: str) -> bytes:
    """The document the live page polls (JSON, UTF-8)."""
    return json.dumps(live_document(state, page_path=page_path), allow_nan=False).encode("utf-8")


Offload = Callable[[Callable[[], bytes]], bytes]


def in_thread(build: Callable[[], bytes]) -> bytes:
    """Run ``build`` in gevent's pool of real threads; the calling greenlet waits, the hub goes on."""
    return gevent.get_hub().threadpool.apply(build)


class LiveReport:
    """One server's live page and its data, built off the load loop, at most every half period."""

    def __init__(
        self,
        read_state: Callable[[], LiveState],
        *,
        page_path: str,
        refresh_s: float = REFRESH_S,
        offload: Offload = in_thread,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read_state = read_state
        self.page_path = page_path
        self._refresh_s = refresh_s
        self._offload = offload
        self._clock = clock
        self._cached: dict[str, tuple[float, bytes]] = {}

    def answer(self, kind: str) -> bytes:
        """``kind`` "page" (HTML) or "data" (JSON) of the current state."""
        now = self._clock()
        hit = self._cached.get(kind)
        if hit is not None and now - hit[0] < self._refresh_s / 2:
            return hit[1]
        state = self._read_state()  # on the loop: a frozen snapshot
        render = live_page if kind == "page" else live_json
        body = self._offload(lambda: render(state, page_path=self.page_path))
        self._cached[kind] = (now, body)
        return body


def route(path: str, page_path: str) -> str | None:
    """ "page" for ``page_path`` itself, "data" for its data.json, None for any other path."""
    base = page_path.rstrip("/")
    if path in (base, base + "/"):
        return "page"
    if path == f"{base}/{DATA_PATH}":
        return "data"
    return None


def add_web_ui_report(
    web_ui: Any, read_state: Callable[[], LiveState], *, page_path: str = "/loadlens"
) -> None:
    """Serve the live page on Locust's web UI (a Flask app), behind its login when one is set."""
    from flask import Response

    guard = getattr(web_ui, "auth_required_if_enabled", lambda view: view)
    report = LiveReport(read_state, page_path=page_path)

    @guard
    def page() -> Response:
        return Response(report.answer("page"), mimetype="text/html")

    @guard
    def data() -> Response:
        return Response(report.answer("data"), mimetype="application/json")

    web_ui.app.add_url_rule(page_path, "loadlens_report", page)
    web_ui.app.add_url_rule(f"{page_path}/{DATA_PATH}", "loadlens_report_data", data)


def _locust_version() -> str:
    try:
        return importlib.metadata.version("locust")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - loadlens always has Locust
        return "unknown"


__all__ = [
    "LiveReport",
    "add_web_ui_report",
    "json_for_script",
    "live_document",
    "live_json",
    "live_page",
    "live_record",
    "route",
]
