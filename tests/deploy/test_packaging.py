"""Packaging: the load-generating environment keeps plain urllib3, and the console script works."""

from __future__ import annotations

import importlib.metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

from tests.support.runs import REPO, run


class TestDependencies:
    def test_plain_urllib3_not_urllib3_future(self) -> None:
        """grafana-client 4+/niquests would swap urllib3 for urllib3-future and slow Locust ~27%: not installed."""
        installed = {d.metadata["Name"].lower() for d in importlib.metadata.distributions()}
        assert "urllib3-future" not in installed and "niquests" not in installed
        assert Version(importlib.metadata.version("grafana-client")) < Version("4")
        import urllib3

        assert Version(urllib3.__version__) < Version("2.20")  # urllib3-future reports 2.2x+

    def test_grafana_client_pin_excludes_4_and_later(self) -> None:
        """pyproject pins grafana-client below 4, so a fresh install cannot pull urllib3-future."""
        project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
        (spec,) = [Requirement(r) for r in project["optional-dependencies"]["grafana"]]
        assert spec.name == "grafana-client"
        assert not spec.specifier.contains("4.0.0") and spec.specifier.contains("3.11.2")

    def test_console_script_reports_versions(self, tmp_path: Path) -> None:
        """The installed `loadlens` entry point runs and names loadlens and Locust versions."""
        script = Path(sys.executable).parent / "loadlens"
        proc = run([str(script), "version"], cwd=tmp_path)
        assert proc.returncode == 0 and proc.stdout.startswith("loadlens ") and "locust 2." in proc.stdout
