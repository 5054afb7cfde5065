"""The demo's locustfile: users of a video-generation job API (runner/demo/service.py).

A plain Locust locustfile; it runs the same under ``loadlens demo`` and under plain Locust::

    locust -f runner/demo/locustfile.py -H http://127.0.0.1:PORT --headless -u 10 -r 10 -t 30s

Each user checks health, submits jobs, polls the ones it submitted, lists recent jobs, now and then
uploads a reference asset, and sometimes calls an endpoint that answers 429 about a fifth of the
time. That 429 is deliberately left a Locust failure (no ``catch_response``): the demo's
loadlens.toml declares it expected, which shows how expected statuses work. Tasks are tagged
``health``, ``jobs``, ``upload`` and ``ratelimit`` for ``--tags``/``--exclude-tags``.
"""

from __future__ import annotations

import random
from collections import deque

from locust import HttpUser, between, tag, task

PROMPTS = (
    "a red fox running through fresh snow at dawn, cinematic",
    "timelapse of a city skyline from day to night",
    "a paper boat drifting down a rain-soaked street",
    "drone shot over a turquoise lagoon with coral reefs",
    "a robot barista pouring latte art in a busy cafe",
    "slow motion of a hummingbird feeding on a flower",
)
DURATIONS_S = (5, 10, 15, 30)
UPLOAD_MIN_BYTES = 64 * 1024
UPLOAD_MAX_BYTES = 256 * 1024
TRACKED_JOBS = 20  # a user polls only its most recent submissions


class VideoApiUser(HttpUser):
    """One client of the job API."""

    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self._rng = random.Random()
        self._job_ids: deque[str] = deque(maxlen=TRACKED_JOBS)
        # One buffer per user, sliced per upload: no allocation of fresh random bytes per request.
        self._payload = self._rng.randbytes(UPLOAD_MAX_BYTES)

    @tag("health")
    @task(2)
    def health(self) -> None:
        self.client.get("/health")

    @tag("jobs")
    @task(3)
    def create_job(self) -> None:
        body = {"prompt": self._rng.choice(PROMPTS), "duration_s": self._rng.choice(DURATIONS_S)}
        response = self.client.post("/api/v1/jobs", json=body)
        if response.status_code == 201:
            self._job_ids.append(response.json()["id"])

    @tag("jobs")
    @task(5)
    def poll_job(self) -> None:
        if not self._job_ids:
            # Nothing submitted yet: a real client submits before it polls.
            self.create_job()
            return
        job_id = self._rng.choice(self._job_ids)
        # One name for every id, so all polls group into one endpoint in the statistics.
        response = self.client.get(f"/api/v1/jobs/{job_id}", name="/api/v1/jobs/{id}")
        if response.status_code == 200 and response.json().get("status") == "done":
            self._job_ids.remove(job_id)

    @tag("jobs")
    @task(2)
    def list_jobs(self) -> None:
        self.client.get("/api/v1/jobs?limit=20", name="/api/v1/jobs")

    @tag("upload")
    @task(2)
    def upload_asset(self) -> None:
        size = self._rng.randint(UPLOAD_MIN_BYTES, UPLOAD_MAX_BYTES)
        self.client.post(
            "/api/v1/assets/upload",
            data=self._payload[:size],
            headers={"Content-Type": "application/octet-stream"},
        )

    @tag("ratelimit")
    @task(2)
    def rate_limited(self) -> None:
        # A 429 stays a failure here on purpose; loadlens is told it is expected (loadlens.toml).
        self.client.get("/api/v1/rate-limited")
