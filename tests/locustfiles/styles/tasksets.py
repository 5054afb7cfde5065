"""A locustfile in the TaskSet style of Locust's documentation: a nested TaskSet, a
SequentialTaskSet, on_start, weights and interrupt(). Written for loadlens's tests."""

from locust import HttpUser, SequentialTaskSet, TaskSet, between, task


class Browse(TaskSet):
    @task(3)
    def list_jobs(self):
        self.client.get("/api/v1/jobs")

    @task(1)
    def leave(self):
        self.interrupt()


class Submit(SequentialTaskSet):
    def on_start(self):
        self.client.get("/health")

    @task
    def create(self):
        self.client.post("/api/v1/jobs", json={"prompt": "a style test", "duration_s": 5})

    @task
    def done(self):
        self.interrupt()


class Visitor(HttpUser):
    wait_time = between(0.01, 0.05)
    tasks = {Browse: 2, Submit: 1}
