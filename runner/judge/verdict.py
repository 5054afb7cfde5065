"""The overall verdict and the exit code CI gates on.

0 pass (warnings allowed) · 1 a criterion failed · 2 usage or configuration error (raised before a
verdict exists) · 3 inconclusive: data the user required is missing, or the run is incomplete.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import TypeVar

from runner.model import Result, Status, Verdict

_Num = TypeVar("_Num", float, Fraction)

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 3

# Notes that carry why a run is incomplete start with this, so `loadlens verdict` keeps the cap.
INCOMPLETE_NOTE = "incomplete run: "


def in_warn_band(observed: _Num, limit: _Num, warn_ratio: _Num) -> bool:
    """The WARN band of every criterion with a limit: ``observed`` at or above ``warn_ratio`` of
    ``limit`` (the caller passes what must stay under the limit: a latency, an error budget spent,
    or for a minimum the limit itself against what was observed). A limit of 0 has no band."""
    return limit > 0 and observed >= warn_ratio * limit


def decide(
    results: Iterable[Result],
    *,
    interrupted: bool = False,
    notes: Iterable[str] = (),
    incomplete: Iterable[str] = (),
) -> Verdict:
    """FAIL if any criterion failed; else INCONCLUSIVE if a required one had no data or the run is
    ``incomplete`` (interrupted, no steady state, a worker lost: what was measured is judged and
    shown, but an incomplete run never passes); else WARN if any warned (or an optional one had no
    data); else PASS. No criteria at all is INCONCLUSIVE."""
    results = tuple(results)
    reasons = tuple(dict.fromkeys(incomplete))
    statuses = [r.status for r in results]
    if Status.FAIL in statuses:
        status, code = Status.FAIL, EXIT_FAIL
    elif not results or reasons or any(r.status is Status.INCONCLUSIVE and r.required for r in results):
        status, code = Status.INCONCLUSIVE, EXIT_INCONCLUSIVE
    elif Status.WARN in statuses or Status.INCONCLUSIVE in statuses:
        status, code = Status.WARN, EXIT_PASS
    else:
        status, code = Status.PASS, EXIT_PASS
    notes = tuple(notes)
    notes += tuple(INCOMPLETE_NOTE + r for r in reasons if INCOMPLETE_NOTE + r not in notes)
    if not results:
        notes += ("no criteria were defined: set [thresholds] in loadlens.toml",)
    return Verdict(
        results=results,
        status=status,
        exit_code=code,
        interrupted=interrupted,
        notes=notes,
        incomplete=reasons,
    )


def incomplete_reasons(notes: Iterable[str]) -> tuple[str, ...]:
    """The reasons a judged run was incomplete, read back from its notes (for re-judging)."""
    return tuple(n[len(INCOMPLETE_NOTE) :] for n in notes if n.startswith(INCOMPLETE_NOTE))
