"""The cells of the human-readable tables, shared by the console and Markdown reports.

Each report only lays the cells out (aligned text, or a Markdown table), so a value reads the same
in the terminal, in verdict.md and in the GitHub step summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from runner.model import TOTAL_NAME, EndpointStats, Result, Snapshot, Status, Verdict
from runner.units import format_value

ENDPOINT_HEADER = ("endpoint", "requests", "failures", "errors", "p50", "p95", "p99", "rps")
_OUTCOME_WORDS = ((Status.FAIL, "failed"), (Status.INCONCLUSIVE, "inconclusive"), (Status.WARN, "warned"))


@dataclass(frozen=True, slots=True)
class EndpointTable:
    """Rows of formatted cells (ENDPOINT_HEADER order), the total row, and how many rows were cut."""

    rows: tuple[tuple[str, ...], ...]
    total: tuple[str, ...]
    hidden: int


FOLD_OVER = 25  # a criteria table longer than this folds its passing endpoint rows on the console


@dataclass(frozen=True, slots=True)
class Folded:
    """The rows a short table shows, and how many passing endpoint rows it left out."""

    shown: tuple[Result, ...]
    passed_hidden: int

    def line(self, where: str) -> str | None:
        """``598 endpoint criteria passed (all in verdict.md)``, or None when nothing was left out."""
        if not self.passed_hidden:
            return None
        noun = "criterion" if self.passed_hidden == 1 else "criteria"
        return f"{self.passed_hidden:,} endpoint {noun} passed (all in {where})"


def is_overall(result: Result) -> bool:
    """A row about the whole run (all requests, or a server metric), not one endpoint."""
    return result.scope != "client" or result.name.startswith(TOTAL_NAME + " ")


def fold(results: Sequence[Result], *, fold_over: int = FOLD_OVER) -> Folded:
    """With more than ``fold_over`` rows: the overall rows and every row that did not PASS, in
    their order; the passing endpoint rows are counted, not shown. Shorter tables are shown whole."""
    if len(results) <= fold_over:
        return Folded(tuple(results), 0)
    shown = tuple(r for r in results if is_overall(r) or r.status is not Status.PASS)
    return Folded(shown, len(results) - len(shown))


def observed_and_limit(result: Result) -> tuple[str, str]:
    """A criterion's observed value and limit, each with its unit (``—`` when None)."""
    return format_value(result.observed, result.unit), format_value(result.limit, result.unit)


def endpoint_table(snapshot: Snapshot, *, max_rows: int = 25) -> EndpointTable:
    """The busiest ``max_rows`` endpoints of ``snapshot`` (most requests first), plus the total."""
    duration_s = snapshot.duration_s
    ordered = sorted(snapshot.endpoints.items(), key=lambda kv: (-kv[1].count, kv[0]))
    rows = tuple(_endpoint_cells(str(key), stats, duration_s) for key, stats in ordered[:max_rows])
    return EndpointTable(
        rows=rows,
        total=_endpoint_cells(TOTAL_NAME, snapshot.total(), duration_s),
        hidden=max(0, len(ordered) - max_rows),
    )


def outcome_phrase(results: Sequence[Result]) -> str:
    """``2 of 14 criteria failed, 1 inconclusive``; ``all 14 criteria passed``; ``no criteria``."""
    n = len(results)
    if n == 0:
        return "no criteria"
    noun = "criterion" if n == 1 else "criteria"
    counts = Counter(r.status for r in results)
    parts = [(counts[status], word) for status, word in _OUTCOME_WORDS if counts[status]]
    if not parts:
        return "1 criterion passed" if n == 1 else f"all {n} {noun} passed"
    (first_n, first_word), rest = parts[0], parts[1:]
    return ", ".join([f"{first_n} of {n} {noun} {first_word}", *(f"{k} {word}" for k, word in rest)])


def verdict_line(verdict: Verdict, *, label: str | None = None) -> str:
    """``FAIL (exit 1) — 2 of 14 criteria failed`` (why the run is incomplete added when so); ``label``
    replaces the status word (a coloured or emoji form of it)."""
    how = f"exit {verdict.exit_code}"
    if verdict.incomplete:
        more = len(verdict.incomplete) - 1
        how += f", {verdict.incomplete[0]}" + (f" (and {more} more, see the notes)" if more else "")
    elif verdict.interrupted:
        how += ", interrupted"
    return f"{label or verdict.status.label} ({how}) — {outcome_phrase(verdict.results)}"


def _endpoint_cells(label: str, stats: EndpointStats, duration_s: float) -> tuple[str, ...]:
    rps = stats.count / duration_s if duration_s > 0 else None
    return (
        label,
        format_value(stats.count, "count"),
        format_value(stats.failures, "count"),
        format_value(stats.error_rate, "ratio"),
        format_value(stats.quantile_ms(0.50), "ms"),
        format_value(stats.quantile_ms(0.95), "ms"),
        format_value(stats.quantile_ms(0.99), "ms"),
        format_value(rps, "rps"),
    )
