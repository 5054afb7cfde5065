"""Locust's own outputs and habits under `loadlens run`: --json keeps stdout one JSON document,
locust-plugins' locustfiles and options run unchanged, and a check a plugin failed is not turned
into a pass. Real Locust against the demo service on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.runs import BIN, LOCUSTFILES, REPO, loadlens_cmd, only_run_dir, run, summary

BASIC = str(LOCUSTFILES / "basic.py")
PLUGINS = str(LOCUSTFILES / "with_plugins.py")
CONFIG = "[thresholds]\nerror_rate = 0.5\n"
# `make install` puts locust-plugins beside the environment (Locust would import it into every run
# of the suite otherwise); these tests put it on the child's path, as an installed one would be.
PLUGINS_DIR = BIN.parent / "locust-plugins"


def with_plugins() -> dict[str, str]:
    assert (PLUGINS_DIR / "locust_plugins").is_dir(), (
        f"locust-plugins missing in {PLUGINS_DIR}: run make install"
    )
    return {"PYTHONPATH": f"{REPO}:{PLUGINS_DIR}"}


@pytest.mark.slow
class TestLocustOutputs:
    def test_json_keeps_stdout_valid_json_and_the_verdict_goes_to_stderr(
        self, tmp_path: Path, target: str
    ) -> None:
        (tmp_path / "loadlens.toml").write_text(CONFIG)
        proc = run(
            loadlens_cmd("run", "-f", BASIC, "-H", target, "--headless", "-u", "2", "-r", "10", "-t", "3s",
                         "--json", "--skip-log", "--out", str(tmp_path / "out")),
            cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        stats = json.loads(proc.stdout)  # one document, nothing else
        assert {s["name"] for s in stats} >= {"/health", "/api/v1/jobs"}
        assert "verdict: PASS (exit 0)" in proc.stderr
        assert summary(only_run_dir(tmp_path / "out"))["verdict"] == "pass"


@pytest.mark.slow
class TestLocustPlugins:
    def test_a_plugins_locustfile_and_its_options_run_unchanged(self, tmp_path: Path, target: str) -> None:
        """locust-plugins' wait time and --check-rps work; its failed check keeps exit 3 although the
        verdict passes, and the console says where that exit code came from."""
        (tmp_path / "loadlens.toml").write_text(CONFIG)
        proc = run(
            loadlens_cmd("run", "-f", PLUGINS, "-H", target, "--headless", "-u", "2", "-r", "10", "-t", "3s",
                         "--check-rps", "100000", "--out", str(tmp_path / "out")),
            cwd=tmp_path,
            env=with_plugins(),
        )  # fmt: skip
        assert "Traceback" not in proc.stderr, proc.stderr
        assert "CHECK FAILED: total rps was" in proc.stderr
        assert proc.returncode == 3
        assert "verdict: PASS (exit 0)" in proc.stdout
        assert "exit code 3: set by the locustfile or a Locust plugin" in proc.stdout
        doc = summary(only_run_dir(tmp_path / "out"))
        assert doc["verdict"] == "pass" and doc["client"]["total"]["requests"] > 0

    def test_the_plugins_grafana_url_and_loadlens_grafana_url_coexist(self, tmp_path: Path) -> None:
        """locust-plugins owns --grafana-url (its Timescale dashboards); loadlens's is
        --loadlens-grafana-url, and both sets of options register."""
        proc = run(loadlens_cmd("run", "-f", PLUGINS, "--help"), cwd=tmp_path, env=with_plugins())
        assert proc.returncode == 0, proc.stderr
        assert "conflicting option" not in proc.stderr and "Traceback" not in proc.stderr
        assert "--loadlens-grafana-url" in proc.stdout and "--check-rps" in proc.stdout
        assert "--grafana-url GRAFANA_URL" in proc.stdout  # locust-plugins' own


class TestOpenTelemetryTwice:
    def test_locusts_otel_beside_loadlens_otlp_is_explained(self, tmp_path: Path, target: str) -> None:
        """Both on: one note before the run says what each exports; the run still runs."""
        (tmp_path / "loadlens.toml").write_text(CONFIG)
        proc = run(
            loadlens_cmd("run", "-f", BASIC, "-H", target, "--headless", "-u", "1", "-t", "2s", "--otel",
                         "--otlp-endpoint", "http://127.0.0.1:9", "--out", str(tmp_path / "out")),
            cwd=tmp_path,
            env={"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"},
        )  # fmt: skip
        notes = [ln for ln in proc.stderr.splitlines() if ln.startswith("loadlens: note: Locust's --otel")]
        assert (
            len(notes) == 1
            and "locust.client.duration" in notes[0]
            and "http.client.request.duration" in notes[0]
        )
        assert only_run_dir(tmp_path / "out").is_dir()

    def test_one_of_them_alone_says_nothing(self) -> None:
        from runner.locust.startup import otel_overlap

        assert otel_overlap(locust_otel=True, loadlens_otlp=False) is None
        assert otel_overlap(locust_otel=False, loadlens_otlp=True) is None


def _habit_run(tmp_path: Path, host: str, *extra: str, config: str | None = CONFIG):
    if config is not None:
        (tmp_path / "loadlens.toml").write_text(config)
    return run(
        loadlens_cmd("run", "-f", BASIC, "-H", host, "--headless", "-u", "4", "-r", "20", "-t", "4s",
                     "--out", str(tmp_path / "out"), *extra),
        cwd=tmp_path,
    )  # fmt: skip


@pytest.mark.slow
class TestExitCodeOnError:
    """Locust's ``--exit-code-on-error N``: failures make a passing run exit N; a verdict that is not
    a pass keeps its own code (FAIL 1, INCONCLUSIVE 3); one closing line says which applied."""

    def test_a_passing_run_with_failures_exits_n(self, tmp_path: Path, target: str) -> None:
        """The demo's 429s are failures under an error-rate limit of 50 %: PASS, and exit 5."""
        proc = _habit_run(tmp_path, target, "--exit-code-on-error", "5")
        doc = summary(only_run_dir(tmp_path / "out"))
        failed = doc["client"]["whole_run"]["total"]["failures"]
        assert doc["verdict"] == "pass" and failed > 0, doc["criteria"]
        assert proc.returncode == 5, proc.stderr[-3000:]
        assert (
            f"exit code 5: --exit-code-on-error 5 ({failed} requests failed); the verdict alone is exit 0"
            in proc.stdout
        ), proc.stdout[-2000:]

    def test_a_failing_verdict_keeps_exit_1(self, tmp_path: Path) -> None:
        """Nothing listens on the target: every request fails, the default criteria FAIL: exit 1."""
        proc = _habit_run(tmp_path, "http://127.0.0.1:9", "--exit-code-on-error", "5", config=None)
        assert proc.returncode == 1, proc.stderr[-3000:]
        assert "exit code 1: the verdict's (FAIL); --exit-code-on-error 5 applies to a passing run" in (
            proc.stdout
        ), proc.stdout[-2000:]

    def test_without_it_the_exit_code_is_the_verdicts(self, tmp_path: Path, target: str) -> None:
        proc = _habit_run(tmp_path, target)
        doc = summary(only_run_dir(tmp_path / "out"))
        assert doc["verdict"] == "pass" and doc["client"]["whole_run"]["total"]["failures"] > 0
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "--exit-code-on-error" not in proc.stdout


@pytest.mark.slow
class TestUsersOwnOutputFiles:
    def test_html_and_json_file_land_where_the_user_said(self, tmp_path: Path, target: str) -> None:
        """``--html FILE`` and ``--json-file FILE`` are written where given, not into the run directory."""
        mine = tmp_path / "mine"
        mine.mkdir()
        proc = _habit_run(
            tmp_path, target, "--html", str(mine / "report.html"), "--json-file", str(mine / "stats")
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "<html" in (mine / "report.html").read_text().lower()
        stats = json.loads((mine / "stats.json").read_text())
        assert {s["name"] for s in stats} >= {"/health"}
        run_dir = only_run_dir(tmp_path / "out")
        assert not (run_dir / "locust.html").exists()
        assert (run_dir / "summary.json").is_file()
