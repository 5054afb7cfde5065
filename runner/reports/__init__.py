"""Reports of a finished (or interrupted) run: one module per format.

``write_reports`` writes the files of a run directory (summary.json, verdict.md, junit.xml,
report.html) and appends the verdict to a GitHub Actions step summary when one is configured. A new
file format is a new module with a ``ReportWriter`` function, added to ``DEFAULT_WRITERS``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from runner.errors import RunDirError
from runner.logs import get_logger
from runner.model import RunRecord
from runner.reports.html import write_html_report
from runner.reports.junit import write_junit
from runner.reports.markdown import append_step_summary, step_summary_markdown, write_verdict_md
from runner.reports.summary_json import write_summary


class ReportWriter(Protocol):
    """Writes one report file of ``record`` into ``run_dir`` (atomically) and returns its path."""

    def __call__(self, record: RunRecord, run_dir: Path, /) -> Path: ...


# summary.json first: it is the one later commands (``loadlens verdict``) read back.
DEFAULT_WRITERS: tuple[ReportWriter, ...] = (write_summary, write_verdict_md, write_junit, write_html_report)


def write_reports(
    record: RunRecord,
    run_dir: Path,
    *,
    env: Mapping[str, str],
    writers: Sequence[ReportWriter] = DEFAULT_WRITERS,
) -> list[Path]:
    """Write every report into ``run_dir``; returns the paths written.

    A file that cannot be written raises RunDirError. A GITHUB_STEP_SUMMARY that cannot be appended
    to is logged and skipped: the run's own reports are written and its exit code must stand.
    """
    paths = [write(record, Path(run_dir)) for write in writers]
    try:
        append_step_summary(step_summary_markdown(record), env)
    except RunDirError as err:
        get_logger("loadlens.reports").warning("step summary not written", error=str(err))
    return paths


__all__ = ["DEFAULT_WRITERS", "ReportWriter", "write_reports"]
