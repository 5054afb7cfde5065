"""The CloudWatch source: ECS, RDS and ALB metrics, and the user's [[server.metrics]], for a test
window, in as few calls as possible.

All queries go into GetMetricData, up to 500 a call (each with its own period: a
[[server.metrics]] may set one), through boto3's paginator. The window is
aligned to the period and starts ``preroll_s`` early (an idle baseline: ``base.baseline_points``
separates it). Retries are botocore's (see ``aws.AwsApi``). The one thing botocore cannot do: a
call that still fails on the AWS side (moto answers HTTP 500 for any percentile statistic,
failing the whole batch) is split: the basic statistics again in one call, then each extended
statistic alone; what still fails becomes a ``Missing`` with the reason, and the rest is kept.
A ``missing = "zero"`` metric without datapoints is looked up once with ListMetrics: whether
CloudWatch lists it is the ``Missing``'s ``exists`` (the judge counts it as 0 only then).

CloudWatch publishes a period's datapoint a minute or more after the period ends:
``wait_settled`` re-fetches until the last period has arrived for every metric that is published
regularly, or ``settle_s`` ran out. Clock and sleep are constructor arguments.

The calls block on (gevent-patched, under Locust) sockets: call ``fetch`` from a greenlet, never
from a request handler.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from runner.errors import SourceError
from runner.readings import Missing, Series
from runner.sources.aws import AwsApi, AwsServerError
from runner.sources.base import SourceResult, align_down, align_up
from runner.sources.cloudwatch_catalog import CloudWatchTarget, Discovery, MetricQuery, build_queries
from runner.sources.discovery import discover

MAX_QUERIES_PER_CALL = 500


@dataclass(frozen=True, slots=True)
class SettleProgress:
    """One round of ``wait_settled``: which series still lack the last period, and the time left."""

    attempt: int
    elapsed_s: float
    remaining_s: float
    pending: tuple[str, ...]  # labels, e.g. "AWS/ECS CPUUtilization ClusterName=c ServiceName=s (Average)"
    settled: bool

    @property
    def message(self) -> str:
        """One line for the console."""
        if self.settled:
            return f"CloudWatch: every series has its last period (after {self.elapsed_s:.0f} s)"
        if self.remaining_s <= 0:
            return (
                f"CloudWatch: gave up waiting after {self.elapsed_s:.0f} s; "
                f"{len(self.pending)} series lack the last period: {_first(self.pending)}"
            )
        return (
            f"CloudWatch: waiting for {len(self.pending)} series to publish the last period "
            f"({_first(self.pending)}), {self.remaining_s:.0f} s left"
        )


def _first(labels: Sequence[str], n: int = 2) -> str:
    shown = ", ".join(labels[:n])
    return shown + (f" and {len(labels) - n} more" if len(labels) > n else "")


@dataclass(frozen=True, slots=True)
class _Outcome:
    points: tuple[tuple[float, float], ...] = ()
    failure: str = ""


class CloudWatchSource:
    """Reads the target's metrics from CloudWatch (a ``MetricSource``).

    ``discovery``: what ``discover`` found, when the caller already has it; otherwise discovery runs
    on the first ``fetch`` (or when ``discover()`` is called: do it before the run to print it).
    """

    name = "cloudwatch"

    def __init__(
        self,
        target: CloudWatchTarget,
        *,
        api: AwsApi,
        discovery: Discovery | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_queries_per_call: int = MAX_QUERIES_PER_CALL,
    ) -> None:
        self._target = target
        self._api = api
        self._discovery = discovery
        self._clock = clock
        self._sleep = sleep
        self._per_call = max(1, min(max_queries_per_call, MAX_QUERIES_PER_CALL))
        self._listed: dict[str, bool | str] = {}  # ListMetrics' answer per metric, once per run

    @property
    def target(self) -> CloudWatchTarget:
        """What this source watches."""
        return self._target

    def discover(self) -> Discovery:
        """The load balancers and target groups read (found once, then remembered)."""
        if self._discovery is None:
            self._discovery = discover(self._target, api=self._api)
        return self._discovery

    def queries(self) -> tuple[MetricQuery, ...]:
        """Every metric and statistic this source reads."""
        return build_queries(self._target, self.discover())

    def window(self, start: float, end: float) -> tuple[float, float]:
        """The span actually queried for ``[start, end]``: pre-roll added, aligned to the longest
        period read (a [[server.metrics]] may read a longer one than the target's)."""
        period = max([self._target.period_s, *(m.period_s or 0.0 for m in self._target.metrics)])
        q_start = align_down(start - self._target.preroll_s, period)
        q_end = max(align_up(end, period), q_start + period)
        return q_start, q_end

    def fetch(self, start: float, end: float) -> SourceResult:
        """Every metric over ``[start, end]`` plus the pre-roll before ``start``."""
        return self._assemble(*self._collect(start, end))

    def wait_settled(
        self,
        start: float,
        end: float,
        *,
        settle_s: float,
        poll_s: float = 20.0,
        on_progress: Callable[[SettleProgress], None] | None = None,
    ) -> SourceResult:
        """Fetch until every regularly published metric has its last period, or ``settle_s`` ran out.

        Sparse metrics (5xx counts, published only when non-zero) and metrics CloudWatch refused
        are not waited for. Returns the last fetch either way; what is still absent is in
        ``missing`` (or shows as a series ending early). ``on_progress`` hears every round.
        """
        began = self._clock()
        deadline = began + settle_s
        attempt = 0
        while True:
            attempt += 1
            queries, outcomes = self._collect(start, end)
            pending = tuple(
                q.label
                for q, o in zip(queries, outcomes, strict=True)
                if not q.sparse
                and not q.zero_when_missing
                and not o.failure
                and not any(t >= self._last_period(q, end) for t, _ in o.points)
            )
            now = self._clock()
            remaining = deadline - now
            settled = not pending
            if on_progress is not None:
                on_progress(
                    SettleProgress(
                        attempt=attempt,
                        elapsed_s=now - began,
                        remaining_s=max(0.0, remaining),
                        pending=pending,
                        settled=settled,
                    )
                )
            if settled or remaining <= 0:
                return self._assemble(queries, outcomes)
            self._sleep(min(poll_s, remaining))

    # -- internals -------------------------------------------------------------------------------

    def _period_s(self, q: MetricQuery) -> float:
        return q.period_s or self._target.period_s

    def _last_period(self, q: MetricQuery, end: float) -> float:
        period = self._period_s(q)
        return align_up(end, period) - period

    def _collect(self, start: float, end: float) -> tuple[tuple[MetricQuery, ...], list[_Outcome]]:
        queries = self.queries()
        q_start, q_end = self.window(start, end)
        outcomes = [_Outcome() for _ in queries]
        for i in range(0, len(queries), self._per_call):
            batch = list(range(i, min(i + self._per_call, len(queries))))
            self._fetch_batch(queries, batch, q_start, q_end, outcomes)
        return queries, outcomes

    def _fetch_batch(
        self,
        queries: Sequence[MetricQuery],
        batch: list[int],
        q_start: float,
        q_end: float,
        outcomes: list[_Outcome],
    ) -> None:
        try:
            found = self._get_metric_data(queries, batch, q_start, q_end)
        except AwsServerError as exc:
            if len(batch) == 1:
                outcomes[batch[0]] = _Outcome(failure=str(exc))
                return
            extended = [i for i in batch if queries[i].extended]
            basic = [i for i in batch if not queries[i].extended]
            if not extended:
                raise
            # One extended statistic the service cannot answer fails the whole call (moto's 500):
            # the basic ones together again, then each extended one alone.
            parts = ([basic] if basic else []) + [[i] for i in extended]
            for part in parts:
                self._fetch_batch(queries, part, q_start, q_end, outcomes)
            return
        for i, outcome in found.items():
            outcomes[i] = outcome

    def _get_metric_data(
        self, queries: Sequence[MetricQuery], batch: list[int], q_start: float, q_end: float
    ) -> dict[int, _Outcome]:
        params = {
            "MetricDataQueries": [
                _query(f"q{i}", queries[i], int(self._period_s(queries[i]))) for i in batch
            ],
            "StartTime": dt.datetime.fromtimestamp(q_start, dt.UTC),
            "EndTime": dt.datetime.fromtimestamp(q_end, dt.UTC),
            "ScanBy": "TimestampAscending",
        }
        points: dict[int, dict[float, float]] = {i: {} for i in batch}
        problems: dict[int, str] = {}
        for page in self._api.pages("cloudwatch", "get_metric_data", params):
            for r in page.get("MetricDataResults", []):
                i = int(str(r["Id"])[1:])
                if i not in points:
                    continue
                for ts, value in zip(r.get("Timestamps", []), r.get("Values", []), strict=False):
                    points[i][_epoch(ts)] = float(value)
                if r.get("StatusCode") in {"InternalError", "Forbidden"}:
                    text = (
                        "; ".join(str(m.get("Value", "")) for m in r.get("Messages", [])) or r["StatusCode"]
                    )
                    problems[i] = f"CloudWatch answered {r['StatusCode']}: {text}"
        out = {}
        for i in batch:
            pts = tuple(sorted(points[i].items()))
            out[i] = _Outcome(points=pts, failure="" if pts else problems.get(i, ""))
        return out

    def _assemble(self, queries: Sequence[MetricQuery], outcomes: Sequence[_Outcome]) -> SourceResult:
        series: list[Series] = []
        missing: list[Missing] = []
        for q, o in zip(queries, outcomes, strict=True):
            if o.points:
                series.append(
                    Series(
                        source=self.name,
                        resource=q.resource,
                        metric=q.metric,
                        stat=q.stat,
                        unit=q.unit,
                        points=o.points,
                        period_s=float(self._period_s(q)),
                    )
                )
                continue
            if o.failure:
                reason = f"CloudWatch could not answer {q.label}: {o.failure}"
            elif q.sparse:
                reason = f"no datapoints for {q.what}: CloudWatch publishes it only when non-zero"
            elif q.needs_traffic:
                reason = (
                    f"no datapoints for {q.what}: no requests reached it, or check the names and the region"
                )
            else:
                reason = f"no datapoints for {q.what}: check the names and the region"
            exists: bool | None = None
            if q.zero_when_missing and not o.failure:
                exists, reason = self._exists(q)
            missing.append(
                Missing(
                    source=self.name,
                    resource=q.resource,
                    metric=q.metric,
                    stat=q.stat,
                    what=q.what,
                    reason=reason,
                    sparse=(q.sparse or bool(exists)) and not o.failure,
                    failed=bool(o.failure),
                    exists=exists,
                    period_s=float(self._period_s(q)) if exists else None,
                )
            )
        return SourceResult(series=tuple(series), missing=tuple(missing))

    def _exists(self, q: MetricQuery) -> tuple[bool | None, str]:
        """Whether CloudWatch lists ``q``'s metric with exactly its dimensions, and the reason to
        show. Asked once per source (per run): the answer, or why ListMetrics failed, is kept."""
        if q.what not in self._listed:
            try:
                self._listed[q.what] = metric_listed(self._api, q)
            except SourceError as exc:
                self._listed[q.what] = str(exc)
        listed = self._listed[q.what]
        if listed is True:
            return True, f'no datapoints for {q.what}: counted as 0 (missing = "zero"), metric exists'
        if listed is False:
            return False, (
                f"{q.what} not found in CloudWatch: check the namespace, metric name and dimensions "
                '(missing = "zero" counts no data as 0 only for a metric CloudWatch lists)'
            )
        return None, (
            f'no datapoints for {q.what}, and cannot check that it exists (missing = "zero"): {listed}'
        )


def metric_listed(api: AwsApi, q: MetricQuery) -> bool:
    """Whether ListMetrics lists the metric with exactly ``q``'s dimensions (CloudWatch keeps a
    metric listed about two weeks after its last datapoint). ListMetrics' Dimensions filter also
    matches metrics with more dimensions, which GetMetricData would not read: compared here."""
    params = {
        "Namespace": q.namespace,
        "MetricName": q.metric,
        "Dimensions": [{"Name": k, "Value": v} for k, v in q.dimensions],
    }
    want = set(q.dimensions)
    for page in api.pages("cloudwatch", "list_metrics", params, max_pages=20):
        for m in page.get("Metrics", []):
            dims = {(str(d.get("Name")), str(d.get("Value"))) for d in m.get("Dimensions", [])}
            if dims == want:
                return True
    return False


def _query(query_id: str, q: MetricQuery, period_s: int) -> dict[str, Any]:
    # No Unit in the query: CloudWatch returns nothing when a unit is given and differs.
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": q.namespace,
                "MetricName": q.metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in q.dimensions],
            },
            "Period": period_s,
            "Stat": q.stat,
        },
        "ReturnData": True,
    }


def _epoch(ts: Any) -> float:
    if isinstance(ts, dt.datetime):
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=dt.UTC)
        return float(ts.timestamp())
    return float(ts)
