"""A test locustfile for baseline comparisons: three endpoints, each hit once per iteration, at a
fixed pace (``constant_pacing``) so throughput does not follow latency: a slower endpoint changes
its own latency and nothing else."""

from locust import HttpUser, constant_pacing, task


class PacedUser(HttpUser):
    wait_time = constant_pacing(0.3)

    @task
    def iteration(self):
        self.client.get("/health")
        self.client.get("/api/v1/jobs")
        self.client.get("/api/v1/assets")
