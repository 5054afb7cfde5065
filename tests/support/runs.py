"""Running loadlens and Locust for real, as a user would: subprocesses on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
LOCUSTFILES = REPO / "tests" / "locustfiles"
BIN = Path(sys.executable).parent


def loadlens_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "runner", *args]


def locust_cmd(*args: str) -> list[str]:
    return [str(BIN / "locust"), *args]


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOADLENS_", "LOCUST_", "GITHUB_"))}
    env["PYTHONPATH"] = str(REPO)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run(
    cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd), cwd=cwd, env=child_env(env), capture_output=True, text=True, timeout=timeout_s, check=False
    )


def run_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir()) if out.exists() else []


def only_run_dir(out: Path) -> Path:
    dirs = run_dirs(out)
    assert len(dirs) == 1, f"expected one run directory in {out}, found {dirs}"
    return dirs[0]


def summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text())


def criteria(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in doc["criteria"]}


def locust_total_requests(run_dir: Path) -> int:
    """The Aggregated request count from Locust's own CSV."""
    import csv

    with open(run_dir / "locust_stats.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["Name"] == "Aggregated":
                return int(row["Request Count"])
    raise AssertionError("no Aggregated row in locust_stats.csv")


def run_in_locust_process(path: Path, *, timeout_s: float = 240) -> subprocess.CompletedProcess[str]:
    """Run the checks in ``path`` (a file the suite does not collect) in their own pytest process,
    where ``import locust`` comes first: gevent must patch a process before ssl is imported, which
    the suite's own process has long done."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--noconftest", str(path)],
        cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=timeout_s,
    )  # fmt: skip
