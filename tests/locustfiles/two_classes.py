"""A test locustfile: two User classes, tagged tasks (one in a tagged TaskSet), a shared endpoint.

With MADE_LOG_DIR set, every task counts the requests it made itself (User class, the tag the
task was written with, method, name) and each process writes them to MADE_LOG_DIR/made-<pid>.tsv
when it quits: the ground truth of the group tests, kept by the tasks, not by any event listener.
A request fired from a greenlet the locustfile spawns itself (no User's) is counted as "spawned".
"""

import os
from collections import Counter

import gevent
from locust import HttpUser, TaskSet, constant, events, tag, task

_made: Counter = Counter()


def _count(user_class: str, tag_name: str, method: str, name: str) -> None:
    _made[(user_class, tag_name, method, name)] += 1


@events.quitting.add_listener
def _dump(environment, **_kw):
    directory = os.environ.get("MADE_LOG_DIR")
    if directory:
        with open(os.path.join(directory, f"made-{os.getpid()}.tsv"), "w") as f:
            f.writelines(f"{c}\t{t}\t{m}\t{n}\t{k}\n" for (c, t, m, n), k in _made.items())


@tag("checkout")
class Checkout(TaskSet):
    """Tagged as a whole: its task inherits "checkout" (Locust's own rule)."""

    @task
    def pay(self):
        self.client.post("/api/v1/jobs", json={"prompt": "pay", "duration_s": 5})
        _count("Buyer", "checkout", "POST", "/api/v1/jobs")
        self.interrupt()


class Browser(HttpUser):
    wait_time = constant(0.02)

    @tag("read")
    @task(3)
    def look(self):
        self.client.get("/health")
        _count("Browser", "read", "GET", "/health")

    @task(1)
    def plain(self):
        self.client.get("/api/v1/rate-limited")
        _count("Browser", "", "GET", "/api/v1/rate-limited")


class Buyer(HttpUser):
    wait_time = constant(0.02)
    tasks = {Checkout: 2}

    @tag("read")
    @task(1)
    def look(self):
        self.client.get("/health")
        _count("Buyer", "read", "GET", "/health")

    @tag("side")
    @task(1)
    def side(self):
        # A request from a greenlet of the locustfile's own: no User is known for it.
        gevent.spawn(self.client.get, "/health", name="/health spawned").join()
        _count("spawned", "", "GET", "/health spawned")
