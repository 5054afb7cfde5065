"""The `loadlens run` command line the end-to-end tests repeat, built once.

A test says what differs (the locustfile, the users, the config, a flag) and reads the outcome:
exit code, output, the run directory and its summary. Runs are real subprocesses on 127.0.0.1
(tests/support/runs.py), bounded by a timeout.
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.runs import (
    LOCUSTFILES,
    child_env,
    criteria,
    loadlens_cmd,
    only_run_dir,
    run,
    run_dirs,
    summary,
)
from tests.support.wait import wait_until

BASIC = LOCUSTFILES / "basic.py"
CONFIG_NAME = "loadlens.toml"


@dataclass(frozen=True)
class Finished:
    """A finished `loadlens` process and the run directory it wrote under ``out``."""

    returncode: int
    stdout: str
    stderr: str
    out: Path

    @property
    def run_dir(self) -> Path:
        """The one run directory under ``out`` (fails the test when there is none or several)."""
        return only_run_dir(self.out)

    @property
    def summary(self) -> dict[str, Any]:
        """The run's summary.json, parsed."""
        return summary(self.run_dir)

    @property
    def criteria(self) -> dict[str, dict[str, Any]]:
        """The summary's criteria rows by name."""
        return criteria(self.summary)

    def tail(self, chars: int = 3000) -> str:
        """The end of stdout and stderr, for an assertion's message."""
        return self.stdout[-chars:] + self.stderr[-chars:]


@dataclass(frozen=True)
class LoadlensRun:
    """One `loadlens run` command line, run from ``workdir``.

    ``config`` is the text of a loadlens.toml written into ``workdir`` (none when None); the run
    directory goes to ``workdir/out_name``. ``None`` leaves -u/-r/-t out (a preset or a shape decides).
    """

    workdir: Path
    host: str | None
    locustfile: Path | str = BASIC
    config: str | None = None
    users: int | None = 8
    spawn_rate: int | None = 20
    run_time: str | None = "4s"
    headless: bool = True
    only_summary: bool = False
    out_name: str = "out"
    flags: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def out(self) -> Path:
        return self.workdir / self.out_name

    @property
    def config_path(self) -> Path:
        return self.workdir / CONFIG_NAME

    def but(self, *flags: str, **changes: Any) -> LoadlensRun:
        """A copy with ``changes`` applied and ``flags`` added after the current ones."""
        return dataclasses.replace(self, **changes, flags=(*changes.get("flags", self.flags), *flags))

    def argv(self) -> list[str]:
        args = ["run", "-f", str(self.locustfile)]
        if self.host is not None:
            args += ["-H", self.host]
        if self.headless:
            args.append("--headless")
        for flag, value in (("-u", self.users), ("-r", self.spawn_rate), ("-t", self.run_time)):
            if value is not None:
                args += [flag, str(value)]
        if self.only_summary:
            args.append("--only-summary")
        if self.config is not None:
            args += ["--loadlens-config", str(self.config_path)]
        args += ["--out", str(self.out), *self.flags]
        return loadlens_cmd(*args)

    def _write_config(self) -> None:
        if self.config is not None:
            self.config_path.write_text(self.config)

    def run(self, *, timeout_s: float = 120) -> Finished:
        """Run to the end (or fail the test after ``timeout_s``)."""
        self._write_config()
        proc = run(self.argv(), cwd=self.workdir, env=self.env, timeout_s=timeout_s)
        return Finished(proc.returncode, proc.stdout, proc.stderr, self.out)

    def start(self, *, quiet: bool = False, log_dir: Path | None = None) -> subprocess.Popen[str]:
        """Start in the background; output is piped, dropped when ``quiet``, or written to
        ``log_dir``/stdout.txt and stderr.txt (for a run that lingers while nobody reads a pipe)."""
        self._write_config()
        if log_dir is not None:
            with open(log_dir / "stdout.txt", "w") as out, open(log_dir / "stderr.txt", "w") as err:
                return self._popen(out, err)
        sink = subprocess.DEVNULL if quiet else subprocess.PIPE
        return self._popen(sink, sink)

    def finish_lingering(
        self, proc: subprocess.Popen[str], *, log_dir: Path, timeout_s: float = 120
    ) -> Finished:
        """A run started with ``start(log_dir=...)``, finished without waiting out the exporters' linger
        (15 s by default): once summary.json is written the verdict and exit code are settled, and a
        Ctrl-C then ends only the linger (runner.locust.lifecycle), so the default linger stays in
        force while a test that has what it needs does not wait for it."""
        end_linger(proc, self.out, timeout_s=timeout_s)
        stdout, stderr = ((log_dir / name).read_text() for name in ("stdout.txt", "stderr.txt"))
        return Finished(proc.returncode, stdout, stderr, self.out)

    def start_worker(self, master_port: int, *flags: str) -> subprocess.Popen[str]:
        """A worker for this run's master at 127.0.0.1:``master_port``: the same locustfile, config,
        directory and environment, plus ``flags``; its output is dropped."""
        self._write_config()
        config = ("--loadlens-config", str(self.config_path)) if self.config is not None else ()
        argv = loadlens_cmd(
            "run", "-f", str(self.locustfile), "--worker", "--master-host", "127.0.0.1",
            "--master-port", str(master_port), *config, *flags,
        )  # fmt: skip
        return subprocess.Popen(
            argv,
            cwd=self.workdir,
            env=child_env(self.env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _popen(self, stdout: Any, stderr: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(), cwd=self.workdir, env=child_env(self.env), stdout=stdout, stderr=stderr, text=True
        )


def loadlens_verdict(
    run_dir: Path,
    *,
    cwd: Path,
    config: Path | None = None,
    flags: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`loadlens verdict RUN_DIR [--loadlens-config CONFIG] [flags]`, run to the end."""
    extra = ("--loadlens-config", str(config)) if config is not None else ()
    return run(loadlens_cmd("verdict", str(run_dir), *extra, *flags), cwd=cwd, env=env)


def started_run_dir(out: Path, *, timeout_s: float = 60) -> Path:
    """The run directory under ``out`` once Locust has written its first stats history row
    (users are running)."""

    def started() -> Path | None:
        dirs = run_dirs(out)
        return dirs[0] if dirs and (dirs[0] / "locust_stats_history.csv").exists() else None

    return wait_until(started, timeout_s, what=f"a running run directory under {out}")


def end_linger(proc: subprocess.Popen[Any], out: Path, *, timeout_s: float = 120) -> int:
    """Wait for the run under ``out`` to write summary.json, then Ctrl-C the process until it is
    gone and return its exit code (the verdict's, settled before the linger). Once the end of the run
    has begun a Ctrl-C only cuts waits short, never the writing (runner.locust.lifecycle); a web-UI
    run writes its summary before it quits, so its first Ctrl-C quits it and a later one cuts the
    linger."""
    wait_until(lambda: list(out.glob("*/summary.json")), timeout_s, what="the run's summary.json")

    def gone() -> bool:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        return proc.poll() is not None

    wait_until(gone, 60, what="the run's process to exit after Ctrl-C", interval_s=1.0)
    return proc.wait()
