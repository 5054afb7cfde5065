"""Application log errors as a criterion: ``[cloudwatch] max_log_errors`` on the events of
``log_group`` that matched ``error_pattern`` inside the judged window (read by runner.sources.logs).

The most frequent messages (grouped with digits and ids normalised) go to the verdict's notes
whether or not a limit is set: they are what a person opens the logs for. A read that failed is an
INCONCLUSIVE row (required when a limit is set); a read that hit its cap gives a lower bound, which
can still fail the limit but never pass it.
"""

from __future__ import annotations

from runner.judge.rows import CountCriterion
from runner.judge.verdict import in_warn_band
from runner.model import Result, Status
from runner.readings import LogReading

TOP_MESSAGES = 5
LOG_NOTE_PREFIX = "log errors"  # every note this module writes starts so (a re-judge redoes them)


def judge_logs(
    reading: LogReading | None,
    *,
    start: float,
    end: float,
    limit: int | None,
    warn_ratio: float = 0.9,
) -> tuple[list[Result], list[str]]:
    """The log-errors row (when a limit is set or the read failed) and the notes naming the top
    messages of the window ``[start, end]``."""
    if reading is None:
        return [], []
    criterion = f"log events matching {reading.pattern!r} <= {limit}" if limit is not None else "logs answer"

    row = CountCriterion(f"log errors ({reading.log_group})", criterion, limit, "events").row

    if reading.failure is not None:
        return [row(Status.INCONCLUSIVE, f"CloudWatch Logs could not be read: {reading.failure}")], []
    counted = [(g, sum(1 for t in g.times if start <= t <= end)) for g in reading.groups]
    counted = sorted(((g, n) for g, n in counted if n), key=lambda gn: (-gn[1], gn[0].message))
    count = sum(n for _, n in counted)
    bound = "at least " if reading.capped else ""
    capped = f" ({reading.capped})" if reading.capped else ""
    notes = [
        f"{LOG_NOTE_PREFIX} in {reading.log_group}: {bound}{count} in the judged window{capped}"
        + (", most frequent:" if counted else "")
    ]
    notes += [f"{LOG_NOTE_PREFIX}: {n} x {g.example!r}" for g, n in counted[:TOP_MESSAGES]]
    if limit is None:
        return [], notes
    if count > limit:
        return [row(Status.FAIL, f"{bound}{count} matching log events > {limit}{capped}", count)], notes
    if reading.capped:
        reason = f"the read was capped{capped}: {count} or more events, cannot judge <= {limit}"
        return [row(Status.INCONCLUSIVE, reason, count)], notes
    status = Status.WARN if in_warn_band(count, limit, warn_ratio) else Status.PASS
    return [row(status, f"{count} matching log events <= {limit}", count)], notes
