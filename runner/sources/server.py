"""The server side of a run: which sources to read, live polling, the safety stop, and the final
pull of the test window.

It collects and never judges: the final pull is a ``ServerReadings`` that runner.judge.run turns
into rows. No Locust here: the bridge drives it from its greenlets. Sources that cannot start (no
credentials, unknown service, unreachable endpoint) become one log line and one ``SourceFailure``
(an INCONCLUSIVE row); the load test still runs unless server metrics are required, in which case
nothing runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runner.config.load import Config
from runner.config.types import RecoveryConfig, ServerCriteriaLimits
from runner.errors import SourceError, UsageError
from runner.logs import get_logger
from runner.readings import (
    AlarmReading,
    LogReading,
    Missing,
    Series,
    ServerReadings,
    SourceFailure,
    metric_kind,
)
from runner.sources.alarms import AlarmsPlan
from runner.sources.base import MetricSource, SettlingSource, SourceResult
from runner.sources.cloudwatch_catalog import CloudWatchTarget
from runner.sources.logs import LogsPlan

if TYPE_CHECKING:
    from runner.sources.aws import AwsApi
    from runner.sources.process import GeventSampler

log = get_logger("loadlens.server")


@dataclass(frozen=True)
class ServerPlan:
    """What to read on the server side, and the limits to judge it by."""

    cloudwatch: CloudWatchTarget | None = None  # when correlating
    aws_profile: str | None = None
    aws_region: str | None = None
    settle_s: float = 300.0
    prometheus_url: str | None = None
    prometheus_queries: Mapping[str, str] = field(default_factory=dict)
    prometheus_step_s: float = 15.0
    process_pid: int | None = None
    process_name: str | None = None
    process_interval_s: float = 1.0
    limits: ServerCriteriaLimits = field(default_factory=ServerCriteriaLimits)
    leak_warn_per_hour: float | None = None
    leak_fail_per_hour: float | None = None
    leak_min_duration_s: float = 1800.0
    abort_cpu_percent: float | None = None
    abort_memory_percent: float | None = None
    abort_periods: int = 3
    required: bool = False
    poll_s: float = 60.0
    # Application log errors and alarms ([cloudwatch] log_group, alarms): read at the end of the run.
    logs: LogsPlan | None = None
    alarms: AlarmsPlan | None = None
    max_log_errors: int | None = None
    max_alarms: int | None = None
    recovery: RecoveryConfig = field(default_factory=RecoveryConfig)  # not a source: carried to the judge

    @property
    def any(self) -> bool:
        return bool(
            self.cloudwatch or self.prometheus_url or self.process_pid or self.process_name or self.events
        )

    @property
    def events(self) -> bool:
        """True when log errors or alarms are to be read at the end of the run."""
        return self.logs is not None or self.alarms is not None


def server_plan(cfg: Config) -> ServerPlan:
    """What ``cfg`` (file, variables and flags already layered by runner.config.load) asks to read
    on the server side. CloudWatch only when correlating: its target is the config's own."""
    from runner.errors import UsageError

    cw = cfg.cloudwatch
    target = None
    logs = None
    if cw.log_group is not None:
        logs = LogsPlan(log_group=cw.log_group, pattern=cw.error_pattern, max_events=cw.max_log_events)
    alarms = None
    if cw.alarms or cw.alarm_prefix is not None or cw.max_alarms is not None:
        alarms = AlarmsPlan(prefix=cw.alarm_prefix)
    if cw.correlate and (cw.target.configured or (logs is None and alarms is None)):
        if not cw.target.configured:
            raise UsageError(
                "--correlate-cloudwatch needs [cloudwatch] ecs_cluster and ecs_service, rds_instance, "
                "rds_cluster or load_balancer, or a CloudWatch [[server.metrics]], in loadlens.toml"
            )
        target = cw.target
    proc = cfg.process
    server = cfg.server
    polls = [target.period_s] if target is not None else []
    if cfg.prometheus_source.url:
        polls.append(cfg.prometheus_source.step_s)
    if proc.pid or proc.name:
        polls.append(5.0)
    return ServerPlan(
        cloudwatch=target,
        aws_profile=cw.profile,
        aws_region=cw.region,
        settle_s=cw.settle_s,
        prometheus_url=cfg.prometheus_source.url,
        prometheus_queries=dict(cfg.prometheus_source.queries),
        prometheus_step_s=cfg.prometheus_source.step_s,
        process_pid=proc.pid,
        process_name=proc.name,
        limits=server.criteria,
        leak_warn_per_hour=server.leak_warn_percent_per_hour,
        leak_fail_per_hour=server.leak_fail_percent_per_hour,
        leak_min_duration_s=server.leak_min_duration_s,
        abort_cpu_percent=server.abort_cpu_percent,
        abort_memory_percent=server.abort_memory_percent,
        abort_periods=server.abort_periods,
        required=cw.require,
        poll_s=min(polls) if polls else 60.0,
        logs=logs,
        alarms=alarms,
        max_log_errors=cw.max_log_errors,
        max_alarms=cw.max_alarms,
        recovery=cfg.recovery,
    )


class ServerSide:
    """Sources for one run; call ``start`` in the process that judges (after any fork)."""

    def __init__(self, plan: ServerPlan, *, clock: Callable[[], float] = time.time) -> None:
        self.plan = plan
        self._clock = clock
        self.sources: list[MetricSource] = []
        self.failures: list[SourceFailure] = []
        self._sampler: GeventSampler | None = None
        self._latest: tuple[Series, ...] = ()
        self._latest_missing: tuple[Missing, ...] = ()
        self._abort_streak: dict[str, int] = {}
        self._seen_points: dict[str, float] = {}
        self.safety_stop: str | None = None

    # -- set-up -----------------------------------------------------------------------------------
    def start(self) -> None:
        """Open every configured source. A source that cannot start is logged once and judged
        INCONCLUSIVE; with ``required`` its error is raised instead (nothing should run)."""
        plan = self.plan
        if plan.process_pid or plan.process_name:
            self._open("process", self._open_process)
        if plan.prometheus_url:
            self._open("prometheus", self._open_prometheus)
        if plan.cloudwatch is not None:
            self._open("cloudwatch", self._open_cloudwatch)
        unread = [m.name for m in plan.limits.metrics if m.source == "cloudwatch" and plan.cloudwatch is None]
        if unread and not self.sources and not self.failures:
            # Nothing else is read: without this, no server row at all and the user's criterion would
            # vanish. With another source its row is judged (INCONCLUSIVE, "not read") anyway.
            self.failures.append(
                SourceFailure(
                    "cloudwatch",
                    f"[[server.metrics]] {', '.join(map(repr, unread))} read CloudWatch, which this run "
                    "does not read: --correlate-cloudwatch or [cloudwatch] correlate = true",
                )
            )

    def _open(self, name: str, opener: Callable[[], MetricSource]) -> None:
        try:
            self.sources.append(opener())
        except SourceError as exc:
            if self.plan.required:
                raise
            log.warning("server metrics unavailable", source=name, reason=str(exc))
            self.failures.append(SourceFailure(name, str(exc)))

    def _open_process(self) -> MetricSource:
        from runner.sources.process import GeventSampler, ProcessSource

        source = ProcessSource(
            pid=self.plan.process_pid, name=self.plan.process_name, interval_s=self.plan.process_interval_s
        )
        source.sample_and_record()  # fails now, with its reason, if the process is not there
        self._sampler = GeventSampler(source)
        self._sampler.start()
        log.info("watching process", resource=source.resource)
        return source

    def _open_prometheus(self) -> MetricSource:
        from runner.sources.prometheus import PrometheusSource

        assert self.plan.prometheus_url is not None
        source = PrometheusSource(
            self.plan.prometheus_url,
            self.plan.prometheus_queries,
            step_s=self.plan.prometheus_step_s,
            metrics=self.plan.limits.metrics,
        )
        log.info(
            "reading Prometheus", url=self.plan.prometheus_url, queries=",".join(self.plan.prometheus_queries)
        )
        return source

    def _open_cloudwatch(self) -> MetricSource:
        from runner import installed

        if installed.missing_module(installed.AWS) is not None:
            try:
                installed.require(installed.AWS, used_by="CloudWatch")
            except UsageError as exc:
                raise SourceError(str(exc)) from None
        from runner.sources.aws import AwsApi, make_session
        from runner.sources.cloudwatch import CloudWatchSource

        assert self.plan.cloudwatch is not None  # start() opens CloudWatch only when planned
        api = AwsApi(make_session(profile=self.plan.aws_profile, region=self.plan.aws_region))
        source = CloudWatchSource(self.plan.cloudwatch, api=api)
        discovery = source.discover()
        for line in discovery.lines():
            log.info("cloudwatch: " + line)
        return source

    def stop(self) -> None:
        """Stop sampling the local process (the end of the run, or a run that never started)."""
        if self._sampler is not None:
            self._sampler.stop()

    # -- during the run ---------------------------------------------------------------------------
    def poll(self, start: float) -> str | None:
        """Read every source from ``start`` to now, keep the latest series for live export, and
        return a safety-stop reason when a metric stayed above its abort limit long enough."""
        now = self._clock()
        series: list[Series] = []
        missing: list[Missing] = []
        for source in self.sources:
            try:
                result = source.fetch(start, now)
            except SourceError as exc:
                log.warning("live server poll failed", source=source.name, reason=str(exc))
                continue
            series += result.series
            missing += result.missing
        self._latest = tuple(series)
        self._latest_missing = tuple(missing)
        return self._check_abort(series)

    def live_series(self) -> tuple[Series, ...]:
        return self._latest

    def live_missing(self) -> tuple[Missing, ...]:
        """The metrics the latest poll asked for and got no answer to (live export)."""
        return self._latest_missing

    def _check_abort(self, series: list[Series]) -> str | None:
        plan = self.plan
        if self.safety_stop is not None:
            return self.safety_stop
        for s in series:
            kind = metric_kind(s)
            limit = (
                plan.abort_cpu_percent
                if kind == "cpu"
                else plan.abort_memory_percent
                if kind == "memory"
                else None
            )
            if limit is None or not s.points:
                continue
            key = f"{s.source}:{s.resource}:{s.metric}:{s.stat}"
            t, value = s.points[-1]
            if self._seen_points.get(key) == t:
                continue  # no new period since the last poll
            self._seen_points[key] = t
            streak = self._abort_streak.get(key, 0) + 1 if value > limit else 0
            self._abort_streak[key] = streak
            if streak >= plan.abort_periods:
                self.safety_stop = (
                    f"safety stop: {s.metric} of {s.resource} stayed above {limit:g} % for {streak} "
                    f"consecutive periods (last {value:.1f} %)"
                )
                return self.safety_stop
        return None

    # -- the end ----------------------------------------------------------------------------------
    def finish(
        self,
        *,
        run_start: float,
        run_end: float,
        settle: bool,
        on_progress: Callable[[str], None] | None = None,
    ) -> ServerReadings:
        """Pull the run from every source (waiting for CloudWatch to settle when asked): what was
        read, what was not, and which sources failed. A failing source costs neither the others nor
        ``required`` (its failure becomes an INCONCLUSIVE row where the run is judged)."""
        self.stop()
        results = SourceResult()
        failures: list[SourceFailure] = list(self.failures)
        for source in self.sources:
            try:
                if settle and isinstance(source, SettlingSource) and self.plan.settle_s > 0:
                    got = source.wait_settled(
                        run_start,
                        run_end,
                        settle_s=self.plan.settle_s,
                        on_progress=(lambda p: on_progress(p.message)) if on_progress else None,
                    )
                else:
                    got = source.fetch(run_start, run_end)
            except SourceError as exc:
                log.warning("server metrics unavailable", source=source.name, reason=str(exc))
                failures.append(SourceFailure(source.name, str(exc)))
                continue
            except Exception as exc:  # a bug in one source must cost neither the others nor `required`
                reason = f"loadlens could not read {source.name}: {type(exc).__name__}: {exc}"
                log.error("server metrics could not be read", source=source.name, error=reason)
                failures.append(SourceFailure(source.name, reason))
                continue
            results = results.merge(got)
        logs, alarms = self.read_events(run_start=run_start, run_end=run_end)
        return ServerReadings(
            series=results.series,
            missing=results.missing,
            failures=tuple(failures),
            notes=results.notes,
            safety_stop=self.safety_stop,
            logs=logs,
            alarms=alarms,
        )

    def read_events(
        self, *, run_start: float, run_end: float
    ) -> tuple[LogReading | None, AlarmReading | None]:
        """The run's application log errors and alarms, when planned. They are read after the
        metrics (CloudWatch Logs and the alarm history answer for the past at once); a failure is
        the reading's ``failure``, judged INCONCLUSIVE, never raised."""
        plan = self.plan
        if not plan.events:
            return None, None
        api: AwsApi | None = None
        failure = None
        try:
            api = self._events_api()
        except SourceError as exc:
            failure = str(exc)
        except Exception as exc:  # a bug here must cost neither the metrics nor the verdict
            failure = f"loadlens could not open AWS: {type(exc).__name__}: {exc}"
        logs = alarms = None
        if (logs_plan := plan.logs) is not None:
            found = self._read(lambda: _logs(api, logs_plan, run_start, run_end), failure, logs_plan)
            logs = found if isinstance(found, LogReading) else None
        if (alarms_plan := plan.alarms) is not None:
            got = self._read(lambda: _alarms(api, alarms_plan, run_start, run_end), failure, alarms_plan)
            alarms = got if isinstance(got, AlarmReading) else None
        return logs, alarms

    def _events_api(self) -> AwsApi:
        from runner import installed

        if installed.missing_module(installed.AWS) is not None:
            try:
                installed.require(installed.AWS, used_by="CloudWatch Logs and alarms")
            except UsageError as exc:
                raise SourceError(str(exc)) from None
        from runner.sources.aws import AwsApi, make_session

        return AwsApi(make_session(profile=self.plan.aws_profile, region=self.plan.aws_region))

    @staticmethod
    def _read(
        read: Callable[[], LogReading | AlarmReading], failure: str | None, plan: LogsPlan | AlarmsPlan
    ) -> LogReading | AlarmReading:
        if failure is None:
            try:
                return read()
            except Exception as exc:  # the readers translate AWS errors; this is a bug, said as one
                failure = f"loadlens could not read it: {type(exc).__name__}: {exc}"
                log.error("log errors or alarms could not be read", error=failure)
        if isinstance(plan, LogsPlan):
            return LogReading(log_group=plan.log_group, pattern=plan.pattern, failure=failure)
        return AlarmReading(prefix=plan.prefix, failure=failure)


def _logs(api: AwsApi | None, plan: LogsPlan, start: float, end: float) -> LogReading:
    from runner.sources.logs import read_log_errors

    assert api is not None
    return read_log_errors(api, plan, start=start, end=end)


def _alarms(api: AwsApi | None, plan: AlarmsPlan, start: float, end: float) -> AlarmReading:
    from runner.sources.alarms import read_alarms

    assert api is not None
    return read_alarms(api, plan, start=start, end=end)
