"""A test locustfile that names every request differently: 500 distinct names (a cardinality bomb)."""

import itertools

from locust import HttpUser, constant, task

_counter = itertools.count()


class ManyNamesUser(HttpUser):
    wait_time = constant(0.005)

    @task
    def item(self):
        n = next(_counter) % 500
        self.client.get("/health", name=f"/item/{n}")
