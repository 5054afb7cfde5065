"""A comparison as a console table, as Markdown (a CI step summary, a PR comment) and as JSON.

The cells are built once (``cells``) so a figure reads the same everywhere.
"""

from __future__ import annotations

import json
from typing import Any

from runner.compare.model import Change, Comparison, Row
from runner.units import MISSING, format_number, format_value

HEADER = ("subject", "metric", "baseline", "current", "change", "95 % CI", "status")
MAX_PAGE_ROWS = 2_000  # rows of the report page's comparison table (changed ones first)
_ORDER = {Change.REGRESSED: 0, Change.IMPROVED: 1, Change.NOT_COMPARABLE: 2, Change.UNCHANGED: 3}


def change_text(row: Row) -> str:
    """The change in the figure's own unit, and in % for a relative figure: ``+25 ms (+32.0 %)``,
    ``+3.10 pts (+12.0 %)`` (CPU percent), ``-12 /s (-10.0 %)``; ``+0.40 points`` for the error
    rate (its tolerance is absolute); ``—`` when unknown."""
    if not row.tolerance.relative:
        change = row.change
        return "—" if change is None else f"{change * 100:+.2f} points"
    absolute = absolute_text(row)
    ratio = row.change_ratio
    if ratio is None:
        return absolute
    return f"{absolute} ({ratio * 100:+.1f} %)"


def absolute_text(row: Row) -> str:
    """current - baseline with its sign, formatted as the values are (percent as points)."""
    change = row.change
    if change is None:
        return MISSING
    sign = "-" if change < 0 else "+"
    if row.unit == "percent":  # a difference of percentages is in points, not in %
        return f"{sign}{format_number(abs(change))} pts"
    return sign + format_value(abs(change), row.unit)


def interval_text(row: Row) -> str:
    """The shift's 95 % interval (``+25 … +40 %``), or why there is none."""
    found = row.shift
    if found is None:
        return "—"
    if found.low is None or found.high is None:
        return "unbounded"
    if row.tolerance.relative:
        return f"{found.low * 100:+.1f} … {found.high * 100:+.1f} %"
    return f"{found.low * 100:+.2f} … {found.high * 100:+.2f} points"


def cells(row: Row) -> tuple[str, ...]:
    return (
        row.subject,
        row.metric,
        format_value(row.baseline, row.unit),
        format_value(row.current, row.unit),
        change_text(row),
        interval_text(row),
        row.status.value,
    )


def render_console(comparison: Comparison) -> str:
    """Aligned text: the warnings, every row, and a one-line outcome."""
    lines = [f"baseline: {comparison.baseline_id}    current: {comparison.current_id}"]
    lines += [f"warning: not comparable: {w}" for w in comparison.warnings]
    table = [HEADER, *(cells(r) for r in comparison.rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    for r in table:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    lines.append(outcome(comparison))
    return "\n".join(lines) + "\n"


def outcome(comparison: Comparison) -> str:
    """One line: what regressed, why nothing could be compared (every difference, or the key
    figure's reason), or that nothing regressed; with the exit code."""
    code = comparison.exit_code
    if comparison.warnings:
        return f"not comparable: the runs differ: {'; '.join(comparison.warnings)} (exit {code})"
    if not comparison.judged_key_figure:
        key = comparison.key_row
        why = f": {key.reason}" if key is not None else ": it is missing"
        return f"not comparable: all requests p95 could not be judged{why} (exit {code})"
    regressed = comparison.regressed
    if regressed:
        return f"regressed: {', '.join(r.label for r in regressed)} (exit {code})"
    counted = sum(1 for r in comparison.rows if r.status is not Change.NOT_COMPARABLE)
    return f"no regression in {counted} compared figures (exit {code})"


def render_markdown(comparison: Comparison) -> str:
    """A Markdown section: warnings as a quote, the changed and not comparable rows first."""
    out = [f"## loadlens compare: `{comparison.current_id}` vs baseline `{comparison.baseline_id}`", ""]
    for w in comparison.warnings:
        out.append(f"> **not comparable:** {w}")
    if comparison.warnings:
        out.append("")
    out.append("| " + " | ".join(HEADER) + " |")
    out.append("|" + "---|" * len(HEADER))
    for row in sorted(comparison.rows, key=lambda r: _ORDER[r.status]):
        c = list(cells(row))
        if row.status is Change.REGRESSED:
            c[-1] = "**regressed**"
        out.append("| " + " | ".join(x.replace("|", "\\|") for x in c) + " |")
    out += ["", outcome(comparison), ""]
    return "\n".join(out)


def comparison_page(comparison: Comparison) -> dict[str, Any]:
    """The report page's comparison section (``loadlens compare --html``): the console's cells per
    row, changed and not comparable rows first, at most ``MAX_PAGE_ROWS`` of them."""
    ordered = sorted(comparison.rows, key=lambda r: _ORDER[r.status])
    return {
        "baseline": comparison.baseline_id,
        "current": comparison.current_id,
        "warnings": list(comparison.warnings),
        "outcome": outcome(comparison),
        "header": list(HEADER),
        "rows": [
            {"cells": list(cells(r)), "status": r.status.value, "reason": r.reason}
            for r in ordered[:MAX_PAGE_ROWS]
        ],
        "left_out": max(0, len(ordered) - MAX_PAGE_ROWS),
    }


def comparison_dict(comparison: Comparison) -> dict[str, Any]:
    """JSON-ready: every row with its values, change, interval, tolerance, status and reason."""
    return {
        "baseline": comparison.baseline_id,
        "current": comparison.current_id,
        "warnings": list(comparison.warnings),
        "regressed": [r.label for r in comparison.regressed],
        "exit_code": comparison.exit_code,
        "rows": [_row_dict(r) for r in comparison.rows],
    }


def render_json(comparison: Comparison) -> str:
    return json.dumps(comparison_dict(comparison), indent=2, allow_nan=False) + "\n"


def _row_dict(row: Row) -> dict[str, Any]:
    found = row.shift
    return {
        "scope": row.scope,
        "subject": row.subject,
        "metric": row.metric,
        "unit": row.unit,
        "baseline": _num(row.baseline),
        "current": _num(row.current),
        "change": _num(row.change),
        "change_ratio": _num(row.change_ratio),
        "ci_low": _num(found.low) if found else None,
        "ci_high": _num(found.high) if found else None,
        "p_value": _num(found.p_value) if found else None,
        "periods": [found.baseline_periods, found.current_periods] if found else None,
        "ci_scale": ("ratio" if found.log else "absolute") if found else None,
        "tolerance": row.tolerance.value,
        "tolerance_relative": row.tolerance.relative,
        "status": row.status.value,
        "reason": row.reason,
    }


def _num(value: float | None) -> float | None:
    import math

    if value is None or not math.isfinite(value):
        return None
    return round(value, 6)
