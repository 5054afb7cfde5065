"""``loadlens cloudwatch check``: prove, before a run, that CloudWatch correlation will work.

Checks, in order: the credentials (STS GetCallerIdentity), that the ECS service, the RDS instance or
cluster and the load balancer exist (which also proves the Describe permissions), that
GetMetricData is allowed, and that every configured metric has datapoints in the last
``lookback_s``. A failed credentials check skips the rest: nothing else can work without them.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass

from runner.errors import SourceError
from runner.readings import Missing
from runner.sources.aws import AwsApi
from runner.sources.cloudwatch import CloudWatchSource
from runner.sources.cloudwatch_catalog import CloudWatchTarget, Discovery, MetricQuery
from runner.sources.discovery import describe_service, discover


class CheckStatus(enum.Enum):
    """How one preflight check came out."""

    OK = "ok"
    WARN = "warn"  # works, but the run may lack something (e.g. no traffic, so no ALB datapoints)
    FAIL = "fail"
    SKIP = "skip"  # not tried, because an earlier check it depends on failed


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One preflight check: what was checked, how it came out, and a one-line detail."""

    name: str
    status: CheckStatus
    detail: str

    @property
    def ok(self) -> bool:
        """True for OK and WARN: nothing here stops a run."""
        return self.status in (CheckStatus.OK, CheckStatus.WARN)


def preflight(
    target: CloudWatchTarget,
    *,
    api: AwsApi,
    clock: Callable[[], float] = time.time,
    lookback_s: float = 3600.0,
) -> list[CheckResult]:
    """Every check for ``target``, in order; never raises ``SourceError`` (failures are results)."""
    out: list[CheckResult] = []
    try:
        me = api.call("sts", "get_caller_identity")
        out.append(
            CheckResult(
                "credentials",
                CheckStatus.OK,
                f"{me.get('Arn', '?')} (account {me.get('Account', '?')}), region {api.region}",
            )
        )
    except SourceError as exc:
        out.append(CheckResult("credentials", CheckStatus.FAIL, str(exc)))
        out.append(CheckResult("everything else", CheckStatus.SKIP, "skipped: no usable credentials"))
        return out

    if target.ecs_cluster and target.ecs_service:
        out.append(_ecs_check(api, target.ecs_cluster, target.ecs_service))
    if target.rds_instance:
        out.append(_rds_check(api, "instance", target.rds_instance))
    if target.rds_cluster:
        out.append(_rds_check(api, "cluster", target.rds_cluster))

    discovery = Discovery()
    if target.load_balancer or target.target_groups or target.ecs_service:
        try:
            discovery = discover(target, api=api)
            found = "; ".join(discovery.lines())
            status = CheckStatus.OK if discovery.load_balancers else CheckStatus.WARN
            if not discovery.load_balancers:
                found += ": ALB metrics will not be read"
            out.append(CheckResult("load balancer", status, found))
        except SourceError as exc:
            out.append(CheckResult("load balancer", CheckStatus.FAIL, str(exc)))

    out.extend(_metric_checks(target, api=api, discovery=discovery, clock=clock, lookback_s=lookback_s))
    return out


def _ecs_check(api: AwsApi, cluster: str, service: str) -> CheckResult:
    name = f"ECS service {cluster}/{service}"
    try:
        desc = describe_service(api, cluster, service)
    except SourceError as exc:
        return CheckResult(name, CheckStatus.FAIL, str(exc))
    running, desired = desc.get("runningCount", 0), desc.get("desiredCount", 0)
    detail = f"{desc.get('status', '?')}, {running} of {desired} tasks running"
    return CheckResult(name, CheckStatus.OK if running else CheckStatus.WARN, detail)


def _rds_check(api: AwsApi, kind: str, ident: str) -> CheckResult:
    name = f"RDS {kind} {ident}"
    if kind == "instance":
        operation, param, key, status_key = (
            "describe_db_instances",
            "DBInstanceIdentifier",
            "DBInstances",
            "DBInstanceStatus",
        )
    else:
        operation, param, key, status_key = (
            "describe_db_clusters",
            "DBClusterIdentifier",
            "DBClusters",
            "Status",
        )
    try:
        found = api.call("rds", operation, {param: ident}, what=f"RDS {kind} {ident!r}").get(key, [])
    except SourceError as exc:
        return CheckResult(name, CheckStatus.FAIL, str(exc))
    if not found:
        return CheckResult(name, CheckStatus.FAIL, f"RDS {kind} {ident!r} not found in region {api.region}")
    detail = ", ".join(str(found[0][k]) for k in (status_key, "Engine") if found[0].get(k))
    return CheckResult(name, CheckStatus.OK, detail or "exists")


def _metric_checks(
    target: CloudWatchTarget,
    *,
    api: AwsApi,
    discovery: Discovery,
    clock: Callable[[], float],
    lookback_s: float,
) -> list[CheckResult]:
    source = CloudWatchSource(
        dataclasses.replace(target, preroll_s=0.0), api=api, discovery=discovery, clock=clock
    )
    now = clock()
    try:
        result = source.fetch(now - lookback_s, now)
    except SourceError as exc:
        return [CheckResult("cloudwatch:GetMetricData", CheckStatus.FAIL, str(exc))]
    out = [CheckResult("cloudwatch:GetMetricData", CheckStatus.OK, "allowed")]
    span = f"the last {lookback_s / 60:.0f} min"
    found = {(s.resource, s.metric, s.stat): s for s in result.series}
    lacking = {(m.resource, m.metric, m.stat): m for m in result.missing}
    groups: dict[str, list[MetricQuery]] = {}
    for q in source.queries():  # one check per metric; its statistics share the datapoints
        groups.setdefault(q.what, []).append(q)
    for what, queries in groups.items():
        have = [found[k] for k in (_key(q) for q in queries) if k in found]
        gone = [(q, lacking[_key(q)]) for q in queries if _key(q) not in found]
        failed = [(q, m) for q, m in gone if m.failed]
        seen = ""
        if have:
            last = max(s.points[-1][0] for s in have)
            n = max(len(s.points) for s in have)
            seen = f"{n} datapoints in {span}, the last {max(0.0, now - last) / 60:.0f} min ago"
        if failed:
            q, m = failed[0]
            stats = ", ".join(q.stat for q, _ in failed)
            why = m.reason.replace(f" {q.label}", "")
            out.append(
                CheckResult(
                    f"metric {what}", CheckStatus.WARN, "; ".join(filter(None, [seen, f"{stats}: {why}"]))
                )
            )
        elif have:
            out.append(CheckResult(f"metric {what}", CheckStatus.OK, seen))
        elif queries[0].zero_when_missing and gone:
            out.append(_zero_check(what, gone[0][1], span))
        elif queries[0].sparse:
            out.append(
                CheckResult(
                    f"metric {what}", CheckStatus.OK, f"none in {span} (published only when non-zero)"
                )
            )
        elif queries[0].needs_traffic:
            detail = f"no datapoints in {span}: fine without requests, else check the names and the region"
            out.append(CheckResult(f"metric {what}", CheckStatus.WARN, detail))
        else:
            detail = f"no datapoints in {span}: check the names and the region"
            out.append(CheckResult(f"metric {what}", CheckStatus.FAIL, detail))
    return out


def _zero_check(what: str, gone: Missing, span: str) -> CheckResult:
    """A ``missing = "zero"`` metric without recent datapoints: fine when CloudWatch lists it."""
    if gone.exists:
        return CheckResult(
            f"metric {what}", CheckStatus.OK, f"exists, no recent datapoints (counted as 0): none in {span}"
        )
    return CheckResult(f"metric {what}", CheckStatus.FAIL, gone.reason)


def _key(q: MetricQuery) -> tuple[str, str, str]:
    return (q.resource, q.metric, q.stat)
