"""Six links and the module as a server, end to end (issue 3).

Real emulator subprocess, real pty, real sockets on 127.0.0.1
(``serial_helpers``).  Multi-link output is parsed by ``MuxStream``: every
``+RECEIVE,<n>,<len>:`` block is taken by its length and gathered per link,
so pushes may interleave with command responses in any order the emulator
chooses (between whole responses), and every byte is checked per link on
both sides.
"""

from __future__ import annotations

import random
import re
import socket
import threading
import time

from serial_helpers import (
    HOST,
    Conn,
    Emulator,
    MuxStream,
    TcpServer,
    connect,
    free_port,
    servers,
)

CONNECTED_RE = re.compile(rb'C: (\d),0,"TCP","127\.0\.0\.1","(\d+)","CONNECTED"')


def payload(size: int, seed: int) -> bytes:
    """Binary data with the bytes a parser could trip on mixed in."""
    rnd = random.Random(seed)
    tricky = [b"\r\n", b"\x1a", b"\x1b", b"\x00", b"> ", b"\r\n+RECEIVE,1,5:\r\n", b"OK\r\n"]
    out = bytearray()
    while len(out) < size:
        out += rnd.choice(tricky) if rnd.random() < 0.3 else rnd.randbytes(rnd.randint(1, 40))
    return bytes(out[:size])


def split(data: bytes, parts: int) -> list[bytes]:
    step = -(-len(data) // parts)
    return [data[i : i + step] for i in range(0, len(data), step)]


def start_mux(emu: Emulator) -> MuxStream:
    emu.init()
    emu.command("AT+CIPMUX=1")
    emu.bring_up()
    return MuxStream(emu)


def cipstart(mux: MuxStream, n: int, port: int) -> None:
    mux.emu.send(f'AT+CIPSTART={n},"TCP","127.0.0.1",{port}')
    mux.wait_line(b"OK")


def exchange(
    mux: MuxStream,
    links: list[int],
    peers: dict[int, Conn],
    rounds: int,
    seed: int,
) -> None:
    """On every link at once: the module sends ``rounds`` blocks per link
    (CIPSEND=<n>,<len>, links interleaved), while each peer answers with its
    own data in several chunks from its own thread; both sides are checked."""
    up = {n: [payload(random.Random(seed + n * 10 + r).choice([1, 7, 300, 1460]), seed + n * 100 + r)
              for r in range(rounds)] for n in links}
    down = {n: payload(40_000 + 997 * n, seed + 1000 + n) for n in links}
    base_up = {n: peers[n].count for n in links}
    base_down = {n: len(mux.received[n]) for n in links}
    errors: list[BaseException] = []

    def reply(n: int) -> None:
        try:
            chunks = split(down[n], rounds + 1)
            peers[n].send_all(chunks[0])
            # The rest of the reply goes out while the module is still sending.
            for r, chunk in enumerate(chunks[1:]):
                peers[n].wait_count(base_up[n] + len(b"".join(up[n][: r + 1])), timeout=20)
                peers[n].send_all(chunk)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reply, args=(n,), daemon=True) for n in links]
    for t in threads:
        t.start()
    for r in range(rounds):
        for n in links:
            mux.send(n, up[n][r])
    for n in links:
        sent = b"".join(up[n])
        got = peers[n].wait_count(base_up[n] + len(sent))[base_up[n] :]
        assert got == sent, f"link {n}: the peer got different bytes"
        assert peers[n].count == base_up[n] + len(sent), f"link {n}: extra bytes at the peer"
    for t in threads:
        t.join(20)
    assert not errors, errors
    for n in links:
        got = mux.wait_received(n, base_down[n] + len(down[n]))[base_down[n] :]
        assert got == down[n], f"link {n}: +RECEIVE data differs from what the peer sent"


def check_status(mux: MuxStream, server_port: int | None, expected: dict[int, str]) -> None:
    """AT+CIPSTATUS in multi mode: OK, STATE, optional S: line, six C: lines."""
    mux.emu.send("AT+CIPSTATUS")
    mux.wait_line(b"OK")
    mux.wait_line(b"STATE: IP PROCESSING")
    if server_port is not None:
        mux.wait_line(f'S: 0,0,"{server_port}","LISTENING"'.encode())
    for n in range(6):
        state = expected.get(n)
        if state is None:
            mux.wait_line(f'C: {n},,"","","","INITIAL"'.encode())
        else:
            mux.wait_line_re(
                re.compile(rf'C: {n},0,"TCP","127\.0\.0\.1","\d+","{state}"'.encode())
            )


# --------------------------------------------------------------------------- (a)


def test_six_links_then_four_links_and_two_server_clients() -> None:
    """Phase 1: six client links at once to six different local servers.
    Phase 2: the module's own server takes two clients.

    The module has six links in all and an accepted client takes a free
    link, so "six links plus two server clients" cannot be open at the same
    moment.  One emulator, two phases: after phase 1 links 4 and 5 are
    closed, the server opens and its two clients take links 4 and 5 while
    links 0-3 stay up; then data flows on all six (four client links and
    two server clients) at once, checked on both sides again.
    """
    with Emulator() as emu, servers(6) as srvs:
        mux = start_mux(emu)
        # Phase 1: six links, six servers.
        for n in range(6):
            cipstart(mux, n, srvs[n].port)
        for n in range(6):
            mux.wait_line(f"{n}, CONNECT OK".encode())
        peers = {n: srvs[n].accept() for n in range(6)}
        check_status(mux, None, dict.fromkeys(range(6), "CONNECTED"))
        exchange(mux, list(range(6)), peers, rounds=4, seed=1)
        # Which server each link reached: its own (different data per link
        # already proves it, but check the accepted sockets too).
        for n in range(6):
            assert len(srvs[n].conns) == 1

        # Phase 2: free links 4 and 5, open the server, two clients connect.
        for n in (4, 5):
            emu.send(f"AT+CIPCLOSE={n}")
            mux.wait_line(f"{n}, CLOSE OK".encode())
            peers[n].wait_eof()
        port = free_port()
        emu.send(f"AT+CIPSERVER=1,{port}")
        mux.wait_line(b"OK")
        mux.wait_line(b"SERVER OK")
        clients: list[Conn] = []
        try:
            for n in (4, 5):
                clients.append(connect(port))
                mux.wait_line(f"{n}, REMOTE IP: 127.0.0.1".encode())
            peers[4], peers[5] = clients
            check_status(mux, port, dict.fromkeys(range(6), "CONNECTED"))
            exchange(mux, list(range(6)), peers, rounds=3, seed=2)

            # Closing the server leaves the accepted links up.
            emu.send("AT+CIPSERVER=0")
            mux.wait_line(b"OK")
            mux.wait_line(b"SERVER CLOSE")
            exchange(mux, [4, 5], peers, rounds=1, seed=3)
            # A server client closing -> "<n>, CLOSED"; nothing else moved.
            clients[0].close()
            mux.wait_line(b"4, CLOSED")
            assert mux.unexpected_lines() == [], mux.unexpected_lines()
            emu.send("AT+CIPSHUT")
            mux.wait_line(b"SHUT OK")
            for n in (0, 1, 2, 3, 5):
                peers[n].wait_eof()
            assert mux.unexpected_lines() == [], mux.unexpected_lines()
        finally:
            for c in clients:
                c.close()


# --------------------------------------------------------------------------- (b)


def test_listen_map_binds_the_mapped_port() -> None:
    modem_port, host_port = free_port(), free_port()
    while host_port == modem_port:
        host_port = free_port()
    with Emulator("--listen-map", f"{modem_port}={host_port}") as emu:
        mux = start_mux(emu)
        emu.send(f"AT+CIPSERVER=1,{modem_port}")
        mux.wait_line(b"OK")
        mux.wait_line(b"SERVER OK")
        # Nothing listens on the modem's port on the host ...
        probe = socket.socket()
        try:
            assert probe.connect_ex((HOST, modem_port)) != 0, "the unmapped port is listening"
        finally:
            probe.close()
        # ... the mapped port is the server.
        client = connect(host_port)
        try:
            mux.wait_line(b"0, REMOTE IP: 127.0.0.1")
            # The firmware still sees the port it asked for.
            check_status(mux, modem_port, {0: "CONNECTED"})
            client.send_all(b"via the mapped port")
            assert mux.wait_received(0, 19) == b"via the mapped port"
            mux.send(0, b"answer")
            assert client.wait_count(6) == b"answer"
        finally:
            client.close()
        mux.wait_line(b"0, CLOSED")


# --------------------------------------------------------------------------- (c)


def test_slow_links_do_not_delay_another_link() -> None:
    """Link 0's server never accepts nor reads (its buffers fill up), link 1
    is stuck connecting (the listener's accept queue is full, so SYNs are
    dropped); link 2 must still move data both ways at once."""
    stuck = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stuck.bind((HOST, 0))
    stuck.listen(0)
    fillers: list[socket.socket] = []
    with (
        Emulator("--connect-timeout", "60") as emu,
        TcpServer(accept=False, read=False, rcvbuf=4096, backlog=1) as lazy,
        TcpServer() as fast,
    ):
        try:
            # Fill the stuck listener's accept queue (non-blocking connects).
            for _ in range(2):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(stuck.getsockname())
                fillers.append(s)
            mux = start_mux(emu)
            cipstart(mux, 0, lazy.port)
            mux.wait_line(b"0, CONNECT OK")
            cipstart(mux, 1, stuck.getsockname()[1])
            cipstart(mux, 2, fast.port)
            mux.wait_line(b"2, CONNECT OK")
            peer = fast.accept()
            check_status(mux, None, {0: "CONNECTED", 1: "CONNECTING", 2: "CONNECTED"})

            # Pile data on link 0 (nobody reads it).
            lazy_data = payload(400 * 1460, 7)
            for chunk in split(lazy_data, 400):
                mux.send(0, chunk, timeout=20)

            # Link 2: prompt both ways, several times.
            for i in range(5):
                out = payload(1000, 100 + i)
                start = time.monotonic()
                mux.send(2, out)
                assert peer.wait_count(1000 * (i + 1))[-1000:] == out
                took = time.monotonic() - start
                assert took < 1.0, f"link 2 send took {took:.2f} s"
                back = payload(2000, 200 + i)
                start = time.monotonic()
                peer.send_all(back)
                assert mux.wait_received(2, 2000 * (i + 1))[-2000:] == back
                took = time.monotonic() - start
                assert took < 1.0, f"link 2 receive took {took:.2f} s"
            assert mux.unexpected_lines() == [], mux.unexpected_lines()

            # Link 0 lost nothing: once its server accepts and reads, all arrives.
            sock, _ = lazy.listener.accept()
            late = Conn(sock)
            assert late.wait_count(len(lazy_data), timeout=20) == lazy_data
            late.close()
            mux.wait_line(b"0, CLOSED")
            emu.send("AT+CIPSHUT")
            mux.wait_line(b"SHUT OK")
            assert mux.unexpected_lines() == [], mux.unexpected_lines()
        finally:
            for s in fillers:
                s.close()
            stuck.close()
