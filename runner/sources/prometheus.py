"""The Prometheus source: named PromQL queries evaluated over the test window (``query_range``).

For teams on Kubernetes, or anything with node-exporter / cAdvisor: each configured query
(``name = PromQL``) becomes one ``Series`` per result series, ``metric`` = the query's name,
``resource`` = the result's labels (``{instance="…",job="…"}``), ``stat`` = "value", ``period_s`` =
the step. Queries named ``cpu_percent`` and ``memory_percent`` are judged against the ``[server]``
limits by ``runner.judge.server``. The ``query`` of each ``[[server.metrics]]`` is read the same way,
its series' resource prefixed ``metric:<name>`` (``metric:<name>{job="api"}``) so that it is judged
as that criterion and nothing else.

HTTP through the standard library (urllib); under Locust its sockets are gevent-patched, so a
fetch from a greenlet does not stall the users.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from runner.errors import SourceError, SourcePermissionError, SourceUnavailableError
from runner.readings import Missing, Series
from runner.sources.base import SourceResult, align_down
from runner.sources.custom import ServerMetric

MAX_POINTS = 11_000  # Prometheus refuses a range query with more points per series than this
_UNITS = (("_percent", "Percent"), ("_bytes", "Bytes"), ("_seconds", "Seconds"))


class PrometheusSource:
    """Evaluates ``queries`` ({name: PromQL}) against the Prometheus at ``url`` (a ``MetricSource``).

    ``step_s`` is the resolution (raised when a long window would pass Prometheus's 11,000 points
    per series); ``preroll_s`` reads an idle baseline before the start; at most ``max_series`` series
    are kept per query (aggregate in PromQL, e.g. ``max by (pod) (...)``, to choose which);
    ``headers`` are sent with every request (e.g. an Authorization header).
    """

    name = "prometheus"

    def __init__(
        self,
        url: str,
        queries: Mapping[str, str],
        *,
        step_s: float = 15.0,
        preroll_s: float = 0.0,
        timeout_s: float = 10.0,
        max_series: int = 50,
        headers: Mapping[str, str] | None = None,
        metrics: Sequence[ServerMetric] = (),
    ) -> None:
        if step_s <= 0:
            raise SourceError(f"Prometheus step {step_s}s must be positive")
        if not queries and not metrics:
            raise SourceError("the Prometheus source has no queries: add [prometheus_source.queries]")
        self._metrics = tuple(m for m in metrics if m.query)
        self._url = url.rstrip("/")
        self._queries = dict(queries)
        self._step_s = float(step_s)
        self._preroll_s = preroll_s
        self._timeout_s = timeout_s
        self._max_series = max_series
        self._headers = dict(headers or {})

    def fetch(self, start: float, end: float) -> SourceResult:
        """Every query over ``[start - preroll_s, end]``; a query with no result is ``Missing``."""
        q_start = align_down(start - self._preroll_s, self._step_s)
        needed = (end - q_start) / MAX_POINTS
        step = self._step_s if needed <= self._step_s else float(math.ceil(needed))
        series: list[Series] = []
        missing: list[Missing] = []
        notes: list[str] = []
        asked = [(name, promql, "") for name, promql in self._queries.items()]
        asked += [(m.name or "", m.query or "", m.resource) for m in self._metrics]
        for name, promql, custom in asked:
            result = self._query_range(name, promql, q_start, end, step)
            found = [s for s in (self._series(name, r, step, custom) for r in result) if s is not None]
            if len(found) > self._max_series:
                notes.append(
                    f"Prometheus query {name!r} returned {len(found)} series; kept {self._max_series}: "
                    "aggregate it in PromQL to choose which"
                )
                found = found[: self._max_series]
            if not found:
                missing.append(
                    Missing(
                        source=self.name,
                        resource=custom or self._url,
                        metric=name,
                        stat="value",
                        what=f"Prometheus query {name!r} ({promql})",
                        reason=(
                            f"no datapoints for Prometheus query {name!r} ({promql}): "
                            "check the query and the labels"
                        ),
                    )
                )
            series.extend(found)
        return SourceResult(series=tuple(series), missing=tuple(missing), notes=tuple(notes))

    def _query_range(self, name: str, promql: str, start: float, end: float, step: float) -> list[Any]:
        params = urllib.parse.urlencode(
            {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": step}
        )
        url = f"{self._url}/api/v1/query_range?{params}"
        request = urllib.request.Request(url, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise _http_error(exc, self._url, name) from exc
        except (OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SourceUnavailableError(f"cannot reach Prometheus at {self._url}: {reason}") from exc
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise SourceError(
                f"Prometheus at {self._url} answered query {name!r} with something not JSON"
            ) from exc
        if doc.get("status") != "success":
            raise SourceError(f"Prometheus rejected query {name!r}: {doc.get('error', 'unknown error')}")
        data = doc.get("data", {})
        if data.get("resultType") not in ("matrix", None):
            raise SourceError(
                f"Prometheus query {name!r} gave a {data.get('resultType')}, not a range vector"
            )
        return list(data.get("result", []))

    def _series(self, name: str, result: Mapping[str, Any], step: float, custom: str) -> Series | None:
        labels = {k: v for k, v in result.get("metric", {}).items() if k != "__name__"}
        resource = custom + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
        points = []
        for ts, raw in result.get("values", []):
            value = float(raw)
            if math.isfinite(value):  # NaN/Inf (e.g. 0/0 in a ratio) are not measurements
                points.append((float(ts), value))
        if not points:
            return None
        unit = next((u for suffix, u in _UNITS if name.endswith(suffix)), "")
        return Series(
            source=self.name,
            resource=resource,
            metric=name,
            stat="value",
            unit=unit,
            points=tuple(points),
            period_s=step,
        )


def _http_error(exc: urllib.error.HTTPError, url: str, name: str) -> SourceError:
    detail = ""
    try:
        doc = json.loads(exc.read())
        detail = str(doc.get("error", ""))
    except (ValueError, OSError):
        pass
    if exc.code in (401, 403):
        return SourcePermissionError(
            f"Prometheus at {url} refused access (HTTP {exc.code}): check the credentials"
        )
    if exc.code in (400, 422):
        return SourceError(f"Prometheus rejected query {name!r}: {detail or exc.reason}")
    if exc.code == 404:
        return SourceError(f"{url} has no Prometheus query API (HTTP 404): check the URL")
    if exc.code >= 500:
        return SourceUnavailableError(f"Prometheus at {url} failed (HTTP {exc.code}): {detail or exc.reason}")
    return SourceError(f"Prometheus at {url} answered HTTP {exc.code}: {detail or exc.reason}")
