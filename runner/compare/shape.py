"""What makes two runs comparable, recorded with each run and checked before comparing them.

A baseline is only a baseline for the same test: the same locustfile (by content, not by name),
scenario, load (users, spawn rate, duration), target and user classes/tags. When these differ a
difference in latency says nothing about the service, so the comparison says *which* differ
instead of calling it a regression.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from runner.model import RunShape

_PLUGIN = Path(__file__).resolve().parents[1] / "plugin.py"


def locustfile_sha256(paths: Iterable[str]) -> str:
    """sha256 over the locustfiles' names and contents (sorted; loadlens's plugin left out, so a
    loadlens upgrade does not make every old baseline incomparable); "" when none can be read."""
    digest = hashlib.sha256()
    read = 0
    for raw in sorted(set(paths)):
        path = Path(raw)
        try:
            if path.resolve() == _PLUGIN:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        digest.update(path.name.encode() + b"\0" + data + b"\0")
        read += 1
    return digest.hexdigest() if read else ""


def run_shape(
    *,
    locustfiles: Iterable[str],
    scenario: str,
    users: int | None,
    spawn_rate: float | None,
    duration_s: float | None,
    host: str,
    user_classes: Iterable[str],
    tags: Iterable[str] = (),
    exclude_tags: Iterable[str] = (),
) -> RunShape:
    """The comparability record of one run (``host`` already redacted by the caller)."""
    return RunShape(
        locustfile_sha256=locustfile_sha256(locustfiles),
        scenario=scenario,
        users=users,
        spawn_rate=None if spawn_rate is None else float(spawn_rate),
        duration_s=None if duration_s is None else float(duration_s),
        host=host,
        user_classes=tuple(sorted(set(user_classes))),
        tags=tuple(sorted(set(tags))),
        exclude_tags=tuple(sorted(set(exclude_tags))),
    )


_LABELS = (
    ("locustfile_sha256", "locustfile content"),
    ("scenario", "scenario"),
    ("users", "users"),
    ("spawn_rate", "spawn rate"),
    ("duration_s", "duration"),
    ("host", "target host"),
    ("user_classes", "user classes"),
    ("tags", "tags"),
    ("exclude_tags", "excluded tags"),
)


def shape_differences(baseline: RunShape | None, current: RunShape | None) -> tuple[str, ...]:
    """One sentence per thing that differs between the runs ("users: 8 in the baseline, 16 now")."""
    if baseline is None or current is None:
        which = "the baseline" if baseline is None else "the current run"
        return (f"{which} records no comparability data (written by an older loadlens): cannot check",)
    out = []
    for attr, label in _LABELS:
        a, b = getattr(baseline, attr), getattr(current, attr)
        if a != b:
            if attr == "locustfile_sha256":
                out.append("locustfile content differs (sha256 " + f"{a[:12] or '?'} vs {b[:12] or '?'})")
            else:
                out.append(f"{label}: {_show(a)} in the baseline, {_show(b)} now")
    return tuple(out)


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(value) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return "unset" if value is None or value == "" else str(value)
