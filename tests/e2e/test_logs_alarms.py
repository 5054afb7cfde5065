"""Application log errors and alarms end to end: a real `loadlens run` (real Locust) against a local
HTTP target that writes ERROR lines to CloudWatch Logs while it serves, on a real moto server
process; then `loadlens verdict RUN_DIR` reading the logs again.

The alarm history cannot be answered by moto (DescribeAlarmHistory is not implemented, facts.md):
the run shows what loadlens does then, an INCONCLUSIVE alarms row and never a pass. Listing alarms
from a history is tested with botocore's Stubber in tests/sources/test_alarms.py."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support import aws_stack
from tests.support.cli import LoadlensRun, loadlens_verdict
from tests.support.runs import LOCUSTFILES, criteria, loadlens_cmd, run, summary

GROUP = "/ecs/video-gen"
EVERY = 10  # one ERROR line per this many requests served
MAX_LINES = 6  # and at most this many, so the count stays small


class LoggingTarget:
    """A target that logs like a real service: every EVERY-th request writes an ERROR line (with
    its own numbers and job id) to CloudWatch Logs, and one INFO line per request batch."""

    def __init__(self, logs: Any) -> None:
        self.logs = logs
        self.lock = threading.Lock()
        self.served = 0
        self.errors = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.serve()
                body = b"ok"
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # Locust closed the connection at the end of the run

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    def serve(self) -> None:
        with self.lock:
            self.served += 1
            n = self.served
            # Past the first requests (the ramp-up), so the lines fall in the judged window.
            if n < 4 * EVERY or n % EVERY or self.errors >= MAX_LINES:
                return
            self.errors += 1
            message = f"ERROR timeout after {100 + n} ms for job {uuid.uuid4()}"
            self.logs.put_log_events(
                logGroupName=GROUP,
                logStreamName="api",
                logEvents=[{"timestamp": int(time.time() * 1000), "message": message}],
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def logging_target(aws: dict[str, str]) -> Iterator[LoggingTarget]:
    logs = aws_stack.plain_session().client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="api")
    target = LoggingTarget(logs)
    thread = threading.Thread(target=target.server.serve_forever, daemon=True)
    thread.start()
    yield target
    target.server.shutdown()
    target.server.server_close()


CONFIG = f"""
[thresholds]
error_rate = 0.5

[cloudwatch]
log_group = "{GROUP}"
error_pattern = "ERROR"   # moto matches one term; CloudWatch's ?A ?B syntax is passed as written
max_log_errors = 0
max_alarms = 0
"""


def test_log_errors_fail_the_run_and_the_alarm_history_never_passes(
    tmp_path: Path, aws: dict[str, str], logging_target: LoggingTarget
) -> None:
    """ERROR lines written during the run are counted in the judged window (max_log_errors = 0:
    FAIL, exit 1), grouped into one message in the notes and summary.json; the alarm history that
    moto cannot answer is an INCONCLUSIVE, required row. `loadlens verdict` reads the logs again and
    gives the same count; with AWS unreachable it judges the run's own reading again."""
    load = LoadlensRun(
        tmp_path,
        logging_target.url,
        locustfile=LOCUSTFILES / "steady_get.py",
        config=CONFIG,
        users=3,
        run_time="5s",
        env=aws,
    )
    done = load.run(timeout_s=180)
    assert done.returncode == 1, done.tail()
    rows = done.criteria
    logs_row = rows[f"log errors ({GROUP})"]
    assert logs_row["status"] == "fail", logs_row
    assert 1 <= logs_row["observed"] <= logging_target.errors
    alarms_row = rows["CloudWatch alarms"]
    assert alarms_row["status"] == "inconclusive" and alarms_row["required"] is True
    doc = done.summary
    groups = doc["server"]["logs"]["groups"]
    assert [g["message"] for g in groups] == ["ERROR timeout after <n> ms for job <id>"]
    assert len(groups[0]["times"]) == logging_target.errors
    assert any(
        n.startswith(f"log errors in {GROUP}: {int(logs_row['observed'])} in the judged window")
        for n in doc["notes"]
    )
    assert any(n.startswith("log errors: ") and "ERROR timeout after" in n for n in doc["notes"])
    assert doc["server"]["alarms"]["failure"]

    again = loadlens_verdict(done.run_dir, cwd=tmp_path, config=load.config_path, env=aws)
    assert again.returncode == 1, again.stdout + again.stderr
    rejudged = criteria(summary(done.run_dir))[f"log errors ({GROUP})"]
    assert rejudged["observed"] == logs_row["observed"]

    # AWS unreachable now: the run's own reading is judged again, and a note says so.
    offline = {**aws, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    again = loadlens_verdict(done.run_dir, cwd=tmp_path, config=load.config_path, env=offline)
    assert again.returncode == 1, again.stdout + again.stderr
    doc = summary(done.run_dir)
    assert criteria(doc)[f"log errors ({GROUP})"]["observed"] == logs_row["observed"]
    assert any(n.startswith("application logs could not be read again") for n in doc["notes"])


@pytest.mark.parametrize(("group", "code", "words"), [(GROUP, 0, "exists"), ("/ecs/video-gne", 1, "no such")])
def test_cloudwatch_check_looks_for_the_log_group(
    tmp_path: Path, aws: dict[str, str], group: str, code: int, words: str
) -> None:
    """`loadlens cloudwatch check` with only a log group configured: one line for it, exit 1 when
    the group does not exist (a misspelt name would otherwise count nothing, silently)."""
    aws_stack.plain_session().client("logs").create_log_group(logGroupName=GROUP)
    config = tmp_path / "loadlens.toml"
    config.write_text(f'[cloudwatch]\nlog_group = "{group}"\n')
    proc = run(loadlens_cmd("cloudwatch", "check", "--loadlens-config", str(config)), cwd=tmp_path, env=aws)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert f"log group {group}: " in proc.stdout and words in proc.stdout
