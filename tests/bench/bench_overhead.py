"""Overhead benchmark: plain `locust` versus `loadlens run` on the same local nginx.

Each measured run is a separate process, headless, with the same Locust arguments
(``-u 16 -r 16 -t 15s`` by default) and ``--json-file``. Requests per second come from the per-second
request counts Locust writes there, over the whole seconds after the ramp-up and before the last
(partial) second: the same rule for every mode, and independent of when ``-t`` really stopped.

Modes:
  locust           plain Locust
  loadlens         `loadlens run` with a loadlens.toml (p95 threshold) and --out: stats, verdict, reports
  loadlens+export  the same plus --prometheus-port (scraped every 1 s) and --otlp-endpoint (every 5 s)

By default every measurement is a simultaneous pair: plain Locust and one loadlens mode start at the
same moment, each pinned to its own core with taskset (cores swapped every pair), so both see the same
machine; each pair's ratio is loadlens / plain Locust, for requests/s and for requests per CPU second.
Sequential runs (``--sequential``: the modes back to back in alternating order) cannot resolve a few
per cent on a shared machine (about +-15 % per pair here). Only same-pair ratios mean anything,
never absolute figures across runs.

Run:  .venv/bin/python tests/bench/bench_overhead.py [--quick] [--rounds N] [--duration S] ...
Exit status: 0 when every run completed (whatever the ratios), 1 if a run crashed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:  # run as a script (`make bench`): make `tests` importable
    sys.path.insert(1, str(ROOT))
from tests.bench.measure import (  # noqa: E402
    ALL_MODES,
    CONTROL,
    EXPORT_MODES,
    GOALS,
    MODES,
    NO_LEAN_MODES,
    PLAIN,
    RunResult,
    Steady,
    steady_window,
    whole_rps,
)
from tests.bench.nginx import nginx_target  # noqa: E402
from tests.bench.peers import OtlpSink, Scraper  # noqa: E402
from tests.bench.proc_cpu import CpuSampler  # noqa: E402
from tests.bench.report import fmt, markdown_summary, render, summarise  # noqa: E402
from tests.support.procs import free_port  # noqa: E402

BIN = Path(sys.executable).parent
CLASSES = {"fast": HERE / "locustfile_fast.py", "http": HERE / "locustfile_http.py"}
OTLP_INTERVAL_MS = 5000
LOADLENS_TOML = "[thresholds]\np95_ms = 1000\n"
# The exporter keeps /metrics up for a while after the run by default; nothing scrapes it then
# here, and 15 s of idle wall time per run would only lengthen the benchmark.
EXPORT_TOML = LOADLENS_TOML + '\n[exporters.prometheus]\nlinger = "0s"\n'


def export_available() -> tuple[bool, str]:
    """Whether `loadlens run` takes --prometheus-port and --otlp-endpoint yet (the lead wires them)."""
    wanted = ("--prometheus-port", "--otlp-endpoint")
    try:
        helptext = subprocess.run(
            [str(BIN / "loadlens"), "run", "--help"], capture_output=True, text=True, timeout=60
        ).stdout
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                "from runner.config.options import pre_parser;"
                "print(' '.join(o for a in pre_parser()._actions for o in a.option_strings))",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"could not ask loadlens for its options: {exc}"
    known = set(helptext.split()) | set(probe.split())
    missing = [w for w in wanted if w not in known and not any(k.startswith(w) for k in known)]
    if missing:
        return False, f"`loadlens run` has no {', '.join(missing)} yet"
    return True, ""


class Bench:
    """Runs one measured Locust process at a time against ``host``; ``sink`` for the export mode."""

    def __init__(self, opts: argparse.Namespace, work: Path, host: str, sink: OtlpSink | None) -> None:
        self.opts = opts
        self.work = work
        self.host = host
        self.sink = sink
        (work / "loadlens.toml").write_text(LOADLENS_TOML)
        (work / "loadlens-export.toml").write_text(EXPORT_TOML)

    def locust_args(self, locustfile: Path, json_base: Path) -> list[str]:
        """Locust's own arguments: identical in every mode."""
        o = self.opts
        return [
            "-f", str(locustfile), "--headless",
            "-u", str(o.users), "-r", str(o.users), "-t", f"{o.duration}s",
            "-H", self.host, "--json-file", str(json_base),
        ]  # fmt: skip

    def command(self, mode: str, args: list[str], d: Path) -> tuple[list[str], dict[str, str], int | None]:
        """The command line, environment and Prometheus port (or None) of one run of ``mode``."""
        env = dict(os.environ)
        env.pop("LOADLENS_CONFIG", None)
        if mode in (PLAIN, CONTROL):
            return [str(BIN / "locust"), *args], env, None
        toml = "loadlens-export.toml" if mode in EXPORT_MODES else "loadlens.toml"
        cmd = [str(BIN / "loadlens"), "run", *args]
        cmd += ["--loadlens-config", str(self.work / toml), "--out", str(d / "out")]
        if mode in NO_LEAN_MODES:
            cmd.append("--no-lean")
        if mode not in EXPORT_MODES:
            return cmd, env, None
        assert self.sink is not None
        prom_port = free_port()
        cmd += ["--prometheus-port", str(prom_port), "--otlp-endpoint", self.sink.url]
        env["OTEL_METRIC_EXPORT_INTERVAL"] = str(OTLP_INTERVAL_MS)
        return cmd, env, prom_port

    def run_one(self, user_class: str, rnd: int, position: int, mode: str) -> RunResult:
        return self.start(user_class, rnd, position, mode).finish()

    def start(
        self, user_class: str, rnd: int, position: int, mode: str, *, core: int | None = None
    ) -> Running:
        """Start one measured run (pinned to ``core`` with taskset when given); ``finish`` waits."""
        d = self.work / f"{user_class}-r{rnd}-{position}-{mode.replace('+', '-')}"
        d.mkdir()
        json_base = d / "stats"
        cmd, env, prom_port = self.command(mode, self.locust_args(CLASSES[user_class], json_base), d)
        if core is not None:
            cmd = ["taskset", "-c", str(core), *cmd]  # taskset execs the command: same pid
        (d / "command.txt").write_text(" ".join(cmd) + "\n")
        return Running(self, user_class, rnd, position, mode, d, json_base, cmd, env, prom_port, core)


class Running:
    """One measured run in flight: its process, CPU sampler and (export mode) scraper."""

    def __init__(
        self,
        bench: Bench,
        user_class: str,
        rnd: int,
        position: int,
        mode: str,
        d: Path,
        json_base: Path,
        cmd: list[str],
        env: dict[str, str],
        prom_port: int | None,
        core: int | None,
    ) -> None:
        self.bench, self.user_class, self.rnd, self.position, self.mode = (
            bench,
            user_class,
            rnd,
            position,
            mode,
        )
        self.d, self.json_base, self.cmd, self.core = d, json_base, cmd, core
        self.sink = bench.sink
        self.posts_before = self.sink.posts if self.sink is not None else 0
        self.timeout_s = bench.opts.duration + 90
        self.started = time.monotonic()
        self.stack = contextlib.ExitStack()
        out = self.stack.enter_context(open(d / "stdout.log", "wb"))  # noqa: SIM115 (closed by finish)
        err = self.stack.enter_context(open(d / "stderr.log", "wb"))  # noqa: SIM115 (closed by finish)
        self.proc = subprocess.Popen(cmd, cwd=d, env=env, stdout=out, stderr=err)
        self.cpu = self.stack.enter_context(
            CpuSampler(self.proc.pid, every_s=0.1, max_samples=int(self.timeout_s * 10) + 10)
        )
        self.scraper = None
        if prom_port is not None:
            url = f"http://127.0.0.1:{prom_port}/metrics"
            self.scraper = self.stack.enter_context(
                Scraper(url, every_s=1.0, max_scrapes=int(self.timeout_s))
            )

    def finish(self) -> RunResult:
        notes: list[str] = []
        with self.stack:
            try:
                code: int | None = self.proc.wait(
                    timeout=max(1.0, self.timeout_s - (time.monotonic() - self.started))
                )
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                code = None
                notes.append(f"killed after {self.timeout_s}s")
        wall_s = time.monotonic() - self.started
        d, cmd, cpu, scraper = self.d, self.cmd, self.cpu, self.scraper
        stats_file = Path(f"{self.json_base}.json")
        entries: list[dict] = []
        if stats_file.exists():
            try:
                entries = json.loads(stats_file.read_text())
            except ValueError as exc:
                notes.append(f"unreadable stats JSON: {exc}")
        else:
            notes.append("no stats JSON written")
        steady = steady_window(entries)
        cpu_s, cpu_requests, cpu_window_s = cpu_in_window(cpu, steady)
        crashed = code not in (0, 1, 3) or steady is None
        if code in (1, 3):
            notes.append(f"exit code {code} (failures or a verdict other than pass)")
        if "--loadlens-config" in cmd and not any((d / "out").glob("*/summary.json")):
            notes.append("loadlens wrote no summary.json")
            crashed = True
        if self.core is not None:
            notes.append(f"core {self.core}")
        result = RunResult(
            user_class=self.user_class,
            round=self.rnd,
            position=self.position,
            mode=self.mode,
            rps=steady.rps if steady else None,
            steady_s=steady.seconds if steady else 0,
            steady_requests=steady.requests if steady else 0,
            cpu_s=None if cpu_s is None else round(cpu_s, 3),
            cpu_window_s=cpu_window_s,
            per_cpu_s=cpu_requests / cpu_s if cpu_s else None,
            total_requests=sum(e.get("num_requests", 0) for e in entries),
            failures=sum(e.get("num_failures", 0) for e in entries),
            whole_rps=whole_rps(entries),
            exit_code=code,
            wall_s=round(wall_s, 2),
            crashed=crashed,
            notes=notes,
        )
        if scraper is not None and self.sink is not None:
            result.scrapes_ok, result.scrapes_failed = scraper.ok, scraper.failed
            result.otlp_posts = self.sink.posts - self.posts_before
            if scraper.durations_s:
                result.scrape_ms_median = round(statistics.median(scraper.durations_s) * 1000, 2)
        return result


def run_pairs(bench: Bench, cls: str, modes: Sequence[str], pairs: int) -> list[RunResult]:
    """Simultaneous pinned pairs: for each mode other than plain Locust, ``pairs`` times, plain Locust
    and that mode start together, each pinned to its own core (swapped every pair, so neither owns
    the faster core); a pair is one "round" and its ratio compares two runs that saw the same
    machine at the same moment. Returns every run's result."""
    results: list[RunResult] = []
    cores = (0, 1) if (os.cpu_count() or 1) >= 2 else (None, None)
    rnd = 0
    for k in range(pairs):
        for other in (m for m in modes if m != PLAIN):
            rnd += 1
            a, b = cores if k % 2 == 0 else cores[::-1]
            both = [bench.start(cls, rnd, 0, PLAIN, core=a), bench.start(cls, rnd, 1, other, core=b)]
            for running in both:
                r = running.finish()
                results.append(r)
                print(progress_line(r), flush=True)
    return results


def cpu_in_window(cpu: CpuSampler, steady: Steady | None) -> tuple[float | None, int, int]:
    """(CPU seconds, requests, seconds) over the steady seconds, or all but the last of them.

    A process can exit within a fraction of a second after its last request, before the sampler
    reads it again; then the CPU time at the window's end is unknown and the window for this
    ratio ends one second earlier (requests and CPU always over the same seconds).
    """
    if steady is None:
        return None, 0, 0
    for end in (steady.end, steady.end - 1):
        if end > steady.start and (cpu_s := cpu.between(steady.start, end)) is not None:
            return cpu_s, steady.requests_between(steady.start, end), end - steady.start
    return None, 0, 0


def progress_line(r: RunResult) -> str:
    share = r.cpu_share
    line = (
        f"  {r.user_class} round {r.round} {r.mode:<16} {fmt(r.rps):>6} req/s over {r.steady_s}s, "
        f"{fmt(r.per_cpu_s):>6} req/CPU-s, CPU share {fmt(share, '.2f')} "
        f"(whole run {fmt(r.whole_rps)} req/s, {r.failures} failures, exit {r.exit_code}"
    )
    if r.scrapes_ok is not None:
        line += f", {r.scrapes_ok} scrapes ok/{r.scrapes_failed} failed"
        line += f" (median {fmt(r.scrape_ms_median, '.1f')} ms), {r.otlp_posts} OTLP posts"
    line += ")"
    if r.notes:
        line += f"  [{'; '.join(r.notes)}]"
    return line + ("  CRASHED" if r.crashed else "")


def round_order(modes: Sequence[str], rnd: int) -> list[str]:
    """A B C in even rounds, C B A in odd ones: each mode sees every neighbour and position."""
    return list(modes) if rnd % 2 == 0 else list(reversed(modes))


def machine() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    locust_version = (
        subprocess.run([str(BIN / "locust"), "--version"], capture_output=True, text=True, timeout=60)
        .stdout.split(" from ")[0]
        .strip()
    )  # "locust 2.47.0 from /path ..." -> "locust 2.47.0"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "locust": locust_version,
        "kernel": platform.release(),
        "loadavg_start": os.getloadavg(),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--rounds",
        type=int,
        default=6,
        help="pairs (or rounds with --sequential) per user class and mode (default 6)",
    )
    p.add_argument(
        "--sequential",
        action="store_true",
        help="one run at a time in alternating order, instead of simultaneous pinned pairs (the default)",
    )
    p.add_argument("--duration", type=int, default=15, help="seconds per run, Locust's -t (default 15)")
    p.add_argument("--users", type=int, default=16, help="-u and -r (default 16)")
    p.add_argument("--classes", default="fast,http", help="comma list of: fast, http (default both)")
    p.add_argument(
        "--modes",
        default=",".join(MODES),
        help=f"comma list of: {', '.join(ALL_MODES)} (default: all but {CONTROL}, which reruns plain Locust "
        "to show the noise)",
    )
    p.add_argument("--quick", action="store_true", help="smoke check: 2 rounds of 8 s")
    p.add_argument("--json", metavar="OUT", help="write machine-readable results here")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, run dirs)")
    opts = p.parse_args(argv)
    if opts.quick:
        opts.rounds, opts.duration = 2, 8
    opts.classes = [c.strip() for c in opts.classes.split(",") if c.strip()]
    opts.modes = [m.strip() for m in opts.modes.split(",") if m.strip()]
    bad = [c for c in opts.classes if c not in CLASSES] + [m for m in opts.modes if m not in ALL_MODES]
    if bad:
        p.error(f"unknown class or mode: {', '.join(bad)}")
    if PLAIN not in opts.modes:
        p.error("the modes must include 'locust': every ratio is to plain Locust")
    if opts.rounds < 1 or opts.duration < 4 or opts.users < 1:
        p.error("need --rounds >= 1, --duration >= 4 and --users >= 1")
    return opts


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    modes: list[str] = opts.modes
    if EXPORT_MODES & set(modes):
        ok, why = export_available()
        if not ok:
            print(f"modes {', '.join(sorted(EXPORT_MODES))} unavailable, skipped: {why}", flush=True)
            modes = [m for m in modes if m not in EXPORT_MODES]
    info = machine()
    print(
        f"machine: {info['nproc']} cpus, {info['cpu']}, Python {info['python']}, {info['locust']}, "
        f"load average {info['loadavg_start'][0]:.2f}",
        flush=True,
    )
    runs = len(opts.classes) * opts.rounds * (len(modes) if opts.sequential else 2 * (len(modes) - 1))
    print(
        f"{runs} runs of {opts.duration}s, -u {opts.users} -r {opts.users}, modes {', '.join(modes)}, "
        + ("one at a time" if opts.sequential else "in simultaneous pairs pinned to cores 0 and 1"),
        flush=True,
    )
    work = Path(tempfile.mkdtemp(prefix="loadlens-bench-"))
    results: list[RunResult] = []
    started = time.monotonic()
    try:
        with nginx_target(work / "nginx", free_port()) as host, OtlpSink(free_port()) as sink:
            bench = Bench(opts, work, host, sink if EXPORT_MODES & set(modes) else None)
            for cls in opts.classes:
                if not opts.sequential:
                    results += run_pairs(bench, cls, modes, opts.rounds)
                    continue
                for rnd in range(1, opts.rounds + 1):
                    for pos, mode in enumerate(round_order(modes, rnd - 1)):
                        r = bench.run_one(cls, rnd, pos, mode)
                        results.append(r)
                        print(progress_line(r), flush=True)
    finally:
        if opts.keep or any(r.crashed for r in results):
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    info["loadavg_end"] = os.getloadavg()
    summary = summarise(results, opts.classes, modes)
    print(render(summary, modes, {c: p.name for c, p in CLASSES.items()}))
    print("\nFor docs/benchmarks.md (medians of pairs; min-max in brackets):\n")
    print(markdown_summary(summary, modes, opts, info))
    print(f"\ntotal {time.monotonic() - started:.0f}s, load average now {info['loadavg_end'][0]:.2f}")
    if opts.json:
        Path(opts.json).write_text(
            json.dumps(
                {
                    "machine": info,
                    "options": {k: v for k, v in vars(opts).items() if k != "json"},
                    "modes": modes,
                    "goals": GOALS,
                    "runs": [asdict(r) for r in results],
                    "summary": summary,
                },
                indent=2,
            )
        )
    crashed = [r for r in results if r.crashed]
    for r in crashed:
        print(f"CRASHED: {r.user_class} round {r.round} {r.mode}: exit {r.exit_code} {'; '.join(r.notes)}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
