"""Grafana: `loadlens grafana push`, the run's annotations, the dashboard link.

No Grafana server can be installed on these machines (not in Debian, no PyPI or npm build), so
every test here talks to a fake: tests/support/fake_grafana.py, a local HTTP server on 127.0.0.1
implementing the few Grafana API endpoints loadlens uses and recording each request. The push
command runs in this process (it is a plain CLI); the annotator runs in a gevent-patched
subprocess (tests/support/grafana_driver.py, which imports locust first), as under a real run.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exporters.base import Exporter
from exporters.grafana.annotations import (
    PHASE_TEXT,
    AnnotatorStats,
    GrafanaAnnotator,
    dashboard_link,
    verdict_text,
)
from exporters.grafana.api import connect, resolve_token
from exporters.grafana.push import (
    DatasourceNeed,
    default_dashboards_dir,
    load_dashboards,
    push,
    required_datasources,
)
from runner.cli import main
from runner.errors import GrafanaError, UsageError
from runner.model import Result, Status, Verdict
from tests.support.fake_grafana import PROMETHEUS, FakeGrafana
from tests.support.procs import free_port
from tests.support.runs import REPO, child_env, loadlens_cmd

RUN_ID = "load_20261121T195348Z"
START = 1_763_754_828.25  # epoch seconds: the run's start
END = START + 300.5


def dashboard(uid: str, title: str, *, datasource: Any = None, panel_title: str = "rps") -> dict[str, Any]:
    """A small dashboard model; by default its panels use a Prometheus datasource variable."""
    ds = datasource if datasource is not None else {"type": "prometheus", "uid": "${datasource}"}
    return {
        "uid": uid,
        "title": title,
        "schemaVersion": 39,
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus"},
                {"name": "run_id", "type": "query", "datasource": ds, "query": "label_values(run_id)"},
            ]
        },
        "panels": [
            {"id": 1, "title": panel_title, "datasource": ds, "targets": [{"expr": "up", "datasource": ds}]}
        ],
    }


def write_dashboards(directory: Path, *models: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for model in models:
        (directory / f"{model['uid']}.json").write_text(json.dumps(model, indent=2))
    return directory


@pytest.fixture
def fake() -> Iterator[FakeGrafana]:
    with FakeGrafana() as server:
        yield server


@pytest.fixture
def dash_dir(tmp_path: Path) -> Path:
    return write_dashboards(
        tmp_path / "dashboards",
        dashboard("loadlens-live", "loadlens live"),
        dashboard("loadlens-runs", "loadlens runs"),
    )


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean environment for in-process CLI calls: no Grafana or loadlens variables, cwd in tmp."""
    for name in ("GRAFANA_TOKEN", "GRAFANA_TOKEN_FILE", "GRAFANA_URL", "LOADLENS_CONFIG", "LOADLENS_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("LOADLENS_GRAFANA_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def grafana_push(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], list[str]]:
    """`loadlens grafana push ARGS` in this process: (exit code, stdout lines, stderr lines)."""
    code = main(["grafana", "push", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


class TestPush:
    def test_the_first_push_creates_the_folder_and_every_dashboard(
        self,
        fake: FakeGrafana,
        dash_dir: Path,
        cli_env: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """The folder is created by its stable uid and each dashboard posted into it with overwrite,
        without id or version, and one line per dashboard gives its action and URL."""
        cli_env.setenv("GRAFANA_TOKEN", fake.token)
        code, out, err = grafana_push(capsys, "--url", fake.url, "--dashboards", str(dash_dir))
        assert (code, err) == (0, [])
        writes = fake.writes()
        assert [(w.method, w.path) for w in writes] == [
            ("POST", "/api/folders"),
            ("POST", "/api/dashboards/db"),
            ("POST", "/api/dashboards/db"),
        ]
        assert writes[0].body == {"title": "loadlens", "uid": "loadlens"}
        for write, uid in zip(writes[1:], ("loadlens-live", "loadlens-runs"), strict=True):
            assert write.body["folderUid"] == "loadlens" and write.body["overwrite"] is True
            assert write.body["dashboard"]["uid"] == uid and write.body["dashboard"]["id"] is None
            assert "version" not in write.body["dashboard"]
        assert out == [
            "folder 'loadlens' (uid loadlens): created",
            f"created    loadlens-live  {fake.url}/d/loadlens-live",
            f"created    loadlens-runs  {fake.url}/d/loadlens-runs",
        ]
        assert fake.state.dashboards["loadlens-live"]["folderUid"] == "loadlens"

    def test_a_second_push_writes_nothing(
        self,
        fake: FakeGrafana,
        dash_dir: Path,
        cli_env: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Pushing the same dashboards again only reads: no POST or PUT, every line says unchanged."""
        cli_env.setenv("GRAFANA_TOKEN", fake.token)
        assert grafana_push(capsys, "--url", fake.url, "--dashboards", str(dash_dir))[0] == 0
        before = len(fake.writes())
        code, out, _ = grafana_push(capsys, "--url", fake.url, "--dashboards", str(dash_dir))
        assert code == 0 and len(fake.writes()) == before
        assert out[0] == "folder 'loadlens' (uid loadlens): unchanged"
        assert [line.split()[0] for line in out[1:]] == ["unchanged", "unchanged"]
        assert fake.state.dashboards["loadlens-live"]["dashboard"]["version"] == 1

    def test_a_changed_dashboard_is_updated_and_only_it(
        self,
        fake: FakeGrafana,
        dash_dir: Path,
        cli_env: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """After one dashboard file changes, push posts that dashboard alone and says updated."""
        cli_env.setenv("GRAFANA_TOKEN", fake.token)
        grafana_push(capsys, "--url", fake.url, "--dashboards", str(dash_dir))
        before = len(fake.writes())
        write_dashboards(
            dash_dir, dashboard("loadlens-runs", "loadlens runs", panel_title="requests per second")
        )
        code, out, _ = grafana_push(capsys, "--url", fake.url, "--dashboards", str(dash_dir))
        new = fake.writes()[before:]
        assert code == 0 and [(w.method, w.path) for w in new] == [("POST", "/api/dashboards/db")]
        assert new[0].body["dashboard"]["panels"][0]["title"] == "requests per second"
        assert [line.split()[0] for line in out[1:]] == ["unchanged", "updated"]
        assert fake.state.dashboards["loadlens-runs"]["dashboard"]["version"] == 2

    def test_a_dashboard_in_another_folder_is_moved_back(
        self,
        fake: FakeGrafana,
        dash_dir: Path,
        cli_env: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Identical JSON in the wrong folder is not unchanged: it is posted again into loadlens's folder."""
        cli_env.setenv("GRAFANA_TOKEN", fake.token)
        grafana_push(capsys, "--url", fake.url, "--dashboards", str(dash_dir))
        fake.state.dashboards["loadlens-live"]["folderUid"] = "elsewhere"
        code, out, _ = grafana_push(capsys, "--url", fake.url, "--dashboards", str(dash_dir))
        assert code == 0 and out[1].split()[0] == "updated"
        assert fake.state.dashboards["loadlens-live"]["folderUid"] == "loadlens"

    def test_a_new_folder_name_renames_the_same_folder(
        self,
        fake: FakeGrafana,
        dash_dir: Path,
        cli_env: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """--folder with another name updates the title of the folder with uid loadlens, keeping its uid."""
        cli_env.setenv("GRAFANA_TOKEN", fake.token)
        grafana_push(capsys, "--url", fake.url, "--dashboards", str(dash_dir))
        before = len(fake.writes())
        code, out, _ = grafana_push(
            capsys, "--url", fake.url, "--dashboards", str(dash_dir), "--folder", "Load tests"
        )
        new = fake.writes()[before:]
        assert code == 0 and [(w.method, w.path) for w in new] == [("PUT", "/api/folders/loadlens")]
        assert new[0].body == {"title": "Load tests", "overwrite": True}
        assert out[0] == "folder 'Load tests' (uid loadlens): renamed"
        assert list(fake.state.folders) == ["loadlens"]

    def test_a_grafana_under_a_sub_path_is_pushed_to(
        self, dash_dir: Path, cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A URL with a path (Grafana behind a proxy at /grafana) reaches the API under that path, and
        the printed dashboard URLs keep it."""
        with FakeGrafana(prefix="/grafana") as fake:
            cli_env.setenv("GRAFANA_TOKEN", fake.token)
            code, out, err = grafana_push(capsys, "--url", fake.url, "--dashboards", str(dash_dir))
            assert (code, err) == (0, []) and len(fake.writes()) == 3
        assert fake.url.endswith("/grafana") and out[1].endswith(f"{fake.url}/d/loadlens-live")

    def test_url_and_folder_come_from_loadlens_toml(
        self,
        fake: FakeGrafana,
        dash_dir: Path,
        cli_env: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
    ) -> None:
        """Without --url and --folder, [grafana] url and folder in loadlens.toml are used."""
        (tmp_path / "loadlens.toml").write_text(f'[grafana]\nurl = "{fake.url}"\nfolder = "Perf"\n')
        cli_env.setenv("GRAFANA_TOKEN", fake.token)
        code, out, _ = grafana_push(capsys, "--dashboards", str(dash_dir))
        assert code == 0 and out[0] == "folder 'Perf' (uid loadlens): created"

    def test_grafana_url_is_the_last_resort(
        self,
        fake: FakeGrafana,
        dash_dir: Path,
        cli_env: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """With no flag and no [grafana] url, GRAFANA_URL names the Grafana."""
        cli_env.setenv("GRAFANA_TOKEN", fake.token)
        cli_env.setenv("GRAFANA_URL", fake.url)
        assert grafana_push(capsys, "--dashboards", str(dash_dir))[0] == 0
        assert len(fake.writes()) == 3

    def test_no_url_anywhere_is_a_usage_error(
        self, dash_dir: Path, cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without --url, [grafana] url or GRAFANA_URL, push says where a URL can come from (exit 2)."""
        code, out, err = grafana_push(capsys, "--dashboards", str(dash_dir))
        assert (code, out) == (2, [])
        assert err == [
            "loadlens: no Grafana URL: pass --url URL, set [grafana] url in loadlens.toml, or set GRAFANA_URL"
        ]


class TestToken:
    def test_every_api_request_carries_the_bearer_token(
        self,
        fake: FakeGrafana,
        dash_dir: Path,
        cli_env: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Each request push makes sends Authorization: Bearer with GRAFANA_TOKEN's value."""
        cli_env.setenv("GRAFANA_TOKEN", fake.token)
        grafana_push(capsys, "--url", fake.url, "--dashboards", str(dash_dir))
        assert len(fake.requests) >= 6
        assert {r.headers.get("authorization") for r in fake.requests} == {f"Bearer {fake.token}"}

    def test_the_token_can_come_from_a_file(
        self,
        fake: FakeGrafana,
        dash_dir: Path,
        cli_env: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
    ) -> None:
        """--token-file FILE is read (surrounding whitespace stripped) and wins over GRAFANA_TOKEN."""
        token_file = tmp_path / "token"
        token_file.write_text(f"  {fake.token}\n")
        cli_env.setenv("GRAFANA_TOKEN", "a-stale-token")
        code, _, err = grafana_push(
            capsys, "--url", fake.url, "--dashboards", str(dash_dir), "--token-file", str(token_file)
        )
        assert (code, err) == (0, [])
        assert {r.headers.get("authorization") for r in fake.requests} == {f"Bearer {fake.token}"}

    @pytest.mark.parametrize(
        "args", [["--token", "s3cr3t-value"], ["--token=s3cr3t-value"], ["--tok", "s3cr3t-value"]]
    )
    def test_there_is_no_flag_that_takes_the_token_itself(
        self, args: list[str], dash_dir: Path, cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A token given on the command line (where the process list shows it) is refused in one line
        that does not repeat it, and is not taken as an abbreviation of --token-file."""
        code, out, err = grafana_push(
            capsys, "--url", "http://127.0.0.1:1", *args, "--dashboards", str(dash_dir)
        )
        assert (code, out, len(err)) == (2, [], 1)
        assert "never from the command line" in err[0] and "s3cr3t-value" not in err[0]

    def test_token_sources_in_order(self, tmp_path: Path) -> None:
        """resolve_token: a --token-file, else GRAFANA_TOKEN, else the file GRAFANA_TOKEN_FILE names, else None."""
        a, b = tmp_path / "a", tmp_path / "b"
        a.write_text("from-flag-file\n")
        b.write_text("from-env-file\n")
        env = {"GRAFANA_TOKEN": "from-env", "GRAFANA_TOKEN_FILE": str(b)}
        assert resolve_token(env, token_file=a) == "from-flag-file"
        assert resolve_token(env) == "from-env"
        assert resolve_token({"GRAFANA_TOKEN_FILE": str(b)}) == "from-env-file"
        assert resolve_token({"GRAFANA_TOKEN": "  "}) is None

    @pytest.mark.parametrize("content", [None, "", "\n  \n"])
    def test_an_unreadable_or_empty_token_file_is_a_usage_error(
        self, tmp_path: Path, content: str | None
    ) -> None:
        """A token file that is missing or holds only whitespace is one usage error naming the file."""
        path = tmp_path / "token"
        if content is not None:
            path.write_text(content)
        with pytest.raises(UsageError) as caught:
            resolve_token({}, token_file=path)
        assert str(caught.value).startswith("--token-file: ") and str(path) in str(caught.value)


class TestPushErrors:
    def test_a_rejected_token_is_one_line_and_exit_2(
        self,
        fake: FakeGrafana,
        dash_dir: Path,
        cli_env: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """A 401 says the token was rejected and what token to set, in one line, before any write."""
        cli_env.setenv("GRAFANA_TOKEN", "glsa_wrong")
        code, out, err = grafana_push(capsys, "--url", fake.url, "--dashboards", str(dash_dir))
        assert (code, out) == (2, [])
        assert err == [
            "loadlens: Grafana rejected the token (401): set GRAFANA_TOKEN to a service account token with Editor rights"
        ]
        assert fake.writes() == []

    def test_no_token_at_all_says_one_is_required(
        self,
        fake: FakeGrafana,
        dash_dir: Path,
        cli_env: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Without any token, Grafana's 401 becomes "requires a token", one line, exit 2."""
        code, _, err = grafana_push(capsys, "--url", fake.url, "--dashboards", str(dash_dir))
        assert code == 2 and err == [
            "loadlens: Grafana requires a token (401): set GRAFANA_TOKEN to a service account token with Editor rights"
        ]

    def test_a_closed_port_is_one_line_and_exit_2(
        self, dash_dir: Path, cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A URL where nothing listens (a wrong URL) says connection refused and to check the URL."""
        cli_env.setenv("GRAFANA_TOKEN", "glsa_any")
        url = f"http://127.0.0.1:{free_port()}"
        code, out, err = grafana_push(capsys, "--url", url, "--dashboards", str(dash_dir))
        assert (code, out) == (2, [])
        assert err == [f"loadlens: cannot reach Grafana at {url}: connection refused: check the URL"]

    def test_something_that_is_not_grafana_is_one_line_and_exit_2(
        self,
        fake: FakeGrafana,
        dash_dir: Path,
        cli_env: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """A server answering 404 to the API (another web server) is called not a Grafana."""
        fake.not_grafana = True
        cli_env.setenv("GRAFANA_TOKEN", fake.token)
        code, _, err = grafana_push(capsys, "--url", fake.url, "--dashboards", str(dash_dir))
        assert code == 2
        assert err == [f"loadlens: {fake.url} is not a Grafana (GET /api/health answered 404): check the URL"]

    def test_a_server_error_is_one_line_with_grafanas_message(
        self,
        fake: FakeGrafana,
        dash_dir: Path,
        cli_env: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """A 500 names the request and carries Grafana's own message, in one line."""
        fake.fail_status = 500
        cli_env.setenv("GRAFANA_TOKEN", fake.token)
        code, _, err = grafana_push(capsys, "--url", fake.url, "--dashboards", str(dash_dir))
        assert code == 2 and err == ["loadlens: Grafana answered 500 to GET /api/health: fake failure"]

    def test_a_grafana_slower_than_the_timeout_is_one_error(self, fake: FakeGrafana, dash_dir: Path) -> None:
        """A Grafana that does not answer within the timeout gives a GrafanaError naming the request."""
        fake.delay_s = 2.0
        api = connect(fake.url, token=fake.token, timeout_s=0.2)
        with pytest.raises(GrafanaError) as caught:
            push(
                api,
                load_dashboards(dash_dir),
                base_url=fake.url,
                folder_title="loadlens",
                token=fake.token,
                timeout_s=0.2,
            )
        assert str(caught.value) == (
            f"Grafana at {fake.url} did not answer GET /api/health within 0.2 s: check the URL and the network"
        )

    def test_the_real_command_exits_2_with_one_line(self, dash_dir: Path, tmp_path: Path) -> None:
        """`python -m runner grafana push` against a closed port: exit 2, one stderr line, no traceback."""
        url = f"http://127.0.0.1:{free_port()}"
        done = subprocess.run(
            loadlens_cmd("grafana", "push", "--url", url, "--dashboards", str(dash_dir)),
            cwd=tmp_path,
            env=child_env({"GRAFANA_TOKEN": "glsa_any"}),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert (done.returncode, done.stdout) == (2, "")
        assert done.stderr.splitlines() == [
            f"loadlens: cannot reach Grafana at {url}: connection refused: check the URL"
        ]

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ("{not json", "not a readable JSON dashboard"),
            ('["a list"]', "a dashboard must be a JSON object"),
            ('{"title": "no uid"}', "the dashboard has no uid"),
            ('{"uid": "x"}', "the dashboard has no title"),
        ],
    )
    def test_a_bad_dashboard_file_is_a_usage_error(self, tmp_path: Path, content: str, message: str) -> None:
        """A dashboard file that is not a dashboard with a uid and a title is refused, naming the file."""
        (tmp_path / "bad.json").write_text(content)
        with pytest.raises(UsageError) as caught:
            load_dashboards(tmp_path)
        assert str(caught.value).startswith(f"{tmp_path / 'bad.json'}: {message}")

    def test_an_exported_dashboard_document_is_unwrapped(self, tmp_path: Path) -> None:
        """A file saved from Grafana's API ({"dashboard": ..., "meta": ...}) loads as its dashboard."""
        (tmp_path / "x.json").write_text(
            json.dumps({"dashboard": dashboard("x", "X"), "meta": {"version": 3}})
        )
        (loaded,) = load_dashboards(tmp_path)
        assert (loaded.uid, loaded.title) == ("x", "X") and "meta" not in loaded.model


class TestDatasources:
    def test_a_missing_prometheus_datasource_is_one_warning_line(
        self, dash_dir: Path, cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With no Prometheus datasource in Grafana, push warns once (naming the dashboards) and still
        pushes, exit 0: the datasource can be added afterwards."""
        with FakeGrafana(datasources=[]) as fake:
            cli_env.setenv("GRAFANA_TOKEN", fake.token)
            code, out, err = grafana_push(capsys, "--url", fake.url, "--dashboards", str(dash_dir))
            assert code == 0 and len(fake.writes()) == 3 and len(out) == 3
        assert err == [
            "loadlens: warning: Grafana has no prometheus datasource and dashboards loadlens-live, "
            "loadlens-runs need one: add it under Connections → Data sources"
        ]

    def test_a_missing_datasource_uid_is_named(
        self,
        fake: FakeGrafana,
        tmp_path: Path,
        cli_env: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """A dashboard pinned to a datasource uid Grafana lacks gets a warning naming that uid."""
        pinned = dashboard("pinned", "Pinned", datasource={"type": "prometheus", "uid": "prom-main"})
        directory = write_dashboards(tmp_path / "d", pinned)
        cli_env.setenv("GRAFANA_TOKEN", fake.token)
        code, _, err = grafana_push(capsys, "--url", fake.url, "--dashboards", str(directory))
        assert code == 0
        assert err == [
            "loadlens: warning: Grafana has no datasource 'prom-main' (prometheus) and dashboards pinned use it"
        ]

    def test_present_datasources_give_no_warning(
        self, tmp_path: Path, cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A uid or a name Grafana has, and a variable whose plugin type it has, need no warning."""
        models = (
            dashboard("by-uid", "A", datasource={"type": "prometheus", "uid": "prometheus"}),
            dashboard("by-name", "B", datasource="Prometheus"),
            dashboard("by-var", "C"),
        )
        with FakeGrafana(datasources=[PROMETHEUS]) as fake:
            cli_env.setenv("GRAFANA_TOKEN", fake.token)
            code, _, err = grafana_push(
                capsys, "--url", fake.url, "--dashboards", str(write_dashboards(tmp_path / "d", *models))
            )
        assert (code, err) == (0, [])

    @pytest.mark.parametrize(
        ("ref", "needs"),
        [
            ({"type": "prometheus", "uid": "${datasource}"}, {DatasourceNeed("prometheus", None)}),
            ({"type": "prometheus", "uid": "$datasource"}, {DatasourceNeed("prometheus", None)}),
            (
                {"type": "prometheus", "uid": "abc"},
                {DatasourceNeed("prometheus", None), DatasourceNeed("prometheus", "abc")},
            ),
            ({"type": "datasource", "uid": "-- Mixed --"}, {DatasourceNeed("prometheus", None)}),
            ({"type": "grafana", "uid": "grafana"}, {DatasourceNeed("prometheus", None)}),
            ("Prometheus", {DatasourceNeed("prometheus", None), DatasourceNeed(None, "Prometheus")}),
            ("${unknown_var}", {DatasourceNeed("prometheus", None)}),
        ],
    )
    def test_required_datasources(self, ref: Any, needs: set[DatasourceNeed]) -> None:
        """References are read from every "datasource" key; variables resolve to their plugin type;
        Grafana's built-in datasources need nothing (the template's own variable needs Prometheus)."""
        assert required_datasources(dashboard("d", "D", datasource=ref)) == needs


class TestBundledDashboards:
    def test_the_bundled_dashboards_push_and_repush_idempotently(
        self, fake: FakeGrafana, cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The repository's dashboards/ (the default) load, are created, and a second push changes nothing."""
        bundled = REPO / "dashboards"
        if not any(bundled.glob("*.json")):
            pytest.skip("no dashboards/*.json in this checkout yet")
        assert default_dashboards_dir() == bundled
        cli_env.setenv("GRAFANA_TOKEN", fake.token)
        code, out, _ = grafana_push(capsys, "--url", fake.url)
        assert code == 0 and all(line.split()[0] == "created" for line in out[1:])
        before = len(fake.writes())
        code, out, _ = grafana_push(capsys, "--url", fake.url)
        assert code == 0 and len(fake.writes()) == before
        assert all(line.split()[0] == "unchanged" for line in out[1:])


# -- annotations: the annotator in a gevent-patched subprocess ------------------------------------
class AnnotatorRun:
    """tests/support/grafana_driver.py running ``steps`` against ``url``; lines read as they come."""

    def __init__(self, tmp: Path, url: str, steps: list[dict[str, Any]], **options: Any) -> None:
        self.dir = tmp / "annotator"
        self.control = self.dir / "control"
        self.control.mkdir(parents=True, exist_ok=True)
        self.log_path = self.dir / "log.jsonl"
        config = {
            "url": url,
            "run_id": RUN_ID,
            "scenario": "load",
            "start": START,
            "stop_clock": END + 7,
            "control": str(self.control),
            "log": str(self.log_path),
            "steps": steps,
            **options,
        }
        (self.dir / "config.json").write_text(json.dumps(config))
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.grafana_driver", str(self.dir / "config.json")],
            cwd=REPO,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(json.loads(line))
        self._lines.put(None)

    def step(self, i: int, *, timeout_s: float = 60.0) -> dict[str, Any]:
        """The line of step ``i`` (earlier lines are skipped)."""
        while True:
            line = self._lines.get(timeout=timeout_s)
            if line is None:
                raise AssertionError(f"the driver ended before step {i}: {self.stderr()}")
            if line["i"] == i:
                return line

    def finish(self, *, timeout_s: float = 60.0) -> list[dict[str, Any]]:
        """Every remaining step line, once the driver exited 0."""
        lines = []
        while (line := self._lines.get(timeout=timeout_s)) is not None:
            lines.append(line)
        assert self.proc.wait(timeout=timeout_s) == 0, self.stderr()
        return lines

    def signal(self, name: str) -> None:
        (self.control / name).touch()

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read() if self.proc.poll() is not None else "(still running)"

    def logs(self, level: str | None = None) -> list[dict[str, Any]]:
        lines = [json.loads(x) for x in self.log_path.read_text().splitlines() if x.strip()]
        return [x for x in lines if level is None or x["level"] == level]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def ms(epoch_s: float) -> int:
    return round(epoch_s * 1000)


RUN_TAGS = ["loadlens", "load", RUN_ID]
A_RUN = [
    {"do": "start"},
    {"do": "mark", "phase": "ramp-up", "at": START},
    {"do": "mark", "phase": "warm-up", "at": START + 30},
    {"do": "mark", "phase": "steady", "at": START + 60},
    {"do": "mark", "phase": "steady", "at": START + 61},
    {"do": "mark", "phase": "cool-down", "at": START + 270},
    {
        "do": "finish",
        "status": "fail",
        "summary": "loadlens verdict: FAIL (exit 1) — 1 of 3 criteria failed",
        "end": END,
    },
    {"do": "stop"},
    {"do": "wait_linger"},
]


class TestAnnotations:
    def test_a_run_gets_its_region_phase_marks_and_verdict(self, fake: FakeGrafana, tmp_path: Path) -> None:
        """The region is posted at the start, each phase change is a point (a repeat is not), and at the
        finish the region's end is patched (tags kept) and the verdict posted, all with the run's tags."""
        run = AnnotatorRun(tmp_path, fake.url, A_RUN, token=fake.token)
        try:
            lines = run.finish()
        finally:
            run.close()
        assert all(line["error"] is None for line in lines)
        assert lines[-1]["done"] is True and lines[-1]["stats"]["sent"] == 7
        calls = [(r.method, r.path) for r in fake.requests]
        assert calls == [("POST", "/api/annotations")] * 5 + [
            ("PATCH", "/api/annotations/1"),
            ("POST", "/api/annotations"),
        ]
        assert {r.headers["authorization"] for r in fake.requests} == {f"Bearer {fake.token}"}
        first = fake.requests[0].body
        assert (first["time"], first["timeEnd"], first["tags"]) == (ms(START), None, [*RUN_TAGS, "run"])
        assert "dashboardUID" not in first
        patch = fake.requests[5].body
        assert (patch["timeEnd"], patch["tags"]) == (ms(END), [*RUN_TAGS, "run"])
        region, *marks, verdict = fake.annotations()
        assert (region["time"], region["timeEnd"], region["tags"]) == (ms(START), ms(END), [*RUN_TAGS, "run"])
        assert region["text"] == f"loadlens run {RUN_ID} (load): FAIL"
        assert [(m["time"], m["text"]) for m in marks] == [
            (ms(START), PHASE_TEXT["ramp-up"]),
            (ms(START + 30), PHASE_TEXT["warm-up"]),
            (ms(START + 60), PHASE_TEXT["steady"]),
            (ms(START + 270), PHASE_TEXT["cool-down"]),
        ]
        assert all(m["tags"] == [*RUN_TAGS, "phase"] and m["timeEnd"] == 0 for m in marks)
        assert (verdict["time"], verdict["tags"]) == (ms(END), [*RUN_TAGS, "verdict", "fail"])
        assert verdict["text"] == "loadlens verdict: FAIL (exit 1) — 1 of 3 criteria failed"

    def test_a_dashboard_uid_scopes_the_annotations(self, fake: FakeGrafana, tmp_path: Path) -> None:
        """With a dashboard uid, every annotation is posted to that dashboard."""
        steps = [
            {"do": "start"},
            {"do": "mark", "phase": "safety stop", "at": START + 5, "detail": "cpu 97% > 90%"},
            {"do": "stop"},
            {"do": "wait_linger"},
        ]
        run = AnnotatorRun(tmp_path, fake.url, steps, token=fake.token, dashboard_uid="loadlens-live")
        try:
            run.finish()
        finally:
            run.close()
        posts = [r.body for r in fake.requests if r.method == "POST"]
        assert len(posts) == 2 and {p["dashboardUID"] for p in posts} == {"loadlens-live"}
        assert posts[1]["text"] == f"{PHASE_TEXT['safety stop']} (cpu 97% > 90%)"

    def test_stop_without_a_verdict_still_closes_the_region(self, fake: FakeGrafana, tmp_path: Path) -> None:
        """When the run ends without finish (no verdict could be made), stop ends the region at its
        clock's time and posts no verdict."""
        steps = [{"do": "start"}, {"do": "stop"}, {"do": "wait_linger"}]
        run = AnnotatorRun(tmp_path, fake.url, steps, token=fake.token)
        try:
            run.finish()
        finally:
            run.close()
        (region,) = fake.annotations()
        assert (region["time"], region["timeEnd"]) == (ms(START), ms(END + 7))
        assert region["text"].endswith("ended without a verdict")

    def test_calls_return_while_grafana_holds_a_request(self, fake: FakeGrafana, tmp_path: Path) -> None:
        """While Grafana sits on the first request, mark, finish and stop all return and the load
        greenlet keeps ticking; once Grafana answers, everything queued is delivered in order."""
        steps = [
            {"do": "start"},
            {"do": "await", "file": "go"},
            {"do": "mark", "phase": "steady", "at": START + 60},
            {"do": "finish", "status": "pass", "summary": "PASS", "end": END},
            {"do": "stop"},
            {"do": "ticks", "n": 200},
            {"do": "await", "file": "released"},
            {"do": "wait_linger"},
        ]
        with fake.hold():
            run = AnnotatorRun(tmp_path, fake.url, steps, token=fake.token, timeout_s=60.0, drain_s=60.0)
            try:
                fake.wait_for_requests(1)
                run.signal("go")
                stopped = run.step(4)
                ticked = run.step(5)
                # Still the one held request: nothing waited for Grafana.
                assert len(fake.requests) == 1
                assert stopped["error"] is None and stopped["stats"]["in_flight"] is True
                assert stopped["stats"]["pending"] == 3
                assert ticked["ticks"] >= stopped["ticks"] + 200
            except BaseException:
                run.close()
                raise
        try:
            run.signal("released")
            lines = run.finish()
        finally:
            run.close()
        assert lines[-1]["done"] is True and lines[-1]["stats"]["sent"] == 4
        assert [(r.method, r.path) for r in fake.requests] == [
            ("POST", "/api/annotations"),
            ("POST", "/api/annotations"),
            ("PATCH", "/api/annotations/1"),
            ("POST", "/api/annotations"),
        ]


class TestGrafanaDown:
    def test_a_closed_port_costs_the_run_nothing(self, tmp_path: Path) -> None:
        """With Grafana down during a run-like sequence under gevent: no call raises, the load greenlet
        keeps ticking, the queue stays at its bound (oldest dropped), the end-of-run wait finishes, and
        warnings are rate-limited (one per interval, plus the end-of-run outcome)."""
        steps = [
            {"do": "start"},
            {"do": "ticks", "n": 50},
            {"do": "mark", "phase": "steady", "at": START + 60},
            {"do": "flood", "n": 500},
            {"do": "ticks", "n": 50},
            {"do": "finish", "status": "fail", "summary": "FAIL", "end": END},
            {"do": "stop"},
            {"do": "wait_linger"},
        ]
        run = AnnotatorRun(
            tmp_path, f"http://127.0.0.1:{free_port()}", steps, token="glsa_any", max_pending=16
        )
        try:
            lines = run.finish()
        finally:
            run.close()
        assert [line["error"] for line in lines] == [None] * len(steps)
        flooded = lines[3]["stats"]
        assert flooded["pending"] == 16 and flooded["dropped"] >= 500 - 16
        assert lines[4]["ticks"] >= lines[3]["ticks"] + 50
        final = lines[-1]
        assert final["done"] is True and final["stats"]["sent"] == 0 and final["stats"]["pending"] == 0
        assert final["stats"]["failed"] >= 16
        warnings = run.logs("warning")
        failed = [w for w in warnings if w["event"] == "Grafana annotation failed"]
        assert failed and all("connection refused" in w["error"] for w in failed)
        # One warning per (long) interval; the close and verdict failures at the end are forced.
        assert len(warnings) <= 3 < final["stats"]["failed"] + final["stats"]["dropped"]
        assert "Traceback" not in run.stderr()

    def test_a_grafana_slower_than_the_timeout_does_not_hold_up_the_end(
        self, fake: FakeGrafana, tmp_path: Path
    ) -> None:
        """Requests that time out are failures, not waits: after stop, wait_linger(None) returns with
        what could not be sent counted as dropped."""
        fake.delay_s = 3.0
        steps = [
            {"do": "start"},
            {"do": "flood", "n": 10},
            {"do": "finish", "status": "pass", "summary": "PASS", "end": END},
            {"do": "stop"},
            {"do": "wait_linger"},
        ]
        run = AnnotatorRun(tmp_path, fake.url, steps, token=fake.token, timeout_s=0.2, drain_s=0.3)
        try:
            lines = run.finish()
        finally:
            run.close()
        final = lines[-1]
        assert final["error"] is None and final["done"] is True
        assert (
            final["stats"]["sent"] == 0 and final["stats"]["failed"] >= 1 and final["stats"]["dropped"] >= 1
        )
        assert any("did not answer" in w.get("error", "") for w in run.logs("warning"))


class TestAnnotatorContract:
    def test_it_is_an_exporter(self) -> None:
        """The annotator keeps the Exporter protocol, so the bridge can stop and wait for it like the others."""
        assert isinstance(GrafanaAnnotator("http://127.0.0.1:1"), Exporter)

    def test_before_start_every_call_is_a_no_op(self) -> None:
        """Unstarted, mark, finish and stop queue nothing and wait_linger has nothing to wait for."""
        annotator = GrafanaAnnotator("http://127.0.0.1:1")
        annotator.mark("steady", at=START)
        annotator.finish(status="pass", summary="PASS", end=END)
        annotator.stop(None)  # type: ignore[arg-type]
        assert annotator.wait_linger() is True
        assert annotator.stats == AnnotatorStats(sent=0, failed=0, dropped=0, pending=0, in_flight=False)

    def test_a_queue_bound_below_one_is_refused(self) -> None:
        """max_pending must leave room for at least one annotation."""
        with pytest.raises(ValueError):
            GrafanaAnnotator("http://127.0.0.1:1", max_pending=0)


class TestLinkAndText:
    def test_the_link_selects_the_run_window_and_run_id(self) -> None:
        """from/to are the run's start and end in epoch ms (widened to whole ms) and var-run_id is set."""
        link = dashboard_link(
            "https://grafana.example.com/", uid="loadlens-runs", run_id=RUN_ID, start=START, end=END
        )
        assert link == (
            f"https://grafana.example.com/d/loadlens-runs?from=1763754828250&to=1763755128750&var-run_id={RUN_ID}"
        )

    def test_the_link_keeps_a_sub_path_and_drops_credentials(self) -> None:
        """A Grafana served under a sub path keeps it; user:password and query parameters are dropped."""
        link = dashboard_link(
            "http://admin:hunter2@obs.internal:3000/grafana?verify=false",
            uid="a b",
            run_id="x/y",
            start=1.0004,
            end=2.0,
        )
        assert link == "http://obs.internal:3000/grafana/d/a%20b?from=1000&to=2000&var-run_id=x%2Fy"

    def test_the_verdict_text_names_failed_criteria(self) -> None:
        """The verdict annotation says the verdict line, then each failed and inconclusive criterion with
        observed value, limit and reason, with credentials redacted."""
        results = (
            Result(
                "all requests p95", "p95 <= 500 ms", 631.0, 500.0, Status.FAIL, "above the limit", unit="ms"
            ),
            Result("all requests rps", "rps >= 5", 19.7, 5.0, Status.PASS, "ok", unit="/s"),
            Result(
                "server cpu", "cpu <= 70 %", None, 70.0, Status.INCONCLUSIVE, "no data from https://u:pw@cw"
            ),
        )
        text = verdict_text(Verdict(results=results, status=Status.FAIL, exit_code=1))
        lines = text.splitlines()
        assert lines[0] == "loadlens verdict: FAIL (exit 1) — 1 of 3 criteria failed, 1 inconclusive"
        assert lines[1].startswith("FAIL all requests p95: 631") and "above the limit" in lines[1]
        assert lines[2].startswith("INCONCLUSIVE server cpu: ") and "pw" not in lines[2]
        assert len(lines) == 3
