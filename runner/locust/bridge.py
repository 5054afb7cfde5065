"""The one module that touches Locust's API.

It registers loadlens's options with Locust's parser, listens to Locust's events, feeds the
client statistics, merges worker data at the master, tracks the run's phases and window, drives
the live exporters and progress line, and at the end judges, writes the run directory and sets
the exit code. Everything it hands on is plain frozen data (runner.model).

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
from pathlib import Path
from typing import Any

import gevent
import locust
from gevent.event import Event
from locust import LoadTestShape
from locust.runners import STATE_MISSING, STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

from runner import __version__
from runner.compare.compare import RunView, tolerances_from
from runner.compare.criteria import baseline_failed, baseline_results
from runner.compare.shape import run_shape
from runner.config.options import add_loadlens_arguments
from runner.config.plan import RunPlan, plan_from_options
from runner.config.scenarios import Scenario, format_duration, resolve_scenario
from runner.errors import LoadlensError
from runner.judge.analysis import Analysis, analyse_with_plan
from runner.judge.client import expected_note, judge_client
from runner.judge.server import source_failed
from runner.judge.verdict import decide
from runner.locust.lifecycle import (
    USER_STOP_GRACE_S,
    InterruptShield,
    WorkerWatch,
    interrupted_reason,
    stop_users_gracefully,
)
from runner.locust.startup import check_targets, exit_code_note, merged_exit_code
from runner.logs import get_logger, redact_handlers, redact_text
from runner.model import LiveState, Result, RunInfo, RunRecord, RunShape, Snapshot
from runner.reports import write_reports
from runner.reports.console import render_table
from runner.reports.redact import redact_html_report
from runner.sources.server import ServerOutcome, ServerSide
from runner.stats.store import StatsStore, Timeline, from_wire, to_wire
from runner.stats.window import choose_window

WIRE_KEY = "loadlens"
log = get_logger("loadlens")


class StagesShape(LoadTestShape):
    """A scenario's stages as a Locust load shape (spike, stress, or any staged scenario)."""

    abstract = True  # never picked up as a locustfile's own shape

    def __init__(self, scenario: Scenario) -> None:
        super().__init__()
        self.scenario = scenario

    def tick(self) -> tuple[int, float] | None:
        stage = self.scenario.stage_at(self.get_run_time())
        return None if stage is None else (stage.users, stage.spawn_rate)


class Bridge:
    """loadlens attached to one Locust process (standalone, master or worker)."""

    def __init__(
        self,
        *,
        plan: RunPlan | None = None,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        out: Any = None,
    ) -> None:
        self._env = dict(os.environ if env is None else env)
        self._clock = clock
        self._out = out or sys.stdout
        self.plan: RunPlan | None = plan
        self.role = "standalone"
        self.environment: Any = None
        self.store = StatsStore()
        self.timeline = Timeline()
        self.info: RunInfo | None = None
        self.phase = "starting"
        self.run_start: float | None = None
        self.run_end: float | None = None
        self.ramp_end: float | None = None
        self.planned_s: float | None = None
        self._window_start: Snapshot | None = None
        self._window_end: Snapshot | None = None
        self._live_results: tuple[Result, ...] = ()
        self._ticker: Any = None
        self._timers: list[Any] = []
        self._last_progress = 0.0
        self.record: RunRecord | None = None
        self.exporters: list[Any] = []
        self.server: ServerSide | None = None
        self.annotator: Any = None
        self._last_users: int | None = None
        self._server_poller: Any = None
        self._printed = False
        self._shield = InterruptShield()
        self._workers = WorkerWatch()
        self._ended: Event | None = None  # set once the end of the run is written
        self._cooldown_early: str | None = None

    # -- wiring -----------------------------------------------------------------------------------
    def attach(self, events: Any) -> None:
        events.init_command_line_parser.add_listener(self._on_parser)
        events.init.add_listener(self._on_init)

    @staticmethod
    def _on_parser(parser: argparse.ArgumentParser, **_kw: Any) -> None:
        add_loadlens_arguments(parser, locust_parser=True)

    def _on_init(self, environment: Any, runner: Any = None, **_kw: Any) -> None:
        self.environment = environment
        self._install_sigint()
        redact_handlers()  # Locust has set its logging up by now: nothing it prints leaks a secret
        events = environment.events
        options = environment.parsed_options
        if getattr(options, "json", False) and self._out is sys.stdout:
            self._out = sys.stderr  # Locust's --json owns stdout: it must stay one JSON document
        if isinstance(runner, WorkerRunner):
            self.role = "worker"
        elif isinstance(runner, MasterRunner):
            self.role = "master"
        if self.plan is None:
            try:
                self.plan = plan_from_options(options, env=self._env, role=self.role)
            except LoadlensError as exc:
                sys.stderr.write(f"loadlens: {exc}\n")
                raise SystemExit(exc.exit_code) from None
        plan = self.plan
        try:  # before the first user: a host HttpUser cannot use would fail every request
            check_targets(environment.host, environment.user_classes)
        except LoadlensError as exc:
            sys.stderr.write(f"loadlens: {exc}\n")
            raise SystemExit(exc.exit_code) from None
        self.store = StatsStore(expected_statuses=plan.expected_statuses, max_endpoints=plan.max_endpoints)
        if self.role == "worker":
            events.request.add_listener(self._on_request)
            events.report_to_master.add_listener(self._on_report_to_master)
            self._apply_tags(options)
            return
        if self.role == "master":
            events.worker_report.add_listener(self._on_worker_report)
        else:
            events.request.add_listener(self._on_request)
        self._apply_scenario(environment, options)
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
            for exporter in self.exporters:
                exporter.start(self.info, self.live_state)
        except LoadlensError as exc:
            sys.stderr.write(f"loadlens: {exc}\n")
            if self.server is not None and self.server._sampler is not None:
                self.server._sampler.stop()
            if plan.run_dir is not None and not any(plan.run_dir.iterdir()):
                plan.run_dir.rmdir()  # nothing ran: leave no empty run directory behind
            raise SystemExit(exc.exit_code) from None  # before any user starts

    def _install_sigint(self) -> None:
        """Ctrl-C ends the run in Locust's main greenlet; once the end begins it only hurries (see
        runner.locust.lifecycle.InterruptShield)."""
        self._shield.install()

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

    def _on_report_to_master(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        data[WIRE_KEY] = to_wire(self.store.drain(users=0))

    def _on_worker_report(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        payload = data.get(WIRE_KEY)
        if payload is None:
            return  # a worker without loadlens: its requests are in Locust's stats only
        try:
            self.store.add(from_wire(payload))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignored a malformed worker report", worker=client_id, error=str(exc))

    # -- scenario ---------------------------------------------------------------------------------
    def _apply_tags(self, options: Any) -> None:
        scenario = self.plan.scenario if self.plan else None
        if options is None or scenario is None:
            return
        if scenario.tags and not getattr(options, "tags", None):
            options.tags = list(scenario.tags)
        if scenario.exclude_tags and not getattr(options, "exclude_tags", None):
            options.exclude_tags = list(scenario.exclude_tags)

    def _apply_scenario(self, environment: Any, options: Any) -> None:
        plan = self.plan
        assert plan is not None
        scenario = plan.scenario
        self.planned_s = getattr(options, "run_time", None) if options is not None else None
        if scenario is None or options is None:
            return
        self._apply_tags(options)
        resolved = resolve_scenario(
            scenario,
            users=options.num_users,
            spawn_rate=options.spawn_rate,
            run_time_s=options.run_time,
        )
        if environment.shape_class is not None:
            if resolved.staged:
                log.info(
                    "the locustfile's own load shape drives the load; scenario stages not used",
                    shape=type(environment.shape_class).__name__,
                    scenario=scenario.name,
                )
            return
        if resolved.staged:
            shape = StagesShape(resolved)
            shape.runner = environment.runner
            environment.shape_class = shape
            self.planned_s = resolved.total_time_s()
            return
        if options.num_users is None and resolved.users is not None:
            options.num_users = resolved.users
        if options.spawn_rate is None and resolved.spawn_rate is not None:
            options.spawn_rate = resolved.spawn_rate
        if options.run_time is None and resolved.run_time_s is not None:
            options.run_time = int(resolved.run_time_s)
        self.planned_s = options.run_time

    # -- lifecycle --------------------------------------------------------------------------------
    def _on_test_start(self, **_kw: Any) -> None:
        plan = self.plan
        assert plan is not None
        now = self._clock()
        self.store = StatsStore(expected_statuses=plan.expected_statuses, max_endpoints=plan.max_endpoints)
        self.timeline = Timeline(max_points=plan.max_timeline_points)
        self.run_start, self.run_end, self.ramp_end = now, None, None
        self._window_start = self._window_end = None
        self._cooldown_early = None
        self._last_users = None
        self.phase = "starting"
        if self.annotator is not None and self.info is not None:
            self.annotator.start(replace(self.info, started_at=now), self.live_state)
        self._set_phase("ramp-up")
        self._last_progress = now
        self._kill_timers()
        self._ticker = gevent.spawn(self._tick_loop)
        if self.server is not None and self.server.sources:
            self._server_poller = gevent.spawn(self._server_loop)
        if self.role == "master":
            self._timers.append(gevent.spawn(self._watch_workers))
        if self.planned_s and plan.cooldown_s > 0 and plan.cooldown_s < self.planned_s:
            self._timers.append(gevent.spawn_later(self.planned_s - plan.cooldown_s, self._mark_window_end))

    def _set_phase(self, phase: str, *, detail: str = "") -> None:
        """Change the run's phase, and mark it on Grafana's timeline when annotating."""
        if phase == self.phase:
            return
        self.phase = phase
        if self.annotator is not None:
            self.annotator.mark(phase, at=self._clock(), detail=detail)

    def _on_spawning_complete(self, user_count: int = 0, **_kw: Any) -> None:
        if self.ramp_end is not None or self.run_start is None:
            return
        self.ramp_end = self._clock()
        plan = self.plan
        assert plan is not None
        if plan.warmup_s > 0:
            self._set_phase("warm-up")
            self._timers.append(gevent.spawn_later(plan.warmup_s, self._mark_window_start))
        else:
            self._mark_window_start()

    def _mark_window_start(self) -> None:
        if self.run_end is None and self._cooldown_early is None:
            self._window_start = self.store.snapshot(users=self._users())
            self._set_phase("steady")

    def _mark_window_end(self) -> None:
        if self.run_end is not None:
            return
        if self._window_start is None:
            # The cool-down began before the ramp-up and warm-up were over: no steady state exists.
            plan = self.plan
            assert plan is not None and self.run_start is not None
            into = format_duration(self._clock() - self.run_start)
            self._cooldown_early = (
                f"the cool-down ({format_duration(plan.cooldown_s)}) began {into} into the run, before the "
                f"ramp-up and warm-up ({format_duration(plan.warmup_s)}) ended: there was no steady state; "
                "shorten [run] warmup or cooldown, or run longer"
            )
        else:
            self._window_end = self.store.snapshot(users=self._users())
        self._set_phase("cool-down")

    def _watch_workers(self) -> None:
        """At the master: note each worker Locust marks missing (no heartbeat), with its users."""
        while True:
            gevent.sleep(1.0)
            self._check_workers()

    def _check_workers(self) -> None:
        runner = self.environment.runner if self.environment is not None else None
        clients = getattr(runner, "clients", None)
        if clients is None:
            return
        seen = [(c.id, c.state == STATE_MISSING, c.user_count) for c in list(clients.values())]
        for lost in self._workers.observe(self._clock(), seen):
            log.warning("a worker stopped sending heartbeats", worker=lost.worker_id, users=lost.users)

    def _on_test_stop(self, **_kw: Any) -> None:
        if self.run_start is None:
            return
        self.run_end = self._clock()
        self.phase = "stopped"
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
        runner = self.environment.runner if self.environment is not None else None
        return int(getattr(runner, "user_count", 0) or 0)

    def _tick_loop(self) -> None:
        plan = self.plan
        assert plan is not None
        while True:
            gevent.sleep(plan.interval_s)
            try:
                self._tick()
            except Exception as exc:  # the load must never stop because a report line failed
                log.warning("loadlens tick failed", error=str(exc))

    def _track_load_changes(self, users: int) -> None:
        """After the ramp-up, falling user counts are a ramp-down (a shape's last stage, a spike's
        drop) and a rise back is marked as a new load step; both go on Grafana's timeline."""
        previous, self._last_users = self._last_users, users
        if previous is None or self.phase not in ("steady", "ramp-down", "warm-up", "cool-down"):
            return
        if users < previous:
            self._set_phase("ramp-down")
        elif users > previous:
            self._set_phase("steady")
            if self.annotator is not None:
                self.annotator.mark("load step", at=self._clock(), detail=f"{previous} → {users} users")

    def _tick(self) -> None:
        plan = self.plan
        assert plan is not None
        now = self._clock()
        cumulative = self.store.snapshot(users=self._users())
        interval = self.timeline.tick(cumulative)
        self._track_load_changes(cumulative.users)
        self._live_results = tuple(
            judge_client(self._running_window(cumulative), plan.thresholds, window="run so far")
        )
        if interval is None or not plan.progress_s or now - self._last_progress < plan.progress_s - 0.01:
            return
        self._last_progress = now
        options = self.environment.parsed_options if self.environment is not None else None
        if options is not None and not getattr(options, "headless", False):
            return
        elapsed = now - (self.run_start or now)
        total = format_duration(self.planned_s) if self.planned_s else "—"
        p95 = interval.total.quantile_ms(0.95)
        errors = interval.total.error_rate
        log.info(
            "progress",
            phase=self.phase,
            elapsed=f"{format_duration(elapsed)}/{total}",
            users=cumulative.users,
            rps=round(interval.rps, 1),
            p95_ms=None if p95 is None else round(p95, 1),
            errors=None if errors is None else f"{errors * 100:.2f}%",
        )

    def _server_loop(self) -> None:
        """Poll the server side every period: live gauges, and the optional safety stop."""
        assert self.server is not None and self.plan is not None
        while True:
            gevent.sleep(self.plan.server.poll_s)
            try:
                reason = self.server.poll(self.run_start or self._clock())
            except Exception as exc:  # a broken poll must never stop the load
                log.warning("server poll failed", error=str(exc))
                continue
            if reason is not None and self.run_end is None:
                log.warning(reason)
                self._set_phase("safety stop", detail=reason)
                runner = self.environment.runner if self.environment is not None else None
                if runner is not None:
                    gevent.spawn(runner.quit)
                return

    def _running_window(self, cumulative: Snapshot) -> Snapshot:
        if self._window_start is not None:
            return cumulative.since(self._window_start)
        return cumulative

    def live_state(self) -> LiveState:
        """What exporters read; only call on the load loop's thread."""
        assert self.info is not None
        return LiveState(
            info=self.info,
            cumulative=self.store.snapshot(users=self._users()),
            users=self._users(),
            phase=self.phase,
            results=self._live_results,
            server=self.server.live_series() if self.server is not None else (),
            server_missing=self.server.live_missing() if self.server is not None else (),
            overflowed_requests=self.store.overflowed_requests,
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
        self._redact_html_report()
        runner = environment.runner
        interrupted = (
            self.run_start is not None
            and runner is not None
            and runner.state in (STATE_RUNNING, STATE_SPAWNING)
        )
        incomplete: list[str] = []
        if self.run_start is None:
            self.run_start = self.info.started_at if self.info else self._clock()
        if self.role == "master":
            self._check_workers()
        if interrupted:
            incomplete.append(
                interrupted_reason(at=self._clock(), run_start=self.run_start, planned_s=self.planned_s)
            )
            self._stop_users(runner)
        if self.run_end is None or interrupted:
            self.run_end = self._clock()
        self._kill_timers()
        incomplete += [lost.sentence(self.run_start) for lost in self._workers.lost]
        try:
            self.record = self._finish(interrupted=interrupted, incomplete=incomplete)
        except Exception as exc:  # never lose the run silently: say what broke, exit 2
            log.error("loadlens could not write its verdict", error=str(exc), exc_info=True)
            environment.process_exit_code = 2
            if self.annotator is not None:
                self.annotator.stop(self.live_state())
            for exporter in self.exporters:
                exporter.stop(self.live_state())
            return
        environment.process_exit_code = merged_exit_code(environment.process_exit_code, self.record.verdict)
        # The last export carries the verdict's own results (server criteria included), so a
        # dashboard's final state is the verdict, not the live approximation of it.
        final = replace(self.live_state(), results=self.record.verdict.results)
        if self.annotator is not None:
            from exporters.grafana.annotations import verdict_text

            v = self.record.verdict
            self.annotator.finish(status=v.status.value, summary=verdict_text(v), end=self.record.run_end)
            self.annotator.stop(final)
        for exporter in self.exporters:
            try:
                exporter.stop(final)
            except Exception as exc:
                log.warning(
                    "exporter failed to stop cleanly", exporter=getattr(exporter, "name", "?"), error=str(exc)
                )

    def _redact_html_report(self) -> None:
        """Locust wrote its HTML report (before ``quitting``) with the raw host: a password in it
        must not stay in the run directory."""
        options = self.environment.parsed_options if self.environment is not None else None
        html = getattr(options, "html_file", None)
        if (
            html
            and self.environment is not None
            and redact_text(self.environment.host or "") != (self.environment.host or "")
        ):
            redact_html_report(Path(html))

    def _stop_users(self, runner: Any) -> None:
        """An interrupted standalone run lets its users finish the request they are in before the
        summary is taken, so no request the target received is missing from it (bounded; a second
        Ctrl-C ends the wait). A master's users live on its workers, which Locust stops."""
        if self.role != "standalone" or runner is None:
            return
        grace_s = float(getattr(self.environment, "stop_timeout", None) or USER_STOP_GRACE_S)
        left = stop_users_gracefully(runner.user_greenlets, grace_s=grace_s, hurry=self._shield.hurry)
        if left:
            log.warning(
                "users still running after the stop wait: their requests in flight are not counted",
                users=left,
            )

    def _finish(self, *, interrupted: bool, incomplete: list[str]) -> RunRecord:
        plan = self.plan
        assert (
            plan is not None
            and self.info is not None
            and self.run_start is not None
            and self.run_end is not None
        )
        final = self.store.snapshot(users=self._users())
        window = choose_window(
            final,
            run_start=self.run_start,
            run_end=self.run_end,
            steady_start=self._window_start,
            steady_end=self._window_end,
        )
        whole, judged, kind = window.whole, window.judged, window.kind
        notes = list(window.notes)
        if self._cooldown_early is not None:
            notes.append(self._cooldown_early)
        if window.incomplete and not interrupted:
            incomplete.append(window.incomplete)
        if self.store.overflowed_requests:
            notes.append(
                f"{self.store.overflowed_requests} requests had names beyond the cap of {plan.max_endpoints} "
                "endpoints and were counted under '(other)'"
            )
        results = judge_client(judged, plan.thresholds, window=window.label)
        if (note := expected_note(judged, plan.thresholds)) is not None:
            notes.append(note)
        server_series: tuple[Any, ...] = ()
        server_missing: tuple[Any, ...] = ()
        if self.server is not None and (self.server.sources or self.server.failures):
            try:
                outcome = self._finish_server(judged, interrupted=interrupted)
            except Exception as exc:  # a bug on the server side must not cost the client verdict
                reason = f"loadlens could not judge server metrics: {type(exc).__name__}: {exc}"
                log.error("server metrics could not be judged", error=reason)
                results.append(source_failed("server", reason, required=self.server.plan.required))
            else:
                results += outcome.results
                notes += outcome.notes
                server_series = outcome.result.series
                server_missing = outcome.result.missing
        if self.run_end is not None:
            self.timeline.tick(final)
        found = self._analyse(judged, server_series, notes)
        results += found.results
        results += self._vs_baseline(judged, server_series, found.section)
        verdict = decide(results, interrupted=interrupted, notes=notes, incomplete=incomplete)
        record = RunRecord(
            info=self.info,
            run_start=self.run_start,
            run_end=self.run_end,
            window_start=judged.start,
            window_end=judged.end,
            window_kind=kind,
            whole=whole,
            judged=judged,
            timeline=self.timeline.points,
            verdict=verdict,
            server=server_series,
            interrupted=interrupted,
            command=plan.command,
            config_path=str(plan.config_path) if plan.config_path else None,
            versions={"loadlens": __version__, "locust": locust.__version__},
            analysis={**found.section, "findings": list(found.sentences)},
            server_missing=server_missing,
            shape=self._shape(),
        )
        if plan.run_dir is not None:
            write_reports(record, plan.run_dir, env=self._env)
        return record

    def _vs_baseline(self, judged: Snapshot, server: tuple[Any, ...], analysis: Any) -> list[Result]:
        """``--baseline``: regression criteria against the baseline run (runner.compare.criteria);
        a failure here is an INCONCLUSIVE row, never a lost verdict."""
        plan, info = self.plan, self.info
        assert plan is not None and info is not None
        options = getattr(self.environment, "parsed_options", None)
        spec = getattr(options, "baseline", None)
        if not spec:
            return []
        view = RunView(
            run_id=info.run_id,
            judged=judged,
            timeline=self.timeline.points,
            window_start=judged.start,
            window_end=judged.end,
            server=server,
            analysis=analysis,
            shape=self._shape(),
        )
        try:
            return baseline_results(
                spec,
                view,
                out_dir=plan.out_dir,
                scenario=plan.scenario_name,
                run_dir=plan.run_dir,
                aws_profile=plan.server.aws_profile,
                aws_region=plan.server.aws_region,
                tolerances=tolerances_from(plan.config.compare),
            )
        except Exception as exc:
            log.error("the baseline comparison failed", error=str(exc), exc_info=True)
            return [baseline_failed(spec, f"the baseline comparison failed: {type(exc).__name__}: {exc}")]

    def _shape(self) -> RunShape:
        """What makes this run comparable with another (summary.json "comparability")."""
        env, plan, info = self.environment, self.plan, self.info
        assert plan is not None and info is not None
        options = getattr(env, "parsed_options", None)
        return run_shape(
            locustfiles=getattr(env, "parsed_locustfiles", None) or (),
            scenario=plan.scenario_name,
            users=getattr(options, "num_users", None),
            spawn_rate=getattr(options, "spawn_rate", None),
            duration_s=self.planned_s,
            host=info.host,
            user_classes=[cls.__name__ for cls in getattr(env, "user_classes", None) or ()],
            tags=getattr(options, "tags", None) or (),
            exclude_tags=getattr(options, "exclude_tags", None) or (),
        )

    def _analyse(self, judged: Snapshot, server: tuple[Any, ...], notes: list[str]) -> Analysis:
        """Correlation and soak analysis; a failure here is a note, never a lost verdict."""
        plan = self.plan
        assert plan is not None
        try:
            return analyse_with_plan(
                timeline=self.timeline.points,
                server=server,
                window_start=judged.start,
                window_end=judged.end,
                thresholds=plan.thresholds,
                plan=plan.server,
            )
        except Exception as exc:
            log.error("the run's analysis failed", error=str(exc), exc_info=True)
            notes.append(f"the analysis failed: {exc}")
            return Analysis(section={}, sentences=(), results=())

    def _finish_server(self, judged: Snapshot, *, interrupted: bool) -> ServerOutcome:
        """Pull the test window from every source; wait for CloudWatch to settle unless the run was
        interrupted (a second Ctrl-C during the wait judges what has arrived)."""
        assert self.server is not None and self.run_start is not None and self.run_end is not None

        def progress(message: str) -> None:
            log.info("waiting for server metrics", detail=message)

        kwargs = dict(
            run_start=self.run_start,
            run_end=self.run_end,
            window_start=judged.start,
            window_end=judged.end,
            on_progress=progress,
        )
        settle = not interrupted and not self._shield.hurry.is_set()
        try:
            with self._shield.interruptible():
                return self.server.finish(settle=settle, **kwargs)  # type: ignore[arg-type]
        except KeyboardInterrupt:
            log.warning("stopped waiting for server metrics; judging what has arrived")
            outcome = self.server.finish(settle=False, **kwargs)  # type: ignore[arg-type]
            return replace(outcome, notes=(*outcome.notes, "the wait for server metrics was interrupted"))

    def _on_quit(self, exit_code: int = 0, **_kw: Any) -> None:
        if self.record is None or self._printed:
            return
        self._printed = True
        color = hasattr(self._out, "isatty") and self._out.isatty() and "NO_COLOR" not in self._env
        verbose = bool(self.plan and self.plan.verbose)
        text = render_table(self.record.verdict, color=bool(color), verbose=verbose)
        findings = self.record.analysis.get("findings") or []
        if findings:
            text = text.rstrip("\n") + "\n" + "".join(f"analysis: {line}\n" for line in findings)
        where = f"\nrun directory: {self.plan.run_dir}\n" if self.plan and self.plan.run_dir else "\n"
        if exit_code not in (0, self.record.verdict.exit_code):
            where += exit_code_note(exit_code, self.record.verdict)
        grafana = self.plan.config.grafana if self.plan else None
        if grafana is not None and grafana.url:
            from exporters.grafana.annotations import DEFAULT_DASHBOARD_UID, dashboard_link

            link = dashboard_link(
                grafana.url,
                uid=grafana.dashboard_uid or DEFAULT_DASHBOARD_UID,
                run_id=self.record.info.run_id,
                start=self.record.run_start,
                end=self.record.run_end,
            )
            where += f"grafana: {link}\n"
        self._out.write("\n" + text.rstrip("\n") + where)
        self._out.flush()
        waiting = [*([self.annotator] if self.annotator is not None else []), *self.exporters]
        try:
            with self._shield.interruptible():
                for exporter in waiting:
                    if self._shield.hurry.is_set():
                        break
                    exporter.wait_linger()
        except KeyboardInterrupt:
            log.info("stopped waiting for the exporters to finish")


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
