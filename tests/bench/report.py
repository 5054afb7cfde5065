"""The benchmark's summary: ratios to plain Locust per round, medians, minimums, and the tables."""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Mapping, Sequence

from tests.bench.measure import CONTROL, GOALS, PLAIN, RunResult


def fmt(x: float | None, spec: str = ".0f") -> str:
    return "—" if x is None else format(x, spec)


METRICS = {"rps": "requests/s", "per_cpu_s": "requests per CPU second of the Locust process"}


def _ratios(table: list[dict], mode: str, metric: str) -> dict:
    vals = [t[metric + "_ratio"][mode] for t in table if t[metric + "_ratio"].get(mode)]
    return {
        "median": statistics.median(vals) if vals else None,
        "min": min(vals) if vals else None,
        "max": max(vals) if vals else None,
        "n": len(vals),
    }


def summarise(results: list[RunResult], classes: Sequence[str], modes: Sequence[str]) -> dict:
    """Per class: each round's figures and ratios to plain Locust, then medians and minimum ratios.

    Two figures per run: requests/s (the goal is stated in it) and requests per CPU second of the
    Locust process (what the noise of a shared machine moves least).
    """
    out: dict = {}
    for cls in classes:
        rows = [r for r in results if r.user_class == cls]
        table = []
        for rnd in sorted({r.round for r in rows}):
            row: dict = {"round": rnd}
            for metric in METRICS:
                by_mode = {r.mode: getattr(r, metric) for r in rows if r.round == rnd}
                plain = by_mode.get(PLAIN)
                row[metric] = by_mode
                row[metric + "_ratio"] = {
                    m: (by_mode[m] / plain if plain and by_mode.get(m) else None) for m in modes if m != PLAIN
                }
            row["cpu_share"] = {r.mode: r.cpu_share for r in rows if r.round == rnd}
            table.append(row)
        summary: dict = {"rounds": table}
        for metric in METRICS:
            summary["median_" + metric] = {
                m: statistics.median(v) if (v := [t[metric][m] for t in table if t[metric].get(m)]) else None
                for m in modes
            }
            summary[metric + "_ratio"] = {m: _ratios(table, m, metric) for m in modes if m != PLAIN}
        out[cls] = summary
    return out


def _table(s: dict, modes: Sequence[str], metric: str, spec: str) -> list[str]:
    others = [m for m in modes if m != PLAIN]
    lines = [" | ".join(["round", *modes, *(f"{m}/plain" for m in others)])]
    for t in s["rounds"]:
        cells = [str(t["round"]), *(fmt(t[metric].get(m), spec) for m in modes)]
        cells += [fmt(t[metric + "_ratio"].get(m), ".3f") for m in others]
        lines.append(" | ".join(cells))
    med = ["median", *(fmt(s["median_" + metric].get(m), spec) for m in modes)]
    med += [fmt(s[metric + "_ratio"][m]["median"], ".3f") for m in others]
    lines.append(" | ".join(med))
    mins = [fmt(s[metric + "_ratio"][m]["min"], ".3f") for m in others]
    lines.append(" | ".join(["min ratio", *([""] * len(modes)), *mins]))
    return lines


def render(summary: dict, modes: Sequence[str], labels: Mapping[str, str]) -> str:
    """The tables per user class (``labels``: class -> locustfile name), then one verdict line per mode."""
    others = [m for m in modes if m != PLAIN]
    lines: list[str] = []
    for cls, s in summary.items():
        lines += ["", f"{cls} ({labels.get(cls, cls)}): requests/s in the steady seconds"]
        lines += _table(s, modes, "rps", ".0f")
        lines += ["", f"{cls}: requests per CPU second of the Locust process, same seconds"]
        lines += _table(s, modes, "per_cpu_s", ".0f")
        shares = [
            f"{m} {statistics.median(v):.2f}"
            for m in modes
            if (v := [t["cpu_share"][m] for t in s["rounds"] if t["cpu_share"].get(m)])
        ]
        lines.append("median CPU share of the Locust process (1.00 = one full core): " + ", ".join(shares))
    lines.append("")
    for cls, s in summary.items():
        for m in others:
            r, c = s["rps_ratio"][m], s["per_cpu_s_ratio"][m]
            if r["median"] is None:
                lines.append(f"{cls}: {m}/plain: no data")
                continue
            per_cpu = (
                "" if c["median"] is None else f"; per CPU second {c['median']:.3f} (min {c['min']:.3f})"
            )
            if m == CONTROL:
                lines.append(
                    f"{cls}: {m}/plain median {r['median']:.3f} (min {r['min']:.3f}, max {r['max']:.3f}, "
                    f"n={r['n']}): the noise of this run, plain Locust against itself{per_cpu}"
                )
                continue
            goal = GOALS.get(m, 1.0)
            status = "meets" if r["median"] >= goal else "MISSES"
            lines.append(
                f"{cls}: {m}/plain median {r['median']:.3f} (min {r['min']:.3f}, n={r['n']}) "
                f"(goal >= {goal}): {status} the goal{per_cpu}"
            )
    return "\n".join(lines)


def _cell(r: dict) -> str:
    if r["median"] is None:
        return "no data"
    return f"**{r['median']:.3f}** ({r['min']:.3f}-{r['max']:.3f})"


def markdown_summary(summary: dict, modes: Sequence[str], opts: argparse.Namespace, machine: dict) -> str:
    """The table docs/benchmarks.md shows: per user class and mode, the median of the pairs' ratios
    to plain Locust for requests/s and for requests per CPU second, with their range and the goal."""
    how = "sequential rounds" if getattr(opts, "sequential", False) else "simultaneous pinned pairs"
    lines = [
        f"{opts.rounds} {how} per class and mode, {opts.duration} s each, -u {opts.users}; "
        f"{machine.get('locust', 'locust ?')}, Python {machine.get('python', '?')}, load average "
        f"{machine.get('loadavg_start', (0.0,))[0]:.2f} at the start",
        "",
        "| user class | mode | requests/s ratio | per CPU second ratio | pairs | goal |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for cls, s in summary.items():
        for m in (m for m in modes if m != PLAIN):
            r, c = s["rps_ratio"][m], s["per_cpu_s_ratio"][m]
            goal = "noise" if m == CONTROL else f">= {GOALS.get(m, 1.0)}"
            lines.append(f"| {cls} | {m} | {_cell(r)} | {_cell(c)} | {r['n']} | {goal} |")
    return "\n".join(lines)
