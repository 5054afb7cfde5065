"""A test locustfile: three endpoints of the demo service, plus an optional raw per-request log.

With RAW_LOG_DIR set, every process writes each request it made (method, name, response time,
status) to RAW_LOG_DIR/raw-<pid>.tsv when it quits: the ground truth loadlens's figures are
checked against. That listener is the locustfile's own, as a user's might be.
"""

import os

from locust import HttpUser, between, events, task

_rows: list[str] = []


@events.request.add_listener
def _raw_log(request_type, name, response_time, response=None, exception=None, **_kw):
    if os.environ.get("RAW_LOG_DIR"):
        status = getattr(response, "status_code", 0) or 0
        _rows.append(f"{request_type}\t{name}\t{response_time!r}\t{status}\t{int(exception is not None)}\n")


@events.quitting.add_listener
def _dump(environment, **_kw):
    directory = os.environ.get("RAW_LOG_DIR")
    if directory:
        with open(os.path.join(directory, f"raw-{os.getpid()}.tsv"), "w") as f:
            f.writelines(_rows)


class ApiUser(HttpUser):
    wait_time = between(0.02, 0.08)

    @task(3)
    def health(self):
        self.client.get("/health")

    @task(2)
    def create_job(self):
        self.client.post("/api/v1/jobs", json={"prompt": "a test", "duration_s": 5})

    @task(1)
    def rate_limited(self):
        self.client.get("/api/v1/rate-limited")
