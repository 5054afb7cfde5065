"""The local-process source against real child processes: one burning CPU, one holding memory, one
idle; and the gevent sampler, which must keep psutil's blocking calls off the hub's thread."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from runner.errors import SourceError, SourceUnavailableError
from runner.judge.server import ServerCriteriaLimits, judge_server
from runner.model import Status
from runner.sources.base import MetricSource
from runner.sources.process import GeventSampler, ProcessSample, ProcessSource
from tests.support.wait import wait_until

MB = 1024 * 1024


def _spawn(code: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait(timeout=10)


@pytest.fixture
def burner() -> Iterator[subprocess.Popen[str]]:
    """A child spinning one core."""
    proc = _spawn("print('ready', flush=True)\nwhile True: pass")
    yield proc
    _stop(proc)


@pytest.fixture
def holder() -> Iterator[subprocess.Popen[str]]:
    """A child holding 200 MB of touched (resident) memory, otherwise asleep."""
    proc = _spawn("import time\nb = b'x' * (200 * 1024 * 1024)\nprint('ready', flush=True)\ntime.sleep(300)")
    yield proc
    _stop(proc)


@pytest.fixture
def sleeper_name(tmp_path: Path) -> Iterator[str]:
    """A sleeping process with a name no other process has (a symlink to sleep(1))."""
    name = f"llsleep{os.getpid() % 100000}"
    link = tmp_path / name
    link.symlink_to("/bin/sleep")
    proc = subprocess.Popen([str(link), "300"])
    wait_until(
        lambda: any(p.info["name"] == name for p in psutil.process_iter(["name"])),
        10,
        what="the renamed sleep to show up",
        interval_s=0.05,
    )
    yield name
    proc.kill()
    proc.wait(timeout=10)


def proc_cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid`` in clock ticks, read from /proc/<pid>/stat (not through psutil)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def sample_over(source: ProcessSource, n: int, gap_s: float = 0.2) -> list[ProcessSample]:
    out = []
    for i in range(n):
        if i:
            time.sleep(gap_s)
        out.append(source.sample_and_record())
    return out


class TestProcessSource:
    def test_is_a_metric_source(self) -> None:
        """ProcessSource satisfies the MetricSource protocol."""
        assert isinstance(ProcessSource(pid=os.getpid()), MetricSource)

    @pytest.mark.serial  # a CPU figure: the child must get its core
    def test_cpu_of_a_busy_child_is_per_process_percent(self, burner: subprocess.Popen[str]) -> None:
        """A spinning child's CPU percent is its CPU seconds over wall seconds * 100 (100 = one core),
        as /proc tells independently; the first sample has none."""
        source = ProcessSource(pid=burner.pid)
        ticks_before, mono_before = proc_cpu_ticks(burner.pid), time.monotonic()
        samples = [source.sample_and_record()]
        time.sleep(1.0)
        samples.append(source.sample_and_record())
        ticks_after, mono_after = proc_cpu_ticks(burner.pid), time.monotonic()
        expected = (ticks_after - ticks_before) / os.sysconf("SC_CLK_TCK") / (mono_after - mono_before) * 100
        assert samples[0].cpu_percent is None
        assert samples[1].cpu_percent == pytest.approx(expected, abs=10)
        assert samples[1].cpu_percent > 5  # busy: even on a crowded machine it gets some CPU
        result = source.fetch(samples[0].t, samples[-1].t)
        cpu = result.find(metric="cpu_percent")[0]
        assert cpu.resource == f"pid:{burner.pid}" and cpu.unit == "Percent"
        # each CPU point is stamped with the start of the interval it measures
        assert [t for t, _ in cpu.points] == [s.t for s in samples[:-1]]

    def test_idle_child_uses_little_cpu(self, holder: subprocess.Popen[str]) -> None:
        """A sleeping child reads near zero CPU."""
        samples = sample_over(ProcessSource(pid=holder.pid), 3)
        assert max(s.cpu_percent or 0 for s in samples[1:]) < 20

    def test_memory_is_rss_and_percent_of_total_ram(self, holder: subprocess.Popen[str]) -> None:
        """A child holding 200 MB reports at least that RSS, and memory percent = RSS / total RAM * 100."""
        source = ProcessSource(pid=holder.pid)
        sample = source.sample_and_record()
        assert sample.rss_bytes >= 200 * MB
        assert sample.memory_percent == pytest.approx(sample.rss_bytes / psutil.virtual_memory().total * 100)
        result = source.fetch(sample.t, sample.t)
        assert result.find(metric="rss_bytes")[0].points == ((sample.t, float(sample.rss_bytes)),)

    def test_busy_child_fails_a_tight_cpu_limit(self, burner: subprocess.Popen[str]) -> None:
        """Judged against a 5 % limit the spinning child fails 'server process CPU', whose criterion
        says 100 = one core."""
        source = ProcessSource(pid=burner.pid, interval_s=0.2)
        samples = sample_over(source, 4)
        start, end = samples[0].t, samples[-1].t
        rows = {
            r.name: r
            for r in judge_server(
                source.fetch(start, end),
                window_start=start,
                window_end=end,
                limits=ServerCriteriaLimits(process_cpu_percent=5, process_memory_percent=90),
            )
        }
        assert rows["server process CPU"].status is Status.FAIL
        assert rows["server process CPU"].criterion == "max of 0.2s samples <= 5 % (100 = one core)"
        assert rows["server process memory"].status is Status.PASS

    def test_a_process_is_found_by_its_exact_name(self, sleeper_name: str) -> None:
        """A process is found by its exact name and reported under it."""
        source = ProcessSource(name=sleeper_name)
        sample = source.sample_and_record()
        assert psutil.Process(sample.pid).name() == sleeper_name
        assert source.fetch(sample.t, sample.t).series[0].resource == f"process:{sleeper_name}"

    def test_unknown_name_is_unavailable(self) -> None:
        """A name no process has is a one-line SourceUnavailableError naming it."""
        with pytest.raises(SourceUnavailableError, match="no process named 'no-such-process-x' is running"):
            ProcessSource(name="no-such-process-x").sample()

    def test_ambiguous_name_asks_for_the_pid(self, sleeper_name: str, tmp_path: Path) -> None:
        """Two processes with the same name are an error listing their pids."""
        second = subprocess.Popen([str(tmp_path / sleeper_name), "300"])
        try:
            wait_until(
                lambda: sum(p.info["name"] == sleeper_name for p in psutil.process_iter(["name"])) >= 2,
                10,
                what="two processes with the same name",
                interval_s=0.05,
            )
            with pytest.raises(
                SourceError, match=f"several processes are named '{sleeper_name}'.*give the pid"
            ):
                ProcessSource(name=sleeper_name).sample()
        finally:
            second.kill()
            second.wait(timeout=10)

    def test_exited_process_is_reported_missing_with_the_reason(self, holder: subprocess.Popen[str]) -> None:
        """After the process exits, sampling raises and fetch reports every metric missing, saying it
        exited."""
        source = ProcessSource(pid=holder.pid)
        _stop(holder)
        with pytest.raises(SourceUnavailableError, match=f"process {holder.pid} has exited"):
            source.sample()
        result = source.fetch(time.time() - 10, time.time())
        assert result.series == ()
        assert {m.metric for m in result.missing} == {"cpu_percent", "memory_percent", "rss_bytes"}
        assert all(m.reason.endswith(f"process {holder.pid} has exited") for m in result.missing)
        rows = judge_server(result, window_start=time.time() - 10, window_end=time.time())
        assert {r.status for r in rows} == {Status.INCONCLUSIVE}

    def test_history_is_bounded(self) -> None:
        """At most `history` entries are kept: when full, neighbours merge in pairs and the period
        doubles, so the oldest samples are coarsened, not forgotten."""
        source = ProcessSource(pid=os.getpid(), history=3, interval_s=0.5)
        samples = [source.sample_and_record() for _ in range(6)]
        mem = source.fetch(0, time.time() + 1).find(metric="memory_percent")[0]
        assert [t for t, _ in mem.points] == [samples[0].t, samples[2].t, samples[4].t]
        assert mem.period_s == 1.0 and source.period_s == 1.0

    def test_a_two_hour_soak_is_judged_whole_in_bounded_memory(self) -> None:
        """Two hours of one-second samples (a compressed clock: samples recorded, not waited for) with
        CPU at 150 % in the first 20 minutes: the history merges neighbours into longer periods
        instead of forgetting the first hour, so the run FAILs on its start, and says so."""
        source = ProcessSource(pid=os.getpid(), interval_s=1.0)
        t0 = 1_700_000_000.0
        mem = 1.0
        for i in range(7200):
            t = t0 + i
            cpu = None if i == 0 else (150.0 if i <= 1200 else 20.0)
            source.record(ProcessSample(t, None if i == 0 else t - 1, cpu, 100 * MB, mem, os.getpid()))
        result = source.fetch(t0, t0 + 7200)
        cpu_series = result.find(metric="cpu_percent")[0]
        assert len(cpu_series.points) <= 3600 and cpu_series.period_s == 2.0
        assert cpu_series.points[0][0] == t0
        assert any("merged" in note for note in result.notes)
        rows = {r.name: r for r in judge_server(result, window_start=t0, window_end=t0 + 7200)}
        assert rows["server process CPU"].status is Status.FAIL
        assert rows["server process CPU"].observed == pytest.approx(150)

    def test_needs_exactly_one_of_pid_and_name(self) -> None:
        """Giving both or neither of pid and name is a one-line error."""
        with pytest.raises(SourceError, match="exactly one of pid or name"):
            ProcessSource()
        with pytest.raises(SourceError, match="exactly one of pid or name"):
            ProcessSource(pid=1, name="x")


class TestGeventSampler:
    def test_samples_in_a_real_thread_while_the_hub_keeps_running(
        self, burner: subprocess.Popen[str]
    ) -> None:
        """Samples run in an OS thread other than the hub's: a blocking sample does not stop other
        greenlets."""
        import gevent

        source = ProcessSource(pid=burner.pid, interval_s=0.05)
        real_sample = source.sample
        hub_thread = threading.get_ident()
        sample_threads: list[int] = []
        in_sample = threading.Event()
        ticks_during_sample = 0

        def blocking_sample() -> ProcessSample:
            sample_threads.append(threading.get_ident())
            in_sample.set()
            time.sleep(0.2)  # stands for a slow blocking C call
            in_sample.clear()
            return real_sample()

        def ticker() -> None:
            nonlocal ticks_during_sample
            while True:
                if in_sample.is_set():
                    ticks_during_sample += 1
                gevent.sleep(0.01)

        source.sample = blocking_sample  # type: ignore[method-assign]
        sampler = GeventSampler(source)
        tick = gevent.spawn(ticker)
        sampler.start()
        try:
            for _ in range(400):  # bounded: a broken sampler fails here instead of hanging
                if source.fetch(0, time.time() + 1).find(metric="cpu_percent"):
                    break
                gevent.sleep(0.05)
        finally:
            sampler.stop()
            tick.kill()
        assert not sampler.running
        assert sample_threads and hub_thread not in sample_threads
        assert ticks_during_sample > 0
        cpu = source.fetch(0, time.time() + 1).find(metric="cpu_percent")[0]
        assert cpu.points[0][1] > 0

    def test_a_failing_sample_is_kept_as_the_reason_and_sampling_goes_on(self) -> None:
        """A process that is not there yet is the last error; the sampler keeps trying and stops cleanly."""
        import gevent

        source = ProcessSource(name="no-such-process-y", interval_s=0.01)
        sampler = GeventSampler(source)
        sampler.start()
        try:
            for _ in range(400):
                if source.last_error:
                    break
                gevent.sleep(0.01)
            assert sampler.running
        finally:
            sampler.stop()
        assert source.last_error == "no process named 'no-such-process-y' is running"
        (miss, *_) = source.fetch(0, time.time()).missing
        assert miss.reason.endswith("no process named 'no-such-process-y' is running")
