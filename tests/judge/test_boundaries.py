"""The judge's boundaries: one home per rule, sources that collect without judging, a Locust room
of small modules, and typed results. Read from the source tree and the types, no run needed."""

from __future__ import annotations

import ast
import dataclasses
import typing
from fractions import Fraction
from pathlib import Path

import pytest

from runner.config.load import Limits, Thresholds
from runner.judge.analysis import Analysis
from runner.judge.client import judge_client
from runner.judge.server import status_for
from runner.judge.verdict import in_warn_band
from runner.model import Status
from runner.sources.server import ServerPlan
from runner.stats.store import StatsStore
from tests.support.timelines import FakeClock

RUNNER = Path(__file__).resolve().parents[2] / "runner"


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (lazy imports inside functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


class TestRooms:
    def test_sources_collect_and_never_judge(self) -> None:
        """No module under runner/sources imports runner.judge: the judge reads what sources found."""
        offenders = {
            p.name: sorted(m for m in imports(p) if m.startswith("runner.judge"))
            for p in (RUNNER / "sources").glob("*.py")
        }
        assert {k: v for k, v in offenders.items() if v} == {}

    def test_the_judge_knows_no_locust_and_does_no_io(self) -> None:
        """runner/judge imports neither Locust, gevent, boto3 nor the rooms that write or drive."""
        banned = ("locust", "gevent", "boto3", "runner.locust", "runner.commands", "runner.reports")
        offenders = {
            p.name: sorted(m for m in imports(p) if m.startswith(banned))
            for p in (RUNNER / "judge").glob("*.py")
        }
        assert {k: v for k, v in offenders.items() if v} == {}

    def test_the_judge_reads_no_source_that_does_io(self) -> None:
        """From runner/sources the judge takes pure helpers and names only (period alignment, the
        metric catalog, the custom metric type); run.py names the server plan for typing alone."""
        pure = {"runner.sources.base", "runner.sources.cloudwatch_catalog", "runner.sources.custom"}
        offenders = {
            p.name: sorted(m for m in imports(p) if m.startswith("runner.sources") and m not in pure)
            for p in (RUNNER / "judge").glob("*.py")
        }
        assert {k: v for k, v in offenders.items() if v} == {"run.py": ["runner.sources.server"]}
        run_py = (RUNNER / "judge" / "run.py").read_text()
        assert "if TYPE_CHECKING:\n    from runner.sources.server import ServerPlan" in run_py

    def test_no_module_of_the_locust_room_passes_400_lines(self) -> None:
        """The Locust adapter is split by concern (phases, shape, workers, finish): none over 400 lines."""
        sizes = {p.name: len(p.read_text().splitlines()) for p in (RUNNER / "locust").glob("*.py")}
        assert {k: n for k, n in sizes.items() if n > 400} == {}

    def test_no_module_passes_about_400_lines(self) -> None:
        """The house plan's "no module over ~400 lines", everywhere in runner/ and exporters/: a
        module that grows past 430 is split by concern, as the Locust room was."""
        modules = [*RUNNER.rglob("*.py"), *(RUNNER.parent / "exporters").rglob("*.py")]
        sizes = {p.relative_to(RUNNER.parent).as_posix(): len(p.read_text().splitlines()) for p in modules}
        assert {k: n for k, n in sizes.items() if n > 430} == {}

    def test_every_loadlens_flag_is_defined_once(self) -> None:
        """A flag of the OPTIONS table is declared only there: `loadlens verdict`, `compare`,
        `cloudwatch check`, `grafana push`, `scenarios` and `demo` take it with options.add_options.
        `history --scenario` is not the run's scenario but a filter on the runs listed."""
        from runner.config.options import OPTIONS

        flags = {option.flag for option in OPTIONS}
        declared = {
            (p.relative_to(RUNNER).as_posix(), node.args[0].value)
            for p in RUNNER.rglob("*.py")
            for node in ast.walk(ast.parse(p.read_text()))
            if isinstance(node, ast.Call)
            and getattr(node.func, "attr", None) == "add_argument"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in flags
        }
        assert declared == {("commands/history.py", "--scenario")}

    def test_the_cpu_and_memory_metric_sets_are_spelled_once(self) -> None:
        """Which (source, metric) pairs are CPU or memory is written in runner/readings.py only."""
        spelled = [
            p.relative_to(RUNNER).as_posix()
            for p in RUNNER.rglob("*.py")
            if '("process", "cpu_percent")' in p.read_text()
            or '("process", "memory_percent")' in p.read_text()
        ]
        assert spelled == ["readings.py"]

    def test_times_in_sentences_are_formatted_in_one_place(self) -> None:
        """Every module of runner/ and exporters/ formats a moment with runner.timefmt only."""
        modules = [*RUNNER.rglob("*.py"), *(RUNNER.parent / "exporters").rglob("*.py")]
        spelled = sorted(
            p.relative_to(RUNNER.parent).as_posix()
            for p in modules
            if p.name != "timefmt.py" and ("strftime" in p.read_text() or "gmtime" in p.read_text())
        )
        assert spelled == []


class TestWarnBand:
    @pytest.mark.parametrize(
        ("observed", "limit", "near"),
        [
            (89.9, 100.0, False),
            (90.0, 100.0, True),
            (100.0, 100.0, True),
            (0.0, 0.0, False),
            (5.0, 0.0, False),
        ],
    )
    def test_one_band_for_every_criterion(self, observed: float, limit: float, near: bool) -> None:
        """At or above warn_ratio of the limit is the band; a limit of 0 has none."""
        assert in_warn_band(observed, limit, 0.9) is near
        assert in_warn_band(Fraction(repr(observed)), Fraction(repr(limit)), Fraction(9, 10)) is near

    def test_client_and_server_agree_at_the_edge(self) -> None:
        """A p95 and a server peak both at exactly 90 % of their limits WARN; just under both PASS."""
        clock = FakeClock(0.0)
        store = StatsStore(clock=clock)
        for _ in range(100):
            store.record("GET", "/x", 90.0, 200, False, 1)
        clock.t = 10.0
        thresholds = Thresholds(default=Limits(p95_ms=100), per_endpoint=False, warn_ratio=0.9)
        (row,) = judge_client(store.snapshot(), thresholds)
        assert row.observed is not None
        assert row.status is Status.WARN
        assert status_for(row.observed, 100.0 * row.observed / 90.0, 0.9) is Status.WARN
        assert status_for(89.0, 100.0, 0.9) is Status.PASS


class TestTypes:
    def test_the_analysis_is_a_frozen_dataclass_with_a_json_section(self) -> None:
        """The analysis result is typed (frozen), and its summary section is made from it."""
        assert dataclasses.is_dataclass(Analysis)
        empty = Analysis()
        with pytest.raises(dataclasses.FrozenInstanceError):
            empty.findings = ("x",)  # type: ignore[misc]
        assert empty.section() == {"trends": [], "findings": []}

    def test_the_server_plan_names_its_cloudwatch_target(self) -> None:
        """``ServerPlan.cloudwatch`` is a CloudWatchTarget (or None), not Any."""
        from runner.sources.cloudwatch_catalog import CloudWatchTarget

        hints = typing.get_type_hints(ServerPlan)
        assert hints["cloudwatch"] == CloudWatchTarget | None
