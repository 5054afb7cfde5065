"""Bad configuration and bad flags: exit 2 and one line naming the problem, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.runs import LOCUSTFILES, loadlens_cmd, run

BASIC = str(LOCUSTFILES / "basic.py")

# (case id, loadlens.toml text or None, extra arguments, extra environment, text the line must contain)
CASES = [
    ("config-missing", None, ["--loadlens-config", "nope.toml"], {}, "nope.toml"),
    ("toml-syntax", "[thresholds\np95_ms = 1\n", [], {}, "loadlens.toml"),
    (
        "p95-not-number",
        '[thresholds]\np95_ms = "fast"\n',
        [],
        {},
        'thresholds.p95_ms: expected a number > 0, got "fast"',
    ),
    (
        "endpoint-p95",
        '[thresholds.endpoints."GET /health"]\np95_ms = "fast"\n',
        [],
        {},
        'thresholds.endpoints."GET /health".p95_ms: expected a number > 0, got "fast"',
    ),
    ("unknown-section", "[treshold]\np95_ms = 1\n", [], {}, "treshold"),
    ("unknown-key", "[thresholds]\np96_ms = 1\n", [], {}, "p96_ms"),
    ("error-rate-range", "[thresholds]\nerror_rate = 2\n", [], {}, "thresholds.error_rate"),
    ("bool-not-number", "[thresholds]\np95_ms = true\n", [], {}, "thresholds.p95_ms"),
    ("bad-endpoint-key", '[thresholds.endpoints."health"]\np95_ms = 5\n', [], {}, "health"),
    (
        "bad-stage",
        '[scenarios.burst]\nstages = [{duration = "0s", users = 5}]\n',
        ["--scenario", "burst"],
        {},
        "scenarios.burst",
    ),
    ("unknown-scenario", "", ["--scenario", "nope"], {}, "nope"),
    ("env-bad-value", "", [], {"LOADLENS_THRESHOLDS_P95_MS": "abc"}, "LOADLENS_THRESHOLDS_P95_MS"),
    ("env-unknown", "", [], {"LOADLENS_BOGUS": "1"}, "LOADLENS_BOGUS"),
    ("negative-warmup", '[run]\nwarmup = "-5s"\n', [], {}, "run.warmup"),
    ("locustfile-missing", "", ["-f", "missing_locustfile.py"], {}, "missing_locustfile.py"),
    ("users-not-int", "", ["-u", "abc"], {}, "abc"),
    ("log-format", "", ["--log-format", "xml"], {}, "--log-format"),
    ("warmup-flag", "", ["--warmup", "5parsecs"], {}, "--warmup"),
    ("expect-status", "", ["--expect-status", "999"], {}, "--expect-status"),
    ("out-is-a-file", "", ["--out", "afile"], {}, "afile"),
    ("prometheus-port", "[exporters.prometheus]\nport = 70000\n", [], {}, "exporters.prometheus.port"),
]


class TestRunRejectsBadInput:
    @pytest.mark.parametrize(("case", "toml", "args", "env", "needle"), CASES, ids=[c[0] for c in CASES])
    def test_one_line_and_exit_2(
        self, tmp_path: Path, case: str, toml: str | None, args: list[str], env: dict[str, str], needle: str
    ) -> None:
        """A bad config, variable or flag exits 2 with one line naming it, before any load is sent."""
        if toml is not None:
            (tmp_path / "loadlens.toml").write_text(toml)
        (tmp_path / "afile").write_text("not a directory")
        base = ["run", "-f", BASIC, "-H", "http://127.0.0.1:9", "--headless", "-t", "1s"]
        proc = run(loadlens_cmd(*base, *args), cwd=tmp_path, env=env, timeout_s=60)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert len(lines) == 1, proc.stderr
        assert lines[0].startswith("loadlens: ")
        assert needle in lines[0]
        assert not (tmp_path / "results").exists()  # nothing ran, no run directory

    def test_debug_shows_the_traceback(self, tmp_path: Path) -> None:
        """With --debug the same error comes with its traceback, for bug reports."""
        (tmp_path / "loadlens.toml").write_text("[thresholds]\np95_ms = -1\n")
        proc = run(loadlens_cmd("run", "-f", BASIC, "--debug", "--headless"), cwd=tmp_path)
        assert proc.returncode != 0
        assert "Traceback" in proc.stderr and "thresholds.p95_ms" in proc.stderr


class TestOtherCommandsRejectBadInput:
    @pytest.mark.parametrize(
        ("args", "needle"),
        [
            (["verdict", "no-such-run"], "no-such-run"),
            (["bogus"], "bogus"),
            (["demo", "--users", "abc"], "--users"),
            (["scenarios", "--loadlens-config", "missing.toml"], "missing.toml"),
        ],
    )
    def test_one_line_and_exit_2(self, tmp_path: Path, args: list[str], needle: str) -> None:
        """Other commands answer bad input the same way: exit 2, one line."""
        proc = run(loadlens_cmd(*args), cwd=tmp_path)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert needle in lines[0] and "Traceback" not in proc.stderr
