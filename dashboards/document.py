"""One dashboard, from its settings, variables and sections to the JSON document that is committed.

The settings every loadlens dashboard shares (tags, editable, shared crosshair, the link menu of
loadlens dashboards, the annotations loadlens posts) are written here once. `finish` adds the few
keys Grafana writes that the SDK's schema (Grafana 11.2, schema version 39) has no field for.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm

from dashboards.kit import GRAFANA, Section, place
from dashboards.variables import Variable

SCHEMA_VERSION = 39  # what Grafana 10.3 - 11.2 write; newer Grafanas migrate it on load


@dataclass(frozen=True)
class Settings:
    uid: str
    title: str
    description: str
    refresh: str
    since: str  # the default time range: from ``since`` to now
    annotation_tags: tuple[str, ...]


def build(settings: Settings, variables: Sequence[Variable], sections: Sequence[Section]) -> dict[str, Any]:
    """The dashboard as a JSON-ready dict."""
    dashboard = (
        db.Dashboard(settings.title)
        .uid(settings.uid)
        .description(settings.description)
        .tags(["loadlens"])
        .editable()
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .time(settings.since, "now")
        .timezone("")
        .week_start("")
        .fiscal_year_start_month(0)
        .refresh(settings.refresh)
        .version(1)
        .link(
            db.DashboardLink("loadlens")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags(["loadlens"])
            .as_dropdown(False)
            .icon("external link")
            .include_vars(False)
            .keep_time(True)
            .target_blank(False)
            .tooltip("")
            .url("")
        )
        .annotations(
            [
                db.AnnotationQuery()
                .name("Annotations & Alerts")
                .built_in(1)
                .datasource(GRAFANA)
                .enable(True)
                .hide(True)
                .icon_color("rgba(0, 211, 255, 1)")
                .type("dashboard"),
                # the run as a region, its phases and its verdict, as loadlens posts them (grafana.md)
                db.AnnotationQuery()
                .name("loadlens")
                .datasource(GRAFANA)
                .enable(True)
                .hide(False)
                .icon_color("#FF9830")
                .target(
                    db.AnnotationTarget()
                    .type("tags")
                    .tags(list(settings.annotation_tags))
                    .match_any(False)
                    .limit(100)
                ),
            ]
        )
        .variables([v.builder for v in variables])
    )
    place(dashboard, sections)
    doc: dict[str, Any] = json.loads(json.dumps(dashboard.build(), cls=JSONEncoder))
    assert doc["schemaVersion"] == SCHEMA_VERSION, "the SDK's schema version changed: pin it back"
    return finish(doc, variables)


def finish(doc: dict[str, Any], variables: Sequence[Variable]) -> dict[str, Any]:
    """Add what Grafana writes and the SDK cannot say: ``id: null`` (so an import creates the
    dashboard), and on each variable no current value (``{}``: Grafana picks the default datasource
    or the first value), no stored options, and its ``definition``. The SDK's model writes an
    interval variable's fields (``auto``, ``auto_min``, ``auto_count``) on every variable: ours
    are none, so they go."""
    doc["id"] = None
    for model, variable in zip(doc["templating"]["list"], variables, strict=True):
        for interval_only in ("auto", "auto_min", "auto_count"):
            model.pop(interval_only, None)
        model["current"] = {}
        model["options"] = []
        if model["type"] == "datasource":
            model["refresh"] = int(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        if variable.definition is not None:
            model["definition"] = variable.definition
    return doc
