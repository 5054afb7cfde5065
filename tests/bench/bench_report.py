"""Benchmark: how long report.html takes to build, and how big it is (a benchmark, not a test).

    .venv/bin/python tests/bench/bench_report.py [--hours 24] [--endpoints 200] [--rounds 5]
    .venv/bin/python tests/bench/bench_report.py --browser   # also time opening it in Chromium

A synthetic run record (tests/support/big_run.py: a 720-interval timeline, ``--endpoints``
endpoints with their histograms, a 1 s process CPU series and 60 s ECS CPU/memory over
``--hours``) goes through the same path a run's end takes: the page's document (downsampling
included), the page, and the atomic write. It prints the median and the slowest of ``--rounds``
builds, the page's size and its share taken by the data, and, with ``--browser``, the time from
navigation to the page's last chart in a real headless Chromium with the network blocked.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--browser", action="store_true")
    args = parser.parse_args()

    from runner.reports.html import json_for_script, write_html_report
    from runner.reports.html.data import page_data
    from tests.support.big_run import big_record

    began = time.perf_counter()
    record = big_record(hours=args.hours, endpoints=args.endpoints)
    points = sum(len(s.points) for s in record.server)
    print(
        f"record: {args.hours:g} h, {args.endpoints} endpoints, {len(record.timeline)} intervals,"
        f" {points:,} server points (built in {time.perf_counter() - began:.2f} s)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        times = []
        for _ in range(args.rounds):
            began = time.perf_counter()
            path = write_html_report(record, Path(tmp))
            times.append(time.perf_counter() - began)
        size = path.stat().st_size
        data = len(json_for_script(page_data([record])).encode())
        print(
            f"build + write: median {statistics.median(times) * 1000:.0f} ms, slowest {max(times) * 1000:.0f} ms"
        )
        print(f"report.html: {size / 1024:.0f} KiB, of which data {data / 1024:.0f} KiB ({data / size:.0%})")
        if args.browser:
            from tests.support.browser import BLOCK_ALL, chromium

            with chromium(Path(tmp)) as page:
                opened = []
                for _ in range(3):
                    page.events.clear()
                    began = time.perf_counter()
                    page.open(path.as_uri(), block=BLOCK_ALL)
                    page.wait_for("document.body.dataset.rendered === '1'")
                    opened.append(time.perf_counter() - began)
                    page.evaluate("document.body.removeAttribute('data-rendered'), 1")
                print(f"open in Chromium: median of 3 {statistics.median(opened) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
