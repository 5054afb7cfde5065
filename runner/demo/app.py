"""The demo target's application: its jobs, the latency model and the WSGI app (no server here).

runner.demo.service serves it; this module imports no gevent, so tests and Locust can import it.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from runner.timefmt import iso_seconds

MAX_JOBS = 10_000  # oldest jobs are dropped beyond this, so a soak run keeps flat memory
MAX_JOB_BODY_BYTES = 64 * 1024
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_PROMPT_CHARS = 2000
MAX_DURATION_S = 120
DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 100
_READ_CHUNK = 64 * 1024
STOP_TIMEOUT_S = 2.5  # how long SIGTERM waits for requests in flight
_JOB_PATH = re.compile(r"^/api/v1/jobs/([A-Za-z0-9_-]{1,64})$")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

_REASONS = {
    200: "OK",
    201: "Created",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How the service answers: latency medians (log-normal) and error shares.

    ``healthy()`` is what a comfortable staging service looks like; ``degraded()`` is the same service
    with a saturated job queue: job creation p95 ~800 ms and ~5% of all requests failing.
    """

    create_median_ms: float
    create_sigma: float
    create_error_share: float  # 503 on job creation (queue full)
    server_error_share: float  # 500/503 on any request
    rate_limit_share: float = 0.20

    @classmethod
    def healthy(cls) -> Behaviour:
        # median 50 ms, sigma 0.25: 90% of creations fall within ~33-75 ms.
        return cls(create_median_ms=50.0, create_sigma=0.25, create_error_share=0.003, server_error_share=0.0)

    @classmethod
    def degraded(cls) -> Behaviour:
        # median 550 ms, sigma 0.25: p95 ~ 550 * e^(1.645*0.25) ~ 830 ms.
        return cls(
            create_median_ms=550.0, create_sigma=0.25, create_error_share=0.003, server_error_share=0.05
        )


@dataclass(frozen=True, slots=True)
class Job:
    """One submitted video-generation job; its status is derived from the clock when read."""

    id: str
    prompt: str
    duration_s: int
    created_at: float  # epoch seconds, for display
    created_mono: float  # monotonic seconds, for the status clock
    processing_after_s: float
    done_after_s: float

    def view(self, now_mono: float) -> dict[str, Any]:
        age_s = now_mono - self.created_mono
        if age_s < self.processing_after_s:
            status, progress = "queued", 0
        elif age_s < self.done_after_s:
            status = "processing"
            span_s = self.done_after_s - self.processing_after_s
            progress = min(99, int(100 * (age_s - self.processing_after_s) / span_s))
        else:
            status, progress = "done", 100
        return {
            "id": self.id,
            "status": status,
            "progress": progress,
            "prompt": self.prompt,
            "duration_s": self.duration_s,
            "created_at": iso_seconds(self.created_at),
            "output_url": f"s3://loadlens-demo/videos/{self.id}.mp4" if status == "done" else None,
        }


class JobStore:
    """The newest ``capacity`` jobs, oldest dropped first."""

    def __init__(self, *, capacity: int = MAX_JOBS) -> None:
        self._capacity = capacity
        self._jobs: OrderedDict[str, Job] = OrderedDict()

    def add(self, job: Job) -> None:
        self._jobs[job.id] = job
        while len(self._jobs) > self._capacity:
            self._jobs.popitem(last=False)

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def newest(self, limit: int) -> list[Job]:
        out: list[Job] = []
        for job in reversed(self._jobs.values()):
            if len(out) >= limit:
                break
            out.append(job)
        return out

    def __len__(self) -> int:
        return len(self._jobs)


class DemoApp:
    """The WSGI application. ``sleep`` must yield to other requests (``gevent.sleep`` in the server);
    ``clock`` is monotonic seconds and drives job status; ``wall`` stamps ``created_at``."""

    def __init__(
        self,
        *,
        rng: random.Random,
        behaviour: Behaviour,
        sleep: Callable[[float], None],
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        store: JobStore | None = None,
    ) -> None:
        self._rng = rng
        self._b = behaviour
        self._sleep = sleep
        self._clock = clock
        self._wall = wall
        self._store = store if store is not None else JobStore()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Requests being answered right now (idle keep-alive connections are not counted)."""
        return self._in_flight

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        self._in_flight += 1
        try:
            return self._answer(environ, start_response)
        finally:
            self._in_flight -= 1

    def _answer(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        status, body, latency_ms, headers = self._route(method, path, environ)
        # Every random draw for this request happened above, before the first yield: with a seed the
        # set of latencies and errors is the same whatever order concurrent requests interleave in.
        self._sleep(latency_ms / 1000.0)
        payload = json.dumps(body, separators=(",", ":")).encode()
        all_headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            ("Server-Timing", f"app;dur={latency_ms:.1f}"),
            *headers,
        ]
        start_response(f"{status} {_REASONS.get(status, 'Unknown')}", all_headers)
        return [payload]

    # -- routing ---------------------------------------------------------------------------------

    def _route(self, method: str, path: str, environ: dict[str, Any]) -> _Answer:
        if path == "/health":
            return self._only(method, "GET", environ, self._health)
        if path == "/api/v1/jobs":
            if method == "POST":
                return self._guarded(environ, self._create_job)
            return self._only(method, "GET", environ, self._list_jobs)
        match = _JOB_PATH.match(path)
        if match:
            job_id = match.group(1)
            return self._only(method, "GET", environ, lambda env: self._get_job(job_id))
        if path == "/api/v1/assets/upload":
            return self._only(method, "POST", environ, self._upload)
        if path == "/api/v1/rate-limited":
            return self._only(method, "GET", environ, self._rate_limited)
        return 404, {"error": "not_found", "detail": f"no route for {path}"}, self._ms(1.0, 0.3), []

    def _only(self, method: str, allowed: str, environ: dict[str, Any], handler: _Handler) -> _Answer:
        if method != allowed:
            detail = f"{method} is not allowed here"
            return 405, {"error": "method_not_allowed", "detail": detail}, 1.0, [("Allow", allowed)]
        return self._guarded(environ, handler)

    def _guarded(self, environ: dict[str, Any], handler: _Handler) -> _Answer:
        status, body, latency_ms, headers = handler(environ)
        share = self._b.server_error_share
        if share and self._rng.random() < share:
            # A degraded service fails after doing (part of) the work, as an overloaded one does.
            code = 500 if self._rng.random() < 0.5 else 503
            error = "internal_error" if code == 500 else "unavailable"
            return code, {"error": error, "detail": "degraded demo service"}, latency_ms, []
        return status, body, latency_ms, headers

    # -- endpoints -------------------------------------------------------------------------------

    def _health(self, environ: dict[str, Any]) -> _Answer:
        return 200, {"status": "ok"}, self._rng.uniform(1.0, 3.0), []

    def _create_job(self, environ: dict[str, Any]) -> _Answer:
        latency_ms = self._ms(self._b.create_median_ms, self._b.create_sigma)
        raw, too_big = _read_body(environ, limit=MAX_JOB_BODY_BYTES)
        if too_big:
            return 413, {"error": "payload_too_large", "limit_bytes": MAX_JOB_BODY_BYTES}, 2.0, []
        problems = _validate_job(raw)
        if isinstance(problems, list):
            return 422, {"error": "validation_error", "detail": problems}, self._rng.uniform(2.0, 6.0), []
        if self._rng.random() < self._b.create_error_share:
            return 503, {"error": "unavailable", "detail": "job queue is full, retry later"}, latency_ms, []
        prompt, duration_s = problems
        processing_after_s = self._rng.uniform(0.5, 1.5)
        job = Job(
            id=f"job_{uuid.UUID(int=self._rng.getrandbits(128), version=4).hex}",
            prompt=prompt,
            duration_s=duration_s,
            created_at=self._wall(),
            created_mono=self._clock(),
            processing_after_s=processing_after_s,
            done_after_s=processing_after_s + self._rng.uniform(1.5, 3.0),
        )
        self._store.add(job)
        return 201, {"id": job.id, "status": "queued"}, latency_ms, [("Location", f"/api/v1/jobs/{job.id}")]

    def _get_job(self, job_id: str) -> _Answer:
        latency_ms = _clamp(self._rng.lognormvariate(math.log(10.0), 0.35), 4.0, 60.0)
        job = self._store.get(job_id)
        if job is None:
            return 404, {"error": "not_found", "detail": f"no job {job_id}"}, latency_ms, []
        return 200, job.view(self._clock()), latency_ms, []

    def _list_jobs(self, environ: dict[str, Any]) -> _Answer:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        text = query.get("limit", [str(DEFAULT_LIST_LIMIT)])[-1]
        if not text.isdigit() or not 1 <= int(text) <= MAX_LIST_LIMIT:
            detail = [{"field": "limit", "message": f"must be an integer from 1 to {MAX_LIST_LIMIT}"}]
            return 422, {"error": "validation_error", "detail": detail}, 2.0, []
        limit = int(text)
        now = self._clock()
        jobs = [job.view(now) for job in self._store.newest(limit)]
        # A bigger page costs a little more, as a database query would.
        latency_ms = self._ms(12.0, 0.3) + 0.1 * len(jobs)
        return 200, {"jobs": jobs, "count": len(jobs), "total": len(self._store)}, latency_ms, []

    def _upload(self, environ: dict[str, Any]) -> _Answer:
        size, too_big = _drain_body(environ, limit=MAX_UPLOAD_BYTES)
        if too_big:
            return 413, {"error": "payload_too_large", "limit_bytes": MAX_UPLOAD_BYTES}, 2.0, []
        latency_ms = _clamp(self._rng.uniform(50.0, 150.0), 50.0, 150.0) + 20.0 * size / (1024 * 1024)
        asset_id = f"asset_{uuid.UUID(int=self._rng.getrandbits(128), version=4).hex}"
        return 201, {"asset_id": asset_id, "bytes": size}, latency_ms, []

    def _rate_limited(self, environ: dict[str, Any]) -> _Answer:
        latency_ms = self._rng.uniform(1.0, 4.0)
        if self._rng.random() < self._b.rate_limit_share:
            body = {"error": "rate_limited", "detail": "too many requests, retry after 1 s"}
            return 429, body, latency_ms, [("Retry-After", "1")]
        return 200, {"status": "ok"}, latency_ms, []

    def _ms(self, median_ms: float, sigma: float) -> float:
        # Clamped so one unlucky draw cannot stall a request for seconds.
        value = self._rng.lognormvariate(math.log(median_ms), sigma)
        return _clamp(value, median_ms / 3.0, median_ms * 3.0)


_Answer = tuple[int, Any, float, list[tuple[str, str]]]
_Handler = Callable[[dict[str, Any]], _Answer]


def _clamp(value: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, value))


def _declared_length(environ: dict[str, Any]) -> int | None:
    try:
        return int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def _read_body(environ: dict[str, Any], *, limit: int) -> tuple[bytes, bool]:
    """The request body, or (b"", True) if it is larger than ``limit``."""
    declared = _declared_length(environ)
    if declared is not None and declared > limit:
        return b"", True
    data = environ["wsgi.input"].read(limit + 1)
    if len(data) > limit:
        return b"", True
    return data, False


def _drain_body(environ: dict[str, Any], *, limit: int) -> tuple[int, bool]:
    """Count the body's bytes without keeping them; (size, True) once it passes ``limit``."""
    declared = _declared_length(environ)
    if declared is not None and declared > limit:
        return declared, True
    stream = environ["wsgi.input"]
    size = 0
    while True:
        chunk = stream.read(_READ_CHUNK)
        if not chunk:
            return size, False
        size += len(chunk)
        if size > limit:
            return size, True


def _validate_job(raw: bytes) -> tuple[str, int] | list[dict[str, str]]:
    """(prompt, duration_s) from a job request body, or a list of problems (each field, message)."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return [{"field": "body", "message": "must be a JSON object"}]
    if not isinstance(body, dict):
        return [{"field": "body", "message": "must be a JSON object"}]
    problems = []
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        problems.append({"field": "prompt", "message": "required: a non-empty string"})
    elif len(prompt) > MAX_PROMPT_CHARS:
        problems.append({"field": "prompt", "message": f"at most {MAX_PROMPT_CHARS} characters"})
    duration_s = body.get("duration_s")
    # bool is an int in Python; JSON true is not a duration.
    if (
        isinstance(duration_s, bool)
        or not isinstance(duration_s, int)
        or not 1 <= duration_s <= MAX_DURATION_S
    ):
        message = f"required: an integer from 1 to {MAX_DURATION_S}"
        problems.append({"field": "duration_s", "message": message})
    if problems:
        return problems
    assert isinstance(prompt, str) and isinstance(duration_s, int)
    return prompt, duration_s


# -- serving -------------------------------------------------------------------------------------
