"""Network profiles (issue 13, item 2): ``--network NAME`` gives the radio link
latency, jitter, separate up/down bandwidth from the SIM800's coding-scheme
rates and UDP loss, seeded with ``--seed``."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

import pytest
from runtime_fakes import RecordingNet
from serial_helpers import HOST, Emulator, TcpServer

from sim800emu.cli import build_shape, parse_serve_options
from sim800emu.core.events import Connect, PeerClosed, ReadCredit, Received, Result, Send
from sim800emu.net.shaping import NETWORK_PROFILES, Shape, ShapedNet


def run(body: Callable[[asyncio.AbstractEventLoop], object]) -> None:
    async def main() -> None:
        await body(asyncio.get_running_loop())  # type: ignore[misc]

    asyncio.run(main())


def test_profiles_follow_the_coding_scheme_rates() -> None:
    cs2, cs4, cs1 = 13.4e3 / 8, 21.4e3 / 8, 9.05e3 / 8
    p = NETWORK_PROFILES
    assert p["gprs-class10"].down == pytest.approx(4 * cs2)
    assert p["gprs-class10"].up == pytest.approx(2 * cs2)
    assert p["gprs-class12"].up == pytest.approx(4 * cs2)
    assert p["good"].down == pytest.approx(4 * cs4)
    assert p["bad"].down == pytest.approx(cs1)
    assert p["bad"].loss > p["gprs-class10"].loss > p["good"].loss == 0
    assert p["edge"].down > p["good"].down


def test_cli_builds_the_profile_scaled_and_overridden() -> None:
    shape = build_shape(parse_serve_options(["--network", "bad", "--time-scale", "0.1",
                                             "--seed", "5"]))
    assert shape.latency == pytest.approx(0.08) and shape.jitter == pytest.approx(0.06)
    assert shape.down == NETWORK_PROFILES["bad"].down and shape.seed == 5
    shape = build_shape(parse_serve_options(["--network", "edge", "--bandwidth", "1000"]))
    assert shape.up == shape.down == 1000
    assert NETWORK_PROFILES["edge"].up != 1000  # the table itself is untouched


def test_up_and_down_rates_differ_and_jitter_keeps_order() -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        got: list[tuple[float, Result]] = []
        shape = Shape(up_rate=10_000, down_rate=40_000, jitter=0.02, seed=1)
        net = ShapedNet(RecordingNet, lambda r: got.append((loop.time(), r)), loop, shape)
        inner = net.inner
        assert isinstance(inner, RecordingNet)
        t0 = loop.time()
        net.submit(Connect(1, "TCP", "1.2.3.4", 80))
        net.submit(Send(1, b"u" * 2000))  # 0.2 s up
        for k in range(20):
            inner.deliver(Received(1, bytes([k]) * 400))  # 8000 bytes: 0.2 s down
        inner.deliver(PeerClosed(1))
        await asyncio.sleep(0.5)
        sends = [t for t, r in inner.seen if isinstance(r, Send)]
        assert sends and 0.19 <= sends[0] - t0 <= 0.3
        data = b"".join(r.data for _, r in got if isinstance(r, Received))
        assert data == b"".join(bytes([k]) * 400 for k in range(20))  # in order
        assert isinstance(got[-1][1], PeerClosed)
        assert 0.19 <= got[-1][0] - t0 <= 0.3

    run(body)


def test_udp_loss_is_seeded_and_gives_the_window_back() -> None:
    def lost_pattern(seed: int) -> tuple[list[int], int]:
        kept: list[int] = []
        credits = 0

        async def body(loop: asyncio.AbstractEventLoop) -> None:
            nonlocal credits
            net = ShapedNet(RecordingNet, lambda r: kept.append(r.data[0])  # type: ignore[attr-defined]
                            if isinstance(r, Received) else None, loop, Shape(loss=0.3, seed=seed))
            inner = net.inner
            assert isinstance(inner, RecordingNet)
            net.submit(Connect(1, "UDP", "1.2.3.4", 53))
            for k in range(100):
                inner.deliver(Received(1, bytes([k]) * 10))
            for _ in range(100):
                net.submit(Send(1, b"x"))
            await asyncio.sleep(0.05)
            credits = sum(r.size for _, r in inner.seen if isinstance(r, ReadCredit))
            up = sum(1 for _, r in inner.seen if isinstance(r, Send))
            assert 40 <= up <= 90

        run(body)
        return kept, credits

    kept, credits = lost_pattern(3)
    assert 40 <= len(kept) <= 90
    assert credits == 10 * (100 - len(kept))  # every lost datagram's room back
    assert lost_pattern(3)[0] == kept
    assert lost_pattern(4)[0] != kept


def test_tcp_is_never_lost() -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        got: list[Result] = []
        net = ShapedNet(RecordingNet, got.append, loop, Shape(loss=1.0))
        inner = net.inner
        assert isinstance(inner, RecordingNet)
        net.submit(Connect(1, "TCP", "1.2.3.4", 80))
        inner.deliver(Received(1, b"abc"))
        await asyncio.sleep(0.01)
        assert [r for r in got if isinstance(r, Received)]

    run(body)


@pytest.mark.parametrize("profile", sorted(NETWORK_PROFILES))
def test_each_profile_download_arrives_at_its_downlink_rate(profile: str) -> None:
    """Through the pty: gprs-class10 4 x CS-2 = 6700 B/s, good 4 x CS-4 ...,
    whatever the peer sends."""
    rate = NETWORK_PROFILES[profile].down
    size = int(rate * 0.8)
    with Emulator("--network", profile, "--time-scale", "0.1") as emu, \
            TcpServer() as srv:
        emu.init()
        emu.command("AT+CIPMODE=1")
        emu.bring_up()
        emu.send(f'AT+CIPSTART="TCP","{HOST}",{srv.port}')
        emu.expect(b"\r\nCONNECT\r\n")
        srv.accept().send_all(b"d" * size)
        arrivals: list[tuple[float, int]] = []
        emu.read_stream(size, lambda d: arrivals.append((time.monotonic(), len(d))), timeout=20)
    first_t, first_n = arrivals[0]
    measured = (size - first_n) / (arrivals[-1][0] - first_t)
    assert abs(measured / rate - 1) < 0.12, measured


def test_bad_network_loses_udp_datagrams_end_to_end() -> None:
    """--network bad: 5 % of UDP datagrams are lost; TCP is untouched."""
    with Emulator("--network", "bad", "--time-scale", "0.01", "--seed", "2") as emu:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((HOST, 0))
        try:
            emu.init()
            emu.command("AT+CIPHEAD=1")
            emu.bring_up()
            emu.command(f'AT+CIPSTART="UDP","{HOST}",{udp.getsockname()[1]}',
                        b"CONNECT OK\r\n")
            emu.command("AT+CIPSEND=5", b"> ")
            emu.write_all(b"hello")
            emu.expect(b"SEND OK\r\n")
            udp.settimeout(5)
            peer = None
            for _ in range(3):  # the first datagram may itself be lost
                emu.command("AT+CIPSEND=5", b"> ")
                emu.write_all(b"hello")
                emu.expect(b"SEND OK\r\n")
                try:
                    _, peer = udp.recvfrom(100)
                    break
                except TimeoutError:
                    continue
            assert peer is not None
            for k in range(200):
                udp.sendto(b"%03d" % k, peer)
                time.sleep(0.002)  # a datagram at a time, not a burst (the window)
            got = emu.drain(2.0)
            kept = got.count(b"+IPD,3:")
            assert 170 <= kept < 200, kept
        finally:
            udp.close()


def test_gprs_class10_uplink_is_half_its_downlink() -> None:
    """2 uplink slots against 4 downlink: 3350 B/s up through the pty."""
    up = NETWORK_PROFILES["gprs-class10"].up
    assert up == NETWORK_PROFILES["gprs-class10"].down / 2
    size = int(up * 0.8)
    with Emulator("--network", "gprs-class10", "--time-scale", "0.1") as emu, \
            TcpServer() as srv:
        emu.init()
        emu.command("AT+CIPMODE=1")
        emu.bring_up()
        emu.send(f'AT+CIPSTART="TCP","{HOST}",{srv.port}')
        emu.expect(b"\r\nCONNECT\r\n")
        peer = srv.accept()
        start = time.monotonic()
        emu.write_all(b"u" * size)
        peer.wait_count(size, timeout=10)
        took = time.monotonic() - start
    assert 0.75 <= took <= 1.4, took  # 0.8 s on the air (0.4 s at the downlink rate)
