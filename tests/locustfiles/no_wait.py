"""A test locustfile: one endpoint as fast as the target answers (FastHttpUser, no wait)."""

from locust import FastHttpUser, task


class NoWaitUser(FastHttpUser):
    @task
    def work(self):
        self.client.get("/work")
