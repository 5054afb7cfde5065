"""A test locustfile with its own LoadTestShape, a custom command-line argument and its own
event listeners: it must run unchanged under `loadlens run`."""

import json
import os

from locust import HttpUser, LoadTestShape, constant, events, task

_seen = {"requests": 0, "max_users": 0}


@events.init_command_line_parser.add_listener
def _args(parser):
    parser.add_argument("--greeting", type=str, default="none", help="a custom option of this locustfile")


@events.request.add_listener
def _count(**_kw):
    _seen["requests"] += 1


@events.quitting.add_listener
def _report(environment, **_kw):
    out = os.environ.get("SHAPED_REPORT")
    if out and environment.runner is not None:
        data = dict(_seen, greeting=environment.parsed_options.greeting)
        with open(out, "w") as f:
            json.dump(data, f)


class StepShape(LoadTestShape):
    """2 users for 2 s, then 6 users for 3 s, then stop."""

    def tick(self):
        t = self.get_run_time()
        if t < 2:
            return (2, 10)
        if t < 5:
            _seen["max_users"] = max(_seen["max_users"], self.get_current_user_count())
            return (6, 10)
        return None


class ShapedUser(HttpUser):
    wait_time = constant(0.1)

    @task
    def health(self):
        self.client.get("/health")
