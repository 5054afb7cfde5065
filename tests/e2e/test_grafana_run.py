"""A real `loadlens run --grafana-url` annotating a Grafana stand-in.

No Grafana server can be installed on these machines, so the Grafana here is a fake: a local HTTP
server implementing the annotation endpoints and recording each request (tests/support/fake_grafana.py).
Everything else is real: Locust, the demo target, the loadlens process.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import LoadlensRun
from tests.support.fake_grafana import FakeGrafana
from tests.support.procs import free_port


class TestRunAnnotations:
    def test_region_phases_verdict_and_link(self, tmp_path: Path, target: str) -> None:
        """The fake Grafana gets a region spanning the run, phase marks and the verdict, tagged with the
        scenario and run_id; the run prints a dashboard link for its window."""
        with FakeGrafana() as grafana:
            done = LoadlensRun(
                tmp_path,
                target,
                # Judged on all requests: a 4-user run's rarest endpoint can fall under min_samples (a WARN).
                config='[thresholds]\np95_ms = 5000\nexpected_statuses = [429]\nper_endpoint = false\n[run]\ninterval = "1s"\n',
                users=4,
                spawn_rate=4,
                flags=("--scenario", "smoke", "--grafana-url", grafana.url),
                env={"GRAFANA_TOKEN": grafana.token},
            ).run()
            annotations = grafana.annotations()
            posts = [
                r for r in grafana.requests if r.method == "POST" and r.path.endswith("/api/annotations")
            ]
        assert done.returncode == 0, done.stderr[-3000:]
        doc = done.summary
        run_id = doc["run_id"]
        assert posts and all(
            {k.lower(): v for k, v in r.headers.items()}.get("authorization") == f"Bearer {grafana.token}"
            for r in posts
        )
        assert all({"loadlens", "smoke", run_id} <= set(a["tags"]) for a in annotations)
        region = [a for a in annotations if "run" in a["tags"]]
        assert len(region) == 1 and region[0]["timeEnd"] > region[0]["time"]
        phases = " ".join(a["text"] for a in annotations if "phase" in a["tags"])
        assert "ramp-up" in phases and "steady" in phases
        verdicts = [a for a in annotations if "verdict" in a["tags"]]
        assert len(verdicts) == 1 and "PASS" in verdicts[0]["text"].upper()
        link = [ln for ln in done.stdout.splitlines() if ln.startswith("grafana: ")]
        assert link and f"var-run_id={run_id}" in link[0] and "/d/loadlens-live" in link[0]
        assert grafana.token not in done.stdout + done.stderr

    def test_grafana_down_never_fails_the_run(self, tmp_path: Path, target: str) -> None:
        """With Grafana unreachable the run completes with its own verdict and exit code."""
        done = LoadlensRun(
            tmp_path,
            target,
            config="[thresholds]\np95_ms = 5000\nexpected_statuses = [429]\n",
            users=4,
            spawn_rate=4,
            run_time="3s",
            flags=("--grafana-url", f"http://127.0.0.1:{free_port()}"),
        ).run()
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.summary["client"]["whole_run"]["total"]["requests"] > 0
        assert "Traceback" not in done.stderr
