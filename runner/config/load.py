"""loadlens.toml, LOADLENS_* variables and command-line flags, layered into one frozen Config.

Precedence, applied in one step: built-in defaults < the file < LOADLENS_<SECTION>_<KEY> variables
< flags. The layers are merged as raw values (each remembering who set it), then pydantic checks
the whole result at once against runner.config.types, so every problem in a file is reported, one
line each, naming where it came from, the dotted key and what is wrong::

    loadlens.toml: thresholds.endpoints."GET /health".p95_ms: expected a number > 0, got "fast"
    LOADLENS_THRESHOLDS_P95_MS: expected a number > 0, got "x"
    --prometheus-port: expected an integer from 1 to 65535, got 0

pydantic is imported here, inside ``load_config``: `loadlens run --help` never pays for it.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from runner.config import keys as ck
from runner.config.build import build_scenarios, dotted
from runner.config.compare import CompareConfig, tolerance_clashes
from runner.config.files import CONFIG_FILE_NAME, find_file, read_toml
from runner.config.options import FlagValue
from runner.config.overrides import group_problems, override
from runner.config.rules import ERROR_TYPE, show
from runner.config.scenarios import BUILTIN, Scenario
from runner.config.types import (
    SCENARIOS,
    CloudWatchConfig,
    ExportersConfig,
    GrafanaConfig,
    Limits,
    OtlpConfig,
    ProcessConfig,
    PrometheusExporterConfig,
    PrometheusSourceConfig,
    PushgatewayConfig,
    RecoveryConfig,
    RunConfig,
    ScenarioTable,
    ScenarioThresholds,
    ServerCriteriaLimits,
    ServerLimits,
    Thresholds,
)
from runner.errors import ConfigError, UsageError


def _builtin_scenarios() -> Mapping[str, Scenario]:
    return BUILTIN


@dataclass(frozen=True, slots=True)
class Config:
    """Everything configurable, after file, environment and flags. ``Config()`` is the defaults."""

    run: RunConfig = field(default_factory=RunConfig)
    scenarios: Mapping[str, Scenario] = field(default_factory=_builtin_scenarios)
    thresholds: Thresholds = field(default_factory=Thresholds)
    server: ServerLimits = field(default_factory=ServerLimits)
    cloudwatch: CloudWatchConfig = field(default_factory=CloudWatchConfig)
    prometheus_source: PrometheusSourceConfig = field(default_factory=PrometheusSourceConfig)
    process: ProcessConfig = field(default_factory=ProcessConfig)
    exporters: ExportersConfig = field(default_factory=ExportersConfig)
    grafana: GrafanaConfig = field(default_factory=GrafanaConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)
    # [scenarios.NAME.thresholds]: what overrides [thresholds] when that scenario runs
    scenario_thresholds: Mapping[str, ScenarioThresholds] = field(default_factory=dict)
    recovery: RecoveryConfig = field(default_factory=RecoveryConfig)
    source_path: Path | None = None  # the file read, if any
    env_applied: tuple[str, ...] = ()  # LOADLENS_* variables that set something

    def scenario(self, name: str) -> Scenario:
        """The scenario called ``name``, built-in or from the file."""
        found = self.scenarios.get(name)
        if found is None:
            raise ConfigError(f"{unknown_scenario(name, self.scenarios)}")
        return found

    def thresholds_for(self, scenario: str | None) -> Thresholds:
        """[thresholds], with the [scenarios.NAME.thresholds] of ``scenario`` over it: the one
        lookup ``loadlens run`` and ``loadlens verdict`` (the scenario its summary names) share."""
        own = self.scenario_thresholds.get(scenario) if scenario is not None else None
        return self.thresholds if own is None else override(self.thresholds, own)

    def selected_scenario(self) -> Scenario | None:
        """The scenario [run] scenario (or --scenario) names; ``None`` when none is named."""
        return None if self.run.scenario is None else self.scenario(self.run.scenario)


def load_config(
    path: Path | None,
    *,
    env: Mapping[str, str] = os.environ,
    cwd: Path | None = None,
    flags: Iterable[FlagValue] = (),
) -> Config:
    """Read the config file (if any), apply LOADLENS_* variables from ``env`` and then ``flags``
    (see runner.config.options.flag_values), and check it all in one pass.

    ``path`` None: the file LOADLENS_CONFIG names, else ``cwd/loadlens.toml`` if it exists, else
    built-in defaults only. A named file that does not exist is a ConfigError. ``cwd`` defaults to
    the process's working directory at call time. Problems with flags raise UsageError, all others
    ConfigError; either holds one line per problem.
    """
    base = Path.cwd() if cwd is None else cwd
    file, display = find_file(path, env, base)
    layers = _Layers(display)
    if file is not None:
        layers.apply_file(read_toml(file, display))
    layers.apply_env(env)
    for given in flags:
        layers.apply_flag(given)
    return layers.build(source_path=file)


def _from_text(raw: str, *, textual: bool) -> object:
    """An environment (or flag) string as a TOML scalar or list when it reads as one, else as is.
    Textual keys take the text verbatim unless it is a quoted TOML string."""
    stripped = raw.strip()
    try:
        parsed = tomllib.loads(f"v = {stripped}")
    except tomllib.TOMLDecodeError:
        return stripped
    if len(parsed) != 1:  # "1\nother = 2" is text, not a value plus a smuggled key
        return stripped
    value = parsed["v"]
    if textual and not isinstance(value, str):
        return stripped
    return value


def _hint(key: str, known: Iterable[str]) -> str:
    options = sorted(known)
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.6)
    if close:
        return f' (did you mean "{close[0]}"?)'
    return " (known: " + ", ".join(options) + ")"


def unknown_scenario(name: str, scenarios: Mapping[str, Scenario]) -> str:
    close = difflib.get_close_matches(name, list(scenarios), n=1, cutoff=0.6)
    hint = f'did you mean "{close[0]}"? ' if close else ""
    return f'unknown scenario "{name}" ({hint}known: {", ".join(scenarios)})'


def _env_hint(name: str) -> str:
    close = difflib.get_close_matches(name, [*ck.ENV_KEYS, *ck.ENV_RESERVED], n=1, cutoff=0.75)
    return f' (did you mean "{close[0]}"?)' if close else " (see docs/configuration.md for the list)"


class _Layers:
    """The raw values of every layer, later ones replacing earlier ones key by key, with who set
    each key (a file location, a variable, a flag) for the messages."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.tables: dict[str, dict[str, object]] = {s: {} for s in ck.SECTIONS}
        self.setter: dict[tuple[str, str], str] = {}  # (section, key) -> variable or flag
        self.present: set[str] = set()  # sections the file or the environment mentioned
        self.endpoints: object = None
        self.groups: object = None
        self.compare_endpoints: object = None  # [compare.endpoints."METHOD name"] tables
        self.scenarios: object = None
        self.env_applied: list[str] = []
        self.problems: list[str] = []
        self.flag_problems: list[str] = []

    def _at(self, *parts: str | int) -> str:
        return f"{self.display}: {dotted(*parts)}"

    # -- the layers -------------------------------------------------------------------------------
    def apply_file(self, doc: Mapping[str, object]) -> None:
        for top, value in doc.items():
            if top == "scenarios":
                self.scenarios = value
            elif top == "exporters" and isinstance(value, dict):
                for sub, sub_value in value.items():
                    if f"exporters.{sub}" in ck.SECTIONS:
                        self._section(f"exporters.{sub}", sub_value)
                    else:
                        subs = [s.split(".")[1] for s in ck.SECTIONS if s.startswith("exporters.")]
                        self.problems.append(
                            f"{self._at('exporters', sub)}: unknown section{_hint(sub, subs)}"
                        )
            elif top in ck.SECTIONS:
                self._section(top, value)
            elif top in ck.TOP_LEVEL:
                self.problems.append(f"{self._at(top)}: expected a table, got {show(value)}")
            else:
                self.problems.append(f"{self._at(top)}: unknown section{_hint(top, ck.TOP_LEVEL)}")

    def _section(self, section: str, table: object) -> None:
        parts = section.split(".")
        if not isinstance(table, dict):
            self.problems.append(f"{self._at(*parts)}: expected a table, got {show(table)}")
            return
        self.present.add(section)
        keys = ck.SECTIONS[section]
        for key, raw in table.items():
            if section == "thresholds" and key == "endpoints":
                self.endpoints = raw
            elif section == "thresholds" and key == "groups":
                self.groups = raw
            elif section == "compare" and key == "endpoints":
                self.compare_endpoints = raw
            elif key in keys:
                self.tables[section][key] = raw
            else:
                extra = {"thresholds": ["endpoints", "groups"], "compare": ["endpoints"]}.get(section, [])
                self.problems.append(f"{self._at(*parts, key)}: unknown key{_hint(key, [*keys, *extra])}")

    def apply_env(self, env: Mapping[str, str]) -> None:
        for name in sorted(env):
            if not name.startswith("LOADLENS_") or name in ck.ENV_RESERVED:
                continue
            target = ck.ENV_KEYS.get(name)
            if target is None:
                self.problems.append(f"{name}: unknown loadlens variable{_env_hint(name)}")
                continue
            raw = env[name]
            if not raw.strip():
                continue  # CI systems export unset secrets as empty strings: treat them as unset
            section, key = target
            value = _from_text(raw, textual=ck.SECTIONS[section][key].textual)
            self._set(section, key, value, name)
            self.present.add(section)
            self.env_applied.append(name)

    def apply_flag(self, given: FlagValue) -> None:
        spec = ck.SECTIONS[given.section][given.key]
        value = given.value
        if isinstance(value, str):
            value = _from_text(value, textual=spec.textual)
        if given.add:
            below = self.tables[given.section].get(given.key, [])
            value = [*below, *value] if isinstance(below, list) and isinstance(value, list) else value
        for other in given.clears:
            self.tables[given.section].pop(other, None)
        self._set(given.section, given.key, value, given.flag)

    def _set(self, section: str, key: str, value: object, setter: str) -> None:
        self.tables[section][key] = value
        self.setter[(section, key)] = setter

    # -- one check of everything ------------------------------------------------------------------
    def build(self, *, source_path: Path | None) -> Config:
        from pydantic import TypeAdapter, ValidationError

        data = self._nested()
        cfg = tables = None
        try:
            cfg = TypeAdapter(Config).validate_python(data)
        except ValidationError as exc:
            self._report(exc.errors(), ())
        if self.scenarios is not None:
            try:
                tables = TypeAdapter(SCENARIOS).validate_python(self.scenarios)
            except ValidationError as exc:
                self._report(exc.errors(), ("scenarios",))
        scenarios = build_scenarios(tables or {}, at=self._at, problems=self.problems)
        if cfg is not None:
            self._cross_checks(cfg, scenarios, tables)
        if self.problems:
            raise ConfigError("\n".join([*self.problems, *self.flag_problems]))
        if self.flag_problems:
            raise UsageError("\n".join(self.flag_problems))
        assert cfg is not None
        otlp = cfg.exporters.otlp
        if "enabled" not in self.tables["exporters.otlp"] and "exporters.otlp" in self.present:
            otlp = OtlpConfig(**{**_fields(otlp), "enabled": True})
        # The judged server limits: [server]'s own, with the process's and the WARN band.
        criteria = replace(
            cfg.server.criteria,
            process_cpu_percent=cfg.process.cpu_percent,
            process_memory_percent=cfg.process.memory_percent,
            warn_ratio=cfg.thresholds.warn_ratio,
        )
        # The CloudWatch [[server.metrics]] are read by the CloudWatch source with the rest.
        watched = tuple(m for m in criteria.metrics if m.source == "cloudwatch")
        cloudwatch = replace(cfg.cloudwatch, target=replace(cfg.cloudwatch.target, metrics=watched))
        return Config(
            **{
                **_fields(cfg),
                "server": replace(cfg.server, criteria=criteria),
                "cloudwatch": cloudwatch,
                "scenarios": scenarios,
                "scenario_thresholds": {
                    name: t.thresholds for name, t in (tables or {}).items() if t.thresholds is not None
                },
                "exporters": ExportersConfig(**{**_fields(cfg.exporters), "otlp": otlp}),
                "source_path": source_path,
                "env_applied": tuple(self.env_applied),
            }
        )

    def _nested(self) -> dict[str, Any]:
        """The merged tables in the shape of Config: flat TOML keys placed at their field paths."""
        data: dict[str, Any] = {}
        for section, values in self.tables.items():
            table = data
            for part in section.split("."):
                table = table.setdefault(part, {})
            for key, value in values.items():
                spot = table
                path = ck.SECTIONS[section][key].path
                for part in path[:-1]:
                    spot = spot.setdefault(part, {})
                spot[ck.toml_key(path[-1])] = value
        if self.endpoints is not None:
            data.setdefault("thresholds", {})["endpoints"] = self.endpoints
        if self.groups is not None:
            data.setdefault("thresholds", {})["groups"] = self.groups
        if self.compare_endpoints is not None:
            data.setdefault("compare", {})["endpoints"] = self.compare_endpoints
        return data

    def _report(self, errors: Iterable[Mapping[str, Any]], prefix: tuple[str, ...]) -> None:
        for err in errors:
            loc = [p for p in (*prefix, *err["loc"]) if p != "[key]"]
            if len(loc) > 1 and (str(loc[0]), str(loc[1])) in ck.FLAT_FIELDS:
                del loc[1]
            section = ".".join(loc[:2]) if loc[:1] == ["exporters"] else str(loc[0])
            n = 2 if loc[:1] == ["exporters"] else 1
            key = str(loc[n]) if len(loc) > n else ""
            problem = self._problem(err, loc)
            setter = self.setter.get((section, key))
            if setter is not None:
                # A flag's list joins the file's: an index into it would not be the user's.
                inside = "" if setter.startswith("--") else dotted("", *loc[n + 1 :])
                line = f"{setter}{inside}: {problem}"
                (self.flag_problems if setter.startswith("--") else self.problems).append(line)
            elif self.display:
                self.problems.append(f"{self._at(*loc)}: {problem}")
            else:  # no file: a section-wide problem comes from the variables that set its keys
                names = sorted({v for (s, _), v in self.setter.items() if s == section})
                self.problems.append(f"{', '.join(names) or dotted(*loc)}: {problem}")

    @staticmethod
    def _problem(err: Mapping[str, Any], loc: list[str | int]) -> str:
        kind = err["type"]
        if kind == ERROR_TYPE:
            return str(err["msg"])
        if kind == "value_error":
            return str(err["ctx"]["error"])
        if kind in ("unexpected_keyword_argument", "extra_forbidden"):
            parent = next((str(p) for p in reversed(loc[:-1]) if str(p) in ck.NESTED_KEYS), "")
            known = ck.NESTED_KEYS.get(parent, {})
            if parent == "endpoints" and loc and str(loc[0]) == "compare":
                known = ck.COMPARE_ENDPOINT_KEYS
            return f"unknown key{_hint(str(loc[-1]), known)}"
        if kind in ("dataclass_type", "dataclass_args_type", "dict_type"):
            return f"expected a table, got {show(err['input'])}"
        return f"{err['msg']}, got {show(err['input'])}"

    def _cross_checks(
        self, cfg: Config, scenarios: Mapping[str, Scenario], checked: Mapping[str, ScenarioTable] | None
    ) -> None:
        name = cfg.run.scenario
        tables = self.scenarios if isinstance(self.scenarios, dict) else {}
        if name is not None and name not in scenarios and name not in tables:  # a bad table: said
            self._blame("run", ("scenario",), unknown_scenario(name, scenarios))
        clashes = tolerance_clashes(cfg.thresholds.endpoints, cfg.compare.endpoints)
        for parts, problem in [*group_problems(cfg.thresholds, checked or {}), *clashes]:
            self.problems.append(f"{self._at(*parts)}: {problem}")
        if cfg.process.pid is not None and cfg.process.name is not None:
            self._blame("process", ("pid", "name"), "give process pid or name, not both")
        warn = cfg.server.leak_warn_percent_per_hour
        fail = cfg.server.leak_fail_percent_per_hour
        if warn is not None and fail is not None and warn >= fail:
            self._blame(
                "server",
                ("leak_warn_percent_per_hour", "leak_fail_percent_per_hour"),
                f"leak_warn_percent_per_hour ({warn:g}) must be below leak_fail_percent_per_hour ({fail:g})",
            )

        metrics = cfg.server.criteria.metrics
        names = [m.name for m in metrics]
        for i, m in enumerate(metrics):
            if m.name in names[:i]:
                self.problems.append(f'{self._at("server", "metrics", i, "name")}: "{m.name}" is used twice')
            if m.query and not cfg.prometheus_source.url:
                self.problems.append(
                    f"{self._at('server', 'metrics', i, 'query')}: a query is read from "
                    "[prometheus_source] url, which is not set"
                )

    def _blame(self, section: str, keys: tuple[str, ...], problem: str) -> None:
        """A problem between keys is blamed on the layer applied last: that is the one to fix."""
        setters = [self.setter[(section, k)] for k in keys if (section, k) in self.setter]
        flags = [s for s in setters if s.startswith("--")]
        if flags:
            self.flag_problems.append(f"{flags[-1]}: {problem}")
        elif setters:
            self.problems.append(f"{setters[-1]}: {problem}")
        else:
            self.problems.append(f"{self._at(*section.split('.'), keys[-1])}: {problem}")


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


__all__ = [
    "CONFIG_FILE_NAME",
    "CloudWatchConfig",
    "CompareConfig",
    "Config",
    "ExportersConfig",
    "FlagValue",
    "GrafanaConfig",
    "Limits",
    "OtlpConfig",
    "ProcessConfig",
    "PrometheusExporterConfig",
    "PrometheusSourceConfig",
    "PushgatewayConfig",
    "RecoveryConfig",
    "RunConfig",
    "ServerCriteriaLimits",
    "ServerLimits",
    "Thresholds",
    "load_config",
]
