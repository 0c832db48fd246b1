"""DNS queries of the PPP client to the servers IPCP announced, answered by
the emulator's resolver (``Resolve``: ``--host``, ``--dns-offline``, the
real servers), the answers built with dnspython.

A queries get A records; AAAA and other types of a name that exists get an
empty NOERROR; a name not found NXDOMAIN; a resolver that could not ask
SERVFAIL; reverse (PTR) queries NXDOMAIN. The same name asked while a query
is pending, or within ``CACHE_SECONDS``, is answered from that one
resolution (resolvers ask A and AAAA together). An answer of the host's
127.0.0.1 is given as the host alias (the client's own 127.0.0.1 is
itself). Sans-I/O, bounded (``MAX_PENDING`` queries, ``CACHE_SIZE`` names).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from ..events import Resolve, Resolved, Result
from .host import PppHost

TTL = 60  # the TTL of the answers given
CACHE_SECONDS = 5.0  # an answer is reused that long (A then AAAA of one name)
CACHE_SIZE = 256
MAX_PENDING = 64  # queries waiting for the resolver

Reply = Callable[[bytes, bytes, int, bytes], None]
"""reply(server, client, client_port, dns_message): a UDP answer from
``server``:53 to the client."""


@dataclass(slots=True, eq=False)
class _Waiter:
    query: dns.message.Message
    client: bytes
    port: int
    server: bytes


@dataclass(slots=True)
class _Pending:
    name: str
    waiters: list[_Waiter]


def _rcode(addresses: tuple[str, ...], error: int) -> dns.rcode.Rcode:
    if addresses:
        return dns.rcode.NOERROR
    return dns.rcode.NXDOMAIN if error in (0, 8) else dns.rcode.SERVFAIL


class DnsProxy:
    def __init__(
        self,
        host: PppHost,
        *,
        servers: tuple[str, ...],
        host_alias: str,
        reply: Reply,
        stats: dict[str, int],
        guard: Callable[[Callable[[Result], None]], Callable[[Result], None]] = lambda f: f,
    ) -> None:
        self.host = host
        self.servers = servers  # passed on with each Resolve
        self.host_alias = host_alias
        self.reply = reply
        self.stats = stats
        self.guard = guard
        self._pending: dict[int, _Pending] = {}
        self._names: dict[str, int] = {}  # name -> query in flight
        self._cache: dict[str, tuple[float, tuple[str, ...], int]] = {}

    def _count(self, name: str) -> None:
        self.stats[name] = self.stats.get(name, 0) + 1

    @property
    def pending(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        """Forget every query (their answers are no longer wanted)."""
        for query in self._pending:
            self.host.disown_query(query)
        self._pending.clear()
        self._names.clear()

    def query(self, client: bytes, port: int, server: bytes, payload: bytes) -> None:
        """A DNS message from ``client``:``port`` to ``server``:53."""
        self._count("dns_queries")
        try:
            query = dns.message.from_wire(payload)
        except Exception:
            self._count("dns_malformed")
            return
        if query.flags & dns.flags.QR:
            self._count("dns_malformed")
            return
        waiter = _Waiter(query, client, port, server)
        if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
            self._answer(waiter, (), dns.rcode.NOTIMP)
            return
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        if question.rdclass != dns.rdataclass.IN or not name:
            self._answer(waiter, (), dns.rcode.REFUSED)
            return
        if name.endswith((".in-addr.arpa", ".ip6.arpa")):
            self._answer(waiter, (), dns.rcode.NXDOMAIN)  # no reverse lookups
            return
        cached = self._cache.get(name)
        if cached is not None and cached[0] > self.host.now:
            self._answer(waiter, cached[1], _rcode(cached[1], cached[2]))
            return
        pending = self._names.get(name)
        if pending is not None:
            self._pending[pending].waiters.append(waiter)
            return
        if len(self._pending) >= MAX_PENDING:
            self._count("dns_dropped")
            return
        q = self.host.new_query()
        self._pending[q] = _Pending(name, [waiter])
        self._names[name] = q
        self.host.own_query(q, self.guard(self._on_resolved))
        self.host.request(Resolve(q, name, self.servers))

    def _on_resolved(self, res: Result) -> None:
        if not isinstance(res, Resolved):
            return
        pending = self._pending.pop(res.query, None)
        self.host.disown_query(res.query)
        if pending is None:
            return
        if self._names.get(pending.name) == res.query:
            del self._names[pending.name]
        rcode = _rcode(res.addresses, res.error)
        if rcode != dns.rcode.SERVFAIL:
            cache = self._cache
            cache.pop(pending.name, None)
            if len(cache) >= CACHE_SIZE:
                del cache[next(iter(cache))]
            cache[pending.name] = (self.host.now + CACHE_SECONDS, res.addresses, res.error)
        for waiter in pending.waiters:
            self._answer(waiter, res.addresses, rcode)

    def _answer(self, waiter: _Waiter, addresses: tuple[str, ...], rcode: int) -> None:
        query = waiter.query
        try:
            reply = dns.message.make_response(query, recursion_available=True)
            reply.set_rcode(dns.rcode.Rcode(rcode))
            if rcode == dns.rcode.NOERROR and query.question:
                question = query.question[0]
                if question.rdtype in (dns.rdatatype.A, dns.rdatatype.ANY):
                    ips = [
                        self.host_alias if a == "127.0.0.1" else a
                        for a in addresses
                        if a.count(".") == 3
                    ]
                    if ips:
                        reply.answer.append(
                            dns.rrset.from_text_list(
                                question.name, TTL, dns.rdataclass.IN, dns.rdatatype.A, ips
                            )
                        )
            wire = reply.to_wire(max_size=512 if query.edns < 0 else max(512, query.payload))
        except (dns.exception.DNSException, ValueError):
            self._count("dns_malformed")
            return
        self._count("dns_answers")
        self.reply(waiter.server, waiter.client, waiter.port, wire)
