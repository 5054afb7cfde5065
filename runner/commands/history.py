"""`loadlens history DIR [--scenario NAME]`: one row per run, the trend and where a change began.

Exit 0 (a listing judges nothing), 2 on bad input (no such directory, no runs in it).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from runner.compare.history import History, read_history
from runner.errors import UsageError
from runner.reports.atomic import write_atomic
from runner.reports.load import load_summary
from runner.timefmt import iso_utc
from runner.units import format_value

MAX_ENDPOINT_COLUMNS = 5  # the busiest endpoints of the newest run get a p95 column each


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def history_command(argv: Sequence[str], *, out: TextIO) -> int:
    parser = _Parser(prog="loadlens history")
    parser.add_argument("directory", type=Path, help="where run directories are (--out)")
    parser.add_argument("--scenario", metavar="NAME", default=None, help="only runs of this scenario")
    parser.add_argument("--format", choices=("console", "json"), default="console")
    parser.add_argument(
        "--html",
        metavar="FILE",
        type=Path,
        default=None,
        help="also write the newest run's report page with the history in it",
    )
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(list(argv))
    if not args.directory.is_dir():
        raise UsageError(f"loadlens history: {args.directory} is not a directory")
    history = read_history(args.directory, scenario=args.scenario)
    if not history.rows:
        which = f" of scenario {args.scenario!r}" if args.scenario else ""
        raise UsageError(f"loadlens history: no runs{which} in {args.directory}")
    out.write(render_json(history) if args.format == "json" else render_console(history))
    if args.html is not None:
        write_html(history, args.html)
    return 0


def write_html(history: History, path: Path) -> Path:
    """The newest run's report page with a history section: every row (the table's cells), the
    trend and the change point (runner/reports/html/page.js draws them)."""
    from runner.reports.html import report_html

    newest = Path(history.rows[-1].run_dir)
    section = {**history_dict(history), "table": table_cells(history)}
    return write_atomic(
        path, report_html([load_summary(newest)], run_dir=newest, sections={"history": section})
    )


def table_cells(history: History, *, mark: str = "") -> list[tuple[str, ...]]:
    """The history table's header and rows as text (``mark`` after the change point's run id)."""
    newest = history.rows[-1]
    names = [name for name, _v in newest.endpoint_p95_ms[:MAX_ENDPOINT_COLUMNS]]
    header = ("started (UTC)", "run", "verdict", "p95", *(f"p95 {n}" for n in names))
    header += ("errors", "peak CPU", "CPU-s/1k req")
    table: list[tuple[str, ...]] = [header]
    for row in history.rows:
        per = dict(row.endpoint_p95_ms)
        changed = history.change_point and history.change_point.run_id == row.run_id
        table.append(
            (
                iso_utc(row.started_at)[:19],
                row.run_id + (mark if changed else ""),
                row.verdict,
                format_value(row.p95_ms, "ms"),
                *(format_value(per.get(n), "ms") for n in names),
                format_value(row.error_rate, "ratio"),
                format_value(row.peak_cpu_percent, "percent"),
                format_value(row.cpu_s_per_1000, "s"),
            )
        )
    return table


def render_console(history: History) -> str:
    table = table_cells(history, mark=" ◀ change")
    header = table[0]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    if history.trend_per_run is None:
        lines.append("trend: too few runs for a trend")
    else:
        lines.append(f"trend: p95 {history.trend_per_run * 100:+.1f} % per run (Theil-Sen)")
    cp = history.change_point
    if cp is None:
        lines.append("change point: none (no lasting change of p95 beyond 10 %)")
    else:
        lines.append(
            f"change point: {cp.run_id}: p95 {format_value(cp.before_p95_ms, 'ms')} → "
            f"{format_value(cp.after_p95_ms, 'ms')} ({cp.reason})"
        )
    lines += [f"skipped: {s}" for s in history.skipped]
    return "\n".join(lines) + "\n"


def history_dict(history: History) -> dict[str, Any]:
    cp = history.change_point
    return {
        "runs": [
            {
                "run_id": r.run_id,
                "started_at": iso_utc(r.started_at),
                "scenario": r.scenario,
                "verdict": r.verdict,
                "p95_ms": r.p95_ms,
                "endpoint_p95_ms": dict(r.endpoint_p95_ms),
                "error_rate": r.error_rate,
                "peak_cpu_percent": r.peak_cpu_percent,
                "cpu_s_per_1000": r.cpu_s_per_1000,
                "periods": r.periods,
            }
            for r in history.rows
        ],
        "trend_per_run": history.trend_per_run,
        "change_point": None
        if cp is None
        else {
            "run_id": cp.run_id,
            "index": cp.index,  # of that run in "runs": the page draws its mark there
            "before_p95_ms": cp.before_p95_ms,
            "after_p95_ms": cp.after_p95_ms,
            "change_ratio": cp.change_ratio,
            "reason": cp.reason,
        },
        "skipped": list(history.skipped),
    }


def render_json(history: History) -> str:
    return json.dumps(history_dict(history), indent=2) + "\n"
