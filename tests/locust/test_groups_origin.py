"""Who made a request and in which task, read from real Locust Users: the checks of
tests/locust/in_locust_groups.py, run in their own pytest process, where Locust monkey-patches
first (as in a real run; the suite's process imported ssl long before)."""

from __future__ import annotations

from pathlib import Path

from tests.support.runs import run_in_locust_process


def test_the_in_process_checks_pass_in_a_locust_patched_process() -> None:
    proc = run_in_locust_process(Path(__file__).with_name("in_locust_groups.py"))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "6 passed" in proc.stdout, proc.stdout[-2000:]
