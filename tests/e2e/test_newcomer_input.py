"""The mistakes a newcomer makes first: a broken locustfile, a host without a scheme, a run refused
before any load. Each is exit 2 and one line, before any request, and leaves no run directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import UsageError
from runner.locust.startup import check_host, discard_unstarted
from tests.support.procs import free_port, taken_port
from tests.support.refused import assert_one_line_exit_2
from tests.support.runs import LOCUSTFILES, loadlens_cmd, run

BASIC = str(LOCUSTFILES / "basic.py")

BROKEN = {
    "syntax": ("from locust import HttpUser, task\n\nclass U(HttpUser)\n    @task\n    def t(self):\n        pass\n",
               "broken.py:3: SyntaxError: expected ':'"),
    "import": ("from locust import HttpUser\nimport no_such_module_for_loadlens\n",
               "broken.py:2: ModuleNotFoundError: No module named 'no_such_module_for_loadlens'"),
    "exception": ("from locust import HttpUser\n\nSETTINGS = {}\nTOKEN = SETTINGS['token']\n",
                  "broken.py:4: KeyError: 'token'"),
}  # fmt: skip


def _loadlens_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("loadlens: ")]


class TestBrokenLocustfile:
    @pytest.mark.parametrize("case", sorted(BROKEN))
    def test_one_line_with_file_and_line_and_exit_2(self, tmp_path: Path, case: str) -> None:
        """`locustfile.py:12: SyntaxError: expected ':'`, no traceback, no run directory."""
        text, expected = BROKEN[case]
        (tmp_path / "broken.py").write_text(text)
        out = tmp_path / "results"
        proc = run(
            loadlens_cmd("run", "-f", "broken.py", "-H", "http://127.0.0.1:9", "--headless", "-t", "2s",
                         "--out", str(out)),
            cwd=tmp_path,
            timeout_s=60,
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
        assert _loadlens_lines(proc.stderr) == [f"loadlens: {expected}"], proc.stderr
        assert not any(out.iterdir()) if out.exists() else True

    def test_debug_shows_the_traceback(self, tmp_path: Path) -> None:
        (tmp_path / "broken.py").write_text(BROKEN["import"][0])
        proc = run(
            loadlens_cmd(
                "run", "-f", "broken.py", "-H", "http://127.0.0.1:9", "--headless", "-t", "2s", "--debug"
            ),
            cwd=tmp_path,
            timeout_s=60,
        )
        assert proc.returncode != 0
        assert "Traceback" in proc.stderr and "no_such_module_for_loadlens" in proc.stderr


class TestHost:
    @pytest.mark.parametrize(
        ("host", "needle"),
        [
            ("127.0.0.1:8080", "no scheme: expected a URL such as http://127.0.0.1:8080"),
            ("ftp://127.0.0.1/x", "unsupported scheme 'ftp'"),
            ("http://127.0.0.1:70000", "Port out of range"),
            ("http://", "no host name"),
        ],
    )
    def test_a_bad_host_flag_is_refused_before_any_load(self, tmp_path: Path, host: str, needle: str) -> None:
        """HttpUser with a host it cannot use: one line, exit 2, no run directory, no request."""
        out = tmp_path / "results"
        proc = run(
            loadlens_cmd(
                "run", "-f", BASIC, "-H", host, "--headless", "-u", "1", "-t", "3s", "--out", str(out)
            ),
            cwd=tmp_path,
            timeout_s=60,
        )
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
        lines = _loadlens_lines(proc.stderr)
        assert len(lines) == 1 and lines[0].startswith(f"loadlens: -H/--host {host}: ") and needle in lines[0]
        assert not out.exists() or not any(out.iterdir())

    def test_the_config_host_is_checked_too(self, tmp_path: Path) -> None:
        (tmp_path / "loadlens.toml").write_text('[run]\nhost = "localhost:8080"\n')
        proc = run(
            loadlens_cmd("run", "-f", BASIC, "--headless", "-u", "1", "-t", "3s"), cwd=tmp_path, timeout_s=60
        )
        assert proc.returncode == 2
        config = tmp_path / "loadlens.toml"
        assert _loadlens_lines(proc.stderr) == [
            f"loadlens: {config}: [run] host localhost:8080: no scheme: expected a URL such as http://localhost:8080"
        ]
        assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())

    def test_the_variable_host_is_named_as_the_variable(self, tmp_path: Path) -> None:
        proc = run(
            loadlens_cmd("run", "-f", BASIC, "--headless", "-u", "1", "-t", "3s"),
            cwd=tmp_path,
            env={"LOADLENS_RUN_HOST": "localhost:8080"},
            timeout_s=60,
        )
        assert proc.returncode == 2
        assert _loadlens_lines(proc.stderr) == [
            "loadlens: LOADLENS_RUN_HOST localhost:8080: no scheme: expected a URL such as http://localhost:8080"
        ]

    def test_the_flag_over_the_config_host_is_named_as_the_flag(self, tmp_path: Path) -> None:
        """-H given beside a [run] host: the flag's value is the one used, and named as the flag."""
        (tmp_path / "loadlens.toml").write_text('[run]\nhost = "http://127.0.0.1:9"\n')
        proc = run(
            loadlens_cmd("run", "-f", BASIC, "-H", "127.0.0.1:9", "--headless", "-u", "1", "-t", "3s"),
            cwd=tmp_path,
            timeout_s=60,
        )
        assert proc.returncode == 2
        assert _loadlens_lines(proc.stderr) == [
            "loadlens: -H/--host 127.0.0.1:9: no scheme: expected a URL such as http://127.0.0.1:9"
        ]

    def test_a_user_class_host_is_checked_by_its_own_rules(self, tmp_path: Path) -> None:
        """An HttpUser's own ``host`` attribute (no -H) is checked like the flag."""
        (tmp_path / "own.py").write_text(
            "from locust import HttpUser, task\n\nclass Api(HttpUser):\n    host = 'ftp://127.0.0.1'\n\n"
            "    @task\n    def t(self):\n        self.client.get('/')\n"
        )
        proc = run(
            loadlens_cmd("run", "-f", "own.py", "--headless", "-u", "1", "-t", "3s"),
            cwd=tmp_path,
            timeout_s=60,
        )
        assert proc.returncode == 2
        assert _loadlens_lines(proc.stderr) == [
            "loadlens: Api.host ftp://127.0.0.1: unsupported scheme 'ftp': expected http:// or https://"
        ]

    @pytest.mark.parametrize("host", ["https://staging.example.com", "http://127.0.0.1:8080/base"])
    def test_http_hosts_are_accepted(self, host: str) -> None:
        check_host(host, where="-H")

    @pytest.mark.parametrize("host", ["ftp.example.com", "127.0.0.1", "kafka-1:9092", "ws://127.0.0.1:9000"])
    def test_users_that_are_not_http_keep_their_own_hosts(self, host: str) -> None:
        """locust-plugins' FTP user connects to a bare host name; a Kafka user to host:port."""
        check_host(host, where="-H", http=False)

    def test_a_port_out_of_range_is_refused_for_any_user(self) -> None:
        with pytest.raises(UsageError, match="Port out of range"):
            check_host("ws://127.0.0.1:99999", where="-H", http=False)

    def test_port_zero_is_refused(self) -> None:
        with pytest.raises(UsageError, match="port 0"):
            check_host("http://127.0.0.1:0", where="-H")


class TestRefusedBeforeLoad:
    def test_a_port_in_use_leaves_no_run_directory(self, tmp_path: Path) -> None:
        """The exporter cannot bind: one loadlens line, exit 2, and no directory of empty CSVs."""
        with taken_port() as port:
            out = tmp_path / "results"
            proc = run(
                loadlens_cmd("run", "-f", BASIC, "-H", "http://127.0.0.1:9", "--headless", "-u", "1", "-t", "3s",
                             "--prometheus-port", str(port), "--out", str(out)),
                cwd=tmp_path,
                timeout_s=60,
            )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert _loadlens_lines(proc.stderr) == [
            f"loadlens: cannot serve /metrics on 127.0.0.1:{port}: address already in use"
        ], proc.stderr
        assert list(out.iterdir()) == [] if out.exists() else True

    def test_only_empty_locust_outputs_are_discarded(self, tmp_path: Path) -> None:
        """A directory with any data in it, or a file loadlens did not expect, is kept."""
        empty = tmp_path / "empty"
        empty.mkdir()
        for name in (
            "locust_stats.csv",
            "locust_failures.csv",
            "locust_exceptions.csv",
            "locust_stats_history.csv",
        ):
            (empty / name).write_text("")
        assert discard_unstarted(empty) and not empty.exists()
        data = tmp_path / "data"
        data.mkdir()
        (data / "locust_stats.csv").write_text("Type,Name\n")
        assert not discard_unstarted(data) and (data / "locust_stats.csv").exists()
        other = tmp_path / "other"
        other.mkdir()
        (other / "notes.txt").write_text("")
        assert not discard_unstarted(other) and other.exists()


class TestWebUiPort:
    def test_a_web_port_in_use_is_one_line_before_any_load(self, tmp_path: Path) -> None:
        """No --headless and --web-port taken: one line, exit 2, no traceback, no run directory."""
        with taken_port() as port:
            out = tmp_path / "results"
            proc = run(
                loadlens_cmd("run", "-f", BASIC, "-H", "http://127.0.0.1:9", "--web-host", "127.0.0.1",
                             "--web-port", str(port), "--out", str(out)),
                cwd=tmp_path,
                timeout_s=60,
            )  # fmt: skip
        assert_one_line_exit_2(proc, f"--web-port {port}: address already in use")
        assert not out.exists()

    def test_a_privileged_web_port_says_so(self, tmp_path: Path) -> None:
        """Port 80 without the right to bind it. The tests run as root here, who may bind it: the
        check then runs as the unprivileged user ``nobody`` (setpriv, system Python), which may not."""
        import os
        import shutil

        check = "from runner.locust.startup import check_web_port\ncheck_web_port('127.0.0.1', 80)\n"
        if os.geteuid() != 0:
            proc = run(loadlens_cmd("run", "-f", BASIC, "-H", "http://127.0.0.1:9", "--web-host", "127.0.0.1",
                                    "--web-port", "80", "--out", str(tmp_path / "results")),
                       cwd=tmp_path, timeout_s=60)  # fmt: skip
            assert_one_line_exit_2(proc, "--web-port 80: permission denied")
            assert not (tmp_path / "results").exists()
            return
        setpriv = shutil.which("setpriv")
        # Never skipped: util-linux's setpriv and the system Python are part of the image CI runs on.
        assert setpriv is not None, "setpriv (util-linux) is needed to drop root's privileges"
        assert Path("/usr/bin/python3").exists(), "the system Python is needed to run as nobody"
        proc = run(
            [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", check],
            cwd=Path("/"),
        )
        assert "UsageError: --web-port 80: permission denied (ports below 1024 need privileges)" in (
            proc.stderr
        ), proc.stderr

    def test_the_port_is_checked_on_the_host_the_ui_binds(self, tmp_path: Path) -> None:
        """Under `loadlens run` the web UI binds 127.0.0.1 by default: the same port taken on another
        loopback address (127.0.0.2) does not refuse the run, which then runs and is judged."""
        with taken_port("127.0.0.2") as port:
            out = tmp_path / "results"
            proc = run(
                loadlens_cmd("run", "-f", BASIC, "-H", "http://127.0.0.1:9", "--web-port", str(port), "--autostart",
                             "--autoquit", "0", "-u", "1", "-t", "2s", "--out", str(out)),
                cwd=tmp_path,
                timeout_s=90,
            )  # fmt: skip
        assert proc.returncode == 1, proc.stderr[-2000:]  # every request refused: FAIL, judged
        assert len(list(out.iterdir())) == 1

    def test_headless_runs_do_not_check_the_web_port(self, tmp_path: Path) -> None:
        """--headless opens no web UI: a taken --web-port does not matter."""
        with taken_port() as port:
            proc = run(
                loadlens_cmd("run", "-f", BASIC, "-H", "http://127.0.0.1:9", "--headless", "-u", "1", "-t", "1s",
                             "--web-port", str(port), "--out", str(tmp_path / "results")),
                cwd=tmp_path,
                timeout_s=60,
            )  # fmt: skip
        assert proc.returncode == 1, proc.stderr[-2000:]  # every request refused: FAIL, judged


class TestHandledInput:
    @pytest.mark.parametrize("pid", ["-1", "0"])
    def test_a_process_pid_below_1_is_one_line(self, tmp_path: Path, pid: str) -> None:
        proc = run(
            loadlens_cmd("run", "-f", BASIC, "-H", "http://127.0.0.1:9", "--headless", "-u", "1", "-t", "1s",
                         "--process-pid", pid, "--out", str(tmp_path / "results")),
            cwd=tmp_path,
            timeout_s=60,
        )  # fmt: skip
        assert_one_line_exit_2(proc, f"--process-pid: expected an integer >= 1, got {pid}")
        assert not (tmp_path / "results").exists()

    def test_version(self, tmp_path: Path) -> None:
        """Locust's version read from its metadata: importing it here would patch this process."""
        import importlib.metadata

        from runner import __version__

        proc = run(loadlens_cmd("--version"), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        locust_version = importlib.metadata.version("locust")
        assert proc.stdout.strip() == f"loadlens {__version__} (locust {locust_version})"

    def test_a_bad_prometheus_bind_host_is_refused_before_any_load(self, tmp_path: Path) -> None:
        out = tmp_path / "results"
        proc = run(
            loadlens_cmd("run", "-f", BASIC, "-H", "http://127.0.0.1:9", "--headless", "-u", "1", "-t", "3s",
                         "--prometheus-port", str(free_port()), "--prometheus-bind", "no-such-host.invalid", "--out", str(out)),
            cwd=tmp_path,
            timeout_s=60,
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        lines = _loadlens_lines(proc.stderr)
        assert len(lines) == 1 and "cannot serve /metrics on no-such-host.invalid" in lines[0], proc.stderr
        assert not out.exists() or not any(out.iterdir())


class TestConfigFileIsADirectory:
    def test_a_directory_given_as_the_config_says_so(self, tmp_path: Path) -> None:
        (tmp_path / "conf").mkdir()
        proc = run(
            loadlens_cmd("run", "-f", BASIC, "-H", "http://127.0.0.1:9", "--headless", "-t", "1s",
                         "--loadlens-config", "conf"),
            cwd=tmp_path,
            timeout_s=60,
        )  # fmt: skip
        assert proc.returncode == 2
        assert _loadlens_lines(proc.stderr) == [
            "loadlens: conf: is a directory, not a config file: name the loadlens.toml in it"
        ]
