"""`loadlens verdict RUN_DIR`: judge a finished run again from its summary.json.

Client criteria are recomputed exactly from the stored histograms against the thresholds now in
force (the config the run used, unless another is named), so a team can tighten a threshold and
re-gate an old run; the run directory's summary, verdict.md and junit.xml are rewritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from runner.config import load_config
from runner.criteria import judge_client
from runner.reports import write_reports
from runner.reports.console import render_table
from runner.reports.load import load_summary
from runner.verdict import decide


def rejudge(run_dir: Path, *, config_file: str | None, env: Mapping[str, str], out: TextIO) -> int:
    record = load_summary(run_dir)
    directory = run_dir if run_dir.is_dir() else run_dir.parent
    path = Path(config_file) if config_file else None
    if path is None and record.config_path and Path(record.config_path).exists():
        path = Path(record.config_path)
    cfg = load_config(path, env=env)
    window = "steady state" if record.window_kind == "steady_state" else "whole run"
    client = judge_client(record.judged, cfg.thresholds, window=window)
    kept = [r for r in record.verdict.results if r.scope != "client"]
    notes = [n for n in record.verdict.notes if not n.startswith("re-judged")]
    notes.append(f"re-judged by `loadlens verdict` with {path or 'the default thresholds'}")
    verdict = decide([*client, *kept], interrupted=record.interrupted, notes=notes)
    record = replace(record, verdict=verdict, config_path=str(path) if path else None)
    write_reports(record, directory, env=env)
    color = out.isatty() and "NO_COLOR" not in env
    out.write(render_table(verdict, color=color).rstrip("\n") + f"\nrun directory: {directory}\n")
    return verdict.exit_code
