"""`loadlens run --correlate-cloudwatch` and `loadlens cloudwatch check` end to end, against a real
moto server process on 127.0.0.1 (the AWS API stand-in) seeded with metrics for the test window."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import aws_stack
from tests.support.procs import moto_server
from tests.support.runs import LOCUSTFILES, criteria, loadlens_cmd, only_run_dir, run, summary

BASIC = str(LOCUSTFILES / "basic.py")


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture
def aws(moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh moto state, dummy credentials for this process (seeding) and for the run's process."""
    aws_stack.reset(moto)
    aws_stack.aws_env(monkeypatch, moto, tmp_path)
    return {
        "AWS_ENDPOINT_URL": moto,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": aws_stack.REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def seed(stack: aws_stack.WebStack, *, cpu: float, memory: float = 50.0, seed_metrics: bool = True) -> float:
    """ECS CPU/memory and ALB request counts, one a minute, from 10 minutes ago to 5 from now.
    Returns the first timestamp."""
    now = time.time()
    t0 = now - now % 60 - 600
    if not seed_metrics:
        return t0
    cw = aws_stack.plain_session().client("cloudwatch")
    dims = [("ClusterName", stack.cluster), ("ServiceName", stack.service)]
    n = 16
    aws_stack.put_series(
        cw, "AWS/ECS", "CPUUtilization", dims, aws_stack.minutes(t0, [cpu] * n), unit="Percent"
    )
    aws_stack.put_series(
        cw, "AWS/ECS", "MemoryUtilization", dims, aws_stack.minutes(t0, [memory] * n), unit="Percent"
    )
    lb = [("LoadBalancer", stack.load_balancer)]
    aws_stack.put_series(
        cw, "AWS/ApplicationELB", "RequestCount", lb, aws_stack.minutes(t0, [1200] * n), unit="Count"
    )
    tg = [("TargetGroup", stack.target_group), ("LoadBalancer", stack.load_balancer)]
    aws_stack.put_series(
        cw, "AWS/ApplicationELB", "UnHealthyHostCount", tg, aws_stack.minutes(t0, [0] * n), unit="Count"
    )
    return t0


def config(tmp_path: Path, stack: aws_stack.WebStack) -> Path:
    path = tmp_path / "loadlens.toml"
    path.write_text(
        f"""
[thresholds]
p95_ms = 5000
expected_statuses = [429]
[cloudwatch]
region = "{aws_stack.REGION}"
ecs_cluster = "{stack.cluster}"
ecs_service = "{stack.service}"
preroll = "2m"
settle = "0s"
"""
    )
    return path


def run_correlated(tmp_path: Path, target: str, env: dict[str, str], stack, *extra: str):
    out = tmp_path / "out"
    cmd = loadlens_cmd(
        "run",
        "-f",
        BASIC,
        "-H",
        target,
        "--headless",
        "-u",
        "4",
        "-r",
        "20",
        "-t",
        "4s",
        "--only-summary",
        "--loadlens-config",
        str(config(tmp_path, stack)),
        "--out",
        str(out),
        "--correlate-cloudwatch",
        *extra,
    )
    return run(cmd, cwd=tmp_path, env=env), out


class TestCorrelatedRun:
    def test_passing_server_side_and_alb_discovered_from_the_service(
        self, tmp_path: Path, target: str, aws
    ) -> None:
        """With ECS CPU at 40% the run passes, and the ALB found from the ECS service is reported and read."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        seed(stack, cpu=40)
        proc, out = run_correlated(tmp_path, target, aws, stack)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert f"load balancer {stack.load_balancer}" in proc.stderr
        doc = summary(only_run_dir(out))
        rows = criteria(doc)
        cpu = rows["server ECS CPU"]
        assert cpu["status"] == "pass" and cpu["observed"] == 40 and cpu["limit"] == 70
        assert rows["server ECS memory"]["status"] == "pass"
        resources = {s["resource"] for s in doc["server"]["series"]}
        assert any(stack.load_balancer in r for r in resources), resources

    def test_cpu_peak_fails_naming_the_criterion_and_time(self, tmp_path: Path, target: str, aws) -> None:
        """ECS CPU at 85% fails the CPU criterion: exit 1, and the reason says when the peak was."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        seed(stack, cpu=85)
        proc, out = run_correlated(tmp_path, target, aws, stack)
        assert proc.returncode == 1, proc.stderr[-3000:]
        row = criteria(summary(only_run_dir(out)))["server ECS CPU"]
        assert row["status"] == "fail" and row["observed"] == 85
        assert "UTC" in row["reason"] or ":" in row["reason"]
        assert "server ECS CPU" in proc.stdout and "verdict: FAIL" in proc.stdout

    def test_missing_data_is_inconclusive_and_exit_3_when_required(
        self, tmp_path: Path, target: str, aws
    ) -> None:
        """No datapoints: the server rows are INCONCLUSIVE with the reason; required, the run exits 3."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        seed(stack, cpu=0, seed_metrics=False)
        proc, out = run_correlated(tmp_path, target, aws, stack)
        assert proc.returncode == 0, proc.stderr[-3000:]  # not required: a warning, the load test stands
        row = criteria(summary(only_run_dir(out)))["server ECS CPU"]
        assert row["status"] == "inconclusive" and not row["required"]
        assert "no datapoints for AWS/ECS CPUUtilization" in row["reason"] and stack.cluster in row["reason"]
        (tmp_path / "out").rename(tmp_path / "first")
        proc, out = run_correlated(tmp_path, target, aws, stack, "--require-server-metrics")
        assert proc.returncode == 3, proc.stderr[-3000:]
        assert summary(only_run_dir(out))["verdict"] == "inconclusive"

    def test_verdict_command_repulls_late_datapoints(self, tmp_path: Path, target: str, aws) -> None:
        """CloudWatch published late: `loadlens verdict RUN_DIR` pulls the window again and re-judges it."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        seed(stack, cpu=0, seed_metrics=False)
        proc, out = run_correlated(tmp_path, target, aws, stack)
        assert proc.returncode == 0, proc.stderr[-3000:]
        rd = only_run_dir(out)
        assert criteria(summary(rd))["server ECS CPU"]["status"] == "inconclusive"
        seed(stack, cpu=90)  # the datapoints arrive after the run
        again = run(loadlens_cmd("verdict", str(rd), "--correlate-cloudwatch"), cwd=tmp_path, env=aws)
        assert again.returncode == 1, again.stdout + again.stderr
        after = summary(rd)
        assert criteria(after)["server ECS CPU"]["status"] == "fail"
        assert any(s["metric"] == "CPUUtilization" for s in after["server"]["series"])
        assert "server ECS CPU" in (rd / "verdict.md").read_text()

    def test_unknown_service_is_one_line_and_the_load_test_still_runs(
        self, tmp_path: Path, target: str, aws
    ) -> None:
        """A wrong service name is one warning naming it; without --require-server-metrics the run goes on."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        wrong = aws_stack.WebStack(stack.cluster, "no-such-service", "", "", "", "")
        proc, out = run_correlated(tmp_path, target, aws, wrong)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "no-such-service" in proc.stderr and "Traceback" not in proc.stderr
        doc = summary(only_run_dir(out))
        assert doc["client"]["whole_run"]["total"]["requests"] > 0
        assert criteria(doc)["server metrics (cloudwatch)"]["status"] == "inconclusive"
        (tmp_path / "out").rename(tmp_path / "first")
        proc, out = run_correlated(tmp_path, target, aws, wrong, "--require-server-metrics")
        assert proc.returncode == 2 and "no-such-service" in proc.stderr
        assert len([ln for ln in proc.stderr.splitlines() if ln.startswith("loadlens:")]) == 1

    def test_correlate_without_resources_is_a_usage_error(self, tmp_path: Path, target: str) -> None:
        """--correlate-cloudwatch with no [cloudwatch] resources exits 2 with one line."""
        proc = run(
            loadlens_cmd("run", "-f", BASIC, "-H", target, "--headless", "--correlate-cloudwatch"),
            cwd=tmp_path,
        )
        assert proc.returncode == 2 and "[cloudwatch]" in proc.stderr and "Traceback" not in proc.stderr


class TestSoak:
    def test_growing_memory_fires_the_leak_criterion_under_the_absolute_limit(
        self, tmp_path: Path, target: str, aws
    ) -> None:
        """Memory climbing steadily (per-second CloudWatch data) fails the leak criterion while staying under 80 %."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        now = time.time()
        t0 = float(int(now)) - 30
        cw = aws_stack.plain_session().client("cloudwatch")
        dims = [("ClusterName", stack.cluster), ("ServiceName", stack.service)]
        seconds = range(150)
        aws_stack.put_series(
            cw,
            "AWS/ECS",
            "MemoryUtilization",
            dims,
            [(t0 + i, 40 + 0.2 * i) for i in seconds],
            unit="Percent",
        )
        aws_stack.put_series(
            cw, "AWS/ECS", "CPUUtilization", dims, [(t0 + i, 30.0) for i in seconds], unit="Percent"
        )
        cfg = tmp_path / "loadlens.toml"
        cfg.write_text(
            f"""
[thresholds]
p95_ms = 5000
expected_statuses = [429]
[server]
leak_warn_percent_per_hour = 1
leak_fail_percent_per_hour = 2
leak_min_duration = "5s"
[cloudwatch]
region = "{aws_stack.REGION}"
ecs_cluster = "{stack.cluster}"
ecs_service = "{stack.service}"
period = "1s"
preroll = "5s"
settle = "0s"
"""
        )
        out = tmp_path / "out"
        cmd = loadlens_cmd(
            "run",
            "-f",
            BASIC,
            "-H",
            target,
            "--headless",
            "-u",
            "4",
            "-r",
            "20",
            "-t",
            "12s",
            "--only-summary",
            "--loadlens-config",
            str(cfg),
            "--out",
            str(out),
            "--correlate-cloudwatch",
        )
        proc = run(cmd, cwd=tmp_path, env=aws)
        assert proc.returncode == 1, proc.stderr[-3000:]
        doc = summary(only_run_dir(out))
        rows = criteria(doc)
        leak = rows["server ECS memory growth"]
        assert leak["status"] == "fail" and leak["unit"] == "%/h"
        assert leak["observed"] == pytest.approx(720, rel=0.05)  # 0.2 points a second
        assert rows["server ECS memory"]["status"] in ("pass", "warn")  # under the absolute 80 % limit
        trends = {t["metric"]: t for t in doc["analysis"]["trends"]}
        assert trends["ECS memory"]["time_to_limit_s"] > 0


class TestPreflight:
    def test_check_passes_with_recent_datapoints(self, tmp_path: Path, aws) -> None:
        """`loadlens cloudwatch check` confirms credentials, the service, the ALB and recent datapoints."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        seed(stack, cpu=40)
        proc = run(
            loadlens_cmd("cloudwatch", "check", "--loadlens-config", str(config(tmp_path, stack))),
            cwd=tmp_path,
            env=aws,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "credentials" in proc.stdout and stack.load_balancer in proc.stdout
        assert "cloudwatch check: OK" in proc.stdout

    def test_check_fails_on_an_unknown_service(self, tmp_path: Path, aws) -> None:
        """An unknown ECS service fails the preflight with exit 1 and names the service."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        wrong = aws_stack.WebStack(stack.cluster, "ghost", "", "", "", "")
        proc = run(
            loadlens_cmd("cloudwatch", "check", "--loadlens-config", str(config(tmp_path, wrong))),
            cwd=tmp_path,
            env=aws,
        )
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "ghost" in proc.stdout and "FAIL" in proc.stdout
