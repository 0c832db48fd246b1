"""A tiny real DNS server for tests: UDP on 127.0.0.1 at a port the OS
chooses, answering A queries from a dict (NXDOMAIN for unknown names, an
empty NOERROR answer for other types of known names), counting queries.

    async with DnsServer({"device.example": "127.0.0.1"}) as server:
        ... NetConfig(dns_port=server.port) ...
        assert server.count == 1

``DnsThread`` runs one on a loop of its own in a thread (for tests that
drive the emulator from plain blocking code).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import dns.exception
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class DnsServer(asyncio.DatagramProtocol):
    def __init__(self, records: Mapping[str, str | Sequence[str]]) -> None:
        self.records: dict[str, list[str]] = {
            name.lower().rstrip("."): [ips] if isinstance(ips, str) else list(ips)
            for name, ips in records.items()
        }
        self.queries: list[tuple[str, str]] = []  # (name, type) in arrival order
        self.port = 0
        self._transport: asyncio.DatagramTransport | None = None

    @property
    def count(self) -> int:
        return len(self.queries)

    async def start(self) -> DnsServer:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=("127.0.0.1", 0)
        )
        self._transport = transport
        self.port = int(transport.get_extra_info("sockname")[1])
        return self

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def __aenter__(self) -> DnsServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return
        if not query.question:
            return
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        self.queries.append((name, dns.rdatatype.to_text(question.rdtype)))
        response = dns.message.make_response(query)
        ips = self.records.get(name)
        if ips is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.A:
            response.answer.append(
                dns.rrset.from_text_list(question.name, 60, dns.rdataclass.IN, dns.rdatatype.A, ips)
            )
        if self._transport is not None:
            self._transport.sendto(response.to_wire(), addr)


class DnsThread:
    """A ``DnsServer`` on its own loop in a thread."""

    def __init__(self, records: dict[str, str | list[str]]) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = DnsServer(records)
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.server.start())
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert started.wait(5)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
