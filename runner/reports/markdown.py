"""verdict.md: the verdict for people, in Markdown; also appended to a GitHub Actions step summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from runner.errors import RunDirError
from runner.model import RunRecord, Status
from runner.reports.atomic import write_atomic
from runner.reports.redact import redacted_record
from runner.reports.tables import (
    ENDPOINT_HEADER,
    Folded,
    endpoint_table,
    fold,
    observed_and_limit,
    verdict_line,
)
from runner.timefmt import iso_utc, quantize_s
from runner.units import format_value

FILE_NAME = "verdict.md"
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
EMOJI = {Status.PASS: "✅", Status.WARN: "⚠️", Status.FAIL: "❌", Status.INCONCLUSIVE: "❔"}
_WINDOW_KINDS = {"steady_state": "steady state", "whole_run": "whole run"}
# Characters Markdown (GitHub's flavour included) would read as markup inside a table cell.
_ESCAPES = str.maketrans(
    {
        "\\": "\\\\",
        "|": "\\|",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "&": "&amp;",
        "<": "&lt;",  # GitHub drops what looks like an HTML tag: "/items/<id>" would lose "<id>"
        ">": "&gt;",
        "\n": " ",
        "\r": " ",
    }
)


STEP_SUMMARY_MAX_BYTES = 1024 * 1024  # GitHub refuses a step summary larger than 1 MiB


def step_summary_markdown(record: RunRecord) -> str:
    """verdict.md's text for the GitHub step summary, kept under GitHub's 1 MiB: when the whole
    table would be larger, the passing endpoint rows are folded into one line (verdict.md in the
    run directory keeps every row)."""
    whole = verdict_markdown(record)
    if len(whole.encode("utf-8")) <= STEP_SUMMARY_MAX_BYTES:
        return whole
    return verdict_markdown(record, fold_rows=True)


def verdict_markdown(record: RunRecord, *, max_endpoints: int = 25, fold_rows: bool = False) -> str:
    """The verdict as Markdown: heading with the overall status, run facts, the criteria table,
    the busiest endpoints of the judged window, and the notes (credentials redacted). With
    ``fold_rows`` the passing endpoint criteria are one line instead of one row each."""
    record = redacted_record(record)
    verdict = record.verdict
    interrupted = record.interrupted or verdict.interrupted
    status = verdict.status
    title = f"{EMOJI[status]} {status.label}" + (" (interrupted)" if interrupted else "")
    out = [f"# {title} — loadlens run `{record.info.run_id}`", ""]
    if interrupted:
        out += [
            "> ⚠️ **Interrupted:** the run was stopped before it finished; the verdict covers only what ran.",
            "",
        ]
    out += [
        f"- **Verdict:** {_md(verdict_line(verdict))}",
        f"- **Scenario:** {_md(record.info.scenario)}",
        f"- **Host:** {_md(record.info.host)}",
        f"- **Window:** {_window_text(record)}",
        "",
        "## Criteria",
        "",
    ]
    folded = fold(verdict.results, fold_over=0) if fold_rows else Folded(verdict.results, 0)
    if verdict.results:
        rows = [
            (
                _md(f"{r.name}: {r.criterion}" if r.criterion and r.criterion != r.name else r.name),
                *(_md(v) for v in observed_and_limit(r)),
                f"{EMOJI[r.status]} {r.status.label}",
                _md(r.reason),
            )
            for r in folded.shown
        ]
        out += _table(("criterion", "observed", "limit", "status", "reason"), rows, right={1, 2})
        if (hidden := folded.line("verdict.md in the run directory")) is not None:
            out += ["", f"_{_md(hidden)}_"]
    else:
        out.append("_No criteria were judged._")
    out += ["", f"## Endpoints ({_WINDOW_KINDS.get(record.window_kind, record.window_kind)})", ""]
    table = endpoint_table(record.judged, max_rows=max_endpoints)
    if table.rows:
        header = ENDPOINT_HEADER
        body = [tuple(_md(c) for c in row) for row in table.rows]
        if table.hidden:
            body.append((f"… and {table.hidden} more", *("" for _ in header[1:])))
        total = tuple(f"**{_md(c)}**" for c in table.total)
        out += _table(header, [*body, total], right=set(range(1, len(header))))
    else:
        out.append("_No requests in the judged window._")
    findings = record.analysis.get("findings") or []
    if findings:
        out += ["", "## Analysis", "", *(f"- {_md(str(line))}" for line in findings)]
    if verdict.notes:
        out += ["", "## Notes", "", *(f"- {_md(note)}" for note in verdict.notes)]
    return "\n".join(out) + "\n"


def write_verdict_md(record: RunRecord, run_dir: Path) -> Path:
    """Write ``run_dir/verdict.md`` atomically (creating ``run_dir``); returns its path."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return write_atomic(run_dir / FILE_NAME, verdict_markdown(record))


def append_step_summary(markdown: str, env: Mapping[str, str]) -> Path | None:
    """Append ``markdown`` to the file GITHUB_STEP_SUMMARY names (GitHub Actions shows it on the
    run's page); returns that path, or None when the variable is unset or empty."""
    target = env.get(STEP_SUMMARY_ENV)
    if not target:
        return None
    path = Path(target)
    try:
        with path.open("a", encoding="utf-8") as f:
            # Other steps append too: keep ours a separate block.
            f.write("\n" + markdown.rstrip("\n") + "\n")
    except OSError as err:
        raise RunDirError(f"cannot append to {STEP_SUMMARY_ENV} file {path}: {err.strerror or err}") from err
    return path


def _window_text(record: RunRecord) -> str:
    kind = _WINDOW_KINDS.get(record.window_kind, record.window_kind)
    duration_s = quantize_s(record.window_end) - quantize_s(record.window_start)
    return (
        f"{iso_utc(record.window_start)} → {iso_utc(record.window_end)}"
        f" ({_md(kind)}, {format_value(round(duration_s, 3), 's')})"
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, right: set[int]) -> list[str]:
    rule = ["---:" if i in right else "---" for i in range(len(header))]
    return ["| " + " | ".join(row) + " |" for row in (header, rule, *rows)]


def _md(text: str) -> str:
    return text.translate(_ESCAPES)
