"""Locust's own bookkeeping, kept bounded on a long run (its issue 2045).

Locust keeps, per endpoint and for the total, a ``{second: count}`` dict of requests and one of
failures for every second of the run, and appends a ``stats.history`` entry every 5 s, forever:
about 50 MB/h on a soak over 300 endpoints, on a standalone process and on the master of a
distributed run (workers' per-second data is merged into the master's entries). loadlens keeps
exact statistics of its own, so it only needs Locust's to stay right for what Locust shows:

- ``current_rps`` / ``current_fail_per_sec`` (its console table, web UI, CSV) read the seconds from
  12 to 3 seconds before the last request: seconds older than ``keep_s`` (20) are dropped;
- ``stats.history`` (the web UI's charts when a page opens, the HTML report) is thinned to at most
  ``max_history`` entries spread evenly over the run: its resolution gets coarser as the run gets
  longer, its length does not grow. The newest entry is always kept.

- ``response_times_cache``: every second, Locust copies each entry's whole ``response_times`` dict
  (one key per distinct rounded latency, growing as the run meets new latencies) and keeps the last
  20 copies, per endpoint: 300 endpoints x 20 copies of a dict of a few hundred keys is tens of MB,
  growing for hours. Only the Aggregated entry's cache is read (the web UI's and the history's
  "current" percentiles); an endpoint's is read only by ``--csv-full-history``. So, unless that
  option is on, the endpoints' caches are dropped and no longer kept; the Aggregated one stays.

Everything else Locust shows (totals, percentiles, the CSVs' rows) is left alone. A greenlet
prunes every ``every_s``; a prune costs a few dict lookups per endpoint, never anything on the
request path.
"""

from __future__ import annotations

import calendar
from typing import Any

import gevent

from runner.logs import get_logger

KEEP_S = 20  # current_rps reads last-12 .. last-3: a margin of 8 seconds
MAX_HISTORY = 720  # one hour of Locust's 5 s entries; a longer run is thinned evenly
EVERY_S = 2.0  # a pass over 300 entries of ~22 seconds each: well under a millisecond
HISTORY_STEP_S = 5  # Locust's HISTORY_STATS_INTERVAL_SEC

log = get_logger("loadlens")


def prune_per_second(stats: Any, *, keep_s: int = KEEP_S) -> int:
    """Drop the per-second request and failure counts older than ``keep_s`` seconds before the last
    request, from every entry and the total; returns how many were dropped."""
    last = stats.total.last_request_timestamp
    if last is None:
        return 0
    cutoff = int(last) - keep_s
    dropped = 0
    for entry in (*stats.entries.values(), stats.total):
        for per_second in (entry.num_reqs_per_sec, entry.num_fail_per_sec):
            old = [t for t in per_second if t < cutoff]
            for t in old:
                del per_second[t]
            dropped += len(old)
    return dropped


def drop_endpoint_caches(stats: Any) -> int:
    """Stop keeping the per-endpoint ``response_times_cache`` (see the module docstring): the
    Aggregated entry keeps its own. Returns how many entries had one."""
    dropped = 0
    for entry in stats.entries.values():
        if entry.use_response_times_cache:
            entry.use_response_times_cache = False
            entry.response_times_cache = None
            dropped += 1
    return dropped


def thin_history(history: list[dict[str, Any]], *, max_entries: int = MAX_HISTORY) -> None:
    """Thin ``history`` in place to one entry per step of ``5 s x 2**k`` (the smallest k that keeps
    it to half of ``max_entries``: the first entry of each step), plus the newest entry.

    The step is a function of the run's span only, so the whole history has one resolution (not a
    fine end and a coarse start) and each pass keeps what the previous one kept. Stateless: after a
    reset (Locust replaces the list) it starts over by itself. Entries are at least 5 s apart, so
    the history of a run shorter than half the cap (30 minutes) is left as it is."""
    if len(history) < 3 or max_entries < 8:
        return
    span_s = max(1, _epoch_s(history[-1]) - _epoch_s(history[0]))
    step_s = HISTORY_STEP_S
    while span_s // step_s + 2 > max_entries // 2:
        step_s *= 2
    if step_s == HISTORY_STEP_S:
        return  # a short run: every entry fits
    times = [_epoch_s(entry) for entry in history]
    kept: list[dict[str, Any]] = []
    last_slot = None
    for entry, t in zip(history[:-1], times[:-1], strict=True):
        slot = t // step_s
        if slot != last_slot:
            kept.append(entry)
            last_slot = slot
    kept.append(history[-1])
    if len(kept) < len(history):
        history[:] = kept


def _epoch_s(entry: dict[str, Any]) -> int:
    """An entry's time ("2026-12-01T03:20:16Z": Locust's format, whole seconds in UTC) as epoch
    seconds, without strptime's cost: a pass reads a few hundred of them."""
    s = entry["time"]
    fields = (int(s[0:4]), int(s[5:7]), int(s[8:10]), int(s[11:13]), int(s[14:16]), int(s[17:19]))
    return calendar.timegm(fields)


class LocustPruner:
    """Prunes one Locust process's stats every ``every_s`` while a test runs."""

    def __init__(
        self, *, every_s: float = EVERY_S, keep_s: int = KEEP_S, max_history: int = MAX_HISTORY
    ) -> None:
        self._every_s = every_s
        self._keep_s = keep_s
        self._max_history = max_history
        self._environment: Any = None
        self._loop: gevent.Greenlet | None = None

    def attach(self, events: Any) -> None:
        events.init.add_listener(self._on_init)
        events.test_start.add_listener(self._on_test_start)
        events.test_stop.add_listener(self._on_test_stop)
        events.quitting.add_listener(self._on_test_stop)

    def _on_init(self, environment: Any, **_kw: Any) -> None:
        self._environment = environment

    def _on_test_start(self, **_kw: Any) -> None:
        if self._loop is None:
            self._loop = gevent.spawn(self._run)

    def _on_test_stop(self, **_kw: Any) -> None:
        if self._loop is not None:
            self._loop.kill(block=False)
            self._loop = None

    def prune(self) -> None:
        """One pass over the stats of the attached process (none yet: nothing to do)."""
        stats = getattr(self._environment, "stats", None)
        if stats is None:
            return
        prune_per_second(stats, keep_s=self._keep_s)
        options = getattr(self._environment, "parsed_options", None)
        if not getattr(options, "stats_history_enabled", False):  # --csv-full-history
            drop_endpoint_caches(stats)
        thin_history(stats.history, max_entries=self._max_history)

    def _run(self) -> None:
        while True:
            gevent.sleep(self._every_s)
            try:
                self.prune()
            except Exception as exc:  # Locust's internals changed: its memory grows, the load goes on
                log.warning("could not prune Locust's statistics", error=str(exc))
