"""Pushgateway: for short CI runs that no Prometheus scrapes directly.

Every ``interval_s`` and once more at the end, the same exposition as /metrics is PUT to
``<url>/metrics/job/<job>/run_id/<run_id>`` (PUT replaces the whole group, so a push is always
the complete cumulative state). With ``delete_on_finish`` the group is deleted right after the
final push; otherwise it stays for Prometheus to scrape from the gateway.

The state is read on the load loop; rendering and HTTP happen on the exporter's own OS thread
(exporters/periodic.py), so a gateway that is down or slow costs the run nothing but a
rate-limited warning.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from collections.abc import Iterable
from urllib.parse import quote

from exporters.base import ReadState
from exporters.cardinality import LabelFolder
from exporters.exposition import CONTENT_TYPE, TextExposition
from exporters.periodic import ExportStats, PeriodicExport
from exporters.ratelimit import RateLimitedLog
from exporters.settings import PushgatewaySettings
from runner.model import LiveState, RunInfo

_MAX_BODY_CHARS = 200


class PushError(Exception):
    """A push or delete the gateway refused (HTTP status and its message)."""


class PushgatewayExporter:
    """Pushes the run's metrics to a Pushgateway, grouped by job and run_id."""

    name = "pushgateway"

    def __init__(
        self,
        settings: PushgatewaySettings,
        *,
        expected_statuses: Iterable[int] = (),
        log: RateLimitedLog | None = None,
    ) -> None:
        self.settings = settings
        self._exposition = TextExposition(
            LabelFolder(
                max_names=settings.max_names,
                max_statuses=settings.max_statuses,
                expected_statuses=expected_statuses,
            )
        )
        self._log = log or RateLimitedLog(every_s=settings.interval_s)
        self._group_url: str | None = None
        self._periodic = PeriodicExport(
            name=self.name,
            interval_s=settings.interval_s,
            timeout_s=settings.effective_timeout_s,
            send=self._push,
            finish=self._delete if settings.delete_on_finish else None,
            log=self._log,
        )

    def start(self, info: RunInfo, read_state: ReadState) -> None:
        """Start pushing every interval (no I/O here: a gateway that is down is not a start error)."""
        self._group_url = group_url(self.settings.url, job=self.settings.job, run_id=info.run_id)
        self._periodic.start(read_state)
        self._log.info("pushing to the Pushgateway", exporter=self.name, group=self._group_url)

    def stop(self, final: LiveState) -> None:
        """Push ``final`` (then delete the group when configured), in the background."""
        self._periodic.stop(final)

    def wait_linger(self, timeout_s: float | None = None) -> bool:
        """Wait until the final push (and delete) are over."""
        return self._periodic.wait(timeout_s)

    @property
    def stats(self) -> ExportStats:
        return self._periodic.stats

    # -- on the exporter's own thread ---------------------------------------------------------
    def _push(self, state: LiveState) -> None:
        self._request("PUT", self._exposition.render(state))

    def _delete(self) -> None:
        self._request("DELETE", None)

    def _request(self, method: str, body: bytes | None) -> None:
        assert self._group_url is not None
        request = urllib.request.Request(self._group_url, data=body, method=method)
        if body is not None:
            request.add_header("Content-Type", CONTENT_TYPE)
        try:
            with urllib.request.urlopen(request, timeout=self.settings.effective_timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read(_MAX_BODY_CHARS).decode("utf-8", "replace").strip()
            raise PushError(f"{method} {self._group_url}: HTTP {exc.code} {detail}") from None
        except OSError as exc:
            raise PushError(f"{method} {self._group_url}: {getattr(exc, 'reason', exc)}") from None


def group_url(base_url: str, *, job: str, run_id: str) -> str:
    """The group's URL; label values with "/" (or empty) use the gateway's base64 form."""
    return f"{base_url.rstrip('/')}/metrics/{_segment('job', job)}/{_segment('run_id', run_id)}"


def _segment(key: str, value: str) -> str:
    if "/" in value or not value:
        encoded = base64.urlsafe_b64encode(value.encode()).decode() or "="
        return f"{key}@base64/{encoded}"
    return f"{key}/{quote(value, safe='')}"
