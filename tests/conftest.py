from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.runs import REPO, child_env

READY = "loadlens demo service listening on "


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
