"""Out of file descriptors: no traceback storm, one log line per condition
(rate-limited), the modem keeps answering, and ``serve --count 50`` under
``ulimit -n 64`` exits with one line and a non-zero code."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from serial_helpers import HOST, Emulator, free_port


def _limit_fds(n: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))


def test_a_fleet_beyond_the_fd_limit_is_one_line_and_a_failure(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sim800emu", "serve", "--count", "50",
         "--link", str(tmp_path / "modem"), "--state-dir", str(tmp_path / "state")],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        preexec_fn=lambda: _limit_fds(64),
    )
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("sim800emu: error: cannot start modem "), lines[0]
    assert "open-files limit is 64" in lines[0] and "50 modems" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("modem*")), "the links of the modems opened are removed"


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_cipserver_under_load_with_no_fds_left_logs_one_line() -> None:
    port = free_port()
    with Emulator() as emu:
        emu.listen(port)
        pid = emu.proc.pid
        # room for two accepted connections, then accept() fails with EMFILE
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (_open_fds(pid) + 2, hard))
        clients: list[socket.socket] = []
        stop = threading.Event()

        def flood() -> None:
            while not stop.is_set():
                try:
                    sock = socket.create_connection((HOST, port), timeout=1)
                except OSError:
                    time.sleep(0.01)  # the backlog is full: try again shortly
                    continue
                clients.append(sock)

        thread = threading.Thread(target=flood, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while "out of system resource" not in emu.stderr_tail():
                assert time.monotonic() < deadline, emu.stderr_tail()
                time.sleep(0.05)  # polling the emulator's stderr file
            # the storm goes on for a few seconds; the modem keeps answering
            for _ in range(10):
                emu.drain()
                emu.command("AT", timeout=2)
                time.sleep(0.2)  # spread the checks over the storm
        finally:
            stop.set()
            thread.join(5)
        errors = emu.stderr_tail(1_000_000)
        assert "Traceback" not in errors, errors[:3000]
        reports = [line for line in errors.splitlines() if "out of system resource" in line]
        assert len(reports) == 1, errors[:3000]
        assert "Too many open files" in reports[0] and f"{HOST}:{port}" in reports[0]
        assert len(errors.splitlines()) <= 3, errors[:3000]
        # descriptors freed: the server accepts again (asyncio retries each second)
        for sock in clients:
            sock.close()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        emu.drain()
        late = socket.create_connection((HOST, port), timeout=5)
        try:
            emu.expect(b"REMOTE IP: 127.0.0.1\r\n", timeout=10)
        finally:
            late.close()
        emu.command("AT")
