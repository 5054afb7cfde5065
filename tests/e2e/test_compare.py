"""Baselines end to end: real Locust runs against a local target whose per-endpoint delay is set
when it starts, `loadlens compare`, `--baseline` in the verdict, and an S3 baseline shared through
a real moto server process.

Four short runs share one output directory (module fixture, so the suite pays for them once):
A (the baseline), A2 (same delays; `--baseline latest`, publishes to S3), B (GET /api/v1/jobs
twice as slow; `--baseline s3://…`, and `--publish-baseline` that a failing run must not do), C
(fewer users, another locustfile, the default 5 s timeline interval; `--baseline A`).

Three more share another directory (``server_runs``, only for the server-side tests): D1 and D2
with the CloudWatch source against moto (ECS CPU and memory, RDS CPU, memory and
DatabaseConnections, the connections higher for D2), and P with the local process source (the
pytest process, which serves the target's threads).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from tests.support import aws_stack
from tests.support.procs import free_port, moto_server
from tests.support.runs import LOCUSTFILES, criteria, loadlens_cmd, run, run_dirs, summary

PACED = LOCUSTFILES / "paced.py"
BASE_DELAYS_S = {"/health": 0.05, "/api/v1/jobs": 0.05, "/api/v1/assets": 0.05}
# +100 %: a loaded 2-core machine adds the same queueing to both runs, which shrinks the ratio (a
# +50 % delay was once seen as +28 %); doubling keeps the observed change far beyond 30 %.
SLOWER_JOBS_S = {**BASE_DELAYS_S, "/api/v1/jobs": 0.10}
BUCKET = "loadlens-baselines"
CONFIG = '[run]\ninterval = "1s"\n[thresholds]\np95_ms = 5000\nerror_rate = 0.5\n'


def delayed(delays_s: Mapping[str, float]) -> type[BaseHTTPRequestHandler]:
    """A handler answering 200 after the path's delay, fixed when the target starts."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body leave at once (no delayed-ACK wait)

        def do_GET(self) -> None:
            time.sleep(delays_s.get(self.path, 0.0))
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the run ended and its user hung up
                self.wfile.write(body)

        def handle_one_request(self) -> None:
            try:
                super().handle_one_request()
            except OSError:
                self.close_connection = True

        def log_message(self, *_args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def target_on(port: int, delays_s: Mapping[str, float]) -> Iterator[str]:
    """A real threaded HTTP server on 127.0.0.1:``port`` with ``delays_s``: every run of the module
    targets the same host, as a team's runs do, while each run starts its own target."""
    server = ThreadingHTTPServer(("127.0.0.1", port), delayed(delays_s))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Runs:
    out: Path
    a: Path
    a2: Path
    b: Path
    c: Path
    exit_codes: Mapping[str, int]
    stdout: Mapping[str, str]
    env: Mapping[str, str]
    moto: str


def _run(
    tmp: Path, port: int, delays_s: Mapping[str, float], *extra: str, env: Mapping[str, str], config: str = CONFIG,
    users: int = 10, locustfile: Path = PACED, seconds: int = 6,
) -> tuple[Path, int, str]:  # fmt: skip
    out = tmp / "out"
    cfg = tmp / f"loadlens-{len(run_dirs(out))}.toml"
    cfg.write_text(config)
    before = set(run_dirs(out))
    with target_on(port, delays_s) as target:
        cmd = loadlens_cmd(
            "run", "-f", str(locustfile), "-H", target, "--headless", "-u", str(users), "-r", "100",
            "-t", f"{seconds}s", "--only-summary", "--loadlens-config", str(cfg), "--out", str(out), *extra,
        )  # fmt: skip
        proc = run(cmd, cwd=tmp, env=env)
    new = [d for d in run_dirs(out) if d not in before]
    assert len(new) == 1, proc.stderr[-3000:]
    return new[0], proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    tmp = tmp_path_factory.mktemp("compare")
    with moto_server(tmp) as moto:
        env = aws_stack.child_env(moto, tmp)
        s3 = boto3.client(
            "s3", endpoint_url=moto, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        s3.create_bucket(Bucket=BUCKET)
        port = free_port()
        shared = f"s3://{BUCKET}/ci/paced/latest"
        a, code_a, out_a = _run(tmp, port, BASE_DELAYS_S, env=env)
        a2, code_a2, out_a2 = _run(
            tmp, port, BASE_DELAYS_S, "--baseline", "latest", "--publish-baseline", shared, env=env
        )
        failed = f"s3://{BUCKET}/ci/paced/failed"
        # B's own tolerances for two figures, read by `run --baseline` (docs/compare.md#tolerances).
        tolerances = '[compare]\np99_percent = 25\n[thresholds.endpoints."GET /health"]\np95_vs_baseline_percent = 35\n'
        b, code_b, out_b = _run(
            tmp, port, SLOWER_JOBS_S, "--baseline", shared, "--publish-baseline", failed, env=env,
            config=CONFIG + tolerances,
        )  # fmt: skip
        other = tmp / "paced_copy.py"
        other.write_text(PACED.read_text() + "\n# another version of the test\n")
        c, code_c, out_c = _run(
            tmp, port, BASE_DELAYS_S, "--baseline", str(a), env=env, users=6, locustfile=other, seconds=4,
            config="[thresholds]\np95_ms = 5000\nerror_rate = 0.5\n",
        )  # fmt: skip
        yield Runs(
            out=tmp / "out", a=a, a2=a2, b=b, c=c,
            exit_codes={"a": code_a, "a2": code_a2, "b": code_b, "c": code_c},
            stdout={"a": out_a, "a2": out_a2, "b": out_b, "c": out_c},
            env=env, moto=moto,
        )  # fmt: skip


@dataclass(frozen=True)
class ServerRuns:
    out: Path
    d1: Path
    d2: Path
    p: Path
    exit_codes: Mapping[str, int]
    stdout: Mapping[str, str]
    env: Mapping[str, str]


RDS = "shop-db"


def seed_rds(*, connections: float, start: float, seconds: int) -> None:
    """1 s RDS CPU, freeable memory, latencies and connections of instance RDS for ``seconds`` from ``start``
    (moto averages two points of one second: a later seeding over an earlier one moves the mean)."""
    cw = aws_stack.plain_session().client("cloudwatch")
    dims = [("DBInstanceIdentifier", RDS)]
    stamps = [float(int(start)) + i for i in range(seconds)]
    aws_stack.put_series(cw, "AWS/RDS", "CPUUtilization", dims, [(t, 30.0) for t in stamps], unit="Percent")
    aws_stack.put_series(cw, "AWS/RDS", "FreeableMemory", dims, [(t, 2e9) for t in stamps], unit="Bytes")
    for latency in ("ReadLatency", "WriteLatency"):  # not compared, but the settle wait expects them
        aws_stack.put_series(cw, "AWS/RDS", latency, dims, [(t, 0.002) for t in stamps], unit="Seconds")
    points = [(t, connections) for t in stamps]
    aws_stack.put_series(cw, "AWS/RDS", "DatabaseConnections", dims, points, unit="Count")


@pytest.fixture(scope="module")
def server_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerRuns]:
    """D1, D2 (CloudWatch in moto: ECS and RDS; 20 connections for D1, 20 + 80 averaged to 50 for
    D2) and P (the local process source) in one output directory, same delays and load."""
    tmp = tmp_path_factory.mktemp("compare-server")
    with moto_server(tmp) as moto, pytest.MonkeyPatch.context() as mp:
        aws_stack.aws_env(mp, moto, tmp)  # this process seeds moto as the runs read it
        env = aws_stack.child_env(moto, tmp)
        session = aws_stack.plain_session()
        stack = aws_stack.build_web_stack(session)
        aws_stack.create_rds_instance(session, RDS)
        aws_stack.seed_web_seconds(stack, cpu=40.0, memory=50.0, unhealthy=0)
        seed_rds(connections=20.0, start=time.time() - 180, seconds=360)
        cloudwatch = CONFIG + (
            f'[cloudwatch]\nregion = "{aws_stack.REGION}"\necs_cluster = "{stack.cluster}"\n'
            f'ecs_service = "{stack.service}"\nrds_instance = "{RDS}"\nperiod = "1s"\ncorrelate = true\n'
        )
        port = free_port()  # one target host for the three runs, as in comparable runs
        d1, code_d1, out_d1 = _run(tmp, port, BASE_DELAYS_S, env=env, config=cloudwatch)
        seed_rds(connections=80.0, start=time.time(), seconds=180)
        d2, code_d2, out_d2 = _run(tmp, port, BASE_DELAYS_S, env=env, config=cloudwatch)
        process = CONFIG + f"[process]\npid = {os.getpid()}\n"  # 1 s samples in 1 s periods
        p, code_p, out_p = _run(tmp, port, BASE_DELAYS_S, env=env, config=process)
        yield ServerRuns(
            out=tmp / "out", d1=d1, d2=d2, p=p,
            exit_codes={"d1": code_d1, "d2": code_d2, "p": code_p},
            stdout={"d1": out_d1, "d2": out_d2, "p": out_p}, env=env,
        )  # fmt: skip


def compare(runs: Runs, *args: str) -> tuple[int, str, str]:
    proc = run(loadlens_cmd("compare", *args), cwd=runs.out, env=runs.env)
    return proc.returncode, proc.stdout, proc.stderr


def rows(doc: Mapping) -> dict[str, dict]:
    return {f"{r['subject']} {r['metric']}": r for r in doc["rows"]}


@pytest.mark.serial  # A and A2 (the same delays) must compare "unchanged": the machine to themselves
class TestCompare:
    def test_a_a_pair_is_unchanged_and_exits_0(self, runs: Runs, tmp_path: Path) -> None:
        """Two runs with the same delays: nothing regressed, every endpoint's p95 is 'unchanged'."""
        code, out, err = compare(runs, str(runs.a), str(runs.a2), "--json", str(tmp_path / "c.json"))
        assert code == 0, out + err
        doc = json.loads((tmp_path / "c.json").read_text())
        assert doc["regressed"] == [] and doc["warnings"] == []
        found = rows(doc)
        for name in ("GET /health", "GET /api/v1/jobs", "GET /api/v1/assets", "all requests"):
            assert found[f"{name} p95_ms"]["status"] == "unchanged", found[f"{name} p95_ms"]
        assert "no regression" in out

    def test_slower_endpoint_is_regressed_and_the_others_unchanged(self, runs: Runs) -> None:
        """Twice the delay on GET /api/v1/jobs: that row regressed (named, exit 1), the others unchanged."""
        code, out, err = compare(runs, str(runs.a), str(runs.b), "--format", "json")
        assert code == 1, out + err
        doc = json.loads(out)
        found = rows(doc)
        jobs = found["GET /api/v1/jobs p95_ms"]
        assert jobs["status"] == "regressed", jobs
        # +50 ms on 50 ms: ~+100 % on a quiet machine; a loaded one adds the same queueing to both runs,
        # which shrinks the ratio, so the test asks for what "regressed" means: beyond the 10 % tolerance.
        assert jobs["change_ratio"] > 0.1 and jobs["ci_low"] > 0
        assert "GET /api/v1/jobs p95" in doc["regressed"]
        for name in ("GET /health", "GET /api/v1/assets"):
            assert found[f"{name} p95_ms"]["status"] == "unchanged", found[f"{name} p95_ms"]
            assert found[f"{name} rps"]["status"] == "unchanged", found[f"{name} rps"]
            assert found[f"{name} error_rate"]["status"] == "unchanged"

    def test_markdown_and_console_name_the_regression(self, runs: Runs, tmp_path: Path) -> None:
        """The console table and the Markdown file both show the regressed row and the outcome line."""
        code, out, _err = compare(runs, str(runs.a), str(runs.b), "--markdown", str(tmp_path / "c.md"))
        assert code == 1
        md = (tmp_path / "c.md").read_text()
        assert "| GET /api/v1/jobs | p95_ms |" in md and "**regressed**" in md
        assert "regressed: " in out and "GET /api/v1/jobs p95" in out

    def test_mismatched_users_and_locustfile_are_not_comparable(self, runs: Runs) -> None:
        """Fewer users and another locustfile: warnings name both, nothing is called a regression
        (exit 3); with the default 5 s timeline a 4 s run has too few periods to judge."""
        code, out, err = compare(runs, str(runs.a), str(runs.c))
        assert code == 3, out + err
        assert "warning: not comparable: users: 10 in the baseline, 6 now" in out
        assert "warning: not comparable: locustfile content differs" in out
        assert "regressed:" not in out
        assert "not comparable" in out

    def test_bad_input_is_one_line_and_exit_2(self, runs: Runs, tmp_path: Path) -> None:
        """A directory without summary.json: exit 2, one line, no traceback."""
        code, _out, err = compare(runs, str(tmp_path), str(runs.a))
        assert code == 2
        assert err.count("\n") == 1 and "Traceback" not in err and "summary.json" in err


@pytest.mark.serial  # A and A2 (the same delays) must compare "unchanged": the machine to themselves
class TestBaselineInTheVerdict:
    def test_latest_baseline_adds_passing_rows(self, runs: Runs) -> None:
        """`--baseline latest` compares with A (the newest passing run): PASS rows, exit 0."""
        assert runs.exit_codes["a"] == 0 and runs.exit_codes["a2"] == 0, runs.stdout["a2"][-3000:]
        rows_ = criteria(summary(runs.a2))
        row = rows_["GET /api/v1/jobs p95 vs baseline"]
        assert row["status"] == "pass" and row["details"]["baseline_run"] == runs.a.name
        assert rows_["all requests p95 vs baseline"]["required"] is True

    def test_s3_baseline_turns_a_slower_endpoint_into_a_fail_row(self, runs: Runs) -> None:
        """B against the baseline A2 published to moto's S3: the slower endpoint's row FAILs (exit 1)
        with its change, interval and tolerance; the other endpoints' rows pass."""
        assert runs.exit_codes["b"] == 1, runs.stdout["b"][-3000:]
        rows_ = criteria(summary(runs.b))
        row = rows_["GET /api/v1/jobs p95 vs baseline"]
        assert row["status"] == "fail" and row["details"]["baseline_run"] == runs.a2.name
        assert row["observed"] > 30 and row["limit"] == 10
        assert "(95 % CI +" in row["reason"] and "tolerance +10 %" in row["reason"]
        assert rows_["GET /health p95 vs baseline"]["status"] == "pass"
        # B's config: its [thresholds.endpoints."GET /health"] p95_vs_baseline_percent and [compare]
        # p99_percent, over the default +10 %.
        assert rows_["GET /health p95 vs baseline"]["limit"] == 35
        assert rows_["all requests p99 vs baseline"]["limit"] == 25
        assert rows_["GET /health p50 vs baseline"]["limit"] == 10
        assert "GET /api/v1/jobs p95 vs baseline" in runs.stdout["b"]

    def test_publish_baseline_uploads_the_passing_summary(self, runs: Runs) -> None:
        """A2 passed, so its summary.json is the object at s3://…/ci/paced/latest/summary.json."""
        assert "baseline published: s3://loadlens-baselines/ci/paced/latest/summary.json" in runs.stdout["a2"]
        s3 = boto3.client(
            "s3", endpoint_url=runs.moto, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        body = s3.get_object(Bucket=BUCKET, Key="ci/paced/latest/summary.json")["Body"].read()
        assert json.loads(body)["run_id"] == runs.a2.name

    def test_a_failing_run_does_not_publish_its_baseline(self, runs: Runs) -> None:
        """B failed (exit 1) with --publish-baseline s3://…/ci/paced/failed: nothing was uploaded there
        and nothing says it was."""
        assert runs.exit_codes["b"] == 1, runs.stdout["b"][-3000:]
        assert "baseline published" not in runs.stdout["b"]
        s3 = boto3.client(
            "s3", endpoint_url=runs.moto, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="ci/paced/failed")
        assert listed.get("KeyCount", 0) == 0 and not listed.get("Contents"), listed

    def test_mismatched_baseline_is_inconclusive_not_a_regression(self, runs: Runs) -> None:
        """C differs from its baseline A in users and locustfile: one required INCONCLUSIVE row that
        names both, exit 3, no FAIL invented."""
        assert runs.exit_codes["c"] == 3, runs.stdout["c"][-3000:]
        doc = summary(runs.c)
        row = criteria(doc)["baseline comparability"]
        assert row["status"] == "inconclusive" and row["required"] is True
        assert "users: 10 in the baseline, 6 now" in row["reason"] and "locustfile" in row["reason"]
        assert not any(c["status"] == "fail" for c in doc["criteria"])

    def test_comparability_is_recorded_in_the_summary(self, runs: Runs) -> None:
        """summary.json records the locustfile hash, users, spawn rate, duration, host and classes."""
        shape = summary(runs.a)["comparability"]
        assert len(shape["locustfile_sha256"]) == 64
        assert shape["users"] == 10 and shape["spawn_rate"] == 100 and shape["duration_s"] == 6
        assert shape["user_classes"] == ["PacedUser"] and shape["host"].startswith("http://127.0.0.1:")
        assert shape["scenario"] == "adhoc"
        assert summary(runs.c)["comparability"]["locustfile_sha256"] != shape["locustfile_sha256"]


@pytest.mark.serial  # A and A2 (the same delays) must compare "unchanged": the machine to themselves
class TestRejudgeAndHistory:
    def test_verdict_with_baseline_rejudges_a_copy(self, runs: Runs, tmp_path: Path) -> None:
        """`loadlens verdict B --baseline A`: the slower endpoint's row FAILs against A (exit 1)."""
        copy = tmp_path / runs.b.name
        shutil.copytree(runs.b, copy)
        proc = run(loadlens_cmd("verdict", str(copy), "--baseline", str(runs.a)), cwd=tmp_path, env=runs.env)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        row = criteria(summary(copy))["GET /api/v1/jobs p95 vs baseline"]
        assert row["status"] == "fail" and row["details"]["baseline_run"] == runs.a.name
        names = [c["name"] for c in summary(copy)["criteria"]]
        assert len(names) == len(set(names))  # the S3 baseline's rows were replaced, not kept beside

    def test_history_lists_every_run_oldest_first(self, runs: Runs) -> None:
        """Four runs, one row each with its verdict and per-endpoint p95; B's jobs p95 is the highest."""
        proc = run(loadlens_cmd("history", str(runs.out), "--format", "json"), cwd=runs.out, env=runs.env)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert [r["run_id"] for r in doc["runs"]] == [runs.a.name, runs.a2.name, runs.b.name, runs.c.name]
        assert [r["verdict"] for r in doc["runs"]] == ["pass", "pass", "fail", "inconclusive"]
        jobs = [r["endpoint_p95_ms"]["GET /api/v1/jobs"] for r in doc["runs"]]
        assert max(jobs) == jobs[2]
        text = run(loadlens_cmd("history", str(runs.out)), cwd=runs.out, env=runs.env).stdout
        assert "p95 GET /api/v1/jobs" in text and "trend: p95" in text and "change point:" in text


class TestServerSide:
    def test_cloudwatch_cpu_memory_and_rds_connections_are_compared(self, server_runs: ServerRuns) -> None:
        """D1 vs D2 from CloudWatch (moto): ECS CPU and memory and RDS CPU and freeable memory rows are
        unchanged (same seeded levels), RDS DatabaseConnections' mean and peak regressed (20 -> 50),
        with the change in connections and in %, and the compare exits 1 naming them."""
        assert server_runs.exit_codes["d1"] == 0, server_runs.stdout["d1"][-3000:]
        proc = run(
            loadlens_cmd("compare", str(server_runs.d1), str(server_runs.d2), "--format", "json"),
            cwd=server_runs.out, env=server_runs.env,
        )  # fmt: skip
        doc = json.loads(proc.stdout)
        server = {f"{r['subject']} {r['metric']}": r for r in doc["rows"] if r["scope"] == "server"}
        for name in (
            "cloudwatch ecs:shop/api CPUUtilization Average",
            "cloudwatch ecs:shop/api MemoryUtilization Average",
            f"cloudwatch rds:{RDS} CPUUtilization Average",
            f"cloudwatch rds:{RDS} FreeableMemory Minimum",
        ):
            for metric in ("mean", "peak"):
                assert server[f"{name} {metric}"]["status"] == "unchanged", (name, sorted(server))
        for stat in ("Average", "Maximum"):
            row = server[f"cloudwatch rds:{RDS} DatabaseConnections {stat} mean"]
            assert row["status"] == "regressed" and row["baseline"] == 20, row
            assert row["change"] > 20 and row["change_ratio"] > 1.0
        assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr
        assert f"rds:{RDS} DatabaseConnections Maximum peak" in " ".join(doc["regressed"])
        text = run(
            loadlens_cmd("compare", str(server_runs.d1), str(server_runs.d2)), cwd=server_runs.out,
            env=server_runs.env,
        ).stdout  # fmt: skip
        line = next(ln for ln in text.splitlines() if "DatabaseConnections Maximum" in ln and " mean " in ln)
        assert "(+" in line and " %)" in line and "regressed" in line, line

    def test_history_rows_carry_the_process_peak_cpu_and_cost(self, server_runs: ServerRuns) -> None:
        """`loadlens history` over D1, D2 and P: P's row has the process's real peak CPU and its
        CPU-seconds per 1,000 requests; the CloudWatch runs' peak CPU is the seeded ECS level."""
        assert server_runs.exit_codes["p"] in (0, 1), server_runs.stdout["p"][-3000:]
        proc = run(
            loadlens_cmd("history", str(server_runs.out), "--format", "json"), cwd=server_runs.out,
            env=server_runs.env,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        rows = {r["run_id"]: r for r in json.loads(proc.stdout)["runs"]}
        p = rows[server_runs.p.name]
        assert p["peak_cpu_percent"] is not None and p["peak_cpu_percent"] > 0, p
        cost = summary(server_runs.p)["analysis"]["cpu_seconds_per_1000_requests"]
        assert p["cpu_s_per_1000"] is not None and p["cpu_s_per_1000"] > 0 and p["cpu_s_per_1000"] == cost
        assert rows[server_runs.d1.name]["peak_cpu_percent"] == 40.0
        text = run(
            loadlens_cmd("history", str(server_runs.out)), cwd=server_runs.out, env=server_runs.env
        ).stdout
        line = next(ln for ln in text.splitlines() if server_runs.p.name in ln)
        assert line.rstrip().endswith(" s") and "—" not in line, line  # peak CPU and CPU-s/1k req shown
