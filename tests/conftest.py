from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.runs import REPO, child_env

READY = "loadlens demo service listening on "

# Session fixtures that take seconds to build and that tests in several modules share: under
# pytest-xdist each worker would build its own, so their tests go to one worker (see below).
SHARED_SESSION_FIXTURES = ("degraded_demo",)
# Module fixtures that only start a moto server (about half a second): built again on each worker
# rather than chain a whole module of AWS end-to-end tests on one worker.
CHEAP_MODULE_FIXTURES = ("moto", "moto_url")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`make test` runs the suite on several pytest-xdist workers with ``--dist loadgroup``; a test
    that uses a module- or class-scoped fixture (a real run many tests read, a Prometheus fed
    for a minute) is grouped with the rest of its module, so that fixture is built once, on one
    worker, and not once per worker that happens to get one of its tests. A test given an
    ``xdist_group`` by hand keeps it."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None and (group := _shared_fixture_group(item)):
            item.add_marker(pytest.mark.xdist_group(group))


def _shared_fixture_group(item: pytest.Item) -> str | None:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    for name in SHARED_SESSION_FIXTURES:
        if name in info.name2fixturedefs:
            return name
    for name, defs in info.name2fixturedefs.items():
        if name not in CHEAP_MODULE_FIXTURES and any(d.scope in ("package", "module", "class") for d in defs):
            return item.nodeid.split("::", 1)[0]
    return None


def _start_service(*extra: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner.demo.service", "--port", "0", "--seed", "1", *extra],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=child_env(),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith(READY):
        proc.kill()
        raise RuntimeError(f"demo service did not start: {line!r}")
    return proc, line[len(READY) :].strip()


@pytest.fixture(scope="session")
def target() -> Iterator[str]:
    """The bundled demo service, a real HTTP server on 127.0.0.1, shared by the end-to-end tests."""
    proc, url = _start_service()
    yield url
    proc.terminate()
    proc.wait(timeout=10)
