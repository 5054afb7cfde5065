"""summary.json's record of a run's spike, application log errors and alarms (additive fields:
``spike``, ``server.logs``, ``server.alarms``), written and read back here so that
``loadlens verdict RUN_DIR`` judges recovery, log errors and alarms again from the file alone.

Times are ISO 8601 UTC like every other time in the file; a log group keeps each group's event
times (bounded by ``[cloudwatch] max_log_events``), which is what a narrower window needs.
"""

from __future__ import annotations

from typing import Any

from runner.model import SpikeMarks
from runner.readings import AlarmEntry, AlarmReading, LogGroup, LogReading
from runner.reports.fields import FieldError, read_time
from runner.timefmt import iso_utc


def dump_spike(spike: SpikeMarks) -> dict[str, Any]:
    return {
        "pre_start": iso_utc(spike.pre_start),
        "spike_start": iso_utc(spike.spike_start),
        "spike_end": iso_utc(spike.spike_end),
        "pre_users": spike.pre_users,
        "spike_users": spike.spike_users,
    }


def load_spike(doc: Any, where: str = "spike") -> SpikeMarks:
    data = _object(doc, where)
    return SpikeMarks(
        pre_start=_time(data, "pre_start", where),
        spike_start=_time(data, "spike_start", where),
        spike_end=_time(data, "spike_end", where),
        pre_users=int(data.get("pre_users", 0)),
        spike_users=int(data.get("spike_users", 0)),
    )


def dump_logs(logs: LogReading) -> dict[str, Any]:
    return {
        "log_group": logs.log_group,
        "pattern": logs.pattern,
        "capped": logs.capped,
        "failure": logs.failure,
        "groups": [
            {"message": g.message, "example": g.example, "times": [iso_utc(t) for t in g.times]}
            for g in logs.groups
        ],
    }


def load_logs(doc: Any, where: str = "server.logs") -> LogReading:
    data = _object(doc, where)
    groups = []
    for i, item in enumerate(data.get("groups", [])):
        at = f"{where}.groups[{i}]"
        g = _object(item, at)
        times = tuple(read_time(_str(t, f"{at}.times"), f"{at}.times") for t in g.get("times", []))
        groups.append(
            LogGroup(message=_str(g.get("message"), at), example=_str(g.get("example"), at), times=times)
        )
    return LogReading(
        log_group=_str(data.get("log_group"), where),
        pattern=_str(data.get("pattern"), where),
        groups=tuple(groups),
        capped=_opt_str(data.get("capped"), where),
        failure=_opt_str(data.get("failure"), where),
    )


def dump_alarms(alarms: AlarmReading) -> dict[str, Any]:
    return {
        "prefix": alarms.prefix,
        "capped": alarms.capped,
        "failure": alarms.failure,
        "entries": [{"name": e.name, "at": iso_utc(e.at), "reason": e.reason} for e in alarms.entries],
    }


def load_alarms(doc: Any, where: str = "server.alarms") -> AlarmReading:
    data = _object(doc, where)
    entries = []
    for i, item in enumerate(data.get("entries", [])):
        at = f"{where}.entries[{i}]"
        e = _object(item, at)
        entries.append(
            AlarmEntry(
                name=_str(e.get("name"), at), at=_time(e, "at", at), reason=_str(e.get("reason", ""), at)
            )
        )
    return AlarmReading(
        prefix=_opt_str(data.get("prefix"), where),
        entries=tuple(entries),
        capped=_opt_str(data.get("capped"), where),
        failure=_opt_str(data.get("failure"), where),
    )


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FieldError(f"{where}: expected an object")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise FieldError(f"{where}: expected a string")
    return value


def _opt_str(value: Any, where: str) -> str | None:
    return None if value is None else _str(value, where)


def _time(data: dict[str, Any], key: str, where: str) -> float:
    return read_time(_str(data.get(key), f"{where}.{key}"), f"{where}.{key}")
