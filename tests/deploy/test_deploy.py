"""deploy/ and the image: every file is valid for the tool that reads it (promtool, kustomize and the
Kubernetes schemas, botocore's ECS model, GitHub Actions' shape), references files that exist, and
uses only loadlens and Locust options that exist. Run for real on 127.0.0.1: the Kubernetes master and
worker commands (three processes, a real Prometheus scraping the master), the local stack's
Prometheus configuration with the documented local commands (and a real Pushgateway), and the
pull-request workflow's load-test and gate steps under bash.

What cannot run here is said where it is checked: no Docker engine (the compose file and the
Dockerfile are checked statically, and the image's package is built from exactly the files the
Dockerfile copies), no Kubernetes cluster (manifests are rendered by kubectl's kustomize and validated
against the bundled OpenAPI schemas; the ServiceMonitor CRD has no bundled schema, so it gets a
structural test of its own), no AWS (task definitions are validated against botocore's
RegisterTaskDefinition input shape offline).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.procs import free_port, process, prometheus, pushgateway, require
from tests.support.runs import REPO, child_env, loadlens_cmd, only_run_dir, summary
from tests.support.wait import wait_until

DEPLOY = REPO / "deploy"
LOCAL = DEPLOY / "local"
K8S = DEPLOY / "kubernetes"
ECS = DEPLOY / "ecs"
WORKFLOWS = DEPLOY / "ci" / "github-actions"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
DOCS = (REPO / "docs" / "deploy.md", DEPLOY / "README.md")
IAM_POLICY = DEPLOY / "iam" / "loadlens-policy.json"
K8S_VERSIONS = ("1.29.0", "1.37.0")  # an older cluster still common in production, and the newest schema
DASHBOARD_UIDS = ("loadlens-live", "loadlens-live-cw", "loadlens-runs")
ECS_PLACEHOLDERS = {
    "AWS_ACCOUNT_ID": "123456789012",
    "AWS_REGION": "eu-west-1",
    "LOADTEST_IMAGE": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/loadtest:1",
}


# ---------------------------------------------------------------------------------------------
# Helpers


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


def substitute(text: str, values: Mapping[str, str]) -> str:
    """envsubst, as docs/deploy.md uses it: ``${NAME}`` replaced; any name left over is an error."""
    out = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text)
    assert "${" not in out
    return out


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\$\{(\w+)\}", text))


def by_kind(docs: Sequence[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def flag_value(args: Sequence[str], flag: str) -> str:
    """The value following ``flag`` (exactly one occurrence)."""
    hits = [i for i, a in enumerate(args) if a == flag]
    assert len(hits) == 1, f"{flag} occurs {len(hits)} times in {list(args)}"
    return args[hits[0] + 1]


def replace_value(args: Sequence[str], flag: str, value: str) -> list[str]:
    out = list(args)
    flag_value(out, flag)  # present exactly once, or the substitution would silently miss
    out[out.index(flag) + 1] = value
    return out


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]


def fenced_shell_blocks(markdown: str) -> list[str]:
    return re.findall(r"```(?:sh|bash|shell|console)\n(.*?)```", markdown, flags=re.S)


def shell_commands(script: str) -> list[list[str]]:
    """The loadlens commands in a shell script: argv after `loadlens`, one list per command.

    A word counts as the command only in command position (first word, after VAR=value
    assignments, or after an operator), so `pip install loadlens` or `-n loadlens` are not taken.
    """
    script = script.replace("\\\n", " ")
    found: list[list[str]] = []
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        i, at_command = 0, True
        while i < len(tokens):
            tok = tokens[i]
            if tok and set(tok) <= set("();<>|&"):
                at_command = True
            elif at_command and re.fullmatch(r"[A-Za-z_]\w*=.*", tok):
                pass
            elif at_command and (tok == "loadlens" or tok.endswith("/loadlens")):
                j = i + 1
                while j < len(tokens) and not set(tokens[j]) <= set("();<>|&"):
                    j += 1
                found.append(tokens[i + 1 : j])
                i, at_command = j, False
                continue
            else:
                at_command = False
            i += 1
    return found


# Runs in a child process: importing Locust monkey-patches the interpreter with gevent, which the
# test process must not be.
_CHECK_RUN_ARGS = r"""
import json, sys
from locust.argument_parser import get_parser
from runner.config.options import pre_parser

class Bad(Exception):
    pass

def fail(message):
    raise Bad(message)

results = []
for argv in json.load(sys.stdin):
    try:
        ours = pre_parser()
        ours.error = fail
        ns, rest = ours.parse_known_args(argv)
        locust = get_parser()
        locust.error = fail
        lns, unknown = locust.parse_known_args(rest)
        if unknown:
            fail(f"unknown options {unknown}")
        if lns.user_classes:
            fail(f"words that are no option's value: {lns.user_classes}")
        results.append({"ok": True, "loadlens": {k: v for k, v in vars(ns).items() if v not in (None, False)}})
    except Bad as exc:
        results.append({"ok": False, "error": str(exc)})
print(json.dumps(results, default=str))
"""


def check_run_args(argvs: Sequence[Sequence[str]]) -> list[dict[str, Any]]:
    """Parse each `loadlens run` argv with loadlens's parser and then Locust's, as `loadlens run` does."""
    proc = subprocess.run(
        [sys.executable, "-c", _CHECK_RUN_ARGS],
        input=json.dumps([list(a) for a in argvs]),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=child_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return list(json.loads(proc.stdout))


def help_options(*subcommand: str) -> set[str]:
    """The options a loadlens subcommand (other than run) lists in its --help."""
    proc = subprocess.run(
        loadlens_cmd(*subcommand, "--help"), capture_output=True, text=True, cwd=REPO, env=child_env()
    )
    assert proc.returncode == 0, proc.stderr
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", proc.stdout))


def assert_real_loadlens_command(argv: Sequence[str], where: str) -> None:
    """A loadlens command line (after `loadlens`) uses a real subcommand and real options."""
    assert argv, f"{where}: bare `loadlens`"
    if argv[0] == "run":
        result = check_run_args([argv[1:]])[0]
        assert result["ok"], f"{where}: loadlens {shlex.join(argv)}: {result['error']}"
        return
    depth = 2 if argv[0] == "cloudwatch" else 1
    sub, rest = argv[:depth], argv[depth:]
    known = help_options(*sub)
    used = {a.split("=", 1)[0] for a in rest if a.startswith("-")}
    assert used <= known, f"{where}: loadlens {shlex.join(argv)}: unknown {sorted(used - known)}"


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    """deploy/kubernetes rendered by kubectl's built-in kustomize, as `kubectl apply -k` would apply it."""
    proc = subprocess.run(
        [require("kubectl"), "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.fixture(scope="module")
def master_job(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    return by_kind(rendered, "Job", "loadlens-master")


@pytest.fixture(scope="module")
def worker_deployment(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    return by_kind(rendered, "Deployment", "loadlens-worker")


def container(doc: dict[str, Any]) -> dict[str, Any]:
    containers = pod_spec(doc)["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def config_map_files(rendered: list[dict[str, Any]], doc: dict[str, Any]) -> dict[str, dict[str, str]]:
    """mountPath -> {file name: content} for every ConfigMap volume the container mounts."""
    volumes = {v["name"]: v for v in pod_spec(doc)["volumes"]}
    out: dict[str, dict[str, str]] = {}
    for mount in container(doc)["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            cm = by_kind(rendered, "ConfigMap", volume["configMap"]["name"])
            out[mount["mountPath"]] = dict(cm["data"])
    return out


def workflow(name: str) -> dict[str, Any]:
    doc = load_yaml(WORKFLOWS / name)
    # YAML 1.1 reads the key `on` as True.
    doc["on"] = doc.pop(True, doc.get("on"))
    return dict(doc)


def step(job: dict[str, Any], step_id: str | None = None, *, name: str | None = None) -> dict[str, Any]:
    hits = [
        s for s in job["steps"] if (step_id and s.get("id") == step_id) or (name and s.get("name") == name)
    ]
    assert len(hits) == 1, (step_id, name)
    return dict(hits[0])


def all_run_scripts() -> Iterator[tuple[str, str]]:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_name, job in workflow(path.name)["jobs"].items():
            for s in job["steps"]:
                if "run" in s:
                    yield f"{path.name}:{job_name}:{s.get('name', s.get('id'))}", s["run"]


# ---------------------------------------------------------------------------------------------
# The image


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY, in order."""
    out = []
    for word, rest in dockerfile_instructions():
        if word == "COPY":
            parts = rest.split()
            assert not any(p.startswith("--") for p in parts)
            out.append((parts[:-1], parts[-1]))
    return out


def copy_sources() -> list[str]:
    return [src for sources, _ in copies() for src in sources]


def package_sources() -> list[str]:
    """What the Dockerfile copies into its build directory before `pip install`."""
    out: list[str] = []
    for word, rest in dockerfile_instructions():
        if word == "RUN" and "pip install" in rest:
            return out
        if word == "COPY":
            *sources, dest = rest.split()
            assert not dest.startswith("/"), "a package source copied outside the build directory"
            out += sources
    raise AssertionError("no `RUN pip install` in the Dockerfile")


class TestDockerfile:
    def test_base_image_is_python_311_slim(self) -> None:
        """The image builds on python:3.11-slim."""
        froms = [rest for word, rest in dockerfile_instructions() if word == "FROM"]
        assert len(froms) == 1 and froms[0].startswith("python:3.11-slim")

    def test_copy_sources_exist_and_are_not_dockerignored(self) -> None:
        """Every COPY source exists in the repository and .dockerignore does not exclude it."""
        sources = copy_sources()
        assert set(package_sources()) == {"pyproject.toml", "README.md", "runner", "exporters"}
        assert "dashboards" in sources
        patterns = dockerignore_patterns()
        for src in sources:
            assert (REPO / src).exists(), src
            assert not any(fnmatch.fnmatch(src, p.rstrip("/")) for p in patterns), src

    def test_dockerignore_keeps_the_virtualenv_and_git_out(self) -> None:
        """.dockerignore keeps the bulky and irrelevant trees out of the build context."""
        assert {".git", ".venv", "tests", "results"} <= set(dockerignore_patterns())

    def test_installs_the_package_from_the_copied_sources(self) -> None:
        """The package is installed from the copied sources; boto3, OTLP and grafana-client come as
        its regular dependencies (no extra to forget)."""
        runs = " ".join(rest for word, rest in dockerfile_instructions() if word == "RUN")
        assert re.search(r"""pip install ["']?\.["']?(\s|$)""", runs), runs

    def test_runs_as_a_numeric_non_root_user(self) -> None:
        """The last USER is a numeric uid other than 0, so Kubernetes can verify runAsNonRoot."""
        users = [rest for word, rest in dockerfile_instructions() if word == "USER"]
        assert users
        uid = users[-1].split(":")[0]
        assert uid.isdigit() and int(uid) != 0

    def test_entrypoint_is_loadlens_and_ports_are_exposed(self) -> None:
        """ENTRYPOINT is exactly ["loadlens"] and the master, web and metrics ports are exposed."""
        inst = dict(dockerfile_instructions())
        assert json.loads(inst["ENTRYPOINT"]) == ["loadlens"]
        assert set(inst["EXPOSE"].split()) == {"5557", "8089", "9646"}
        assert inst["WORKDIR"] == "/work"  # the last WORKDIR: the non-root user's writable directory

    def test_dashboards_go_where_grafana_push_finds_them(self) -> None:
        """dashboards/ is copied to <sys.prefix>/share/loadlens/dashboards (sys.prefix is /usr/local in
        the python image), where `loadlens grafana push` looks in an installed loadlens."""
        (dest,) = [d for sources, d in copies() if sources == ["dashboards"]]
        assert dest == "/usr/local/share/loadlens/dashboards"
        assert '"share/loadlens/dashboards"' in (REPO / "exporters" / "grafana" / "push.py").read_text()

    def test_kubernetes_pods_run_as_the_images_user(self, rendered: list[dict[str, Any]]) -> None:
        """The pods' runAsUser is the image's USER, so files on the volumes belong to one uid."""
        uid = int([rest for word, rest in dockerfile_instructions() if word == "USER"][-1].split(":")[0])
        for doc in rendered:
            if doc["kind"] in ("Job", "Deployment"):
                assert pod_spec(doc)["securityContext"]["runAsUser"] == uid

    def test_the_copied_files_build_the_package(self, tmp_path: Path) -> None:
        """The files the Dockerfile copies build loadlens's wheel offline, with every module, the
        package data, the `loadlens` entry point and both extras."""
        src = tmp_path / "src"
        src.mkdir()
        for name in package_sources():
            path = REPO / name
            if path.is_dir():
                shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                (src / name).write_bytes(path.read_bytes())
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
             "-q", "-w", str(tmp_path / "wheels"), str(src)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        (wheel,) = (tmp_path / "wheels").glob("loadlens-*.whl")
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
            metadata = zf.read(meta).decode()
            entry_points = zf.read(meta.replace("METADATA", "entry_points.txt")).decode()
        modules = {
            p.relative_to(REPO).as_posix()
            for pkg in ("runner", "exporters")
            for p in (REPO / pkg).rglob("*.py")
            if "__pycache__" not in p.parts
        }
        assert modules <= names, sorted(modules - names)
        assert {"runner/demo/loadlens.toml", "runner/reports/summary.schema.json"} <= names
        # report.html is built offline from files of the package: the page and the chart library.
        page = ("page.html", "page.css", "page.js", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css")
        assert {f"runner/reports/html/{name}" for name in page} <= names
        assert re.search(r"^loadlens = runner\.cli:main$", entry_points, flags=re.M)
        assert {"aws", "otlp"} <= set(re.findall(r"^Provides-Extra: (\S+)$", metadata, flags=re.M))


# ---------------------------------------------------------------------------------------------
# Prometheus configurations


def prometheus_configs() -> list[Path]:
    """Every YAML file in deploy/ that is a Prometheus configuration (has scrape_configs)."""
    out = []
    for path in sorted([*DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")]):
        doc = load_yaml(path)
        if isinstance(doc, dict) and "scrape_configs" in doc:
            out.append(path)
    return out


class TestPrometheusConfigs:
    def test_both_stacks_have_a_prometheus_config(self) -> None:
        """The local stack's and the Kubernetes scrape configuration are found (the promtool test is not vacuous)."""
        assert set(prometheus_configs()) >= {
            LOCAL / "prometheus" / "prometheus.yml",
            K8S / "prometheus" / "scrape-config.yml",
        }

    @pytest.mark.parametrize("path", prometheus_configs(), ids=lambda p: str(p.relative_to(DEPLOY)))
    def test_promtool_check_config_passes(self, path: Path) -> None:
        """`promtool check config` accepts every Prometheus configuration in deploy/."""
        proc = subprocess.run(
            [require("promtool"), "check", "config", str(path)], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


# ---------------------------------------------------------------------------------------------
# The local stack


def compose() -> dict[str, Any]:
    return dict(load_yaml(LOCAL / "compose.yaml"))


def bind_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path (resolved) of the service's bind mounts (named volumes left out)."""
    out = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            out[target] = str((LOCAL / source).resolve())
    return out


def scrape_targets(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in config["scrape_configs"]}


class TestLocalStack:
    def test_images_are_pinned(self) -> None:
        """Every image in the compose file has an explicit version tag (no latest, no bare name)."""
        for name, service in compose()["services"].items():
            image = service["image"]
            assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+", image), f"{name}: {image}"

    def test_bind_mounts_exist(self) -> None:
        """Every file or directory the compose file mounts exists in the repository."""
        mounts = [m for s in compose()["services"].values() for m in bind_mounts(s).values()]
        assert len(mounts) >= 4
        for host_path in mounts:
            assert Path(host_path).exists(), host_path

    def test_ports_are_published_on_loopback_only(self) -> None:
        """Published ports bind 127.0.0.1, so the unauthenticated Grafana is not on the network."""
        for name, service in compose()["services"].items():
            for port in service.get("ports", []):
                assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"

    def test_prometheus_scrapes_loadlens_on_the_host(self) -> None:
        """Prometheus reaches loadlens's --prometheus-port 9646 on the host through host-gateway."""
        svc = compose()["services"]["prometheus"]
        assert "host.docker.internal:host-gateway" in svc["extra_hosts"]
        config = load_yaml(LOCAL / "prometheus" / "prometheus.yml")
        assert bind_mounts(svc)["/etc/prometheus/prometheus.yml"] == str(
            LOCAL / "prometheus" / "prometheus.yml"
        )
        assert "--config.file=/etc/prometheus/prometheus.yml" in svc["command"]
        jobs = scrape_targets(config)
        assert jobs["loadlens"]["static_configs"][0]["targets"] == ["host.docker.internal:9646"]

    def test_pushgateway_and_collector_are_scraped_with_their_labels(self) -> None:
        """The Pushgateway's and the collector's series keep their own job and run labels (honor_labels)."""
        services = compose()["services"]
        jobs = scrape_targets(load_yaml(LOCAL / "prometheus" / "prometheus.yml"))
        collector = load_yaml(LOCAL / "otel-collector" / "config.yaml")
        exporter_port = collector["exporters"]["prometheus"]["endpoint"].rsplit(":", 1)[1]
        assert jobs["pushgateway"]["honor_labels"] is True
        assert jobs["pushgateway"]["static_configs"][0]["targets"] == ["pushgateway:9091"]
        assert jobs["otel-collector"]["honor_labels"] is True
        assert jobs["otel-collector"]["static_configs"][0]["targets"] == [f"otel-collector:{exporter_port}"]
        assert {"pushgateway", "otel-collector"} <= set(services)

    def test_collector_receives_otlp_and_exports_to_prometheus(self) -> None:
        """The collector's pipeline is wired from its OTLP receiver to its Prometheus exporter, its
        receivers listen on the published 4317/4318, and compose mounts the file it is told to read."""
        svc = compose()["services"]["otel-collector"]
        assert svc["image"].startswith("otel/opentelemetry-collector-contrib:")
        config_arg = next(a for a in svc["command"] if a.startswith("--config="))
        mounted = bind_mounts(svc)[config_arg.split("=", 1)[1]]
        assert mounted == str(LOCAL / "otel-collector" / "config.yaml")
        config = load_yaml(Path(mounted))
        pipeline = config["service"]["pipelines"]["metrics"]
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline[kind]) <= set(config[kind]), kind
        assert pipeline["receivers"] == ["otlp"] and pipeline["exporters"] == ["prometheus"]
        protocols = config["receivers"]["otlp"]["protocols"]
        assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
        assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
        assert {"127.0.0.1:4317:4317", "127.0.0.1:4318:4318"} <= set(svc["ports"])
        assert config["exporters"]["prometheus"]["resource_to_telemetry_conversion"]["enabled"] is True

    def test_grafana_provisions_the_prometheus_datasource_by_uid(self) -> None:
        """Grafana's datasource has uid "prometheus" and points at the stack's Prometheus service."""
        svc = compose()["services"]["grafana"]
        provisioning = Path(bind_mounts(svc)["/etc/grafana/provisioning"])
        assert provisioning == LOCAL / "grafana" / "provisioning"
        (ds,) = load_yaml(provisioning / "datasources" / "prometheus.yaml")["datasources"]
        assert ds["uid"] == "prometheus" and ds["type"] == "prometheus"
        assert ds["url"] == "http://prometheus:9090"
        assert "127.0.0.1:9090:9090" in compose()["services"]["prometheus"]["ports"]

    def test_grafana_provisions_the_repository_dashboards(self) -> None:
        """The dashboards provider reads the directory compose mounts read-only from the repo's dashboards/."""
        svc = compose()["services"]["grafana"]
        (provider,) = load_yaml(LOCAL / "grafana" / "provisioning" / "dashboards" / "loadlens.yaml")[
            "providers"
        ]
        path = provider["options"]["path"]
        assert bind_mounts(svc)[path] == str(REPO / "dashboards")
        assert f"../../dashboards:{path}:ro" in svc["volumes"]

    def test_grafana_provisions_cloudwatch_with_the_hosts_credentials(self) -> None:
        """The CloudWatch datasource uses the SDK's default chain, fed by the AWS variables compose passes
        through from the shell (empty when unset, so `up` works without AWS)."""
        env = compose()["services"]["grafana"]["environment"]
        (ds,) = load_yaml(LOCAL / "grafana" / "provisioning" / "datasources" / "cloudwatch.yaml")[
            "datasources"
        ]
        assert ds["type"] == "cloudwatch" and ds["jsonData"]["authType"] == "default"
        assert ds["jsonData"]["defaultRegion"] == "$AWS_REGION" and "AWS_REGION" in env
        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            assert env[var] == f"${{{var}:-}}"

    def test_dashboards_load_under_file_provisioning(self) -> None:
        """The dashboards docs/deploy.md links to exist, none needs an import-time input (file
        provisioning cannot fill `__inputs`), every datasource uid a panel names is provisioned (or is
        a variable), and every datasource type a variable asks for is provisioned."""
        provisioned = [
            ds
            for path in sorted((LOCAL / "grafana" / "provisioning" / "datasources").glob("*.yaml"))
            for ds in load_yaml(path)["datasources"]
        ]
        uids = {ds["uid"] for ds in provisioned} | {"-- Grafana --", "grafana"}
        types = {ds["type"] for ds in provisioned}
        dashboards = {}
        for path in sorted((REPO / "dashboards").glob("*.json")):
            doc = load_json(path)
            dashboards[doc.get("uid")] = (path, doc)
        assert set(DASHBOARD_UIDS) <= set(dashboards), sorted(k for k in dashboards if k)
        for path, doc in dashboards.values():
            assert "__inputs" not in doc, path.name
            text = json.dumps(doc)
            assert "${DS_" not in text, path.name
            used = set(re.findall(r'"datasource": \{[^{}]*"uid": "([^"]+)"', text))
            assert {u for u in used if not u.startswith("$")} <= uids, (path.name, used - uids)
            wanted = {
                v["query"] for v in doc.get("templating", {}).get("list", []) if v["type"] == "datasource"
            }
            assert wanted <= types, (path.name, wanted - types)


# ---------------------------------------------------------------------------------------------
# Kubernetes


def pod_docs(rendered: list[dict[str, Any]]) -> list[dict[str, Any]]:
    reader = load_yaml(K8S / "tools" / "results-reader.yaml")
    return [d for d in rendered if d["kind"] in ("Job", "Deployment")] + [reader]


class TestKubernetesManifests:
    def test_kustomization_renders_every_kind_the_run_needs(self, rendered: list[dict[str, Any]]) -> None:
        """`kubectl kustomize` renders the namespace, config, results volume, master Service, Job and workers."""
        kinds = sorted(d["kind"] for d in rendered)
        assert kinds == ["ConfigMap", "Deployment", "Job", "Namespace", "PersistentVolumeClaim", "Service"]
        assert all(d["metadata"].get("namespace") == "loadlens" for d in rendered if d["kind"] != "Namespace")

    @pytest.mark.parametrize("version", K8S_VERSIONS)
    def test_rendered_manifests_validate_against_the_schemas(
        self, rendered: list[dict[str, Any]], version: str
    ) -> None:
        """Every rendered resource validates strictly (no unknown fields) against Kubernetes's OpenAPI schema."""
        import kubernetes_validate

        for doc in rendered:
            kubernetes_validate.validate(doc, version, strict=True)

    @pytest.mark.parametrize("version", K8S_VERSIONS)
    def test_results_reader_pod_validates(self, version: str) -> None:
        """tools/results-reader.yaml, applied on its own, validates strictly too."""
        import kubernetes_validate

        kubernetes_validate.validate(load_yaml(K8S / "tools" / "results-reader.yaml"), version, strict=True)

    def test_kubernetes_validate_rejects_an_unknown_field(self, rendered: list[dict[str, Any]]) -> None:
        """The validation has teeth: a misspelt field in the Job is rejected."""
        import kubernetes_validate

        job = json.loads(json.dumps(by_kind(rendered, "Job", "loadlens-master")))
        job["spec"]["backofLimit"] = 0
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(job, K8S_VERSIONS[-1], strict=True)

    def test_pods_meet_the_restricted_pod_security_standard(self, rendered: list[dict[str, Any]]) -> None:
        """Every pod runs as non-root without privilege escalation or capabilities, with RuntimeDefault
        seccomp (the namespace enforces "restricted"), and sets CPU and memory requests and limits."""
        ns = by_kind(rendered, "Namespace", "loadlens")
        assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        for doc in pod_docs(rendered):
            spec = pod_spec(doc)
            pod_sc = spec["securityContext"]
            assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] != 0
            assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault"
            for c in spec["containers"]:
                sc = c["securityContext"]
                assert sc["allowPrivilegeEscalation"] is False
                assert sc["capabilities"]["drop"] == ["ALL"]
                assert "privileged" not in sc
                for kind in ("requests", "limits"):
                    assert {"cpu", "memory"} <= set(c["resources"][kind]), (doc["metadata"]["name"], kind)

    def test_master_is_a_job_whose_exit_code_is_the_verdict(self, master_job: dict[str, Any]) -> None:
        """The master is a Job that never retries (backoffLimit 0, restartPolicy Never) and runs headless."""
        assert master_job["spec"]["backoffLimit"] == 0
        assert pod_spec(master_job)["restartPolicy"] == "Never"
        args = container(master_job)["args"]
        assert args[:2] == ["run", "--master"] and "--headless" in args

    def test_service_selects_the_master_and_not_the_workers(
        self, rendered: list[dict[str, Any]], master_job: dict[str, Any], worker_deployment: dict[str, Any]
    ) -> None:
        """The master Service's selector matches the master's pod labels only."""
        selector = by_kind(rendered, "Service", "loadlens-master")["spec"]["selector"]
        master_labels = master_job["spec"]["template"]["metadata"]["labels"]
        worker_labels = worker_deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= master_labels.items()
        assert not selector.items() <= worker_labels.items()
        assert worker_deployment["spec"]["selector"]["matchLabels"].items() <= worker_labels.items()

    def test_ports_agree_between_commands_containers_and_service(
        self, rendered: list[dict[str, Any]], master_job: dict[str, Any], worker_deployment: dict[str, Any]
    ) -> None:
        """Workers dial the Service's locust port, which reaches the master's --master-bind-port; the
        metrics port reaches --prometheus-port, bound beyond loopback; --expect-workers is the replicas."""
        service = by_kind(rendered, "Service", "loadlens-master")
        master, worker = container(master_job), container(worker_deployment)
        named = {p["name"]: p["containerPort"] for p in master["ports"]}
        service_ports = {p["name"]: p for p in service["spec"]["ports"]}
        margs, wargs = master["args"], worker["args"]
        assert int(flag_value(margs, "--master-bind-port")) == named["locust"]
        assert int(flag_value(margs, "--prometheus-port")) == named["metrics"]
        assert flag_value(margs, "--prometheus-bind") == "0.0.0.0"
        assert named["web"] == 8089
        for name in ("locust", "metrics", "web"):
            assert service_ports[name]["targetPort"] == name
        assert flag_value(wargs, "--master-host") == service["metadata"]["name"]
        assert int(flag_value(wargs, "--master-port")) == service_ports["locust"]["port"]
        assert wargs[:2] == ["run", "--worker"]
        assert int(flag_value(margs, "--expect-workers")) == worker_deployment["spec"]["replicas"]

    def test_config_and_results_volumes_back_the_paths_the_commands_use(
        self, rendered: list[dict[str, Any]], master_job: dict[str, Any], worker_deployment: dict[str, Any]
    ) -> None:
        """-f and --loadlens-config name files of the mounted ConfigMap; --out is on the results PVC."""
        for doc in (master_job, worker_deployment):
            files = config_map_files(rendered, doc)
            args = container(doc)["args"]
            paths = [flag_value(args, "-f")]
            if "--loadlens-config" in args:
                paths.append(flag_value(args, "--loadlens-config"))
            for path in paths:
                mount, name = path.rsplit("/", 1)
                assert name in files[mount], path
        volumes = {v["name"]: v for v in pod_spec(master_job)["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container(master_job)["volumeMounts"]}
        out = flag_value(container(master_job)["args"], "--out")
        claim = volumes[mounts[out]]["persistentVolumeClaim"]["claimName"]
        by_kind(rendered, "PersistentVolumeClaim", claim)
        reader = load_yaml(K8S / "tools" / "results-reader.yaml")
        assert reader["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == claim

    def test_configmap_holds_a_valid_locustfile_and_loadlens_toml(
        self, rendered: list[dict[str, Any]], master_job: dict[str, Any], tmp_path: Path
    ) -> None:
        """The ConfigMap's locustfile compiles and its loadlens.toml passes loadlens's own validation."""
        from runner.config.load import load_config

        (files,) = config_map_files(rendered, master_job).values()
        compile(files["locustfile.py"], "locustfile.py", "exec")
        toml = tmp_path / "loadlens.toml"
        toml.write_text(files["loadlens.toml"])
        cfg = load_config(toml, env={})
        assert cfg.run.host

    def test_one_image_for_master_workers_and_reader(
        self, rendered: list[dict[str, Any]], master_job: dict[str, Any], worker_deployment: dict[str, Any]
    ) -> None:
        """The kustomization's image reaches master and workers, and the results reader names the same one."""
        kustomization = load_yaml(K8S / "kustomization.yaml")
        (image,) = kustomization["images"]
        want = f"{image['newName']}:{image['newTag']}"
        assert container(master_job)["image"] == want
        assert container(worker_deployment)["image"] == want
        reader = load_yaml(K8S / "tools" / "results-reader.yaml")
        assert reader["spec"]["containers"][0]["image"] == want

    def test_kustomization_lists_files_that_exist(self) -> None:
        """Every resource and ConfigMap file the kustomization names exists."""
        kustomization = load_yaml(K8S / "kustomization.yaml")
        names = list(kustomization["resources"])
        names += [f for gen in kustomization["configMapGenerator"] for f in gen["files"]]
        for name in names:
            assert (K8S / name).is_file(), name

    def test_prometheus_keeps_scraping_after_the_run_ends(
        self, rendered: list[dict[str, Any]], master_job: dict[str, Any], tmp_path: Path
    ) -> None:
        """The master's /metrics lingers for at least two scrape intervals, so the final totals are stored."""
        from runner.config.load import load_config
        from runner.config.scenarios import parse_duration_s

        (files,) = config_map_files(rendered, master_job).values()
        toml = tmp_path / "loadlens.toml"
        toml.write_text(files["loadlens.toml"])
        linger_s = load_config(toml, env={}).exporters.prometheus.linger_s
        sm = load_yaml(K8S / "prometheus" / "servicemonitor.yaml")
        intervals = [parse_duration_s(e["interval"]) for e in sm["spec"]["endpoints"]]
        (job,) = load_yaml(K8S / "prometheus" / "scrape-config.yml")["scrape_configs"]
        intervals.append(parse_duration_s(job["scrape_interval"]))
        assert all(2 * i <= linger_s for i in intervals), (intervals, linger_s)


class TestKubernetesPrometheus:
    """The ServiceMonitor is a CRD kind: kubernetes-validate bundles no schema for it, and the CRD's own
    schema is not available offline, so it is checked structurally against what it must select."""

    def test_servicemonitor_shape(self) -> None:
        """The ServiceMonitor has the operator's apiVersion and kind, a namespace, a selector and endpoints."""
        sm = load_yaml(K8S / "prometheus" / "servicemonitor.yaml")
        assert sm["apiVersion"] == "monitoring.coreos.com/v1" and sm["kind"] == "ServiceMonitor"
        assert set(sm) == {"apiVersion", "kind", "metadata", "spec"}
        assert set(sm["spec"]) <= {"namespaceSelector", "selector", "endpoints", "jobLabel", "targetLabels"}
        for endpoint in sm["spec"]["endpoints"]:
            assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "honorLabels", "scheme"}
            assert re.fullmatch(r"\d+[smh]", endpoint["interval"])

    def test_servicemonitor_selects_the_master_services_metrics_port(
        self, rendered: list[dict[str, Any]]
    ) -> None:
        """Its namespace and label selector pick the master Service, and its endpoint names that Service's metrics port."""
        sm = load_yaml(K8S / "prometheus" / "servicemonitor.yaml")
        service = by_kind(rendered, "Service", "loadlens-master")
        assert service["metadata"]["namespace"] in sm["spec"]["namespaceSelector"]["matchNames"]
        assert sm["metadata"]["namespace"] == service["metadata"]["namespace"]
        assert sm["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        port_names = {p["name"] for p in service["spec"]["ports"]}
        assert [e["port"] for e in sm["spec"]["endpoints"]] == ["metrics"]
        assert "metrics" in port_names
        assert sm["spec"]["endpoints"][0]["path"] == "/metrics"

    def test_plain_scrape_config_targets_the_master_service(self, rendered: list[dict[str, Any]]) -> None:
        """The plain scrape job's static target is the master Service's in-cluster name and metrics port."""
        service = by_kind(rendered, "Service", "loadlens-master")
        metrics_port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "metrics")
        (job,) = load_yaml(K8S / "prometheus" / "scrape-config.yml")["scrape_configs"]
        want = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc:{metrics_port}"
        assert job["static_configs"][0]["targets"] == [want]
        assert job["honor_labels"] is True


class TestKubernetesCommandsRunForReal:
    def test_master_and_two_workers_export_the_summarys_totals(
        self,
        tmp_path: Path,
        target: str,
        rendered: list[dict[str, Any]],
        master_job: dict[str, Any],
        worker_deployment: dict[str, Any],
    ) -> None:
        """The manifests' master and worker commands, run on 127.0.0.1 with the ConfigMap's files, end
        with the verdict's exit code, and a real Prometheus scraping the master holds the summary's
        whole-run total."""
        # The ConfigMap's files and the volumes, as the pods see them, under tmp_path.
        paths: dict[str, str] = {}
        for doc in (master_job, worker_deployment):
            for mount, files in config_map_files(rendered, doc).items():
                local = tmp_path / mount.strip("/")
                local.mkdir(parents=True, exist_ok=True)
                for name, content in files.items():
                    (local / name).write_text(content)
                paths[mount] = str(local)
        out = tmp_path / "results"
        margs = list(container(master_job)["args"])
        wargs = list(container(worker_deployment)["args"])
        paths[flag_value(margs, "--out")] = str(out)

        def localise(args: list[str]) -> list[str]:
            return [
                next(
                    (local + a[len(m) :] for m, local in paths.items() if a == m or a.startswith(m + "/")), a
                )
                for a in args
            ]

        metrics_port, master_port = free_port(), free_port()
        margs = replace_value(localise(margs), "--prometheus-port", str(metrics_port))
        margs = replace_value(margs, "--prometheus-bind", "127.0.0.1")
        margs = replace_value(margs, "--master-bind-port", str(master_port))
        margs += ["--master-bind-host", "127.0.0.1", "-H", target, "-u", "6", "-r", "20", "-t", "5s"]
        wargs = replace_value(localise(wargs), "--master-host", "127.0.0.1")
        wargs = replace_value(wargs, "--master-port", str(master_port))
        replicas = worker_deployment["spec"]["replicas"]
        assert replicas == 2

        # Only for speed: the ConfigMap's 30 s linger, sized for a 10 s scrape interval, is shortened
        # here where Prometheus scrapes every second.
        env = child_env({"LOADLENS_EXPORTERS_PROMETHEUS_LINGER": "4s"})
        with prometheus(tmp_path, [f"127.0.0.1:{metrics_port}"], interval_s=1.0) as prom:
            master = subprocess.Popen(
                loadlens_cmd(*margs),
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            workers = [
                subprocess.Popen(
                    loadlens_cmd(*wargs), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(replicas)
            ]  # fmt: skip
            try:
                _, err = master.communicate(timeout=120)
                # A verdict was reached (the shared demo service fails ~0.3% of job creations, which
                # a few dozen requests can turn into a failed error-rate criterion: exit 1).
                assert master.returncode in (0, 1), err[-3000:]
                for w in workers:
                    _, werr = w.communicate(timeout=30)
                    assert w.returncode == 0, werr[-2000:]
            finally:
                for p in (master, *workers):
                    if p.poll() is None:
                        p.kill()
                        p.wait()
            doc = summary(only_run_dir(out))
            assert doc["exit_code"] == master.returncode
            total = doc["client"]["whole_run"]["total"]["requests"]
            endpoints = {f"{e['method']} {e['name']}" for e in doc["client"]["whole_run"]["endpoints"]}
            assert endpoints == {"GET /health", "POST /api/v1/jobs", "GET /api/v1/jobs"}
            assert total > 0
            query = f'sum(last_over_time(loadlens_requests_total{{run_id="{doc["run_id"]}"}}[5m]))'
            _wait_for_value(prom, query, total)


def _promql(base: str, query: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as r:
        return list(json.load(r)["data"]["result"])


def _wait_for_value(base: str, query: str, want: float, *, timeout_s: float = 20.0) -> None:
    """Poll an instant query until its single value is ``want`` (a scrape may still be due), or fail."""
    got: list[dict[str, Any]] = []

    def holds() -> bool:
        got[:] = _promql(base, query)
        return len(got) == 1 and float(got[0]["value"][1]) == want

    wait_until(holds, timeout_s, what=lambda: f"{query}: wanted {want}, got {got}")


# ---------------------------------------------------------------------------------------------
# ECS


def task_definition(name: str) -> dict[str, Any]:
    return dict(json.loads(substitute((ECS / name).read_text(), ECS_PLACEHOLDERS)))


TASK_DEFINITIONS = ("master-task-definition.json", "worker-task-definition.json")


class TestEcsTaskDefinitions:
    @pytest.mark.parametrize("name", TASK_DEFINITIONS)
    def test_only_documented_placeholders(self, name: str) -> None:
        """The files hold only the ${...} placeholders docs/deploy.md tells envsubst to fill."""
        used = placeholders((ECS / name).read_text())
        assert used <= set(ECS_PLACEHOLDERS)
        docs = (REPO / "docs" / "deploy.md").read_text()
        for var in used:
            assert f"export {var}=" in docs or f"{var}=" in docs, var

    @pytest.mark.parametrize("name", TASK_DEFINITIONS)
    def test_valid_register_task_definition_input(self, name: str) -> None:
        """botocore's ParamValidator accepts the file as RegisterTaskDefinition input (offline, ECS's
        service model): `aws ecs register-task-definition --cli-input-json` takes the same shape."""
        import botocore.session
        from botocore.validate import ParamValidator

        model = botocore.session.get_session().get_service_model("ecs")
        shape = model.operation_model("RegisterTaskDefinition").input_shape
        report = ParamValidator().validate(task_definition(name), shape)
        assert not report.has_errors(), report.generate_report()

    def test_validator_has_teeth(self) -> None:
        """A misspelt key in a task definition is reported by the same validation."""
        import botocore.session
        from botocore.validate import ParamValidator

        shape = (
            botocore.session.get_session()
            .get_service_model("ecs")
            .operation_model("RegisterTaskDefinition")
            .input_shape
        )
        td = task_definition(TASK_DEFINITIONS[0])
        td["containerDefinitions"][0]["portMapping"] = []
        assert ParamValidator().validate(td, shape).has_errors()

    @pytest.mark.parametrize(
        ("name", "family"),
        [(TASK_DEFINITIONS[0], "loadlens-master"), (TASK_DEFINITIONS[1], "loadlens-worker")],
    )
    def test_fargate_awsvpc_with_awslogs(self, name: str, family: str) -> None:
        """Each is a Fargate/awsvpc family with a valid Fargate size and awslogs logging."""
        td = task_definition(name)
        assert td["family"] == family
        assert td["requiresCompatibilities"] == ["FARGATE"] and td["networkMode"] == "awsvpc"
        cpu, memory = int(td["cpu"]), int(td["memory"])
        fargate_memory = {256: (512, 2048), 512: (1024, 4096), 1024: (2048, 8192), 2048: (4096, 16384)}
        low, high = fargate_memory[cpu]
        assert low <= memory <= high and memory % 1024 == 0
        (c,) = td["containerDefinitions"]
        assert c["image"] == ECS_PLACEHOLDERS["LOADTEST_IMAGE"] and c["essential"] is True
        assert c["logConfiguration"]["logDriver"] == "awslogs"
        assert {"awslogs-group", "awslogs-region", "awslogs-stream-prefix"} <= set(
            c["logConfiguration"]["options"]
        )
        assert c.get("stopTimeout", 30) <= 120  # Fargate's maximum
        assert td["executionRoleArn"].endswith(":role/loadlens-execution")

    def test_master_has_the_task_role_and_the_ports(self) -> None:
        """The master carries the CloudWatch task role and maps 5557, 9646 and 8089, matching its command."""
        td = task_definition(TASK_DEFINITIONS[0])
        assert td["taskRoleArn"] == "arn:aws:iam::123456789012:role/loadlens-task"
        (c,) = td["containerDefinitions"]
        ports = {p["name"]: p["containerPort"] for p in c["portMappings"]}
        assert ports == {"locust": 5557, "metrics": 9646, "web": 8089}
        cmd = c["command"]
        assert cmd[:2] == ["run", "--master"] and "--headless" in cmd
        assert int(flag_value(cmd, "--master-bind-port")) == ports["locust"]
        assert int(flag_value(cmd, "--prometheus-port")) == ports["metrics"]
        assert flag_value(cmd, "--prometheus-bind") == "0.0.0.0"
        assert "--correlate-cloudwatch" in cmd

    def test_workers_need_no_task_role_and_dial_the_cloud_map_name(self) -> None:
        """Workers call no AWS API (least privilege: no task role) and reach the master by the Cloud Map
        name docs/deploy.md registers, on the master's Locust port."""
        td = task_definition(TASK_DEFINITIONS[1])
        assert "taskRoleArn" not in td
        (c,) = td["containerDefinitions"]
        cmd = c["command"]
        assert cmd[:2] == ["run", "--worker"] and "portMappings" not in c
        master_cmd = task_definition(TASK_DEFINITIONS[0])["containerDefinitions"][0]["command"]
        assert flag_value(cmd, "--master-port") == flag_value(master_cmd, "--master-bind-port")
        host = flag_value(cmd, "--master-host")
        service, namespace = host.split(".", 1)
        docs = (REPO / "docs" / "deploy.md").read_text()
        assert f"create-private-dns-namespace --name {namespace}" in docs
        assert f"create-service --name {service}" in docs
        assert int(flag_value(master_cmd, "--expect-workers")) == 2
        assert "--count 2" in docs

    @pytest.mark.parametrize("name", ["task-role-trust-policy.json", "execution-role-trust-policy.json"])
    def test_trust_policies_let_ecs_tasks_assume_the_roles(self, name: str) -> None:
        """Both roles trust ecs-tasks.amazonaws.com with sts:AssumeRole, and nothing else."""
        policy = json.loads(substitute((ECS / name).read_text(), ECS_PLACEHOLDERS))
        assert policy["Version"] == "2012-10-17"
        (statement,) = policy["Statement"]
        assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
        assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}

    def test_docs_attach_the_iam_policy_to_the_task_role(self) -> None:
        """docs/deploy.md creates the task role with its trust policy and attaches deploy/iam/loadlens-policy.json,
        which exists and allows the CloudWatch read the master's --correlate-cloudwatch needs."""
        docs = (REPO / "docs" / "deploy.md").read_text()
        assert (
            "aws iam create-role --role-name loadlens-task "
            "--assume-role-policy-document file://trust.json" in docs
        )
        assert "deploy/ecs/task-role-trust-policy.json" in docs
        assert (
            "--role-name loadlens-task --policy-name loadlens --policy-document file://deploy/iam/loadlens-policy.json"
            in docs
        )
        policy = load_json(IAM_POLICY)
        actions = {
            a
            for s in policy["Statement"]
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        }
        assert "cloudwatch:GetMetricData" in actions


# ---------------------------------------------------------------------------------------------
# CI


WORKFLOW_FILES = ("loadlens-pr.yml", "loadlens-nightly-soak.yml")


def gate_script(job: dict[str, Any]) -> str:
    return str(step(job, name="Gate on the verdict")["run"])


def bash(script: str, *, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """A `run:` step as GitHub Actions runs it: `bash --noprofile --norc -eo pipefail` on the script."""
    path = cwd / "step.sh"
    path.write_text(script)
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)],
        cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


class TestWorkflows:
    @pytest.mark.parametrize("name", WORKFLOW_FILES)
    def test_actions_are_pinned_to_a_version(self, name: str) -> None:
        """Every `uses:` names an action at a version tag, not a moving branch."""
        for job in workflow(name)["jobs"].values():
            for s in job["steps"]:
                if "uses" in s:
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+(\.\d+)*", s["uses"]), s["uses"]

    @pytest.mark.parametrize("name", WORKFLOW_FILES)
    def test_results_are_kept_and_published_whatever_the_verdict(self, name: str) -> None:
        """The run directory upload, the JUnit check and the gate run even when the load test failed."""
        (job,) = workflow(name)["jobs"].values()
        uses = {s["uses"].split("@")[0]: s for s in job["steps"] if "uses" in s}
        upload, junit = uses["actions/upload-artifact"], uses["mikepenz/action-junit-report"]
        assert upload["if"] == junit["if"] == "always()"
        assert upload["with"]["path"] == "results/"
        assert junit["with"]["report_paths"] == "results/**/junit.xml"
        assert step(job, name="Gate on the verdict")["if"] == "always()"
        assert workflow(name)["permissions"]["checks"] == "write"

    def test_pr_workflow_runs_a_headless_smoke_scenario_on_pull_requests(self) -> None:
        """The pull-request gate runs on pull_request with --headless --scenario smoke into results/."""
        wf = workflow("loadlens-pr.yml")
        assert "pull_request" in wf["on"]
        (job,) = wf["jobs"].values()
        (argv,) = shell_commands(step(job, "loadtest")["run"])
        assert argv[0] == "run" and "--headless" in argv
        assert flag_value(argv, "--scenario") == "smoke" and flag_value(argv, "--out") == "results"

    def test_nightly_soak_correlates_cloudwatch_through_oidc(self) -> None:
        """The soak runs nightly on a cron, assumes its AWS role by OIDC, and requires server metrics."""
        wf = workflow("loadlens-nightly-soak.yml")
        (cron,) = [s["cron"] for s in wf["on"]["schedule"]]
        assert len(cron.split()) == 5
        assert wf["permissions"]["id-token"] == "write"
        (job,) = wf["jobs"].values()
        creds = next(
            s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
        )
        assert "role-to-assume" in creds["with"] and "aws-access-key-id" not in creds["with"]
        (argv,) = shell_commands(step(job, "loadtest")["run"])
        assert flag_value(argv, "--scenario") == "soak"
        assert {"--headless", "--correlate-cloudwatch", "--require-server-metrics"} <= set(argv)

    def test_soak_credentials_and_timeout_outlive_the_soak(self) -> None:
        """The AWS session and the job timeout outlast the soak preset plus CloudWatch's settle wait."""
        from runner.config.load import load_config

        cfg = load_config(None, env={})
        soak_s = cfg.scenarios["soak"].total_time_s()
        assert soak_s is not None
        needed_s = soak_s + cfg.cloudwatch.settle_s
        (job,) = workflow("loadlens-nightly-soak.yml")["jobs"].values()
        creds = next(
            s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
        )
        assert int(creds["with"]["role-duration-seconds"]) > needed_s
        assert job["timeout-minutes"] * 60 > needed_s

    def test_oidc_trust_policy_matches_the_soak_jobs_environment(self) -> None:
        """The role's trust policy admits GitHub's OIDC token for the environment the soak job runs in."""
        (job,) = workflow("loadlens-nightly-soak.yml")["jobs"].values()
        text = (DEPLOY / "ci" / "aws" / "github-oidc-trust-policy.json").read_text()
        policy = json.loads(
            substitute(text, {"AWS_ACCOUNT_ID": "123456789012", "GITHUB_REPOSITORY": "org/repo"})
        )
        (statement,) = policy["Statement"]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Principal"]["Federated"].endswith(
            ":oidc-provider/token.actions.githubusercontent.com"
        )
        cond = statement["Condition"]["StringEquals"]
        assert cond["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
        assert (
            cond["token.actions.githubusercontent.com:sub"]
            == f"repo:org/repo:environment:{job['environment']}"
        )

    def test_pr_load_test_step_runs_and_feeds_the_report_steps(self, tmp_path: Path, target: str) -> None:
        """The PR workflow's load-test step, run under bash against a real service, records exit 0 in
        $GITHUB_OUTPUT, appends the verdict to $GITHUB_STEP_SUMMARY, and leaves junit.xml where the
        JUnit step's glob finds it."""
        (job,) = workflow("loadlens-pr.yml")["jobs"].values()
        (tmp_path / "loadtest").mkdir()
        locustfile = (K8S / "config" / "locustfile.py").read_text()
        (tmp_path / "loadtest" / "locustfile.py").write_text(locustfile)
        # The repository's own loadlens.toml, with the smoke preset shortened for the test.
        (tmp_path / "loadtest" / "loadlens.toml").write_text(
            '[scenarios.smoke]\nusers = 3\nspawn_rate = 10\nrun_time = "3s"\n[thresholds]\np95_ms = 5000\n'
        )
        output, step_summary = tmp_path / "github_output", tmp_path / "step_summary.md"
        env = child_env(
            {
                **dict(job["env"]),
                "LOADTEST_HOST": target,
                "GITHUB_OUTPUT": str(output),
                "GITHUB_STEP_SUMMARY": str(step_summary),
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            }
        )
        proc = bash(step(job, "loadtest")["run"], cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
        assert output.read_text().splitlines() == ["exit_code=0"], proc.stdout[-2000:] + proc.stderr[-3000:]
        assert "verdict" in step_summary.read_text().lower()
        junit = step(job, name="Publish the verdict as a check")["with"]["report_paths"]
        found = list(tmp_path.glob(junit))
        assert len(found) == 1 and found[0].parent.parent == tmp_path / "results"

    @pytest.mark.parametrize("name", WORKFLOW_FILES)
    @pytest.mark.parametrize(("code", "job_exit"), [("0", 0), ("1", 1), ("2", 2), ("3", 3), ("", 1)])
    def test_gate_step_fails_the_job_on_every_code_but_0(
        self, tmp_path: Path, name: str, code: str, job_exit: int
    ) -> None:
        """The gate step passes exit 0 only; 1, 2 and 3 (and no recorded code at all) fail the job."""
        (job,) = workflow(name)["jobs"].values()
        proc = bash(gate_script(job), cwd=tmp_path, env={"CODE": code, "PATH": os.environ["PATH"]})
        assert proc.returncode == job_exit, proc.stdout + proc.stderr
        if job_exit:
            assert proc.stdout.startswith("::error ")


# ---------------------------------------------------------------------------------------------
# Every loadlens command anywhere in deploy/ and its docs uses real options


def every_loadlens_command(rendered: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for doc in [*rendered, load_yaml(K8S / "tools" / "results-reader.yaml")]:
        for c in pod_spec(doc)["containers"] if doc["kind"] in ("Job", "Deployment", "Pod") else []:
            if "args" in c:
                found.append((f"kubernetes {doc['kind']}/{doc['metadata']['name']}", list(c["args"])))
    for name in TASK_DEFINITIONS:
        for c in task_definition(name)["containerDefinitions"]:
            found.append((f"ecs {name}", list(c["command"])))
    for where, script in all_run_scripts():
        found += [(where, argv) for argv in shell_commands(script)]
    for path in (*DOCS, LOCAL / "compose.yaml"):
        text = path.read_text()
        # compose.yaml's header comment shows its commands indented by three spaces after "#".
        blocks = fenced_shell_blocks(text) if path.suffix == ".md" else [
            "\n".join(ln[4:] for ln in text.splitlines() if ln.startswith("#   "))
        ]  # fmt: skip
        for block in blocks:
            found += [(str(path.relative_to(REPO)), argv) for argv in shell_commands(block)]
    return found


class TestLoadlensCommands:
    def test_commands_are_found_everywhere(self, rendered: list[dict[str, Any]]) -> None:
        """Commands are collected from the manifests, the task definitions, the workflows and the docs."""
        wheres = {w.split(" ")[0].split(":")[0] for w, _ in every_loadlens_command(rendered)}
        assert {"kubernetes", "ecs", *WORKFLOW_FILES, "docs/deploy.md", "deploy/local/compose.yaml"} <= wheres

    def test_every_option_used_is_a_real_loadlens_or_locust_option(
        self, rendered: list[dict[str, Any]]
    ) -> None:
        """Every `loadlens run` parses with loadlens's parser and then Locust's, leaving nothing unknown;
        other subcommands use only options their --help lists."""
        commands = every_loadlens_command(rendered)
        runs = [(w, a) for w, a in commands if a and a[0] == "run"]
        results = check_run_args([a[1:] for _, a in runs])
        errors = [
            f"{w}: loadlens {shlex.join(a)}: {r['error']}"
            for (w, a), r in zip(runs, results, strict=True)
            if not r["ok"]
        ]
        assert not errors, "\n".join(errors)
        for where, argv in commands:
            if not argv or argv[0] != "run":
                assert_real_loadlens_command(argv, where)

    def test_the_check_rejects_a_made_up_option(self) -> None:
        """The option check has teeth: an unknown flag, and a flag's value that is no number, are rejected."""
        bad_flag, bad_value, good = check_run_args(
            [
                ["--headless", "--prometheus-prot", "9646"],
                ["--prometheus-port", "x"],
                ["--headless", "-u", "3"],
            ]
        )
        assert not bad_flag["ok"] and not bad_value["ok"] and good["ok"]
        assert shell_commands("pip install loadlens && kubectl -n loadlens get pods") == []
        assert shell_commands("X=1 loadlens run -u 3 || code=$?") == [["run", "-u", "3"]]


# ---------------------------------------------------------------------------------------------
# Docs


class TestDocs:
    @pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
    def test_every_repository_path_mentioned_exists(self, path: Path) -> None:
        """Every deploy/, dashboards/ or docs/ path the deployment docs mention exists in the repository."""
        text = path.read_text()
        mentioned = set(re.findall(r"(?<![\w./-])((?:deploy|dashboards|docs)/[\w./*-]*[\w*])", text))
        assert mentioned
        for rel in sorted(mentioned):
            hits = list(REPO.glob(rel)) if "*" in rel else [REPO / rel]
            assert hits and all(h.exists() for h in hits), rel

    def test_docs_cover_every_piece_with_its_commands(self) -> None:
        """docs/deploy.md gives the commands for the image, the local stack, Kubernetes, ECS and CI."""
        text = (REPO / "docs" / "deploy.md").read_text()
        for command in (
            "docker build -f deploy/docker/Dockerfile",
            "docker compose -f deploy/local/compose.yaml up -d",
            "kubectl apply -k deploy/kubernetes",
            "aws ecs register-task-definition --cli-input-json",
            "aws ecs run-task",
            "cp deploy/ci/github-actions/loadlens-pr.yml .github/workflows/",
        ):
            assert command in text, command
        readme = (DEPLOY / "README.md").read_text()
        for sub in ("docker", "local", "kubernetes", "ecs", "iam", "ci"):
            assert f"deploy/{sub}/" in readme or f"({sub}/" in readme, sub


class TestLoadlensVariables:
    def test_every_loadlens_variable_set_is_one_loadlens_accepts(self) -> None:
        """Every LOADLENS_* variable the workflows or the docs set is a known key with a valid value
        (loadlens exits 2 on an unknown LOADLENS_* name, so a stray one would break the run)."""
        from runner.config.load import load_config

        found: dict[str, str] = {}
        for name in WORKFLOW_FILES:
            wf = workflow(name)
            scopes = [wf.get("env", {})]
            for job in wf["jobs"].values():
                scopes += [job.get("env", {})] + [s.get("env", {}) for s in job["steps"]]
            for scope in scopes:
                found.update({k: str(v) for k, v in scope.items() if k.startswith("LOADLENS_")})
        for path in DOCS:
            for block in fenced_shell_blocks(path.read_text()):
                found.update(dict(re.findall(r"\b(LOADLENS_\w+)=(\S+)", block)))
        assert found, "the docs show the LOADLENS_* way of configuring the demo"
        load_config(None, env=found)


# ---------------------------------------------------------------------------------------------
# The local stack's Prometheus, for real


def documented_local_runs() -> tuple[list[str], list[str]]:
    """The two `loadlens run` commands of docs/deploy.md's local stack: scraped, and pushing."""
    runs = [
        argv
        for block in fenced_shell_blocks((REPO / "docs" / "deploy.md").read_text())
        for argv in shell_commands(block)
        if argv[:1] == ["run"] and "--otlp" in argv
    ]
    scraped = [a for a in runs if "--prometheus-port" in a]
    pushed = [a for a in runs if "--pushgateway" in a]
    assert len(scraped) == 1 and len(pushed) == 1, runs
    return scraped[0], pushed[0]


class TestLocalStackPrometheusForReal:
    def test_documented_commands_give_the_dashboards_exact_totals(self, tmp_path: Path, target: str) -> None:
        """With the local stack's own prometheus.yml (its compose host names pointed at 127.0.0.1), a
        real Pushgateway, and the two documented local commands run for real, the dashboards' query
        (the sum of a run's loadlens_requests_total series) equals each run's summary total, and the
        pushed series keep their own job label (honor_labels)."""
        scraped, pushed = documented_local_runs()
        assert "--pushgateway" not in scraped and "--prometheus-port" not in pushed  # never both
        cfg = tmp_path / "loadlens.toml"
        cfg.write_text('[thresholds]\np95_ms = 5000\n[exporters.prometheus]\nlinger = "3s"\n')
        metrics_port, closed_port, prom_port = free_port(), free_port(), free_port()
        with pushgateway(tmp_path) as gw:
            # The stack's configuration with only its addresses changed (and a 1 s interval, for speed).
            config = load_yaml(LOCAL / "prometheus" / "prometheus.yml")
            config["global"]["scrape_interval"] = "1s"
            where = {
                "host.docker.internal:9646": f"127.0.0.1:{metrics_port}",
                "pushgateway:9091": gw.removeprefix("http://"),
                "otel-collector:8889": f"127.0.0.1:{closed_port}",  # no collector here: a down target
            }
            for job in config["scrape_configs"]:
                for sc in job["static_configs"]:
                    sc["targets"] = [where[t] for t in sc["targets"]]
            (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
            (tmp_path / "prom-data").mkdir()
            prom = f"http://127.0.0.1:{prom_port}"
            args = [
                require("prometheus"),
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ]
            with process(args, ready_url=f"{prom}/-/ready", log=tmp_path / "prometheus.log"):
                for argv, out in ((scraped, tmp_path / "out-scraped"), (pushed, tmp_path / "out-pushed")):
                    argv = replace_value(argv, "-f", str(K8S / "config" / "locustfile.py"))
                    argv = replace_value(argv, "-H", target)
                    argv = replace_value(replace_value(argv, "-u", "4"), "-r", "20")
                    argv = replace_value(argv, "-t", "3s")
                    if "--prometheus-port" in argv:
                        argv = replace_value(argv, "--prometheus-port", str(metrics_port))
                        argv = replace_value(argv, "--prometheus-bind", "127.0.0.1")
                    else:
                        argv = replace_value(argv, "--pushgateway", gw)
                    argv += ["--loadlens-config", str(cfg), "--out", str(out), "--only-summary"]
                    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{closed_port}"}
                    proc = subprocess.run(
                        loadlens_cmd(*argv), cwd=tmp_path, env=child_env(env), capture_output=True, text=True,
                        timeout=120, check=False,
                    )  # fmt: skip
                    assert proc.returncode == 0, proc.stderr[-3000:]
                    doc = summary(only_run_dir(out))
                    total = doc["client"]["whole_run"]["total"]["requests"]
                    query = f'sum(last_over_time(loadlens_requests_total{{run_id="{doc["run_id"]}"}}[5m]))'
                    if "--pushgateway" in argv:
                        # Pushed at the end of the run: wait for a scrape of the Pushgateway to hold it.
                        _wait_for_value(prom, query, total)
                        jobs = _promql(
                            prom, f'count by (job) (loadlens_requests_total{{run_id="{doc["run_id"]}"}})'
                        )
                        assert [r["metric"].get("job") for r in jobs] == ["loadlens"]
                    else:
                        _wait_for_value(prom, query, total)
