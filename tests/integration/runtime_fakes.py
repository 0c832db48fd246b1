"""Stand-ins for the modem core and the network driver, for runtime tests.

``FakeModem`` answers every CR-terminated line with ``\\r\\nOK\\r\\n`` and
understands a few test commands that make it emit requests:

    TIMER <key> <seconds>   StartTimer(key, now + seconds); fires "FIRED <key>"
    CANCEL <key>            CancelTimer(key)
    SAVE <name>=<value>     SaveSettings({name: value})
    SAVED?                  prints "SAVED: <the saved mapping it started with>"
    CONNECT <host> <port>   Connect(1, "TCP", host, port); "CONNECT OK" on Connected
    SEND <text>             Send(1, text)
    BIG <n>                 prints n bytes of "x"
    REBOOT                  Reboot()
    POWEROFF                PowerDown()
    CRASH                   raises (the runner must survive it)

Received data is printed as ``+IPD,<n>:<data>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import ClassVar

from sim800emu.core.config import ModemConfig
from sim800emu.core.events import (
    CancelTimer,
    Close,
    Connect,
    Connected,
    HoldSerial,
    PowerDown,
    Reboot,
    Received,
    Request,
    Result,
    SaveSettings,
    Send,
    StartTimer,
    TimerFired,
)


class FakeModem:
    def __init__(
        self,
        config: ModemConfig | None = None,
        saved: Mapping[str, object] | None = None,
        now: float = 0.0,
        wall: float | None = None,
    ) -> None:
        self.config = config or ModemConfig()
        self.saved = dict(saved) if saved is not None else None
        self._buf = bytearray()
        self._out = bytearray()
        self._requests: list[Request] = []
        self.fed: list[bytes] = []
        self.results: list[Result] = []
        self.shut_down = False
        self.connected = False
        self._inside = False
        self.times: list[float] = [now]

    def _enter(self) -> None:
        assert not self._inside, "the runner re-entered the modem"
        self._inside = True

    def feed(self, data: bytes, now: float) -> None:
        self._enter()
        try:
            self.times.append(now)
            self.fed.append(data)
            self._buf += data
            while True:
                cr = self._buf.find(b"\r")
                if cr < 0:
                    break
                line = bytes(self._buf[:cr]).strip()
                del self._buf[: cr + 1]
                if line:
                    self._line(line.decode("latin-1"), now)
        finally:
            self._inside = False

    def _line(self, line: str, now: float) -> None:
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "CRASH":
            raise RuntimeError("crash requested")
        if word == "TIMER":
            key, delay = rest.split()
            self._requests.append(StartTimer(key, now + float(delay)))
        elif word == "CANCEL":
            self._requests.append(CancelTimer(rest))
        elif word == "SAVE":
            name, _, value = rest.partition("=")
            self._requests.append(SaveSettings({name: value}))
        elif word == "SAVED?":
            self._out += f"\r\nSAVED: {self.saved}\r\n".encode()
        elif word == "CONNECT":
            host, port = rest.split()
            self._requests.append(Connect(1, "TCP", host, int(port)))
        elif word == "SEND":
            self._requests.append(Send(1, rest.encode()))
        elif word == "BIG":
            self._out += b"x" * int(rest)
            return
        elif word == "HOLD":
            self._requests.append(HoldSerial(rest.strip() == "1"))
        elif word == "REBOOT":
            self._requests.append(Reboot())
        elif word == "POWEROFF":
            self._requests.append(PowerDown())
        self._out += b"\r\nOK\r\n"

    def handle(self, result: Result, now: float) -> None:
        self._enter()
        try:
            self.times.append(now)
            self.results.append(result)
            if isinstance(result, TimerFired):
                self._out += f"\r\nFIRED {result.key}\r\n".encode()
            elif isinstance(result, Connected):
                self.connected = True
                self._out += b"\r\nCONNECT OK\r\n"
            elif isinstance(result, Received):
                self._out += b"+IPD,%d:" % len(result.data) + result.data
        finally:
            self._inside = False

    def take_output(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def take_requests(self) -> list[Request]:
        reqs, self._requests = self._requests, []
        return reqs

    def shutdown(self, now: float) -> None:
        self.shut_down = True
        if self.connected:
            self._requests.append(Close(1))


class FakeNet:
    """Records requests; answers Connect with Connected and echoes Send data
    back as Received (both from the loop, as the contract says)."""

    instances: ClassVar[list[FakeNet]] = []

    def __init__(
        self,
        deliver: Callable[[Result], None],
        loop: asyncio.AbstractEventLoop,
        *,
        synchronous: bool = False,
    ) -> None:
        self.deliver = deliver
        self.loop = loop
        self.synchronous = synchronous  # break the contract: deliver inside submit
        self.submitted: list[Request] = []
        self.events: list[str] = []
        self.backlog = 0
        self.paused = False
        self.closed_all = 0
        self.aclosed = False
        FakeNet.instances.append(self)

    def _send(self, result: Result) -> None:
        if self.synchronous:
            self.deliver(result)
        else:
            self.loop.call_soon(self.deliver, result)

    def submit(self, req: Request) -> None:
        self.submitted.append(req)
        self.events.append(type(req).__name__)
        if isinstance(req, Connect):
            self._send(Connected(req.sock, "127.0.0.1", req.port, 40000))
        elif isinstance(req, Send):
            self._send(Received(req.sock, b"echo:" + req.data))

    def pause_all(self) -> None:
        self.paused = True
        self.events.append("pause_all")

    def resume_all(self) -> None:
        self.paused = False
        self.events.append("resume_all")

    def write_backlog(self) -> int:
        return self.backlog

    def close_all(self) -> None:
        self.closed_all += 1
        self.events.append("close_all")

    async def aclose(self) -> None:
        self.aclosed = True
        self.events.append("aclose")


class RecordingNet:
    """The network under test of a wrapper (``ShapedNet``): records every
    request with the loop time it came and answers nothing (the test
    delivers results through ``deliver``)."""

    def __init__(self, deliver: Callable[[Result], None], loop: asyncio.AbstractEventLoop) -> None:
        self.deliver = deliver
        self.loop = loop
        self.seen: list[tuple[float, Request]] = []

    def submit(self, req: Request) -> None:
        self.seen.append((self.loop.time(), req))

    def pause_all(self) -> None: ...
    def resume_all(self) -> None: ...
    def write_backlog(self) -> int:
        return 0

    def close_all(self) -> None: ...
    async def aclose(self) -> None: ...


def fake_net_factory(deliver: Callable[[Result], None], loop: asyncio.AbstractEventLoop) -> FakeNet:
    return FakeNet(deliver, loop)


def fake_modem_factory(
    config: ModemConfig, saved: Mapping[str, object] | None, now: float
) -> FakeModem:
    return FakeModem(config, saved, now)
