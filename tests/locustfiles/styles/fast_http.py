"""A locustfile in the FastHttpUser style of Locust's documentation, validating responses with
catch_response. Written for loadlens's tests."""

from locust import FastHttpUser, constant, task


class Checker(FastHttpUser):
    wait_time = constant(0.02)

    @task
    def health(self):
        with self.client.get("/health", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"unexpected status {response.status_code}")

    @task
    def jobs(self):
        self.client.get("/api/v1/jobs?limit=5", name="/api/v1/jobs")
