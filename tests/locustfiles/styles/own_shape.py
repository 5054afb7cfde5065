"""A locustfile with its own LoadTestShape (step load), as Locust's documentation shows one.
Written for loadlens's tests."""

from locust import HttpUser, LoadTestShape, constant, task


class Api(HttpUser):
    wait_time = constant(0.02)

    @task
    def health(self):
        self.client.get("/health")


class StepLoad(LoadTestShape):
    steps = ((2, 2), (4, 4), (6, 0))  # (until second, users); 0 users: stop

    def tick(self):
        run_time = self.get_run_time()
        for until, users in self.steps:
            if run_time < until:
                return (users, 10) if users else None
        return None
