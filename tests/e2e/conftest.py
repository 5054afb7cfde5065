"""Fixtures the end-to-end tests share: a moto server for the AWS APIs (a real process on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import aws_stack
from tests.support.procs import moto_server


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture
def aws(moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh moto state, dummy credentials for this process (seeding) and for the run's process."""
    aws_stack.fresh(moto, monkeypatch, tmp_path)
    return aws_stack.child_env(moto, tmp_path)
