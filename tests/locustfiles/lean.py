"""A test locustfile for the lean statistics: three names, some failures, and a record of the
``request`` listeners in force once the test starts (LISTENERS_FILE), so a test can tell whether
Locust's own listener still runs beside loadlens's or one lean listener does both."""

import json
import os

from locust import HttpUser, constant, events, task


@events.test_start.add_listener
def _record_listeners(environment, **_kw):
    path = os.environ.get("LISTENERS_FILE")
    if path:
        handlers = environment.events.request._handlers
        names = [
            f"{getattr(h, '__module__', '?')}:{getattr(h, '__qualname__', type(h).__qualname__)}"
            for h in handlers
        ]
        with open(f"{path}.{os.getpid()}", "w") as f:
            json.dump(names, f)


class LeanUser(HttpUser):
    wait_time = constant(0.01)

    @task(4)
    def fast(self):
        self.client.get("/fast")

    @task(2)
    def slow(self):
        self.client.get("/slow")

    @task(1)
    def broken(self):
        self.client.get("/broken")
