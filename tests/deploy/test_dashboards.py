"""The Grafana dashboards in dashboards/: well-formed Grafana JSON, and every query answered by real data.

One real `loadlens run` (module-scoped) against the bundled demo service, with --correlate-cloudwatch
against a real moto server seeded with per-second ECS, RDS and ALB metrics, the demo service's own
process watched, and a real Prometheus scraping its /metrics every second. Every PromQL expression of
every panel and variable then runs against that Prometheus and must return data.

No Grafana server can run here: the dashboards are not rendered. Template variables are substituted
the way Grafana documents it (tests/support/dashboards.py), and the CloudWatch variant's queries are
sent as the same CloudWatch API calls Grafana's datasource makes (ListMetrics, GetMetricData), with
boto3, to the moto server.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dashboards import compare, generate
from tests.support import aws_stack
from tests.support import dashboards as dash
from tests.support.cli import LoadlensRun
from tests.support.procs import free_port, moto_server, prometheus
from tests.support.runs import REPO, child_env
from tests.support.wait import wait_until

LIVE, LIVE_CW, RUNS = "loadlens-live", "loadlens-live-cw", "loadlens-runs"
DOCS = dash.load_all()
PROM_TARGETS = [t for doc in DOCS.values() for t in dash.targets(doc, dash.PROMETHEUS)]
CW_TARGETS = [t for doc in DOCS.values() for t in dash.targets(doc, dash.CLOUDWATCH)]
RATE_INTERVAL = "5s"  # Grafana: max(4 x scrape interval, $__interval + scrape interval); scrapes are 1 s here
LINGER_S = 8  # long enough for the runs table's 10 s subquery steps to see the run
RDS_INSTANCE = "shop-db"
READY = "loadlens demo service listening on "
CW_STATS = {"Average", "Maximum", "Minimum", "Sum", "SampleCount", "p95", "p99"}
SEEDED_DIMENSION_ORDER = ("ClusterName", "ServiceName", "DBInstanceIdentifier", "TargetGroup", "LoadBalancer")


# -- the scraped run -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScrapedRun:
    prometheus: str
    run_id: str
    doc: dict[str, Any]
    start: float  # epoch seconds, a little before the run
    stack: aws_stack.WebStack
    moto: str

    @property
    def endpoints(self) -> list[str]:
        return sorted({e["name"] for e in self.doc["client"]["whole_run"]["endpoints"]})

    def values(self, *, now: float) -> dict[str, str]:
        """Template variable values for this run, as Grafana would substitute them."""
        return {
            "run_id": self.run_id,
            "endpoint": dash.multi_value(self.endpoints),
            "scenario": dash.multi_value([self.doc["scenario"]]),
            "__rate_interval": RATE_INTERVAL,
            "__interval": "1s",
            "__range": f"{math.ceil(now - self.start) + 5}s",
        }


def _prom_get(base: str, path: str, **params: Any) -> Any:
    url = f"{base}{path}?" + urllib.parse.urlencode(params, doseq=True)
    with urllib.request.urlopen(url, timeout=10) as r:
        doc = json.load(r)
    assert doc["status"] == "success", doc
    return doc["data"]


def _finite_values(result: list[dict[str, Any]]) -> list[float]:
    out = []
    for series in result:
        pairs = series.get("values") or ([series["value"]] if "value" in series else [])
        out += [float(v) for _, v in pairs if math.isfinite(float(v))]
    return out


def _seed(stack: aws_stack.WebStack) -> None:
    """Per-second datapoints from 30 s ago to 2.5 min ahead (the run polls 1 s periods live)."""
    cw = aws_stack.plain_session().client("cloudwatch")
    t0 = float(int(time.time())) - 30
    seconds = range(180)
    ecs = [("ClusterName", stack.cluster), ("ServiceName", stack.service)]
    rds = [("DBInstanceIdentifier", RDS_INSTANCE)]
    lb = [("LoadBalancer", stack.load_balancer)]
    tg = [("TargetGroup", stack.target_group), ("LoadBalancer", stack.load_balancer)]
    for namespace, metric, dims, value, unit in (
        ("AWS/ECS", "CPUUtilization", ecs, 40.0, "Percent"),
        ("AWS/ECS", "MemoryUtilization", ecs, 55.0, "Percent"),
        ("AWS/RDS", "CPUUtilization", rds, 25.0, "Percent"),
        ("AWS/RDS", "DatabaseConnections", rds, 12.0, "Count"),
        ("AWS/ApplicationELB", "TargetResponseTime", lb, 0.05, "Seconds"),
        ("AWS/ApplicationELB", "RequestCount", lb, 100.0, "Count"),
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", lb, 1.0, "Count"),
        ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", lb, 1.0, "Count"),
        ("AWS/ApplicationELB", "UnHealthyHostCount", tg, 0.0, "Count"),
    ):
        aws_stack.put_series(cw, namespace, metric, dims, [(t0 + i, value) for i in seconds], unit=unit)


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScrapedRun]:
    """A real run, scraped every second by a real Prometheus, its server side read from moto."""
    tmp = tmp_path_factory.mktemp("dashboards")
    service = subprocess.Popen(
        [sys.executable, "-m", "runner.demo.service", "--port", "0", "--seed", "1"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=child_env(),
    )
    try:
        assert service.stdout is not None
        line = service.stdout.readline()
        assert line.startswith(READY), f"demo service did not start: {line!r}"
        target = line[len(READY) :].strip()
        port = free_port()
        # Prometheus first: its first scrape comes seconds after it starts, while moto is seeded
        with (
            prometheus(tmp, [f"127.0.0.1:{port}"], interval_s=1.0) as prom,
            moto_server(tmp) as moto,
            pytest.MonkeyPatch.context() as mp,
        ):
            aws_stack.aws_env(mp, moto, tmp)
            session = aws_stack.plain_session()
            stack = aws_stack.build_web_stack(session)
            aws_stack.create_rds_instance(session, RDS_INSTANCE)
            _seed(stack)
            start = time.time() - 2
            yield _run_and_wait(tmp, prom, port, target, moto, stack, service.pid, start)
    finally:
        service.terminate()
        service.wait(timeout=10)


def _run_and_wait(
    tmp: Path, prom: str, port: int, target: str, moto: str, stack: aws_stack.WebStack, pid: int, start: float
) -> ScrapedRun:
    config = f"""
[thresholds]
p95_ms = 5000
error_rate = 0.5
expected_statuses = [429]
[run]
interval = "1s"
[exporters.prometheus]
linger = "{LINGER_S}s"
[cloudwatch]
region = "{aws_stack.REGION}"
ecs_cluster = "{stack.cluster}"
ecs_service = "{stack.service}"
rds_instance = "{RDS_INSTANCE}"
period = "1s"
preroll = "5s"
settle = "0s"
"""
    done = LoadlensRun(
        tmp,
        target,
        config=config,
        users=6,
        run_time="8s",
        only_summary=True,
        flags=("--prometheus-port", str(port), "--correlate-cloudwatch", "--process-pid", str(pid)),
        env={k: os.environ[k] for k in os.environ if k.startswith("AWS_")},
    ).run()
    # exit 1 is expected: the seeded ALB 5xx fail the ALB criterion; the dashboards need them non-zero
    assert done.returncode in (0, 1), done.stderr[-3000:]
    doc = done.summary
    run = ScrapedRun(prom, doc["run_id"], doc, start, stack, moto)
    want = doc["client"]["whole_run"]["total"]["requests"]
    query = f'sum(last_over_time(loadlens_requests_total{{run_id="{run.run_id}"}}[5m]))'
    wait_until(
        lambda: _finite_values(_prom_get(prom, "/api/v1/query", query=query)["result"]) == [want],
        20,
        what=f"Prometheus to hold the run's final total of {want} requests",
    )
    return run


def _evaluate(run: ScrapedRun, target: dash.Target) -> list[dict[str, Any]]:
    now = time.time()
    expr = dash.substitute(target.expr, run.values(now=now))
    if target.instant:
        return _prom_get(run.prometheus, "/api/v1/query", query=expr, time=now)["result"]
    return _prom_get(run.prometheus, "/api/v1/query_range", query=expr, start=run.start, end=now, step="1s")[
        "result"
    ]


# -- structure -------------------------------------------------------------------------------------
class TestStructure:
    def test_the_three_dashboards_have_their_stable_uids(self) -> None:
        """dashboards/ holds exactly the live, CloudWatch-live and runs dashboards, under their stable uids."""
        assert sorted(DOCS) == sorted([LIVE, LIVE_CW, RUNS])
        assert {p.stem for p in dash.files()} == set(DOCS)  # file named after its uid
        for uid in DOCS:
            assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", uid)  # Grafana's uid rule, so /d/<uid> resolves

    def test_files_are_formatted_stably(self) -> None:
        """Each file is exactly its canonical JSON: keys sorted, 2-space indent, a final newline."""
        for path in dash.files():
            text = path.read_text(encoding="utf-8")
            assert text == dash.canonical_text(json.loads(text)), f"{path.name}: reformat it"

    def test_dashboard_settings(self) -> None:
        """Current schema, editable, tagged loadlens, importable (no id); the live ones refresh every 5 s over 30 min."""
        for uid, doc in DOCS.items():
            assert doc["schemaVersion"] >= 39 and doc["editable"] is True, uid
            assert doc["tags"] == ["loadlens"] and doc["id"] is None, uid
            assert doc["title"].startswith("loadlens · "), uid
        for uid in (LIVE, LIVE_CW):
            assert DOCS[uid]["refresh"] == "5s" and DOCS[uid]["time"] == {"from": "now-30m", "to": "now"}
        assert DOCS[LIVE]["title"] == "loadlens · live run"

    def test_panel_ids_are_unique_including_nested_panels(self) -> None:
        """No two panels of a dashboard share an id, rows and panels inside collapsed rows included."""
        for uid, doc in DOCS.items():
            ids = [p["id"] for p in dash.panels(doc)]
            assert all(isinstance(i, int) for i in ids), uid
            assert len(ids) == len(set(ids)), f"{uid}: duplicate panel ids"

    def test_panels_fit_the_grid_without_overlapping(self) -> None:
        """Every panel lies within Grafana's 24 columns, and no two panels of one layout overlap."""
        for uid, doc in DOCS.items():
            # the top-level panels are one layout; a collapsed row's panels another (laid out on expanding)
            layouts = [doc["panels"]] + [p["panels"] for p in doc["panels"] if p.get("panels")]
            for layout in layouts:
                boxes = [(p["title"], p["gridPos"]) for p in layout]
                for i, (ta, a) in enumerate(boxes):
                    assert a["w"] > 0 and a["h"] > 0 and a["x"] >= 0 and a["x"] + a["w"] <= 24, (uid, ta)
                    for tb, b in boxes[i + 1 :]:
                        overlap = (
                            a["x"] < b["x"] + b["w"]
                            and b["x"] < a["x"] + a["w"]
                            and a["y"] < b["y"] + b["h"]
                            and b["y"] < a["y"] + a["h"]
                        )
                        assert not overlap, f"{uid}: {ta!r} overlaps {tb!r}"

    def test_ref_ids_are_unique_within_each_panel(self) -> None:
        """Each query of a panel has its own refId (Grafana keys results and overrides by it)."""
        for uid, doc in DOCS.items():
            for p in dash.panels(doc):
                refs = [t["refId"] for t in p.get("targets", [])]
                assert len(refs) == len(set(refs)) and all(refs), (uid, p["title"])

    def test_every_datasource_is_a_variable(self) -> None:
        """Panels, queries and variables name their datasource only through ${datasource} or ${cloudwatch}."""
        allowed = {
            dash.PROMETHEUS: {"type": "prometheus", "uid": "${datasource}"},
            dash.CLOUDWATCH: {"type": "cloudwatch", "uid": "${cloudwatch}"},
        }
        for uid, doc in DOCS.items():
            holders = [p for p in dash.panels(doc) if p["type"] != "row"]
            holders += [t for p in dash.panels(doc) for t in p.get("targets", [])]
            holders += [v for v in dash.variables(doc).values() if v["type"] == "query"]
            for holder in holders:
                ds = holder.get("datasource")
                assert ds in allowed.values(), (
                    f"{uid}: {holder.get('title') or holder.get('refId') or holder.get('name')}: {ds}"
                )
            for p in dash.panels(doc):
                for t in p.get("targets", []):
                    assert t["datasource"] == p["datasource"], (uid, p["title"])
            for v in dash.variables(doc).values():
                if v["type"] == "datasource":
                    assert v["query"] in allowed and v["current"] == {}, (uid, v["name"])  # the default one
            # the only other datasource: Grafana's own, for annotations
            for a in doc["annotations"]["list"]:
                assert a["datasource"] == {"type": "grafana", "uid": "-- Grafana --"}, uid

    def test_every_variable_used_is_defined(self) -> None:
        """Every $variable a dashboard uses is one of its template variables or a Grafana built-in."""
        for uid, doc in DOCS.items():
            defined = set(dash.variables(doc))
            used = dash.used_variables(doc)
            undefined = {n for n in used if not n.startswith("__")} - defined
            assert not undefined, f"{uid}: undefined variables {sorted(undefined)}"
            assert not any("[[" in s for s in dash.strings(doc)), f"{uid}: deprecated [[var]] syntax"

    def test_run_and_endpoint_variables(self) -> None:
        """run_id lists runs in the time range, sorted, one at a time; endpoint is multi with All, per run."""
        for uid in (LIVE, LIVE_CW):
            v = dash.variables(DOCS[uid])
            assert v["datasource"]["type"] == "datasource" and v["datasource"]["query"] == "prometheus"
            run = v["run_id"]
            assert dash.variable_query(run) == "label_values(loadlens_run_info, run_id)"
            assert run["refresh"] == 2 and run["sort"] != 0 and not run["includeAll"] and not run["multi"]
            ep = v["endpoint"]
            assert (
                dash.variable_query(ep) == 'label_values(loadlens_requests_total{run_id="$run_id"}, endpoint)'
            )
            assert ep["multi"] and ep["includeAll"] and ep["refresh"] == 2

    def test_every_panel_selects_the_run(self) -> None:
        """In the live dashboards every PromQL expression is scoped to run_id="$run_id"."""
        for t in PROM_TARGETS:
            if t.dashboard in (LIVE, LIVE_CW):
                selectors = re.findall(r"\b(loadlens_\w+)\{([^}]*)\}", t.expr)
                bare = re.findall(r"\bloadlens_\w+\b(?![{\w])", t.expr)
                assert selectors and not bare, t.name
                assert all('run_id="$run_id"' in labels for _, labels in selectors), t.name

    def test_server_limits_are_drawn_as_thresholds(self) -> None:
        """ECS CPU shows the 70 % limit and ECS memory the 80 % limit as threshold lines, in both live dashboards."""
        for uid in (LIVE, LIVE_CW):
            by_title = {p["title"]: p for p in dash.panels(DOCS[uid])}
            for title, limit in (("ECS CPU", 70), ("ECS memory", 80)):
                d = by_title[title]["fieldConfig"]["defaults"]
                assert [s["value"] for s in d["thresholds"]["steps"]] == [None, limit], (uid, title)
                assert d["thresholds"]["steps"][-1]["color"] == "red"
                assert d["custom"]["thresholdsStyle"]["mode"] in ("line", "dashed", "line+area"), (uid, title)
                assert d["unit"] == "percent"

    def test_criterion_statuses_are_mapped_to_words_and_colours(self) -> None:
        """Every panel showing loadlens_criterion_status maps 0-3 to PASS, WARN, FAIL, INCONCLUSIVE in colour."""
        want = {
            "0": ("PASS", "green"),
            "1": ("WARN", "yellow"),
            "2": ("FAIL", "red"),
            "3": ("INCONCLUSIVE", "purple"),
        }
        seen = 0
        for uid in (LIVE, LIVE_CW):
            for p in dash.panels(DOCS[uid]):
                exprs = [t.get("expr", "") for t in p.get("targets", [])]
                if any("loadlens_criterion_status" in e for e in exprs):
                    options = p["fieldConfig"]["defaults"]["mappings"][0]["options"]
                    assert {k: (o["text"], o["color"]) for k, o in options.items()} == want, (uid, p["title"])
                    seen += 1
        assert seen >= 4  # "Criteria now" and "Criteria over time", in both

    def test_annotations_are_loadlens_tags_of_the_run(self) -> None:
        """The live dashboards show Grafana annotations tagged loadlens and the selected run; the runs one all of loadlens's."""
        for uid, tags in (
            (LIVE, ["loadlens", "$run_id"]),
            (LIVE_CW, ["loadlens", "$run_id"]),
            (RUNS, ["loadlens"]),
        ):
            ours = [a for a in DOCS[uid]["annotations"]["list"] if not a.get("builtIn")]
            assert len(ours) == 1 and ours[0]["enable"], uid
            assert ours[0]["target"]["type"] == "tags" and ours[0]["target"]["tags"] == tags
            assert ours[0]["target"]["matchAny"] is False  # all tags: this run's annotations only

    def test_cloudwatch_variant_has_the_same_client_panels(self) -> None:
        """loadlens-live-cw repeats loadlens-live's client panels query for query, and reads the server from CloudWatch."""

        def client(uid: str) -> list[tuple[str, str, tuple[str, ...]]]:
            return [
                (row, p["title"], tuple(t["expr"] for t in p["targets"]))
                for row, p in dash.rows_and_children(DOCS[uid])
                if dash.kind_of(p["datasource"]) == dash.PROMETHEUS
                and not any("loadlens_server_metric" in t["expr"] for t in p["targets"])
            ]

        assert client(LIVE_CW) == client(LIVE)
        assert not any("loadlens_server_metric" in t.expr for t in PROM_TARGETS if t.dashboard == LIVE_CW)
        cw_titles = {t.panel_title for t in CW_TARGETS}
        assert {"ECS CPU", "ECS memory", "RDS connections", "ALB target response time"} <= cw_titles

    def test_cloudwatch_queries_take_their_resources_from_variables(self) -> None:
        """Every CloudWatch query names its region and dimension values only through template variables."""
        assert CW_TARGETS and {t.dashboard for t in CW_TARGETS} == {LIVE_CW}
        for t in CW_TARGETS:
            q = t.query
            assert q["queryMode"] == "Metrics" and q["metricQueryType"] == 0 and q["region"] == "$region", (
                t.name
            )
            assert q["namespace"] in ("AWS/ECS", "AWS/RDS", "AWS/ApplicationELB") and q["metricName"], t.name
            assert q["dimensions"] and all(re.fullmatch(r"\$\w+", v) for v in q["dimensions"].values()), (
                t.name
            )
            assert q["statistic"] in CW_STATS, t.name

    def test_runs_table_links_each_run_to_the_live_dashboard(self) -> None:
        """A run_id in the runs table opens loadlens-live for that run and its own time span."""
        (table,) = [p for p in dash.panels(DOCS[RUNS]) if p["type"] == "table"]
        links = [
            link
            for o in table["fieldConfig"]["overrides"]
            if o["matcher"] == {"id": "byName", "options": "run_id"}
            for prop in o["properties"]
            if prop["id"] == "links"
            for link in prop["value"]
        ]
        assert len(links) == 1
        url = links[0]["url"]
        assert url.startswith("/d/loadlens-live/loadlens-live-run?") and "var-run_id=${__value.raw}" in url
        assert 'from=${__data.fields["start"].numeric}' in url and 'to=${__data.fields["end"].numeric}' in url
        renames = table["transformations"][1]["options"]["renameByName"]
        assert {"start", "end"} <= set(renames.values())


# -- the generator ---------------------------------------------------------------------------------
def _mutations() -> list[tuple[str, str, Any]]:
    """(dashboard file, what changes, a function changing a copy of it in place)."""

    def ecs_cpu(doc: dict[str, Any]) -> dict[str, Any]:
        return next(p for p in dash.panels(doc) if p["title"] == "ECS CPU")

    def set_limit(doc: dict[str, Any]) -> None:
        ecs_cpu(doc)["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["value"] = 75

    def drop_query(doc: dict[str, Any]) -> None:
        ecs_cpu(doc)["targets"].pop()

    def rename_variable(doc: dict[str, Any]) -> None:
        doc["templating"]["list"][1]["name"] = "run"

    def change_uid(doc: dict[str, Any]) -> None:
        doc["uid"] = "loadlens-live-2"

    def drop_link(doc: dict[str, Any]) -> None:
        doc["links"] = []

    def change_expr(doc: dict[str, Any]) -> None:
        next(p for p in dash.panels(doc) if p["title"] == "Requests")["targets"][0]["expr"] += " * 2"

    def drop_annotation(doc: dict[str, Any]) -> None:
        doc["annotations"]["list"].pop()

    def drop_panel(doc: dict[str, Any]) -> None:
        doc["panels"][-1]["panels"].pop()

    return [
        ("loadlens-live.json", "a threshold", set_limit),
        ("loadlens-live-cw.json", "a CloudWatch query", drop_query),
        ("loadlens-live.json", "a variable", rename_variable),
        ("loadlens-runs.json", "the uid", change_uid),
        ("loadlens-runs.json", "a link", drop_link),
        ("loadlens-live.json", "an expression", change_expr),
        ("loadlens-live.json", "an annotation", drop_annotation),
        ("loadlens-live-cw.json", "a panel in a collapsed row", drop_panel),
    ]


class TestGenerator:
    """The committed JSON is the output of dashboards/generate.py (grafana-foundation-sdk)."""

    def test_committed_files_are_the_generators_output(self) -> None:
        """Each file in dashboards/ is, byte for byte, what the generator makes in memory, and it makes no other."""
        made = generate.render()
        assert sorted(made) == sorted(p.name for p in dash.files())
        for name, text in made.items():
            assert (dash.DASHBOARD_DIR / name).read_text(encoding="utf-8") == text, (
                f"{name}: edited by hand, or the generator changed: run `make dashboards`"
            )

    def test_check_mode_fails_on_a_stale_file(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--check exits 0 on the generator's output, and 1 naming the file when one differs, writing nothing."""
        for name, text in generate.render().items():
            (tmp_path / name).write_text(text, encoding="utf-8")
        assert generate.main(["--check", "--out", str(tmp_path)]) == 0
        stale = tmp_path / "loadlens-runs.json"
        stale.write_text(stale.read_text(encoding="utf-8").replace('"1m"', '"5m"'), encoding="utf-8")
        assert generate.main(["--check", "--out", str(tmp_path)]) == 1
        assert "loadlens-runs.json" in capsys.readouterr().err
        assert '"5m"' in stale.read_text(encoding="utf-8")  # --check writes nothing
        assert generate.main(["--out", str(tmp_path)]) == 0
        assert generate.main(["--check", "--out", str(tmp_path)]) == 0  # rewritten

    def test_check_on_the_committed_folder_as_make_runs_it(self) -> None:
        """`python -m dashboards.generate --check`, on its default folder, passes on the committed files."""
        proc = subprocess.run(
            [sys.executable, "-m", "dashboards.generate", "--check"],
            cwd=REPO,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr

    @pytest.mark.parametrize(("name", "what", "mutate"), _mutations(), ids=[m[1] for m in _mutations()])
    def test_comparison_names_every_change(self, name: str, what: str, mutate: Any) -> None:
        """dashboards.compare finds no difference between the files and the generator, and names a change of any kind."""
        committed = dash.load(dash.DASHBOARD_DIR / name)
        assert compare.differences(committed, json.loads(generate.render()[name])) == []
        changed = json.loads(json.dumps(committed))
        mutate(changed)
        assert compare.differences(changed, committed), f"a change of {what} went unnoticed"

    def test_comparison_ignores_only_grafanas_defaults(self) -> None:
        """A key left out at Grafana's default is no difference; the same key at another value is one."""
        doc = dash.load(dash.DASHBOARD_DIR / "loadlens-live.json")
        panel = json.loads(json.dumps(doc))
        panel["panels"][1].pop("transparent", None)
        assert compare.differences(panel, doc) == []
        panel["panels"][1]["transparent"] = True
        assert compare.differences(panel, doc)

    def test_cloudwatch_variant_shares_whole_client_panels(self) -> None:
        """Beyond the queries: each client panel of the CloudWatch variant is the live one's, options, units and overrides included."""

        def client(uid: str) -> list[dict[str, Any]]:
            out = []
            for _, p in dash.rows_and_children(DOCS[uid]):
                if dash.kind_of(p["datasource"]) != dash.PROMETHEUS:
                    continue
                if any("loadlens_server_metric" in t["expr"] for t in p["targets"]):
                    continue
                out.append({k: v for k, v in p.items() if k not in ("id", "gridPos")})
            return out

        assert client(LIVE_CW) == client(LIVE)

    def test_status_numbers_are_the_exporters(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The dashboards read each criterion status's number from exporters/exposition.py, not a copy:
        numbered otherwise there, every status mapping and every runs-table count follows."""
        from exporters import exposition
        from runner.model import Status

        shifted = {Status.PASS: 10, Status.WARN: 11, Status.FAIL: 12, Status.INCONCLUSIVE: 13}
        monkeypatch.setattr(exposition, "STATUS_VALUES", shifted)
        docs = {name: json.loads(text) for name, text in generate.render().items()}
        live = [
            p["fieldConfig"]["defaults"]["mappings"][0]["options"]
            for p in dash.panels(docs["loadlens-live.json"])
            if any("loadlens_criterion_status" in t.get("expr", "") for t in p.get("targets", []))
        ]
        assert live and all(
            {k: o["text"] for k, o in options.items()}
            == {"10": "PASS", "11": "WARN", "12": "FAIL", "13": "INCONCLUSIVE"}
            for options in live
        ), live
        (table_panel,) = [
            p for p in dash.panels(docs["loadlens-runs.json"]) if p["title"] == "Runs in the time range"
        ]
        exprs = " ".join(t["expr"] for t in table_panel["targets"])
        assert "== bool 12)" in exprs and "== bool 11)" in exprs and "== bool 13)" in exprs
        assert "== bool 2)" not in exprs and "== bool 3)" not in exprs
        (worst,) = [
            o for o in table_panel["fieldConfig"]["overrides"] if o["matcher"]["options"] == "worst criterion"
        ]
        (mapping,) = [p["value"] for p in worst["properties"] if p["id"] == "mappings"]
        words = {k: o["text"] for k, o in mapping[0]["options"].items()}
        assert words == {"10": "PASS", "11": "WARN", "12": "INCONCLUSIVE", "13": "FAIL"}


# -- PromQL against the real run -------------------------------------------------------------------
@pytest.mark.slow
class TestPromQL:
    @pytest.mark.parametrize("target", PROM_TARGETS, ids=[t.name for t in PROM_TARGETS])
    def test_expression_returns_data(self, scraped: ScrapedRun, target: dash.Target) -> None:
        """The panel's expression, with the run's variables substituted, returns a series with a number in it."""
        result = _evaluate(scraped, target)
        values = _finite_values(result)
        assert values, f"{target.name}: no data for\n{target.expr}\nresult: {result}"

    def test_variable_queries_list_the_run_and_its_endpoints(self, scraped: ScrapedRun) -> None:
        """label_values() variable queries, as Grafana sends them, list the run, its endpoints and its scenario."""
        now = time.time()
        values = scraped.values(now=now)
        expected = {
            "run_id": {scraped.run_id},
            "endpoint": set(scraped.endpoints),
            "scenario": {scraped.doc["scenario"]},
        }
        checked = 0
        for uid, doc in DOCS.items():
            for name, v in dash.variables(doc).items():
                if v["type"] != "query" or v["datasource"]["type"] != "prometheus":
                    continue
                selector, label = dash.parse_label_values(dash.variable_query(v))
                params: dict[str, Any] = {"start": scraped.start, "end": now}
                if selector:
                    params["match[]"] = dash.substitute(selector, values)
                got = set(_prom_get(scraped.prometheus, f"/api/v1/label/{label}/values", **params))
                assert expected[name] <= got, (uid, name, got)
                if name == "endpoint":
                    assert got == expected[name], got  # scoped to the run
                checked += 1
        assert checked == 5

    def test_figures_agree_with_the_summary(self, scraped: ScrapedRun) -> None:
        """The stat and runs-table queries give the run's own totals: requests, failures, its time span."""
        total = scraped.doc["client"]["whole_run"]["total"]
        by_title = {(t.dashboard, t.panel_title, t.ref_id): t for t in PROM_TARGETS}

        def last(key: tuple[str, str, str]) -> float:
            return _finite_values(_evaluate(scraped, by_title[key]))[-1]

        assert last((LIVE, "Requests", "A")) == total["requests"]
        assert last((LIVE, "Failed requests", "A")) == total["failures"]
        table = "Runs in the time range"
        assert last((RUNS, table, "E")) == total["requests"]  # requests
        # [start, end] holds every sample Prometheus has of the run, widened by at most 20 s and 30 s
        raw = _prom_get(
            scraped.prometheus, "/api/v1/query", query=f'loadlens_run_info{{run_id="{scraped.run_id}"}}[5m]'
        )["result"]
        stamps = [float(t) for series in raw for t, _ in series["values"]]
        start_ms, end_ms = last((RUNS, table, "B")), last((RUNS, table, "C"))
        assert (min(stamps) - 20) * 1000 <= start_ms <= min(stamps) * 1000, (start_ms, min(stamps))
        assert max(stamps) * 1000 <= end_ms <= (max(stamps) + 30) * 1000, (end_ms, max(stamps))
        assert last((RUNS, table, "L")) == 0  # no inconclusive criteria
        assert last((RUNS, table, "M")) >= 1  # criteria exported


# -- the CloudWatch variant, as CloudWatch API calls against moto ----------------------------------
@pytest.mark.slow
class TestCloudWatchQueries:
    def _values(self, run: ScrapedRun) -> dict[str, str]:
        return {
            "region": aws_stack.REGION,
            "ecs_cluster": run.stack.cluster,
            "ecs_service": run.stack.service,
            "rds_instance": RDS_INSTANCE,
            "load_balancer": run.stack.load_balancer,
            "target_group": run.stack.target_group,
        }

    def test_variable_queries_find_the_stack(self, scraped: ScrapedRun) -> None:
        """Each dimension_values variable, sent as ListMetrics, offers the seeded cluster, service, database, ALB and target group."""
        cw = aws_stack.plain_session().client("cloudwatch")
        values = self._values(scraped)
        checked = 0
        for name, v in dash.variables(DOCS[LIVE_CW]).items():
            q = v.get("query")
            if not (isinstance(q, dict) and q.get("queryType") == "dimensionValues"):
                continue
            assert q["region"] == "$region"
            dims = [{"Name": q["dimensionKey"]}]
            dims += [
                {"Name": k, "Value": dash.substitute(val, values)} for k, val in q["dimensionFilters"].items()
            ]
            metrics = cw.list_metrics(Namespace=q["namespace"], MetricName=q["metricName"], Dimensions=dims)
            offered = {
                d["Value"]
                for m in metrics["Metrics"]
                for d in m["Dimensions"]
                if d["Name"] == q["dimensionKey"]
            }
            assert values[name] in offered, (name, offered)
            checked += 1
        assert checked == 5

    def test_every_panel_query_returns_datapoints(self, scraped: ScrapedRun) -> None:
        """Each CloudWatch panel query, sent as GetMetricData, returns the seeded datapoints."""
        cw = aws_stack.plain_session().client("cloudwatch")
        values = self._values(scraped)
        now = dt.datetime.now(dt.UTC)
        for t in CW_TARGETS:
            q = t.query
            # CloudWatch ignores the order of dimensions, moto does not: send them in the seeded order
            keys = sorted(q["dimensions"], key=SEEDED_DIMENSION_ORDER.index)
            dims = [{"Name": k, "Value": dash.substitute(q["dimensions"][k], values)} for k in keys]
            # the namespace is checked by ListMetrics (moto's GetMetricData matches on dimensions alone)
            listed = cw.list_metrics(Namespace=q["namespace"], MetricName=q["metricName"], Dimensions=dims)
            assert listed["Metrics"], f"{t.name}: no such metric"
            # moto answers HTTP 500 for percentile statistics: those are asked as Average here, their
            # spelling is checked by test_cloudwatch_queries_take_their_resources_from_variables
            stat = q["statistic"] if not re.fullmatch(r"p\d+(\.\d+)?", q["statistic"]) else "Average"
            answer = cw.get_metric_data(
                MetricDataQueries=[
                    {
                        "Id": "q",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": q["namespace"],
                                "MetricName": q["metricName"],
                                "Dimensions": dims,
                            },
                            "Period": 60,
                            "Stat": stat,
                        },
                    }
                ],
                StartTime=now - dt.timedelta(minutes=5),
                EndTime=now + dt.timedelta(minutes=5),
            )
            assert answer["MetricDataResults"][0]["Values"], f"{t.name}: no datapoints"
