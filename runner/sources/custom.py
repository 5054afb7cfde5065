"""Server metrics the user names as criteria: the ``[[server.metrics]]`` tables of loadlens.toml.

Each is any CloudWatch metric (``namespace``, ``metric``, ``dimensions``, ``stat``, ``period``) or
a PromQL ``query``, with a ``max`` and/or ``min``. The CloudWatch ones go into the CloudWatch
source's one batched GetMetricData beside the built-in ECS/RDS/ALB queries, the query ones into
the Prometheus source; runner.judge.server_metrics judges them on whole periods of the window.

Pure data (no boto3, no HTTP): the config, the sources, the judge and the exporters import it.
A series read for one of them has the resource ``metric:<name>`` (CloudWatch) or
``metric:<name>{labels}`` (Prometheus): ``runner.model.custom_metric_name`` reads the name back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from runner.config.rules import Rule, choice, cloudwatch_period, number, text
from runner.errors import ConfigError
from runner.readings import CUSTOM_RESOURCE

BASIC_STATS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")
_PERCENTILE = re.compile(r"p(\d{1,2}(\.\d+)?|100)")
STAT_EXPECTED = "Average, Sum, Minimum, Maximum, SampleCount or a percentile such as p95 or p99.9"


class ServerMetricError(ConfigError, ValueError):
    """A ``[[server.metrics]]`` table whose keys do not make one criterion (a ValueError too, so
    the config loader reports it with the file and key like any other problem)."""


def is_statistic(stat: str) -> bool:
    """One of CloudWatch's five basic statistics, or a percentile ``pNN`` / ``pNN.N``."""
    return stat in BASIC_STATS or bool(_PERCENTILE.fullmatch(stat))


def _statistic(value: str) -> str:
    if not is_statistic(value):
        raise ValueError("not a statistic")
    return value


def _pairs(value: object) -> tuple[tuple[str, str], ...]:
    # Held as (name, value) pairs in the order written: hashable, and copied like any tuple.
    if not isinstance(value, Mapping):
        raise ValueError("not a table")
    if not all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()):
        raise ValueError("not text")
    return tuple(value.items())


@dataclass(frozen=True, slots=True)
class ServerMetric:
    """One ``[[server.metrics]]`` table: a metric, where to read it, and its limit(s).

    ``stat`` defaults to Average (CloudWatch only: a query aggregates in PromQL); ``period_s`` to
    the [cloudwatch] period. ``max``: FAIL when a whole period inside the window is above it;
    ``min``: FAIL when one is below it. At least one of the two. ``missing``: "inconclusive"
    (default: no datapoints is never a pass) or "zero" (see ``zero_when_missing``).
    """

    __pydantic_config__ = {"extra": "forbid", "alias_generator": lambda name: name.removesuffix("_s")}

    name: Annotated[str | None, text()] = None
    namespace: Annotated[str | None, text()] = None
    metric: Annotated[str | None, text()] = None
    dimensions: Annotated[
        tuple[tuple[str, str], ...], Rule("a table of dimension names to text values", convert=_pairs)
    ] = ()
    stat: Annotated[
        str | None, Rule(STAT_EXPECTED, native=("str", {"strict": True}), convert=_statistic, textual=True)
    ] = None
    max: Annotated[float | None, number()] = None
    min: Annotated[float | None, number()] = None
    period_s: Annotated[float | None, cloudwatch_period()] = None
    query: Annotated[str | None, text(expected="a PromQL query")] = None
    missing: Annotated[str, choice("inconclusive", "zero")] = "inconclusive"

    def __post_init__(self) -> None:
        if not self.name:
            raise ServerMetricError('every [[server.metrics]] table needs a name, e.g. name = "Redis CPU"')
        it = f'server metric "{self.name}"'
        cloudwatch = bool(self.namespace or self.metric or self.dimensions)
        if self.query and cloudwatch:
            raise ServerMetricError(
                f"{it}: give query (Prometheus) or namespace and metric (CloudWatch), not both"
            )
        if not self.query and not (self.namespace and self.metric):
            raise ServerMetricError(f"{it}: give namespace and metric (CloudWatch) or query (Prometheus)")
        if self.query and (self.stat is not None or self.period_s is not None):
            raise ServerMetricError(
                f"{it}: stat and period apply to CloudWatch metrics; a query aggregates in PromQL "
                "and is read every [prometheus_source] step"
            )
        if self.query and self.missing != "inconclusive":
            raise ServerMetricError(
                f"{it}: missing applies to CloudWatch metrics; with a query, count no data as 0 "
                "in PromQL: (QUERY) or vector(0)"
            )
        if self.max is None and self.min is None:
            raise ServerMetricError(f"{it}: give max or min (the limit it is judged by)")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ServerMetricError(f"{it}: min ({self.min:g}) is above max ({self.max:g})")

    @property
    def zero_when_missing(self) -> bool:
        """``missing = "zero"``: periods without datapoints count as 0 once CloudWatch lists the
        metric (as an alarm's ``TreatMissingData``): for counts published only when non-zero."""
        return self.missing == "zero"

    @property
    def source(self) -> str:
        """The source that reads it: "prometheus" for a query, else "cloudwatch"."""
        return "prometheus" if self.query else "cloudwatch"

    @property
    def statistic(self) -> str:
        """The CloudWatch statistic read (Average when not given); "value" for a query."""
        return "value" if self.query else (self.stat or "Average")

    @property
    def resource(self) -> str:
        """The resource of its series: ``metric:<name>`` (a query's add their labels)."""
        return f"{CUSTOM_RESOURCE}{self.name}"

    @property
    def what(self) -> str:
        """What is read: ``AWS/ElastiCache CPUUtilization CacheClusterId=c (Maximum)`` or the query."""
        if self.query:
            return f"Prometheus query {self.query}"
        dims = "".join(f" {k}={v}" for k, v in self.dimensions)
        return f"{self.namespace} {self.metric}{dims} ({self.statistic})"
