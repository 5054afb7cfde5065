"""Run directories: ``<out>/<scenario>_<UTC timestamp>/`` (contract), created once per run."""

from __future__ import annotations

import re
from pathlib import Path

from runner.errors import UsageError
from runner.timefmt import compact_utc

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def run_dir_name(scenario: str, started_at: float) -> str:
    stamp = compact_utc(started_at)
    return f"{_UNSAFE.sub('-', scenario) or 'run'}_{stamp}"


def create_run_dir(out: Path, scenario: str, started_at: float) -> Path:
    """Create a fresh run directory; a second run in the same second gets a ``-2`` suffix."""
    base = run_dir_name(scenario, started_at)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the output directory {out}: {exc.strerror or exc}") from None
    for n in range(1, 1000):
        path = out / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise UsageError(f"cannot create the run directory {path}: {exc.strerror or exc}") from None
    raise UsageError(f"too many run directories named {base} in {out}")
