"""Where the live page listens: Locust's web UI (which serves ``/loadlens``) binds to 127.0.0.1
unless the user binds it wider, by ``--web-host``, ``LOCUST_WEB_HOST`` or a locust.conf.

Real `loadlens run` processes with the web UI on; the listening address is read from the kernel's
socket table (/proc/net/tcp and tcp6), so nothing but 127.0.0.1 is ever connected to.
"""

from __future__ import annotations

import ipaddress
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.support.procs import free_port, wait_http
from tests.support.runs import LOCUSTFILES, child_env, loadlens_cmd
from tests.support.wait import wait_until

LISTEN = "0A"  # the TCP state number of a listening socket in /proc/net/tcp


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on ``port`` (IPv4 and IPv6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if fields[3] != LISTEN or int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word in host (little-endian) order.
            ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(str(ipaddress.ip_address(ordered)))
    return found


def web_ui_addresses(tmp_path: Path, *flags: str, env: dict[str, str] | None = None) -> set[str]:
    """Start `loadlens run` with the web UI (no test started), wait until its live page answers on
    127.0.0.1, and return the addresses the web UI's port listens on; then stop it with Ctrl-C."""
    port = free_port()
    cmd = loadlens_cmd(
        "run", "-f", str(LOCUSTFILES / "basic.py"), "-H", "http://127.0.0.1:9", "--web-port", str(port),
        "--out", str(tmp_path / "out"), *flags,
    )  # fmt: skip
    with open(tmp_path / "run.out", "wb") as out:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=child_env(env), stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_http(f"http://127.0.0.1:{port}/loadlens", proc=proc, timeout_s=60)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/loadlens", timeout=10) as resp:
                assert 'id="loadlens-data"' in resp.read().decode()
            return wait_until(lambda: listening_addresses(port), 10, what=f"a listening socket on {port}")
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


class TestLivePageBinding:
    def test_the_web_ui_listens_on_loopback_by_default(self, tmp_path: Path) -> None:
        """Without any web-host choice the web UI, and with it /loadlens, is reachable from this
        machine only (Locust alone would listen on every interface)."""
        assert web_ui_addresses(tmp_path) == {"127.0.0.1"}

    @pytest.mark.parametrize("how", ["flag", "env", "locust.conf"])
    def test_a_wider_binding_the_user_chose_is_kept(self, tmp_path: Path, how: str) -> None:
        """``--web-host``, ``LOCUST_WEB_HOST`` and a locust.conf ``web-host`` in the working
        directory each bind wider, and loadlens leaves that choice alone."""
        if how == "flag":
            got = web_ui_addresses(tmp_path, "--web-host", "0.0.0.0")
        elif how == "env":
            got = web_ui_addresses(tmp_path, env={"LOCUST_WEB_HOST": "0.0.0.0"})
        else:
            (tmp_path / "locust.conf").write_text("web-host = 0.0.0.0\n")
            got = web_ui_addresses(tmp_path)
        assert got == {"0.0.0.0"}

    def test_help_says_the_default_that_applies(self, tmp_path: Path) -> None:
        """`loadlens run --help` states the 127.0.0.1 default, not Locust's "Defaults to '*'"."""
        proc = subprocess.run(
            loadlens_cmd("run", "--help"),
            cwd=tmp_path,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        text = " ".join(proc.stdout.split())
        assert (
            "--web-host <ip> Host to bind the web interface to. Defaults to 127.0.0.1 under loadlens run"
            in text
        )
