"""`loadlens compare` as a command: exit codes, and tolerances from [compare] and --tolerance."""

from __future__ import annotations

import io
from pathlib import Path

from runner.cli import main
from runner.commands.compare import compare_command
from runner.reports.summary_json import write_summary
from tests.compare.runs import make_run

BASE = {"/health": 50.0, "/api/v1/jobs": 50.0}


def dirs(tmp_path: Path) -> tuple[Path, Path]:
    base = write_summary(make_run(BASE, seed=1, run_id="load_base_7f3"), tmp_path / "base").parent
    slow = write_summary(
        make_run({**BASE, "/api/v1/jobs": 75.0}, seed=2, run_id="load_slow_9c1"), tmp_path / "slow"
    ).parent
    return base, slow


def test_compare_section_sets_the_tolerance(tmp_path: Path) -> None:
    """+50 % regresses with the default +10 %; [compare] latency_percent = 60 makes it unchanged
    (exit 0); --tolerance on the command line wins over the file (exit 1 again)."""
    base, slow = dirs(tmp_path)
    out = io.StringIO()
    assert compare_command([str(base), str(slow)], env={}, out=out) == 1
    cfg = tmp_path / "loadlens.toml"
    cfg.write_text("[compare]\nlatency_percent = 60\n")
    args = [str(base), str(slow), "--loadlens-config", str(cfg)]
    assert compare_command(args, env={}, out=io.StringIO()) == 0
    assert compare_command([*args, "--tolerance", "p95_ms=10%"], env={}, out=io.StringIO()) == 1


def test_bad_input_is_exit_2_with_one_line(tmp_path: Path, capsys) -> None:
    """A missing run directory, a bad tolerance and a bad [compare] value: exit 2, one line each."""
    base, slow = dirs(tmp_path)
    bad_cfg = tmp_path / "bad.toml"
    bad_cfg.write_text("[compare]\nlatency_percent = -5\n")
    for argv in (
        ["compare", str(base), str(tmp_path / "nope")],
        ["compare", str(base), str(slow), "--tolerance", "p95_ms=fast"],
        ["compare", str(base), str(slow), "--loadlens-config", str(bad_cfg)],
        ["compare", str(base)],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err


def test_html_overlays_the_baseline_on_the_current_run(tmp_path: Path) -> None:
    """--html writes the report page with both runs (the current in full, the baseline overlaid)."""
    base, slow = dirs(tmp_path)
    page = tmp_path / "compare.html"
    assert compare_command([str(base), str(slow), "--html", str(page)], env={}, out=io.StringIO()) == 1
    text = page.read_text()
    assert "<html" in text.lower() and "load_slow_9c1" in text and "load_base_7f3" in text


def test_an_endpoint_table_sets_that_endpoints_tolerance(tmp_path: Path) -> None:
    """[compare.endpoints."GET /api/v1/jobs"] latency_percent = 60: that endpoint's +50 % p50/p95/p99
    stay unchanged (within its own +60 %), the other endpoint keeps [compare]'s +10 %, and all
    requests' figures (no endpoint of their own) still regress."""
    import json

    base, slow = dirs(tmp_path)
    cfg = tmp_path / "loadlens.toml"
    cfg.write_text(
        '[compare]\nlatency_percent = 10\n[compare.endpoints."GET /api/v1/jobs"]\nlatency_percent = 60\n'
    )
    out = io.StringIO()
    code = compare_command(
        [str(base), str(slow), "--format", "json", "--loadlens-config", str(cfg)], env={}, out=out
    )
    rows = {(r["subject"], r["metric"]): r for r in json.loads(out.getvalue())["rows"]}
    for metric in ("p50_ms", "p95_ms", "p99_ms"):
        jobs = rows[("GET /api/v1/jobs", metric)]
        assert (jobs["status"], jobs["tolerance"]) == ("unchanged", 0.6), jobs
        assert rows[("GET /health", metric)]["tolerance"] == 0.1
    assert rows[("all requests", "p95_ms")]["status"] == "regressed"
    assert code == 1


def test_a_bad_endpoint_tolerance_is_exit_2_with_one_line(tmp_path: Path, capsys) -> None:
    """A misspelt key and a negative value in [compare.endpoints."..."]: exit 2, one line naming it."""
    base, slow = dirs(tmp_path)
    for body, said in (
        ('[compare.endpoints."GET /x"]\nlatncy_percent = 5\n', 'did you mean "latency_percent"'),
        ('[compare.endpoints."GET /x"]\nrps_percent = -5\n', 'compare.endpoints."GET /x".rps_percent'),
    ):
        cfg = tmp_path / "bad.toml"
        cfg.write_text(body)
        assert main(["compare", str(base), str(slow), "--loadlens-config", str(cfg)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and said in err and "Traceback" not in err, err


class TestPerFigureTolerances:
    """Per-figure tolerances in the config file, read alike by compare, run --baseline and verdict
    --baseline: flag > endpoint (figure, then kind) > [compare] figure > [compare] kind > default."""

    def _rows(self, tmp_path: Path, body: str, *flags: str) -> tuple[int, dict]:
        import json

        base, slow = dirs(tmp_path)
        cfg = tmp_path / "loadlens.toml"
        cfg.write_text(body)
        out = io.StringIO()
        code = compare_command(
            [str(base), str(slow), "--format", "json", "--loadlens-config", str(cfg), *flags], env={}, out=out
        )
        return code, {(r["subject"], r["metric"]): r for r in json.loads(out.getvalue())["rows"]}

    def test_a_compare_figure_key_sets_that_figure_only(self, tmp_path: Path) -> None:
        """[compare] p95_percent = 60 over latency_percent = 10: every p95 row has +60 %, p50 and
        p99 keep +10 %; error_rate_points, cpu_cost_percent and the server keys are accepted."""
        body = (
            "[compare]\nlatency_percent = 10\np95_percent = 60\nerror_rate_points = 2\n"
            "cpu_cost_percent = 20\nserver_peak_percent = 30\nserver_mean_percent = 15\n"
        )
        _code, rows = self._rows(tmp_path, body)
        for subject in ("all requests", "GET /api/v1/jobs", "GET /health"):
            assert rows[(subject, "p95_ms")]["tolerance"] == 0.6
            assert rows[(subject, "p50_ms")]["tolerance"] == 0.1
            assert rows[(subject, "error_rate")]["tolerance"] == 0.02
        assert rows[("GET /api/v1/jobs", "p95_ms")]["status"] == "unchanged"

    def test_one_precedence_flag_endpoint_figure_kind(self, tmp_path: Path) -> None:
        """An endpoint's p99 key beats its latency_percent, which beats [compare] p99_percent, which
        beats latency_percent; --tolerance beats them all."""
        body = (
            "[compare]\nlatency_percent = 11\np99_percent = 22\n"
            '[compare.endpoints."GET /api/v1/jobs"]\nlatency_percent = 33\np99_percent = 44\n'
        )
        _code, rows = self._rows(tmp_path, body)
        jobs = {m: rows[("GET /api/v1/jobs", m)]["tolerance"] for m in ("p50_ms", "p95_ms", "p99_ms")}
        assert jobs == {"p50_ms": 0.33, "p95_ms": 0.33, "p99_ms": 0.44}
        health = {m: rows[("GET /health", m)]["tolerance"] for m in ("p50_ms", "p95_ms", "p99_ms")}
        assert health == {"p50_ms": 0.11, "p95_ms": 0.11, "p99_ms": 0.22}
        _code, rows = self._rows(tmp_path, body, "--tolerance", "p99_ms=5%")
        assert rows[("GET /api/v1/jobs", "p99_ms")]["tolerance"] == 0.05

    def test_thresholds_endpoint_vs_baseline_keys(self, tmp_path: Path) -> None:
        """[thresholds.endpoints."GET /api/v1/jobs"] p95_vs_baseline_percent = 60: that endpoint's
        +50 % p95 is unchanged (its own +60 %), its p50 keeps +10 % and regresses."""
        body = '[thresholds.endpoints."GET /api/v1/jobs"]\np95_ms = 5000\np95_vs_baseline_percent = 60\n'
        _code, rows = self._rows(tmp_path, body)
        jobs = rows[("GET /api/v1/jobs", "p95_ms")]
        assert (jobs["status"], jobs["tolerance"]) == ("unchanged", 0.6)
        assert rows[("GET /api/v1/jobs", "p50_ms")]["status"] == "regressed"
        assert rows[("GET /health", "p95_ms")]["tolerance"] == 0.1

    def test_bad_keys_are_exit_2_with_did_you_mean(self, tmp_path: Path, capsys) -> None:
        """A misspelt per-figure key in [compare], [compare.endpoints] or [thresholds.endpoints], and
        one figure set in both endpoint tables: exit 2, one line."""
        base, slow = dirs(tmp_path)
        both = (
            '[compare.endpoints."GET /x"]\np95_percent = 5\n'
            '[thresholds.endpoints."GET /x"]\np95_vs_baseline_percent = 7\n'
        )
        for body, said in (
            ("[compare]\np99_prcent = 5\n", 'did you mean "p99_percent"'),
            ('[compare.endpoints."GET /x"]\np50_prcent = 5\n', 'did you mean "p50_percent"'),
            ('[thresholds.endpoints."GET /x"]\np95_vs_baseline_prcent = 5\n', 'did you mean "p95_vs_baseline_percent"'),
            (both, "p95_vs_baseline_percent"),
        ):  # fmt: skip
            cfg = tmp_path / "bad.toml"
            cfg.write_text(body)
            assert main(["compare", str(base), str(slow), "--loadlens-config", str(cfg)]) == 2, body
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and said in err and "Traceback" not in err, err
