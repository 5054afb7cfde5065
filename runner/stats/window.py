"""Which part of a run the criteria judge: the steady state, or the whole run when there is none.

Pure: cumulative snapshots in, the judged window out. The bridge takes the snapshots when the
ramp-up (plus warm-up) ends and, with a cool-down, before the planned end.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from runner.model import Snapshot

STEADY = "steady_state"
WHOLE = "whole_run"


@dataclass(frozen=True, slots=True)
class JudgedWindow:
    """The whole run, the window the criteria judge, its kind, and why it is what it is."""

    whole: Snapshot
    judged: Snapshot
    kind: str  # STEADY or WHOLE
    notes: tuple[str, ...] = ()
    incomplete: str = ""  # why no verdict on this window may pass (the steady state never came)

    @property
    def label(self) -> str:
        return "steady state" if self.kind == STEADY else "whole run"


def choose_window(
    final: Snapshot,
    *,
    run_start: float,
    run_end: float,
    steady_start: Snapshot | None,
    steady_end: Snapshot | None = None,
) -> JudgedWindow:
    """The steady state (``steady_end`` minus ``steady_start``, or up to the run's end), or the whole
    run with a note when the steady state was never reached or holds no requests.

    A run that never reached its steady state shows its criteria on the whole run, but is
    ``incomplete``: a ramp-up is not the load the criteria were written for, so it cannot pass."""
    whole = replace(final, start=run_start, end=run_end)
    if steady_start is None:
        note = (
            "the steady state was never reached (ramp-up or warm-up did not finish): the criteria show "
            "the whole run, and the verdict is at best INCONCLUSIVE"
        )
        return JudgedWindow(whole, whole, WHOLE, (note,), incomplete="the steady state was never reached")
    judged = (steady_end or whole).since(steady_start)
    if steady_end is None:
        judged = replace(judged, end=run_end)
    if judged.total().count == 0 and whole.total().count > 0:
        return JudgedWindow(whole, whole, WHOLE, ("no requests in the steady state: judged the whole run",))
    return JudgedWindow(whole, judged, STEADY)
