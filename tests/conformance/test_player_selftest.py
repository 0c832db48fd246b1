"""Self-test of the transcript player, without the emulator.

A tiny fake modem runs in a thread on a real pty (raw) and answers a few
commands; real loopback sockets serve as its "network".  Inline transcripts
(written to files so that failures name a real file:line) must pass or fail
as the language says, and failures must carry file:line and both byte
strings.  This proves the runner can fail.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim800emu.transcript.language import load
from sim800emu.transcript.player import Player, TranscriptFailure
from sim800emu.transports.pty import make_raw

_CIPSTART = re.compile(rb'AT\+CIPSTART="TCP","127\.0\.0\.1","?(\d+)"?')
_CIPSEND = re.compile(rb"AT\+CIPSEND=(\d+)")


class FakeModem:
    """A few AT commands on the master side of a pty.

    * ``ATE0``: ``ATE0\\r\\r\\nOK\\r\\n`` (echo on at start), then echo off
    * ``AT``: ``\\r\\nOK\\r\\n``
    * ``AT+CIPSTART="TCP","127.0.0.1",<port>``: connects a real socket, then
      ``\\r\\nOK\\r\\n\\r\\nCONNECT OK\\r\\n``
    * ``AT+CIPSEND=<n>``: ``\\r\\n> ``, then n raw bytes go to the socket,
      then ``\\r\\nSEND OK\\r\\n``
    * ``AT+CIPCLOSE``: closes the socket, ``\\r\\nCLOSE OK\\r\\n``
    * ``AT+LATE``: ``\\r\\nLATE\\r\\n`` after 0.2 s
    * ``AT+PART``: ``\\r\\nPAR`` (no line end)
    * anything else: ``\\r\\nERROR\\r\\n``
    * socket data is written raw to the pty; an orderly close of the socket
      by the peer prints ``\\r\\nCLOSED\\r\\n``, a reset ``\\r\\nRESET\\r\\n``.
    """

    def __init__(self) -> None:
        self._master, self.fd = os.openpty()
        make_raw(self.fd)
        os.set_blocking(self.fd, False)
        self._stop_r, self._stop_w = os.pipe()
        self._echo = True
        self._line = bytearray()
        self._payload_left = 0
        self._payload = bytearray()
        self._sock: socket.socket | None = None
        self._timers: list[tuple[float, bytes]] = []
        self.commands: list[bytes] = []
        self._thread = threading.Thread(target=self._run, name="fake-modem", daemon=True)
        self._thread.start()

    def hang_up(self) -> None:
        """Stop and close the master side: the player's end sees EIO."""
        os.write(self._stop_w, b"x")
        self._thread.join(5)

    def close(self) -> None:
        if self._thread.is_alive():
            self.hang_up()
        for fd in (self.fd, self._stop_r, self._stop_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _out(self, data: bytes) -> None:
        os.write(self._master, data)

    def _run(self) -> None:
        try:
            while True:
                readable: list[int | socket.socket] = [self._master, self._stop_r]
                if self._sock is not None:
                    readable.append(self._sock)
                timeout = None
                if self._timers:
                    timeout = max(0.0, min(due for due, _ in self._timers) - time.monotonic())
                ready, _, _ = select.select(readable, [], [], timeout)
                now = time.monotonic()
                for due, data in [t for t in self._timers if t[0] <= now]:
                    self._timers.remove((due, data))
                    self._out(data)
                if self._stop_r in ready:
                    return
                if self._sock is not None and self._sock in ready:
                    self._from_socket()
                if self._master in ready:
                    try:
                        data = os.read(self._master, 4096)
                    except OSError:
                        return
                    for byte in data:
                        self._byte(byte)
        finally:
            if self._sock is not None:
                self._sock.close()
            os.close(self._master)

    def _from_socket(self) -> None:
        assert self._sock is not None
        try:
            data = self._sock.recv(4096)
        except ConnectionResetError:
            data = None
        if data:
            self._out(data)
            return
        self._out(b"\r\nCLOSED\r\n" if data == b"" else b"\r\nRESET\r\n")
        self._sock.close()
        self._sock = None

    def _byte(self, byte: int) -> None:
        if self._payload_left:
            self._payload.append(byte)
            self._payload_left -= 1
            if not self._payload_left:
                assert self._sock is not None
                self._sock.sendall(bytes(self._payload))
                self._payload.clear()
                self._out(b"\r\nSEND OK\r\n")
            return
        if byte == 0x0A:
            return
        if byte != 0x0D:
            self._line.append(byte)
            return
        line = bytes(self._line)
        self._line.clear()
        self.commands.append(line)
        if self._echo:
            self._out(line + b"\r")
        self._command(line)

    def _command(self, line: bytes) -> None:
        if line == b"ATE0":
            self._echo = False
            self._out(b"\r\nOK\r\n")
        elif line == b"AT":
            self._out(b"\r\nOK\r\n")
        elif line == b"AT+LATE":
            self._timers.append((time.monotonic() + 0.2, b"\r\nLATE\r\n"))
        elif line == b"AT+CIPCLOSE" and self._sock is not None:
            self._sock.close()
            self._sock = None
            self._out(b"\r\nCLOSE OK\r\n")
        elif line == b"AT+PART":
            self._out(b"\r\nPAR")
        elif match := _CIPSTART.fullmatch(line):
            self._sock = socket.create_connection(("127.0.0.1", int(match.group(1))), timeout=5)
            self._out(b"\r\nOK\r\n\r\nCONNECT OK\r\n")
        elif (match := _CIPSEND.fullmatch(line)) and self._sock is not None:
            self._payload_left = int(match.group(1))
            self._out(b"\r\n> ")
        else:
            self._out(b"\r\nERROR\r\n")


@pytest.fixture
def modem() -> Iterator[FakeModem]:
    fake = FakeModem()
    try:
        yield fake
    finally:
        fake.close()


class Run:
    def __init__(self, path: Path, failure: TranscriptFailure | None, seconds: float) -> None:
        self.path = path
        self.failure = failure
        self.seconds = seconds

    @property
    def message(self) -> str:
        assert self.failure is not None, "the transcript passed"
        return str(self.failure)


def play(tmp_path: Path, modem: FakeModem, text: str, **options: float) -> Run:
    path = tmp_path / "case.txt"
    path.write_text(text)
    transcript = load(path)
    start = time.monotonic()
    failure: TranscriptFailure | None = None
    with Player(modem.fd, transcript, **options) as player:  # type: ignore[arg-type]
        try:
            player.run()
        except TranscriptFailure as exc:
            failure = exc
    return Run(path, failure, time.monotonic() - start)


def passes(run: Run) -> None:
    assert run.failure is None, f"expected a pass, got:\n{run.failure}"


HEADER = "# timeout: 3\n> ATE0\n<< ATE0\\r\n< OK\n"


# --------------------------------------------------------------------------- passing


def test_full_session_passes(tmp_path: Path, modem: FakeModem) -> None:
    run = play(
        tmp_path,
        modem,
        HEADER
        + "\n".join(
            [
                "> AT",
                "<< \\r\\nOK\\r\\n",
                "<! 0.2",
                "> AT",
                "<> OK\\r\\n",
                "@ echo tcp S",
                '> AT+CIPSTART="TCP","127.0.0.1",{S}',
                "< OK",
                "<~ CONNECT OK|CONNECT",
                "@ S accept",
                "> AT+CIPSEND=5",
                "<< \\r\\n> ",
                ">> he",
                "~ 0.1",
                ">> llo",
                "< SEND OK",
                "@ S expect hel",
                "@ S expect lo",
                "<< hello",
                "@ S send \\x00\\xff\\r\\n",
                "<< \\x00\\xff\\r\\n",
                "> AT+LATE",
                "< LATE",
                "@ S close",
                "<< \\r\\nCLOSED\\r\\n",
                "<! 0.2",
                "",
            ]
        ),
    )
    passes(run)


def test_line_step_skips_any_cr_lf_and_sees_cr_in_line(tmp_path: Path, modem: FakeModem) -> None:
    # With echo on, 'AT' CR then CR LF OK CR LF reads as the line 'AT'+CR, then 'OK'.
    passes(play(tmp_path, modem, "> AT\n<~ AT\\r\n< OK\n> AT\n<< AT\\r\n<> OK\\r\\n\n"))


def test_variables_in_lines(tmp_path: Path, modem: FakeModem) -> None:
    passes(
        play(
            tmp_path,
            modem,
            HEADER + "@ listen tcp S\n"
            '> AT+CIPSTART="TCP","127.0.0.1","{S}"\n< OK\n< CONNECT OK\n@ S accept\n'
            "@ S send port={S}\\r\\n\n<~ port=\\d{4,5}\n",
        )
    )


def test_peers_without_modem(tmp_path: Path, modem: FakeModem) -> None:
    passes(
        play(
            tmp_path,
            modem,
            "\n".join(
                [
                    "@ listen tcp L",
                    "@ connect tcp C {L}",
                    "@ L accept",
                    "@ C accept",
                    "@ C send abc",
                    "@ L expect ab",
                    "@ L expect c",
                    "@ L send xyz",
                    "@ C expect xyz",
                    "@ C close",
                    "@ L close",
                    "@ echo udp E",
                    "@ connect udp D {E}",
                    "@ D send one",
                    "@ D send two",
                    "@ D expect onetwo",
                    "@ E accept",
                    "@ E expect onetwo",
                    "@ listen udp U",
                    "@ connect udp V {U}",
                    "@ V send ping",
                    "@ U expect ping",
                    "@ U send pong",
                    "@ V expect pong",
                    "@ E close",
                    "",
                ]
            ),
        )
    )


def test_connect_retries_while_refused(tmp_path: Path, modem: FakeModem) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    got: list[bytes] = []

    def late_server() -> None:
        # Not listening yet: the player's first attempts are refused.
        time.sleep(0.3)
        with socket.socket() as server:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", port))
            server.listen(1)
            server.settimeout(5)
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"hi")
                got.append(conn.recv(10))

    thread = threading.Thread(target=late_server)
    thread.start()
    run = play(tmp_path, modem, f"@ connect tcp C {port}\n@ C expect hi\n@ C send yo\n@ C close\n")
    thread.join(5)
    passes(run)
    assert got == [b"yo"]
    assert run.seconds >= 0.3


# --------------------------------------------------------------------------- failing


def assert_message(run: Run, line: int, *fragments: bytes | str) -> None:
    message = run.message
    assert f"{run.path}:{line}: " in message, message
    for fragment in fragments:
        text = repr(fragment) if isinstance(fragment, bytes) else fragment
        assert text in message, f"{text!r} not in:\n{message}"


def test_wrong_bytes_in_exact_step_fail_at_once(tmp_path: Path, modem: FakeModem) -> None:
    run = play(tmp_path, modem, HEADER + "> AT\n<< \\r\\nKO\\r\\n\n> AT\n")
    assert_message(
        run,
        6,
        "wrong bytes",
        b"\r\nKO\r\n",
        b"\r\nOK\r\n",
        "step:     << \\r\\nKO\\r\\n",
        "first difference at byte 2",
        "previous steps:",
    )
    assert run.seconds < 2, "a mismatch must fail at once, not at the timeout"
    assert modem.commands == [b"ATE0", b"AT"], "steps after the failure must not run"


def test_wrong_line_fails(tmp_path: Path, modem: FakeModem) -> None:
    run = play(tmp_path, modem, HEADER + "> AT+NOPE\n< OK\n")
    assert_message(run, 6, "wrong line", b"OK", b"ERROR")
    assert run.seconds < 2


def test_regex_mismatch_fails(tmp_path: Path, modem: FakeModem) -> None:
    run = play(tmp_path, modem, HEADER + "> AT\n<~ \\d+\n")
    assert_message(run, 6, "does not match", b"OK")


def test_data_arriving_during_silence_fails(tmp_path: Path, modem: FakeModem) -> None:
    run = play(tmp_path, modem, HEADER + "> AT+LATE\n<! 1\n")
    assert_message(run, 6, "expected nothing from the modem for 1 s", b"\r\nLATE\r\n")
    assert "already unread" not in run.message
    assert run.seconds < 1.5


def test_unread_data_before_silence_fails(tmp_path: Path, modem: FakeModem) -> None:
    run = play(tmp_path, modem, HEADER + "> AT\n~ 0.2\n<! 0.5\n")
    assert_message(run, 7, b"\r\nOK\r\n", "already unread when the step began")


def test_expect_mismatch_fails(tmp_path: Path, modem: FakeModem) -> None:
    run = play(
        tmp_path,
        modem,
        HEADER + "@ listen tcp S\n"
        '> AT+CIPSTART="TCP","127.0.0.1",{S}\n< OK\n< CONNECT OK\n@ S accept\n'
        "> AT+CIPSEND=4\n<< \\r\\n> \n>> ping\n< SEND OK\n@ S expect pong\n",
    )
    assert_message(run, 14, "peer S received wrong bytes", b"pong", b"ping", "S: tcp listen")
    assert run.seconds < 2


def test_expect_timeout_shows_partial_bytes(tmp_path: Path, modem: FakeModem) -> None:
    run = play(
        tmp_path,
        modem,
        HEADER.replace("timeout: 3", "timeout: 0.5") + "@ listen tcp S\n"
        '> AT+CIPSTART="TCP","127.0.0.1",{S}\n< OK\n< CONNECT OK\n@ S accept\n'
        "> AT+CIPSEND=2\n<< \\r\\n> \n>> ab\n@ S expect abc\n",
    )
    assert_message(
        run,
        13,
        "timed out waiting for peer S to receive 3 bytes (it has 2) after 0.5 s",
        b"abc",
        b"ab",
    )


def test_expect_after_modem_closed_fails_at_once(tmp_path: Path, modem: FakeModem) -> None:
    run = play(
        tmp_path,
        modem,
        HEADER + "@ listen tcp S\n"
        '> AT+CIPSTART="TCP","127.0.0.1",{S}\n< OK\n< CONNECT OK\n@ S accept\n'
        "> AT+CIPSEND=2\n<< \\r\\n> \n>> ab\n< SEND OK\n> AT+CIPCLOSE\n< CLOSE OK\n"
        "@ S expect abc\n",
    )
    assert_message(run, 16, "got only 2 of 3 bytes and the modem closed the connection", b"ab")
    assert run.seconds < 2


def test_line_timeout(tmp_path: Path, modem: FakeModem) -> None:
    run = play(tmp_path, modem, "# timeout: 0.3\n> ATE0\n<< ATE0\\r\n< OK\n< NEVER\n")
    assert_message(run, 5, "timed out waiting for a line (CR LF) after 0.3 s", b"NEVER")
    assert 0.3 <= run.seconds < 2


def test_partial_line_that_cannot_match_fails_at_once(tmp_path: Path, modem: FakeModem) -> None:
    run = play(tmp_path, modem, HEADER + "> AT+PART\n< PIE\n")
    assert_message(run, 6, "no CR LF after it yet", b"PIE", b"PAR")
    assert run.seconds < 2
    # ... while a partial line that still can match waits for the timeout.
    run = play(tmp_path, modem, "# timeout: 0.3\n> AT+PART\n< PARTY\n")
    assert_message(run, 3, "timed out", b"PARTY")


def test_exact_step_timeout_shows_what_arrived(tmp_path: Path, modem: FakeModem) -> None:
    run = play(tmp_path, modem, "# timeout: 0.3\n> ATE0\n<< ATE0\\r\\r\\nOK\\r\\nMORE\n")
    assert_message(
        run, 3, "timed out waiting for 15 bytes (have 11) after 0.3 s", b"ATE0\r\r\nOK\r\n"
    )


def test_send_waits_for_a_connection(tmp_path: Path, modem: FakeModem) -> None:
    run = play(tmp_path, modem, "@ listen tcp S\n@ S send x\n", connection_wait=0.3)
    assert_message(run, 2, "peer S has no connection after 0.3 s")


def test_accept_timeout(tmp_path: Path, modem: FakeModem) -> None:
    run = play(tmp_path, modem, "# timeout: 0.3\n@ listen udp U\n@ U accept\n")
    assert_message(run, 3, "timed out waiting for the first datagram")


def test_connect_refused_fails_after_timeout(tmp_path: Path, modem: FakeModem) -> None:
    run = play(tmp_path, modem, "# timeout: 0.4\n@ port P\n@ connect tcp C {P}\n")
    assert_message(run, 3, "refused", "resolved: @ connect tcp C ")
    assert 0.3 <= run.seconds < 2


def test_hang_up_fails_waiting_step_at_once(tmp_path: Path, modem: FakeModem) -> None:
    modem.hang_up()
    run = play(tmp_path, modem, "< OK\n")
    assert run.seconds < 2
    assert_message(run, 1, "the serial line was ", "waiting for a line (CR LF)")
    run = play(tmp_path, modem, "> AT\n")
    assert_message(run, 1, "writing to the serial line failed")


def test_failure_message_shows_recent_modem_output(tmp_path: Path, modem: FakeModem) -> None:
    run = play(tmp_path, modem, HEADER + "> AT\n< OK\n> AT+NOPE\n<< \\r\\nOK\\r\\n\n")
    message = run.message
    assert "modem output:" in message
    assert "read:   b'ATE0\\r\\r\\nOK\\r\\n\\r\\nOK\\r\\n'" in message
    assert "unread: b'\\r\\nERROR\\r\\n'" in message
    assert "    6  < OK" in message  # previous steps with their line numbers


def test_cancel_stops_a_waiting_step(tmp_path: Path, modem: FakeModem) -> None:
    path = tmp_path / "c.txt"
    path.write_text("# timeout: 30\n< NEVER\n")
    with Player(modem.fd, load(path)) as player:
        timer = threading.Timer(0.2, player.cancel, args=("test over",))
        timer.start()
        start = time.monotonic()
        with pytest.raises(TranscriptFailure, match="cancelled: test over"):
            player.run()
        assert time.monotonic() - start < 5
        timer.join()


# --------------------------------------------------------------------------- '@ ctl' (2.9)


class FakeControl:
    """A Unix socket that answers each command line like the control channel."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.commands: list[str] = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                line = conn.makefile("rb").readline().decode().strip()
                self.commands.append(line)
                answer = "ok 1 modem(s)" if line != "explode" else "error: unknown command"
                conn.sendall(answer.encode() + b"\n")

    def close(self) -> None:
        self.server.close()


def test_ctl_steps_reach_the_control_socket(tmp_path: Path, modem: FakeModem) -> None:
    control = FakeControl(Path(tempfile_dir()) / "c.sock")
    try:
        path = tmp_path / "case.txt"
        path.write_text("@ ctl ring +4915112345678\n@ ctl hangup\n@ ctl explode\n")
        with Player(modem.fd, load(path), control=control.path) as player:
            player.run_step(player.transcript.steps[0])
            player.run_step(player.transcript.steps[1])
            with pytest.raises(TranscriptFailure, match="the control channel refused 'explode'"):
                player.run_step(player.transcript.steps[2])
        assert control.commands == ["ring +4915112345678", "hangup", "explode"]
    finally:
        control.close()


def test_ctl_without_a_control_socket_fails(tmp_path: Path, modem: FakeModem) -> None:
    run = play(tmp_path, modem, "@ ctl hangup\n")
    assert_message(run, 1, "no control socket")


def tempfile_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="ctl-")  # short: Unix socket paths are limited
