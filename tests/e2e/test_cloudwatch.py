"""`loadlens run --correlate-cloudwatch` and `loadlens cloudwatch check` end to end, against a real
moto server process on 127.0.0.1 (the AWS API stand-in) seeded with metrics for the test window."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.support import aws_stack
from tests.support.cli import BASIC, LoadlensRun, loadlens_verdict
from tests.support.procs import free_port, prometheus
from tests.support.runs import criteria, loadlens_cmd, run, summary
from tests.support.wait import wait_until


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
    aws_stack.put_series(
        cw, "AWS/ApplicationELB", "TargetResponseTime", lb, aws_stack.minutes(t0, [0.05] * n), unit="Seconds"
    )
    tg = [("TargetGroup", stack.target_group), ("LoadBalancer", stack.load_balancer)]
    aws_stack.put_series(
        cw, "AWS/ApplicationELB", "UnHealthyHostCount", tg, aws_stack.minutes(t0, [0] * n), unit="Count"
    )
    return t0


def seed_seconds(stack: aws_stack.WebStack, *, cpu: float, memory: float = 50.0) -> None:
    """1 s ECS, ALB and target-group series around now (tests/support/aws_stack.py)."""
    aws_stack.seed_web_seconds(stack, cpu=cpu, memory=memory, unhealthy=0)


def config_text(stack: aws_stack.WebStack, *, period: str = "", settle: str | None = "0s") -> str:
    """The run's loadlens.toml; an empty ``period`` and a None ``settle`` leave the defaults (60 s, 5 min)."""
    period_line = f'period = "{period}"' if period else ""
    settle_line = f'settle = "{settle}"' if settle else ""
    return f"""
[thresholds]
p95_ms = 5000
expected_statuses = [429]
[cloudwatch]
region = "{aws_stack.REGION}"
ecs_cluster = "{stack.cluster}"
ecs_service = "{stack.service}"
preroll = "2m"
{period_line}
{settle_line}
"""


def config(tmp_path: Path, stack: aws_stack.WebStack) -> Path:
    """config_text written to ``tmp_path``/loadlens.toml (for commands other than `loadlens run`)."""
    path = tmp_path / "loadlens.toml"
    path.write_text(config_text(stack))
    return path


def correlated(
    tmp_path: Path,
    target: str,
    env: dict[str, str],
    stack,
    *extra: str,
    period: str | None = "1s",
    settle: str | None = "0s",
) -> LoadlensRun:
    """basic.py with 4 users for 4 s, correlated with the CloudWatch stand-in."""
    return LoadlensRun(
        tmp_path, target, config=config_text(stack, period=period or "", settle=settle), users=4,
        only_summary=True, flags=("--correlate-cloudwatch", *extra), env=env,
    )  # fmt: skip


class TestCorrelatedRun:
    def test_passing_server_side_and_alb_discovered_from_the_service(
        self, tmp_path: Path, target: str, aws
    ) -> None:
        """With ECS CPU at 40% the run passes, and the ALB found from the ECS service is reported and read."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        seed_seconds(stack, cpu=40)
        done = correlated(tmp_path, target, aws, stack).run()
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"load balancer {stack.load_balancer}" in done.stderr
        doc = done.summary
        rows = criteria(doc)
        cpu = rows["server ECS CPU"]
        assert cpu["status"] == "pass" and cpu["observed"] == 40 and cpu["limit"] == 70
        assert rows["server ECS memory"]["status"] == "pass"
        resources = {s["resource"] for s in doc["server"]["series"]}
        assert any(stack.load_balancer in r for r in resources), resources

    def test_cpu_peak_fails_naming_the_criterion_and_time(self, tmp_path: Path, target: str, aws) -> None:
        """ECS CPU at 85% fails the CPU criterion: exit 1, and the reason says when the peak was."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        seed_seconds(stack, cpu=85)
        done = correlated(tmp_path, target, aws, stack).run()
        assert done.returncode == 1, done.stderr[-3000:]
        row = done.criteria["server ECS CPU"]
        assert row["status"] == "fail" and row["observed"] == 85
        assert "UTC" in row["reason"] or ":" in row["reason"]
        assert "server ECS CPU" in done.stdout and "verdict: FAIL" in done.stdout

    def test_missing_data_is_inconclusive_and_exit_3_when_required(
        self, tmp_path: Path, target: str, aws
    ) -> None:
        """No datapoints: the server rows are INCONCLUSIVE with the reason; required, the run exits 3."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        seed(stack, cpu=0, seed_metrics=False)
        done = correlated(tmp_path, target, aws, stack).run()
        assert done.returncode == 0, done.stderr[-3000:]  # not required: a warning, the load test stands
        row = done.criteria["server ECS CPU"]
        assert row["status"] == "inconclusive" and not row["required"]
        assert "no datapoints for AWS/ECS CPUUtilization" in row["reason"] and stack.cluster in row["reason"]
        (tmp_path / "out").rename(tmp_path / "first")
        done = correlated(tmp_path, target, aws, stack, "--require-server-metrics").run()
        assert done.returncode == 3, done.stderr[-3000:]
        assert done.summary["verdict"] == "inconclusive"

    def test_verdict_command_repulls_late_datapoints(self, tmp_path: Path, target: str, aws) -> None:
        """CloudWatch published late: `loadlens verdict RUN_DIR` pulls the window again and re-judges it."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        seed(stack, cpu=0, seed_metrics=False)
        done = correlated(tmp_path, target, aws, stack).run()
        assert done.returncode == 0, done.stderr[-3000:]
        rd = done.run_dir
        assert criteria(summary(rd))["server ECS CPU"]["status"] == "inconclusive"
        seed_seconds(stack, cpu=90)  # the datapoints arrive after the run
        again = loadlens_verdict(rd, cwd=tmp_path, flags=("--correlate-cloudwatch",), env=aws)
        assert again.returncode == 1, again.stdout + again.stderr
        after = summary(rd)
        assert not [m for m in after["server"]["missing"] if m["metric"] == "CPUUtilization"]
        assert criteria(after)["server ECS CPU"]["status"] == "fail"
        assert any(s["metric"] == "CPUUtilization" for s in after["server"]["series"])
        assert "server ECS CPU" in (rd / "verdict.md").read_text()

    def test_unknown_service_is_one_line_and_the_load_test_still_runs(
        self, tmp_path: Path, target: str, aws
    ) -> None:
        """A wrong service name is one warning naming it; without --require-server-metrics the run goes on."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        wrong = aws_stack.WebStack(stack.cluster, "no-such-service", "", "", "", "")
        done = correlated(tmp_path, target, aws, wrong).run()
        assert done.returncode == 0, done.stderr[-3000:]
        assert "no-such-service" in done.stderr and "Traceback" not in done.stderr
        doc = done.summary
        assert doc["client"]["whole_run"]["total"]["requests"] > 0
        assert criteria(doc)["server metrics (cloudwatch)"]["status"] == "inconclusive"
        (tmp_path / "out").rename(tmp_path / "first")
        done = correlated(tmp_path, target, aws, wrong, "--require-server-metrics").run()
        assert done.returncode == 2 and "no-such-service" in done.stderr
        assert len([ln for ln in done.stderr.splitlines() if ln.startswith("loadlens:")]) == 1

    def test_correlate_without_resources_is_a_usage_error(self, tmp_path: Path, target: str) -> None:
        """--correlate-cloudwatch with no [cloudwatch] resources exits 2 with one line."""
        proc = run(
            loadlens_cmd("run", "-f", str(BASIC), "-H", target, "--headless", "--correlate-cloudwatch"),
            cwd=tmp_path,
        )
        assert proc.returncode == 2 and "[cloudwatch]" in proc.stderr and "Traceback" not in proc.stderr


class TestDefaults:
    """The paths a new user takes: the default settle wait (5 min) and the default 60 s period."""

    def test_default_settle_and_period_judge_only_whole_periods(
        self, tmp_path: Path, target: str, aws
    ) -> None:
        """Defaults, a 4 s run and ECS CPU at 85 %: the settle wait ends at once (data seeded around
        now), no whole 60 s period lies in the steady window, so the required CPU row is INCONCLUSIVE
        with the reason and the remedy, and the run exits 3 (never a pass, never a traceback)."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        seed(stack, cpu=85)
        done = correlated(
            tmp_path, target, aws, stack, "--require-server-metrics", period=None, settle=None
        ).run()
        assert done.returncode == 3, done.stderr[-3000:]
        assert "Traceback" not in done.stderr and "not callable" not in done.stderr
        assert "every series has its last period" in done.stderr
        assert "Found credentials" not in done.stderr  # botocore's INFO lines stay out of the console
        doc = done.summary
        assert doc["verdict"] == "inconclusive"
        row = criteria(doc)["server ECS CPU"]
        assert row["status"] == "inconclusive" and row["required"]
        assert "holds no whole 60 s CloudWatch period" in row["reason"]
        assert "run at least" in row["reason"] and "high-resolution" in row["reason"]

    def test_default_settle_with_high_resolution_metrics_fails_on_cpu(
        self, tmp_path: Path, target: str, aws
    ) -> None:
        """The default settle wait with 1 s metrics: ECS CPU at 85 % FAILs the required CPU row, exit 1."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        seed_seconds(stack, cpu=85)
        done = correlated(tmp_path, target, aws, stack, "--require-server-metrics", settle=None).run()
        assert done.returncode == 1, done.stderr[-3000:]
        assert "Traceback" not in done.stderr
        row = done.criteria["server ECS CPU"]
        assert row["status"] == "fail" and row["observed"] == 85 and row["required"]

    def test_every_queried_metric_is_a_series_or_a_named_missing_entry(
        self, tmp_path: Path, target: str, aws
    ) -> None:
        """The discovered target group's UnHealthyHostCount ends in summary.json as a series, and every
        other ALB metric read (p95, 5xx counts) as a series or a missing entry with its reason."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        seed(stack, cpu=40)
        done = correlated(tmp_path, target, aws, stack, period=None, settle=None).run()
        assert done.returncode == 0, done.stderr[-3000:]
        assert stack.target_group in done.stderr  # discovery names it
        server = done.summary["server"]
        found = {(s["metric"], s["stat"]) for s in server["series"]}
        missing = {(m["metric"], m["stat"]): m for m in server["missing"]}
        assert ("UnHealthyHostCount", "Maximum") in found, (found, list(missing))
        unhealthy = next(s for s in server["series"] if s["metric"] == "UnHealthyHostCount")
        assert stack.target_group in unhealthy["resource"]
        for metric, stat in (
            ("TargetResponseTime", "p95"),
            ("HTTPCode_Target_5XX_Count", "Sum"),
            ("HTTPCode_ELB_5XX_Count", "Sum"),
            ("TargetConnectionErrorCount", "Sum"),
        ):
            assert (metric, stat) in found or missing[(metric, stat)]["reason"], (metric, stat)

    def test_a_metric_without_data_is_named_live_in_prometheus(
        self, tmp_path: Path, target: str, aws
    ) -> None:
        """While the run goes on, a metric the source queried and got nothing for (moto cannot answer
        the ALB p95) is exported as loadlens_server_metric_missing, and a real Prometheus scraping the
        run stores it beside the series that did answer."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        seed_seconds(stack, cpu=40)
        port = free_port()
        with prometheus(tmp_path, [f"127.0.0.1:{port}"]) as prom:
            job = correlated(
                tmp_path, target, aws, stack, "--prometheus-port", str(port), "--prometheus-bind", "127.0.0.1"
            )
            proc = job.start(log_dir=tmp_path)
            query = urllib.parse.urlencode({"query": "last_over_time(loadlens_server_metric_missing[10m])"})

            def stored() -> list[dict] | None:
                with urllib.request.urlopen(f"{prom}/api/v1/query?{query}", timeout=10) as resp:
                    result = json.load(resp)["data"]["result"]
                return result if any(r["metric"]["metric"] == "TargetResponseTime" for r in result) else None

            # Bounded like the run's default 15 s linger was, which the Ctrl-C below then cuts short.
            found = wait_until(stored, 90, what="loadlens_server_metric_missing stored by Prometheus")
            done = job.finish_lingering(proc, log_dir=tmp_path)
            assert done.returncode == 0, done.stderr[-3000:]
        missing = {(r["metric"]["metric"], r["metric"]["stat"]) for r in found}
        assert ("TargetResponseTime", "p95") in missing, found
        assert all(r["value"][1] == "1" for r in found)
        assert ("CPUUtilization", "Average") not in missing  # seeded: a series, not missing
        doc = done.summary["server"]
        assert ("TargetResponseTime", "p95") in {(m["metric"], m["stat"]) for m in doc["missing"]}


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
        soak = LoadlensRun(
            tmp_path,
            target,
            config=f"""
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
""",
            users=4,
            run_time="12s",
            only_summary=True,
            flags=("--correlate-cloudwatch",),
            env=aws,
        )
        done = soak.run()
        assert done.returncode == 1, done.stderr[-3000:]
        doc = done.summary
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
