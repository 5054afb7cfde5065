"""No credential reaches a report: reports outlive the run (CI artifacts, shared run directories).

The host may carry a password (``https://user:secret@host``) and free text (notes, reasons, the
command line) may quote one; every writer passes its record through here first. Redaction is
idempotent, so a summary read back and written again is unchanged.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from runner.logs import redact_text, redact_urls
from runner.model import RunRecord, Verdict
from runner.reports.atomic import write_atomic


def redacted_verdict(verdict: Verdict) -> Verdict:
    """``verdict`` with credentials removed from its reasons and notes."""
    results = tuple(dataclasses.replace(r, reason=redact_text(r.reason)) for r in verdict.results)
    return dataclasses.replace(verdict, results=results, notes=tuple(redact_text(n) for n in verdict.notes))


def redacted_record(record: RunRecord) -> RunRecord:
    """``record`` with credentials removed from the host, the command line, reasons and notes."""
    return dataclasses.replace(
        record,
        info=dataclasses.replace(record.info, host=redact_text(record.info.host)),
        command=tuple(redact_text(part) for part in record.command),
        verdict=redacted_verdict(record.verdict),
    )


def redact_html_report(path: Path) -> bool:
    """Remove URL passwords from Locust's HTML report, which Locust writes with the raw ``--host``.
    Only URL user-info is touched (the report is mostly JavaScript). True when the file changed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    redacted = redact_urls(text)
    if redacted == text:
        return False
    write_atomic(path, redacted)
    return True
