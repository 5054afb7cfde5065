"""A test locustfile: one user makes exactly 100 requests, 7 of them answered 500, then idles.

It starts after half a second, so all 100 fall inside the judged (steady-state) window.
"""

import itertools

import gevent
from locust import HttpUser, constant, task

_count = itertools.count()
_FAILING = {3, 17, 30, 44, 58, 71, 90}


class HundredUser(HttpUser):
    wait_time = constant(0)

    def on_start(self):
        gevent.sleep(0.5)

    @task
    def work(self):
        n = next(_count)
        if n >= 100:
            gevent.sleep(600)  # the run ends first
            return
        self.client.get("/fail" if n in _FAILING else "/ok", name="/work")
