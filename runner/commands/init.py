"""`loadlens init [--from RUN_DIR] [--force] [--output FILE]`: write a commented loadlens.toml.

Without ``--from`` the file holds the default criteria (error rate <= 1 %, server CPU <= 70 % and
memory <= 80 %: FAIL only above them) and every other section commented out, ready to fill in.
With ``--from RUN_DIR`` it proposes limits from a real run's judged window, so a team goes from "we
have a locustfile" to a gate in one step:

- latency: each endpoint's p95 and p99 (and those of all requests) times ``LATENCY_HEADROOM``,
  rounded up to a readable number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten); an
  endpoint with fewer requests than a percentile needs gets no latency limit, only its error rate;
- error rate: 1 % unless the run saw more (then its rate times the headroom, rounded up), per
  endpoint where an endpoint's own rate needs more than the global one;
- throughput: ``min_rps`` at half the run's rate, rounded down;
- ``[server]``: the product's limits (70 % / 80 %) when the run's peaks stay at or under them, else
  a limit just above the peak (the next multiple of 5, at most 100), with a comment saying it is
  above the default and why: at the default the run would fail its own gate. A local process past
  one core (over 100 %) gets that limit in ``[process]``, the one table that allows it;
- ``[cloudwatch]``: commented, filled from ``AWS_REGION``/``AWS_PROFILE`` and the run when known.

The proposal is then judged against the run it came from through the same path ``loadlens
verdict`` takes (the file is loaded as any loadlens.toml is); a row that would not pass is said on
stderr. Nothing is overwritten without ``--force``. The TOML is written by hand because it is a
commented document for people, which no TOML writer in the standard library produces.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from runner.commands.server_proposal import raised_line, rejudged_server_rows, server_lines, server_proposal
from runner.errors import UsageError
from runner.model import EndpointStats, RunRecord, Status
from runner.readings import Series
from runner.timefmt import span_utc

DEFAULT_FILE = "loadlens.toml"
LATENCY_HEADROOM = 1.5  # a proposed latency limit is the observed value times this, rounded up
ERROR_HEADROOM = 1.5
DEFAULT_ERROR_RATE = 0.01
RPS_FLOOR = 0.5  # min_rps is this share of the observed rate, rounded down
MIN_SAMPLES = 20  # runner.judge.client's default: fewer requests give no percentile
_READABLE = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def init_command(argv: Sequence[str], *, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    parser = _Parser(prog="loadlens init", description="write a commented loadlens.toml")
    parser.add_argument("--from", dest="run_dir", metavar="RUN_DIR", type=Path, default=None)
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.add_argument("-o", "--output", metavar="FILE", type=Path, default=Path(DEFAULT_FILE))
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(list(argv))
    target: Path = args.output
    if target.is_dir():
        raise UsageError(f"loadlens init: {target} is a directory: name the file with --output FILE")
    if target.exists() and not args.force:
        raise UsageError(f"loadlens init: {target} exists: pass --force to overwrite it")
    if args.run_dir is None:
        text = template(env=env)
    else:
        from runner.reports.load import load_summary

        record = load_summary(args.run_dir)
        text = propose(record, source=str(args.run_dir), env=env, target_dir=target.resolve().parent)
        for problem in check(record, text, env=env):
            err.write(f"loadlens init: warning: {problem}\n")
    _write(target, text)
    what = f"limits proposed from {args.run_dir}" if args.run_dir is not None else "the default criteria"
    out.write(
        f"wrote {target} ({what}); check it with `loadlens verdict RUN_DIR --loadlens-config {target}`\n"
    )
    return 0


def readable_up(value: float) -> float:
    """The smallest readable number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^n) >= ``value``."""
    if value <= 0:
        return 0.0
    exp = math.floor(math.log10(value))
    for step in _READABLE:
        candidate = _round(step * 10.0**exp)
        if candidate >= value:
            return candidate
    return _round(10.0 ** (exp + 1))  # pragma: no cover - 10 is in the list


def readable_down(value: float) -> float:
    """The largest readable number <= ``value`` (0 for 0)."""
    if value <= 0:
        return 0.0
    exp = math.floor(math.log10(value))
    for step in reversed(_READABLE):
        candidate = _round(step * 10.0**exp)
        if candidate <= value:
            return candidate
    return _round(10.0 ** (exp - 1) * 8)  # pragma: no cover - 1 is in the list


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else f"{value:g}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------
# The file


def template(*, env: Mapping[str, str]) -> str:
    """The commented file without a run: the default criteria and every section to fill in."""
    return "\n".join(
        [
            "# loadlens.toml: written by `loadlens init`. Every key: docs/configuration.md.",
            "# Precedence: this file < LOADLENS_<SECTION>_<KEY> variables < command-line flags.",
            "",
            "[run]",
            '# locustfile = "locustfile.py"',
            '# host = "https://staging.example.com"',
            '# scenario = "load"            # smoke, load, stress, spike, soak (`loadlens scenarios`)',
            '# warmup = "30s"               # left out of the judged window after the ramp-up',
            "",
            "[thresholds]",
            "# Judged on all requests together and on every endpoint (per_endpoint = true).",
            f"error_rate = {_num(DEFAULT_ERROR_RATE)}",
            "# p95_ms = 500",
            "# p99_ms = 1000",
            "# p90_ms, p999_ms, avg_ms, max_ms: more statistics of the same requests",
            "# min_rps = 10",
            "# expected_statuses = [429]    # answers that are not failures (a rate limiter's 429)",
            "# require_statuses = [429]     # ... and that must occur (the rate limiter is proven)",
            '# abort_after = "30s"          # stop early once a criterion here fails that long',
            "",
            '# [thresholds.endpoints."GET /health"]',
            "# p95_ms = 50",
            "",
            "# [thresholds.groups.auth]      # one row on the merged requests of the matching endpoints",
            '# match = "^POST /auth/"       # a regex on "METHOD name"',
            "# per_endpoint = false         # the group's endpoints get no row of their own",
            "# p95_ms = 300",
            "",
            "# [thresholds.groups.checkout]  # requests of these Users' tasks with these Locust tags",
            '# tags = ["checkout"]          # any of the @tag names of the running task',
            '# user_classes = ["Buyer"]     # any of these User classes (with match: all must hold)',
            "# error_rate = 0.001",
            "",
            "# [scenarios.smoke.thresholds]  # overrides [thresholds] when smoke runs",
            "# p95_ms = 200",
            "",
            *server_lines(()),
            "",
            *_cloudwatch_lines(None, env=env),
            "",
            "# Spike scenarios (a stage with recovery = true, as the built-in spike's last): p95 and",
            "# the error rate must be back near the pre-spike level this long after the spike.",
            "# [recovery]",
            '# recover_within = "60s"',
            "# p95_tolerance = 0.5           # p95 up to 1.5 x the pre-spike p95",
            "# error_rate_tolerance = 0.01   # error rate up to the pre-spike rate + 1 point",
            "# expect_scale_out = false      # true: ECS RunningTaskCount must rise and come back",
            "",
            "# [exporters.prometheus]",
            "# port = 9646                  # live /metrics for Prometheus and Grafana",
            "",
        ]
    )


def propose(record: RunRecord, *, source: str, env: Mapping[str, str], target_dir: Path | None = None) -> str:
    """A loadlens.toml whose limits the run in ``record`` passes with room to spare, to be written
    into ``target_dir`` (the current directory by default): the locustfile is named from there."""
    snap = record.judged
    apart = snap.expected_statuses
    total = snap.total()
    window = "steady state" if record.window_kind == "steady_state" else "whole run"
    lines = [
        f"# loadlens.toml: proposed by `loadlens init --from {source}`. Every key: docs/configuration.md.",
        f"# From run {record.info.run_id}: {total.count:,} requests in its judged window ({window},",
        f"# {span_utc(snap.start, snap.end)}). Latency limits are the observed value"
        f" x {LATENCY_HEADROOM:g} rounded up;",
        f"# min_rps is {RPS_FLOOR:g} x the observed rate rounded down. Tighten them to your targets.",
        "",
        "[run]",
    ]
    where = target_dir or Path.cwd()
    lines.append(_locustfile_line(record.info.locustfile, record.locustfile_path, target_dir=where))
    lines.append(_setting("host", record.info.host, redacted=True))
    lines.append(_scenario_line(record.info.scenario))
    lines += ["", "[thresholds]"]
    lines.append("# Endpoints are judged one by one only where a table below names them; set")
    lines.append("# per_endpoint = true to judge every new endpoint against the limits of this table too.")
    lines.append("per_endpoint = false")
    if apart:
        lines.append(f"expected_statuses = [{', '.join(str(s) for s in sorted(apart))}]")
    global_error = _error_limit(total, floor=DEFAULT_ERROR_RATE)
    lines += _latency_lines(total.excluding(apart))
    lines.append(f"error_rate = {_num(global_error)}")
    kept_count = total.excluding(apart).count
    if snap.duration_s > 0 and kept_count > 0:
        observed_rps = kept_count / snap.duration_s
        floor = readable_down(observed_rps * RPS_FLOOR)
        if floor > 0:
            lines.append(f"min_rps = {_num(floor)}             # observed {observed_rps:.3g}/s")
    for key in sorted(snap.endpoints, key=str):
        stats = snap.endpoints[key]
        if stats.count == 0:
            continue
        lines += ["", f"[thresholds.endpoints.{_quote(str(key))}]"]
        kept = stats.excluding(apart)
        latency = _latency_lines(kept)
        if latency:
            lines += latency
        else:
            lines.append(f"# {kept.count} requests: too few for a percentile (at least {MIN_SAMPLES})")
        lines.append(f"error_rate = {_num(_error_limit(stats, floor=global_error))}")
    own = _run_config(record)
    raw_process = own.get("process")
    own_process = raw_process if isinstance(raw_process, dict) else None
    server, process = server_proposal(record.verdict.results, own_process=own_process)
    lines += ["", *server_lines(record.verdict.results, proposed=server), ""]
    if own_process is not None or process:
        lines += ["[process]  # as the run had it" if own_process is not None else "[process]"]
        lines += _table_lines({k: v for k, v in (own_process or {}).items() if k not in process})
        lines += [raised_line(key, limit, peak) for key, (limit, peak) in process.items()]
        lines.append("")
    table = own.get("prometheus_source")
    if isinstance(table, dict):
        lines += ["[prometheus_source]  # as the run had it", *_table_lines(table), ""]
    lines += [*_cloudwatch_lines(record, env=env, own=own.get("cloudwatch")), ""]
    return "\n".join(lines)


def _run_config(record: RunRecord) -> dict[str, object]:
    """The run's own loadlens.toml as written (its source sections are carried over), if still there."""
    if not record.config_path:
        return {}
    try:
        with open(record.config_path, "rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _toml(value: object) -> str:
    """One TOML value: the types a loadlens.toml holds (text, numbers, booleans, lists, tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _num(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    return _quote(str(value))


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _quote(key)


def _table_lines(table: Mapping[str, object]) -> list[str]:
    return [f"{_key(k)} = {_toml(v)}" for k, v in table.items()]


def _setting(key: str, value: str, *, redacted: bool = False) -> str:
    if not value or (redacted and "***" in value):
        return f"# {key} = ..."
    return f"{key} = {_quote(value)}"


def _locustfile_line(name: str, path: str, *, target_dir: Path) -> str:
    """``[run] locustfile`` as `loadlens run` in ``target_dir`` will find it: each file the run used
    (``path``: -f as given, made absolute) relative to that folder when it lies inside it, else
    absolute. A summary without ``path`` (older ones) has only the file's name: written when that
    file is in ``target_dir``, else left commented, never a name that `loadlens run` cannot find."""
    if path:
        named = []
        for entry in path.split(","):
            if "://" in entry:
                named.append(entry)
                continue
            try:
                named.append(str(Path(entry).relative_to(target_dir)))
            except ValueError:  # outside the folder: the absolute path works from anywhere
                named.append(entry)
        return f"locustfile = {_quote(','.join(named))}"
    if not name:
        return "# locustfile = ..."
    if (target_dir / name).exists():
        return f"locustfile = {_quote(name)}"
    return f"# locustfile = {_quote(name)}  # the run's: not in this folder, give its path"


def _scenario_line(name: str) -> str:
    from runner.config.scenarios import BUILTIN

    if name in BUILTIN:
        return f"scenario = {_quote(name)}"
    if name and name != "adhoc":
        return f"# scenario = {_quote(name)}  (the run's own: copy its [scenarios.{name}] table here)"
    return '# scenario = "load"'


def _latency_lines(kept: EndpointStats) -> list[str]:
    if kept.count < MIN_SAMPLES:
        return []
    lines = []
    p95 = kept.quantile_ms(0.95)
    p99 = kept.quantile_ms(0.99)
    p95_limit = None
    if p95 is not None and p95 > 0:
        p95_limit = readable_up(p95 * LATENCY_HEADROOM)
        lines.append(f"p95_ms = {_num(p95_limit)}             # observed {p95:.4g} ms")
    if p99 is not None and p99 > 0:
        p99_limit = max(readable_up(p99 * LATENCY_HEADROOM), p95_limit or 0.0)
        lines.append(f"p99_ms = {_num(p99_limit)}             # observed {p99:.4g} ms")
    return lines


def _error_limit(stats: EndpointStats, *, floor: float) -> float:
    if stats.count == 0:
        return floor
    rate = stats.failures / stats.count
    return min(1.0, max(floor, readable_up(rate * ERROR_HEADROOM)))


def _cloudwatch_lines(record: RunRecord | None, *, env: Mapping[str, str], own: object = None) -> list[str]:
    """A commented [cloudwatch] block: the run's own settings when it had them, else what the
    environment (AWS_REGION, AWS_PROFILE) and the run's CloudWatch series tell, else placeholders."""
    table: dict[str, object] = {"correlate": True}
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    table["region"] = region or "us-east-1"
    if profile := env.get("AWS_PROFILE"):
        table["profile"] = profile
    known = _cloudwatch_resources(record.server if record is not None else ())
    table["ecs_cluster"] = known.get("ecs_cluster", "my-cluster")
    table["ecs_service"] = known.get("ecs_service", "my-service")
    table["rds_instance"] = known.get("rds_instance", "my-db")
    if isinstance(own, dict):
        table = {"correlate": True, **own}
    events = (  # application log errors and alarms: read whenever set
        ("log_group", '# log_group = "/ecs/my-service"   # count its error events in the judged window'),
        ("error_pattern", '# error_pattern = "?ERROR ?Exception ?Traceback"'),
        ("max_log_errors", "# max_log_errors = 0"),
        ("alarms", "# alarms = true                  # list alarms that entered ALARM during the run"),
        ("alarm_prefix", '# alarm_prefix = "my-service-"'),
        ("max_alarms", "# max_alarms = 0"),
    )
    return [
        "# Uncomment to pull ECS, RDS and ALB metrics for every run (`loadlens cloudwatch check` first).",
        "# [cloudwatch]",
        *(line for key, line in events if key not in table),
        *(f"# {line}" for line in _table_lines(table)),
    ]


def _cloudwatch_resources(series: Iterable[Series]) -> dict[str, str]:
    """ECS cluster/service and RDS instance names read back from a run's CloudWatch series
    (resources are named ``ecs:cluster/service`` and ``rds:instance``)."""
    found: dict[str, str] = {}
    for s in series:
        if s.source != "cloudwatch":
            continue
        kind, _, name = s.resource.partition(":")
        if kind == "ecs" and "/" in name:
            cluster, _, service = name.partition("/")
            found.setdefault("ecs_cluster", cluster)
            found.setdefault("ecs_service", service)
        elif kind == "rds" and name:
            found.setdefault("rds_instance", name)
    return found


# ---------------------------------------------------------------------------------------------
# The check


def check(record: RunRecord, text: str, *, env: Mapping[str, str]) -> list[str]:
    """Judge the run against the proposed file; one sentence per criterion that would not pass."""
    from runner.config.load import load_config
    from runner.judge.client import judge_client

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / DEFAULT_FILE
        path.write_text(text, encoding="utf-8")
        cfg = load_config(path, env={k: v for k, v in env.items() if not k.startswith("LOADLENS_")})
    rows = judge_client(record.judged, cfg.thresholds_for(record.info.scenario))
    problems = [
        f"{r.name}: {r.status.value.upper()} under the proposed limits ({r.reason})"
        for r in rows
        if r.status is not Status.PASS
    ]
    problems += [
        f"{r.name}: {r.status.value.upper()} under the proposed limits ({r.reason})"
        for r in rejudged_server_rows(record, cfg)
        if r.status is Status.FAIL
    ]
    return problems
