"""A synthetic long, wide run record: what a 24 h soak over 200 endpoints leaves behind.

Built directly from the model's types (no Locust run could last a day in a test): a timeline of
720 intervals (the real Timeline's cap), per-endpoint histograms with a few hundred buckets, and
server series at their real resolutions (the local process every second, CloudWatch every minute).
Deterministic: the same arguments give the same record.
"""

from __future__ import annotations

import math
import random

from runner.judge.verdict import decide
from runner.model import EndpointKey, EndpointStats, Interval, Result, RunInfo, RunRecord, Snapshot, Status
from runner.readings import Series
from runner.stats.histogram import Histogram, bucket_index

T0 = 1_790_000_000.0


def _stats(rng: random.Random, n: int, median_ms: float) -> EndpointStats:
    counts: dict[int, int] = {}
    samples = max(1, min(n, 400))  # a histogram's shape from a few hundred draws, scaled to n
    for _ in range(samples):
        i = bucket_index(math.exp(rng.gauss(math.log(median_ms), 0.6)))
        counts[i] = counts.get(i, 0) + 1
    scale = n / samples
    hist = Histogram({i: max(1, round(c * scale)) for i, c in counts.items()})
    total = hist.total
    failures = total // 200
    return EndpointStats(
        count=total,
        failures=failures,
        sum_ms=total * median_ms,
        min_ms=median_ms / 5,
        max_ms=median_ms * 8,
        statuses={200: total - failures, 500: failures},
        failed_statuses={500: failures} if failures else {},
        histogram=hist,
    )


def big_record(
    *, hours: float = 24.0, endpoints: int = 200, intervals: int = 720, seed: int = 11
) -> RunRecord:
    """A run of ``hours`` over ``endpoints`` endpoints, its timeline ``intervals`` long."""
    rng = random.Random(seed)
    end = T0 + hours * 3600
    keys = [EndpointKey("GET" if i % 3 else "POST", f"/api/v1/resource-{i}/{{id}}") for i in range(endpoints)]
    step = (end - T0) / intervals
    # Eight variants of each endpoint's interval, cycled: the histograms are immutable, so sharing
    # them costs the report nothing it would not pay for distinct ones, and the build stays quick.
    variants = []
    for _v in range(8):
        per = {key: _stats(rng, 40 + (i % 7) * 10, 20 + i % 50) for i, key in enumerate(keys)}
        total = EndpointStats()
        for s in per.values():
            total = total.merge(s)
        p50, p95, p99 = ({key: s.quantile_ms(q) or 0.0 for key, s in per.items()} for q in (0.50, 0.95, 0.99))
        counts = {key: (s.count, s.failures) for key, s in per.items()}
        variants.append((total, (p50, p95, p99), counts))
    timeline = []
    for k in range(intervals):
        total, (p50, p95, p99), counts = variants[k % len(variants)]
        timeline.append(
            Interval(
                start=T0 + k * step,
                end=T0 + (k + 1) * step,
                users=200 if k > 5 else 40 * k,
                total=total,
                endpoint_p95_ms=p95,
                endpoint_counts=counts,
                endpoint_p50_ms=p50,
                endpoint_p99_ms=p99,
            )
        )
    judged = Snapshot(
        start=T0 + 300,
        end=end - 300,
        endpoints={key: _stats(rng, 50_000 + i, 20 + i % 50) for i, key in enumerate(keys)},
        users=200,
    )
    cpu_1s = tuple((T0 + i, 40 + 10 * math.sin(i / 600) + rng.random() * 5) for i in range(int(hours * 3600)))
    minutes = range(int(hours * 60))
    server = (
        Series("process", "pid:4242", "cpu_percent", "Average", "Percent", cpu_1s, period_s=1.0),
        Series(
            "cloudwatch",
            "ecs:shop/api",
            "CPUUtilization",
            "Average",
            "Percent",
            tuple((T0 + 60 * m, 45 + 20 * math.sin(m / 90)) for m in minutes),
        ),
        Series(
            "cloudwatch",
            "ecs:shop/api",
            "MemoryUtilization",
            "Average",
            "Percent",
            tuple((T0 + 60 * m, 50 + m / 200) for m in minutes),
        ),
    )
    results = (
        Result("all requests p95", "p95 <= 500 ms", 180.0, 500.0, Status.PASS, "within", "ms"),
        Result(
            "server ECS CPU",
            "cpu <= 70 %",
            65.0,
            70.0,
            Status.PASS,
            "under the limit",
            "percent",
            scope="server",
            details={"resource": "ecs:shop/api"},
        ),
    )
    return RunRecord(
        info=RunInfo("soak_20260901T000000Z", "soak", "https://shop.example.com", T0),
        run_start=T0,
        run_end=end,
        window_start=judged.start,
        window_end=judged.end,
        window_kind="steady_state",
        whole=judged,
        judged=judged,
        timeline=tuple(timeline),
        verdict=decide(results),
        server=server,
        command=("loadlens", "run", "--scenario", "soak"),
        versions={"loadlens": "0.1.0", "locust": "2.47.0"},
    )
