"""loadlens.toml, LOADLENS_* variables and flags layered into one Config (runner.config.load)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from runner.config import keys as config_keys
from runner.config.load import Config, Limits, ServerCriteriaLimits, load_config
from runner.config.options import OPTIONS, FlagValue, flag_values, pre_parser
from runner.config.scenarios import BUILTIN, Stage
from runner.config.types import EndpointLimits
from runner.errors import ConfigError, UsageError
from runner.sources.custom import ServerMetric
from tests.support.refused import assert_one_line

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"

# Every key the file accepts, with a valid value: test_every_key_is_exercised keeps it complete.
FULL = """
[run]
locustfile = "locustfile.py"
host = "https://staging.example.com"
scenario = "checkout-peak"
out = "out/runs"
warmup = "30s"
cooldown = "15s"
max_endpoints = 300
interval = "2s"
progress = 0
lean = false

[scenarios.checkout-peak]
description = "Black Friday checkout"
users = 300
spawn_rate = 30
run_time = "15m"
tags = ["checkout"]
exclude_tags = ["admin"]
expected_statuses = [429]

[scenarios.ramp]
spawn_rate = 4
stages = [{duration = "1m", users = 10}, {duration = "90s", users = 40, spawn_rate = 8}]

[thresholds]
p50_ms = 200
p95_ms = 500
p99_ms = 1000
error_rate = 0.01
success_rate = 0.99
min_rps = 10
min_samples = 30
expected_statuses = [404, 429]
warn_ratio = 0.8
per_endpoint = false
include_expected = true
p90_ms = 400
p999_ms = 2000
avg_ms = 250
max_ms = 5000
require_statuses = [429]
abort_after = "45s"

[thresholds.endpoints."GET /health"]
p95_ms = 50
error_rate = 0
p95_vs_baseline_percent = 30

[thresholds.groups.auth]
match = "^POST /auth/"
per_endpoint = false
p99_ms = 300
abort_after = "30s"

[thresholds.endpoints."POST /jobs [create]"]
p50_ms = 100
p99_ms = 900
success_rate = 0.95
min_rps = 1.5
min_samples = 5

[server]
cpu_percent = 75
memory_percent = 85.5
rds_cpu_percent = 60
rds_connections = 180
alb_5xx = 3
alb_p95_ms = 400
alb_p99_ms = 900
unhealthy_hosts = 1
metrics = [{ name = "Redis CPU", namespace = "AWS/ElastiCache", metric = "CPUUtilization", max = 75 }]
leak_warn_percent_per_hour = 2
leak_fail_percent_per_hour = 5
leak_min_duration = "20m"
abort_cpu_percent = 95
abort_memory_percent = 97
abort_periods = 2

[cloudwatch]
region = "eu-west-1"
profile = "staging"
ecs_cluster = "video-gen-cluster"
ecs_service = "video-gen-service"
rds_instance = "video-gen-db"
rds_cluster = "video-gen-aurora"
load_balancer = "app/video-gen/123"
target_groups = ["targetgroup/video-gen/456"]
period = "1m"
settle = "3m"
preroll = 120
container_insights = true
require = true
correlate = true
log_group = "/ecs/video-gen"
error_pattern = "?ERROR ?FATAL"
max_log_errors = 3
max_log_events = 500
alarms = true
alarm_prefix = "video-gen-"
max_alarms = 0

[prometheus_source]
url = "http://127.0.0.1:9090"
queries = { cpu = "rate(process_cpu_seconds_total[1m])" }
step = "30s"

[process]
name = "gunicorn"
cpu_percent = 250
memory_percent = 50

[exporters.prometheus]
port = 9646
bind = "0.0.0.0"
linger = "1m"
max_names = 100
max_statuses = 10

[exporters.pushgateway]
url = "http://127.0.0.1:9091"
interval = "20s"
job = "checkout"
delete_on_finish = true

[exporters.otlp]
enabled = true
endpoint = "http://127.0.0.1:4318"
protocol = "grpc"
interval = "10s"
headers = { authorization = "Bearer x" }

[grafana]
url = "https://grafana.example.com"
dashboard_uid = "loadlens-run"
folder = "Load tests"

[compare]
latency_percent = 20
error_rate_points = 1
rps_percent = 15
server_percent = 25
p50_percent = 21
p95_percent = 22
p99_percent = 23
server_mean_percent = 26
server_peak_percent = 27
cpu_cost_percent = 28

[recovery]
enabled = false
recover_within = "90s"
p95_tolerance = 0.25
error_rate_tolerance = 0.02
expect_scale_out = true
"""


def write(directory: Path, text: str, name: str = "loadlens.toml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Config:
    write(tmp_path, text)
    return load_config(None, env=env or {}, cwd=tmp_path)


class TestFinding:
    def test_no_file_means_builtin_defaults(self, tmp_path: Path) -> None:
        """Without a file or variables the config equals the built-in defaults."""
        cfg = load_config(None, env={}, cwd=tmp_path)
        assert cfg == Config()
        assert cfg.source_path is None and cfg.run.out == Path("results")
        assert cfg.server.criteria.cpu_percent == 70 and cfg.thresholds.warn_ratio == 0.9

    def test_loadlens_toml_in_the_working_directory_is_found(self, tmp_path: Path) -> None:
        """loadlens.toml in cwd is read when no path is given."""
        cfg = load_text(tmp_path, '[run]\nhost = "http://a"\n')
        assert cfg.run.host == "http://a"
        assert cfg.source_path == tmp_path / "loadlens.toml"

    def test_a_relative_path_is_read_from_cwd(self, tmp_path: Path) -> None:
        """An explicit relative path is resolved against the given working directory."""
        (tmp_path / "cfg").mkdir()
        write(tmp_path / "cfg", '[run]\nhost = "http://b"\n', name="staging.toml")
        cfg = load_config(Path("cfg/staging.toml"), env={}, cwd=tmp_path)
        assert cfg.run.host == "http://b"

    def test_a_missing_explicit_file_is_an_error(self, tmp_path: Path) -> None:
        """A named file that does not exist is a ConfigError naming it."""
        with pytest.raises(ConfigError, match=r"^nope\.toml: config file not found$"):
            load_config(Path("nope.toml"), env={}, cwd=tmp_path)

    def test_loadlens_config_names_the_file(self, tmp_path: Path) -> None:
        """LOADLENS_CONFIG picks the file when no path is given, and wins over cwd/loadlens.toml."""
        write(tmp_path, '[run]\nhost = "http://cwd"\n')
        write(tmp_path, '[run]\nhost = "http://named"\n', name="other.toml")
        cfg = load_config(None, env={"LOADLENS_CONFIG": "other.toml"}, cwd=tmp_path)
        assert cfg.run.host == "http://named"

    def test_loadlens_config_naming_a_missing_file_is_an_error(self, tmp_path: Path) -> None:
        """A LOADLENS_CONFIG that names nothing is a ConfigError naming the variable."""
        with pytest.raises(ConfigError, match=r"^LOADLENS_CONFIG: config file not found: gone\.toml$"):
            load_config(None, env={"LOADLENS_CONFIG": "gone.toml"}, cwd=tmp_path)

    def test_a_directory_is_not_a_config_file(self, tmp_path: Path) -> None:
        """A path naming a directory is refused, and the message says it is a directory."""
        (tmp_path / "dir.toml").mkdir()
        with pytest.raises(ConfigError, match=r"^dir\.toml: is a directory, not a config file"):
            load_config(Path("dir.toml"), env={}, cwd=tmp_path)
        with pytest.raises(ConfigError, match=r"^LOADLENS_CONFIG: dir\.toml is a directory"):
            load_config(None, env={"LOADLENS_CONFIG": "dir.toml"}, cwd=tmp_path)


class TestFullFile:
    def test_every_key_reaches_its_field(self, tmp_path: Path) -> None:
        """Each key of a complete file lands, converted, where other modules read it."""
        cfg = load_text(tmp_path, FULL)
        assert cfg.run.host == "https://staging.example.com" and cfg.run.out == Path("out/runs")
        assert (cfg.run.warmup_s, cfg.run.cooldown_s, cfg.run.interval_s, cfg.run.progress_s) == (
            30,
            15,
            2,
            0,
        )
        assert cfg.run.max_endpoints == 300
        assert cfg.run.lean is False
        assert cfg.thresholds.default == Limits(
            200, 500, 1000, 0.01, 0.99, 10, 30, 400, 2000, 250, 5000, frozenset({429}), 45
        )
        auth = cfg.thresholds.groups["auth"]
        assert (auth.match, auth.per_endpoint, auth.p99_ms, auth.abort_after_s) == (
            "^POST /auth/",
            False,
            300,
            30,
        )
        assert cfg.thresholds.endpoints["GET /health"] == EndpointLimits(
            p95_ms=50, error_rate=0, p95_vs_baseline_percent=30
        )
        assert cfg.thresholds.endpoints["POST /jobs [create]"].min_rps == 1.5
        assert cfg.thresholds.endpoints["POST /jobs [create]"].min_samples == 5
        assert cfg.thresholds.expected_statuses == frozenset({404, 429})
        assert (cfg.thresholds.warn_ratio, cfg.thresholds.per_endpoint) == (0.8, False)
        assert cfg.thresholds.include_expected is True
        # The judged server limits: [server]'s keys, [process]'s own limits and the WARN band.
        redis = ServerMetric(name="Redis CPU", namespace="AWS/ElastiCache", metric="CPUUtilization", max=75)
        assert cfg.server.criteria == ServerCriteriaLimits(
            75, 85.5, 60, 180, 3, 250, 50, 0.8, 400, 900, 1, (redis,)
        )
        assert cfg.cloudwatch.target.metrics == (redis,)  # read by the CloudWatch source with the rest
        assert dataclasses.astuple(cfg.server)[1:] == (2, 5, 1200, 95, 97, 2)
        assert cfg.cloudwatch.region == "eu-west-1" and cfg.cloudwatch.target.target_groups == (
            "targetgroup/video-gen/456",
        )
        target = cfg.cloudwatch.target
        assert (target.period_s, cfg.cloudwatch.settle_s, target.preroll_s) == (60, 180, 120)
        assert target.container_insights is True and cfg.cloudwatch.require is True
        assert cfg.cloudwatch.correlate is True
        assert target.configured and target.ecs_resource == "ecs:video-gen-cluster/video-gen-service"
        assert cfg.prometheus_source.queries == {"cpu": "rate(process_cpu_seconds_total[1m])"}
        assert cfg.prometheus_source.step_s == 30
        assert (cfg.process.name, cfg.process.pid, cfg.process.cpu_percent) == ("gunicorn", None, 250)
        prom = cfg.exporters.prometheus
        assert (prom.port, prom.bind, prom.linger_s, prom.max_names, prom.max_statuses) == (
            9646,
            "0.0.0.0",
            60,
            100,
            10,
        )
        assert cfg.exporters.pushgateway.enabled and cfg.exporters.pushgateway.job == "checkout"
        assert cfg.exporters.pushgateway.delete_on_finish is True
        otlp = cfg.exporters.otlp
        assert (otlp.enabled, otlp.protocol, otlp.interval_s) == (True, "grpc", 10)
        assert otlp.headers == {"authorization": "Bearer x"}
        assert (cfg.grafana.url, cfg.grafana.dashboard_uid, cfg.grafana.folder) == (
            "https://grafana.example.com",
            "loadlens-run",
            "Load tests",
        )
        c = cfg.compare
        assert (c.latency_percent, c.error_rate_points, c.rps_percent, c.server_percent) == (20, 1, 15, 25)
        assert (c.p50_percent, c.p95_percent, c.p99_percent) == (21, 22, 23)
        assert (c.server_mean_percent, c.server_peak_percent, c.cpu_cost_percent) == (26, 27, 28)
        assert cfg.selected_scenario() == cfg.scenario("checkout-peak")
        cw = cfg.cloudwatch
        assert (cw.log_group, cw.error_pattern, cw.max_log_errors, cw.max_log_events) == (
            "/ecs/video-gen",
            "?ERROR ?FATAL",
            3,
            500,
        )
        assert (cw.alarms, cw.alarm_prefix, cw.max_alarms) == (True, "video-gen-", 0)
        r = cfg.recovery
        assert r.expect_scale_out is True
        assert (r.enabled, r.recover_within_s, r.p95_tolerance, r.error_rate_tolerance) == (
            False,
            90,
            0.25,
            0.02,
        )

    def test_every_key_is_exercised(self) -> None:
        """FULL above holds every key the schema accepts, so none escapes the test above."""
        section_of = {s.split(".")[-1]: s for s in config_keys.SECTIONS}
        seen: dict[str, set[str]] = {s: set() for s in config_keys.SECTIONS}
        current = ""
        for line in FULL.splitlines():
            if header := re.fullmatch(r"\[([a-z_.]+)\]", line):
                current = header[1] if header[1] in config_keys.SECTIONS else section_of.get(header[1], "")
            elif current and (key := re.match(r"([a-z_0-9]+) =", line)):
                seen[current].add(key[1])
        for section, keys in config_keys.SECTIONS.items():
            missing = set(keys) - seen[section] - ({"pid"} if section == "process" else set())
            assert not missing, f"[{section}] keys missing from FULL: {missing}"

    def test_the_config_is_frozen_all_the_way_down(self, tmp_path: Path) -> None:
        """Nobody downstream can change the config: dataclasses and mappings are read-only."""
        cfg = load_text(tmp_path, FULL)
        with pytest.raises(dataclasses.FrozenInstanceError):
            cfg.run.host = "x"  # type: ignore[misc]
        with pytest.raises(TypeError):
            cfg.thresholds.endpoints["GET /x"] = Limits()  # type: ignore[index]
        with pytest.raises(TypeError):
            cfg.scenarios["x"] = BUILTIN["load"]  # type: ignore[index]
        with pytest.raises(TypeError):
            cfg.exporters.otlp.headers["a"] = "b"  # type: ignore[index]

    def test_the_architecture_example_loads(self, tmp_path: Path) -> None:
        """The contract example from the design (a subset of keys) loads with defaults for the rest."""
        cfg = load_text(
            tmp_path,
            '[run]\nscenario = "load"\n[thresholds]\np95_ms = 500\n'
            '[cloudwatch]\nregion = "us-east-1"\necs_cluster = "c"\necs_service = "s"\n',
        )
        assert cfg.thresholds.default.p95_ms == 500 and cfg.thresholds.default.p99_ms is None
        assert cfg.thresholds.per_endpoint is True and cfg.cloudwatch.target.period_s == 60
        assert not cfg.exporters.prometheus.enabled and not cfg.exporters.otlp.enabled
        assert cfg.selected_scenario() == BUILTIN["load"]


# (file text, start of the message after "loadlens.toml: ", a fragment the message must contain)
BAD_FILES = [
    ("[run]\nhost = 5\n", "run.host: ", "expected a non-empty string, got 5"),
    ('[run]\nhost = "  "\n', "run.host: ", "non-empty string"),
    ('[thresholds]\np95_ms = "fast"\n', "thresholds.p95_ms: ", 'expected a number > 0, got "fast"'),
    (
        '[thresholds.endpoints."GET /health"]\np95_ms = "fast"\n',
        'thresholds.endpoints."GET /health".p95_ms: ',
        'expected a number > 0, got "fast"',
    ),
    ("[thresholds]\np95_ms = 0\n", "thresholds.p95_ms: ", "got 0"),
    ("[thresholds]\np99_ms = true\n", "thresholds.p99_ms: ", "expected a number > 0, got true"),
    ("[thresholds]\nerror_rate = 1.5\n", "thresholds.error_rate: ", "a number from 0 to 1, got 1.5"),
    ("[thresholds]\nmin_rps = nan\n", "thresholds.min_rps: ", "got nan"),
    ("[thresholds]\nmin_samples = 0\n", "thresholds.min_samples: ", "an integer >= 1, got 0"),
    ("[thresholds]\nmin_samples = 2.5\n", "thresholds.min_samples: ", "an integer >= 1, got 2.5"),
    ("[thresholds]\nwarn_ratio = 0\n", "thresholds.warn_ratio: ", "a number > 0 and <= 1"),
    ("[thresholds]\np95 = 500\n", "thresholds.p95: ", 'unknown key (did you mean "p95_ms"?)'),
    ("[threshold]\np95_ms = 500\n", "threshold: ", 'unknown section (did you mean "thresholds"?)'),
    (
        '[thresholds.endpoints."get /health"]\np95_ms = 1\n',
        'thresholds.endpoints."get /health": ',
        '"METHOD name"',
    ),
    (
        '[thresholds.endpoints."/health"]\np95_ms = 1\n',
        'thresholds.endpoints."/health": ',
        "METHOD in upper case",
    ),
    (
        '[thresholds.endpoints."GET /x"]\nexpected_statuses = [200]\n',
        'thresholds.endpoints."GET /x".expected_statuses: ',
        "unknown key",
    ),
    (
        "[thresholds]\nexpected_statuses = [200, 700]\n",
        "thresholds.expected_statuses[1]: ",
        "an HTTP status code from 100 to 599, got 700",
    ),
    ("[thresholds]\nper_endpoint = 1\n", "thresholds.per_endpoint: ", "expected true or false, got 1"),
    ("[server]\ncpu_percent = 150\n", "server.cpu_percent: ", "a number > 0 and <= 100, got 150"),
    ("[server]\ndisk_percent = 90\n", "server.disk_percent: ", "unknown key"),
    (
        "[server]\nleak_warn_percent_per_hour = 5\nleak_fail_percent_per_hour = 2\n",
        "server.leak_",
        "must be below leak_fail_percent_per_hour",
    ),
    (
        '[run]\nwarmup = "5 minutes"\n',
        "run.warmup: ",
        'expected a duration such as 30, 30s, 5m, 1h30m or 1h2m3s, got "5 minutes"',
    ),
    ('[run]\ninterval = "0s"\n', "run.interval: ", "a duration > 0"),
    ("[run]\nmax_endpoints = 1.5\n", "run.max_endpoints: ", "expected an integer >= 1, got 1.5"),
    ('[run]\nscenario = "lod"\n', "run.scenario: ", 'unknown scenario "lod" (did you mean "load"?'),
    ("run = 5\n", "run: ", "expected a table, got 5"),
    ("[exporters.prometheus]\nport = 70000\n", "exporters.prometheus.port: ", "an integer from 1 to 65535"),
    ('[exporters.prometheus]\nport = "9100"\n', "exporters.prometheus.port: ", 'got "9100"'),
    (
        '[exporters.otlp]\nprotocol = "http/json"\n',
        "exporters.otlp.protocol: ",
        'one of "http/protobuf", "grpc"',
    ),
    (
        "[exporters.otlp]\nheaders = { a = 1 }\n",
        "exporters.otlp.headers.a: ",
        "expected a header value, got 1",
    ),
    (
        '[exporters.pushgateway]\nurl = "localhost:9091"\n',
        "exporters.pushgateway.url: ",
        "an http:// or https:// URL",
    ),
    ('[exporters.kafka]\nurl = "x"\n', "exporters.kafka: ", "unknown section"),
    ('[cloudwatch]\ntarget_groups = "tg-1"\n', "cloudwatch.target_groups: ", 'a list of strings, got "tg-1"'),
    ('[cloudwatch]\nrequire = "yes"\n', "cloudwatch.require: ", 'expected true or false, got "yes"'),
    ('[cloudwatch]\nperiod = "90s"\n', "cloudwatch.period: ", "a multiple of 60s"),
    ("[cloudwatch]\nperiod = 0\n", "cloudwatch.period: ", "got 0"),
    ('[cloudwatch]\nregoin = "x"\n', "cloudwatch.regoin: ", 'did you mean "region"?'),
    ('[process]\npid = 10\nname = "gunicorn"\n', "process.", "give process pid or name, not both"),
    (
        "[prometheus_source]\nqueries = { cpu = 5 }\n",
        "prometheus_source.queries.cpu: ",
        "a PromQL query, got 5",
    ),
    ("[scenarios.load]\nusers = 0\n", "scenarios.load.users: ", "an integer >= 1, got 0"),
    ('[scenarios.x]\nrun_time = "0s"\n', "scenarios.x.run_time: ", "a duration > 0"),
    ('[scenarios."my test"]\nusers = 1\n', 'scenarios."my test": ', "letters, digits"),
    ("[scenarios.x]\nramp = 1\n", "scenarios.x.ramp: ", "unknown key"),
    ("[scenarios.x]\nstages = []\n", "scenarios.x.stages: ", "a non-empty list of tables"),
    (
        '[scenarios.x]\nstages = [{duration = "1m", users = 10}]\n',
        "scenarios.x.stages[0]: ",
        "missing spawn_rate",
    ),
    (
        '[scenarios.x]\nstages = [{duration = "1m", users = 1, spawn_rate = 1}, {users = 2, ramp = 1}]\n',
        "scenarios.x.stages[1].ramp: ",
        "unknown key",
    ),
    (
        '[scenarios.x]\nstages = [{duration = "1m", users = 0, spawn_rate = 1}]\n',
        "scenarios.x.stages: ",
        "users >= 1",
    ),
    (
        '[scenarios.x]\nusers = 5\nstages = [{duration = "1m", users = 1, spawn_rate = 1}]\n',
        "scenarios.x: ",
        "either stages or users/run_time",
    ),
    ("scenarios = 3\n", "scenarios: ", "a table of scenarios"),
]


class TestBadFiles:
    @pytest.mark.parametrize(("text", "key", "fragment"), BAD_FILES)
    def test_a_bad_file_names_file_key_and_problem(
        self, tmp_path: Path, text: str, key: str, fragment: str
    ) -> None:
        """Each bad configuration is one ConfigError line: the file, the dotted key, what is wrong."""
        with pytest.raises(ConfigError) as caught:
            load_text(tmp_path, text)
        assert_one_line(str(caught.value), fragment, start="loadlens.toml: " + key)

    def test_the_exact_message_of_the_documented_example(self, tmp_path: Path) -> None:
        """The example message from the brief is produced word for word."""
        with pytest.raises(ConfigError) as caught:
            load_text(tmp_path, '[thresholds.endpoints."GET /health"]\np95_ms = "fast"\n')
        assert str(caught.value) == (
            'loadlens.toml: thresholds.endpoints."GET /health".p95_ms: expected a number > 0, got "fast"'
        )

    def test_a_toml_syntax_error_names_file_and_line(self, tmp_path: Path) -> None:
        """Broken TOML is reported with the file name and the line it broke on."""
        with pytest.raises(ConfigError, match=r"^loadlens\.toml: line 3, column \d+: invalid TOML: "):
            load_text(tmp_path, '[run]\nhost = "http://a"\nscenario = \n')

    def test_an_explicit_file_is_named_as_given(self, tmp_path: Path) -> None:
        """Errors in an explicitly named file carry the name the user typed."""
        write(tmp_path, "[run]\nmax_endpoints = 0\n", name="ci.toml")
        with pytest.raises(ConfigError, match=r"^ci\.toml: run\.max_endpoints: "):
            load_config(Path("ci.toml"), env={}, cwd=tmp_path)

    def test_a_file_that_is_not_utf8_is_refused(self, tmp_path: Path) -> None:
        """Bytes that are not UTF-8 give a ConfigError, not a UnicodeDecodeError."""
        (tmp_path / "loadlens.toml").write_bytes(b'[run]\nhost = "\xff"\n')
        with pytest.raises(ConfigError, match=r"^loadlens\.toml: not UTF-8"):
            load_config(None, env={}, cwd=tmp_path)


# (variables, start of the message, a fragment it must contain)
BAD_ENV = [
    ({"LOADLENS_THRESHOLDS_P95_MS": "x"}, "LOADLENS_THRESHOLDS_P95_MS: ", 'expected a number > 0, got "x"'),
    ({"LOADLENS_RUN_HOTS": "http://a"}, "LOADLENS_RUN_HOTS: ", 'did you mean "LOADLENS_RUN_HOST"?'),
    ({"LOADLENS_NOTHING_LIKE_IT": "1"}, "LOADLENS_NOTHING_LIKE_IT: ", "unknown loadlens variable"),
    ({"LOADLENS_SERVER_CPU_PERCENT": "101"}, "LOADLENS_SERVER_CPU_PERCENT: ", "got 101"),
    ({"LOADLENS_EXPORTERS_PROMETHEUS_PORT": "0"}, "LOADLENS_EXPORTERS_PROMETHEUS_PORT: ", "from 1 to 65535"),
    ({"LOADLENS_EXPORTERS_OTLP_HEADERS": "{a = 'b'}"}, "LOADLENS_EXPORTERS_OTLP_HEADERS: ", "unknown"),
    ({"LOADLENS_CLOUDWATCH_REQUIRE": "yes"}, "LOADLENS_CLOUDWATCH_REQUIRE: ", 'true or false, got "yes"'),
    (
        {"LOADLENS_THRESHOLDS_EXPECTED_STATUSES": "[200, 99]"},
        "LOADLENS_THRESHOLDS_EXPECTED_STATUSES[1]: ",
        "got 99",
    ),
    ({"LOADLENS_RUN_SCENARIO": "nope"}, "LOADLENS_RUN_SCENARIO: ", 'unknown scenario "nope"'),
    ({"LOADLENS_RUN_WARMUP": "soon"}, "LOADLENS_RUN_WARMUP: ", "a duration such as"),
    ({"LOADLENS_PROCESS_PID": "abc"}, "LOADLENS_PROCESS_PID: ", 'an integer >= 1, got "abc"'),
    ({"LOADLENS_EXPORTERS_OTLP_PROTOCOL": "json"}, "LOADLENS_EXPORTERS_OTLP_PROTOCOL: ", 'got "json"'),
    ({"LOADLENS_THRESHOLDS_P95_MS": "1\nrun = 2"}, "LOADLENS_THRESHOLDS_P95_MS: ", "expected a number"),
]


class TestEnvironment:
    @pytest.mark.parametrize(("env", "prefix", "fragment"), BAD_ENV)
    def test_a_bad_variable_names_itself(
        self, tmp_path: Path, env: dict[str, str], prefix: str, fragment: str
    ) -> None:
        """A bad or unknown LOADLENS_ variable is one ConfigError line starting with its name."""
        with pytest.raises(ConfigError) as caught:
            load_config(None, env=env, cwd=tmp_path)
        assert_one_line(str(caught.value), fragment, start=prefix)

    def test_values_are_read_as_toml_scalars(self, tmp_path: Path) -> None:
        """Numbers, booleans, durations and lists in variables become typed values."""
        cfg = load_config(
            None,
            env={
                "LOADLENS_THRESHOLDS_P95_MS": "250",
                "LOADLENS_THRESHOLDS_PER_ENDPOINT": "false",
                "LOADLENS_THRESHOLDS_EXPECTED_STATUSES": "[404]",
                "LOADLENS_RUN_WARMUP": "1m",
                "LOADLENS_CLOUDWATCH_TARGET_GROUPS": '["tg-a", "tg-b"]',
                "LOADLENS_EXPORTERS_PROMETHEUS_PORT": "9100",
            },
            cwd=tmp_path,
        )
        assert cfg.thresholds.default.p95_ms == 250 and cfg.thresholds.per_endpoint is False
        assert cfg.thresholds.expected_statuses == {404} and cfg.run.warmup_s == 60
        assert (
            cfg.cloudwatch.target.target_groups == ("tg-a", "tg-b") and cfg.exporters.prometheus.port == 9100
        )

    def test_textual_keys_take_the_text_verbatim(self, tmp_path: Path) -> None:
        """A string key keeps digits and words as text; a quoted TOML string is unquoted."""
        cfg = load_config(
            None,
            env={
                "LOADLENS_GRAFANA_DASHBOARD_UID": "12345",
                "LOADLENS_CLOUDWATCH_PROFILE": "true",
                "LOADLENS_CLOUDWATCH_REGION": '"eu-central-1"',
                "LOADLENS_RUN_HOST": "https://staging.example.com",
            },
            cwd=tmp_path,
        )
        assert cfg.grafana.dashboard_uid == "12345" and cfg.cloudwatch.profile == "true"
        assert cfg.cloudwatch.region == "eu-central-1" and cfg.run.host == "https://staging.example.com"

    def test_unrelated_reserved_and_empty_variables_are_ignored(self, tmp_path: Path) -> None:
        """Other programs' variables, the CLI's own LOADLENS_ ones and empty values change nothing."""
        env = {
            "PATH": "/bin",
            "LOADLENS_LOG_FORMAT": "json",
            "LOADLENS_DEBUG": "1",
            "LOADLENS_RUN_HOST": "",
            "LOADLENS_CONFIG": "",
        }
        cfg = load_config(None, env=env, cwd=tmp_path)
        assert cfg == Config()

    def test_applied_variables_are_recorded(self, tmp_path: Path) -> None:
        """env_applied lists the variables that set something, for the run's record."""
        cfg = load_config(None, env={"LOADLENS_RUN_HOST": "http://a", "LOADLENS_DEBUG": "1"}, cwd=tmp_path)
        assert cfg.env_applied == ("LOADLENS_RUN_HOST",)

    def test_a_variable_for_the_otlp_section_turns_it_on(self, tmp_path: Path) -> None:
        """LOADLENS_EXPORTERS_OTLP_ENDPOINT alone enables OTLP, as the table would."""
        cfg = load_config(
            None, env={"LOADLENS_EXPORTERS_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, cwd=tmp_path
        )
        assert cfg.exporters.otlp.enabled and cfg.exporters.otlp.endpoint == "http://127.0.0.1:4318"

    def test_every_documented_variable_maps_to_a_key(self) -> None:
        """The examples from the brief are real variables."""
        for name in (
            "LOADLENS_RUN_HOST",
            "LOADLENS_THRESHOLDS_P95_MS",
            "LOADLENS_SERVER_CPU_PERCENT",
            "LOADLENS_CLOUDWATCH_REGION",
            "LOADLENS_EXPORTERS_PROMETHEUS_PORT",
            "LOADLENS_PROMETHEUS_SOURCE_URL",
            "LOADLENS_EXPORTERS_PUSHGATEWAY_DELETE_ON_FINISH",
        ):
            assert name in config_keys.ENV_KEYS


def flags(*argv: str) -> tuple[FlagValue, ...]:
    """The configuration a command line's loadlens flags set, parsed by the CLI's own parser."""
    return flag_values(pre_parser().parse_args(list(argv)))


class TestPrecedence:
    def test_file_then_environment_then_flags(self, tmp_path: Path) -> None:
        """For the same key a variable beats the file and a flag beats both, in one load."""
        write(tmp_path, '[run]\nhost = "http://file"\nout = "from-file"\n[thresholds]\np95_ms = 500\n')
        env = {
            "LOADLENS_RUN_HOST": "http://env",
            "LOADLENS_THRESHOLDS_P95_MS": "400",
            "LOADLENS_RUN_WARMUP": "5s",
        }
        cfg = load_config(None, env=env, cwd=tmp_path)
        assert (cfg.run.host, cfg.run.out, cfg.thresholds.default.p95_ms) == (
            "http://env",
            Path("from-file"),
            400,
        )
        flagged = load_config(None, env=env, cwd=tmp_path, flags=flags("--out", "o", "--warmup", "1m"))
        assert (flagged.run.host, flagged.run.out, flagged.run.warmup_s) == ("http://env", Path("o"), 60)

    def test_every_flag_lands_on_its_key(self, tmp_path: Path) -> None:
        """Each loadlens flag that stands for a key sets it, through the same load as the file."""
        write(tmp_path, '[thresholds]\nexpected_statuses = [404]\n[process]\nname = "gunicorn"\n')
        given = flags(
            *("--scenario", "spike", "--out", "o", "--warmup", "30s"),
            *("--expect-status", "429", "--expect-status", "503", "--include-expected"),
            *("--prometheus-port", "9100", "--prometheus-bind", "0.0.0.0"),
            *("--otlp-endpoint", "http://127.0.0.1:4317", "--pushgateway", "http://127.0.0.1:9091"),
            *("--grafana-url", "http://127.0.0.1:3000", "--aws-region", "us-west-2", "--aws-profile", "p"),
            *("--require-server-metrics", "--correlate-cloudwatch", "--cloudwatch-settle", "2m"),
            *("--process-pid", "4242"),
        )
        cfg = load_config(None, env={}, cwd=tmp_path, flags=given)
        assert (cfg.run.scenario, cfg.run.out, cfg.run.warmup_s) == ("spike", Path("o"), 30)
        assert cfg.thresholds.expected_statuses == {404, 429, 503} and cfg.thresholds.include_expected
        assert (cfg.exporters.prometheus.port, cfg.exporters.prometheus.bind) == (9100, "0.0.0.0")
        assert cfg.exporters.otlp.enabled and cfg.exporters.otlp.endpoint == "http://127.0.0.1:4317"
        assert cfg.exporters.pushgateway.url == "http://127.0.0.1:9091"
        assert cfg.grafana.url == "http://127.0.0.1:3000"
        cw = cfg.cloudwatch
        assert (cw.region, cw.profile, cw.require, cw.correlate, cw.settle_s) == (
            "us-west-2",
            "p",
            True,
            True,
            120,
        )
        assert (cfg.process.pid, cfg.process.name) == (4242, None)  # the flag's pid replaces the file's name

    def test_otlp_flag_switches_a_configured_exporter_on(self, tmp_path: Path) -> None:
        """--otlp turns OTLP on over a file that switched it off."""
        write(tmp_path, "[exporters.otlp]\nenabled = false\n")
        assert not load_config(None, env={}, cwd=tmp_path).exporters.otlp.enabled
        assert load_config(None, env={}, cwd=tmp_path, flags=flags("--otlp")).exporters.otlp.enabled

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["--prometheus-port", "0"], "--prometheus-port: expected an integer from 1 to 65535, got 0"),
            (
                ["--otlp-endpoint", "localhost"],
                '--otlp-endpoint: expected an http:// or https:// URL, got "localhost"',
            ),
            (["--scenario", "stres"], '--scenario: unknown scenario "stres" (did you mean "stress"?'),
            (["--out", " "], "--out: expected a non-empty string"),
            (["--warmup", "5parsecs"], "--warmup: expected a duration such as"),
            (
                ["--expect-status", "999"],
                "--expect-status: expected an HTTP status code from 100 to 599, got 999",
            ),
            (["--cloudwatch-settle", "soon"], "--cloudwatch-settle: expected a duration such as"),
            (
                ["--process-pid", "1", "--process-name", "x"],
                "--process-pid and --process-name exclude each other",
            ),
        ],
    )
    def test_a_bad_flag_is_a_usage_error_naming_the_flag(
        self, tmp_path: Path, argv: list[str], message: str
    ) -> None:
        """Flag values are checked like file values and blamed on the flag."""
        with pytest.raises(UsageError) as caught:
            load_config(None, env={}, cwd=tmp_path, flags=flags(*argv))
        assert str(caught.value).startswith(message), str(caught.value)

    def test_a_whole_number_flag_is_parsed_with_the_command_line(self) -> None:
        """--prometheus-port x fails in the parser, as Locust's own -u abc does (before any config)."""
        parser = pre_parser()
        with pytest.raises(SystemExit):
            parser.parse_args(["--prometheus-port", "http"])

    def test_a_bad_url_does_not_echo_its_password(self, tmp_path: Path) -> None:
        """A URL refused for its form is shown with user:password masked."""
        with pytest.raises(UsageError) as caught:
            load_config(
                None, env={}, cwd=tmp_path, flags=flags("--pushgateway", "ftp://ci:hunter2@127.0.0.1:9091")
            )
        assert "hunter2" not in str(caught.value) and '"ftp://***@127.0.0.1:9091"' in str(caught.value)
        with pytest.raises(UsageError) as caught:
            load_config(None, env={}, cwd=tmp_path, flags=flags("--grafana-url", "admin:hunter2@grafana"))
        assert "hunter2" not in str(caught.value)

    def test_an_unset_flag_changes_nothing(self, tmp_path: Path) -> None:
        """No loadlens flag on the command line gives the same config as the file and variables."""
        write(tmp_path, FULL)
        assert load_config(None, env={}, cwd=tmp_path, flags=flags()) == load_config(
            None, env={}, cwd=tmp_path
        )


class TestEveryProblemAtOnce:
    def test_three_mistakes_in_one_file_are_three_lines(self, tmp_path: Path) -> None:
        """A file with three different mistakes reports all three, one line each, in one error."""
        text = (
            '[run]\nwarmup = "soon"\n'
            '[thresholds.endpoints."GET /health"]\np95_ms = "fast"\n'
            "[server]\ncpu_percnt = 90\n"
        )
        with pytest.raises(ConfigError) as caught:
            load_text(tmp_path, text)
        assert str(caught.value).splitlines() == [
            'loadlens.toml: server.cpu_percnt: unknown key (did you mean "cpu_percent"?)',
            'loadlens.toml: run.warmup: expected a duration such as 30, 30s, 5m, 1h30m or 1h2m3s, got "soon"',
            'loadlens.toml: thresholds.endpoints."GET /health".p95_ms: expected a number > 0, got "fast"',
        ]

    def test_file_variable_and_scenario_problems_come_together(self, tmp_path: Path) -> None:
        """Problems from the file, a variable and a scenario table are reported in the same error."""
        write(tmp_path, "[scenarios.x]\nusers = 0\n[exporters.prometheus]\nport = 70000\n")
        with pytest.raises(ConfigError) as caught:
            load_config(None, env={"LOADLENS_THRESHOLDS_P95_MS": "x"}, cwd=tmp_path)
        lines = str(caught.value).splitlines()
        assert len(lines) == 3, lines
        assert any(ln.startswith("LOADLENS_THRESHOLDS_P95_MS: ") for ln in lines)
        assert any(ln.startswith("loadlens.toml: exporters.prometheus.port: ") for ln in lines)
        assert any(ln.startswith("loadlens.toml: scenarios.x.users: ") for ln in lines)


class TestScenarioTables:
    def test_overriding_a_preset_keeps_what_is_not_given(self, tmp_path: Path) -> None:
        """[scenarios.load] users = 80 keeps load's spawn rate, run time and description."""
        cfg = load_text(tmp_path, "[scenarios.load]\nusers = 80\n")
        load = cfg.scenario("load")
        assert (load.users, load.spawn_rate, load.run_time_s) == (80, BUILTIN["load"].spawn_rate, 600)
        assert load.description == BUILTIN["load"].description

    def test_users_over_a_staged_preset_rescale_it(self, tmp_path: Path) -> None:
        """users and run_time over stress reshape its stages like -u and -t do."""
        cfg = load_text(tmp_path, '[scenarios.stress]\nusers = 400\nrun_time = "5m"\n')
        stress = cfg.scenario("stress")
        assert stress.peak_users() == 400 and stress.total_time_s() == 300
        assert [s.users for s in stress.stages] == [50, 100, 200, 300, 400]

    def test_stages_replace_a_steady_preset(self, tmp_path: Path) -> None:
        """Stages given for load turn it into a shape, dropping its steady users."""
        cfg = load_text(
            tmp_path, '[scenarios.load]\nstages = [{duration = "2m", users = 5, spawn_rate = 1}]\n'
        )
        load = cfg.scenario("load")
        assert load.stages == (Stage(120.0, 5, 1.0),) and load.users is None and load.run_time_s is None

    def test_new_scenarios_extend_the_presets(self, tmp_path: Path) -> None:
        """A new name is added after the built-ins, which all stay available."""
        cfg = load_text(tmp_path, FULL)
        assert list(cfg.scenarios) == [*BUILTIN, "checkout-peak", "ramp"]
        peak = cfg.scenario("checkout-peak")
        assert (peak.users, peak.spawn_rate, peak.run_time_s) == (300, 30, 900)
        assert (peak.tags, peak.exclude_tags, peak.expected_statuses) == (("checkout",), ("admin",), {429})

    def test_a_scenario_spawn_rate_is_the_default_of_its_stages(self, tmp_path: Path) -> None:
        """A stage without spawn_rate takes the scenario's; one with its own keeps it."""
        ramp = load_text(tmp_path, FULL).scenario("ramp")
        assert ramp.stages == (Stage(60.0, 10, 4.0), Stage(90.0, 40, 8.0))

    def test_array_of_tables_stages(self, tmp_path: Path) -> None:
        """[[scenarios.NAME.stages]] blocks work like an inline list."""
        text = (
            '[[scenarios.steps.stages]]\nduration = "30s"\nusers = 3\nspawn_rate = 3\n'
            '[[scenarios.steps.stages]]\nduration = "1m"\nusers = 6\nspawn_rate = 3\n'
        )
        assert load_text(tmp_path, text).scenario("steps").total_time_s() == 90

    def test_an_unknown_scenario_lists_the_known_ones(self) -> None:
        """Config.scenario on a miss raises ConfigError naming the scenarios there are."""
        with pytest.raises(
            ConfigError, match=r'unknown scenario "soaak" \(did you mean "soak"\? known: smoke, load'
        ):
            Config().scenario("soaak")

    def test_no_scenario_selected_is_none(self) -> None:
        """selected_scenario is None when neither the file nor a flag names one."""
        assert Config().selected_scenario() is None


class TestDocs:
    def test_every_key_and_preset_is_documented(self) -> None:
        """docs/configuration.md mentions every section, key and preset the code accepts."""
        text = DOCS.read_text(encoding="utf-8")
        for section, keys in config_keys.SECTIONS.items():
            assert f"[{section}]" in text, section
            for key in keys:
                assert f"`{key}`" in text, f"{section}.{key}"
        for key in [*config_keys.SCENARIO_KEYS, *config_keys.STAGE_KEYS, "endpoints"]:
            assert f"`{key}`" in text, key
        for name in BUILTIN:
            assert f"`{name}`" in text, name

    def test_every_flag_is_documented_with_its_key(self) -> None:
        """Each loadlens flag that sets a key has a row naming that key in the flags table."""
        text = DOCS.read_text(encoding="utf-8")
        flags_section = text.split("## Command-line flags", 1)[1].split("\n## ", 1)[0]
        for option in OPTIONS:
            if option.key is None:
                continue
            row = next((ln for ln in flags_section.splitlines() if f"`{option.flag}" in ln), "")
            assert f"[{option.section}]" in row and option.key in row, option.flag
