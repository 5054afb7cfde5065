"""Benchmark: how long one scrape of /metrics takes with 200 endpoints (a benchmark, not a test).

    .venv/bin/python tests/bench/bench_scrape.py [--endpoints 200] [--scrapes 200]

A server process, gevent-patched as under Locust (``import locust`` first), holds a real
StatsStore with ``--endpoints`` endpoints (a few thousand requests each, latencies spread from a
few ms to seconds, four statuses) and serves it with the PrometheusExporter; every scrape reads a
fresh snapshot of the store, as in a run. This process scrapes it over loopback and prints the
median, p95 and max wall time per scrape, and times the CPU part alone (snapshot + render) in-process.

For comparison it also serves the same exposition the usual prometheus_client way: the samples as
metric families from a Collector, encoded by ``generate_latest`` behind ``start_http_server``. That
path is given the families ready-made (no snapshot, no bucketing), so it is a lower bound for it.
The target in the issue is under 20 ms per scrape for 200 endpoints.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def fill_store(endpoints: int, per_endpoint: int):  # type: ignore[no-untyped-def]
    from runner.stats.store import StatsStore

    store = StatsStore(max_endpoints=max(500, endpoints))
    rng = random.Random(11)
    statuses = ((200, False), (200, False), (201, False), (404, True), (503, True))
    for e in range(endpoints):
        method = "POST" if e % 5 == 0 else "GET"
        name = f"/api/v1/resource-{e}/{{id}}"
        for _ in range(per_endpoint):
            status, failed = statuses[rng.randrange(len(statuses))]
            store.record(method, name, math.exp(rng.gauss(4.0, 1.1)), status, failed, 1024)
    return store


def _patch_like_locust() -> None:
    import locust  # noqa: F401  (gevent's monkey-patching, as in a real run)


def serve(args: argparse.Namespace) -> int:
    _patch_like_locust()  # first, before gevent and the exporters are imported
    import gevent
    import structlog

    from exporters.prometheus import PrometheusExporter
    from exporters.settings import PrometheusSettings
    from runner.model import LiveState, RunInfo

    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    store = fill_store(args.endpoints, args.per_endpoint)
    info = RunInfo(run_id="bench", scenario="load", host="http://127.0.0.1", started_at=time.time())

    def read_state() -> LiveState:
        snap = store.snapshot(users=100)
        return LiveState(info=info, cumulative=snap, users=100, phase="steady")

    exporter = PrometheusExporter(PrometheusSettings(port=0, linger_s=0))
    exporter.start(info, read_state)
    if args.server == "prometheus_client":
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.parser import text_string_to_metric_families

        families = list(text_string_to_metric_families(exporter.render().decode()))
        exporter.close()

        class Ready:
            def collect(self):  # type: ignore[no-untyped-def]
                return iter(families)

        registry = CollectorRegistry()
        registry.register(Ready())
        server, _thread = start_http_server(0, addr="127.0.0.1", registry=registry)
        port = server.server_address[1]
    else:
        port = exporter.address[1]
    sys.stdout.write(json.dumps({"port": port}) + "\n")
    sys.stdout.flush()
    while True:
        gevent.sleep(1.0)


def scrape_times_ms(port: int, scrapes: int) -> tuple[list[float], int]:
    import urllib.request

    url = f"http://127.0.0.1:{port}/metrics"
    size = 0
    for _ in range(10):  # warm-up
        with urllib.request.urlopen(url, timeout=10) as response:
            size = len(response.read())
    times = []
    for _ in range(scrapes):
        began = time.perf_counter()
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read()
        times.append((time.perf_counter() - began) * 1000.0)
    return times, size


def measure_server(args: argparse.Namespace, server: str) -> tuple[list[float], int]:
    cmd = [sys.executable, __file__, "--serve", "--server", server]
    cmd += ["--endpoints", str(args.endpoints), "--per-endpoint", str(args.per_endpoint)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=REPO)
    try:
        assert proc.stdout is not None
        port = None
        while port is None:  # the exporter's own log line may come first
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("the bench server exited before serving")
            if line.startswith(b"{"):
                port = json.loads(line)["port"]
        return scrape_times_ms(port, args.scrapes)
    finally:
        proc.kill()
        proc.wait()


def measure_cpu_only(args: argparse.Namespace) -> list[float]:
    from exporters.cardinality import LabelFolder
    from exporters.exposition import TextExposition
    from runner.model import LiveState, RunInfo

    store = fill_store(args.endpoints, args.per_endpoint)
    info = RunInfo(run_id="bench", scenario="load", host="http://127.0.0.1", started_at=time.time())
    exposition = TextExposition(LabelFolder(max_names=200, max_statuses=20))
    times = []
    for _ in range(args.scrapes):
        began = time.perf_counter()
        snap = store.snapshot(users=100)
        exposition.render(LiveState(info=info, cumulative=snap, users=100, phase="steady"))
        times.append((time.perf_counter() - began) * 1000.0)
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return f"median {statistics.median(ordered):6.2f} ms   p95 {p95:6.2f} ms   max {ordered[-1]:6.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--per-endpoint", type=int, default=2000)
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--server", default="pywsgi", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args)

    print(
        f"/metrics scrape with {args.endpoints} endpoints, {args.per_endpoint} requests each, {args.scrapes} scrapes"
    )
    chosen, size = measure_server(args, "pywsgi")
    print(f"  loadlens (renderer + gevent pywsgi)        {summary(chosen)}   ({size / 1024:.0f} KiB)")
    cpu = measure_cpu_only(args)
    print(f"  loadlens CPU only (snapshot + render)      {summary(cpu)}")
    other, _ = measure_server(args, "prometheus_client")
    print(f"  prometheus_client families + its server    {summary(other)}   (lower bound: no snapshot)")
    ratio = statistics.median(other) / statistics.median(chosen)
    print(f"  prometheus_client / loadlens median ratio: {ratio:.2f}")
    verdict = "under" if statistics.median(chosen) < 20.0 else "OVER"
    print(f"  target: a scrape under 20 ms -> median is {verdict} the target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
