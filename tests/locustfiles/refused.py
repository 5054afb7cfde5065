"""A test locustfile: one endpoint of a rate-limiting target (most answers are fast 429s)."""

from locust import HttpUser, constant, task


class RefusedUser(HttpUser):
    wait_time = constant(0.005)

    @task
    def work(self):
        self.client.get("/work")
