"""No credential reaches a report: reports outlive the run (CI artifacts, shared run directories).

The host may carry a password (``https://user:secret@host``) and free text (notes, reasons, the
command line) may quote one; every writer passes its record through here first. Redaction is
idempotent, so a summary read back and written again is unchanged.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

from runner.logs import REDACTED, redact_text, redact_urls
from runner.model import RunRecord, Verdict
from runner.reports.atomic import write_atomic

# An option whose name says its value is a secret: one of its words (split at - and _) is a secret
# word, or holds one (``--dbpassword``, ``--accesstoken``). Words are matched whole where a part
# would be too common (``auth`` but not ``--author``, ``key`` but not ``--monkey-patch``).
_SECRET_WORDS = frozenset({"key", "keys", "auth", "authorization", "pass", "pat"})
_SECRET_PARTS = re.compile(r"token|passw|passphrase|secret|credential|bearer|cookie")
_SECRET_ENDS = ("auth", "apikey", "privatekey", "accesskey")


def _secret_option(name: str) -> bool:
    words = [w for w in re.split(r"[-_.]+", name.lstrip("-").lower()) if w]
    return any(w in _SECRET_WORDS or w.endswith(_SECRET_ENDS) or _SECRET_PARTS.search(w) for w in words)


def redact_command(parts: Sequence[str]) -> tuple[str, ...]:
    """``parts`` (a command line) with secrets hidden: inside each argument (URL passwords, bearer
    tokens, ``key=value`` secrets), and the value of an option named like a secret, as the next
    argument (``--api-token VALUE``) or after ``=`` (``--api-token=VALUE``). A locustfile's own
    options take secrets that way, and nothing in the value alone says it is one."""
    out: list[str] = []
    hide_next = False
    for part in parts:
        if hide_next and not (part.startswith("-") and len(part) > 1):
            out.append(REDACTED)
            hide_next = False
            continue
        hide_next = False
        if part.startswith("--") and len(part) > 2:
            name, eq, _value = part.partition("=")
            if _secret_option(name):
                if eq:
                    out.append(f"{name}={REDACTED}")
                    continue
                hide_next = True
        out.append(redact_text(part))
    return tuple(out)


def redacted_verdict(verdict: Verdict) -> Verdict:
    """``verdict`` with credentials removed from its reasons and notes."""
    results = tuple(dataclasses.replace(r, reason=redact_text(r.reason)) for r in verdict.results)
    return dataclasses.replace(verdict, results=results, notes=tuple(redact_text(n) for n in verdict.notes))


def redacted_record(record: RunRecord) -> RunRecord:
    """``record`` with credentials removed from the host, the command line, reasons and notes."""
    return dataclasses.replace(
        record,
        info=dataclasses.replace(record.info, host=redact_text(record.info.host)),
        command=redact_command(record.command),
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
