"""loadlens's house style for Grafana panels, over grafana-foundation-sdk's builders.

Every panel of the three dashboards is made by one of these factories, so a look shared by many
panels (a time series' axes and legend, a stat's big value, the PASS/WARN/FAIL colours, the
datasource variables) is written once here and a dashboard module only says what differs: title,
unit, queries, width. The SDK's builders lay panels out on Grafana's 24-column grid themselves
(`span` and `height`); ids are given when a dashboard is assembled (`place`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import (
    bargauge,
    cloudwatch,
    prometheus,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.variants import Dataquery
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

from exporters import exposition
from runner.model import Status

PROMETHEUS = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
CLOUDWATCH = dm.DataSourceRef(type_val="cloudwatch", uid="${cloudwatch}")
GRAFANA = dm.DataSourceRef(type_val="grafana", uid="-- Grafana --")

# The colour of each status wherever a dashboard shows loadlens_criterion_status; its numbers are
# the exporter's own (exporters/exposition.py STATUS_VALUES), read when a dashboard is made.
STATUS_COLOURS = {
    Status.PASS: "green",
    Status.WARN: "yellow",
    Status.FAIL: "red",
    Status.INCONCLUSIVE: "purple",
}

Panel = Builder[dm.Panel]
Query = prometheus.Dataquery | cloudwatch.CloudWatchMetricsQuery
Override = tuple[dm.MatcherConfig, list[dm.DynamicConfigValue]]


def status_value(status: Status) -> int:
    """The number loadlens_criterion_status exports for ``status``."""
    return exposition.STATUS_VALUES[status]


def status_mapping(values: Mapping[Status, int] | None = None) -> dm.ValueMap:
    """Each status's number (the exporter's, unless ``values`` ranks them otherwise) shown as its
    word in its colour, listed in the order of the numbers."""
    ranked = sorted((values or exposition.STATUS_VALUES).items(), key=lambda item: item[1])
    return dm.ValueMap(
        options={
            str(value): dm.ValueMappingResult(text=status.label, color=STATUS_COLOURS[status], index=i)
            for i, (status, value) in enumerate(ranked)
        }
    )


def steps(base: str, *limits: tuple[float, str]) -> db.ThresholdsConfig:
    """Absolute thresholds: ``base`` colour below the first limit, then each limit's colour."""
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(color=base, value=None)] + [dm.Threshold(color=c, value=v) for v, c in limits])
    )


def promql(expr: str, legend: str, *, table_format: bool = False) -> prometheus.Dataquery:
    """A PromQL query: a range query over time, or an instant one in table format (for tables)."""
    query = (
        prometheus.Dataquery()
        .datasource(PROMETHEUS)
        .editor_mode(pm.QueryEditorMode.CODE)
        .expr(expr)
        .legend_format(legend)
        .ref_id("A")
    )
    if table_format:
        return query.instant().format(pm.PromQueryFormat.TABLE)
    return query.range()


def instant(expr: str, legend: str) -> prometheus.Dataquery:
    """An instant PromQL query (a bar gauge of whole runs)."""
    return promql(expr, legend).instant()


def lettered(queries: Iterable[Query]) -> list[Builder[Dataquery]]:
    """The queries with refIds A, B, C… in order (Grafana keys results and overrides by them)."""
    out: list[Builder[Dataquery]] = []
    for i, query in enumerate(queries):
        out.append(query.ref_id(chr(ord("A") + i)))
    return out


def _common(panel: Any, title: str, description: str, datasource: dm.DataSourceRef, w: int, h: int) -> None:
    """What every panel states. ``Any``: the SDK's panel builders share these methods, not a base class."""
    panel.title(title).description(description).datasource(datasource).span(w).height(h)
    panel.mappings([])


def stat_panel(
    title: str,
    description: str,
    unit: str,
    query: prometheus.Dataquery,
    *,
    thresholds: db.ThresholdsConfig | None = None,
    graph: bool = True,
    w: int = 4,
    h: int = 4,
) -> stat.Panel:
    """A big number: the last value of one series, coloured by its thresholds."""
    panel = stat.Panel()
    _common(panel, title, description, PROMETHEUS, w, h)
    return (
        panel.unit(unit)
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        .thresholds(thresholds or steps("blue"))
        .color_mode(cm.BigValueColorMode.VALUE)
        .graph_mode(cm.BigValueGraphMode.AREA if graph else cm.BigValueGraphMode.NONE)
        .justify_mode(cm.BigValueJustifyMode.AUTO)
        .orientation(cm.VizOrientation.AUTO)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False))
        .show_percent_change(False)
        .text_mode(cm.BigValueTextMode.AUTO)
        .wide_layout(True)
        .with_target(query)
    )


def criteria_now(title: str, description: str, query: prometheus.Dataquery, *, h: int = 5) -> stat.Panel:
    """One coloured tile per criterion, its status in words."""
    return (
        stat_panel(title, description, "short", query, thresholds=steps("green"), graph=False, w=24, h=h)
        .mappings([status_mapping()])
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .text_mode(cm.BigValueTextMode.VALUE_AND_NAME)
    )


def criteria_timeline(title: str, description: str, query: prometheus.Dataquery) -> statetimeline.Panel:
    """Each criterion's status over time, in the same words and colours."""
    panel = statetimeline.Panel()
    _common(panel, title, description, PROMETHEUS, 24, 8)
    return (
        panel.color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        .thresholds(steps("green"))
        .mappings([status_mapping()])
        .fill_opacity(80)
        .hide_from(cb.HideSeriesConfig().legend(False).tooltip(False).viz(False))
        .line_width(0)
        .align_value(cm.TimelineValueAlignment.LEFT)
        .legend(
            cb.VizLegendOptions()
            .display_mode(cm.LegendDisplayMode.LIST)
            .placement(cm.LegendPlacement.BOTTOM)
            .show_legend(False)
        )
        .merge_values(True)
        .row_height(0.9)
        .show_value(cm.VisibilityMode.AUTO)
        .tooltip(cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.SINGLE).sort(cm.SortOrder.NONE))
        .with_target(query)
    )


def dashed_right_axis(ref: str, *, unit: str | None = None) -> Override:
    """An override drawing query ``ref`` as a dashed line on the right axis (a second quantity)."""
    properties = [dm.DynamicConfigValue(id_val="unit", value=unit)] if unit else []
    properties += [
        dm.DynamicConfigValue(id_val="custom.axisPlacement", value="right"),
        dm.DynamicConfigValue(id_val="custom.fillOpacity", value=0),
        dm.DynamicConfigValue(id_val="custom.lineStyle", value={"dash": [10, 10], "fill": "dash"}),
    ]
    return dm.MatcherConfig(id_val="byFrameRefID", options=ref), properties


def graph(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    *,
    datasource: dm.DataSourceRef = PROMETHEUS,
    legend_calcs: Sequence[str] = (),
    stacked: bool = False,
    limit: float | None = None,
    red_from: float | None = None,
    right_axis: Override | None = None,
    w: int = 12,
    h: int = 8,
) -> timeseries.Panel:
    """A time series from 0, one line per series. ``limit`` draws a dashed red line there (a
    loadlens limit); ``red_from`` colours values from there red without drawing a line."""
    panel = timeseries.Panel()
    _common(panel, title, description, datasource, w, h)
    red = limit if limit is not None else red_from
    panel = (
        panel.unit(unit)
        .min(0)
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.PALETTE_CLASSIC))
        .thresholds(steps("green", (red, "red")) if red is not None else steps("green"))
        .axis_border_show(False)
        .axis_centered_zero(False)
        .axis_color_mode(cm.AxisColorMode.TEXT)
        .axis_label("")
        .axis_placement(cm.AxisPlacement.AUTO)
        .bar_alignment(cm.BarAlignment.CENTER)
        .draw_style(cm.GraphDrawStyle.LINE)
        .fill_opacity(10)
        .gradient_mode(cm.GraphGradientMode.NONE)
        .hide_from(cb.HideSeriesConfig().legend(False).tooltip(False).viz(False))
        .insert_nulls(False)
        .line_interpolation(cm.LineInterpolation.LINEAR)
        .line_width(1)
        .point_size(4)
        .scale_distribution(cb.ScaleDistributionConfig().type(cm.ScaleDistribution.LINEAR))
        .show_points(cm.VisibilityMode.NEVER)
        .span_nulls(False)
        .stacking(
            cb.StackingConfig().group("A").mode(cm.StackingMode.NORMAL if stacked else cm.StackingMode.NONE)
        )
        .thresholds_style(
            cb.GraphThresholdsStyleConfig().mode(
                cm.GraphThresholdsStyleMode.DASHED if limit is not None else cm.GraphThresholdsStyleMode.OFF
            )
        )
        .legend(
            cb.VizLegendOptions()
            .calcs(list(legend_calcs))
            .display_mode(cm.LegendDisplayMode.TABLE if legend_calcs else cm.LegendDisplayMode.LIST)
            .placement(cm.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING))
        .targets(lettered(queries))
    )
    if right_axis is not None:
        panel.with_override(*right_axis)
    return panel


def by_name(column: str, *properties: tuple[str, object]) -> Override:
    """Field properties for the column (or series) named ``column``."""
    return dm.MatcherConfig(id_val="byName", options=column), [
        dm.DynamicConfigValue(id_val=key, value=value) for key, value in properties
    ]


def unit_override(column: str, unit: str) -> Override:
    return by_name(column, ("unit", unit))


def merged_table(
    title: str,
    description: str,
    queries: Sequence[prometheus.Dataquery],
    *,
    labels: Sequence[str],
    columns: Sequence[str],
    sort_by: str,
    overrides: Sequence[Override],
    h: int,
) -> table.Panel:
    """A table with one row per label set: one instant query per column (refIds A, B, …), merged,
    the ``labels`` first, then the queries' values named ``columns`` in order."""
    value_of = {f"Value #{chr(ord('A') + i)}": name for i, name in enumerate(columns)}
    order = {label: i for i, label in enumerate(labels)}
    order |= {value: len(labels) + i for i, value in enumerate(value_of)}
    panel = table.Panel()
    _common(panel, title, description, PROMETHEUS, 24, h)
    panel = (
        panel.color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        .thresholds(steps("green"))
        .align(cm.FieldTextAlignment.AUTO)
        .cell_options(cm.TableAutoCellOptions())
        .filterable(True)
        .inspect(False)
        .cell_height(cm.TableCellHeight.SM)
        # Grafana writes "" for "every field"; the SDK's type says a list
        .footer(cb.TableFooterOptions().count_rows(False).fields("").reducer(["sum"]).show(False))  # type: ignore[arg-type]
        .show_header(True)
        .sort_by([cb.TableSortByFieldState().display_name(sort_by).desc(True)])
        .targets(lettered(queries))
        .transformations(
            [
                dm.DataTransformerConfig(id_val="merge", options={}),
                dm.DataTransformerConfig(
                    id_val="organize",
                    options={
                        "excludeByName": {"Time": True},
                        "indexByName": order,
                        "renameByName": value_of,
                    },
                ),
            ]
        )
    )
    for matcher, properties in overrides:
        panel.with_override(matcher, properties)
    return panel


def bar_gauge(
    title: str, description: str, unit: str, query: prometheus.Dataquery, *, thresholds: db.ThresholdsConfig
) -> bargauge.Panel:
    """Horizontal bars, one per series (a run), of its last value."""
    panel = bargauge.Panel()
    _common(panel, title, description, PROMETHEUS, 12, 8)
    return (
        panel.unit(unit)
        .min(0)
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        .thresholds(thresholds)
        .display_mode(cm.BarGaugeDisplayMode.BASIC)
        .max_viz_height(300)
        .min_viz_height(16)
        .min_viz_width(8)
        .name_placement(cm.BarGaugeNamePlacement.AUTO)
        .orientation(cm.VizOrientation.HORIZONTAL)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False))
        .show_unfilled(True)
        .sizing(cm.BarGaugeSizing.AUTO)
        .value_mode(cm.BarGaugeValueMode.COLOR)
        .with_target(query)
    )


@dataclass(frozen=True)
class Section:
    """A row of a dashboard and the panels under it; a collapsed row holds its panels inside it."""

    title: str
    panels: tuple[Panel, ...]
    collapsed: bool = False


def place(dashboard: db.Dashboard, sections: Sequence[Section]) -> db.Dashboard:
    """Add the sections in order, numbering every panel 1, 2, 3… as it comes (a collapsed row's
    panels right after the row), and let the SDK place them on the grid."""
    next_id = 1
    for section in sections:
        row = db.Row(section.title).id(next_id)
        next_id += 1
        numbered = []
        for panel in section.panels:
            numbered.append(panel.id(next_id))  # type: ignore[attr-defined]
            next_id += 1
        if section.collapsed:
            for panel in numbered:
                row.with_panel(panel)
            dashboard.with_row(row)
        else:
            dashboard.with_row(row)
            for panel in numbered:
                dashboard.with_panel(panel)
    return dashboard
