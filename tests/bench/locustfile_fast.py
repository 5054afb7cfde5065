"""Benchmark locustfile: FastHttpUser, no wait, two endpoints on the fixed nginx target.

Kept minimal on purpose: the benchmark measures what the runner around Locust costs, so the user
code itself must cost as little as possible and be identical for plain `locust` and `loadlens run`.
"""

from locust import FastHttpUser, constant, task


class FastUser(FastHttpUser):
    wait_time = constant(0)

    @task(3)
    def root(self) -> None:
        self.client.get("/")

    @task(1)
    def item(self) -> None:
        self.client.get("/item")
