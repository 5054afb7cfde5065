"""[[server.metrics]] end to end: any CloudWatch metric or PromQL query as a criterion, ALB
percentiles and unhealthy hosts, judged on a real Locust run against a real moto server and a
real Prometheus; and every bad form of the new keys refused with exit 2 and one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.runs import LOCUSTFILES, loadlens_cmd, run

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
    ("not-a-list", '[server]\nmetrics = "cpu"\n', "server.metrics"),
    ("alb-p95", "[server]\nalb_p95_ms = 0\n", "server.alb_p95_ms"),
    ("alb-p99", '[server]\nalb_p99_ms = "slow"\n', "server.alb_p99_ms"),
    ("unhealthy", "[server]\nunhealthy_hosts = -1\n", "server.unhealthy_hosts"),
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
