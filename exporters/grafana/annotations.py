"""Grafana annotations for a run, and the link to the run on its dashboard.

During a run with ``--grafana-url``, ``GrafanaAnnotator`` posts a region annotation that spans the
run (created at the start, its end set at the finish), a point annotation at every phase change
(ramp-up, warm-up, steady state, cool-down, safety stop) and the verdict at the end, each tagged
``loadlens``, the scenario and the run_id. Calls come from the load loop and only queue the
annotation: the HTTP requests (grafana-client 3.11, i.e. plain requests/urllib3, see facts.md) run
one at a time on an OS thread of the annotator's own gevent ``ThreadPool``, as in
exporters/periodic.py, with a short timeout. The queue is bounded and drops its oldest entry when
Grafana falls behind, failures are logged at most once per interval (exporters/ratelimit.py) and
never raised, so a Grafana that is down or slow costs the load nothing.

How the client connects and how its errors become one line: exporters/grafana/api.py.
"""

from __future__ import annotations

import gc
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from exporters.base import ReadState
from exporters.grafana.api import EXTRA_HINT, connect, translate_error
from exporters.ratelimit import RateLimitedLog
from runner.errors import ExporterError
from runner.logs import redact_text
from runner.model import LiveState, RunInfo, Status, Verdict

TAG = "loadlens"
DEFAULT_DASHBOARD_UID = "loadlens-live"
DEFAULT_TIMEOUT_S = 2.0
# What a phase-change annotation says; a phase not listed here is shown by its name.
PHASE_TEXT: Mapping[str, str] = MappingProxyType(
    {
        "ramp-up": "ramp-up: users are being started",
        "warm-up": "warm-up: all users running, not judged yet",
        "steady": "steady state: the judged window begins",
        "cool-down": "cool-down: the judged window ends",
        "ramp-down": "ramp-down: users are being stopped",
        "safety stop": "safety stop: a server-side limit stopped the run",
        "stopped": "stopped",
    }
)
_MAX_ERROR_CHARS = 300


# -- pure helpers --------------------------------------------------------------------------------
def dashboard_link(base_url: str, *, uid: str, run_id: str, start: float, end: float) -> str:
    """The dashboard ``uid`` on the Grafana at ``base_url`` with its time range set to
    [``start``, ``end``] (epoch seconds; from/to in epoch ms, widened to whole ms) and the
    ``run_id`` variable selected. Credentials and query parameters of ``base_url`` are dropped."""
    parts = urlsplit(base_url.strip())
    host = parts.netloc.rpartition("@")[2]
    start_ms = math.floor(start * 1000)
    end_ms = max(start_ms, math.ceil(end * 1000))
    query = urlencode({"from": start_ms, "to": end_ms, "var-run_id": run_id})
    path = f"{parts.path.rstrip('/')}/d/{quote(uid, safe='')}"
    return urlunsplit((parts.scheme, host, path, query, ""))


def verdict_text(verdict: Verdict, *, max_listed: int = 10) -> str:
    """The verdict annotation's text: ``FAIL (exit 1) — 2 of 14 criteria failed`` and then each
    failed (and inconclusive) criterion with its observed value, limit and reason; credentials
    redacted, at most ``max_listed`` criteria named."""
    from runner.reports.redact import redacted_verdict
    from runner.reports.tables import observed_and_limit, verdict_line

    verdict = redacted_verdict(verdict)
    lines = [f"loadlens verdict: {verdict_line(verdict)}"]
    explained = [r for r in verdict.results if r.status is Status.FAIL] + [
        r for r in verdict.results if r.status is Status.INCONCLUSIVE
    ]
    for result in explained[:max_listed]:
        observed, limit = observed_and_limit(result)
        lines.append(f"{result.status.label} {result.name}: {observed} (limit {limit}) — {result.reason}")
    if len(explained) > max_listed:
        lines.append(f"… and {len(explained) - max_listed} more")
    return "\n".join(lines)


# -- the annotator -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Note:
    """One annotation to send. ``kind``: "region" (the run, opened), "phase", "verdict", or
    "close" (the run's region with its end: a PATCH when the region's id is known, else a POST)."""

    kind: str
    time_ms: int
    end_ms: int | None
    tags: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class AnnotatorStats:
    """What the annotator has done so far."""

    sent: int
    failed: int
    dropped: int  # pushed out of the full queue, or left unsent when the end-of-run wait ran out
    pending: int
    in_flight: bool


class GrafanaAnnotator:
    """Annotates one run in Grafana; every public method returns at once and never raises
    (except ``start``, with ``ExporterError``, when grafana-client is not installed).

    Call ``start``, ``mark``, ``finish`` and ``stop`` on the load loop's thread. ``dashboard_uid``
    ties the annotations to one dashboard; without it they are organisation-wide, shown by any
    dashboard whose annotation query filters on the ``loadlens`` tag.
    """

    name = "grafana"

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        dashboard_uid: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_pending: int = 64,
        drain_s: float = 5.0,
        log: RateLimitedLog | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.url = url
        self._token = token
        self._dashboard_uid = dashboard_uid
        self._timeout_s = timeout_s
        self._max_pending = max_pending
        self._drain_s = drain_s  # after stop: how long queued annotations may still take to go out
        self._log = log or RateLimitedLog(every_s=30.0)
        self._clock = clock
        self._pending: deque[Note] = deque()
        self._tags: tuple[str, ...] = ()
        self._info: RunInfo | None = None
        self._last_phase: str | None = None
        self._finished = self._stopping = self._failing = self._in_flight = False
        self._deadline = 0.0
        self._region_id: int | None = None
        self._sent = self._failed = self._dropped = 0
        self._api: Any = None  # created and used on the pool's thread only
        self._pool: Any = None
        self._consumer: Any = None
        self._wake: Any = None
        self._done: Any = None

    # -- the Exporter protocol and the run's events (the load loop's thread) ----------------------
    def start(self, info: RunInfo, read_state: ReadState) -> None:
        """Queue the run's region annotation (from ``info.started_at``) and start the sender."""
        if self._info is not None:
            return
        try:
            import grafana_client  # noqa: F401  (fail here, before any user starts)
        except ImportError:
            raise ExporterError(
                f"Grafana annotations need grafana-client, not installed here: {EXTRA_HINT}"
            ) from None
        import gevent
        from gevent.event import Event
        from gevent.threadpool import ThreadPool

        self._info = info
        self._tags = tuple(dict.fromkeys(t for t in (TAG, info.scenario, info.run_id) if t))
        self._wake, self._done = Event(), Event()
        self._pool = ThreadPool(1)
        self._consumer = gevent.spawn(self._consume)
        text = f"loadlens run {info.run_id} ({info.scenario})"
        self._enqueue(Note("region", _ms(info.started_at), None, (*self._tags, "run"), text))
        self._log.info(
            "annotating the run in Grafana", exporter=self.name, url=redact_text(self.url), tags=self._tags
        )

    def mark(self, phase: str, *, at: float, detail: str = "") -> None:
        """Queue a point annotation at ``at`` (epoch s) for a change to ``phase``; a repeat of the
        last phase is ignored. ``detail`` is appended to the text (e.g. the safety stop's reason)."""
        if self._info is None or self._finished or self._stopping or phase == self._last_phase:
            return
        self._last_phase = phase
        text = PHASE_TEXT.get(phase, phase) + (f" ({redact_text(detail)})" if detail else "")
        self._enqueue(Note("phase", _ms(at), None, (*self._tags, "phase"), text))

    def finish(self, *, status: str, summary: str, end: float) -> None:
        """Queue the region's end at ``end`` (epoch s) and the verdict annotation (``status`` such
        as "fail", ``summary`` its text, e.g. ``verdict_text(verdict)``). Only the first call counts."""
        if self._info is None or self._finished or self._stopping:
            return
        self._finished = True
        self._close_region(end, f"loadlens run {self._info.run_id} ({self._info.scenario}): {status.upper()}")
        tags = (*self._tags, "verdict", status) if status not in self._tags else (*self._tags, "verdict")
        self._enqueue(Note("verdict", _ms(end), None, tags, redact_text(summary)))

    def stop(self, final: LiveState) -> None:
        """Close the region now if ``finish`` was never called, then send what is queued in the
        background, giving up after ``drain_s``."""
        if self._info is None:
            return
        if self._stopping:
            return
        if not self._finished:
            self._finished = True
            info = self._info
            self._close_region(
                self._clock(), f"loadlens run {info.run_id} ({info.scenario}): ended without a verdict"
            )
        self._stopping = True
        self._deadline = time.monotonic() + self._drain_s
        self._wake.set()
        import gevent

        gevent.spawn(self._wind_down)

    def wait_linger(self, timeout_s: float | None = None) -> bool:
        """Wait (cooperatively) until the queue is sent or given up on; bounded by ``drain_s`` plus
        the in-flight request's timeout even when ``timeout_s`` is None. True when done."""
        if self._done is None:
            return True  # never started: nothing to wait for
        if not self._stopping:
            return False  # only stop() ends the sending; waiting before it would never end
        return bool(self._done.wait(timeout_s))

    @property
    def stats(self) -> AnnotatorStats:
        return AnnotatorStats(self._sent, self._failed, self._dropped, len(self._pending), self._in_flight)

    # -- the queue (the load loop's thread) --------------------------------------------------------
    def _close_region(self, end: float, text: str) -> None:
        assert self._info is not None
        start_ms = _ms(self._info.started_at)
        note = Note("close", start_ms, max(start_ms, _ms(end)), (*self._tags, "run"), text)
        self._enqueue(note)

    def _enqueue(self, note: Note) -> None:
        if len(self._pending) >= self._max_pending:
            self._pending.popleft()
            self._dropped += 1
            self._log.warning(
                "Grafana is not keeping up: dropped the oldest queued annotation",
                exporter=self.name,
                dropped=self._dropped,
            )
        self._pending.append(note)
        self._wake.set()

    def _consume(self) -> None:
        """A greenlet: hands the queued notes, one at a time, to the pool's OS thread."""
        while True:
            if not self._pending:
                if self._stopping:
                    return
                self._wake.clear()
                self._wake.wait()
                continue
            if self._stopping and time.monotonic() >= self._deadline:
                self._give_up("stopped waiting for Grafana")
                return
            note = self._pending.popleft()
            self._in_flight = True
            try:
                annotation_id, error = self._pool.spawn(self._send, note, self._region_id).get()
            finally:
                self._in_flight = False
            self._settle(note, annotation_id, error)

    def _settle(self, note: Note, annotation_id: int | None, error: str | None) -> None:
        if error is None:
            self._sent += 1
            if note.kind == "region":
                self._region_id = annotation_id
            if self._failing:
                self._failing = False
                self._log.info("Grafana annotations recovered", exporter=self.name)
            return
        self._failed += 1
        self._failing = True
        self._log.warning(
            "Grafana annotation failed",
            force=self._stopping and note.kind in ("close", "verdict"),
            exporter=self.name,
            annotation=note.kind,
            error=error,
            failures=self._failed,
        )

    def _give_up(self, why: str) -> None:
        left = len(self._pending)
        self._pending.clear()
        self._dropped += left
        if left:
            self._log.warning(why, force=True, exporter=self.name, unsent=left)

    def _wind_down(self) -> None:
        grace_s = self._drain_s + 2 * self._timeout_s + 1.0
        try:
            self._consumer.join(timeout=grace_s)
            if not self._consumer.dead:
                self._give_up("Grafana did not answer in time: annotations left unsent")
                return
            # Release the client's sockets on the thread whose gevent hub owns them (see otlp.py).
            self._pool.spawn(self._close_client).wait(self._timeout_s + 1.0)
        finally:
            # The pool's idle thread is left to end with the process, as in exporters/periodic.py.
            self._done.set()

    # -- on the pool's OS thread -----------------------------------------------------------------
    def _send(self, note: Note, region_id: int | None) -> tuple[int | None, str | None]:
        request = "POST /api/annotations"
        try:
            if self._api is None:
                self._api = connect(self.url, token=self._token, timeout_s=self._timeout_s)
            annotations = self._api.annotations
            if note.kind == "close" and region_id is not None:
                request = f"PATCH /api/annotations/{region_id}"
                # PATCH replaces the tags when given: send them again, or Grafana would clear them.
                annotations.partial_update_annotation(
                    region_id, time_to=note.end_ms, tags=list(note.tags), text=note.text
                )
                return region_id, None
            body = annotations.add_annotation(
                dashboard_uid=self._dashboard_uid,
                time_from=note.time_ms,
                time_to=note.end_ms,
                tags=list(note.tags),
                text=note.text,
            )
            annotation_id = body.get("id") if isinstance(body, dict) else None
            return (annotation_id if isinstance(annotation_id, int) else None), None
        except Exception as exc:
            try:
                error = translate_error(
                    exc, url=self.url, request=request, token=self._token, timeout_s=self._timeout_s
                )
                return None, str(error)
            except Exception:  # never let a translation bug escape the thread
                return None, redact_text(f"{type(exc).__name__}: {exc}")[:_MAX_ERROR_CHARS]

    def _close_client(self) -> None:
        try:
            if self._api is not None:
                self._api.client.s.close()
        finally:
            self._api = None
            gc.collect()


def _ms(epoch_s: float) -> int:
    return round(epoch_s * 1000)
