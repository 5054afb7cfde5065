"""The verdict and endpoint tables printed on the terminal at the end of a run."""

from __future__ import annotations

from collections.abc import Sequence

from runner.model import Snapshot, Status, Verdict
from runner.reports.redact import redacted_verdict
from runner.reports.tables import (
    ENDPOINT_HEADER,
    Folded,
    endpoint_table,
    fold,
    observed_and_limit,
    verdict_line,
)

_RESET = "\x1b[0m"
_COLORS = {
    Status.PASS: "\x1b[32m",  # green
    Status.WARN: "\x1b[33m",  # yellow
    Status.FAIL: "\x1b[1;31m",  # bold red
    Status.INCONCLUSIVE: "\x1b[35m",  # magenta: "no data" must not look like a pass
}
_CRITERIA_HEADER = ("criterion", "observed", "limit", "status")
_EXPLAINED = (Status.FAIL, Status.INCONCLUSIVE)


def render_table(verdict: Verdict, *, color: bool, verbose: bool = False) -> str:
    """criterion | observed | limit | status, aligned; then the reason of every FAIL and
    INCONCLUSIVE, the notes, and ``verdict: FAIL (exit 1) — 2 of 14 criteria failed``.

    A table of more than FOLD_OVER rows shows the overall rows and every row that is not PASS, then
    ``598 endpoint criteria passed (all in verdict.md)``; ``verbose`` shows every row. Statuses are
    coloured with ANSI codes only when ``color`` is true (a terminal, not a CI log file).
    Credentials in reasons and notes are redacted.
    """
    verdict = redacted_verdict(verdict)
    folded = Folded(verdict.results, 0) if verbose else fold(verdict.results)
    rows = [(r.name, *observed_and_limit(r), r.status.label) for r in folded.shown]
    statuses = [r.status for r in folded.shown]
    lines = _align([_CRITERIA_HEADER, *rows], right={1, 2}, styles=[None, *statuses] if color else None)
    if (hidden := folded.line("verdict.md")) is not None:
        lines.append(hidden)
    for r in verdict.results:
        if r.status in _EXPLAINED:
            lines.append(f"{_paint(r.status.label, r.status, color)} {r.name}: {r.reason}")
    lines.extend(f"note: {note}" for note in verdict.notes)
    label = _paint(verdict.status.label, verdict.status, color)
    lines.append("verdict: " + verdict_line(verdict, label=label))
    return "\n".join(lines) + "\n"


def render_endpoints(snapshot: Snapshot, *, max_rows: int = 25) -> str:
    """A compact per-endpoint table (busiest first) with the total last."""
    table = endpoint_table(snapshot, max_rows=max_rows)
    lines = _align([ENDPOINT_HEADER, *table.rows, table.total], right=set(range(1, len(ENDPOINT_HEADER))))
    if table.hidden:
        lines.insert(len(lines) - 1, f"… and {table.hidden} more endpoints")
    return "\n".join(lines) + "\n"


def _align(
    rows: Sequence[Sequence[str]], *, right: set[int], styles: Sequence[Status | None] | None = None
) -> list[str]:
    """Rows padded into columns (``right`` holds right-aligned column numbers), a rule under the
    header. The last column is coloured by ``styles[row]`` after padding, so colour codes do not
    count toward a column's width."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    last = len(widths) - 1
    out = []
    for n, row in enumerate(rows):
        cells = [
            c.rjust(w) if i in right else c if i == last else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        status = styles[n] if styles else None
        if status is not None:
            cells[-1] = _paint(cells[-1], status, True)
        out.append("  ".join(cells))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def _paint(text: str, status: Status, color: bool) -> str:
    return f"{_COLORS[status]}{text}{_RESET}" if color else text
