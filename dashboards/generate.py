"""Write the dashboards in this folder from their Python definition (``make dashboards``), or check
that the committed files are what it writes (``--check``, exit 1 when not).

The JSON files are what users import and what ``loadlens grafana push`` sends; they are this
program's output, kept in the layout Grafana exports (keys sorted, 2-space indent, final newline).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dashboards.live import live, live_cloudwatch
from dashboards.runs import runs

HERE = Path(__file__).resolve().parent
DASHBOARDS: Mapping[str, Callable[[], dict[str, Any]]] = {
    "loadlens-live.json": live,
    "loadlens-live-cw.json": live_cloudwatch,
    "loadlens-runs.json": runs,
}


def text(doc: Mapping[str, Any]) -> str:
    """The one layout of a dashboard file."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render() -> dict[str, str]:
    """Every dashboard file's name and text, made in memory."""
    return {name: text(make()) for name, make in DASHBOARDS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs")
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into (default: %(default)s)")
    args = parser.parse_args(argv)
    stale = []
    for name, content in render().items():
        path = args.out / name
        if path.exists() and path.read_text(encoding="utf-8") == content:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(content, encoding="utf-8")
    verb = "differ from the generator (run: make dashboards)" if args.check else "written"
    for name in stale:
        print(f"{name}: {verb}", file=sys.stderr if args.check else sys.stdout)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
