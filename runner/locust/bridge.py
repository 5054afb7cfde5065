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
from runner.config.options import register_with_locust
from runner.config.plan import RunPlan, plan_from_options
from runner.errors import LoadlensError
from runner.locust.finish import (
    gather_server,
    judge_and_write,
    measure,
    print_closing,
    redact_locust_report,
    stop_outputs,
    stop_users,
    wait_outputs,
)
from runner.locust.groups import attach_groups, group_keys, recorder
from runner.locust.lean import listen_requests
from runner.locust.lifecycle import InterruptShield, WorkerWatch, interrupted_reason
from runner.locust.loops import catch_up_clock, poll_server, tick_forever
from runner.locust.outputs import Annotator
from runner.locust.phases import Phases, log_progress
from runner.locust.prune import LocustPruner
from runner.locust.shape import apply_scenario, apply_tags, spike_of
from runner.locust.startup import check_targets, exit_on_error, merged_exit_code, verdict_stream
from runner.locust.webui import is_web_ui, judge_later, next_test, restart_phases, worst_exit
from runner.locust.workers import WorkerLink, check_workers, watch_workers
from runner.logs import get_logger, redact_handlers, redact_text
from runner.model import GroupKey, LiveState, RunInfo, RunRecord
from runner.reports.html.live import add_web_ui_report
from runner.sources.server import ServerSide
from runner.stats.groups import GroupRecorder
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
        self._quitting = False  # Locust's quitting event came (a later one is a SIGTERM's)
        self._web = False  # tests come from Locust's web UI: each is judged when it stops
        self._judging: Any = None  # the greenlet judging a web UI test that just stopped
        self._codes: list[int] = []  # every judged test's exit code (several from the web UI)

    # -- wiring -----------------------------------------------------------------------------------
    def attach(self, events: Any) -> None:
        register_with_locust(events)
        events.init.add_listener(self._on_init)
        LocustPruner().attach(events)  # Locust's per-second counts and history, bounded on a soak

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
            check_targets(environment.host, environment.user_classes, self.plan)
        plan = self.plan
        self._web = is_web_ui(options, self.role)
        self._fresh_stats()
        with exit_on_error():  # tags and User classes of [thresholds.groups] (runner.locust.groups)
            attach_groups(environment, runner, self.role, self._group_keys, self._install_groups)
        if self.role == "worker":
            listen_requests(events, runner, self, lean=plan.lean)  # lean: one listener, not two
            events.report_to_master.add_listener(self._link.on_report_to_master)
            apply_tags(options, plan.scenario)
            return
        if self.role == "master":
            events.worker_report.add_listener(self._link.on_worker_report)
        else:
            listen_requests(events, runner, self, lean=plan.lean)
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
        events.reset_stats.add_listener(self._on_reset_stats)
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
        catch_up_clock()  # the last of the start-up: Locust sets its -t timer next

    # -- lifecycle --------------------------------------------------------------------------------
    def _on_test_start(self, **_kw: Any) -> None:
        assert self.plan is not None and self.info is not None
        if self._judging is not None:
            self._judging.join()  # the test before is still being judged (a master waits for reports)
        now = self._clock()
        if self._web and self.record is not None:  # the web UI's next test: its own run directory
            self.plan, self.info = next_test(self.plan, self.info, now=now)
            self.record, self._printed = None, False
        plan = self.plan
        self._fresh_stats()
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
            if self._web and self.record is None:  # judged now, off the web request's greenlet
                self._judging = judge_later(self.role, lambda: self._end_run(self.environment, last=False))

    def _on_reset_stats(self, **_kw: Any) -> None:
        """The web UI's Reset Stats: loadlens's statistics restart with Locust's (the test is then
        judged from here; with every user running, the steady state starts now)."""
        self._fresh_stats()
        restart_phases(self.phases, now=self._clock())

    def _fresh_stats(self) -> None:
        assert self.plan is not None
        self.store = StatsStore(
            expected_statuses=self.plan.expected_statuses,
            max_endpoints=self.plan.max_endpoints,
            groups=recorder(self._group_keys()),
        )
        self.timeline = Timeline(max_points=self.plan.max_timeline_points)

    def _group_keys(self) -> tuple[GroupKey, ...]:
        return group_keys(self.plan.thresholds.groups) if self.plan is not None else ()

    def _install_groups(self, groups: GroupRecorder | None) -> None:
        self.store.groups = groups  # a worker: the master's groups, sent at each test start

    def _kill_timers(self) -> None:
        for greenlet in (*self._timers, self._ticker, self._server_poller):
            if greenlet is not None:
                greenlet.kill(block=False)
        self._timers, self._ticker, self._server_poller = [], None, None

    def _users(self) -> int:
        return int(getattr(self._runner(), "user_count", 0) or 0)

    def _tick_loop(self) -> None:
        assert self.plan is not None
        tick_forever(self.plan.interval_s, self._tick)

    def _tick(self) -> None:
        plan = self.plan
        assert plan is not None
        now = self._clock()
        cumulative = self.store.snapshot(users=self._users())
        interval = self.timeline.tick(cumulative)
        self.phases.track_load_changes(cumulative.users)
        if self.phases.judge_live(cumulative, plan.thresholds, now=now) and (runner := self._runner()):
            gevent.spawn(runner.stop if self._web else runner.quit)  # abort_after: ends the test early
        if interval is None or not plan.progress_s or now - self._last_progress < plan.progress_s - 0.01:
            return
        self._last_progress = now
        options = self.environment.parsed_options if self.environment is not None else None
        if options is not None and not getattr(options, "headless", False):
            return
        log_progress(self.phases, now=now, planned_s=self.planned_s, users=cumulative.users, last=interval)

    def _server_loop(self) -> None:
        assert self.server is not None and self.plan is not None
        poll_server(self.server, self.plan.server.poll_s, self.phases, self._runner, self._clock)

    def live_state(self) -> LiveState:
        """What exporters read; only call on the load loop's thread."""
        assert self.info is not None
        return LiveState(
            info=self.info,
            cumulative=self.store.snapshot(users=self._users()),
            users=self._users(),
            phase=self.phases.phase,
            results=self.phases.live.results,
            server=self.server.live_series() if self.server is not None else (),
            server_missing=self.server.live_missing() if self.server is not None else (),
            overflowed_requests=self.store.overflowed_requests,
            timeline=self.timeline.points,
        )

    # -- the end ----------------------------------------------------------------------------------
    def _on_quitting(self, environment: Any, **_kw: Any) -> None:
        if self._quitting:
            # A second shutdown (Locust runs one per SIGTERM): let the first finish writing, then
            # end its waits (settle, linger) as a second Ctrl-C would.
            if self._ended is not None:
                self._ended.wait()
            self._shield.cut_short()
            return
        self._quitting = True
        self._shield.protect()  # from here a Ctrl-C only cuts waits short, never the writing
        if self._judging is not None:
            self._judging.join()  # a web UI test stopped just before: its verdict first
        if self._web and (self.record is not None or self.phases.run_start is None):
            # Every test from the web UI is judged already (or none ran): nothing more to judge.
            stop_outputs(self.annotator, self.exporters, self.live_state(), self.record)
            return
        self._ended = Event()
        try:
            self._end_run(environment)
        finally:
            self._ended.set()

    def _end_run(self, environment: Any, *, last: bool = True) -> None:
        redact_locust_report(environment)
        runner = environment.runner
        phases = self.phases
        running = getattr(runner, "state", None) in (STATE_RUNNING, STATE_SPAWNING)
        interrupted = phases.run_start is not None and running
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
        self._codes.append(self.record.verdict.exit_code)
        if self._web:
            environment.process_exit_code = worst_exit(self._codes)
        else:
            environment.process_exit_code = merged_exit_code(
                environment.process_exit_code, self.record, self.plan
            )
        if last:
            stop_outputs(self.annotator, self.exporters, self.live_state(), self.record)
        else:
            self._print_verdict(environment.process_exit_code)

    def _finish(self, *, interrupted: bool, incomplete: list[str]) -> RunRecord:
        """Gather what the run measured, judge it (``runner.judge.run``), write the run directory."""
        assert self.plan is not None and self.info is not None
        final = self.store.snapshot(users=self._users())
        server = gather_server(self.server, self.phases.span(), interrupted=interrupted, shield=self._shield)
        self.timeline.tick(final)
        measured = measure(
            self.phases, final, self.store, self.timeline, server, self.plan,
            incomplete=incomplete, interrupted=interrupted, spike=spike_of(self.environment),
        )  # fmt: skip
        versions = {"loadlens": __version__, "locust": locust.__version__}
        return judge_and_write(
            self.environment, self.plan, self.info, measured,
            planned_s=self.planned_s, versions=versions, env=self._env,
        )  # fmt: skip

    def _on_quit(self, exit_code: int = 0, **_kw: Any) -> None:
        if self.record is not None:
            self._print_verdict(exit_code)
            wait_outputs(self.annotator, self.exporters, self._shield)

    def _print_verdict(self, exit_code: int) -> None:
        if self.record is not None and not self._printed:
            self._printed = True
            print_closing(self._out, self.record, self.plan, env=self._env, exit_code=exit_code)


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
