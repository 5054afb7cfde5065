"""A test locustfile: each user makes one request, then waits longer than any test run."""

from locust import HttpUser, constant, task


class OnceUser(HttpUser):
    wait_time = constant(600)

    @task
    def health(self):
        self.client.get("/health")
