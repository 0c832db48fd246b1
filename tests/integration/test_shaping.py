"""Slow GPRS: the link shaper delays and throttles what crosses the simulated
radio link, keeps per-socket order and bounds what it holds."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from runtime_fakes import RecordingNet
from serial_helpers import Emulator

from sim800emu.core.events import (
    Close,
    Connect,
    PauseReading,
    PeerClosed,
    Received,
    Result,
    ResumeReading,
    Send,
)
from sim800emu.net.shaping import DOWN_HIGH, STEP_MAX, Shape, ShapedNet


def run(coro_fn: Callable[[asyncio.AbstractEventLoop], object]) -> None:
    async def main() -> None:
        await coro_fn(asyncio.get_running_loop())  # type: ignore[misc]

    asyncio.run(main())


def test_uplink_latency_rate_and_order() -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        got: list[Result] = []
        net = ShapedNet(RecordingNet, got.append, loop, Shape(latency=0.1, rate=100_000))
        inner = net.inner
        assert isinstance(inner, RecordingNet)
        t0 = loop.time()
        net.submit(Connect(1, "TCP", "127.0.0.1", 9))
        net.submit(Send(1, b"x" * 10_000))  # 0.1 s on the air
        net.submit(Close(1))
        assert net.write_backlog() == 10_000
        await asyncio.sleep(0.4)
        kinds = [type(r).__name__ for _, r in inner.seen]
        assert kinds == ["Connect", "Send", "Close"]
        times = [t - t0 for t, _ in inner.seen]
        assert 0.09 <= times[0] < 0.2
        assert times[1] >= 0.19  # 0.1 s transmission + 0.1 s latency
        assert times[2] >= times[1]
        assert net.write_backlog() == 0

    run(body)


def test_downlink_order_and_backpressure() -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        got: list[Result] = []
        net = ShapedNet(RecordingNet, got.append, loop, Shape(latency=0.05, rate=1_000_000))
        inner = net.inner
        assert isinstance(inner, RecordingNet)
        chunk = b"y" * 16_384
        for _ in range(6):  # 96 KiB queued: above the high-water mark
            inner.deliver(Received(7, chunk))
        inner.deliver(PeerClosed(7))
        assert any(isinstance(r, PauseReading) and r.sock == 7 for _, r in inner.seen)
        assert sum(len(chunk) for _ in range(6)) > DOWN_HIGH
        net.submit(PauseReading(7))  # the core pauses it too ...
        await asyncio.sleep(0.3)
        # released in steps of at most STEP_MAX bytes, in order, then the close
        assert [type(r).__name__ for r in got][-1] == "PeerClosed"
        pieces = [r for r in got if isinstance(r, Received)]
        assert all(len(r.data) <= STEP_MAX for r in pieces)
        assert b"".join(r.data for r in pieces) == chunk * 6
        # ... so the shaper does not resume it on its own
        assert not any(isinstance(r, ResumeReading) for _, r in inner.seen)
        net.submit(ResumeReading(7))
        assert isinstance(inner.seen[-1][1], ResumeReading)

    run(body)


def _echo_server() -> tuple[socket.socket, threading.Thread]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve() -> None:
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, t


def test_slow_gprs_end_to_end(tmp_path: Path) -> None:
    import subprocess
    import sys

    srv, t = _echo_server()
    port = srv.getsockname()[1]
    ctl = tmp_path / "m.ctl"
    try:
        with Emulator("--latency", "300", "--control", str(ctl), workdir=tmp_path / "w") as emu:
            emu.init()
            start = time.monotonic()
            emu.command(f'AT+CIPSTART="TCP","127.0.0.1",{port}', b"\r\nCONNECT OK\r\n")
            assert time.monotonic() - start >= 0.55  # connect out and back: 2 x 300 ms
            start = time.monotonic()
            emu.send("AT+CIPSEND=4")
            emu.expect(b"\r\n> ")
            emu.write_all(b"ping")
            emu.expect(b"\r\nSEND OK\r\n")
            emu.expect(b"ping")
            assert time.monotonic() - start >= 0.55
            answer = subprocess.run(
                [sys.executable, "-m", "sim800emu", "ctl", str(ctl), "latency", "0"],
                capture_output=True, text=True, timeout=20,
            )
            assert answer.stdout.strip() == "ok 1 modem(s)"
            start = time.monotonic()
            emu.send("AT+CIPSEND=4")
            emu.expect(b"\r\n> ")
            emu.write_all(b"pong")
            emu.expect(b"pong")
            assert time.monotonic() - start < 0.3
    finally:
        srv.close()
        t.join(5)
