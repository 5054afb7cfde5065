"""Fixtures the source tests share: a real moto server per module, a cleared state per test, and the
offline environment of the Stubber tests (tests/support/aws_stack.py holds the helpers)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.aws_stack import fresh, offline_env
from tests.support.procs import moto_server


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One moto process per test module; each test clears it through ``aws``."""
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A cleared moto server and dummy credentials pointing at it."""
    return fresh(moto_url, monkeypatch, tmp_path)


@pytest.fixture
def t0() -> float:
    """The start of the test's first minute: an hour ago, on a minute boundary."""
    return (int(time.time()) // 60 - 60) * 60.0


@pytest.fixture
def stub_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake (Stubber): dummy credentials and an endpoint never reached, for what moto cannot do."""
    offline_env(monkeypatch, tmp_path)
