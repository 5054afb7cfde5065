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
