"""Drives a GrafanaAnnotator the way a Locust run does, for tests/exporters/test_grafana.py (a subprocess script).

``import locust`` comes first, so gevent monkey-patches this process exactly as under Locust; the
pytest process is never patched. A "load" greenlet ticks every millisecond for the whole script,
standing in for the simulated users: its count keeps rising only while the hub is free. The script
runs the steps of its JSON config in order and prints one JSON line after each:

    {"event": "step", "i": n, "do": ..., "ticks": t, "stats": {...}, "error": null | "..."}

Steps: ``start``; ``mark`` (phase, at, detail); ``flood`` (n marks of alternating phases);
``finish`` (status, summary, end); ``stop``; ``wait_linger`` (timeout_s; the line adds "done");
``await`` (file: wait, cooperatively, until the control file exists); ``ticks`` (n: wait until the
load greenlet has ticked n more times). Logs: structlog JSON lines to ``log``.
"""

import locust  # noqa: F401, I001  (first: gevent's monkey-patching, as in a real run)

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gevent
import structlog

from exporters.grafana.annotations import GrafanaAnnotator
from exporters.ratelimit import RateLimitedLog
from runner.model import LiveState, RunInfo, Snapshot


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def main(config_path: str) -> int:
    cfg = json.loads(Path(config_path).read_text())
    log_file = open(cfg["log"], "a", buffering=1)  # noqa: SIM115  (lives as long as the process)
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
        logger_factory=structlog.WriteLoggerFactory(file=log_file),
        cache_logger_on_first_use=False,
    )
    control = Path(cfg["control"])
    info = RunInfo(
        run_id=cfg["run_id"], scenario=cfg["scenario"], host="http://target", started_at=cfg["start"]
    )
    annotator = GrafanaAnnotator(
        cfg["url"],
        token=cfg.get("token"),
        dashboard_uid=cfg.get("dashboard_uid"),
        timeout_s=cfg.get("timeout_s", 2.0),
        max_pending=cfg.get("max_pending", 64),
        drain_s=cfg.get("drain_s", 5.0),
        log=RateLimitedLog(every_s=cfg.get("warn_every_s", 600.0)),
        clock=lambda: cfg["stop_clock"],
    )
    ticks = {"n": 0}

    def load() -> None:
        while True:
            ticks["n"] += 1
            gevent.sleep(0.001)

    def read_state() -> LiveState:
        snap = Snapshot(start=info.started_at, end=info.started_at, endpoints={})
        return LiveState(info=info, cumulative=snap, users=0, phase="steady")

    gevent.spawn(load)
    for i, step in enumerate(cfg["steps"]):
        do = step["do"]
        extra: dict[str, Any] = {}
        error = None
        try:
            if do == "start":
                annotator.start(info, read_state)
            elif do == "mark":
                annotator.mark(step["phase"], at=step["at"], detail=step.get("detail", ""))
            elif do == "flood":
                for n in range(step["n"]):
                    annotator.mark("steady" if n % 2 else "warm-up", at=cfg["start"] + n)
            elif do == "finish":
                annotator.finish(status=step["status"], summary=step["summary"], end=step["end"])
            elif do == "stop":
                annotator.stop(read_state())
            elif do == "wait_linger":
                extra["done"] = annotator.wait_linger(step.get("timeout_s"))
            elif do == "await":
                while not (control / step["file"]).exists():
                    gevent.sleep(0.01)
            elif do == "ticks":
                target = ticks["n"] + step["n"]
                while ticks["n"] < target:
                    gevent.sleep(0.005)
        except Exception as exc:  # the test asserts there is none
            error = f"{type(exc).__name__}: {exc}"
        emit("step", i=i, do=do, ticks=ticks["n"], stats=asdict(annotator.stats), error=error, **extra)
    log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
