"""report.html in a real headless Chromium (tests/support/browser.py, the DevTools protocol).

Real runs make the pages: the demo (a real service, its process as the server source), a
CloudWatch-correlated run against a real moto server, and a running test's live page served by
the --prometheus-port server and by Locust's web UI. Every page opens with the network blocked;
each request it makes is recorded and must be its own document (or, live, its own data).

``LOADLENS_SCREENSHOT=PATH`` (``make screenshot``) keeps the demo report's screenshot there: the
README's image is made by this test from a real run.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support import aws_stack
from tests.support.browser import BLOCK_ALL, CHARTS_DRAWN_JS, Page, chromium
from tests.support.cli import Finished, end_linger
from tests.support.procs import free_port, local_http, wait_http
from tests.support.runs import LOCUSTFILES, REPO, child_env, loadlens_cmd, only_run_dir, run, summary
from tests.support.wait import wait_until

ROWS_JS = "Array.from(document.querySelectorAll('#criteria tbody tr')).map(r => [r.cells[0].textContent, r.dataset.status])"
TEXT_JS = "document.getElementById('report').innerText"


def open_report(page: Page, path: Path) -> None:
    """Open a report file with every network request refused, and wait until it has drawn."""
    url = path.resolve().as_uri()
    page.open(url, block=BLOCK_ALL)
    page.wait_for("document.body.dataset.rendered === '1'")
    assert page.requests() == [url]  # nothing but the file itself was asked for
    assert page.errors() == []


def assert_charts_drawn(page: Page) -> list[dict]:
    charts = page.evaluate(CHARTS_DRAWN_JS)
    assert charts, "no chart on the page"
    empty = [c["chart"] for c in charts if c["painted"] == 0 or c["points"] == 0]
    assert empty == [], f"charts without data or pixels: {empty}"
    return charts


def assert_criteria_rows(page: Page, doc: dict) -> None:
    rows = page.evaluate(ROWS_JS)
    expected = [c["name"] for c in doc["criteria"]]
    assert len(rows) == len(expected)
    assert all(shown.startswith(name) for (shown, _s), name in zip(rows, expected, strict=True))
    assert [s for _n, s in rows] == [c["status"] for c in doc["criteria"]]


class TestRunReports:
    def test_a_process_source_run_draws_every_chart_offline(
        self, tmp_path: Path, degraded_demo: Finished
    ) -> None:
        """The degraded demo (its service's process as the server source): the page draws every chart
        with no network, shows each criterion and server series, marks the verdict, and gives the
        README's screenshot."""
        proc = degraded_demo
        assert proc.returncode == 1, proc.stderr[-3000:]
        rd = degraded_demo.run_dir
        doc = summary(rd)
        with chromium(tmp_path) as page:
            open_report(page, rd / "report.html")
            assert_criteria_rows(page, doc)
            charts = {c["chart"] for c in assert_charts_drawn(page)}
            assert {"users", "requests/s", "latency, all requests", "error rate", "distribution"} <= charts
            text = page.evaluate(TEXT_JS)
            for name in ("process CPU · pid:", "process memory · pid:", "process RSS · pid:"):
                assert name in text
            assert page.evaluate("document.getElementById('verdict').className") == "banner fail"
            # The endpoint table sorts by a clicked column (descending first), the total row stays last.
            page.evaluate("document.querySelector('#endpoints th[data-key=p95_ms]').click(), 1")
            p95s = page.evaluate(
                "Array.from(document.querySelectorAll('#endpoints tbody tr')).map(r => r.cells[5].textContent)"
            )
            shown = [float(v) for v in p95s[:-1]]
            assert shown == sorted(shown, reverse=True) and len(shown) == len(doc["client"]["endpoints"])
            assert doc["run_id"] in text and "locust " + doc["locust_version"] in text
            # The command line names no local path (the README's screenshot is made from this page).
            shown = page.evaluate("document.querySelector('dl.meta code').textContent")
            assert "runner/demo/locustfile.py" in shown and "--out results" in shown, shown
            assert str(REPO) not in shown and str(rd.parent.parent) not in shown, shown
            # Every chart fits its box as laid out at the end (a grid's first chart is drawn while it is
            # alone in its row, wider than its box will be).
            overflow = page.evaluate(
                "Array.from(document.querySelectorAll('.chart')).filter(b =>"
                " b.querySelector('.u-over') && b.querySelector('.u-over').getBoundingClientRect().right"
                " > b.getBoundingClientRect().right + 1).map(b => b.dataset.chart)"
            )
            assert overflow == [], overflow
            # Hovering one time chart moves the cursor on every one, to the same moment.
            at = _hover_first_chart(page)
            span = page.evaluate("loadlens.charts[0].scales.x.max - loadlens.charts[0].scales.x.min")
            assert len(at) >= 8 and all(t is not None for t in at), at
            assert max(at) - min(at) <= 0.01 * span, (at, span)
            page.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": 1, "y": 1})  # off the charts
            shot = Path(os.environ.get("LOADLENS_SCREENSHOT") or tmp_path / "report.png")
            page.screenshot(shot)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def test_a_cloudwatch_correlated_run_shows_ecs_and_alb_series(
        self, tmp_path: Path, target: str, aws: dict[str, str]
    ) -> None:
        """ECS CPU/memory and ALB series pulled from a real moto server appear as drawn charts, the
        CPU chart with its 70 % limit line and the memory chart with its 80 % one."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        aws_stack.seed_web_seconds(stack, cpu=40)
        cfg = tmp_path / "loadlens.toml"
        cfg.write_text(
            f'[thresholds]\np95_ms = 5000\n[cloudwatch]\nregion = "{aws_stack.REGION}"\n'
            f'ecs_cluster = "{stack.cluster}"\necs_service = "{stack.service}"\n'
            'preroll = "2m"\nperiod = "1s"\nsettle = "0s"\n'
        )
        out = tmp_path / "out"
        cmd = loadlens_cmd(
            "run", "-f", str(LOCUSTFILES / "basic.py"), "-H", target, "--headless", "-u", "4",
            "-r", "20", "-t", "4s", "--only-summary", "--loadlens-config", str(cfg), "--out", str(out),
            "--correlate-cloudwatch",
        )  # fmt: skip
        proc = run(cmd, cwd=tmp_path, env=aws)
        assert proc.returncode == 0, proc.stderr[-3000:]
        rd = only_run_dir(out)
        doc = summary(rd)
        page_doc = _page_document(rd / "report.html")
        cpu = next(s for s in page_doc["server"] if s["label"].startswith("ECS CPU"))
        assert cpu["limits"] == [{"value": 70, "text": "limit 70 %"}]
        memory = next(s for s in page_doc["server"] if s["label"].startswith("ECS memory"))
        assert memory["limits"] == [{"value": 80, "text": "limit 80 %"}]
        with chromium(tmp_path) as page:
            open_report(page, rd / "report.html")
            assert_criteria_rows(page, doc)
            charts = {c["chart"] for c in assert_charts_drawn(page)}
            assert {s["label"] for s in page_doc["server"]} <= charts
            assert any(label.startswith("ECS memory") for label in charts)
            assert any(label.startswith("ALB") for label in charts), charts


class TestHostileText:
    def test_endpoint_names_and_hosts_are_shown_as_text_never_run(self, tmp_path: Path) -> None:
        """An endpoint named like markup and a host with a password and tags: the browser shows them as
        text (no script of theirs runs, no element of theirs appears) and the password is gone."""
        import dataclasses

        from runner.model import EndpointKey
        from runner.reports.html import write_html_report
        from tests.reports.test_reports import make_record

        name = '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
        record = make_record()
        stats = next(iter(record.judged.endpoints.values()))
        record = dataclasses.replace(
            record,
            info=dataclasses.replace(record.info, host="https://u:hunter2@shop.example.com/<b>bold</b>"),
            judged=dataclasses.replace(record.judged, endpoints={EndpointKey("GET", name): stats}),
        )
        path = write_html_report(record, tmp_path)
        with chromium(tmp_path) as page:
            open_report(page, path)
            assert page.evaluate(
                "window.pwned === undefined && document.querySelectorAll('img, b').length === 0"
            )
            text = page.evaluate(TEXT_JS)
            assert f"GET {name}" in text and "https://***@shop.example.com/<b>bold</b>" in text
            assert "hunter2" not in page.evaluate("document.documentElement.outerHTML")
            assert page.evaluate("document.scripts.length") == 3


class TestCorrelationLine:
    LINE_JS = """(() => {
      const u = loadlens.charts.find(c => c.root.parentNode.dataset.chart === 'correlation');
      return u.series.map((s, i) => [s.label, u.data[0].filter((_x, k) => u.data[i][k] != null),
                                     u.data[i].filter(v => v != null)]);
    })()"""

    @pytest.mark.parametrize("levels", [[20, 40, 60], [40, 40, 40]])
    def test_the_page_draws_the_headroom_line_of_the_analysis_or_says_why_not(
        self, tmp_path: Path, levels: list[float]
    ) -> None:
        """Load steps: the correlation chart holds the analysis' own line (its document's points, at
        their CPU values) beside the periods, drawn without errors. One load level: no line, and the
        page says the analysis made no estimate."""
        import dataclasses

        from runner.reports.html import write_html_report
        from tests.reports.test_html import _analysed
        from tests.reports.test_reports import make_record

        head, section = _analysed(levels)
        path = write_html_report(dataclasses.replace(make_record(), analysis=section), tmp_path)
        line = _page_document(path)["correlation"]["line"]
        with chromium(tmp_path) as page:
            open_report(page, path)
            chart = next(c for c in page.evaluate(CHARTS_DRAWN_JS) if c["chart"] == "correlation")
            assert chart["painted"] > 0 and chart["points"] > 0
            drawn = {label: (x, y) for label, x, y in page.evaluate(self.LINE_JS)}
            note = page.evaluate("document.getElementById('headroom-line').textContent")
        if head.rps_at_limit is None:
            assert line is None and not any(label.startswith("headroom") for label in drawn)
            assert note.startswith("no fitted line: the analysis made no headroom estimate")
        else:
            assert drawn["headroom line (rps)"] == (line["cpu"], line["rps"])
            assert drawn["to the CPU limit (rps)"] == (line["to_limit"]["cpu"], line["to_limit"]["rps"])
            assert note.startswith("headroom line:")


class TestInterruptedRun:
    def test_a_ctrl_c_mid_run_still_leaves_a_report_marked_interrupted(
        self, tmp_path: Path, target: str
    ) -> None:
        """Ctrl-C mid-run: report.html is written with the other files (no temporary file left), says
        the run was interrupted, and draws in the browser like any other."""
        out = tmp_path / "out"
        cmd = loadlens_cmd(
            "run", "-f", str(LOCUSTFILES / "basic.py"), "-H", target, "--headless", "-u", "4", "-r", "20",
            "-t", "120s", "--out", str(out),
        )  # fmt: skip
        with _Background(cmd, tmp_path) as proc:
            wait_until(lambda: list(out.glob("*/locust_stats_history.csv")), 60, what="the run's first CSV")
            time.sleep(3)  # some requests
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
        rd = only_run_dir(out)
        assert summary(rd)["interrupted"] is True
        assert _page_document(rd / "report.html")["meta"]["interrupted"] is True
        assert not list(rd.glob(".*.tmp"))
        with chromium(tmp_path) as page:
            open_report(page, rd / "report.html")
            assert "interrupted" in page.evaluate(TEXT_JS)
            assert_charts_drawn(page)


class TestLivePage:
    def test_the_live_page_answers_during_the_run_and_turns_red(self, tmp_path: Path) -> None:
        """During a run the --prometheus-port server's /report and Locust's web UI /loadlens answer;
        the data changes as the run goes on, and in the browser the error-rate criterion turns to
        FAIL when the target starts failing (the page refreshes itself on its default period)."""
        first_request: list[float] = []  # when the run's first request came (its start, not the test's)

        class Handler(http.server.BaseHTTPRequestHandler):
            """200 for the run's first 10 s, then 500: the error rate breaks mid-run."""

            def _answer(self) -> None:
                if not first_request:
                    first_request.append(time.monotonic())
                code = 200 if time.monotonic() - first_request[0] < 10 else 500
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = _answer  # noqa: N815 - the names http.server calls

            def log_message(self, *_a: object) -> None:
                pass

        cfg = tmp_path / "loadlens.toml"
        cfg.write_text("[thresholds]\nerror_rate = 0.05\nper_endpoint = false\n")
        prom, web = free_port(), free_port()
        with local_http(Handler) as target:
            cmd = loadlens_cmd(
                "run", "-f", str(LOCUSTFILES / "basic.py"), "-H", target, "--autostart", "--autoquit", "2",
                "-u", "4", "-r", "20", "-t", "22s", "--web-host", "127.0.0.1", "--web-port", str(web),
                "--prometheus-port", str(prom), "--loadlens-config", str(cfg), "--out", str(tmp_path / "out"),
            )  # fmt: skip
            with _Background(cmd, tmp_path) as proc:
                report = f"http://127.0.0.1:{prom}/report"
                wait_http(report, proc=proc)
                first = _get_json(f"{report}/data.json")
                html = _get(f"http://127.0.0.1:{web}/loadlens")
                assert 'id="loadlens-data"' in html and "/loadlens/data.json" in html
                with chromium(tmp_path) as page:
                    page.open(report, block=[])
                    page.wait_for("document.body.dataset.rendered === '1'")
                    # The page's own refresh (every 5 s) shows the criterion passing, then failing.
                    seen = _watch_first_row(page, until="fail", timeout_s=40)
                    assert "pass" in seen and seen.index("pass") < seen.index("fail"), seen
                    # A zoom the reader chose survives the next refresh.
                    zoomed = _drag_zoom(page)
                    badge = page.evaluate("document.getElementById('live-badge').textContent")
                    page.wait_for(
                        f"document.getElementById('live-badge').textContent !== {json.dumps(badge)}"
                    )
                    kept = page.evaluate("loadlens.charts.map(u => [u.scales.x.min, u.scales.x.max])")
                    assert kept[0] == pytest.approx(zoomed) and kept[1] == pytest.approx(zoomed)
                    assert page.errors() == []
                    assert set(page.requests()) == {report, f"{report}/data.json"}
                    assert_charts_drawn(page)
                later = _get_json(f"{report}/data.json")
                end_linger(proc, tmp_path / "out")  # the default 15 s linger: nothing left to see
        count = lambda d: d["endpoints"][0]["count"] if d["endpoints"] else 0  # noqa: E731
        assert count(later) > count(first)
        assert len(later["client"]["t"]) > len(first["client"]["t"])
        assert first["verdict"]["status"] != "pass" and later["verdict"]["status"] == "fail"


# -- helpers ------------------------------------------------------------------------------------------
def _drag_zoom(page: Page) -> list[float]:
    """Drag across the middle of the first chart with the mouse; the x range it zoomed to."""
    box = page.evaluate(
        "(() => { const r = document.querySelector('.chart .u-over').getBoundingClientRect();"
        " return [r.left, r.top, r.width, r.height]; })()"
    )
    left, top, width, height = box
    y = top + height / 2
    for kind, x in (("mousePressed", left + width * 0.3), ("mouseMoved", left + width * 0.5),
                    ("mouseReleased", left + width * 0.6)):  # fmt: skip
        page.send(
            "Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}
        )
    zoomed = page.evaluate("[loadlens.charts[0].scales.x.min, loadlens.charts[0].scales.x.max]")
    assert page.evaluate("loadlens.charts[1].scales.x.min") == pytest.approx(zoomed[0])  # zoomed together
    return list(zoomed)


def _hover_first_chart(page: Page) -> list[float | None]:
    """Move the mouse over the middle of the first chart; the time each time chart's cursor shows
    (None where a chart shows no cursor)."""
    left, top, width, height = page.evaluate(
        "(() => { const r = document.querySelector('.chart .u-over').getBoundingClientRect();"
        " return [r.left, r.top, r.width, r.height]; })()"
    )
    page.send(
        "Input.dispatchMouseEvent", {"type": "mouseMoved", "x": left + width / 2, "y": top + height / 2}
    )
    return list(
        page.evaluate(
            "loadlens.charts.filter(u => u.scales.x.time).map(u =>"
            " u.cursor.left >= 0 ? u.posToVal(u.cursor.left, 'x') : null)"
        )
    )


def _watch_first_row(page: Page, *, until: str, timeout_s: float) -> list[str]:
    """The first criterion's status as the page shows it, each change, until it is ``until``."""
    seen: list[str] = []

    def look() -> bool:
        rows = page.evaluate(ROWS_JS)
        status = rows[0][1] if rows else "none"
        if not seen or seen[-1] != status:
            seen.append(status)
        return status == until

    wait_until(
        look, timeout_s, what=lambda: f"the first criterion showing {until!r} (seen: {seen})", interval_s=0.25
    )
    return seen


def _page_document(path: Path) -> dict:
    text = path.read_text()
    start = text.index('id="loadlens-data">') + len('id="loadlens-data">')
    return json.loads(text[start : text.index("</script>", start)])


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read().decode()


def _get_json(url: str) -> dict:
    return json.loads(_get(url))


class _Background:
    """A loadlens run in the background, its output in files; stopped if the test ends first."""

    def __init__(self, cmd: list[str], tmp: Path) -> None:
        self.cmd, self.tmp = cmd, tmp

    def __enter__(self) -> subprocess.Popen:
        self.out = open(self.tmp / "run.out", "wb")
        self.popen = subprocess.Popen(
            self.cmd, cwd=self.tmp, env=child_env(), stdout=self.out, stderr=subprocess.STDOUT
        )
        return self.popen

    def __exit__(self, *exc: object) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self.out.close()
