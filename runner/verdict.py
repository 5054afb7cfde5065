"""The overall verdict and the exit code CI gates on.

0 pass (warnings allowed) · 1 a criterion failed · 2 usage or configuration error (raised before a
verdict exists) · 3 inconclusive: data the user required is missing.
"""

from __future__ import annotations

from collections.abc import Iterable

from runner.model import Result, Status, Verdict

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 3


def decide(results: Iterable[Result], *, interrupted: bool = False, notes: Iterable[str] = ()) -> Verdict:
    """FAIL if any criterion failed; else INCONCLUSIVE if a required one had no data; else WARN if
    any warned (or an optional one had no data); else PASS. No criteria at all is INCONCLUSIVE."""
    results = tuple(results)
    statuses = [r.status for r in results]
    if Status.FAIL in statuses:
        status, code = Status.FAIL, EXIT_FAIL
    elif not results or any(r.status is Status.INCONCLUSIVE and r.required for r in results):
        status, code = Status.INCONCLUSIVE, EXIT_INCONCLUSIVE
    elif Status.WARN in statuses or Status.INCONCLUSIVE in statuses:
        status, code = Status.WARN, EXIT_PASS
    else:
        status, code = Status.PASS, EXIT_PASS
    notes = tuple(notes)
    if not results:
        notes += ("no criteria were defined: set [thresholds] in loadlens.toml",)
    return Verdict(results=results, status=status, exit_code=code, interrupted=interrupted, notes=notes)
