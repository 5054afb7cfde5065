"""Runs live exporters the way a Locust process does, for the exporter tests (a subprocess script).

``import locust`` comes first, so gevent monkey-patches the process exactly as under Locust; the
pytest process itself is never patched. A real StatsStore is fed by a greenlet (a few thousand
record() calls a second, varied names, statuses and latencies) while the exporters run; the
test steers the script through files in a control directory and reads JSON lines from stdout:

    started {"address": [host, port] | null}    exporters started
    exports {"attempts": n}                     printed each time a push exporter starts a send
    memory  {"mark": n, "bytes": b}             with "trace_memory", once attempts reach each "memory_at"
                                                mark: live bytes the whole process allocated since start
    final   {"endpoints": [...], "total": ...}  feeding stopped; what ``stop(final)`` was given
    done    {"stats": ..., "violations": n}     every exporter finished (or was closed)

Control files: ``stop`` (stop feeding and stop the exporters), ``close`` (end a linger early).
Logs: structlog JSON lines to ``log``; the SDK's stdlib logging goes to stderr untouched.
"""

import locust  # noqa: F401, I001  (first: gevent's monkey-patching, as in a real run)

import gc
import json
import math
import random
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import gevent
import structlog
from gevent import monkey

from exporters.base import Exporter
from exporters.build import build_exporters
from exporters.settings import OtlpSettings, PrometheusSettings, PushgatewaySettings
from runner.model import LiveState, Result, RunInfo, Status
from runner.readings import Series
from runner.stats.store import StatsStore

_native_thread_id = monkey.get_original("_thread", "get_ident")
METHODS = ("GET", "GET", "GET", "POST")
STATUSES = (
    (200, False),
    (200, False),
    (200, False),
    (201, False),
    (404, True),
    (500, True),
    (0, True),
    (200, True),
)


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def main(config_path: str) -> int:
    cfg = json.loads(Path(config_path).read_text())
    if cfg.get("trace_memory"):
        tracemalloc.start(1)
    control = Path(cfg["control"])
    log_file = open(cfg["log"], "a", buffering=1)  # noqa: SIM115  (lives as long as the process)
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
        logger_factory=structlog.WriteLoggerFactory(file=log_file),
        cache_logger_on_first_use=False,
    )
    store = StatsStore(
        expected_statuses=cfg.get("expected_statuses", ()), max_endpoints=cfg.get("max_endpoints", 500)
    )
    info = RunInfo(
        run_id=cfg.get("run_id", "run-1"),
        scenario="load",
        host=cfg.get("host", "https://target.example:8443"),
        started_at=time.time(),
    )
    main_thread = _native_thread_id()
    calls = {"reads": 0, "violations": 0}
    results = tuple(
        Result(name=name, criterion=name, observed=1.0, limit=2.0, status=Status(status), reason="test")
        for name, status in cfg.get("results", [["p95_ms GET /a", "pass"], ["error_rate", "fail"]])
    )
    server = (Series("process", "pid:1", "cpu_percent", "Average", "Percent", ((time.time(), 42.5),)),)

    def read_state() -> LiveState:
        calls["reads"] += 1
        if _native_thread_id() != main_thread:
            calls["violations"] += 1
        snap = store.snapshot(users=cfg.get("users", 7))
        return LiveState(
            info=info, cumulative=snap, users=snap.users, phase="steady", results=results, server=server
        )

    exporters = build_exporters(
        prometheus=PrometheusSettings(**cfg["prometheus"]) if "prometheus" in cfg else None,
        pushgateway=PushgatewaySettings(**cfg["pushgateway"]) if "pushgateway" in cfg else None,
        otlp=OtlpSettings(**cfg["otlp"]) if "otlp" in cfg else None,
        expected_statuses=cfg.get("expected_statuses", ()),
    )
    for exporter in exporters:
        exporter.start(info, read_state)
    address = next((list(e.address) for e in exporters if hasattr(e, "address")), None)
    emit("started", address=address)

    fed = {"n": 0, "while_in_flight": 0}
    names = [f"/item/{i}" for i in range(cfg.get("names", 6))]
    rng = random.Random(cfg.get("seed", 1))

    def feed() -> None:
        while True:
            for _ in range(50):
                method = METHODS[rng.randrange(len(METHODS))]
                status, failed = STATUSES[rng.randrange(len(STATUSES))]
                latency_ms = math.exp(rng.gauss(3.5, 1.2))  # a few ms to a few seconds
                store.record(method, rng.choice(names), latency_ms, status, failed, 512)
                fed["n"] += 1
            gevent.sleep(0.001)

    def in_flight() -> bool:
        return any(getattr(getattr(e, "stats", None), "in_flight", False) for e in exporters)

    feeder = gevent.spawn(feed)
    attempts_seen = 0
    memory_marks = list(cfg.get("memory_at", ()))
    flight_mark: int | None = None
    while not (control / "stop").exists():
        if cfg.get("max_requests") and fed["n"] >= cfg["max_requests"]:
            feeder.kill()
        attempts = sum(getattr(getattr(e, "stats", None), "attempts", 0) for e in exporters)
        if attempts != attempts_seen:
            attempts_seen = attempts
            emit("exports", attempts=attempts)
            for mark in memory_marks:
                if attempts >= mark:
                    memory_marks.remove(mark)
                    emit("memory", mark=mark, bytes=_traced_bytes())
        # Requests recorded while an export was in flight on the exporter's thread.
        if in_flight():
            if flight_mark is not None:
                fed["while_in_flight"] += fed["n"] - flight_mark
            flight_mark = fed["n"]
        else:
            flight_mark = None
        gevent.sleep(0.02)
    feeder.kill()

    final = read_state()
    emit("final", endpoints=_endpoints(final), total=_total(final), reads=calls["reads"])
    for exporter in exporters:
        exporter.stop(final)
    pending: list[Exporter] = list(exporters)
    while pending:
        pending = [e for e in pending if not e.wait_linger(0.05)]
        if (control / "close").exists():
            for exporter in pending:
                close = getattr(exporter, "close", None)
                if close is not None:
                    close()
    stats = {e.name: _stats(e) for e in exporters}
    emit("done", stats=stats, violations=calls["violations"], reads=calls["reads"], fed=fed)
    log_file.close()
    return 0


def _traced_bytes() -> int:
    """Live bytes allocated since tracing started, by anything in the process."""
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def _endpoints(state: LiveState) -> list[dict[str, Any]]:
    return [
        {
            "method": key.method,
            "name": key.name,
            "count": s.count,
            "failures": s.failures,
            "sum_ms": s.sum_ms,
            "statuses": {str(c): n for c, n in s.statuses.items()},
            "failed_statuses": {str(c): n for c, n in s.failed_statuses.items()},
        }
        for key, s in state.cumulative.endpoints.items()
    ]


def _total(state: LiveState) -> dict[str, Any]:
    total = state.cumulative.total()
    return {"count": total.count, "failures": total.failures, "sum_ms": total.sum_ms}


def _stats(exporter: Exporter) -> dict[str, Any]:
    stats = getattr(exporter, "stats", None)
    if stats is None:
        health = getattr(exporter, "health", None)
        return {"scrapes": health.scrapes, "errors": health.errors} if health else {}
    return {
        "attempts": stats.attempts,
        "successes": stats.successes,
        "failures": stats.failures,
        "skipped": stats.skipped,
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
