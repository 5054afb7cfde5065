"""A run's plan from the command line (runner.config.plan): the flags are applied once, in the
config, so the plan, its server side and the config it records agree on every value."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.config.options import pre_parser
from runner.config.plan import RunPlan, plan_from_options
from runner.errors import ConfigError, UsageError
from runner.sources.server import server_plan


def plan(tmp_path: Path, toml: str, *argv: str, env: dict[str, str] | None = None) -> RunPlan:
    (tmp_path / "loadlens.toml").write_text(toml, encoding="utf-8")
    options = pre_parser().parse_args(["--loadlens-config", str(tmp_path / "loadlens.toml"), *argv])
    return plan_from_options(options, env=env or {}, role="worker", create_dir=False)


CLOUDWATCH = '[cloudwatch]\necs_cluster = "shop"\necs_service = "api"\nperiod = "5m"\nsettle = "1m"\n'


class TestOneStep:
    def test_the_recorded_config_holds_what_the_flags_set(self, tmp_path: Path) -> None:
        """Values set by flags are in plan.config too (the run records it), not only in the plan."""
        p = plan(
            tmp_path,
            '[run]\nwarmup = "10s"\n[thresholds]\nexpected_statuses = [404]\n' + CLOUDWATCH,
            *("--warmup", "1m", "--expect-status", "429", "--include-expected"),
            *("--correlate-cloudwatch", "--require-server-metrics", "--cloudwatch-settle", "2m"),
            *("--aws-region", "eu-west-1", "--process-name", "gunicorn"),
        )
        cfg = p.config
        assert p.warmup_s == cfg.run.warmup_s == 60
        assert p.thresholds == cfg.thresholds and cfg.thresholds.include_expected
        assert p.expected_statuses == cfg.thresholds.expected_statuses == {404, 429}
        assert p.server.required and cfg.cloudwatch.require and cfg.cloudwatch.correlate
        assert p.server.settle_s == cfg.cloudwatch.settle_s == 120
        assert p.server.aws_region == cfg.cloudwatch.region == "eu-west-1"
        assert p.server.process_name == cfg.process.name == "gunicorn"
        assert p.server.limits is cfg.server.criteria

    def test_the_server_limits_are_the_configs_own(self, tmp_path: Path) -> None:
        """The server criteria are judged by the limits [server] produced, completed with the
        process's own limits and the WARN band, not by a copy of their fields."""
        p = plan(
            tmp_path,
            '[server]\ncpu_percent = 60\n[process]\nname = "x"\nmemory_percent = 40\n'
            "[thresholds]\nwarn_ratio = 0.5\n",
        )
        limits = p.server.limits
        assert limits is p.config.server.criteria
        assert (limits.cpu_percent, limits.process_memory_percent, limits.warn_ratio) == (60, 40, 0.5)
        assert limits.memory_percent == 80 and limits.process_cpu_percent is None

    def test_the_cloudwatch_target_is_the_configs_own(self, tmp_path: Path) -> None:
        """The CloudWatch source gets the target [cloudwatch] produced, not a copy of its fields."""
        p = plan(tmp_path, CLOUDWATCH, "--correlate-cloudwatch")
        assert p.server.cloudwatch is p.config.cloudwatch.target
        assert p.server.cloudwatch is not None and p.server.cloudwatch.period_s == 300
        assert p.server.poll_s == 300

    def test_no_cloudwatch_without_correlating(self, tmp_path: Path) -> None:
        """A configured [cloudwatch] is read only when correlating (the flag or correlate = true)."""
        assert plan(tmp_path, CLOUDWATCH).server.cloudwatch is None
        assert server_plan(plan(tmp_path, CLOUDWATCH + "correlate = true\n").config).cloudwatch is not None

    def test_correlating_without_a_target_is_a_usage_error(self, tmp_path: Path) -> None:
        """--correlate-cloudwatch with nothing named to watch says what to add."""
        with pytest.raises(UsageError, match=r"needs \[cloudwatch\] ecs_cluster and ecs_service"):
            plan(tmp_path, '[cloudwatch]\nregion = "eu-west-1"\n', "--correlate-cloudwatch")

    def test_a_service_without_its_cluster_names_the_file(self, tmp_path: Path) -> None:
        """The target's own rule (cluster and service go together) is reported like any config
        problem, with the file and the table, when the config is read."""
        with pytest.raises(ConfigError) as caught:
            plan(tmp_path, '[cloudwatch]\necs_service = "api"\n[run]\nmax_endpoints = 0\n')
        lines = str(caught.value).splitlines()
        problem = "loadlens.toml: cloudwatch: ecs_cluster and ecs_service go together; give both or neither"
        assert len(lines) == 2 and any(ln.endswith(problem) for ln in lines), lines

    def test_a_flag_beats_a_variable_for_the_process(self, tmp_path: Path) -> None:
        """--process-pid replaces a process name from LOADLENS_PROCESS_NAME (they exclude each other)."""
        p = plan(tmp_path, "", "--process-pid", "4242", env={"LOADLENS_PROCESS_NAME": "gunicorn"})
        assert (p.server.process_pid, p.server.process_name) == (4242, None)
