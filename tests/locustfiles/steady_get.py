"""A test locustfile: one endpoint, GET /work, at a steady pace per user (the spike comes from the
scenario's stages, not from the users' pace)."""

from locust import HttpUser, constant, task


class WorkUser(HttpUser):
    wait_time = constant(0.05)

    @task
    def work(self):
        self.client.get("/work")
