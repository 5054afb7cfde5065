"""Locust's own example locustfiles (tests/locustfiles/locust_examples/, vendored unchanged) run
under `loadlens run` with no configuration: exit 0, judged on the default criteria.

The target is a real catch-all HTTP server on 127.0.0.1 that answers 200 to whatever the examples
ask for (their own target is a Locust web UI or a site on the internet). Real Locust.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.judge.client import DEFAULT_NOTE
from tests.support.procs import AnswersOk, local_http
from tests.support.runs import LOCUSTFILES, criteria, loadlens_cmd, only_run_dir, run, summary

pytestmark = pytest.mark.slow

EXAMPLES = LOCUSTFILES / "locust_examples"
# The shape example runs 240 s of stages; its clock is sped up 40 times in the child (6 s), by
# patching LoadTestShape.get_run_time from a sitecustomize, so the vendored file stays unchanged.
SHAPE_SPEEDUP = 40
_FAST_SHAPES = f"""
from locust import LoadTestShape

_own = LoadTestShape.get_run_time
LoadTestShape.get_run_time = lambda self: _own(self) * {SHAPE_SPEEDUP}
"""


@pytest.fixture(scope="module")
def anything() -> Iterator[str]:
    with local_http(AnswersOk) as url:
        yield url


@pytest.mark.parametrize(
    "example", ["locustfile.py", "fast_http_locust.py", "nested_inline_tasksets.py", "stages.py"]
)
def test_locusts_own_examples_run_unchanged_with_no_configuration(
    tmp_path: Path, anything: str, example: str
) -> None:
    """An empty folder, the example as Locust ships it, -H at a local target: exit 0, the run judged
    on the default criteria (error rate <= 1 % on all requests), and the verdict says so."""
    env = {}
    load = ["-u", "5", "-r", "10", "-t", "4s"]
    if example == "stages.py":
        speedup = tmp_path / "speedup"
        speedup.mkdir()
        (speedup / "sitecustomize.py").write_text(_FAST_SHAPES)
        env["PYTHONPATH"] = f"{speedup}:{Path(__file__).resolve().parents[2]}"
        load = []  # the shape decides users and duration
    out = tmp_path / "out"
    proc = run(
        loadlens_cmd(
            "run", "-f", str(EXAMPLES / example), "-H", anything, "--headless", *load, "--out", str(out)
        ),
        cwd=tmp_path,
        env=env,
        timeout_s=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    doc = summary(only_run_dir(out))
    assert doc["verdict"] == "pass" and doc["client"]["whole_run"]["total"]["requests"] > 0
    assert list(criteria(doc)) == ["all requests error rate"]
    assert DEFAULT_NOTE in doc["notes"] and "note: default criteria" in proc.stdout
    assert not (tmp_path / "loadlens.toml").exists()
