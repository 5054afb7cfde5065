"""A run's plan: the configuration (file < LOADLENS_* < flags, one step in runner.config.load)
resolved into what the bridge needs.

Built once by `loadlens run` before Locust starts (so every mistake is exit 2 with one line), or in
Locust's ``init`` when loadlens is loaded as a plugin into plain `locust`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.config.load import Config, Thresholds
from runner.config.options import load_options_config
from runner.config.scenarios import Scenario
from runner.logs import redact_text
from runner.reports.rundir import create_run_dir
from runner.sources.server import ServerPlan, server_plan

if TYPE_CHECKING:
    from exporters.base import Exporter
    from exporters.grafana.annotations import GrafanaAnnotator

ADHOC = "adhoc"  # the scenario name of a run that names none


@dataclass(frozen=True)
class RunPlan:
    """Everything static about a run, decided before the first request."""

    run_id: str
    scenario_name: str
    scenario: Scenario | None
    thresholds: Thresholds
    expected_statuses: frozenset[int]
    run_dir: Path | None  # None on workers (they judge and write nothing), or not created yet
    out_dir: Path = Path("results")
    role: str = "standalone"
    warmup_s: float = 0.0
    cooldown_s: float = 0.0
    interval_s: float = 5.0
    progress_s: float = 5.0
    max_endpoints: int = 500
    lean: bool = True  # runner.locust.lean
    max_timeline_points: int = 720
    log_format: str = "console"
    verbose: bool = False  # the console shows every criteria row (long tables fold otherwise)
    locustfile: str | None = None
    host: str | None = None
    command: tuple[str, ...] = ()
    config_path: Path | None = None
    config: Config = field(default_factory=Config)
    server: ServerPlan = field(default_factory=ServerPlan)
    exit_code_on_error: int | None = None  # Locust's --exit-code-on-error N, when the user gave it

    def build_annotator(self, *, environ: Mapping[str, str]) -> GrafanaAnnotator | None:
        """The Grafana annotator when a Grafana URL is configured (never on workers), else None."""
        g = self.config.grafana
        if g.url is None or self.role == "worker":
            return None
        from exporters.grafana.annotations import GrafanaAnnotator
        from exporters.grafana.api import resolve_token

        return GrafanaAnnotator(g.url, token=resolve_token(environ), dashboard_uid=g.dashboard_uid)

    def build_exporters(self, *, environ: Mapping[str, str] | None = None) -> list[Exporter]:
        """The live exporters this plan asks for, not started (workers get none)."""
        from exporters.build import build_exporters
        from exporters.settings import OtlpSettings, PrometheusSettings, PushgatewaySettings

        ex = self.config.exporters
        prom = push = otlp = None
        if ex.prometheus.enabled:
            assert ex.prometheus.port is not None
            prom = PrometheusSettings(
                port=ex.prometheus.port,
                bind=ex.prometheus.bind,
                linger_s=ex.prometheus.linger_s,
                max_names=ex.prometheus.max_names,
                max_statuses=ex.prometheus.max_statuses,
            )
        if ex.pushgateway.enabled:
            assert ex.pushgateway.url is not None
            push = PushgatewaySettings(
                url=ex.pushgateway.url,
                interval_s=ex.pushgateway.interval_s,
                job=ex.pushgateway.job,
                delete_on_finish=ex.pushgateway.delete_on_finish,
            )
        if ex.otlp.enabled:
            otlp = OtlpSettings(
                endpoint=ex.otlp.endpoint,
                protocol=ex.otlp.protocol,
                interval_s=ex.otlp.interval_s,
                headers=ex.otlp.headers,
            )
        return build_exporters(
            prometheus=prom,
            pushgateway=push,
            otlp=otlp,
            role=self.role,
            expected_statuses=self.expected_statuses,
            environ=environ,
        )


def plan_from_options(
    options: Any,
    *,
    env: Mapping[str, str],
    role: str,
    command: Sequence[str] = (),
    now: float | None = None,
    create_dir: bool = True,
    config: Config | None = None,
) -> RunPlan:
    """Resolve loadlens's options (an argparse namespace, from `loadlens run` or Locust's parser).
    With ``create_dir=False`` the run directory is left for ``with_run_dir`` to create; ``config``:
    the configuration ``load_options_config`` already read from these options."""
    cfg = config or load_options_config(options, env=env)
    scenario = cfg.selected_scenario()
    name = scenario.name if scenario is not None else ADHOC
    expected = set(cfg.thresholds.expected_statuses)
    if scenario is not None:
        expected |= scenario.expected_statuses
    server = server_plan(cfg)
    given_dir = getattr(options, "loadlens_run_dir", None)
    plan = RunPlan(
        run_id=f"{name}-worker",
        scenario_name=name,
        scenario=scenario,
        thresholds=cfg.thresholds_for(name),
        expected_statuses=frozenset(expected),
        run_dir=Path(given_dir) if given_dir else None,
        out_dir=cfg.run.out,
        role=role,
        warmup_s=cfg.run.warmup_s,
        cooldown_s=cfg.run.cooldown_s,
        interval_s=cfg.run.interval_s,
        progress_s=cfg.run.progress_s,
        max_endpoints=cfg.run.max_endpoints,
        lean=cfg.run.lean,
        log_format=getattr(options, "log_format", None) or env.get("LOADLENS_LOG_FORMAT") or "console",
        verbose=bool(getattr(options, "verbose", False)),
        locustfile=cfg.run.locustfile,
        host=cfg.run.host,
        command=tuple(redact_text(c) for c in command),
        config_path=cfg.source_path,
        config=cfg,
        server=server,
        exit_code_on_error=exit_code_on_error(options, argv=sys.argv[1:], env=env),
    )
    return with_run_dir(plan, now=now) if create_dir else plan


def exit_code_on_error(options: Any, *, argv: Sequence[str], env: Mapping[str, str]) -> int | None:
    """Locust's ``--exit-code-on-error N`` when the user set it (the flag in ``argv``, the
    LOCUST_EXIT_CODE_ON_ERROR variable, or a Locust config file's value other than the default 1),
    else None: only an N the user asked for changes a passing run's exit code."""
    value = getattr(options, "exit_code_on_error", None)
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    flag = "--exit-code-on-error"
    given = any(a == flag or a.startswith(flag + "=") for a in argv)
    return value if given or "LOCUST_EXIT_CODE_ON_ERROR" in env or value != 1 else None


def with_run_dir(plan: RunPlan, *, now: float | None = None) -> RunPlan:
    """Create the plan's run directory (not on workers: they write nothing) and name the run after it."""
    if plan.role == "worker":
        return plan
    if plan.run_dir is not None:  # given by `loadlens run` to the processes it starts
        plan.run_dir.mkdir(parents=True, exist_ok=True)
        return replace(plan, run_id=plan.run_dir.name)
    run_dir = create_run_dir(plan.out_dir, plan.scenario_name, time.time() if now is None else now)
    return replace(plan, run_dir=run_dir, run_id=run_dir.name)
