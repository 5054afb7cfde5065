"""report.html: the page's document (data extraction), its downsampling, its escaping, and the
``loadlens report`` command. The page in a real browser: tests/e2e/test_report_browser.py."""

from __future__ import annotations

import dataclasses
import json
import math
import random
import re
from pathlib import Path

import jsonschema
import pytest

from runner.cli import main
from runner.judge.analysis import Analysis, CpuCost
from runner.judge.correlate import Headroom, SeriesRef, headroom, periods
from runner.model import EndpointKey, Result, RunInfo, Status
from runner.readings import Series
from runner.reports import write_reports
from runner.reports.html import FILE_NAME, render_page, report_html, write_html_report
from runner.reports.html.client import DISTRIBUTION_BINS, MAX_ENDPOINT_LINES, distribution
from runner.reports.html.data import page_data
from runner.reports.html.downsample import downsample, keep_indices
from runner.reports.load import load_summary
from runner.reports.summary_json import summary_schema, write_summary
from tests.judge.test_correlate import T0 as CORR_T0
from tests.judge.test_correlate import load_steps
from tests.reports.test_reports import make_record
from tests.support.big_run import big_record
from tests.support.timelines import record as timeline_of
from tests.support.timelines import series


def page_document(text: str) -> dict:
    """The JSON document a page carries (what its script draws)."""
    found = re.search(r'<script type="application/json" id="loadlens-data">(.*?)</script>', text, re.S)
    assert found is not None
    return json.loads(found.group(1))


class TestDownsample:
    def test_a_short_series_is_kept_whole(self) -> None:
        """No more samples than two per bucket: nothing is dropped."""
        t = [float(i) for i in range(100)]
        assert keep_indices(t, [t], buckets=50) == list(range(100))

    def test_a_day_of_seconds_keeps_every_buckets_min_and_max(self) -> None:
        """86,400 samples become at most 2 x buckets + 2 points, and every time bucket keeps its own
        lowest and highest value (a one-second spike survives)."""
        rng = random.Random(3)
        n, buckets = 86_400, 800
        t = [float(i) for i in range(n)]
        v: list[float | None] = [50 + rng.random() for _ in range(n)]
        v[12_345] = 99.0  # one spike
        v[54_321] = 1.0  # one dip
        kept_t, (kept_v,) = downsample(t, [v], buckets=buckets)
        assert len(kept_t) <= 2 * buckets + 2
        assert 99.0 in kept_v and 1.0 in kept_v
        assert kept_t[0] == 0.0 and kept_t[-1] == n - 1
        per_bucket: dict[int, list[float]] = {}
        for ti, vi in zip(t, v, strict=True):
            per_bucket.setdefault(min(buckets - 1, int(ti / (n - 1) * buckets)), []).append(vi)  # type: ignore[arg-type]
        kept = set(kept_v)
        assert all(min(vs) in kept and max(vs) in kept for vs in per_bucket.values())

    def test_all_columns_keep_their_extremes_on_shared_times(self) -> None:
        """Two columns on one time axis: each keeps its own extremes; missing values are skipped."""
        t = [float(i) for i in range(10_000)]
        a: list[float | None] = [math.sin(i / 100) for i in range(10_000)]
        b: list[float | None] = [None if i % 2 else float(i % 977) for i in range(10_000)]
        kept_t, (ka, kb) = downsample(t, [a, b], buckets=10)
        assert len(kept_t) <= 2 * 10 * 2 + 2
        assert max(x for x in ka if x is not None) == max(x for x in a if x is not None)
        assert max(x for x in kb if x is not None) == 976.0


class TestPageData:
    def test_the_document_holds_what_ran_the_criteria_and_every_series(self) -> None:
        """What ran, the criteria (formatted as in verdict.md), one chart per server series, the
        judged window as a phase, and the endpoints with the total first."""
        record = make_record(Status.FAIL)
        doc = page_data([record])
        assert (
            doc["meta"]["run_id"] == record.info.run_id
            and doc["meta"]["host"] == "https://staging.example.com"
        )
        assert doc["meta"]["versions"] == {"loadlens": "0.1.0", "locust": "2.47.0"}
        assert [c["name"] for c in doc["criteria"]] == [r.name for r in record.verdict.results]
        assert doc["criteria"][0]["observed"].endswith(" ms") and doc["verdict"]["status"] == "fail"
        assert [s["label"] for s in doc["server"]] == [
            "ECS CPU · ecs:cluster/service",
            "process memory_rss (Maximum) · pid:1",
        ]
        assert doc["server"][0]["v"] == [12.5, 33.33]  # NaN left out, 4 significant digits
        assert {
            "kind": "steady",
            "name": "steady state (judged)",
            "start": record.window_start,
            "end": record.window_end,
        } in doc["phases"]
        assert doc["endpoints"][0]["name"] == "all requests"
        assert doc["endpoints"][0]["count"] == record.judged.total().count
        assert len(doc["client"]["t"]) == len([iv for iv in record.timeline if iv.end > iv.start])

    def test_paths_inside_loadlens_show_without_the_machine_they_are_installed_on(self) -> None:
        """The demo's locustfile and config live in loadlens's own package: the page shows them as
        ``runner/demo/...`` (the same on every machine), in ``--opt PATH`` and ``--opt=PATH`` alike;
        every other argument is shown as typed."""
        import runner

        demo = Path(runner.__file__).resolve().parent / "demo"
        command = ("loadlens", "run", "-f", str(demo / "locustfile.py"), f"--loadlens-config={demo}/loadlens.toml",
                   "--out", "results", "--csv", "/srv/elsewhere/locust")  # fmt: skip
        shown = page_data([dataclasses.replace(make_record(), command=command)])["meta"]["command"]
        assert shown == (
            "loadlens run -f runner/demo/locustfile.py --loadlens-config=runner/demo/loadlens.toml "
            "--out results --csv /srv/elsewhere/locust"
        )

    def test_a_cpu_limit_line_comes_from_the_criterion_judged_on_that_resource(self) -> None:
        """The ECS CPU chart carries the 70 % limit of the server criterion on the same resource."""
        cpu = Result(
            "server ECS CPU", "cpu <= 70 %", 40.0, 70.0, Status.PASS, "ok", "percent",
            scope="server", details={"resource": "ecs:cluster/service"},
        )  # fmt: skip
        other = dataclasses.replace(cpu, details={"resource": "ecs:other/svc"}, limit=50.0)
        record = make_record(results=(cpu, other))
        doc = page_data([record])
        assert doc["server"][0]["limits"] == [{"value": 70.0, "text": "limit 70 %"}]
        assert doc["server"][1]["limits"] == []

    def test_a_distribution_keeps_every_request_in_a_bounded_number_of_bins(self) -> None:
        """The stored histogram re-binned: at most DISTRIBUTION_BINS bins, counts adding up."""
        stats = make_record().judged.total()
        d = distribution(stats)
        assert 0 < len(d["count"]) <= DISTRIBUTION_BINS
        assert sum(d["count"]) == stats.histogram.total
        assert d["le_ms"] == sorted(d["le_ms"])

    def test_first_breach_is_a_mark_with_its_sentence(self) -> None:
        """The analysis' first breach becomes a mark at its time, with its sentence."""
        record = make_record()
        at = record.window_start + 1
        sentence = "p95 of all requests crossed 500 ms at 12:00:01 UTC while ECS CPU was 83 %"
        record = dataclasses.replace(record, analysis={"first_breach": {"at": at, "sentence": sentence}})
        assert {"kind": "breach", "at": at, "text": sentence} in page_data([record])["marks"]

    def test_correlation_periods_sort_by_cpu_and_missing_values_stay_gaps(self) -> None:
        """Periods are drawn in CPU order; a period without a p95 is a gap, not an error. A summary
        written before the headroom fit was stored has no line to draw: none is invented."""
        periods = [
            {"server": {"ECS CPU": 40.0}, "p95_ms": None, "rps": 100.0},
            {"server": {"ECS CPU": 20.0}, "p95_ms": 80.0, "rps": 50.0},
            {"server": {"ECS CPU": 40.0}, "p95_ms": 120.0, "rps": 100.0},
            {"server": {}, "p95_ms": 1.0, "rps": 1.0},  # no CPU in that period: left out
        ]
        analysis = {"periods": periods, "headroom": {"cpu": "ECS CPU", "cpu_limit_percent": 70.0}}
        doc = page_data([dataclasses.replace(make_record(), analysis=analysis)])["correlation"]
        assert doc["cpu"] == [20.0, 40.0, 40.0]
        assert doc["p95_ms"] == [80.0, None, 120.0]
        assert doc["line"] is None and "no fitted line" in doc["line_note"]

    def test_the_correlation_draws_the_analysis_own_headroom_line(self, tmp_path: Path) -> None:
        """The line on the page is the analysis' Theil-Sen fit CPU = a + b x rps, read back from
        summary.json: drawn over the rps it was fitted on, then dotted on to the CPU limit at the
        headroom estimate. A spike period that a least-squares line would follow does not move it."""
        head, section = _analysed([20, 40, 60], spike=True)
        assert head.rps_at_limit is not None and head.slope_percent_per_rps is not None
        stored = load_summary(write_summary(dataclasses.replace(make_record(), analysis=section), tmp_path))
        assert {"slope_percent_per_rps", "intercept_percent", "rps_min", "rps_max"} <= set(
            stored.analysis["headroom"]
        )
        jsonschema.Draft202012Validator(summary_schema()).validate(
            json.loads((tmp_path / "summary.json").read_text())
        )
        line = page_data([stored])["correlation"]["line"]
        a, b = head.intercept_percent, head.slope_percent_per_rps
        assert head.intercept_percent is not None
        assert line["rps"] == pytest.approx([head.rps_min, head.rps_max], rel=1e-3)
        assert line["cpu"] == pytest.approx([a + b * r for r in line["rps"]], rel=1e-3)
        assert line["to_limit"]["cpu"] == pytest.approx([line["cpu"][1], 70.0], rel=1e-3)
        assert line["to_limit"]["rps"] == pytest.approx([head.rps_max, head.rps_at_limit], rel=1e-3)

    @pytest.mark.parametrize(
        ("levels", "why"),
        [([40, 40, 40], "about the same load"), ([20, 40, 60], "does not rise with load")],
    )
    def test_no_headroom_estimate_draws_no_line_and_says_so(self, levels: list[float], why: str) -> None:
        """One load level (no fit at all) or CPU that does not rise with load (a fit, but no
        estimate): no line, and the page says why."""
        head, section = _analysed(levels, flat=True)
        assert head.rps_at_limit is None and why in head.summary
        doc = page_data([dataclasses.replace(make_record(), analysis=section)])["correlation"]
        assert doc["line"] is None
        assert doc["line_note"].startswith("no fitted line: the analysis made no headroom estimate")

    def test_a_day_over_200_endpoints_stays_bounded(self) -> None:
        """24 h x 200 endpoints (a 1 s server series among them): each drawn series has at most
        2 x 800 + 2 points, the busiest 40 endpoints get a line, and the page stays under 1 MB."""
        record = big_record(hours=24, endpoints=200)
        text = report_html([record])
        doc = page_document(text)
        assert all(len(s["t"]) <= 1602 for s in doc["server"])
        assert len(doc["server"][0]["t"]) < len(record.server[0].points) / 50
        assert len(doc["endpoint_latency"]["names"]) == MAX_ENDPOINT_LINES
        assert len(doc["endpoints"]) == 201
        assert len(text.encode()) < 1_000_000

    def test_several_runs_are_overlaid_on_seconds_since_each_start(self) -> None:
        """Two runs: an overlay per run on seconds since its own start; the first is shown in full."""
        a = make_record(Status.PASS)
        b = dataclasses.replace(
            make_record(Status.FAIL), info=dataclasses.replace(a.info, run_id="load_20261104T090000Z")
        )
        doc = page_data([a, b])
        assert [o["run_id"] for o in doc["overlay"]] == [a.info.run_id, "load_20261104T090000Z"]
        assert all(o["t"][0] >= 0 and o["t"][-1] <= a.run_end - a.run_start + 1 for o in doc["overlay"])
        assert doc["meta"]["run_id"] == a.info.run_id


def _analysed(levels: list[float], *, spike: bool = False, flat: bool = False) -> tuple[Headroom, dict]:
    """The headroom of a service costing 10 % + 0.5 % CPU per rps (or a flat 30 % with ``flat``)
    at 5 minutes of each rps level, and the analysis section summary.json stores for it."""
    stretches, cpu = load_steps(levels)
    if flat:
        cpu = [30.0 - 0.01 * i for i in range(len(cpu))]
    if spike:
        cpu[2] = 95.0  # one wild minute at the lowest load
    ecs = series("CPUUtilization", cpu, start=CORR_T0)
    ps = periods(timeline_of(stretches, start=CORR_T0), [ecs], period_s=60)
    head = headroom(ps, cpu=SeriesRef.of(ecs), cpu_limit_percent=70.0)
    cost = CpuCost(headroom=head, cpu_seconds_per_1000_requests=None, cores=1.0, periods=tuple(ps))
    return head, Analysis(cpu=cost).section()


class TestEscaping:
    NAME = "</script><script>alert(1)</script><!--"
    HOST = "https://admin:hunter2@shop.example.com/<b>x</b>"

    def hostile(self):
        record = make_record()
        key = EndpointKey("GET", self.NAME)
        stats = next(iter(record.judged.endpoints.values()))
        judged = dataclasses.replace(record.judged, endpoints={key: stats})
        return dataclasses.replace(
            record,
            info=dataclasses.replace(record.info, host=self.HOST, run_id="r<&>'\"1"),
            judged=judged,
            server=(
                Series("prometheus", "job=<api>", "up</script>", "value", "", ((record.run_start, 1.0),)),
            ),
        )

    def test_no_run_text_can_close_a_script_or_leak_a_password(self) -> None:
        """Endpoint names, hosts and series names cannot end the data script or open a comment; the
        host's password is redacted; the text reads back unchanged from the document."""
        text = report_html([self.hostile()])
        assert text.count("</script>") == 3  # the data, uPlot and the page's own script
        assert "<!--" not in text and "hunter2" not in text
        assert "<title>loadlens FAIL · r&lt;&amp;&gt;&#x27;&quot;1</title>" in text
        doc = page_document(text)
        assert doc["endpoints"][1]["name"] == f"GET {self.NAME}"
        assert doc["meta"]["host"] == "https://***@shop.example.com/<b>x</b>"
        assert doc["server"][0]["metric"] == "up</script>"

    def test_placeholders_in_run_text_are_not_filled_in(self) -> None:
        """A name that looks like the template's placeholders is data, not a slot."""
        doc = page_data([make_record()])
        doc["meta"]["run_id"] = "{{JS}}{{DATA}}"
        text = render_page(doc)
        assert page_document(text)["meta"]["run_id"] == "{{JS}}{{DATA}}"


class TestLicence:
    def test_the_page_carries_uplots_mit_notice(self) -> None:
        """uPlot is MIT: its copyright and permission notice travel with every copy, so the page that
        embeds it carries the whole licence text (in a comment of the script that holds uPlot)."""
        from importlib import resources

        notice = resources.files("runner.reports.html").joinpath("vendor/uPlot.LICENSE").read_text()
        text = report_html([make_record()])
        uplot_script = next(s for s in re.findall(r"<script>(.*?)</script>", text, re.S) if "uPlot=" in s)
        comments = " ".join(re.findall(r"/\*(.*?)\*/", uplot_script, re.S))
        assert " ".join(notice.split()) in " ".join(comments.split())
        assert text.count("</script>") == 3 and "<!--" not in text


class TestWriting:
    def test_every_run_directory_gets_report_html_interrupted_too(self, tmp_path: Path) -> None:
        """write_reports writes report.html beside summary.json, for an interrupted run as well,
        atomically (no temporary file left)."""
        run_dir = tmp_path / "run"
        paths = write_reports(make_record(Status.INCONCLUSIVE, interrupted=True), run_dir, env={})
        assert run_dir / FILE_NAME in paths
        assert sorted(p.name for p in run_dir.iterdir()) == [
            "junit.xml",
            "report.html",
            "summary.json",
            "verdict.md",
        ]
        assert page_document((run_dir / FILE_NAME).read_text())["meta"]["interrupted"] is True

    def test_a_page_that_cannot_be_drawn_costs_the_run_nothing(self, tmp_path: Path, monkeypatch) -> None:
        """A failure while drawing the page (here: forced) leaves a one-line report.html saying so;
        write_reports returns normally, with summary.json, verdict.md and junit.xml written."""
        import runner.reports.html as html_report

        def broken(*_a, **_kw):
            raise KeyError("periods")

        monkeypatch.setattr(html_report, "page_data", broken)
        paths = write_reports(make_record(), tmp_path, env={})
        assert [p.name for p in paths] == ["summary.json", "verdict.md", "junit.xml", "report.html"]
        text = (tmp_path / FILE_NAME).read_text()
        assert (
            "could not draw this run's report (KeyError: &#x27;periods&#x27;)" in text
            and "verdict.md" in text
        )

    def test_locusts_failures_table_is_read_from_the_run_directory(self, tmp_path: Path) -> None:
        """locust_failures.csv beside the reports fills the failures table with Locust's own errors."""
        (tmp_path / "locust_failures.csv").write_text(
            "Method,Name,Error,Occurrences\nPOST,/jobs,\"HTTPError('503 Server Error')\",7\n"
        )
        doc = page_document(write_html_report(make_record(), tmp_path).read_text())
        assert doc["failures"] == [
            {"method": "POST", "name": "/jobs", "error": "HTTPError('503 Server Error')", "occurrences": "7"}
        ]


class TestReportCommand:
    def test_regenerates_the_page_from_summary_json(self, tmp_path: Path, capsys) -> None:
        """`loadlens report RUN_DIR` rebuilds report.html from the run's summary.json (e.g. after
        `loadlens verdict` rewrote it)."""
        record = make_record(Status.WARN)
        write_summary(record, tmp_path)
        assert main(["report", str(tmp_path)]) == 0
        assert capsys.readouterr().out == f"report: {tmp_path / FILE_NAME}\n"
        doc = page_document((tmp_path / FILE_NAME).read_text())
        assert doc["verdict"]["status"] == "warn" and [c["name"] for c in doc["criteria"]] == [
            r.name for r in record.verdict.results
        ]

    def test_several_run_directories_make_one_overlaid_page(self, tmp_path: Path) -> None:
        """Two run directories and -o FILE: one page overlaying both."""
        for name in ("a", "b"):
            write_summary(make_record(), tmp_path / name)
        out = tmp_path / "both.html"
        assert main(["report", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(out)]) == 0
        assert len(page_document(out.read_text())["overlay"]) == 2

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["report"], "loadlens report: the following arguments are required: RUN_DIR"),
            (["report", "/nonexistent/run"], "loadlens: /nonexistent/run does not exist"),
        ],
    )
    def test_bad_input_is_one_line_and_exit_2(self, argv: list[str], message: str, capsys) -> None:
        """No run directory, or one that does not exist: one line on stderr, exit 2."""
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err


class TestLiveDocument:
    def test_live_page_never_passes_and_polls_its_data(self) -> None:
        """The live document from a LiveState: criteria that all pass give INCONCLUSIVE (the run has
        not ended), a failing one gives FAIL, and the page polls <path>/data.json."""
        from runner.reports.html.live import live_document
        from tests.support.live_states import fed_store, live_state, result

        store = fed_store(requests=200)
        doc = live_document(live_state(store, results=[result("p95", Status.PASS)]), page_path="/report")
        assert doc["verdict"]["status"] == "inconclusive"
        assert doc["live"] == {"url": "/report/data.json", "every_s": 5.0}
        failing = live_document(
            live_state(store, results=[result("p95", Status.FAIL)]), page_path="/loadlens/"
        )
        assert failing["verdict"]["status"] == "fail" and failing["live"]["url"] == "/loadlens/data.json"
        assert failing["criteria"][0]["status"] == "fail"

    def test_the_page_is_built_in_another_thread_and_reused_for_half_a_period(self) -> None:
        """The state is read on the caller's thread, the page built in a real OS thread (gevent's
        pool), and a second request within half the refresh period gets the same bytes."""
        import threading

        from runner.reports.html.live import LiveReport
        from tests.support.live_states import Clock, fed_store, live_state

        reads: list[int] = []
        builds: list[int] = []
        state = live_state(fed_store(requests=50))

        def read():
            reads.append(threading.get_ident())
            return state

        clock = Clock(100.0)
        report = LiveReport(read, page_path="/report", refresh_s=5.0, clock=clock)
        original = report._offload
        report._offload = lambda build: original(lambda: (builds.append(threading.get_ident()), build())[1])
        first = report.answer("data")
        clock.now += 2.0
        assert report.answer("data") is first  # within half a period: reused
        clock.now += 1.0
        report.answer("data")  # past it: built again
        here = threading.get_ident()
        assert reads == [here, here]
        assert len(builds) == 2 and here not in builds

    def test_prometheus_exporter_serves_the_report_beside_metrics(self) -> None:
        """The --prometheus-port server answers /report (the page) and /report/data.json (its data)
        from the same state as /metrics; other paths stay the exposition."""
        from exporters.prometheus import PrometheusExporter
        from exporters.settings import PrometheusSettings
        from tests.support.live_states import INFO, fed_store, live_state

        state = live_state(fed_store(requests=50))
        exporter = PrometheusExporter(PrometheusSettings(port=0))
        exporter.start(INFO, lambda: state)
        try:
            answers: dict[str, tuple[str, bytes]] = {}
            for path in ("/report", "/report/data.json", "/metrics"):
                seen: list[str] = []

                def start_response(
                    status: str, headers: list[tuple[str, str]], seen: list[str] = seen
                ) -> None:
                    seen.append(status)
                    seen.append(dict(headers)["Content-Type"])

                body = b"".join(exporter.wsgi({"REQUEST_METHOD": "GET", "PATH_INFO": path}, start_response))
                answers[path] = (" ".join(seen), body)
        finally:
            exporter.close()
        assert answers["/report"][0] == "200 OK text/html; charset=utf-8"
        assert page_document(answers["/report"][1].decode())["meta"]["run_id"] == INFO.run_id
        assert answers["/report/data.json"][0] == "200 OK application/json"
        assert json.loads(answers["/report/data.json"][1])["live"]["url"] == "/report/data.json"
        assert b"loadlens_requests_total" in answers["/metrics"][1]


def test_run_info_has_no_field_the_page_forgets() -> None:
    """Every RunInfo field is shown (a new one must be added to the page on purpose)."""
    shown = {"run_id", "scenario", "host", "locustfile", "started_at", "role"}
    assert {f.name for f in dataclasses.fields(RunInfo)} <= shown
