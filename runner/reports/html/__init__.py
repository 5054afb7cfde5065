"""report.html: one self-contained page per run, client and server on one time axis.

Everything is inline (uPlot, styles, the run's data), so the page opens from ``file://``, a CI
artifact or an e-mail with no network. ``data`` (with ``client``, ``server`` and ``analysis``)
builds the document from a RunRecord, ``page.js`` only draws it; ``live`` serves the same page
from the running state.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from runner.logs import get_logger
from runner.model import RunRecord
from runner.reports.atomic import write_atomic
from runner.reports.html.data import PageOptions, page_data, read_failures_csv

FILE_NAME = "report.html"
FAILURES_CSV = "locust_failures.csv"  # Locust's own failures table, written beside our reports
UPLOT_VERSION = "1.6.32"  # runner/reports/html/vendor/: uPlot.iife.min.js, uPlot.min.css (MIT)

_PLACEHOLDER = re.compile(r"\{\{(TITLE|UPLOT_CSS|CSS|DATA|UPLOT_JS|JS)\}\}")
# JSON inside <script>: nothing in it may close the element or open a comment; U+2028/9 for old parsers.
_JSON_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def render_page(doc: Mapping[str, Any]) -> str:
    """The page for a document of ``data.page_data``: a complete HTML file as text."""
    parts = _assets()
    meta = doc.get("meta", {})
    verdict = doc.get("verdict", {})
    values = {
        "TITLE": html.escape(f"loadlens {str(verdict.get('status', '')).upper()} · {meta.get('run_id', '')}"),
        "UPLOT_CSS": parts["uplot_css"],
        "CSS": parts["css"],
        "DATA": json_for_script(doc),
        "UPLOT_JS": _licence_comment(parts["uplot_licence"]) + parts["uplot_js"],
        "JS": parts["js"],
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], parts["template"])


def json_for_script(doc: Mapping[str, Any]) -> str:
    """``doc`` as JSON that is safe inside a ``<script>`` element (no ``</script>``, no ``<!--``)."""
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":")).translate(
        _JSON_ESCAPES
    )


def report_html(
    records: Sequence[RunRecord],
    *,
    run_dir: Path | None = None,
    options: PageOptions = PageOptions(),  # noqa: B008
    sections: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The report page of ``records`` (the first in full; several are overlaid), with ``sections``
    (a comparison's rows, a history) when given. Locust's failures table is read from ``run_dir``
    when it is there."""
    failures = read_failures_csv(run_dir / FAILURES_CSV) if run_dir is not None else []
    return render_page(page_data(records, failures=failures, options=options, sections=sections))


def write_html_report(record: RunRecord, run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` atomically (a ``ReportWriter``); returns its path.

    The page is the last report written and the only one that draws: if drawing it fails (a bug,
    an analysis section of an unexpected shape), the page says so in one line and the run's
    verdict, exit code and other files stand. A file that cannot be written still raises RunDirError.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        text = report_html([record], run_dir=run_dir)
    except Exception as exc:
        get_logger("loadlens.reports").error("report.html could not be drawn", error=repr(exc), exc_info=True)
        text = _failure_page(record, exc)
    return write_atomic(run_dir / FILE_NAME, text)


def _failure_page(record: RunRecord, exc: Exception) -> str:
    message = f"{type(exc).__name__}: {exc}"
    return (
        '<!doctype html><html lang="en"><meta charset="utf-8">'
        f"<title>loadlens {html.escape(record.info.run_id)}</title>"
        f"<p>loadlens could not draw this run's report ({html.escape(message)}). Its verdict is in"
        " verdict.md and summary.json beside this file; <code>loadlens report RUN_DIR</code> draws the"
        " page again.</p></html>\n"
    )


def _licence_comment(notice: str) -> str:
    """uPlot's MIT notice as a comment heading its script: the licence asks that the notice go with
    every copy, and each report is one. ``/*!`` keeps it through minifiers."""
    body = notice.strip().replace("*/", "* /")
    head = f"uPlot {UPLOT_VERSION} (https://github.com/leeoniya/uPlot), embedded under its licence:"
    return f"/*! {head}\n\n{body}\n*/\n"


def _assets() -> dict[str, str]:
    """The template, styles and scripts shipped in this package."""
    here = resources.files(__name__)

    def read(name: str) -> str:
        return here.joinpath(name).read_text(encoding="utf-8")

    return {
        "template": read("page.html"),
        "css": read("page.css"),
        "js": read("page.js"),
        "uplot_css": read("vendor/uPlot.min.css"),
        "uplot_js": read("vendor/uPlot.iife.min.js"),
        "uplot_licence": read("vendor/uPlot.LICENSE"),
    }


__all__ = ["FILE_NAME", "PageOptions", "page_data", "render_page", "report_html", "write_html_report"]
