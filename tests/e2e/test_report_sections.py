"""The report page's parts beyond a single run's basics, in a real headless Chromium: the chosen
endpoint's p50/p95/p99, each phase shaded apart, print and dark schemes, the comparison table of
`compare --html` and the history of `history --html`.

Two real runs against the demo service make every page (a warm-up, a cool-down, 1 s intervals): a
plain one with a ramp-up of 4 users at 2/s, and a staged scenario (2 users, then a load step to 4).
Each page opens with the network blocked.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_report_browser import assert_charts_drawn, open_report
from tests.reports.test_html import page_document
from tests.support.browser import Browser
from tests.support.runs import LOCUSTFILES, child_env, loadlens_cmd, run, run_dirs, summary
from tests.support.wait import wait_until

CONFIG = """
[thresholds]
p95_ms = 5000
error_rate = 0.5
[run]
warmup = "1s"
cooldown = "1s"
interval = "1s"
[scenarios.steps]
stages = [{duration = "3s", users = 2, spawn_rate = 1}, {duration = "4s", users = 4, spawn_rate = 20}]
"""
# Everything the page's palette is made of: print must set each to its light value.
PALETTE = ("--bg", "--fg", "--muted", "--line", "--panel", "--pass", "--fail", "--s1", "--phase-steady")
SAME_IN_PRINT = ("--bg", "--pass", "--fail", "--s1", "--phase-steady")  # print sets --fg black, lines darker
_NAMES = ", ".join(f"'{n}'" for n in PALETTE)
PALETTE_JS = f"JSON.stringify([{_NAMES}].map(n => getComputedStyle(document.documentElement).getPropertyValue(n).trim()))"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, target: str) -> tuple[Path, list[Path], list[str]]:
    """Two real staged runs into one --out directory: (that directory, the run directories, stdouts)."""
    tmp = tmp_path_factory.mktemp("sections")
    cfg = tmp / "loadlens.toml"
    cfg.write_text(CONFIG)
    out = tmp / "results"
    base = ["run", "-f", str(LOCUSTFILES / "basic.py"), "-H", target, "--headless"]
    base += ["--loadlens-config", str(cfg), "--out", str(out)]
    # A plain run with a ramp-up of its own (4 users at 2/s: Locust spawns each second's batch at
    # once, so 2/s takes a second), and the staged scenario beside it: the pages show what each run
    # recorded, not how fast the target answered, so neither waits for the other. The staged run
    # starts once the plain one has its run directory: the plain run is the older in the history.
    logs = [(tmp / f"run-{n}.out", tmp / f"run-{n}.err") for n in range(2)]
    procs: list[subprocess.Popen[str]] = []
    try:
        for (stdout, stderr), extra in zip(
            logs, (["-u", "4", "-r", "2", "-t", "7s"], ["--scenario", "steps"]), strict=True
        ):
            if procs:
                wait_until(lambda: run_dirs(out), 60, what="the plain run's directory")
            with open(stdout, "w") as o, open(stderr, "w") as e:
                procs.append(
                    subprocess.Popen(
                        loadlens_cmd(*base, *extra), cwd=tmp, env=child_env(), stdout=o, stderr=e, text=True
                    )
                )
        for proc in procs:
            proc.wait(timeout=120)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stdouts = []
    for proc, (stdout, stderr) in zip(procs, logs, strict=True):
        assert proc.returncode in (0, 1), stderr.read_text()[-3000:]
        stdouts.append(stdout.read_text() + stderr.read_text())
    dirs = run_dirs(out)
    assert len(dirs) == 2
    return out, dirs, stdouts


def test_the_console_names_the_report_page(runs) -> None:
    """The run's closing lines name report.html's path, after the run directory."""
    _out, dirs, stdouts = runs
    for rd, text in zip(dirs, stdouts, strict=True):
        assert f"run directory: {rd}\n" in text and f"report: {rd / 'report.html'}\n" in text, text[-1500:]


def test_a_chosen_endpoint_shows_p50_p95_p99_on_the_shared_axis(
    browser: Browser, runs, tmp_path: Path
) -> None:
    """The endpoint chooser lists the busiest endpoints; the chart shows the chosen one's p50, p95
    and p99 (ordered so at every interval), follows a zoom of the other charts, and another choice
    redraws it for that endpoint."""
    rd = runs[1][1]
    doc = page_document((rd / "report.html").read_text())
    e = doc["endpoint_latency"]
    assert len(e["names"]) == 3 and all(len(e[k]) == 3 for k in ("p50", "values", "p99"))
    for p50, p95, p99 in zip(e["p50"][0], e["values"][0], e["p99"][0], strict=True):
        assert None in (p50, p95, p99) or p50 <= p95 <= p99
    with browser.tab() as page:
        open_report(page, rd / "report.html")
        options = page.evaluate(
            "Array.from(document.querySelectorAll('#endpoint-select option')).map(o => o.value)"
        )
        assert options == e["names"]
        chart = "document.querySelector('#endpoint-chart .chart')"
        assert page.evaluate(f"{chart}.dataset.chart") == f"latency of {e['names'][0]}"
        legend = page.evaluate(
            "Array.from(document.querySelectorAll('#endpoint-chart .u-legend .u-series .u-label')).map(x => x.textContent)"
        )
        assert legend[1:] == ["p50", "p95", "p99"]
        page.evaluate(
            "(() => { const s = document.getElementById('endpoint-select'); s.value = s.options[2].value;"
            " s.dispatchEvent(new Event('change')); return 1; })()"
        )
        assert page.evaluate(f"{chart}.dataset.chart") == f"latency of {e['names'][2]}"
        # Zoom the users chart: the endpoint chart (a time chart like the others) follows.
        lo, hi = doc["meta"]["t_start"] + 1, doc["meta"]["t_start"] + 4
        page.evaluate(f"window.loadlens.charts[0].setScale('x', {{min: {lo}, max: {hi}}}), 1")
        x = page.evaluate(
            "(() => { const u = window.loadlens.charts.find(u => u.root.closest('#endpoint-chart'));"
            " return [u.scales.x.min, u.scales.x.max]; })()"
        )
        assert x == pytest.approx([lo, hi])
        assert_charts_drawn(page)
        assert page.errors() == []


def test_each_phase_is_shaded_apart_and_report_redraws_them(browser: Browser, runs, tmp_path: Path) -> None:
    """summary.json keeps the ramp-up's end and the load steps; the page shades ramp-up, warm-up, the
    steady state, each load step and the cool-down apart, and `loadlens report RUN_DIR` draws the
    same spans from summary.json."""
    plain, staged = runs[1]
    window = summary(staged)["window"]
    assert [(s["from_users"], s["to_users"]) for s in window["load_steps"]] == [(2, 4)]
    assert summary(plain)["window"]["load_steps"] == []
    kinds = {}
    for rd in (plain, staged):
        phases = page_document((rd / "report.html").read_text())["phases"]
        kinds[rd] = [p["kind"] for p in phases]
        assert all(a["end"] == pytest.approx(b["start"]) for a, b in itertools.pairwise(phases))
        copy = tmp_path / rd.name
        shutil.copytree(rd, copy)
        (copy / "report.html").unlink()
        proc = run(loadlens_cmd("report", str(copy)), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        again = page_document((copy / "report.html").read_text())["phases"]
        assert [(p["kind"], p["name"]) for p in again] == [(p["kind"], p["name"]) for p in phases]
        for p, q in zip(again, phases, strict=True):  # summary.json keeps times to the millisecond
            assert (p["start"], p["end"]) == pytest.approx((q["start"], q["end"]), abs=0.001)
    assert kinds[plain] == ["ramp", "warm", "steady", "cool"]
    assert kinds[staged][-3:] == ["steady", "step", "cool"] and "warm" in kinds[staged]
    step = page_document((staged / "report.html").read_text())["phases"][-2]
    assert step["name"] == "load step 2: 2 → 4 users (judged)"
    with browser.tab() as page:
        open_report(page, tmp_path / staged.name / "report.html")
        legend = page.evaluate("document.querySelector('.phase-legend').textContent")
        for name in ("ramp-up", "warm-up", "steady state", "load step", "cool-down"):
            assert name in legend


def test_print_is_light_and_fits_whatever_the_scheme(browser: Browser, runs, tmp_path: Path) -> None:
    """Under a dark scheme the page is dark; printed (print media, dark scheme still asked for) no
    colour of the palette is the dark one (status and series colours are the light ones, text black), the charts are redrawn with it and fit their boxes, and
    nothing errs."""
    rd = runs[1][1]
    with browser.tab() as page:
        open_report(page, rd / "report.html")
        light = json.loads(page.evaluate(PALETTE_JS))
        page.send(
            "Emulation.setEmulatedMedia",
            {"media": "screen", "features": [{"name": "prefers-color-scheme", "value": "dark"}]},
        )
        page.wait_for("getComputedStyle(document.body).backgroundColor !== 'rgb(255, 255, 255)'")
        dark = json.loads(page.evaluate(PALETTE_JS))
        page.evaluate("window.before = window.loadlens.charts[0], 1")
        page.send(
            "Emulation.setEmulatedMedia",
            {"media": "print", "features": [{"name": "prefers-color-scheme", "value": "dark"}]},
        )
        page.wait_for("window.loadlens.charts[0] !== window.before")  # redrawn for print
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
        printed = dict(zip(PALETTE, json.loads(page.evaluate(PALETTE_JS)), strict=True))
        assert all(printed[n] != d for n, d in zip(PALETTE, dark, strict=True)), (printed, dark)
        assert all(printed[n] == v for n, v in zip(PALETTE, light, strict=True) if n in SAME_IN_PRINT)
        assert (printed["--bg"], printed["--fg"]) == ("#ffffff", "#000000")
        # An A4 page's width in CSS pixels (8.27 in less margins): every chart still fits its box.
        page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 720, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
        )
        page.wait_for("document.documentElement.scrollWidth <= 720")  # the charts follow the width
        overflowing = (
            "Array.from(document.querySelectorAll('.chart')).filter(b => { const c = b.querySelector('canvas');"
            " return !c || c.getBoundingClientRect().width > b.getBoundingClientRect().width + 1; }).map(b => b.dataset.chart)"
        )
        # The charts redraw at the new width on the next frames after the resize: wait for them.
        page.wait_for(f"({overflowing}).length === 0")
        assert page.evaluate(overflowing) == []
        assert_charts_drawn(page)
        # And a real print to PDF (A4 portrait) goes through without an error.
        pdf = page.send(
            "Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": True}
        )
        assert base64.b64decode(pdf["data"])[:5] == b"%PDF-"
        assert page.errors() == []


def test_compare_html_shows_the_comparison_table(browser: Browser, runs, tmp_path: Path) -> None:
    """`loadlens compare A B --html`: the page shows every row of the comparison (subject, metric,
    baseline, current, change, CI, status) with its status, and the outcome line."""
    _out, (a, b), _s = runs
    page_file = tmp_path / "compare.html"
    proc = run(
        loadlens_cmd("compare", str(a), str(b), "--format", "json", "--html", str(page_file)), cwd=tmp_path
    )
    assert proc.returncode in (0, 1, 3), proc.stderr
    rows = json.loads(proc.stdout)["rows"]
    with browser.tab() as page:
        open_report(page, page_file)
        shown = page.evaluate(
            "Array.from(document.querySelectorAll('#comparison tbody tr')).map(r => [r.cells[0].textContent,"
            " r.cells[1].textContent, r.dataset.status, r.cells.length])"
        )
        assert sorted((s, m, st) for s, m, st, _n in shown) == sorted(
            (r["subject"], r["metric"], r["status"]) for r in rows
        )
        assert {n for *_x, n in shown} == {7}
        assert page.evaluate("document.getElementById('comparison-outcome').textContent").endswith(
            f"(exit {proc.returncode})"
        )
        assert page.errors() == []


def test_history_html_shows_the_runs_and_the_trend(browser: Browser, runs, tmp_path: Path) -> None:
    """`loadlens history DIR --html`: the page (the newest run in full) lists one row per run, oldest
    first, draws p95 per run and says the trend and the change point."""
    out, dirs, _s = runs
    page_file = tmp_path / "history.html"
    proc = run(loadlens_cmd("history", str(out), "--html", str(page_file)), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    ids = [summary(d)["run_id"] for d in dirs]
    with browser.tab() as page:
        open_report(page, page_file)
        shown = page.evaluate(
            "Array.from(document.querySelectorAll('#history tbody tr')).map(r => r.cells[1].textContent)"
        )
        assert shown == ids
        assert page.evaluate("document.getElementById('history-change').textContent").startswith(
            "change point: none"
        )
        assert page.evaluate("document.getElementById('history-trend').textContent").startswith("trend:")
        charts = {c["chart"] for c in assert_charts_drawn(page)}
        assert "history p95" in charts


# The mark's pixels: the chart's canvas pixels painted exactly in the page's --breach colour.
MARK_PIXELS_JS = """
(() => {
  const box = document.querySelector('.chart[data-chart="history p95"]');
  const c = box.querySelector('canvas'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const probe = document.createElement('canvas').getContext('2d');
  probe.fillStyle = getComputedStyle(document.documentElement).getPropertyValue('--breach').trim();
  probe.fillRect(0, 0, 1, 1);
  const [r, g, b] = probe.getImageData(0, 0, 1, 1).data;
  const columns = new Set();
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] === r && d[i + 1] === g && d[i + 2] === b && d[i + 3] === 255) { n++; columns.add((i / 4) % c.width); }
  }
  const xs = Array.from(columns).sort((a, b) => a - b);
  return {pixels: n, first_x: xs.length ? xs[0] / c.width : null, height: c.height};
})()
"""


def test_history_html_draws_the_change_point_on_the_chart(browser: Browser, tmp_path: Path) -> None:
    """Five runs at 50 ms then four at 80 ms: the page draws the change point's mark on the p95 per
    run chart (a vertical line in the --breach colour between the 5th and 6th runs), not only the
    table's outlined row. The nine runs' summaries are recorded by the real StatsStore and Timeline
    over a fake clock (tests/compare/runs.py): nine real runs would cost minutes for a page test."""
    from runner.reports.summary_json import write_summary
    from tests.compare.runs import T0, make_run

    out = tmp_path / "runs"
    for i, ms in enumerate([50] * 5 + [80] * 4):
        record = make_run({"/health": ms}, seed=i, run_id=f"load_{i:02d}", start=T0 + 100 * i)
        write_summary(record, out / record.info.run_id)
    page_file = tmp_path / "history.html"
    proc = run(loadlens_cmd("history", str(out), "--html", str(page_file)), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with browser.tab() as page:
        open_report(page, page_file)
        assert page.evaluate("document.getElementById('history-change').textContent").startswith(
            "change point: load_05"
        )
        mark = page.evaluate(MARK_PIXELS_JS)
        # A 2 px line the plot's height, plus the label: at least the plot's height in pixels.
        assert mark["pixels"] > mark["height"] / 2, mark
        # The line stands between run 5 and run 6 (x = 5.5 on the 1 … 9 axis): right of the middle.
        assert 0.45 < mark["first_x"] < 0.75, mark
        assert page.errors() == []
