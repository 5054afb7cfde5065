"""What one benchmark run measured, read from Locust's ``--json-file`` output.

Requests per second come from the per-second request counts Locust keeps per endpoint: the whole
seconds after the ramp-up and before the last (partial) second. The same rule applies to every
mode, and it does not depend on when ``-t`` really stopped the run (it can stop early here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

PLAIN, LOADLENS, EXPORT = "locust", "loadlens", "loadlens+export"  # loadlens's defaults: lean
NO_LEAN, EXPORT_NO_LEAN = "loadlens-nolean", "loadlens+export-nolean"  # the same with --no-lean
CONTROL = "control"  # plain Locust again: its ratio to plain Locust shows the noise (an A/A test)
MODES = (PLAIN, LOADLENS, NO_LEAN, EXPORT, EXPORT_NO_LEAN)  # the default
ALL_MODES = (*MODES, CONTROL)
EXPORT_MODES = frozenset({EXPORT, EXPORT_NO_LEAN})
NO_LEAN_MODES = frozenset({NO_LEAN, EXPORT_NO_LEAN})
# loadlens's requests/s as a share of plain Locust's (issue 14): at least 1.0 with Locust's own
# bookkeeping beside loadlens's, at least 1.1 lean (the default).
GOALS = {LOADLENS: 1.1, EXPORT: 1.1, NO_LEAN: 1.0, EXPORT_NO_LEAN: 1.0}
RAMP_SKIP_S = 1  # whole seconds dropped after the first (partial) one: -r = -u spawns in ~1 s


@dataclass
class RunResult:
    """One measured run."""

    user_class: str
    round: int
    position: int  # 0-based place in the round's order
    mode: str
    rps: float | None  # steady seconds only
    steady_s: int
    steady_requests: int
    cpu_s: float | None  # the Locust process's CPU time in the steady seconds (see cpu_window_s)
    cpu_window_s: int  # the steady seconds, or one fewer when the process exited too soon to tell
    per_cpu_s: float | None  # requests per CPU second over the cpu_window_s seconds
    total_requests: int
    failures: int
    whole_rps: float | None  # all requests / (last request - first request)
    exit_code: int | None
    wall_s: float
    crashed: bool
    notes: list[str] = field(default_factory=list)
    scrapes_ok: int | None = None
    scrapes_failed: int | None = None
    otlp_posts: int | None = None
    scrape_ms_median: float | None = None  # wall time of a /metrics GET, seen by the scraper

    @property
    def cpu_share(self) -> float | None:
        """The Locust process's CPU time per wall second (1.0: a whole core, all the time)."""
        return self.cpu_s / self.cpu_window_s if self.cpu_s and self.cpu_window_s else None


@dataclass(frozen=True)
class Steady:
    """The whole seconds after the ramp-up and before the last (partial) second, unix time."""

    start: int
    end: int  # exclusive
    requests: int
    per_second: Mapping[int, int] = field(default_factory=dict, compare=False)

    def requests_between(self, start: int, end: int) -> int:
        """Requests in the whole seconds [start, end)."""
        return sum(self.per_second.get(s, 0) for s in range(start, end))

    @property
    def seconds(self) -> int:
        return self.end - self.start

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def steady_window(entries: Sequence[dict], *, ramp_skip_s: int = RAMP_SKIP_S) -> Steady | None:
    """Requests in the steady seconds of a run, from Locust's ``--json-file`` content.

    ``entries`` has one dict per (method, name) with ``num_reqs_per_sec`` ({unix second: count})
    and ``start_time`` (its first request). The first second is partial and the next
    ``ramp_skip_s`` are the ramp-up; the last second is cut short by the stop. A second with no
    request inside the window counts as zero, not as absent.
    """
    per_sec: dict[int, int] = {}
    first: float | None = None
    for e in entries:
        for sec, n in e.get("num_reqs_per_sec", {}).items():
            per_sec[int(sec)] = per_sec.get(int(sec), 0) + int(n)
        start = e.get("start_time")
        if start and (first is None or start < first):
            first = float(start)
    if not per_sec or first is None:
        return None
    lo = int(first) + 1 + ramp_skip_s
    hi = max(per_sec)  # exclusive: the last second is partial
    if hi <= lo:
        return None
    steady = {s: per_sec.get(s, 0) for s in range(lo, hi)}
    return Steady(start=lo, end=hi, requests=sum(steady.values()), per_second=MappingProxyType(steady))


def whole_rps(entries: Sequence[dict]) -> float | None:
    starts = [e["start_time"] for e in entries if e.get("start_time")]
    ends = [e["last_request_timestamp"] for e in entries if e.get("last_request_timestamp")]
    if not starts or not ends or max(ends) <= min(starts):
        return None
    return sum(e["num_requests"] for e in entries) / (max(ends) - min(starts))
