"""Application log errors during a run: CloudWatch Logs FilterLogEvents on ``[cloudwatch] log_group``.

A load test that keeps its latency while the service logs a stack trace a second has not passed;
the count of events matching ``error_pattern`` is judged like any criterion (runner.judge.logs).
CloudWatch does the matching (the pattern is its own filter syntax, passed through as written);
here the events are read page by page through boto3's paginator and grouped by their text with
digits and ids normalised, so ``timeout after 1203 ms for job 9f1c…`` and ``timeout after 877 ms
for job 02ab…`` are one line of the verdict.

Bounded: at most ``max_events`` events and ``max_pages`` pages are read; past either the reading
stops and says so (``LogReading.capped``), and the judge treats the count as a lower bound. Every
AWS failure becomes ``LogReading.failure`` (an INCONCLUSIVE row), never an exception that would
cost the run its verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runner.errors import SourceError
from runner.readings import LogGroup, LogReading

if TYPE_CHECKING:
    from runner.sources.aws import AwsApi
    from runner.sources.preflight import CheckResult

DEFAULT_PATTERN = "?ERROR ?Exception ?Traceback"
_EXAMPLE_CHARS = 200
# Most specific first: a UUID, then long hex ids (request ids, hashes), then any run of digits.
_NORMALISE = (
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<id>"),
    (re.compile(r"\b(?:0x)?(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b"), "<id>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>"),
)


@dataclass(frozen=True, slots=True)
class LogsPlan:
    """What to read: the log group, CloudWatch's filter pattern, and the caps that bound the read."""

    log_group: str
    pattern: str = DEFAULT_PATTERN
    max_events: int = 1000
    max_pages: int = 100


def normalise(message: str) -> str:
    """``message`` with ids and numbers replaced and whitespace squeezed: what groups alike events."""
    text = " ".join(message.split())
    for pattern, placeholder in _NORMALISE:
        text = pattern.sub(placeholder, text)
    return text[:_EXAMPLE_CHARS]


def read_log_errors(api: AwsApi, plan: LogsPlan, *, start: float, end: float) -> LogReading:
    """The events of ``plan.log_group`` matching ``plan.pattern`` between ``start`` and ``end``
    (epoch seconds), grouped, most frequent first; a failed read is a reading with ``failure``."""
    params = {
        "logGroupName": plan.log_group,
        "startTime": int(start * 1000),
        "endTime": int(end * 1000),
        "filterPattern": plan.pattern,
        "PaginationConfig": {"PageSize": min(10_000, max(1, plan.max_events))},
    }
    times: dict[str, list[float]] = {}
    examples: dict[str, str] = {}
    read = 0
    capped: str | None = None
    try:
        pages = api.pages(
            "logs",
            "filter_log_events",
            params,
            what=f"CloudWatch Logs group {plan.log_group!r}",
            max_pages=plan.max_pages + 1,
        )
        for n, page in enumerate(pages, start=1):
            if n > plan.max_pages:
                capped = f"stopped after {plan.max_pages} pages of FilterLogEvents"
                break
            for event in page.get("events", ()):
                if read >= plan.max_events:
                    capped = f"stopped after {plan.max_events} events (max_log_events)"
                    break
                read += 1
                raw = str(event.get("message", "")).strip()
                key = normalise(raw)
                times.setdefault(key, []).append(float(event.get("timestamp", 0)) / 1000.0)
                examples.setdefault(key, raw[:_EXAMPLE_CHARS])
            if capped is not None:
                break
    except SourceError as exc:
        return LogReading(log_group=plan.log_group, pattern=plan.pattern, failure=str(exc))
    groups = sorted(
        (LogGroup(message=k, example=examples[k], times=tuple(sorted(t))) for k, t in times.items()),
        key=lambda g: (-len(g.times), g.message),
    )
    return LogReading(log_group=plan.log_group, pattern=plan.pattern, groups=tuple(groups), capped=capped)


def log_group_exists(api: AwsApi, log_group: str) -> bool:
    """True when ``log_group`` exists (DescribeLogGroups by prefix, one call)."""
    answer = api.call(
        "logs", "describe_log_groups", {"logGroupNamePrefix": log_group, "limit": 50}, what=log_group
    )
    return any(g.get("logGroupName") == log_group for g in answer.get("logGroups", ()))


def log_group_check(api: AwsApi, log_group: str) -> CheckResult:
    """`loadlens cloudwatch check`'s line for ``[cloudwatch] log_group``: one cheap call that
    catches a misspelt group or a missing permission before a run counts nothing."""
    from runner.sources.preflight import CheckResult, CheckStatus  # imports botocore: only when checking

    name = f"log group {log_group}"
    try:
        found = log_group_exists(api, log_group)
    except SourceError as exc:
        return CheckResult(name, CheckStatus.FAIL, str(exc))
    if not found:
        return CheckResult(
            name, CheckStatus.FAIL, "no such CloudWatch Logs group: check the name and the region"
        )
    return CheckResult(name, CheckStatus.OK, "exists; errors matching error_pattern will be counted")
