"""`make test` runs the suite on pytest-xdist workers with ``--dist loadgroup``: the tests that share
a module- or class-scoped fixture (or one of the expensive session fixtures) must land on one
worker, or each worker builds that fixture again (a real run, a scraped Prometheus) and the suite
loses the time it parallelises for. Nothing fails when grouping silently stops (it did with pytest
9.2, pytest-xdist#1386), so this checks it in a small real pytest-xdist run of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.runs import child_env

CONFTEST = """
import os
from pathlib import Path

import pytest

from tests.conftest import pytest_collection_modifyitems


def built(what):
    with open(Path(__file__).parent / "builds.txt", "a") as f:
        f.write(f"{what} {os.environ['PYTEST_XDIST_WORKER']}\\n")


@pytest.fixture(scope="session")
def degraded_demo():
    built("session:degraded_demo")
"""

MODULE = """
import pytest

from conftest import built


@pytest.fixture(scope="module")
def shared():
    built("module:" + __name__)


@pytest.mark.parametrize("i", range(8))
def test_module_fixture(shared, i):
    pass


@pytest.mark.parametrize("i", range(2))
def test_session_fixture(degraded_demo, i):
    pass


@pytest.mark.parametrize("i", range(8))
def test_alone(i):
    pass
"""


def test_tests_sharing_a_fixture_run_on_one_worker(tmp_path: Path) -> None:
    """Two modules, each with a module fixture its 8 tests share and tests using the shared session
    fixture `degraded_demo`, on 3 workers: each fixture is built once, so each group went whole to
    one worker, while the ungrouped tests are spread."""
    (tmp_path / "conftest.py").write_text(CONFTEST)
    for name in ("test_one.py", "test_two.py"):
        (tmp_path / name).write_text(MODULE)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "3", "--dist", "loadgroup"],
        cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "36 passed" in proc.stdout, proc.stdout[-3000:]
    builds = sorted(line.split()[0] for line in (tmp_path / "builds.txt").read_text().splitlines())
    assert builds == ["module:test_one", "module:test_two", "session:degraded_demo"], builds
