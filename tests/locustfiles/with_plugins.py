"""A locustfile written for locust-plugins, as its users write them: its wait time and its options
(--check-rps, --check-fail-ratio), run unchanged under `loadlens run`."""

from locust import HttpUser, task
from locust_plugins.wait_time import constant_total_ips


class PluginUser(HttpUser):
    wait_time = constant_total_ips(20)  # 20 iterations per second in all

    @task
    def health(self):
        self.client.get("/health")
