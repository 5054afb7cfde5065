"""Compare dashboard files with the generator's output, ignoring only Grafana's own defaults.

For a change made in Grafana's editor: export the dashboard (*Share → Export*), run
``python -m dashboards.compare DIR`` with the export in DIR, and carry each difference it prints
into the Python definition. Every panel, query, variable, threshold, mapping, override, link and
annotation is compared; only the keys below, at the value Grafana assumes when they are absent,
are left out, because Grafana's export and the SDK differ in whether they write them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dashboards.generate import render

# key: the value Grafana assumes when the key is absent
GRAFANA_DEFAULTS: Mapping[str, Any] = {
    "transparent": False,  # panel
    "repeatDirection": "h",  # panel
    "percentChangeColorMode": "standard",  # stat
    "frameIndex": 0,  # table
    "showTypeIcons": False,  # table
    "perPage": 20,  # state timeline
    "insertNulls": False,  # time series, state timeline
    "spanNulls": False,  # time series, state timeline
    "calcs": [],  # legend
    "builtIn": 0,  # annotation
    "logGroups": [],  # a CloudWatch Logs field, unused by Metrics queries
    "timepicker": {},  # dashboard
}


def _same(a: Any, b: Any) -> bool:
    """Equal and of one type (so 0 is not False)."""
    return type(a) is type(b) and a == b


def without_defaults(node: Any) -> Any:
    """``node`` without the keys whose value is Grafana's default for them."""
    if isinstance(node, Mapping):
        return {
            k: without_defaults(v)
            for k, v in node.items()
            if not (k in GRAFANA_DEFAULTS and _same(v, GRAFANA_DEFAULTS[k]))
        }
    if isinstance(node, list):
        return [without_defaults(v) for v in node]
    return node


def _short(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)[:200]


def _diff(a: Any, b: Any, path: str) -> Iterator[str]:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(set(a) | set(b)):
            where = f"{path}/{key}"
            if key not in b:
                yield f"{where}: only in the first: {_short(a[key])}"
            elif key not in a:
                yield f"{where}: only in the second: {_short(b[key])}"
            else:
                yield from _diff(a[key], b[key], where)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield f"{path}: {len(a)} items, then {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            label = x.get("title") or x.get("name") or x.get("refId") if isinstance(x, Mapping) else None
            yield from _diff(x, y, f"{path}[{i}{' ' + repr(label) if label else ''}]")
    elif not _same(a, b):
        yield f"{path}: {_short(a)} -> {_short(b)}"


def differences(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[str]:
    """Every difference between two dashboards but Grafana's defaults, one line each."""
    return list(_diff(without_defaults(first), without_defaults(second), ""))


def compare_folder(folder: Path) -> dict[str, list[str]]:
    """For each generated dashboard, its differences from the file of that name in ``folder``."""
    out = {}
    for name, text in render().items():
        path = folder / name
        if not path.exists():
            out[name] = ["no such file"]
            continue
        out[name] = differences(json.loads(path.read_text(encoding="utf-8")), json.loads(text))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.compare", description=__doc__)
    parser.add_argument("folder", type=Path, help="a folder of dashboard files named as in dashboards/")
    args = parser.parse_args(argv)
    found = 0
    for name, lines in compare_folder(args.folder).items():
        print(f"{name}: {len(lines)} difference(s)")
        for line in lines:
            print(f"  {line}")
        found += len(lines)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
