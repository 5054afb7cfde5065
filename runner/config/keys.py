"""The keys loadlens.toml and LOADLENS_* variables accept, read off the config dataclasses.

runner.config.types is the one definition (field, check, default); this module turns it into the
tables the loader, the CLI and the docs test need: section id -> TOML key -> Key, the LOADLENS_*
names, the scenario and stage keys.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from runner.config import compare as cc
from runner.config import types as ct
from runner.config.rules import Container, Derived, Flat, Rule
from runner.sources.custom import ServerMetric


@dataclass(frozen=True, slots=True)
class Key:
    """One TOML key: the field path inside its section's dataclass (``("default", "p95_ms")`` for
    [thresholds] p95_ms), its marker, and whether a LOADLENS_* variable may set it."""

    path: tuple[str, ...]
    rule: Rule | Container | None

    @property
    def attr(self) -> str:
        return self.path[-1]

    @property
    def env(self) -> bool:
        return self.rule is None or self.rule.env

    @property
    def textual(self) -> bool:
        return self.rule is not None and self.rule.textual


def toml_key(attr: str) -> str:
    """A field's TOML key: a duration ``warmup_s`` is written ``warmup``."""
    return attr.removesuffix("_s")


def _marker(hint: object) -> tuple[Rule | Container | None, bool, bool]:
    """The field's Rule, and whether it is Flat or Derived."""
    metadata = getattr(hint, "__metadata__", ())
    rule = next((m for m in metadata if isinstance(m, Rule | Container)), None)
    return rule, any(isinstance(m, Flat) for m in metadata), any(isinstance(m, Derived) for m in metadata)


def keys_of(cls: type, prefix: tuple[str, ...] = ()) -> dict[str, Key]:
    """TOML key -> Key for a section dataclass, with the keys of its Flat fields inlined. Fields
    holding a table of tables (thresholds.endpoints) are sub-tables, Derived fields no keys at all."""
    hints = typing.get_type_hints(cls, include_extras=True)
    out: dict[str, Key] = {}
    for f in dataclasses.fields(cls):
        rule, flat, derived = _marker(hints[f.name])
        if derived:
            continue
        if flat:
            out.update(keys_of(typing.get_args(hints[f.name])[0], (*prefix, f.name)))
        elif not (f.name in ("endpoints", "groups") and cls is ct.Thresholds) and not (
            f.name == "endpoints" and cls is cc.CompareConfig
        ):
            out[toml_key(f.name)] = Key((*prefix, f.name), rule)
    return out


def _sections() -> Mapping[str, Mapping[str, Key]]:
    top = {
        "run": ct.RunConfig,
        "thresholds": ct.Thresholds,
        "server": ct.ServerLimits,
        "cloudwatch": ct.CloudWatchConfig,
        "prometheus_source": ct.PrometheusSourceConfig,
        "process": ct.ProcessConfig,
        "exporters.prometheus": ct.PrometheusExporterConfig,
        "exporters.pushgateway": ct.PushgatewayConfig,
        "exporters.otlp": ct.OtlpConfig,
        "grafana": ct.GrafanaConfig,
        "compare": cc.CompareConfig,
        "recovery": ct.RecoveryConfig,
    }
    return MappingProxyType({name: MappingProxyType(keys_of(cls)) for name, cls in top.items()})


# Section id -> its keys. Ids with a dot are sub-tables ([exporters.prometheus]); the environment
# variable prefix is the id upper-cased with "_" for ".": LOADLENS_EXPORTERS_PROMETHEUS_PORT.
SECTIONS: Mapping[str, Mapping[str, Key]] = _sections()
# (section, field) of the Flat fields: a message's key path leaves them out (thresholds.p95_ms).
FLAT_FIELDS = frozenset(
    (section, key.path[0]) for section, keys in SECTIONS.items() for key in keys.values() if len(key.path) > 1
)
LIMIT_KEYS: Mapping[str, Key] = MappingProxyType(keys_of(ct.EndpointLimits))  # [thresholds.endpoints.*]
GROUP_KEYS: Mapping[str, Key] = MappingProxyType(keys_of(ct.GroupLimits))
SCENARIO_THRESHOLD_KEYS: Mapping[str, Key] = MappingProxyType(keys_of(ct.ScenarioThresholds))
COMPARE_ENDPOINT_KEYS: Mapping[str, Key] = MappingProxyType(keys_of(cc.CompareEndpoint))
SCENARIO_KEYS: Mapping[str, Key] = MappingProxyType(keys_of(ct.ScenarioTable))
STAGE_KEYS: Mapping[str, Key] = MappingProxyType(keys_of(ct.StageTable))
SERVER_METRIC_KEYS: Mapping[str, Key] = MappingProxyType(keys_of(ServerMetric))
# Where a table of tables keeps its keys, for "did you mean" on an unknown one: the parent's name.
NESTED_KEYS: Mapping[str, Mapping[str, Key]] = MappingProxyType(
    {
        "endpoints": LIMIT_KEYS,
        "groups": GROUP_KEYS,
        "thresholds": SCENARIO_THRESHOLD_KEYS,  # [scenarios.NAME.thresholds]
        "scenarios": SCENARIO_KEYS,
        "stages": STAGE_KEYS,
        "metrics": SERVER_METRIC_KEYS,  # [[server.metrics]]
    }
)
TOP_LEVEL = frozenset({s.split(".")[0] for s in SECTIONS} | {"scenarios"})

# Variables the CLI reads itself; everything else starting LOADLENS_ must be a key below.
ENV_RESERVED = frozenset({"LOADLENS_CONFIG", "LOADLENS_LOG_FORMAT", "LOADLENS_DEBUG"})

ENV_KEYS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        f"LOADLENS_{section.replace('.', '_').upper()}_{key.upper()}": (section, key)
        for section, keys in SECTIONS.items()
        for key, spec in keys.items()
        if spec.env
    }
)
