"""Bounded label sets: endpoint names beyond a cap fold into "(other)", statuses into classes.

A locustfile that puts ids in request names would otherwise create one time series per id. The
folder admits the first ``max_names`` (method, name) pairs it sees and the first ``max_statuses``
status codes, and remembers them for the life of the exporter: a label set never changes its
label between two exports, so every counter stays monotonic. Anything not admitted is reported
under ``endpoint="(other)"`` (per method) or its status class (``"5xx"``), and counted.

Memory is bounded by the caps (the admitted sets), however many names the run produces.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from runner.model import EndpointStats, Snapshot
from runner.stats.store import OVERFLOW_NAME

SUCCESS = "success"
FAILURE = "failure"


@dataclass(frozen=True, slots=True)
class Row:
    """One exported endpoint: its labels and its (possibly merged) statistics."""

    method: str
    endpoint: str  # the Locust name, or OVERFLOW_NAME
    stats: EndpointStats


@dataclass(frozen=True, slots=True)
class Folded:
    """A snapshot's endpoints after the cap, plus what the cap did."""

    rows: tuple[Row, ...]
    folded_names: int  # distinct (method, name) pairs reported under "(other)" by this folder's cap
    overflow_requests: int  # requests reported under "(other)", whoever folded them (store or cap)


@dataclass(frozen=True, slots=True)
class StatusCount:
    """Requests of one endpoint with one status label and one result."""

    status: str  # "200", or a class ("5xx") when folded; "0" means no response
    code: int | None  # the code when not folded
    result: str  # SUCCESS or FAILURE
    n: int


def status_class(code: int) -> str:
    """The class label a folded code is reported as: "2xx" ... "5xx", else "other"."""
    if 100 <= code <= 599:
        return f"{code // 100}xx"
    return "other"


class LabelFolder:
    """Admits label values up to the caps, first come first served, for one exporter's life.

    ``expected_statuses`` are the codes the scenario declared expected: their failed responses
    are not failures (the store's rule), so results agree with ``EndpointStats.failures``.
    """

    def __init__(self, *, max_names: int, max_statuses: int, expected_statuses: Iterable[int] = ()) -> None:
        self._max_names = max_names
        self._max_statuses = max_statuses
        self._expected = frozenset(expected_statuses)
        self._names: set[tuple[str, str]] = set()
        self._codes: set[int] = set()
        # Codes reported as their class; bounded by the status code space (three digits).
        self._folded_codes: set[int] = set()

    def fold(self, snapshot: Snapshot) -> Folded:
        """The snapshot's endpoints with the name cap applied (store order: first seen first)."""
        rows: list[Row] = []
        overflow: dict[str, EndpointStats] = {}
        folded = 0
        names = self._names
        for key, stats in snapshot.endpoints.items():
            pair = (key.method, key.name)
            if key.name != OVERFLOW_NAME:
                if pair in names:
                    rows.append(Row(key.method, key.name, stats))
                    continue
                if len(names) < self._max_names:
                    names.add(pair)
                    rows.append(Row(key.method, key.name, stats))
                    continue
                folded += 1
            before = overflow.get(key.method)
            overflow[key.method] = stats if before is None else before.merge(stats)
        overflow_requests = 0
        for method, stats in overflow.items():
            rows.append(Row(method, OVERFLOW_NAME, stats))
            overflow_requests += stats.count
        return Folded(rows=tuple(rows), folded_names=folded, overflow_requests=overflow_requests)

    def status_label(self, code: int) -> tuple[str, int | None]:
        """The label for ``code`` and the code itself, or its class and None once the cap is full."""
        if code in self._codes:
            return str(code), code
        if len(self._codes) < self._max_statuses:
            self._codes.add(code)
            return str(code), code
        self._folded_codes.add(code)
        return status_class(code), None

    def statuses(self, stats: EndpointStats) -> list[StatusCount]:
        """Requests by (status label, result), exact: failures are ``failed_statuses`` minus the
        expected codes, so the FAILURE counts sum to ``stats.failures``."""
        merged: dict[tuple[str, str], list[int]] = {}  # (label, result) -> [n, code or -1]
        failed = stats.failed_statuses
        for code, n in stats.statuses.items():
            label, kept = self.status_label(code)
            bad = 0 if code in self._expected else failed.get(code, 0)
            for result, count in ((SUCCESS, n - bad), (FAILURE, bad)):
                if count <= 0:
                    continue
                entry = merged.get((label, result))
                if entry is None:
                    merged[(label, result)] = [count, -1 if kept is None else kept]
                else:
                    entry[0] += count
        return [
            StatusCount(status=label, code=None if code < 0 else code, result=result, n=n)
            for (label, result), (n, code) in merged.items()
        ]

    @property
    def folded_status_codes(self) -> int:
        """How many distinct status codes have been reported as their class so far."""
        return len(self._folded_codes)
