"""The false-positive rate of `loadlens compare` on real A/A runs.

Runs the same short test N times (tests/locustfiles/paced.py against one local target whose
delays never change, `[run] interval = "1s"`), then compares every pair of runs (older as the
baseline) and prints how many pairs had any figure `regressed`, and how many figures did. A
benchmark, not a test: it takes about N x 8 s. Results: docs/compare.md.

    .venv/bin/python tests/bench/compare_aa.py [--runs 8] [--seconds 6]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from runner.compare.compare import compare_runs  # noqa: E402
from runner.compare.model import Change  # noqa: E402
from runner.reports.load import load_summary  # noqa: E402
from tests.e2e.test_compare import BASE_DELAYS_S, CONFIG, PACED, target_on  # noqa: E402
from tests.support.procs import free_port  # noqa: E402
from tests.support.runs import loadlens_cmd, run, run_dirs  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=6)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="loadlens-aa-"))
    cfg = tmp / "loadlens.toml"
    cfg.write_text(CONFIG)
    out = tmp / "out"
    port = free_port()
    for i in range(args.runs):
        with target_on(port, BASE_DELAYS_S) as target:
            cmd = loadlens_cmd(
                "run", "-f", str(PACED), "-H", target, "--headless", "-u", "10", "-r", "100",
                "-t", f"{args.seconds}s", "--only-summary", "--loadlens-config", str(cfg), "--out", str(out),
            )  # fmt: skip
            proc = run(cmd, cwd=tmp)
        print(f"run {i + 1}/{args.runs}: exit {proc.returncode}", flush=True)
    records = [load_summary(d) for d in run_dirs(out)]
    pairs = figures = pairs_hit = figures_hit = 0
    for a, b in itertools.combinations(records, 2):
        comparison = compare_runs(a, b)
        judged = [r for r in comparison.rows if r.status is not Change.NOT_COMPARABLE]
        pairs += 1
        figures += len(judged)
        pairs_hit += bool(comparison.regressed)
        figures_hit += len(comparison.regressed)
        for row in comparison.regressed:
            print(f"  {a.info.run_id} -> {b.info.run_id}: {row.label} {row.reason}")
    print(f"A/A pairs with any regressed figure: {pairs_hit}/{pairs} ({pairs_hit / pairs:.1%})")
    print(f"A/A figures regressed: {figures_hit}/{figures} ({figures_hit / figures:.2%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
