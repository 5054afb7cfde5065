"""The GitHub Actions examples keep report.html as an artifact of its own and link it from the
job's step summary (deploy/ci/github-actions/)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from runner.reports import write_reports
from tests.reports.test_reports import make_record

WORKFLOWS = Path(__file__).resolve().parents[2] / "deploy" / "ci" / "github-actions"
NAMES = sorted(p.name for p in WORKFLOWS.glob("*.yml"))


def steps(name: str) -> list[dict]:
    (job,) = yaml.safe_load((WORKFLOWS / name).read_text())["jobs"].values()
    return list(job["steps"])


@pytest.mark.parametrize("name", NAMES)
class TestReportInCi:
    def test_report_html_is_uploaded_whatever_the_verdict(self, name: str, tmp_path: Path) -> None:
        """An upload step runs always() with a path that finds report.html in a real run directory."""
        (upload,) = [s for s in steps(name) if s.get("id") == "report"]
        assert upload["uses"].startswith("actions/upload-artifact@") and upload["if"] == "always()"
        write_reports(make_record(), tmp_path / "results" / "load_20261103T120000Z", env={})
        found = list(tmp_path.glob(upload["with"]["path"]))
        assert [p.name for p in found] == ["report.html"]

    def test_the_step_summary_links_the_uploaded_report(self, name: str, tmp_path: Path) -> None:
        """The link step, run under bash as Actions runs it, appends a Markdown link to the artifact's
        URL (the upload step's output) to $GITHUB_STEP_SUMMARY."""
        (link,) = [s for s in steps(name) if "steps.report.outputs.artifact-url" in str(s.get("env", {}))]
        assert link["if"].startswith("always()")
        summary = tmp_path / "summary.md"
        summary.write_text("# verdict\n")
        script = tmp_path / "step.sh"
        script.write_text(link["run"])
        url = "https://github.com/org/repo/actions/runs/1/artifacts/2"
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            env={"PATH": os.environ["PATH"], "REPORT_URL": url, "GITHUB_STEP_SUMMARY": str(summary)},
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        text = summary.read_text()
        assert text.startswith("# verdict\n") and f"[report.html]({url})" in text
