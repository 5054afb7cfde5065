"""An example locustfile for deploy/kubernetes (replace it with your own): users of the job API
that `loadlens demo` serves (runner/demo/service.py). The target host is loadlens.toml's
[run] host, or -H on the master's command line; workers get it from the master.
"""

from locust import HttpUser, between, task


class ApiUser(HttpUser):
    wait_time = between(0.5, 1.5)

    @task(2)
    def health(self) -> None:
        self.client.get("/health")

    @task(3)
    def create_job(self) -> None:
        self.client.post("/api/v1/jobs", json={"prompt": "a paper boat on a rainy street", "duration_s": 5})

    @task(2)
    def list_jobs(self) -> None:
        self.client.get("/api/v1/jobs?limit=20", name="/api/v1/jobs")
