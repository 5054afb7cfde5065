"""Fixtures the end-to-end tests share: a moto server for the AWS APIs (a real process on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import aws_stack
from tests.support.cli import Finished
from tests.support.procs import moto_server
from tests.support.runs import loadlens_cmd, run


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture
def aws(moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh moto state, dummy credentials for this process (seeding) and for the run's process."""
    aws_stack.fresh(moto, monkeypatch, tmp_path)
    return aws_stack.child_env(moto, tmp_path)


@pytest.fixture(scope="session")
def degraded_demo(tmp_path_factory: pytest.TempPathFactory) -> Finished:
    """One `loadlens demo --degrade -t 12s` for the tests that only read it (its verdict, its report
    page in the browser): the run is real and long enough for the report's charts."""
    tmp = tmp_path_factory.mktemp("degraded-demo")
    results = tmp / "results"
    # A relative --out from the run's own directory: the command line the page (and the README's
    # screenshot of it) shows names no path of the machine that made it.
    proc = run(loadlens_cmd("demo", "--degrade", "-t", "12s", "--out", "results"), cwd=tmp, timeout_s=120)
    return Finished(proc.returncode, proc.stdout, proc.stderr, results)
