"""Soak memory benchmark: plain `locust` and `loadlens run` side by side, RSS growth in MiB per hour.

Both generators run at the same time on the same nginx target with the same locustfile
(``locustfile_soak.py``: FastHttpUser, 300 endpoint names), standalone and as the master of a
distributed run (``--master`` with one ``--worker``). The RSS of the standalone process, or of the
master (and, reported apart, of its worker), is sampled from /proc every ``--sample-s`` seconds.

Time is compressed ``--speed`` times (default 6: an hour of soak in 10 minutes) for everything that
grows with time rather than with requests: Locust's per-second counts and its 5 s history (the
locustfile speeds up Locust's stats clock) and loadlens's 5 s timeline (``[run] interval_s`` =
5/speed). The request rate is real: ``--rps`` requests per wall-clock second per generator, which
at ``--speed`` 6 and the default 390 is the 65 requests/s of a soak over 300 names, per tick.

Growth is the slope of a least-squares line through the RSS samples after the first
``--warmup-min`` minutes of soak time (10), up to the end of the load, in MiB per soak hour.

Run:  .venv/bin/python tests/bench/bench_soak.py [--quick] [--duration S] [--speed N] [--modes ...]
Exit status: 0 when every run completed (whatever the figures), 1 if a run crashed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `tests` importable
    sys.path.insert(1, str(ROOT))
from tests.bench.nginx import nginx_target  # noqa: E402
from tests.support.procs import free_port  # noqa: E402

BIN = Path(sys.executable).parent
LOCUSTFILE = HERE / "locustfile_soak.py"
RPS_PER_USER = 10.0
GENERATORS = ("locust", "loadlens")
TOPOLOGIES = ("standalone", "master")
MIB = 1024 * 1024


def read_rss_bytes(pid: int) -> int | None:
    """Resident set size of ``pid`` from /proc/PID/status (VmRSS), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class RssSampler:
    """Samples one process's RSS every ``every_s`` in a thread until it exits or is stopped."""

    def __init__(self, pid: int, *, every_s: float) -> None:
        self._pid = pid
        self._every_s = every_s
        self._stop = threading.Event()
        self.samples: list[tuple[float, int]] = []  # (monotonic seconds, bytes)
        self._thread = threading.Thread(target=self._loop, name=f"rss-{pid}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            rss = read_rss_bytes(self._pid)
            if rss is None:
                return
            self.samples.append((time.monotonic(), rss))
            self._stop.wait(self._every_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class Measured:
    """One process's RSS over the run, and its growth per soak hour after the warm-up."""

    generator: str
    topology: str
    role: str  # "standalone", "master" or "worker"
    samples_used: int = 0
    rss_start_mib: float | None = None
    rss_end_mib: float | None = None
    growth_mib_per_h: float | None = None
    summary_json_bytes: int | None = None
    exit_code: int | None = None
    notes: list[str] = field(default_factory=list)
    rss_curve: list[tuple[float, float]] = field(default_factory=list)  # (soak minutes, MiB), for --json


def growth(
    samples: list[tuple[float, int]], *, t0: float, fit_from_s: float, fit_to_s: float, speed: float
) -> tuple[int, float | None, float | None, float | None]:
    """(samples used, first RSS MiB, last RSS MiB, slope in MiB per soak hour) over the fit window."""
    used = [(t - t0, rss) for t, rss in samples if fit_from_s <= t - t0 <= fit_to_s]
    if len(used) < 3:
        return len(used), None, None, None
    xs = [t for t, _ in used]
    ys = [rss / MIB for _, rss in used]
    slope = statistics.linear_regression(xs, ys).slope  # MiB per wall-clock second
    return len(used), ys[0], ys[-1], slope * 3600.0 / speed


def _commands(
    generator: str, topology: str, url: str, args: argparse.Namespace, work: Path
) -> list[list[str]]:
    """The measured process's command line first, then its worker's (master topology)."""
    users = max(1, math.ceil(args.rps / RPS_PER_USER))
    load = ["--headless", "-u", str(users), "-r", str(users), "-t", f"{args.duration}s", "-H", url]
    if generator == "locust":
        head = [str(BIN / "locust"), "-f", str(LOCUSTFILE)]
        ours: list[str] = []
    else:
        config = work / "loadlens.toml"
        head = [str(BIN / "loadlens"), "run", "-f", str(LOCUSTFILE)]
        ours = ["--loadlens-config", str(config), "--out", str(work / "out")]
    if topology == "standalone":
        return [[*head, *load, *ours]]
    port = free_port()
    master = [*head, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
              "--expect-workers", "1", *load, *ours]  # fmt: skip
    worker_ours = ours[:2]  # the worker reads the same loadlens.toml and writes no run directory
    worker = [*head, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port), *worker_ours]
    return [master, worker]


def run_pair(
    topology: str, url: str, nginx_pid: int | None, args: argparse.Namespace, tmp: Path
) -> list[Measured]:
    """Plain Locust and loadlens at the same time in one topology; their RSS growth."""
    env = dict(os.environ, SOAK_SPEED=str(args.speed), SOAK_NAMES=str(args.names),
               SOAK_RPS_PER_USER=str(RPS_PER_USER), PYTHONUNBUFFERED="1")  # fmt: skip
    procs: list[tuple[str, str, subprocess.Popen[bytes], RssSampler]] = []
    logs = []
    t0 = time.monotonic()
    for generator in GENERATORS:
        work = tmp / f"{topology}-{generator}"
        work.mkdir(parents=True)
        toml = f"[thresholds]\np95_ms = 1000\n\n[run]\ninterval = {5.0 / args.speed:.6g}\n"
        if nginx_pid is not None and args.process_source:
            toml += f"\n[process]\npid = {nginx_pid}\n"
        (work / "loadlens.toml").write_text(toml)
        for k, argv in enumerate(_commands(generator, topology, url, args, work)):
            role = "worker" if k else topology
            (work / f"{role}.cmd").write_text(" ".join(argv) + "\n")
            log = open(work / f"{role}.log", "wb")  # noqa: SIM115 - closed below
            logs.append(log)
            proc = subprocess.Popen(argv, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
            procs.append((generator, role, proc, RssSampler(proc.pid, every_s=args.sample_s)))
    results = []
    try:
        for generator, role, proc, sampler in procs:
            try:
                code = proc.wait(timeout=args.duration + 180)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            sampler.stop()
            used, first, last, slope = growth(
                sampler.samples, t0=t0, fit_from_s=args.warmup_min * 60.0 / args.speed,
                fit_to_s=args.duration - 1.0, speed=args.speed,
            )  # fmt: skip
            m = Measured(generator, topology, role, used, first, last, slope, exit_code=code)
            m.rss_curve = [
                (round((t - t0) * args.speed / 60.0, 2), round(rss / MIB, 2)) for t, rss in sampler.samples
            ]
            summary = tmp / f"{topology}-{generator}" / "out"
            if generator == "loadlens" and role != "worker":
                found = list(summary.glob("*/summary.json"))
                m.summary_json_bytes = found[0].stat().st_size if found else None
                if not found:
                    m.notes.append("no summary.json")
            if code not in (0, 1):  # 1: a failed criterion or request errors, still a finished run
                m.notes.append(f"exit code {code}")
            results.append(m)
    finally:
        for _g, _r, proc, sampler in procs:
            if proc.poll() is None:
                proc.kill()
            sampler.stop()
        for log in logs:
            log.close()
    return results


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render(results: list[Measured], args: argparse.Namespace) -> str:
    soak_h = args.duration * args.speed / 3600.0
    lines = [
        f"soak memory: {args.names} names, {args.rps:g} requests/s per generator, time x{args.speed:g} "
        f"({args.duration} s = {soak_h:.2f} h of soak), fit after {args.warmup_min:g} soak minutes",
        "",
        "| topology | process | generator | RSS at fit start MiB | RSS at end MiB | growth MiB/h | summary.json |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for m in results:
        size = "-" if m.summary_json_bytes is None else f"{m.summary_json_bytes / 1e6:.2f} MB"
        note = f" ({'; '.join(m.notes)})" if m.notes else ""
        lines.append(
            f"| {m.topology} | {m.role} | {m.generator}{note} | {_fmt(m.rss_start_mib, '.1f')} | "
            f"{_fmt(m.rss_end_mib, '.1f')} | {_fmt(m.growth_mib_per_h, '.1f')} | {size} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=1200, help="wall-clock seconds of load per pair")
    parser.add_argument("--speed", type=float, default=6.0, help="time compression factor")
    parser.add_argument("--rps", type=float, default=390.0, help="requests/s per generator (wall clock)")
    parser.add_argument("--names", type=int, default=300)
    parser.add_argument("--warmup-min", type=float, default=10.0, help="soak minutes left out of the fit")
    parser.add_argument("--sample-s", type=float, default=2.0)
    parser.add_argument("--modes", default=",".join(TOPOLOGIES), help="standalone,master")
    parser.add_argument("--no-process-source", dest="process_source", action="store_false",
                        help="do not watch nginx with loadlens's process source")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="smoke check: 90 s, x40, 100 requests/s")
    parser.add_argument("--json", type=Path, help="write the figures (and each RSS curve) here too")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory (logs, run dirs)")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.speed, args.rps = 90, 40.0, 100.0
    topologies = [t for t in args.modes.split(",") if t]
    if unknown := set(topologies) - set(TOPOLOGIES):
        parser.error(f"unknown modes {sorted(unknown)}; known: {', '.join(TOPOLOGIES)}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    results: list[Measured] = []
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(nginx_target(tmp / "nginx", free_port()))
        pid_file = tmp / "nginx" / "nginx.pid"
        nginx_pid = int(pid_file.read_text()) if pid_file.exists() else None
        for topology in topologies:
            print(
                f"running {topology}: plain locust and loadlens side by side, {args.duration} s ...",
                flush=True,
            )
            results += run_pair(topology, url, nginx_pid, args, tmp)
    print(render(results, args))
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "results": [asdict(r) for r in results]}, indent=2))  # fmt: skip
    if args.keep:
        print(f"kept {tmp}")
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    crashed = [m for m in results if m.notes]
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
