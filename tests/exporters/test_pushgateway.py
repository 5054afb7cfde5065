"""Pushgateway: interval pushes and a final one to a real gateway, grouped by job and run_id."""

from __future__ import annotations

import contextlib
import json
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.driver_client import ExporterDriver
from tests.support.procs import pushgateway


def groups(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/v1/metrics", timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success"
    return body["data"]  # type: ignore[no-any-return]


def the_group(url: str, run_id: str = "run-1") -> dict[str, Any]:
    (group,) = [g for g in groups(url) if g["labels"] == {"job": "loadlens", "run_id": run_id}]
    return group


def requests_total(group: dict[str, Any]) -> float:
    return sum(float(m["value"]) for m in group["loadlens_requests_total"]["metrics"])


def warnings(driver: ExporterDriver, event: str) -> list[dict[str, Any]]:
    return [line for line in driver.logs() if line["level"] == "warning" and line["event"] == event]


class TestPushes:
    def test_pushes_arrive_and_the_final_one_equals_the_store(self, tmp_path: Path) -> None:
        """Pushes land during the run; after the final push the gateway holds the store's exact totals,
        and the group is kept (delete_on_finish is off by default)."""
        with (
            pushgateway(tmp_path) as url,
            ExporterDriver(tmp_path, {"pushgateway": {"url": url, "interval_s": 0.3}}) as driver,
        ):
            driver.wait_for("started")
            driver.wait_for("exports", where=lambda e: e["attempts"] >= 3)
            group = the_group(url)
            assert group["last_push_successful"] is True
            during = requests_total(group)
            assert during > 0

            driver.signal("stop")
            final = driver.wait_for("final")
            done = driver.finish()
            group = the_group(url)
            assert requests_total(group) == final["total"]["count"] > during
            failures = sum(
                float(m["value"])
                for m in group["loadlens_requests_total"]["metrics"]
                if m["labels"]["result"] == "failure"
            )
            assert failures == final["total"]["failures"]
            histograms = group["loadlens_request_duration_seconds"]["metrics"]
            assert sum(float(h["count"]) for h in histograms) == final["total"]["count"]
            by_endpoint = {
                (h["labels"]["method"], h["labels"]["endpoint"]): float(h["sum"]) for h in histograms
            }
            assert by_endpoint == {(e["method"], e["name"]): e["sum_ms"] / 1000.0 for e in final["endpoints"]}
            assert group["loadlens_users"]["metrics"][0]["value"] == "7"
        stats = done["stats"]["pushgateway"]
        assert stats["failures"] == 0 and stats["attempts"] == stats["successes"] >= 4
        assert done["violations"] == 0

    def test_the_group_is_deleted_when_configured(self, tmp_path: Path) -> None:
        """With delete_on_finish the group exists during the run and is gone after the final push."""
        config = {"pushgateway": {"url": "", "interval_s": 0.3, "delete_on_finish": True}, "run_id": "ci-77"}
        with pushgateway(tmp_path) as url:
            config["pushgateway"]["url"] = url  # type: ignore[index]
            with ExporterDriver(tmp_path, config) as driver:
                driver.wait_for("exports", where=lambda e: e["attempts"] >= 2)
                assert requests_total(the_group(url, "ci-77")) > 0
                driver.signal("stop")
                done = driver.finish()
            assert [g for g in groups(url) if g["labels"].get("run_id") == "ci-77"] == []
        assert done["stats"]["pushgateway"]["failures"] == 0


class TestGatewayDown:
    def test_a_gateway_stopped_mid_run_costs_only_rate_limited_warnings(self, tmp_path: Path) -> None:
        """When the gateway goes away mid-run, pushes fail without an exception escaping, the run and the
        final stop complete, and the failures are logged at most once per interval, never per attempt."""
        with contextlib.ExitStack() as stack:
            with pushgateway(tmp_path) as url:
                config = {"pushgateway": {"url": url, "interval_s": 0.2, "timeout_s": 0.5}}
                driver = stack.enter_context(ExporterDriver(tmp_path, config))
                driver.wait_for("exports", where=lambda e: e["attempts"] >= 2)
                assert requests_total(the_group(url)) > 0
            # The gateway process is gone now: the next pushes are refused.
            attempts = driver.wait_for("exports")["attempts"]
            driver.wait_for("exports", where=lambda e: e["attempts"] >= attempts + 8)
            driver.signal("stop")
            done = driver.finish()
        stats = done["stats"]["pushgateway"]
        assert stats["failures"] >= 8
        failed = warnings(driver, "export failed")
        assert 1 <= len(failed) <= stats["failures"]
        # Each says what failed (refused, or reset when the gateway died mid-push).
        assert all(f"PUT {url}/metrics/job/loadlens/run_id/run-1" in line["error"] for line in failed)
        assert any("Connection refused" in line["error"] for line in failed)
        # Every failure is either a written line or counted as suppressed in a later one.
        assert len(failed) + sum(line.get("suppressed", 0) for line in failed) <= stats["failures"]
        assert "Traceback" not in driver.stderr()
