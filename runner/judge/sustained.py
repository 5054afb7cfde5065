"""Sustained breaches: the live client rows, and the early stop when a criterion stays broken.

A table of ``[thresholds]`` (the top level, an endpoint's, a group's, a scenario's) with
``abort_after = "30s"`` stops the run once one of its criteria has been FAIL continuously for that
long in the live window: the rows the live exporters show, judged every ``[run] interval`` on the
steady state so far (the run so far before it begins). "Continuously" is counted from the first
tick that saw the row FAIL; any tick that sees it otherwise (PASS, WARN, or INCONCLUSIVE for want
of samples) starts the count again. A staging run that is clearly failing then stops instead of
hammering a shared environment, and the verdict gets one FAIL row saying which criterion, since
when and for how long (exit 1), like the server safety stop.

The state is the first-failing time per row name: bounded by the number of rows. No Locust here;
the bridge calls ``LiveCriteria.judge`` from its tick and ends the run when it answers a reason.
"""

from __future__ import annotations

from runner.judge.client import ThresholdSet, judge_client
from runner.model import Result, Snapshot, Status
from runner.timefmt import clock_utc, format_span

ROW_NAME = "client early stop"  # the verdict's row; runner.commands.verdict reads it back
CRITERION = "no criterion fails for its abort_after"


class LiveCriteria:
    """The live client rows of one test, and the early-stop reason once a breach was sustained."""

    def __init__(self) -> None:
        self.results: tuple[Result, ...] = ()
        self.stop: str | None = None
        self._failing_since: dict[str, float] = {}

    def judge(
        self, window: Snapshot, thresholds: ThresholdSet, *, now: float, run_start: float | None
    ) -> str | None:
        """Judge the live window; the stop reason when a row with ``abort_after`` has now failed
        continuously for that long (answered once), else None."""
        self.results = tuple(judge_client(window, thresholds, window="run so far"))
        if self.stop is not None:
            return None
        for row in self.results:
            after_s = row.details.get("abort_after_s")
            if not isinstance(after_s, int | float):
                continue
            if row.status is not Status.FAIL:
                self._failing_since.pop(row.name, None)
                continue
            since = self._failing_since.setdefault(row.name, now)
            if now - since >= after_s:
                into = "" if run_start is None else f", {format_span(now - run_start)} into the run"
                self.stop = (
                    f"stopped early at {clock_utc(now)}{into}: {row.name} ({row.criterion}) failed "
                    f"continuously since {clock_utc(since)}, for {format_span(now - since)} "
                    f"(abort_after {format_span(after_s)}): {row.reason}"
                )
                return self.stop
        return None


def stop_row(reason: str) -> Result:
    """The verdict's FAIL row for a run the early stop ended."""
    return Result(
        name=ROW_NAME,
        criterion=CRITERION,
        observed=None,
        limit=None,
        status=Status.FAIL,
        reason=reason,
    )
