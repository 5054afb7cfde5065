"""CloudWatch alarms that went off during a run: DescribeAlarmHistory, state updates only.

The team's own alarms already encode what "unhealthy" means for their service; an alarm that
entered ALARM while loadlens drove the load belongs in the verdict next to the criteria (listed,
and judged when ``[cloudwatch] max_alarms`` is set, runner.judge.alarms). The history is read
through boto3's paginator for the run's span, ``HistoryItemType = StateUpdate``, and only the
transitions into ALARM are kept, optionally only for names starting with ``alarm_prefix``
(DescribeAlarmHistory filters by exact name only, so the prefix is applied here).

Bounded like the log read (``max_entries``, ``max_pages``); a failed call is ``AlarmReading.failure``
(an INCONCLUSIVE row), never a silent pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from runner.errors import SourceError
from runner.readings import AlarmEntry, AlarmReading

if TYPE_CHECKING:
    from runner.sources.aws import AwsApi


@dataclass(frozen=True, slots=True)
class AlarmsPlan:
    """Which alarms to list (``prefix``: names starting with it; None: all) and the read's caps."""

    prefix: str | None = None
    max_entries: int = 500
    max_pages: int = 20


def read_alarms(api: AwsApi, plan: AlarmsPlan, *, start: float, end: float) -> AlarmReading:
    """The alarms that entered ALARM between ``start`` and ``end`` (epoch seconds), oldest first."""
    params = {
        "HistoryItemType": "StateUpdate",
        "StartDate": datetime.fromtimestamp(start, UTC),
        "EndDate": datetime.fromtimestamp(end, UTC),
        "ScanBy": "TimestampAscending",
    }
    entries: list[AlarmEntry] = []
    capped: str | None = None
    try:
        pages = api.pages(
            "cloudwatch", "describe_alarm_history", params, what="CloudWatch alarm history",
            max_pages=plan.max_pages + 1,
        )  # fmt: skip
        for n, page in enumerate(pages, start=1):
            if n > plan.max_pages:
                capped = f"stopped after {plan.max_pages} pages of DescribeAlarmHistory"
                break
            for item in page.get("AlarmHistoryItems", ()):
                entry = _entered_alarm(item, plan.prefix)
                if entry is None:
                    continue
                if len(entries) >= plan.max_entries:
                    capped = f"stopped after {plan.max_entries} alarm state changes"
                    break
                entries.append(entry)
            if capped is not None:
                break
    except SourceError as exc:
        return AlarmReading(prefix=plan.prefix, failure=str(exc))
    entries.sort(key=lambda e: (e.at, e.name))
    return AlarmReading(prefix=plan.prefix, entries=tuple(entries), capped=capped)


def _entered_alarm(item: dict[str, Any], prefix: str | None) -> AlarmEntry | None:
    """The entry when ``item`` is a state update into ALARM of an alarm we list, else None."""
    name = str(item.get("AlarmName", ""))
    if prefix and not name.startswith(prefix):
        return None
    try:
        data = json.loads(item.get("HistoryData") or "{}")
    except ValueError:
        data = {}
    state = (data.get("newState") or {}).get("stateValue") if isinstance(data, dict) else None
    summary = str(item.get("HistorySummary", ""))
    # HistoryData is the authority; an item without it falls back on its one-line summary.
    if state is None and not summary.endswith("to ALARM"):
        return None
    if state is not None and state != "ALARM":
        return None
    reason = (data.get("newState") or {}).get("stateReason", "") if isinstance(data, dict) else ""
    at = item.get("Timestamp")
    when = at.timestamp() if isinstance(at, datetime) else 0.0
    return AlarmEntry(name=name, at=when, reason=str(reason or summary)[:200])
