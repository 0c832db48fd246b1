"""Writes gathered per loop turn (sim800emu/writebatch.py): order, the loop's
next turn, and what a serial line and a link do with the bytes still due
when they close (real sockets on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from test_net_driver import LOCAL, Harness, aio, tcp_server

from sim800emu.core.events import Close, Connect, Connected, PeerClosed, Received, Send, Shutdown
from sim800emu.net.driver import _Link
from sim800emu.transports.tcp import StreamLine
from sim800emu.writebatch import defer


@aio
async def test_flushes_run_at_the_next_turn_in_order() -> None:
    calls: list[int] = []
    defer(lambda: calls.append(1))
    defer(lambda: calls.append(2))
    assert calls == []  # not from inside the caller
    await asyncio.sleep(0)
    assert calls == [1, 2]
    defer(lambda: calls.append(3))  # a new turn, a new batch
    await asyncio.sleep(0)
    assert calls == [1, 2, 3]


def test_without_a_running_loop_a_flush_runs_at_once() -> None:
    calls: list[int] = []
    defer(lambda: calls.append(1))
    assert calls == [1]


def test_a_loop_that_stopped_with_flushes_due_does_not_hold_up_the_next() -> None:
    calls: list[str] = []
    first = asyncio.new_event_loop()
    try:
        def write_then_stop() -> None:
            defer(lambda: calls.append("never"))
            first.stop()  # the flush is due in a turn that never comes

        first.call_soon(write_then_stop)
        first.run_forever()
    finally:
        first.close()

    async def later() -> None:
        defer(lambda: calls.append("next loop"))
        await asyncio.sleep(0)

    asyncio.run(asyncio.wait_for(later(), 5))
    assert calls == ["next loop"]


@aio
async def test_a_failing_flush_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def boom() -> None:
        raise RuntimeError("boom")

    defer(boom)
    defer(lambda: calls.append(2))
    with caplog.at_level(logging.ERROR, logger="sim800emu.writebatch"):
        await asyncio.sleep(0)
    assert calls == [2]
    assert "deferred write failed" in caplog.text


@aio
async def test_serial_writes_of_a_turn_arrive_whole_in_order_and_close_sends_them() -> None:
    loop = asyncio.get_running_loop()
    host, modem = socket.socketpair()
    host.setblocking(False)
    line = StreamLine()
    await loop.connect_accepted_socket(lambda: line, modem)
    try:
        for k in range(100):
            line.write(b"%d," % k)
        assert line.write_backlog() > 0  # counted while due
        line.close()  # right away: what was written still goes out
        got = bytearray()
        while True:
            chunk = await loop.sock_recv(host, 65536)
            if not chunk:
                break
            got += chunk
        assert bytes(got) == b"".join(b"%d," % k for k in range(100))
    finally:
        host.close()


async def _collector() -> tuple[asyncio.Server, int, asyncio.Future[bytes]]:
    """A server that keeps what one client sends, until its EOF."""
    done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def keep(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()
        if not done.done():
            done.set_result(data)
        writer.close()

    server, port = await tcp_server(keep)
    return server, port, done


@pytest.mark.parametrize("close", ["graceful", "quick", "shutdown"])
@aio
async def test_data_sent_just_before_a_close_or_half_close_still_goes_first(close: str) -> None:
    server, port, done = await _collector()
    async with server, Harness() as h:
        h.submit(Connect(1, "TCP", LOCAL, port))
        await h.first(Connected, 1)
        h.submit(Send(1, b"first "))
        h.submit(Send(1, b"second"))  # the same turn: one write, in order
        if close == "shutdown":
            h.submit(Shutdown(1))
        else:
            h.submit(Close(1, quick=close == "quick"))
        if close == "quick":
            # an abort may reset the connection before the server reads;
            # what reaches it must still be the data, whole or a head of it
            got = await asyncio.wait_for(asyncio.shield(done), 5)
            assert b"first second".startswith(got)
        else:
            assert await asyncio.wait_for(done, 5) == b"first second"


@aio
async def test_data_read_is_delivered_at_once_unless_results_of_its_link_are_queued() -> None:
    async with Harness() as h:
        link = _Link(7, udp=False)
        first, second = PeerClosed(7), Received(7, b"x", LOCAL, 1)
        h.driver._emit_now(link, second)  # nothing queued: delivered now
        assert h.results == [second]
        h.results.clear()
        h.driver._emit(link, first)  # queued for the next turn ...
        h.driver._emit_now(link, second)  # ... so this waits behind it
        assert h.results == []
        await asyncio.sleep(0)
        assert h.results == [first, second]
        assert link.queued == 0
