"""[[server.metrics]] end to end: any CloudWatch metric or PromQL query as a criterion, ALB
percentiles and unhealthy hosts, judged on a real Locust run against a real moto server and a
real Prometheus; and every bad form of the new keys refused with exit 2 and one line."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.test_cloudwatch import config_text, seed, seed_seconds
from tests.support import aws_stack
from tests.support.cli import Finished, LoadlensRun, loadlens_verdict
from tests.support.procs import free_port, prometheus
from tests.support.runs import LOCUSTFILES, criteria, loadlens_cmd, run, summary

BASIC = str(LOCUSTFILES / "basic.py")
_CW = 'namespace = "AWS/ElastiCache"\nmetric = "CPUUtilization"\n'

# (case id, loadlens.toml text, text the one line must contain)
BAD = [
    ("both-forms", f'[[server.metrics]]\nname = "x"\n{_CW}query = "up"\nmax = 1\n', "not both"),
    ("no-form", '[[server.metrics]]\nname = "x"\nmax = 1\n', "give namespace and metric"),
    ("no-limit", f'[[server.metrics]]\nname = "x"\n{_CW}', "give max or min"),
    (
        "bad-stat",
        f'[[server.metrics]]\nname = "x"\n{_CW}stat = "Median"\nmax = 1\n',
        "server.metrics[0].stat",
    ),
    ("no-name", f"[[server.metrics]]\n{_CW}max = 1\n", "needs a name"),
    (
        "bad-period",
        f'[[server.metrics]]\nname = "x"\n{_CW}period = "7s"\nmax = 1\n',
        "server.metrics[0].period",
    ),
    ("unknown-key", f'[[server.metrics]]\nname = "x"\n{_CW}maxx = 1\n', 'did you mean "max"'),
    ("bad-max", f'[[server.metrics]]\nname = "x"\n{_CW}max = "high"\n', "server.metrics[0].max"),
    ("min-above-max", f'[[server.metrics]]\nname = "x"\n{_CW}max = 1\nmin = 2\n', "min (2) is above max"),
    ("bad-dimensions", f'[[server.metrics]]\nname = "x"\n{_CW}max = 1\ndimensions = 3\n', "dimensions"),
    (
        "stat-on-query",
        '[prometheus_source]\nurl = "http://127.0.0.1:9"\n[[server.metrics]]\nname = "x"\n'
        'query = "up"\nstat = "Maximum"\nmax = 1\n',
        "stat and period apply to CloudWatch",
    ),
    (
        "query-without-url",
        '[[server.metrics]]\nname = "x"\nquery = "up"\nmax = 1\n',
        "[prometheus_source] url",
    ),
    (
        "same-name",
        f'[[server.metrics]]\nname = "x"\n{_CW}max = 1\n[[server.metrics]]\nname = "x"\n{_CW}max = 2\n',
        "used twice",
    ),
    (
        "bad-missing",
        f'[[server.metrics]]\nname = "x"\n{_CW}max = 1\nmissing = "ignore"\n',
        'server.metrics[0].missing: expected one of "inconclusive", "zero"',
    ),
    (
        "missing-on-query",
        '[prometheus_source]\nurl = "http://127.0.0.1:9"\n[[server.metrics]]\nname = "x"\n'
        'query = "up"\nmax = 1\nmissing = "zero"\n',
        "or vector(0)",
    ),
    ("not-a-list", '[server]\nmetrics = "cpu"\n', "server.metrics: expected a list of tables"),
    ("alb-p95", "[server]\nalb_p95_ms = 0\n", "server.alb_p95_ms: expected a number > 0, got 0"),
    ("alb-p99", '[server]\nalb_p99_ms = "slow"\n', 'server.alb_p99_ms: expected a number > 0, got "slow"'),
    ("unhealthy", "[server]\nunhealthy_hosts = -1\n", "server.unhealthy_hosts: expected a number >= 0"),
]


class TestBadServerMetrics:
    @pytest.mark.parametrize(("case", "toml", "needle"), BAD, ids=[c[0] for c in BAD])
    def test_one_line_and_exit_2(self, tmp_path: Path, case: str, toml: str, needle: str) -> None:
        """A wrong [[server.metrics]] table or [server] key exits 2 with one line naming it."""
        (tmp_path / "loadlens.toml").write_text(toml)
        base = ["run", "-f", BASIC, "-H", "http://127.0.0.1:9", "--headless", "-t", "1s"]
        proc = run(loadlens_cmd(*base), cwd=tmp_path, timeout_s=60)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert len(lines) == 1, proc.stderr
        assert needle in lines[0], lines[0]


REDIS = """
[[server.metrics]]
name = "Redis CPU"
namespace = "AWS/ElastiCache"
metric = "CPUUtilization"
dimensions = { CacheClusterId = "video-cache" }
stat = "Maximum"
max = 75
"""


def seed_redis(cpu: float, *, unhealthy: float = 0.0, stack: aws_stack.WebStack | None = None) -> None:
    """ElastiCache CPU (and, given a stack, its target group's unhealthy hosts) at 1 s resolution
    from 3 minutes ago to 3 from now: every period of a short run is present at once."""
    now = float(int(time.time()))
    stamps = [now - 180 + i for i in range(360)]
    cw = aws_stack.plain_session().client("cloudwatch")
    dims = [("CacheClusterId", "video-cache")]
    aws_stack.put_series(
        cw, "AWS/ElastiCache", "CPUUtilization", dims, [(t, cpu) for t in stamps], unit="Percent"
    )
    if stack is not None:
        tg = [("TargetGroup", stack.target_group), ("LoadBalancer", stack.load_balancer)]
        aws_stack.put_series(
            cw, "AWS/ApplicationELB", "UnHealthyHostCount", tg, [(t, unhealthy) for t in stamps], unit="Count"
        )


def run_with(tmp_path: Path, target: str, env: dict[str, str], text: str, *flags: str) -> Finished:
    """basic.py with 4 users for 4 s and ``text`` as loadlens.toml."""
    return LoadlensRun(tmp_path, target, config=text, users=4, only_summary=True, flags=flags, env=env).run()


class TestCloudWatchMetricCriteria:
    def test_elasticache_cpu_at_90_fails_and_alb_p95_is_never_a_silent_pass(
        self, tmp_path: Path, target: str, aws
    ) -> None:
        """Seeded ElastiCache CPU at 90 % fails its [[server.metrics]] max = 75 (exit 1) beside a
        passing ECS CPU, read in the same run; the ALB p95 limit, which moto cannot answer, is
        INCONCLUSIVE with the reason; `loadlens verdict` re-judges the stored series the same way."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        seed_seconds(stack, cpu=40)
        seed_redis(90)
        text = "[server]\nalb_p95_ms = 500\n" + config_text(stack, period="1s") + REDIS
        done = run_with(tmp_path, target, aws, text, "--correlate-cloudwatch")
        assert done.returncode == 1, done.stderr[-3000:]
        rows = done.criteria
        redis = rows["server Redis CPU"]
        assert redis["status"] == "fail" and redis["observed"] == 90 and redis["limit"] == 75, redis
        assert "above the limit 75" in redis["reason"]
        assert rows["server ECS CPU"]["status"] == "pass"
        p95 = rows["server ALB p95"]
        assert p95["status"] == "inconclusive" and "TargetResponseTime" in p95["reason"], p95
        series = {s["resource"]: s for s in done.summary["server"]["series"]}
        assert series["metric:Redis CPU"]["metric"] == "CPUUtilization"
        again = loadlens_verdict(done.run_dir, cwd=tmp_path, env=aws)
        assert again.returncode == 1, again.stdout + again.stderr
        assert criteria(summary(done.run_dir))["server Redis CPU"]["observed"] == 90

    def test_default_period_and_settle_pass_under_the_limit(self, tmp_path: Path, target: str, aws) -> None:
        """The metric's own period left out (the [cloudwatch] period) and the default settle wait:
        ElastiCache CPU at 50 % passes, and the run exits 0."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        seed_seconds(stack, cpu=40)
        seed_redis(50)
        done = run_with(tmp_path, target, aws, config_text(stack, period="1s", settle=None) + REDIS,
                        "--correlate-cloudwatch")  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        row = done.criteria["server Redis CPU"]
        assert row["status"] == "pass" and row["observed"] == 50 and row["details"]["period_s"] == 1

    def test_on_the_default_60s_period_a_short_run_is_inconclusive_never_pass(
        self, tmp_path: Path, target: str, aws
    ) -> None:
        """Every default (60 s period, 5 min settle) with ElastiCache CPU seeded a minute apart: the
        settle wait ends at once, a 4 s run holds no whole 60 s period, so the required criterion is
        INCONCLUSIVE with the remedy and the run exits 3."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        t0 = seed(stack, cpu=40)
        cw = aws_stack.plain_session().client("cloudwatch")
        dims = [("CacheClusterId", "video-cache")]
        aws_stack.put_series(cw, "AWS/ElastiCache", "CPUUtilization", dims, aws_stack.minutes(t0, [90] * 16))
        done = run_with(tmp_path, target, aws, config_text(stack, settle=None) + REDIS,
                        "--correlate-cloudwatch", "--require-server-metrics")  # fmt: skip
        assert done.returncode == 3, done.stderr[-3000:]
        assert "every series has its last period" in done.stderr
        row = done.criteria["server Redis CPU"]
        assert row["status"] == "inconclusive" and row["required"]
        assert "holds no whole 60 s CloudWatch period" in row["reason"] and "run at least" in row["reason"]

    def test_an_unhealthy_host_fails_the_run(self, tmp_path: Path, target: str, aws) -> None:
        """One unhealthy host in the discovered target group fails the unhealthy-hosts criterion."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        seed_seconds(stack, cpu=40)
        seed_redis(50, unhealthy=1, stack=stack)
        done = run_with(tmp_path, target, aws, config_text(stack, period="1s"), "--correlate-cloudwatch")
        assert done.returncode == 1, done.stderr[-3000:]
        row = done.criteria["server unhealthy hosts"]
        assert (
            row["status"] == "fail"
            and row["observed"] == 1
            and stack.target_group in row["details"]["resource"]
        )

    def test_no_datapoints_is_inconclusive_and_exit_3_when_required(
        self, tmp_path: Path, target: str, aws
    ) -> None:
        """A metric with no datapoints in the window is INCONCLUSIVE (never PASS); required, exit 3."""
        stack = aws_stack.build_web_stack(aws_stack.plain_session())
        seed_seconds(stack, cpu=40)
        done = run_with(tmp_path, target, aws, config_text(stack, period="1s") + REDIS,
                        "--correlate-cloudwatch", "--require-server-metrics")  # fmt: skip
        assert done.returncode == 3, done.stderr[-3000:]
        row = done.criteria["server Redis CPU"]
        assert row["status"] == "inconclusive" and row["required"]
        assert "AWS/ElastiCache CPUUtilization CacheClusterId=video-cache" in row["reason"]

    def test_a_custom_metric_alone_is_enough_to_correlate(self, tmp_path: Path, target: str, aws) -> None:
        """No ECS, RDS or ALB in [cloudwatch]: the [[server.metrics]] alone is read and judged."""
        seed_redis(90)
        text = (
            f'[thresholds]\nexpected_statuses = [429]\n[cloudwatch]\nregion = "{aws_stack.REGION}"\n'
            'period = "1s"\nsettle = "0s"\npreroll = "1m"\n' + REDIS
        )
        done = run_with(tmp_path, target, aws, text, "--correlate-cloudwatch")
        assert done.returncode == 1, done.stderr[-3000:]
        assert done.criteria["server Redis CPU"]["status"] == "fail"
        assert "server ECS CPU" not in done.criteria

    def test_without_cloudwatch_the_criterion_is_not_dropped(self, tmp_path: Path, target: str) -> None:
        """No --correlate-cloudwatch: the criterion is an INCONCLUSIVE row saying how to read it,
        and the verdict is not PASS."""
        done = run_with(tmp_path, target, {}, "[thresholds]\nexpected_statuses = [429]\n" + REDIS)
        assert done.returncode == 0, done.stderr[-3000:]
        row = done.criteria["server Redis CPU"]
        assert row["status"] == "inconclusive" and "--correlate-cloudwatch" in row["reason"]
        assert done.summary["verdict"] != "pass"
        assert done.criteria["server metrics (cloudwatch)"]["status"] == "inconclusive"
        again = loadlens_verdict(done.run_dir, cwd=tmp_path)  # re-judged from summary.json: the same
        assert again.returncode == 0, again.stdout + again.stderr
        rows = criteria(summary(done.run_dir))
        assert (
            rows["server Redis CPU"]["status"] == "inconclusive"
            and summary(done.run_dir)["verdict"] != "pass"
        )


def polly(name: str, metric: str = "ThrottledCount", extra: str = 'missing = "zero"\nperiod = "1s"\n') -> str:
    return (
        f'[[server.metrics]]\nname = "{name}"\nnamespace = "AWS/Polly"\nmetric = "{metric}"\n'
        f'dimensions = {{ Operation = "SynthesizeSpeech" }}\nstat = "Sum"\nmax = 0\n{extra}'
    )


class TestMissingAsZero:
    def test_throttles_published_only_when_non_zero(self, tmp_path: Path, target: str, aws) -> None:
        """Polly ThrottledCount listed (one throttle two hours ago) and none during a real run:
        with missing = "zero" the required max = 0 passes (exit 0) after the default settle wait,
        which does not wait for it, and `loadlens verdict` reproduces the row; in a second run, the same without the setting, a misspelt metric, and
        the default 60 s [cloudwatch] period are INCONCLUSIVE, never a pass (exit 3)."""
        cw = aws_stack.plain_session().client("cloudwatch")
        dims = [("Operation", "SynthesizeSpeech")]
        aws_stack.put_series(cw, "AWS/Polly", "ThrottledCount", dims, [(time.time() - 7200, 1.0)])
        (tmp_path / "good").mkdir()
        (tmp_path / "bad").mkdir()
        head = f'[thresholds]\nexpected_statuses = [429]\n[cloudwatch]\nregion = "{aws_stack.REGION}"\n'
        good = head + 'preroll = "1m"\n' + polly("Polly throttles")  # the default settle: not held
        done = run_with(
            tmp_path / "good", target, aws, good, "--correlate-cloudwatch", "--require-server-metrics"
        )
        assert done.returncode == 0, done.stderr[-3000:]
        row = done.criteria["server Polly throttles"]
        assert row["status"] == "pass" and row["observed"] == 0 and row["required"], row
        assert 'no datapoints: counted as 0 (missing = "zero"), metric exists' in row["reason"]
        (gone,) = [m for m in done.summary["server"]["missing"] if m["resource"] == "metric:Polly throttles"]
        assert gone["exists"] is True and gone["period_s"] == 1
        again = loadlens_verdict(
            done.run_dir, cwd=tmp_path / "good", env=aws, flags=("--require-server-metrics",)
        )
        assert again.returncode == 0, again.stdout + again.stderr
        assert criteria(summary(done.run_dir))["server Polly throttles"]["reason"] == row["reason"]

        bad = (
            head
            + 'settle = "0s"\n'  # "plain" would hold the settle wait for its last period
            + polly("plain", extra='period = "1s"\n')
            + polly("typo", "ThrottleCount")
            + polly("default period", extra='missing = "zero"\n')
        )
        done = run_with(
            tmp_path / "bad", target, aws, bad, "--correlate-cloudwatch", "--require-server-metrics"
        )
        assert done.returncode == 3, done.stderr[-3000:]
        rows = done.criteria
        assert all(
            rows[f"server {n}"]["status"] == "inconclusive" for n in ("plain", "typo", "default period")
        )
        assert "no datapoints for AWS/Polly ThrottledCount" in rows["server plain"]["reason"]
        assert (
            "ThrottleCount Operation=SynthesizeSpeech not found in CloudWatch"
            in rows["server typo"]["reason"]
        )
        assert "holds no whole 60 s CloudWatch period" in rows["server default period"]["reason"]

    def test_cloudwatch_check_says_exists_or_not_found(self, tmp_path: Path, aws) -> None:
        """`loadlens cloudwatch check`: a listed metric without recent datapoints is fine, a typo
        is "not found" (exit 1)."""
        cw = aws_stack.plain_session().client("cloudwatch")
        dims = [("Operation", "SynthesizeSpeech")]
        aws_stack.put_series(cw, "AWS/Polly", "ThrottledCount", dims, [(time.time() - 7200, 1.0)])
        text = f'[cloudwatch]\nregion = "{aws_stack.REGION}"\n' + polly("ok") + polly("typo", "ThrottleCount")
        (tmp_path / "loadlens.toml").write_text(text)
        proc = run(loadlens_cmd("cloudwatch", "check"), cwd=tmp_path, env=aws, timeout_s=120)
        out = proc.stdout + proc.stderr
        assert "exists, no recent datapoints (counted as 0)" in out, out
        assert "not found in CloudWatch" in out and proc.returncode != 0, out


class TestPrometheusQueryCriteria:
    def test_a_query_criterion_against_real_prometheus_and_its_live_gauge(
        self, tmp_path: Path, target: str
    ) -> None:
        """A real Prometheus evaluates `vector(90)` for "saturation" (max = 75: FAIL) and an absent
        series for "queue" (INCONCLUSIVE); scraping the run, it stores
        loadlens_server_metric{name="saturation"}."""
        port = free_port()
        with prometheus(tmp_path, [f"127.0.0.1:{port}"]) as prom:
            text = (
                f'[thresholds]\nexpected_statuses = [429]\n[prometheus_source]\nurl = "{prom}"\nstep = "1s"\n'
                '[[server.metrics]]\nname = "saturation"\nquery = "vector(90)"\nmax = 75\n'
                '[[server.metrics]]\nname = "queue"\nquery = "no_such_queue_depth"\nmax = 10\n'
            )
            # Runs to its own end: the end-to-end test of the default 15 s linger, during which
            # Prometheus scrapes the final state (other tests end the linger with a Ctrl-C).
            done = LoadlensRun(tmp_path, target, config=text, users=4, run_time="6s", only_summary=True,
                               flags=("--prometheus-port", str(port))).run()  # fmt: skip
            assert done.returncode == 1, done.stderr[-3000:]
            query = urllib.parse.urlencode(
                {"query": 'last_over_time(loadlens_server_metric{name="saturation"}[10m])'}
            )
            with urllib.request.urlopen(f"{prom}/api/v1/query?{query}", timeout=10) as resp:
                found = json.load(resp)["data"]["result"]
        row = done.criteria["server saturation"]
        assert row["status"] == "fail" and row["observed"] == 90 and row["limit"] == 75, row
        queue = done.criteria["server queue"]
        assert queue["status"] == "inconclusive" and "no_such_queue_depth" in queue["reason"]
        assert found and found[0]["value"][1] == "90", found
        assert found[0]["metric"]["source"] == "prometheus"


class TestInit:
    def test_init_writes_the_new_keys_and_they_load_uncommented(self, tmp_path: Path) -> None:
        """`loadlens init` shows alb_p95_ms, alb_p99_ms, unhealthy_hosts and a [[server.metrics]]
        example, commented; uncommented they make a valid file with that criterion."""
        from runner.config.load import load_config

        proc = run(loadlens_cmd("init"), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        lines = (tmp_path / "loadlens.toml").read_text().splitlines()
        start = lines.index("# [[server.metrics]]")
        keys = ("# alb_p95_ms", "# alb_p99_ms", "# unhealthy_hosts")
        opened = [
            ln[2:] if ln.startswith(keys) or (start <= i and ln.startswith("# ") and i < start + 10) else ln
            for i, ln in enumerate(lines)
        ]
        (tmp_path / "open.toml").write_text("\n".join(opened) + "\n")
        cfg = load_config(tmp_path / "open.toml", env={})
        limits = cfg.server.criteria
        assert (limits.alb_p95_ms, limits.alb_p99_ms, limits.unhealthy_hosts) == (500, 1000, 0)
        (metric,) = limits.metrics
        assert (metric.name, metric.namespace, metric.stat, metric.max) == (
            "Redis CPU",
            "AWS/ElastiCache",
            "Maximum",
            75,
        )
        assert cfg.cloudwatch.target.metrics == (metric,) and metric.missing == "inconclusive"
