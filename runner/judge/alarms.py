"""CloudWatch alarms as a criterion: ``[cloudwatch] max_alarms`` on the alarms that entered ALARM
inside the judged window (read by runner.sources.alarms).

Every alarm that went off is named in the verdict's notes, judged or not. A read that failed is an
INCONCLUSIVE row (required when a limit is set), never a pass; a capped read can fail the limit,
never pass it.
"""

from __future__ import annotations

from runner.judge.rows import CountCriterion
from runner.model import Result, Status
from runner.readings import AlarmReading
from runner.timefmt import iso_utc

MAX_NOTES = 10  # alarm notes listed; summary.json server.alarms keeps them all
ALARM_NOTE_PREFIX = "alarm "  # every note this module writes starts so (a re-judge redoes them)


def judge_alarms(
    reading: AlarmReading | None, *, start: float, end: float, limit: int | None
) -> tuple[list[Result], list[str]]:
    """The alarms row (when a limit is set or the read failed) and one note per alarm that entered
    ALARM in the window ``[start, end]``."""
    if reading is None:
        return [], []
    scope = f" starting {reading.prefix!r}" if reading.prefix else ""
    criterion = f"alarms{scope} entering ALARM <= {limit}" if limit is not None else "alarm history answers"

    row = CountCriterion("CloudWatch alarms", criterion, limit, "alarms").row

    if reading.failure is not None:
        return [row(Status.INCONCLUSIVE, f"the alarm history could not be read: {reading.failure}")], []
    fired = [e for e in reading.entries if start <= e.at <= end]
    names = sorted({e.name for e in fired})
    capped = f" ({reading.capped})" if reading.capped else ""
    notes = [
        f"{ALARM_NOTE_PREFIX}{e.name} entered ALARM at {iso_utc(e.at)}: {e.reason}".rstrip(": ")
        for e in fired[:MAX_NOTES]
    ]
    if len(fired) > MAX_NOTES:
        notes.append(f"{ALARM_NOTE_PREFIX}state changes into ALARM not listed here: {len(fired) - MAX_NOTES}")
    if limit is None:
        return [], notes
    listed = f": {', '.join(names)}" if names else ""
    if len(names) > limit:
        return [
            row(Status.FAIL, f"{len(names)} alarms entered ALARM > {limit}{listed}{capped}", len(names))
        ], notes
    if reading.capped:
        return [row(Status.INCONCLUSIVE, f"the history read was capped{capped}", len(names))], notes
    return [row(Status.PASS, f"{len(names)} alarms entered ALARM <= {limit}{listed}", len(names))], notes
