"""ModemRunner and the transports, with a fake modem core and a fake network.

Real ptys, real sockets and a real event loop; only the modem and the
network driver are stand-ins (``runtime_fakes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
import types
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from runtime_fakes import FakeModem, FakeNet, fake_modem_factory, fake_net_factory

from sim800emu.core.config import ModemConfig
from sim800emu.core.events import Close, Connect, HoldSerial, Send, TimerFired
from sim800emu.runtime import ModemRunner, ModemSpec
from sim800emu.store import SettingsStore
from sim800emu.trafficlog import TrafficLog
from sim800emu.transports.pty import LinkInUse, PtyPort
from sim800emu.transports.tcp import TcpSerialServer

TIMEOUT = 5.0


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 15))


async def wait_until(cond: Callable[[], bool], timeout: float = TIMEOUT, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await asyncio.sleep(0.001)


class SlaveReader:
    """The host's end of a pty, opened like a client would (non-blocking)."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.buf = bytearray()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            view = view[n:]

    def _pull(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                return
            self.buf += chunk

    async def read_until(self, expected: bytes, timeout: float = TIMEOUT) -> bytes:
        def found() -> bool:
            self._pull()
            return expected in self.buf

        await wait_until(found, timeout, f"{expected!r} (got {bytes(self.buf)!r})")
        end = self.buf.find(expected) + len(expected)
        out = bytes(self.buf[:end])
        del self.buf[:end]
        return out

    async def read_exactly(self, n: int, timeout: float = TIMEOUT) -> bytes:
        def enough() -> bool:
            self._pull()
            return len(self.buf) >= n

        await wait_until(enough, timeout, f"{n} bytes (got {len(self.buf)})")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def close(self) -> None:
        os.close(self.fd)


class Rig:
    """A runner on a real pty with the fake modem and network."""

    def __init__(
        self,
        tmp: Path,
        *,
        net_factory: Callable[..., FakeNet] = fake_net_factory,
        traffic: TrafficLog | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.port = PtyPort(loop)
        self.store = SettingsStore(tmp / "state", "868183038764457")
        self.spec = ModemSpec(
            ModemConfig(),
            net_factory,
            store=self.store,
            traffic=traffic,
            modem_factory=fake_modem_factory,
        )
        self.runner = self.spec.create_runner(self.port.line, loop)
        self.runner.start()
        assert isinstance(self.runner.modem, FakeModem)
        self.modem: FakeModem = self.runner.modem
        assert isinstance(self.runner.net, FakeNet)
        self.net: FakeNet = self.runner.net
        self.host = SlaveReader(self.port.path)

    async def command(self, line: bytes, expect: bytes = b"OK\r\n") -> bytes:
        self.host.write(line)
        return await self.host.read_until(expect)

    async def close(self) -> None:
        await self.runner.aclose()
        self.host.close()
        await self.port.aclose(0.1)


@contextlib.asynccontextmanager
async def rig(tmp: Path, **kw: Any) -> Any:
    r = Rig(tmp, **kw)
    try:
        yield r
    finally:
        await r.close()


# ------------------------------------------------------------------ basics


def test_answers_over_a_real_pty(tmp_path: Path) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            assert await r.command(b"AT\r") == b"\r\nOK\r\n"
            # a command in two writes
            r.host.write(b"A")
            await wait_until(lambda: r.modem.fed != [] and r.modem.fed[-1] == b"A")
            assert await r.command(b"T\r") == b"\r\nOK\r\n"

    run(main())


def test_time_is_the_loop_clock(tmp_path: Path) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            before = asyncio.get_running_loop().time()
            await r.command(b"AT\r")
            after = asyncio.get_running_loop().time()
            assert before <= r.modem.times[-1] <= after

    run(main())


def test_port_can_be_closed_and_reopened(tmp_path: Path) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            r.host.close()
            for _ in range(3):
                host = SlaveReader(r.port.path)
                host.write(b"AT\r")
                assert await host.read_until(b"OK\r\n") == b"\r\nOK\r\n"
                host.close()
            r.host = SlaveReader(r.port.path)
            assert not r.runner.closing

    run(main())


def test_pty_is_8bit_clean_both_ways(tmp_path: Path) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            data = bytes(range(256)) * 4
            r.host.write(data)
            await wait_until(lambda: b"".join(r.modem.fed) == data, what="all bytes fed")
            # the fake answers each CR-terminated piece: 4 CRs, 4 OKs, no translation
            assert await r.host.read_exactly(24) == b"\r\nOK\r\n" * 4
            r.port.line.write(data)
            assert await r.host.read_exactly(len(data)) == data

    run(main())


def test_traffic_is_logged_both_ways(tmp_path: Path) -> None:
    async def main() -> None:
        log = TrafficLog.open(str(tmp_path / "t.log"))
        async with rig(tmp_path, traffic=log) as r:
            await r.command(b"AT\r")
        log.close()
        text = (tmp_path / "t.log").read_text()
        assert "modem<-host 'AT\\r' | 41 54 0d" in text
        assert "modem->host '\\r\\nOK\\r\\n' | 0d 0a 4f 4b 0d 0a" in text

    run(main())


def test_a_failing_modem_step_does_not_stop_the_runner(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            with caplog.at_level(logging.ERROR):
                r.host.write(b"CRASH\r")
                await wait_until(lambda: "crash requested" in caplog.text)
            assert await r.command(b"AT\r") == b"\r\nOK\r\n"

    run(main())


# ------------------------------------------------------------------ requests


def test_timers_fire_replace_and_cancel(tmp_path: Path) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            await r.command(b"TIMER a 0.01\r")
            assert await r.host.read_until(b"FIRED a\r\n") == b"\r\nFIRED a\r\n"
            assert r.runner.timer_keys == []
            # replacing a running key: only the new deadline fires
            await r.command(b"TIMER b 0.03\r")
            await r.command(b"TIMER b 0.01\r")
            await r.command(b"TIMER c 5\r")
            await r.command(b"CANCEL c\r")
            await r.command(b"TIMER z 0.1\r")
            await r.host.read_until(b"FIRED z\r\n")
            fired = [x.key for x in r.modem.results if isinstance(x, TimerFired)]
            assert fired == ["a", "b", "z"]
            assert r.runner.timer_keys == []

    run(main())


def test_save_settings_reach_the_store_and_the_next_modem(tmp_path: Path) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            await r.command(b"SAVE apn=internet\r")
            assert r.store.load() == {"apn": "internet"}
            assert r.runner.saved == {"apn": "internet"}
        async with rig(tmp_path) as r2:
            out = await r2.command(b"SAVED?\r")
            assert b"SAVED: {'apn': 'internet'}" in out

    run(main())


def test_network_requests_and_results(tmp_path: Path) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            await r.command(b"CONNECT 127.0.0.1 7\r", b"CONNECT OK\r\n")
            await r.command(b"SEND hi\r", b"+IPD,7:echo:hi")
            assert r.net.submitted == [
                Connect(1, "TCP", "127.0.0.1", 7),
                Send(1, b"hi"),
            ]

    run(main())


def test_results_are_never_handled_re_entrantly(tmp_path: Path) -> None:
    """A driver that delivers from inside ``submit`` (against the contract)
    must not make the runner call into the modem while it is busy."""

    def sync_net(deliver: Any, loop: asyncio.AbstractEventLoop) -> FakeNet:
        return FakeNet(deliver, loop, synchronous=True)

    async def main() -> None:
        async with rig(tmp_path, net_factory=sync_net) as r:
            out = await r.command(b"CONNECT 127.0.0.1 7\rSEND x\r", b"echo:x")
            assert out == b"\r\nOK\r\n\r\nOK\r\n\r\nCONNECT OK\r\n+IPD,6:echo:x"

    run(main())


def test_reboot_drops_links_but_keeps_timers(tmp_path: Path) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            await r.command(b"TIMER boot 0.05\r")
            await r.command(b"REBOOT\r")
            assert r.net.closed_all == 1
            await r.host.read_until(b"FIRED boot\r\n")

    run(main())


def test_power_down_is_reported(tmp_path: Path) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            await r.command(b"POWEROFF\r")
            assert r.runner.powered_down
            assert not r.runner.closing

    run(main())


def test_shutdown_order(tmp_path: Path) -> None:
    async def main() -> None:
        r = Rig(tmp_path)
        await r.command(b"CONNECT 127.0.0.1 7\r", b"CONNECT OK\r\n")
        await r.command(b"TIMER late 30\r")
        net = r.net
        await r.close()
        assert r.modem.shut_down
        assert net.submitted[-1] == Close(1)
        assert net.events[-3:] == ["Close", "close_all", "aclose"]
        assert r.runner.timer_keys == []
        # late results are ignored, closing twice is harmless
        n = len(r.modem.results)
        r.runner.deliver(TimerFired("late"))
        assert len(r.modem.results) == n
        await r.runner.aclose()

    run(main())


# ------------------------------------------------------------------ flow control


def test_slow_serial_reader_pauses_the_network(tmp_path: Path) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            size = 3 * r.runner.serial_high
            r.host.write(b"BIG %d\r" % size)
            await wait_until(lambda: r.net.paused, what="pause_all")
            assert r.runner.network_paused
            assert r.port.line.write_backlog() > r.runner.serial_high
            data = await r.host.read_exactly(size, timeout=10)
            assert data == b"x" * size
            await wait_until(lambda: not r.net.paused, what="resume_all")
            assert r.net.events[-2:] == ["pause_all", "resume_all"]
            assert await r.command(b"AT\r") == b"\r\nOK\r\n"

    run(main())


def test_hold_serial_stops_and_resumes_reading(tmp_path: Path) -> None:
    # The core's HoldSerial (transparent mode, a link that cannot take more)
    # is the only thing that stops the serial line; a network backlog alone
    # never does (one stalled peer must not freeze the modem).
    async def main() -> None:
        async with rig(tmp_path) as r:
            r.net.backlog = 10 * 1024 * 1024
            assert await r.command(b"AT\r") == b"\r\nOK\r\n"
            assert not r.runner.reading_paused
            await r.command(b"HOLD 1\r")
            assert r.runner.reading_paused
            r.host.write(b"AT\r")  # stays in the pty meanwhile
            fed = len(r.modem.fed)
            await asyncio.sleep(0.05)  # nothing is read while held
            assert len(r.modem.fed) == fed
            r.runner.modem._requests.append(HoldSerial(False))  # type: ignore[attr-defined]
            r.runner.deliver(TimerFired("kick"))
            assert await r.host.read_until(b"OK\r\n") == b"\r\nFIRED kick\r\n\r\nOK\r\n"
            assert not r.runner.reading_paused

    run(main())


# ------------------------------------------------------------------ pty symlink


def test_symlink_created_replaced_and_removed(tmp_path: Path) -> None:
    async def main() -> None:
        link = tmp_path / "modem"
        os.symlink("/nonexistent/stale", link)  # a stale link from a crashed run
        port = PtyPort(asyncio.get_running_loop())
        try:
            port.create_link(link)
            assert os.readlink(link) == port.path
            assert os.path.realpath(link) == os.path.realpath(port.path)
        finally:
            port.close()
        assert not os.path.lexists(link)

    run(main())


def test_symlink_never_replaces_a_file_nor_removes_a_foreign_link(tmp_path: Path) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        target = tmp_path / "file"
        target.write_text("keep")
        port = PtyPort(loop)
        with pytest.raises(FileExistsError):
            port.create_link(target)
        assert target.read_text() == "keep"
        link = tmp_path / "modem"
        port.create_link(link)
        other = PtyPort(loop)
        with pytest.raises(LinkInUse):
            other.create_link(link)  # owned by a running port (issue 10)
        # someone else replaced the link behind our back: not ours to remove
        os.remove(link)
        os.symlink(other.path, link)
        port.close()
        assert os.readlink(link) == other.path
        other.create_link(link)  # the owner is gone: the name is free again
        other.close()
        assert not os.path.lexists(link)

    run(main())


# ------------------------------------------------------------------ tcp transport


def _tcp_spec(tmp: Path) -> ModemSpec:
    return ModemSpec(
        ModemConfig(),
        fake_net_factory,
        store=SettingsStore(tmp, "k"),
        modem_factory=fake_modem_factory,
    )


async def _sock_read_until(reader: asyncio.StreamReader, expected: bytes) -> bytes:
    return await asyncio.wait_for(reader.readuntil(expected), TIMEOUT)


def test_tcp_server_one_modem_per_connection(tmp_path: Path) -> None:
    async def main() -> None:
        server = TcpSerialServer(_tcp_spec(tmp_path))
        await server.start()
        assert server.port != 0
        try:
            r1, w1 = await asyncio.open_connection("127.0.0.1", server.port)
            r2, w2 = await asyncio.open_connection("127.0.0.1", server.port)
            w1.write(b"TIMER t 0.01\r")
            w2.write(b"AT\r")
            assert await _sock_read_until(r2, b"OK\r\n") == b"\r\nOK\r\n"
            assert await _sock_read_until(r1, b"FIRED t\r\n") == b"\r\nOK\r\n\r\nFIRED t\r\n"
            await wait_until(lambda: len(server.runners) == 2)
            modems = {id(r.modem) for r in server.runners}
            assert len(modems) == 2
            # a client that hangs up stops its modem only
            w1.close()
            await wait_until(lambda: len(server.runners) == 1, what="runner of conn 1 gone")
            w2.write(b"AT\r")
            assert await _sock_read_until(r2, b"OK\r\n") == b"\r\nOK\r\n"
        finally:
            await server.aclose()
        assert server.runners == set()
        assert await asyncio.wait_for(r2.read(), TIMEOUT) == b""  # closed by the server
        w2.close()

    run(main())


def test_tcp_server_binds_loopback_by_default(tmp_path: Path) -> None:
    async def main() -> None:
        server = TcpSerialServer(_tcp_spec(tmp_path))
        await server.start()
        try:
            assert server.address == f"tcp://127.0.0.1:{server.port}"
        finally:
            await server.aclose()

    run(main())


# ------------------------------------------------------------------ sim800:// URLs


@pytest.fixture
def fake_core(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make ``sim800emu.cli.build_spec`` produce fake modems and networks."""
    fake = types.ModuleType("sim800emu.core.modem")
    fake.Modem = FakeModem  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sim800emu.core.modem", fake)
    import sim800emu.cli

    monkeypatch.setattr(sim800emu.cli, "net_factory_for", lambda config: fake_net_factory)
    yield


def test_url_handler_in_process(fake_core: None) -> None:
    import serial

    from sim800emu.transports import register_url_handler

    register_url_handler()
    register_url_handler()  # idempotent
    assert serial.protocol_handler_packages.count("sim800emu.transports") == 1
    port = serial.serial_for_url("sim800://?dns-offline&host=echo.test=127.0.0.1", timeout=2)
    try:
        port.write(b"AT\rTIMER t 0.01\r")
        assert port.read_until(b"FIRED t\r\n") == b"\r\nOK\r\n\r\nOK\r\n\r\nFIRED t\r\n"
        port.write(b"BIG 5\r")
        deadline = time.monotonic() + TIMEOUT
        while port.in_waiting < 5 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert port.in_waiting == 5
        port.reset_input_buffer()
        port.timeout = 0
        assert port.read(10) == b""
    finally:
        port.close()
    with pytest.raises(serial.SerialException):
        port.read(1)


def test_url_handler_rejects_bad_options() -> None:
    import serial

    from sim800emu.transports import register_url_handler

    register_url_handler()
    for url in ("sim800://?nope=1", "sim800://?csq=77", "sim800://?link=/tmp/x", "sim800://host",
                "sim800://?loop=uvloop"):
        with pytest.raises(serial.SerialException):
            serial.serial_for_url(url)


def test_url_to_argv() -> None:
    from sim800emu.transports.url_handler import url_to_argv

    assert url_to_argv(
        "sim800://?host=a.test=1.2.3.4&host=b.test=1.2.3.5&dns-offline&cold-boot=0"
    ) == [
        "--host",
        "a.test=1.2.3.4",
        "--host",
        "b.test=1.2.3.5",
        "--dns-offline",
    ]
    assert url_to_argv("sim800://") == []
    with pytest.raises(ValueError):
        url_to_argv("sim800://?dns-offline=maybe")


def test_url_handler_with_the_real_core() -> None:
    import serial

    from sim800emu.transports import register_url_handler

    register_url_handler()
    port = serial.serial_for_url("sim800://?dns-offline", timeout=2)
    try:
        port.write(b"ATE0\r")
        port.read_until(b"OK\r\n")
        port.write(b"AT\r")
        assert port.read_until(b"OK\r\n") == b"\r\nOK\r\n"
    finally:
        port.close()


class MemoryLine:
    """A SerialLine in memory: what the runner wrote, and what it reads."""

    def __init__(self, pending: bytes = b"") -> None:
        self.written = bytearray()
        self.pending = pending
        self.sink: Any = None

    def attach(self, sink: Any) -> None:
        self.sink = sink
        if self.pending:  # like StreamLine: bytes that came before the runner
            sink.serial_received(self.pending)

    def detach(self) -> None:
        self.sink = None

    def write(self, data: bytes) -> None:
        self.written += data

    def write_backlog(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def test_start_passes_on_the_boot_output_first() -> None:
    """What the core has at construction (a cold boot) goes out before any
    byte the line already holds is fed; a result the driver delivers
    synchronously is queued behind those bytes, never handled re-entrantly."""

    class BootingModem(FakeModem):
        def __init__(self, *a: Any) -> None:
            super().__init__(*a)
            self._out += b"RDY\r\n"
            self._requests.append(Connect(1, "TCP", "127.0.0.1", 7))

    def sync_net(deliver: Any, loop: asyncio.AbstractEventLoop) -> FakeNet:
        return FakeNet(deliver, loop, synchronous=True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        line = MemoryLine(b"AT\r")
        runner = ModemRunner(BootingModem(), line, sync_net, loop=loop)
        runner.start()
        assert bytes(line.written) == b"RDY\r\n\r\nOK\r\n\r\nCONNECT OK\r\n"
        await runner.aclose()
        assert line.sink is None

    run(main())
