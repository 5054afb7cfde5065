"""Packaging: the load-generating environment keeps plain urllib3, and the console script works."""

from __future__ import annotations

import importlib.metadata
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.support.runs import LOCUSTFILES, REPO, loadlens_cmd, run


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
        (spec,) = [Requirement(r) for r in project["dependencies"] if Requirement(r).name == "grafana-client"]
        assert not spec.specifier.contains("4.0.0") and spec.specifier.contains("3.11.2")

    def test_console_script_reports_versions(self, tmp_path: Path) -> None:
        """The installed `loadlens` entry point runs and names loadlens and Locust versions."""
        script = Path(sys.executable).parent / "loadlens"
        proc = run([str(script), "version"], cwd=tmp_path)
        assert proc.returncode == 0 and proc.stdout.startswith("loadlens ") and "locust 2." in proc.stdout


class TestCompleteInstall:
    def test_everything_the_readme_promises_is_a_regular_dependency(self) -> None:
        """`pip install loadlens` brings boto3, the OpenTelemetry SDK with both OTLP exporters and
        grafana-client: none hides behind an extra."""
        project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
        names = {Requirement(r).name for r in project["dependencies"]}
        assert {
            "boto3",
            "opentelemetry-sdk",
            "opentelemetry-exporter-otlp-proto-http",
            "opentelemetry-exporter-otlp-proto-grpc",
            "grafana-client",
        } <= names


# A trimmed image: sitecustomize makes these imports fail exactly as an absent package does
# (ModuleNotFoundError from the import system), in a child process only. Building a second virtual
# environment without them would test the same import failure at the cost of a network install.
_BLOCKER = """
import sys
_blocked = {blocked!r}
class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in _blocked):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _Blocker())
"""


class TestTrimmedInstall:
    @pytest.mark.parametrize(
        ("flags", "env", "says"),
        [
            (
                ["--correlate-cloudwatch"],
                {"LOADLENS_CLOUDWATCH_ECS_CLUSTER": "c", "LOADLENS_CLOUDWATCH_ECS_SERVICE": "s"},
                "pip install 'boto3>=1.34'",
            ),
            (["--otlp"], {}, "pip install 'opentelemetry-sdk>=1.25,<2'"),
            (["--grafana-url", "http://127.0.0.1:9"], {}, "pip install 'grafana-client>=3.11,<4'"),
            ([], {"LOADLENS_CLOUDWATCH_LOG_GROUP": "/ecs/api"}, "pip install 'boto3>=1.34'"),
            ([], {"LOADLENS_CLOUDWATCH_ALARMS": "true"}, "pip install 'boto3>=1.34'"),
        ],
        ids=["cloudwatch", "otlp", "grafana", "logs", "alarms"],
    )
    def test_a_feature_whose_package_is_missing_is_one_line_and_exit_2(
        self, tmp_path: Path, flags: list[str], env: dict[str, str], says: str
    ) -> None:
        """No traceback, no run directory, the pip command, before any load."""
        blocker = tmp_path / "blocker"
        blocker.mkdir()
        (blocker / "sitecustomize.py").write_text(
            _BLOCKER.format(blocked=("boto3", "botocore", "opentelemetry", "grafana_client"))
        )
        out = tmp_path / "out"
        proc = run(
            loadlens_cmd("run", "-f", str(LOCUSTFILES / "basic.py"), "-H", "http://127.0.0.1:9", "--headless",
                         "-u", "1", "-t", "2s", "--out", str(out), *flags),
            cwd=tmp_path,
            env={**env, "PYTHONPATH": f"{blocker}:{REPO}"},
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0] and "Traceback" not in proc.stderr, proc.stderr
        assert not out.exists()

    def test_the_blocker_blocks(self, tmp_path: Path) -> None:
        """The simulation is real: in that child, importing boto3 fails as on an image without it."""
        blocker = tmp_path / "blocker"
        blocker.mkdir()
        (blocker / "sitecustomize.py").write_text(_BLOCKER.format(blocked=("boto3",)))
        proc = run([sys.executable, "-c", "import boto3"], cwd=tmp_path, env={"PYTHONPATH": str(blocker)})
        assert proc.returncode == 1 and "No module named 'boto3'" in proc.stderr

    @pytest.mark.parametrize(
        ("args", "env", "says"),
        [
            (
                ["verdict", "RUN_DIR", "--correlate-cloudwatch"],
                {"LOADLENS_CLOUDWATCH_ECS_CLUSTER": "c", "LOADLENS_CLOUDWATCH_ECS_SERVICE": "s"},
                "loadlens verdict --correlate-cloudwatch needs the AWS SDK (boto3)",
            ),
            (
                ["verdict", "RUN_DIR"],
                {"LOADLENS_CLOUDWATCH_LOG_GROUP": "/ecs/api"},
                "loadlens verdict logs and alarms ([cloudwatch]) needs the AWS SDK (boto3)",
            ),
            (
                ["cloudwatch", "check"],
                {"LOADLENS_CLOUDWATCH_ECS_CLUSTER": "c", "LOADLENS_CLOUDWATCH_ECS_SERVICE": "s"},
                "loadlens cloudwatch check needs the AWS SDK (boto3)",
            ),
            (["grafana", "push", "--url", "http://127.0.0.1:9"], {}, "pip install 'grafana-client>=3.11,<4'"),
        ],
        ids=["verdict", "verdict-logs", "cloudwatch-check", "grafana-push"],
    )
    def test_the_other_commands_say_so_too(
        self, tmp_path: Path, args: list[str], env: dict[str, str], says: str
    ) -> None:
        """`loadlens verdict --correlate-cloudwatch`, `cloudwatch check` and `grafana push` on the same
        trimmed install: one line with the pip command, exit 2 (a run that needs none of them works)."""
        blocker = tmp_path / "blocker"
        blocker.mkdir()
        (blocker / "sitecustomize.py").write_text(
            _BLOCKER.format(blocked=("boto3", "botocore", "opentelemetry", "grafana_client"))
        )
        child = {"PYTHONPATH": f"{blocker}:{REPO}"}
        if "RUN_DIR" in args:
            # 3 s, not 1: on a crowded machine a 1 s run can end before its first request (exit 3)
            out = tmp_path / "out"
            made = run(
                loadlens_cmd("run", "-f", str(LOCUSTFILES / "basic.py"), "-H", "http://127.0.0.1:9", "--headless",
                             "-u", "1", "-t", "3s", "--only-summary", "--out", str(out)),
                cwd=tmp_path,
                env=child,
            )  # fmt: skip
            assert made.returncode == 1, made.stderr[-2000:]  # every request refused: FAIL
            (run_dir,) = out.iterdir()
            args = [str(run_dir) if a == "RUN_DIR" else a for a in args]
        proc = run(loadlens_cmd(*args), cwd=tmp_path, env={**env, **child})
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0] and "Traceback" not in proc.stderr, proc.stderr
        assert "pip install" in lines[0] and "extra" not in lines[0], lines[0]
