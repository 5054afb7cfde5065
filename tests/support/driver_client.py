"""The pytest side of tests/support/exporter_driver.py: start it, steer it, read what it says."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


class ExporterDriver:
    """One gevent-patched process running exporters over a store that is being fed."""

    def __init__(self, tmp: Path, config: dict[str, Any], *, env: dict[str, str] | None = None) -> None:
        self.dir = tmp / "driver"
        self.dir.mkdir(exist_ok=True)
        self.control = self.dir / "control"
        self.control.mkdir(exist_ok=True)
        self.log_path = self.dir / "exporters.log"
        self.stderr_path = self.dir / "stderr.log"
        config = {**config, "control": str(self.control), "log": str(self.log_path)}
        config_path = self.dir / "config.json"
        config_path.write_text(json.dumps(config))
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._stderr = open(self.stderr_path, "wb")  # noqa: SIM115  (closed in close())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.exporter_driver", str(config_path)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self._events.put(json.loads(line))
            except ValueError:
                self._events.put({"event": "noise", "line": line.decode(errors="replace")})
        self._events.put({"event": "exit"})

    def wait_for(self, event: str, *, timeout_s: float = 60.0, where: Any = None) -> dict[str, Any]:
        """The next line of kind ``event`` (matching ``where`` if given), or fail with stderr."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                item = self._events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"driver said no {event!r} in {timeout_s}s; stderr:\n{self.stderr()}"
                ) from None
            if item["event"] == "exit":
                raise AssertionError(
                    f"driver exited before {event!r} (rc={self.proc.wait()}):\n{self.stderr()}"
                )
            if item["event"] == event and (where is None or where(item)):
                return item

    def signal(self, name: str) -> None:
        """Create a control file: "stop" or "close"."""
        (self.control / name).touch()

    def finish(self, *, timeout_s: float = 60.0) -> dict[str, Any]:
        """Wait for the "done" line and a clean exit; returns the "done" line."""
        done = self.wait_for("done", timeout_s=timeout_s)
        rc = self.proc.wait(timeout=timeout_s)
        assert rc == 0, f"driver exited {rc}:\n{self.stderr()}"
        return done

    def logs(self) -> list[dict[str, Any]]:
        """The structlog lines the exporters wrote (JSON)."""
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]

    def stderr(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()

    def __enter__(self) -> ExporterDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
