"""`loadlens report RUN_DIR...`: write report.html again from run directories.

After ``loadlens verdict`` re-judged a run or re-pulled CloudWatch, the page is rebuilt from the
same summary.json the verdict reads. With several run directories the page shows the first in full
and overlays all of them on a time axis relative to each run's start (for comparing runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from runner.errors import UsageError
from runner.reports.atomic import write_atomic
from runner.reports.html import FILE_NAME, report_html
from runner.reports.load import load_summary

COMPARE_FILE_NAME = "compare.html"


def report_command(run_dirs: Sequence[Path], *, output: Path | None, out: TextIO) -> int:
    """Write the page (one run: into its directory; several: ``compare.html`` in the current
    directory, unless ``output`` names the file) and print its path."""
    if not run_dirs:
        raise UsageError("loadlens report: name at least one run directory")
    records = [load_summary(d) for d in run_dirs]
    first = run_dirs[0] if run_dirs[0].is_dir() else run_dirs[0].parent
    if output is None:
        output = first / FILE_NAME if len(run_dirs) == 1 else Path(COMPARE_FILE_NAME)
    if output.is_dir():
        output = output / (FILE_NAME if len(run_dirs) == 1 else COMPARE_FILE_NAME)
    write_atomic(output, report_html(records, run_dir=first))
    out.write(f"report: {output}\n")
    return 0
