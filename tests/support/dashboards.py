"""Reading loadlens's Grafana dashboards the way Grafana would: panels (rows included), targets,
template variables and their substitution into queries.

No Grafana server can run here, so the substitution follows Grafana's documented rules for the few
forms the dashboards use: ``$name`` and ``${name}``; a multi-value or include-all variable becomes a
regex alternation with regex characters escaped (Grafana's ``prometheusSpecialRegexEscape``); the
built-ins ``$__rate_interval``, ``$__interval`` and ``$__range`` are durations chosen by the caller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.runs import REPO

DASHBOARD_DIR = REPO / "dashboards"
PROMETHEUS = "prometheus"
CLOUDWATCH = "cloudwatch"

# $name, ${name}, ${name:format}, ${__data.fields["x"].numeric}
_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_]\w*)(?:[.:\[][^}]*)?\}|(?P<bare>[A-Za-z_]\w*))")
_REGEX_SPECIALS = re.compile(r"[$^*{}\[\]'+?.()|]")


@dataclass(frozen=True)
class Target:
    """One query of one panel."""

    dashboard: str  # uid
    panel_id: int
    panel_title: str
    ref_id: str
    kind: str  # "prometheus" or "cloudwatch"
    query: Mapping[str, Any]

    @property
    def expr(self) -> str:
        return str(self.query.get("expr", ""))

    @property
    def instant(self) -> bool:
        return bool(self.query.get("instant")) and not self.query.get("range")

    @property
    def name(self) -> str:
        return f"{self.dashboard}#{self.panel_id} {self.panel_title} [{self.ref_id}]"


def files() -> list[Path]:
    return sorted(DASHBOARD_DIR.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def load_all() -> dict[str, dict[str, Any]]:
    """Every dashboard, by uid."""
    out: dict[str, dict[str, Any]] = {}
    for path in files():
        doc = load(path)
        out[doc["uid"]] = doc
    return out


def canonical_text(doc: Mapping[str, Any]) -> str:
    """The one accepted layout of a dashboard file: keys sorted (as Grafana exports them), 2-space
    indent, UTF-8 kept as is, a final newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def panels(doc: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows included, and the panels nested in collapsed rows."""
    for panel in doc.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def rows_and_children(doc: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(title of the row a panel sits under, panel) for every non-row panel."""
    row = ""
    for panel in doc.get("panels", []):
        if panel.get("type") == "row":
            row = panel.get("title", "")
            for child in panel.get("panels", []):
                yield row, child
        else:
            yield row, panel


def kind_of(datasource: Any) -> str | None:
    if isinstance(datasource, Mapping):
        return datasource.get("type")
    return None


def targets(doc: Mapping[str, Any], kind: str | None = None) -> list[Target]:
    out = []
    for panel in panels(doc):
        for query in panel.get("targets", []):
            k = kind_of(query.get("datasource")) or kind_of(panel.get("datasource"))
            if kind is None or k == kind:
                out.append(
                    Target(
                        doc["uid"], panel["id"], panel.get("title", ""), query.get("refId", ""), str(k), query
                    )
                )
    return out


def variables(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in doc.get("templating", {}).get("list", [])}


def variable_query(variable: Mapping[str, Any]) -> str:
    query = variable.get("query")
    if isinstance(query, Mapping):
        return str(query.get("query", ""))
    return str(query or "")


def strings(node: Any) -> Iterator[str]:
    """Every string value anywhere in a JSON document."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def used_variables(node: Any) -> set[str]:
    """Names of the template variables referred to anywhere in ``node`` (built-ins ``__x`` included)."""
    found: set[str] = set()
    for text in strings(node):
        for m in _VARIABLE.finditer(text):
            found.add(m.group("braced") or m.group("bare"))
    return found


def regex_escape(value: str) -> str:
    """Grafana's escaping of one value of a multi-value variable inside a PromQL regex string."""
    return _REGEX_SPECIALS.sub(lambda m: "\\\\" + m.group(0), value.replace("\\", "\\\\\\\\"))


def multi_value(values: Sequence[str]) -> str:
    """What Grafana puts in place of a multi-value variable with these values selected."""
    escaped = [regex_escape(v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def substitute(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every ``$name`` / ``${name}`` replaced; an unknown name is an error."""

    def one(m: re.Match[str]) -> str:
        name = m.group("braced") or m.group("bare")
        if name not in values:
            raise KeyError(f"no value for ${name} in {text!r}")
        return values[name]

    return _VARIABLE.sub(one, text)


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<selector>.+?)\s*,\s*)?(?P<label>\w+)\s*\)\s*$")


def parse_label_values(query: str) -> tuple[str | None, str]:
    """``label_values(selector, label)`` or ``label_values(label)`` -> (selector or None, label)."""
    m = _LABEL_VALUES.match(query)
    if m is None:
        raise ValueError(f"not a label_values() query: {query!r}")
    return m.group("selector"), m.group("label")
