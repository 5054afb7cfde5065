"""loadlens.toml, LOADLENS_* variables and command-line flags, layered into one frozen Config.

Precedence: built-in defaults < the file < LOADLENS_<SECTION>_<KEY> variables < flags
(``Config.with_overrides``). Every problem is one line naming where it came from, the dotted key
and what is wrong::

    loadlens.toml: thresholds.endpoints."GET /health".p95_ms: expected a number > 0, got "fast"
    LOADLENS_THRESHOLDS_P95_MS: expected a number > 0, got "x"

The accepted keys and their checks are in runner.config.keys; docs/configuration.md lists them.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from runner.config import keys as ck
from runner.config.scenarios import BUILTIN, Scenario, Stage, resolve_scenario
from runner.config.types import (
    CloudWatchConfig,
    ExportersConfig,
    GrafanaConfig,
    Limits,
    OtlpConfig,
    ProcessConfig,
    PrometheusExporterConfig,
    PrometheusSourceConfig,
    PushgatewayConfig,
    RunConfig,
    ServerLimits,
    Thresholds,
)
from runner.errors import ConfigError, UsageError

CONFIG_FILE_NAME = "loadlens.toml"


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
    source_path: Path | None = None  # the file read, if any
    env_applied: tuple[str, ...] = ()  # LOADLENS_* variables that set something

    def scenario(self, name: str) -> Scenario:
        """The scenario called ``name``, built-in or from the file."""
        found = self.scenarios.get(name)
        if found is None:
            raise ConfigError(f"{_unknown_scenario(name, self.scenarios)}")
        return found

    def selected_scenario(self) -> Scenario | None:
        """The scenario [run] scenario (or --scenario) names; ``None`` when none is named."""
        return None if self.run.scenario is None else self.scenario(self.run.scenario)

    def with_overrides(
        self,
        *,
        host: str | None = None,
        scenario: str | None = None,
        out: str | Path | None = None,
        locustfile: str | None = None,
        prometheus_port: int | str | None = None,
        prometheus_bind: str | None = None,
        otlp: bool | None = None,
        otlp_endpoint: str | None = None,
        pushgateway_url: str | None = None,
        grafana_url: str | None = None,
        cloudwatch_region: str | None = None,
        cloudwatch_profile: str | None = None,
        cloudwatch_require: bool | None = None,
    ) -> Config:
        """This config with command-line flags applied last; ``None`` means the flag was not given.

        Values are checked like file values; a bad one raises UsageError naming the flag.
        """
        given = {
            "--host": host,
            "--scenario": scenario,
            "--out": str(out) if isinstance(out, Path) else out,
            "--locustfile": locustfile,
            "--prometheus-port": prometheus_port,
            "--prometheus-bind": prometheus_bind,
            "--otlp": otlp,
            "--otlp-endpoint": otlp_endpoint,
            "--pushgateway": pushgateway_url,
            "--grafana-url": grafana_url,
            "--aws-region": cloudwatch_region,
            "--aws-profile": cloudwatch_profile,
            "--require-server-metrics": cloudwatch_require,
        }
        changes: dict[str, dict[str, object]] = {}
        for flag, raw in given.items():
            if raw is None:
                continue
            section, key = _FLAGS[flag]
            rule = ck.SECTIONS[section][key].rule
            value = _from_text(raw, textual=rule.textual) if isinstance(raw, str) else raw
            try:
                converted = rule.convert(value)
            except ck.RuleError as exc:
                raise UsageError(f"{flag}{exc.at}: {exc}") from None
            changes.setdefault(section, {})[ck.SECTIONS[section][key].attr] = converted
        if otlp_endpoint is not None and otlp is None:
            changes["exporters.otlp"]["enabled"] = True
        if scenario is not None and scenario not in self.scenarios:
            raise UsageError(f"--scenario: {_unknown_scenario(scenario, self.scenarios)}")

        run = replace(self.run, **changes.get("run", {}))  # type: ignore[arg-type]
        exporters = replace(
            self.exporters,
            prometheus=replace(self.exporters.prometheus, **changes.get("exporters.prometheus", {})),  # type: ignore[arg-type]
            pushgateway=replace(self.exporters.pushgateway, **changes.get("exporters.pushgateway", {})),  # type: ignore[arg-type]
            otlp=replace(self.exporters.otlp, **changes.get("exporters.otlp", {})),  # type: ignore[arg-type]
        )
        grafana = replace(self.grafana, **changes.get("grafana", {}))  # type: ignore[arg-type]
        cloudwatch = replace(self.cloudwatch, **changes.get("cloudwatch", {}))  # type: ignore[arg-type]
        return replace(self, run=run, exporters=exporters, grafana=grafana, cloudwatch=cloudwatch)


# Flag -> (section, key); the CLI's own option names, so messages name what the user typed.
_FLAGS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "--host": ("run", "host"),
        "--scenario": ("run", "scenario"),
        "--out": ("run", "out"),
        "--locustfile": ("run", "locustfile"),
        "--prometheus-port": ("exporters.prometheus", "port"),
        "--prometheus-bind": ("exporters.prometheus", "bind"),
        "--otlp": ("exporters.otlp", "enabled"),
        "--otlp-endpoint": ("exporters.otlp", "endpoint"),
        "--pushgateway": ("exporters.pushgateway", "url"),
        "--grafana-url": ("grafana", "url"),
        "--aws-region": ("cloudwatch", "region"),
        "--aws-profile": ("cloudwatch", "profile"),
        "--require-server-metrics": ("cloudwatch", "require"),
    }
)


def load_config(path: Path | None, *, env: Mapping[str, str] = os.environ, cwd: Path | None = None) -> Config:
    """Read the config file (if any), apply LOADLENS_* variables from ``env``, and check it all.

    ``path`` None: the file LOADLENS_CONFIG names, else ``cwd/loadlens.toml`` if it exists, else
    built-in defaults only. A named file that does not exist is a ConfigError. ``cwd`` defaults to
    the process's working directory at call time.
    """
    base = Path.cwd() if cwd is None else cwd
    file, display = _find_file(path, env, base)
    layers = _Layers()
    if file is not None:
        layers.apply_file(_read_toml(file, display), display)
    layers.apply_env(env)
    return layers.build(source_path=file)


def _find_file(path: Path | None, env: Mapping[str, str], cwd: Path) -> tuple[Path | None, str]:
    if path is not None:
        file = path if path.is_absolute() else cwd / path
        if not file.is_file():
            raise ConfigError(f"{path}: config file not found")
        return file, str(path)
    named = env.get("LOADLENS_CONFIG", "").strip()
    if named:
        file = Path(named) if Path(named).is_absolute() else cwd / named
        if not file.is_file():
            raise ConfigError(f"LOADLENS_CONFIG: config file not found: {named}")
        return file, named
    default = cwd / CONFIG_FILE_NAME
    return (default, CONFIG_FILE_NAME) if default.is_file() else (None, "")


_TOML_POSITION = re.compile(
    r"^(?P<msg>.*?)\s*\(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$"
)


def _read_toml(file: Path, display: str) -> dict[str, object]:
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{display}: cannot read the config file: {exc.strerror or exc}") from None
    try:
        # utf-8-sig: some Windows editors start the file with a byte-order mark.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{display}: not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = _TOML_POSITION.match(message)
        if where is None:
            raise ConfigError(f"{display}: invalid TOML: {message}") from None
        line = where["line"]
        at = f"line {line}, column {where['col']}" if line else "end of file"
        raise ConfigError(f"{display}: {at}: invalid TOML: {where['msg']}") from None


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


def _unknown_scenario(name: str, scenarios: Mapping[str, Scenario]) -> str:
    close = difflib.get_close_matches(name, list(scenarios), n=1, cutoff=0.6)
    hint = f'did you mean "{close[0]}"? ' if close else ""
    return f'unknown scenario "{name}" ({hint}known: {", ".join(scenarios)})'


def _expect_table(value: object, where: str, what: str = "a table") -> dict[str, object]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected {what}, got {ck.show(value)}")
    return value


class _Layers:
    """Checked values from each layer, remembering where each came from for later messages."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, tuple[object, str]]] = {s: {} for s in ck.SECTIONS}
        self.present: set[str] = set()  # sections the file or the environment mentioned
        self.endpoints: dict[str, Limits] = {}
        self.scenarios: dict[str, Scenario] = dict(BUILTIN)
        self.env_applied: list[str] = []

    # -- the file ---------------------------------------------------------------------------------

    def apply_file(self, doc: Mapping[str, object], display: str) -> None:
        known = sorted({s.split(".")[0] for s in ck.SECTIONS} | {"scenarios"})
        for top, value in doc.items():
            where = f"{display}: {ck.dotted(top)}"
            if top == "scenarios":
                self._scenarios(_expect_table(value, where, "a table of scenarios"), display)
            elif top == "exporters":
                for sub, sub_value in _expect_table(value, where).items():
                    section = f"exporters.{sub}"
                    if section not in ck.SECTIONS:
                        subs = [s.split(".")[1] for s in ck.SECTIONS if s.startswith("exporters.")]
                        hint = _hint(sub, subs)
                        raise ConfigError(f"{display}: {ck.dotted('exporters', sub)}: unknown section{hint}")
                    self._section(section, sub_value, display)
            elif top in ck.SECTIONS:
                self._section(top, value, display)
            else:
                raise ConfigError(f"{where}: unknown section{_hint(top, known)}")

    def _section(self, section: str, value: object, display: str) -> None:
        parts = section.split(".")
        table = _expect_table(value, f"{display}: {ck.dotted(*parts)}")
        self.present.add(section)
        keys = ck.SECTIONS[section]
        for key, raw in table.items():
            where = f"{display}: {ck.dotted(*parts, key)}"
            if section == "thresholds" and key == "endpoints":
                self._endpoints(_expect_table(raw, where, "a table of endpoints"), display)
                continue
            if key not in keys:
                extra = ["endpoints"] if section == "thresholds" else []
                raise ConfigError(f"{where}: unknown key{_hint(key, [*keys, *extra])}")
            self.values[section][key] = (_check(keys[key].rule, raw, where), where)

    def _endpoints(self, table: Mapping[str, object], display: str) -> None:
        for endpoint, value in table.items():
            where = f"{display}: {ck.dotted('thresholds', 'endpoints', endpoint)}"
            if not ck.ENDPOINT_KEY.fullmatch(endpoint):
                raise ConfigError(
                    f'{where}: an endpoint must be written "METHOD name" with METHOD in upper case, '
                    f'e.g. "GET /health"'
                )
            limits = {}
            for key, raw in _expect_table(value, where).items():
                key_where = f"{display}: {ck.dotted('thresholds', 'endpoints', endpoint, key)}"
                if key not in ck.LIMIT_KEYS:
                    raise ConfigError(f"{key_where}: unknown key{_hint(key, ck.LIMIT_KEYS)}")
                limits[ck.LIMIT_KEYS[key].attr] = _check(ck.LIMIT_KEYS[key].rule, raw, key_where)
            self.endpoints[endpoint] = Limits(**limits)  # type: ignore[arg-type]

    def _scenarios(self, table: Mapping[str, object], display: str) -> None:
        for name, value in table.items():
            where = f"{display}: {ck.dotted('scenarios', name)}"
            if not ck.SCENARIO_NAME.fullmatch(name):
                raise ConfigError(
                    f'{where}: a scenario name may only use letters, digits, "-", "_" and "." '
                    f"(it names the run directory)"
                )
            given: dict[str, object] = {}
            for key, raw in _expect_table(value, where).items():
                key_where = f"{display}: {ck.dotted('scenarios', name, key)}"
                if key not in ck.SCENARIO_KEYS:
                    raise ConfigError(f"{key_where}: unknown key{_hint(key, ck.SCENARIO_KEYS)}")
                given[key] = _check(ck.SCENARIO_KEYS[key], raw, key_where)
            self.scenarios[name] = _scenario(name, given, self.scenarios.get(name), display)

    # -- the environment --------------------------------------------------------------------------

    def apply_env(self, env: Mapping[str, str]) -> None:
        for name in sorted(env):
            if not name.startswith("LOADLENS_") or name in ck.ENV_RESERVED:
                continue
            target = ck.ENV_KEYS.get(name)
            if target is None:
                raise ConfigError(f"{name}: unknown loadlens variable{_env_hint(name)}")
            raw = env[name]
            if not raw.strip():
                continue  # CI systems export unset secrets as empty strings: treat them as unset
            section, key = target
            rule = ck.SECTIONS[section][key].rule
            self.values[section][key] = (_check(rule, _from_text(raw, textual=rule.textual), name), name)
            self.present.add(section)
            self.env_applied.append(name)

    # -- the result -------------------------------------------------------------------------------

    def build(self, *, source_path: Path | None) -> Config:
        self._cross_checks()
        thresholds_given = self._attrs("thresholds")
        limit_attrs = {k.attr for k in ck.LIMIT_KEYS.values()}
        thresholds = Thresholds(
            default=Limits(**{a: v for a, v in thresholds_given.items() if a in limit_attrs}),  # type: ignore[arg-type]
            endpoints=MappingProxyType(dict(self.endpoints)),
            **{a: v for a, v in thresholds_given.items() if a not in limit_attrs},  # type: ignore[arg-type]
        )
        otlp = self._attrs("exporters.otlp")
        otlp.setdefault("enabled", "exporters.otlp" in self.present)
        return Config(
            run=RunConfig(**self._attrs("run")),  # type: ignore[arg-type]
            scenarios=MappingProxyType(dict(self.scenarios)),
            thresholds=thresholds,
            server=ServerLimits(**self._attrs("server")),  # type: ignore[arg-type]
            cloudwatch=CloudWatchConfig(**self._attrs("cloudwatch")),  # type: ignore[arg-type]
            prometheus_source=PrometheusSourceConfig(**self._attrs("prometheus_source")),  # type: ignore[arg-type]
            process=ProcessConfig(**self._attrs("process")),  # type: ignore[arg-type]
            exporters=ExportersConfig(
                prometheus=PrometheusExporterConfig(**self._attrs("exporters.prometheus")),  # type: ignore[arg-type]
                pushgateway=PushgatewayConfig(**self._attrs("exporters.pushgateway")),  # type: ignore[arg-type]
                otlp=OtlpConfig(**otlp),  # type: ignore[arg-type]
            ),
            grafana=GrafanaConfig(**self._attrs("grafana")),  # type: ignore[arg-type]
            source_path=source_path,
            env_applied=tuple(self.env_applied),
        )

    def _attrs(self, section: str) -> dict[str, object]:
        keys = ck.SECTIONS[section]
        return {keys[k].attr: v for k, (v, _) in self.values[section].items()}

    def _cross_checks(self) -> None:
        run = self.values["run"]
        if "scenario" in run:
            name, where = run["scenario"]
            if name not in self.scenarios:
                raise ConfigError(f"{where}: {_unknown_scenario(str(name), self.scenarios)}")
        process = self.values["process"]
        if "pid" in process and "name" in process:
            later = max(process["pid"][1], process["name"][1], key=_env_last)
            raise ConfigError(f"{later}: give process pid or name, not both")
        server = self.values["server"]
        warn = server.get("leak_warn_percent_per_hour")
        fail = server.get("leak_fail_percent_per_hour")
        if warn is not None and fail is not None and warn[0] >= fail[0]:  # type: ignore[operator]
            raise ConfigError(
                f"{max(warn[1], fail[1], key=_env_last)}: leak_warn_percent_per_hour ({warn[0]:g}) must be "
                f"below leak_fail_percent_per_hour ({fail[0]:g})"
            )


def _env_last(where: str) -> bool:
    # Blame the layer applied last: a variable overrides the file, so it is the one to fix.
    return where.startswith("LOADLENS_")


def _env_hint(name: str) -> str:
    close = difflib.get_close_matches(name, [*ck.ENV_KEYS, *ck.ENV_RESERVED], n=1, cutoff=0.75)
    return f' (did you mean "{close[0]}"?)' if close else " (see docs/configuration.md for the list)"


def _check(rule: ck.Rule, raw: object, where: str) -> object:
    try:
        return rule.convert(raw)
    except ck.RuleError as exc:
        raise ConfigError(f"{where}{exc.at}: {exc}") from None


def _scenario(name: str, given: Mapping[str, object], base: Scenario | None, display: str) -> Scenario:
    """A [scenarios.NAME] table merged over the built-in of that name, if there is one."""
    where = f"{display}: {ck.dotted('scenarios', name)}"
    common = {k: given[k] for k in ("description", "tags", "exclude_tags", "expected_statuses") if k in given}
    start = replace(base, **common) if base is not None else Scenario(name, **common)  # type: ignore[arg-type]
    users, spawn_rate, run_time_s = given.get("users"), given.get("spawn_rate"), given.get("run_time")
    if "stages" in given:
        if users is not None or run_time_s is not None:
            raise ConfigError(
                f"{where}: give either stages or users/run_time, not both "
                f"(spawn_rate beside stages is the rate of stages that give none)"
            )
        stages = _stages(given["stages"], name, spawn_rate, display)  # type: ignore[arg-type]
        return replace(start, users=None, spawn_rate=None, run_time_s=None, stages=stages)
    # Over a staged preset, users/spawn_rate/run_time reshape it exactly like -u/-r/-t do.
    return resolve_scenario(start, users=users, spawn_rate=spawn_rate, run_time_s=run_time_s)  # type: ignore[arg-type]


def _stages(raw: object, name: str, default_rate: float | None, display: str) -> tuple[Stage, ...]:
    where = f"{display}: {ck.dotted('scenarios', name, 'stages')}"
    if not isinstance(raw, list) or not raw:
        raise ConfigError(
            f'{where}: expected a non-empty list of tables like {{duration = "1m", users = 10, '
            f"spawn_rate = 5}}, got {ck.show(raw)}"
        )
    stages = []
    for i, item in enumerate(raw):
        item_where = f"{display}: {ck.dotted('scenarios', name, 'stages', i)}"
        values: dict[str, object] = {}
        for key, value in _expect_table(item, item_where).items():
            key_where = f"{display}: {ck.dotted('scenarios', name, 'stages', i, key)}"
            if key not in ck.STAGE_KEYS:
                raise ConfigError(f"{key_where}: unknown key{_hint(key, ck.STAGE_KEYS)}")
            values[key] = _check(ck.STAGE_KEYS[key], value, key_where)
        values.setdefault("spawn_rate", default_rate)
        missing = [k for k in ck.STAGE_KEYS if values.get(k) is None]
        if missing:
            also = " (or give spawn_rate for the whole scenario)" if missing == ["spawn_rate"] else ""
            raise ConfigError(f"{item_where}: missing {', '.join(missing)}{also}")
        stages.append(Stage(values["duration"], values["users"], values["spawn_rate"]))  # type: ignore[arg-type]
    if max(s.users for s in stages) < 1:
        raise ConfigError(f"{where}: at least one stage needs users >= 1")
    return tuple(stages)


__all__ = [
    "CONFIG_FILE_NAME",
    "CloudWatchConfig",
    "Config",
    "ExportersConfig",
    "GrafanaConfig",
    "Limits",
    "OtlpConfig",
    "ProcessConfig",
    "PrometheusExporterConfig",
    "PrometheusSourceConfig",
    "PushgatewayConfig",
    "RunConfig",
    "ServerLimits",
    "Thresholds",
    "load_config",
]
