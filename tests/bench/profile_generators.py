"""Profile plain `locust` and `loadlens run` (lean and --no-lean) under the same load, with cProfile.

Each mode runs once per user class, one at a time, headless against the same local nginx, under
``python -m cProfile``. The profiler slows every call alike, so absolute figures are inflated; what
this shows is where the time per request goes, as microseconds of profiled time per request:

- the request hooks: Locust's own listener (``RequestStats.log_request`` inside it), loadlens's
  listener, the lean listener that replaces both, and ``StatsStore.record`` (cumulative time);
- the profiled time grouped by where the code lives: loadlens (runner/, exporters/), Locust's
  statistics (locust/stats.py), the rest of Locust, the HTTP clients and gevent, the rest;
- the top functions by own time.

Call counts are exact whatever the machine's load; times are as noisy as the machine.

Run:  .venv/bin/python tests/bench/profile_generators.py [--duration 10] [--classes fast,http]
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `tests` importable
    sys.path.insert(1, str(ROOT))
from tests.bench.nginx import nginx_target  # noqa: E402
from tests.support.procs import free_port  # noqa: E402

BIN = Path(sys.executable).parent
CLASSES = {"fast": HERE / "locustfile_fast.py", "http": HERE / "locustfile_http.py"}
# `python -m cProfile` saves nothing when the program ends with os._exit, as `loadlens run` does
# (runner.commands.run.exit_now) once its files are written; atexit handlers still run, so the
# profile is saved from one, the same way for both programs.
PROFILED = """
import atexit, cProfile, runpy, sys
out, script = sys.argv[1], sys.argv[2]
prof = cProfile.Profile()
def _save():
    prof.disable()
    prof.dump_stats(out)
atexit.register(_save)
sys.argv = sys.argv[2:]
prof.enable()
runpy.run_path(script, run_name="__main__")
"""
MODES = ("locust", "loadlens --no-lean", "loadlens (lean)")
HOOKS = (
    ("locust/runners.py", "on_request", "Locust's listener"),
    ("locust/stats.py", "log_request", "  RequestStats.log_request"),
    ("runner/locust/lean.py", "__call__", "loadlens listener (lean or not)"),
    ("runner/stats/store.py", "record", "  StatsStore.record"),
    ("locust/event.py", "fire", "EventHook.fire (all events)"),
)
GROUPS = (
    ("loadlens", ("/runner/", "/exporters/")),
    ("locust stats", ("locust/stats.py",)),
    ("locust (other)", ("/locust/",)),
    ("HTTP clients", ("geventhttpclient", "/urllib3/", "/requests/", "http/client.py")),
    ("gevent", ("/gevent/",)),
)


def group_of(filename: str) -> str:
    for name, needles in GROUPS:
        if any(n in filename for n in needles):
            return name
    return "other"


def profile_one(mode: str, locustfile: Path, host: str, d: Path, duration_s: int, users: int) -> dict:
    """Run one mode under cProfile; its requests and the profile's figures per request."""
    d.mkdir(parents=True)
    prof = d / "profile.out"
    args = ["-f", str(locustfile), "--headless", "-u", str(users), "-r", str(users), "-t", f"{duration_s}s"]
    args += ["-H", host, "--json-file", str(d / "stats")]
    profiled = [sys.executable, "-c", PROFILED, str(prof)]
    if mode == "locust":
        cmd = [*profiled, str(BIN / "locust"), *args]
    else:
        (d / "loadlens.toml").write_text("[thresholds]\np95_ms = 1000\n")
        cmd = [*profiled, str(BIN / "loadlens"), "run", *args]
        cmd += ["--loadlens-config", str(d / "loadlens.toml"), "--out", str(d / "out"), "--only-summary"]
        if "--no-lean" in mode:
            cmd.append("--no-lean")
    env = dict(os.environ)
    env.pop("LOADLENS_CONFIG", None)
    with open(d / "stdout.log", "wb") as out, open(d / "stderr.log", "wb") as err:
        subprocess.run(cmd, cwd=d, env=env, stdout=out, stderr=err, timeout=duration_s + 120, check=False)
    entries = json.loads((d / "stats.json").read_text())
    requests = sum(e["num_requests"] for e in entries)
    stats = pstats.Stats(str(prof))
    raw: dict = stats.stats  # type: ignore[attr-defined]  # {(file, line, func): (cc, nc, tt, ct, callers)}
    groups: dict[str, float] = {}
    hooks: dict[str, tuple[int, float]] = {}
    top: list[tuple[float, int, str]] = []
    total = 0.0
    for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in raw.items():
        total += tottime
        g = group_of(filename)
        groups[g] = groups.get(g, 0.0) + tottime
        for path, name, label in HOOKS:
            if filename.endswith(path) and func == name:
                n0, c0 = hooks.get(label, (0, 0.0))
                hooks[label] = (n0 + ncalls, c0 + cumtime)
        top.append((tottime, ncalls, f"{Path(filename).parent.name}/{Path(filename).name}:{line} {func}"))
    top.sort(reverse=True)
    per = 1e6 / requests if requests else 0.0
    return {
        "mode": mode,
        "requests": requests,
        "profiled_us_per_request": total * per,
        "groups_us": {g: t * per for g, t in sorted(groups.items(), key=lambda kv: -kv[1])},
        "hooks": {
            label: {"calls": n, "cumulative_us_per_request": c * per} for label, (n, c) in hooks.items()
        },
        "top": [{"function": f, "calls": n, "own_us_per_request": t * per} for t, n, f in top[:15]],
    }


def render(cls: str, results: Sequence[dict]) -> str:
    lines = [f"\n## {cls}: microseconds of profiled time per request", ""]
    head = "| | " + " | ".join(r["mode"] for r in results) + " |"
    lines += [head, "| --- |" + " ---: |" * len(results)]
    lines.append("| requests | " + " | ".join(f"{r['requests']:,}" for r in results) + " |")
    lines.append(
        "| all profiled time | " + " | ".join(f"{r['profiled_us_per_request']:.1f}" for r in results) + " |"
    )
    for g in [name for name, _ in GROUPS] + ["other"]:
        lines.append(f"| {g} | " + " | ".join(f"{r['groups_us'].get(g, 0.0):.1f}" for r in results) + " |")
    for _, _, label in HOOKS:
        cells = []
        for r in results:
            h = r["hooks"].get(label)
            cells.append("-" if h is None else f"{h['cumulative_us_per_request']:.2f} ({h['calls']:,} calls)")
        lines.append(f"| {label.strip()} (cumulative) | " + " | ".join(cells) + " |")
    for r in results:
        lines += ["", f"top own time, {r['mode']}:"]
        lines += [f"  {t['own_us_per_request']:7.2f} us  {t['calls']:>9,}  {t['function']}" for t in r["top"]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    p.add_argument("--users", type=int, default=16, help="-u and -r (default 16)")
    p.add_argument("--classes", default="fast,http", help="comma list of: fast, http (default both)")
    p.add_argument("--json", metavar="OUT", help="write the figures here")
    opts = p.parse_args(argv)
    classes = [c.strip() for c in opts.classes.split(",") if c.strip()]
    out: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="loadlens-profile-") as tmp:
        work = Path(tmp)
        with nginx_target(work / "nginx", free_port()) as host:
            for cls in classes:
                out[cls] = [
                    profile_one(m, CLASSES[cls], host, work / f"{cls}-{i}", opts.duration, opts.users)
                    for i, m in enumerate(MODES)
                ]
                print(render(cls, out[cls]), flush=True)
    if opts.json:
        Path(opts.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
