"""loadlens attached to Locust: the Locust room's hub (phases, shape, workers and finish beside it).

It registers loadlens's options with Locust's parser, listens to Locust's events, feeds the
client statistics, merges worker data at the master, drives the run's phases, the live exporters
and the progress line, and at the end gathers what the run measured, has ``runner.judge.run``
judge it, writes the run directory and sets the exit code. Everything it hands on is plain frozen
data (runner.model).

Roles: standalone (records and judges), worker (records, sends a delta with every Locust report,
judges nothing), master (merges the deltas, judges). ``--processes`` forks after option parsing,
so each process attaches in its own ``init``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TextIO

import gevent
import locust
from gevent.event import Event
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

from runner import __version__
from runner.config.options import add_loadlens_arguments
from runner.config.plan import RunPlan, plan_from_options
from runner.errors import LoadlensError
from runner.judge.client import judge_client
from runner.judge.run import Measurements, RunCriteria, judge_run
from runner.locust.baseline import shape_and_baseline
from runner.locust.finish import (
    closing_text,
    gather_server,
    measurement_notes,
    redact_locust_report,
    run_record,
    stop_outputs,
    stop_users,
    wait_outputs,
)
from runner.locust.lifecycle import InterruptShield, WorkerWatch, interrupted_reason
from runner.locust.outputs import Annotator
from runner.locust.phases import Phases, log_progress
from runner.locust.shape import apply_scenario, apply_tags, spike_of
from runner.locust.startup import check_targets, exit_on_error, merged_exit_code, verdict_stream
from runner.locust.workers import WorkerLink, check_workers, watch_workers
from runner.logs import get_logger, redact_handlers, redact_text
from runner.model import LiveState, Result, RunInfo, RunRecord
from runner.reports import write_reports
from runner.reports.html.live import add_web_ui_report
from runner.sources.server import ServerSide
from runner.stats.store import StatsStore, Timeline

if TYPE_CHECKING:
    from exporters.base import Exporter

log = get_logger("loadlens")


class Bridge:
    """loadlens attached to one Locust process (standalone, master or worker)."""

    def __init__(
        self,
        *,
        plan: RunPlan | None = None,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        out: TextIO | None = None,
    ) -> None:
        self._env = dict(os.environ if env is None else env)
        self._clock = clock
        self._out = out or sys.stdout
        self.plan: RunPlan | None = plan
        self.role = "standalone"
        self.environment: Any = None  # Locust's Environment (untyped)
        self.store = StatsStore()
        self.timeline = Timeline()
        self.info: RunInfo | None = None
        self.phases = Phases(clock=clock, snapshot=lambda: self.store.snapshot(users=self._users()))
        self.planned_s: float | None = None
        self._live_results: tuple[Result, ...] = ()
        self._ticker: gevent.Greenlet | None = None
        self._timers: list[gevent.Greenlet] = []
        self._last_progress = 0.0
        self.record: RunRecord | None = None
        self.exporters: list[Exporter] = []
        self.server: ServerSide | None = None
        self.annotator: Annotator | None = None
        self._server_poller: gevent.Greenlet | None = None
        self._printed = False
        self._shield = InterruptShield()
        self._workers = WorkerWatch()
        self._link = WorkerLink(lambda: self.store)
        self._ended: Event | None = None  # set once the end of the run is written

    # -- wiring -----------------------------------------------------------------------------------
    def attach(self, events: Any) -> None:
        events.init_command_line_parser.add_listener(self._on_parser)
        events.init.add_listener(self._on_init)

    @staticmethod
    def _on_parser(parser: argparse.ArgumentParser, **_kw: Any) -> None:
        add_loadlens_arguments(parser, locust_parser=True)

    def _on_init(self, environment: Any, runner: Any = None, web_ui: Any = None, **_kw: Any) -> None:
        self.environment = environment
        # Ctrl-C ends the run in Locust's main greenlet; once the end begins it only hurries.
        self._shield.install()
        redact_handlers()  # Locust has set its logging up by now: nothing it prints leaks a secret
        events = environment.events
        options = environment.parsed_options
        self._out = verdict_stream(options, self._out)
        if isinstance(runner, WorkerRunner):
            self.role = "worker"
        elif isinstance(runner, MasterRunner):
            self.role = "master"
        with exit_on_error():  # one line and exit 2: a bad option, or a host HttpUser cannot use
            self.plan = self.plan or plan_from_options(options, env=self._env, role=self.role)
            check_targets(environment.host, environment.user_classes)
        plan = self.plan
        self.store = StatsStore(expected_statuses=plan.expected_statuses, max_endpoints=plan.max_endpoints)
        if self.role == "worker":
            events.request.add_listener(self._on_request)
            events.report_to_master.add_listener(self._link.on_report_to_master)
            apply_tags(options, plan.scenario)
            return
        if self.role == "master":
            events.worker_report.add_listener(self._link.on_worker_report)
        else:
            events.request.add_listener(self._on_request)
        self.planned_s = apply_scenario(environment, options, plan.scenario)
        self.info = RunInfo(
            run_id=plan.run_id,
            scenario=plan.scenario_name,
            host=redact_text(environment.host or ""),
            started_at=self._clock(),
            role=self.role,
            locustfile=environment.locustfile or "",
        )
        if options is not None and getattr(options, "html_file", None) is None and plan.run_dir:
            options.html_file = str(plan.run_dir / "locust.html")
        events.test_start.add_listener(self._on_test_start)
        events.spawning_complete.add_listener(self._on_spawning_complete)
        events.test_stop.add_listener(self._on_test_stop)
        events.quitting.add_listener(self._on_quitting)
        events.quit.add_listener(self._on_quit)
        try:
            self.server = ServerSide(plan.server, clock=self._clock)
            self.server.start()
            self.exporters = plan.build_exporters(environ=self._env)
            self.annotator = plan.build_annotator(environ=self._env)
            self.phases.marker = self.annotator
            for exporter in self.exporters:
                exporter.start(self.info, self.live_state)
            if web_ui is not None:  # the live report beside Locust's own pages
                add_web_ui_report(web_ui, self.live_state)
        except LoadlensError as exc:
            sys.stderr.write(f"loadlens: {exc}\n")
            if self.server is not None:
                self.server.stop()
            if plan.run_dir is not None and not any(plan.run_dir.iterdir()):
                plan.run_dir.rmdir()  # nothing ran: leave no empty run directory behind
            raise SystemExit(exc.exit_code) from None  # before any user starts

    # -- the request path: one dict lookup and a few integer bumps -----------------------------------
    def _on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        response: Any = None,
        exception: Any = None,
        **_kw: Any,
    ) -> None:
        status = getattr(response, "status_code", 0) or 0
        self.store.record(
            request_type, name, response_time or 0.0, status, exception is not None, response_length
        )

    # -- lifecycle --------------------------------------------------------------------------------
    def _on_test_start(self, **_kw: Any) -> None:
        plan = self.plan
        assert plan is not None
        now = self._clock()
        self.store = StatsStore(expected_statuses=plan.expected_statuses, max_endpoints=plan.max_endpoints)
        self.timeline = Timeline(max_points=plan.max_timeline_points)
        self.phases.begin(now)
        if self.annotator is not None and self.info is not None:
            self.annotator.start(replace(self.info, started_at=now), self.live_state)
        self.phases.set("ramp-up")
        self._last_progress = now
        self._kill_timers()
        self._ticker = gevent.spawn(self._tick_loop)
        if self.server is not None and self.server.sources:
            self._server_poller = gevent.spawn(self._server_loop)
        if self.role == "master":
            self._timers.append(gevent.spawn(watch_workers, self._runner, self._workers, self._clock))
        if self.planned_s and plan.cooldown_s > 0 and plan.cooldown_s < self.planned_s:
            self._timers.append(gevent.spawn_later(self.planned_s - plan.cooldown_s, self._mark_window_end))

    def _on_spawning_complete(self, user_count: int = 0, **_kw: Any) -> None:
        if not self.phases.ramp_up_done():
            return
        plan = self.plan
        assert plan is not None
        if plan.warmup_s > 0:
            self.phases.set("warm-up")
            self._timers.append(gevent.spawn_later(plan.warmup_s, self.phases.mark_window_start))
        else:
            self.phases.mark_window_start()

    def _mark_window_end(self) -> None:
        assert self.plan is not None
        self.phases.mark_window_end(warmup_s=self.plan.warmup_s, cooldown_s=self.plan.cooldown_s)

    def _runner(self) -> Any:
        return self.environment.runner if self.environment is not None else None

    def _on_test_stop(self, **_kw: Any) -> None:
        self.phases.stopped()
        if self.phases.run_start is not None:
            self._kill_timers()

    def _kill_timers(self) -> None:
        for timer in self._timers:
            timer.kill(block=False)
        self._timers = []
        if self._ticker is not None:
            self._ticker.kill(block=False)
            self._ticker = None
        if self._server_poller is not None:
            self._server_poller.kill(block=False)
            self._server_poller = None

    def _users(self) -> int:
        return int(getattr(self._runner(), "user_count", 0) or 0)

    def _tick_loop(self) -> None:
        plan = self.plan
        assert plan is not None
        while True:
            gevent.sleep(plan.interval_s)
            try:
                self._tick()
            except Exception as exc:  # the load must never stop because a report line failed
                log.warning("loadlens tick failed", error=str(exc))

    def _tick(self) -> None:
        plan = self.plan
        assert plan is not None
        now = self._clock()
        cumulative = self.store.snapshot(users=self._users())
        interval = self.timeline.tick(cumulative)
        self.phases.track_load_changes(cumulative.users)
        self._live_results = tuple(
            judge_client(self.phases.running_window(cumulative), plan.thresholds, window="run so far")
        )
        if interval is None or not plan.progress_s or now - self._last_progress < plan.progress_s - 0.01:
            return
        self._last_progress = now
        options = self.environment.parsed_options if self.environment is not None else None
        if options is not None and not getattr(options, "headless", False):
            return
        log_progress(self.phases, now=now, planned_s=self.planned_s, users=cumulative.users, last=interval)

    def _server_loop(self) -> None:
        """Poll the server side every period: live gauges, and the optional safety stop."""
        assert self.server is not None and self.plan is not None
        while True:
            gevent.sleep(self.plan.server.poll_s)
            try:
                reason = self.server.poll(self.phases.run_start or self._clock())
            except Exception as exc:  # a broken poll must never stop the load
                log.warning("server poll failed", error=str(exc))
                continue
            if reason is not None and self.phases.run_end is None:
                log.warning(reason)
                self.phases.set("safety stop", detail=reason)
                if (runner := self._runner()) is not None:
                    gevent.spawn(runner.quit)
                return

    def live_state(self) -> LiveState:
        """What exporters read; only call on the load loop's thread."""
        assert self.info is not None
        return LiveState(
            info=self.info,
            cumulative=self.store.snapshot(users=self._users()),
            users=self._users(),
            phase=self.phases.phase,
            results=self._live_results,
            server=self.server.live_series() if self.server is not None else (),
            server_missing=self.server.live_missing() if self.server is not None else (),
            overflowed_requests=self.store.overflowed_requests,
            timeline=self.timeline.points,
        )

    # -- the end ----------------------------------------------------------------------------------
    def _on_quitting(self, environment: Any, **_kw: Any) -> None:
        self._shield.protect()  # from here a Ctrl-C only cuts waits short, never the writing
        if self._ended is not None:
            # A second shutdown (Locust runs one per SIGTERM): let the first finish writing first.
            self._ended.wait()
            return
        self._ended = Event()
        try:
            self._end_run(environment)
        finally:
            self._ended.set()

    def _end_run(self, environment: Any) -> None:
        redact_locust_report(environment)
        runner = environment.runner
        phases = self.phases
        interrupted = (
            phases.run_start is not None
            and runner is not None
            and runner.state in (STATE_RUNNING, STATE_SPAWNING)
        )
        incomplete: list[str] = []
        if phases.run_start is None:
            phases.run_start = self.info.started_at if self.info else self._clock()
        if self.role == "master":
            check_workers(runner, self._workers, self._clock())
        if interrupted:
            incomplete.append(
                interrupted_reason(at=self._clock(), run_start=phases.run_start, planned_s=self.planned_s)
            )
            if self.role == "standalone":
                stop_users(environment, self._shield)
        if phases.run_end is None or interrupted:
            phases.run_end = self._clock()
        self._kill_timers()
        incomplete += [lost.sentence(phases.run_start) for lost in self._workers.lost]
        try:
            self.record = self._finish(interrupted=interrupted, incomplete=incomplete)
        except Exception as exc:  # never lose the run silently: say what broke, exit 2
            log.error("loadlens could not write its verdict", error=str(exc), exc_info=True)
            environment.process_exit_code = 2
            stop_outputs(self.annotator, self.exporters, self.live_state(), None)
            return
        environment.process_exit_code = merged_exit_code(environment.process_exit_code, self.record.verdict)
        stop_outputs(self.annotator, self.exporters, self.live_state(), self.record)

    def _finish(self, *, interrupted: bool, incomplete: list[str]) -> RunRecord:
        """Gather what the run measured, judge it (``runner.judge.run``), write the run directory."""
        plan, phases = self.plan, self.phases
        assert plan is not None and self.info is not None
        assert phases.run_start is not None and phases.run_end is not None
        final = self.store.snapshot(users=self._users())
        server = gather_server(self.server, phases.span(), interrupted=interrupted, shield=self._shield)
        self.timeline.tick(final)
        measured = Measurements(
            run_start=phases.run_start,
            run_end=phases.run_end,
            window=phases.marks(final),
            timeline=self.timeline.points,
            server=server,
            interrupted=interrupted,
            incomplete=tuple(incomplete),
            notes=measurement_notes(phases, self.store, max_endpoints=plan.max_endpoints),
            spike=spike_of(self.environment),
        )
        shape, baseline = shape_and_baseline(self.environment, plan, self.info, planned_s=self.planned_s)
        judged = judge_run(measured, replace(RunCriteria.of(plan.thresholds, plan.server), baseline=baseline))
        versions = {"loadlens": __version__, "locust": locust.__version__}
        record = replace(run_record(plan, self.info, measured, judged, versions=versions), shape=shape)
        if plan.run_dir is not None:
            write_reports(record, plan.run_dir, env=self._env)
        return record

    def _on_quit(self, exit_code: int = 0, **_kw: Any) -> None:
        if self.record is None or self._printed:
            return
        self._printed = True
        color = self._out.isatty() and "NO_COLOR" not in self._env
        self._out.write(closing_text(self.record, self.plan, color=bool(color), exit_code=exit_code))
        self._out.flush()
        wait_outputs(self.annotator, self.exporters, self._shield)


def install(events: Any = None, *, plan: RunPlan | None = None) -> Bridge:
    """Attach loadlens to Locust's events once (the plugin import and ``loadlens run`` both call it)."""
    events = events or locust.events
    existing = getattr(events, "_loadlens_bridge", None)
    if existing is not None:
        if plan is not None:
            existing.plan = plan
        return existing
    bridge = Bridge(plan=plan)
    bridge.attach(events)
    events._loadlens_bridge = bridge
    return bridge
