"""Name resolution for the emulated modem (``AT+CDNSGIP`` and host names in
``AT+CIPSTART``).

A name is answered, in this order, by:

1. itself, when it is an IP literal;
2. the user's hosts table (``NetConfig.hosts``, case-insensitive);
3. nothing at all when ``NetConfig.dns_offline``: error 8 at once, and no
   packet leaves the host;
4. a real DNS query (dnspython, A records, recursion desired) to the modem's
   servers (``AT+CDNSCFG``; ``0.0.0.0`` entries skipped), or when the modem
   has none to ``NetConfig.default_dns``, on port ``NetConfig.dns_port``.
   Each server goes through the route table and the allow/deny lists like any
   other destination: a server that is not permitted is not queried;
5. when there is no server to ask at all, the host's own resolver
   (``getaddrinfo``) if ``NetConfig.use_host_resolver``, else error 3.

Errors are the manual's ``+CDNSGIP`` codes: 8 (name not found, or any other
failure of the answer) and 3 (network error: time-out, unreachable or
failing servers, servers denied by policy).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

from sim800emu.net.config import NetConfig
from sim800emu.net.policy import (
    canonical_destination,
    find_route,
    is_permitted,
    normalize_host,
    parse_ip,
)

__all__ = ["ERR_NETWORK", "ERR_NOT_FOUND", "Resolution", "Resolver", "host_dns_servers"]

_log = logging.getLogger("sim800emu.net")

ERR_NOT_FOUND = 8
"""``+CDNSGIP`` error: the name does not exist / has no address (and any
other failure that is not the network's)."""
ERR_NETWORK = 3
"""``+CDNSGIP`` error: network error (time-out, no usable or permitted server)."""

MAX_ADDRESSES = 2  # the SIM800 reports at most two addresses


@dataclass(frozen=True, slots=True)
class Resolution:
    """The outcome of :meth:`Resolver.resolve`: ``addresses`` (IPv4, at most
    two) or, when empty, the ``error`` code and a ``reason`` for logs."""

    addresses: tuple[str, ...] = ()
    error: int = 0
    reason: str = ""


def host_dns_servers(path: str | os.PathLike[str] = "/etc/resolv.conf") -> tuple[str, ...]:
    """The name servers the host uses (``nameserver`` lines of ``path``), for
    ``NetConfig.default_dns``; ``()`` when the file is missing or lists none."""
    reader = dns.resolver.Resolver(configure=False)
    try:
        reader.read_resolv_conf(path)
    except dns.exception.DNSException:
        return ()
    servers: list[str] = []
    for server in reader.nameservers:
        address = str(server) if isinstance(server, str) else _ns_address(server)
        if address is not None and address not in servers:
            servers.append(address)
    return tuple(servers)


def _ns_address(server: dns.nameserver.Nameserver) -> str | None:
    if isinstance(server, dns.nameserver.AddressAndPortNameserver):
        return server.address
    return None


def _usable_server(text: str) -> str | None:
    address = parse_ip(text)
    if address is None or address.is_unspecified:
        return None
    return str(address)


class Resolver:
    """Resolves names as described in the module docstring. One per driver;
    stateless apart from its configuration (no cache: the SIM800 asks the
    network every time)."""

    __slots__ = ("_config", "_hosts")

    def __init__(self, config: NetConfig) -> None:
        self._config = config
        self._hosts = {normalize_host(name): ip for name, ip in config.hosts.items()}

    def lookup_hosts(self, name: str) -> str | None:
        """``name``'s address in the hosts table, if any."""
        return self._hosts.get(normalize_host(name))

    async def resolve(self, name: str, servers: Sequence[str] = ()) -> Resolution:
        """Resolve ``name`` with the modem's DNS ``servers`` (``AT+CDNSCFG``)."""
        literal = parse_ip(name)
        if literal is not None:
            return Resolution((str(literal),))
        known = self.lookup_hosts(name)
        if known is not None:
            return Resolution((known,))
        if self._config.dns_offline:
            return Resolution(
                error=ERR_NOT_FOUND, reason=f"{name}: not in the hosts table (DNS offline)"
            )
        qname = normalize_host(name)
        if not qname:
            return Resolution(error=ERR_NOT_FOUND, reason="empty name")
        candidates = [s for s in (_usable_server(t) for t in servers) if s is not None]
        if not candidates:
            candidates = [
                s for s in (_usable_server(t) for t in self._config.default_dns) if s is not None
            ]
        if not candidates:
            if self._config.use_host_resolver:
                return await self._host_lookup(qname)
            return Resolution(error=ERR_NETWORK, reason=f"{name}: no DNS server configured")
        nameservers = await self._permitted_servers(candidates)
        if not nameservers:
            _log.warning(
                "DNS servers %s not permitted by policy: %s not resolved",
                ", ".join(candidates),
                name,
            )
            return Resolution(error=ERR_NETWORK, reason="DNS servers denied by policy")
        return await self._query(qname, nameservers)

    async def resolve_local(self, host: str) -> str:
        """An address for a host *the user* named (a route's target): an IP
        literal, the hosts table, else the host's resolver. Raises ``OSError``
        when there is none."""
        literal = parse_ip(host)
        if literal is not None:
            return str(literal)
        known = self.lookup_hosts(host)
        if known is not None:
            return known
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._config.dns_timeout):
                infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except TimeoutError:
            raise OSError(f"cannot resolve {host}: time-out") from None
        for wanted in (socket.AF_INET, socket.AF_INET6):  # IPv4 first, like the modem
            for family, _type, _proto, _canon, sockaddr in infos:
                if family == wanted:
                    return str(sockaddr[0])
        raise OSError(f"cannot resolve {host}: no address")

    async def _permitted_servers(
        self, candidates: Sequence[str]
    ) -> list[dns.nameserver.Nameserver]:
        config = self._config
        result: list[dns.nameserver.Nameserver] = []
        for server in candidates:
            address, port = server, config.dns_port
            route = find_route(config.routes, server, port)
            if route is not None:
                target, port = route.apply(port)
                try:
                    address = await self.resolve_local(target)
                except OSError as exc:
                    _log.warning("DNS server %s routed to %s: %s", server, target, exc)
                    continue
            if not is_permitted(address, config.allow, config.deny):
                continue
            address = str(canonical_destination(address) or address)
            result.append(dns.nameserver.Do53Nameserver(address, port))
        return result

    async def _query(self, qname: str, nameservers: list[dns.nameserver.Nameserver]) -> Resolution:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = nameservers
        resolver.timeout = self._config.dns_timeout
        resolver.lifetime = self._config.dns_timeout
        try:
            answer = await resolver.resolve(qname, dns.rdatatype.A, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.YXDOMAIN) as exc:
            return Resolution(error=ERR_NOT_FOUND, reason=f"{qname}: {exc}")
        except (dns.exception.Timeout, dns.resolver.NoNameservers, OSError) as exc:
            return Resolution(error=ERR_NETWORK, reason=f"{qname}: {exc}")
        except dns.exception.DNSException as exc:  # bad name, malformed answer...
            return Resolution(error=ERR_NOT_FOUND, reason=f"{qname}: {exc}")
        addresses: list[str] = []
        for rdata in answer:
            address = str(rdata)
            if parse_ip(address) is not None and address not in addresses:
                addresses.append(address)
        if not addresses:
            return Resolution(error=ERR_NOT_FOUND, reason=f"{qname}: no address")
        return Resolution(tuple(addresses[:MAX_ADDRESSES]))

    async def _host_lookup(self, qname: str) -> Resolution:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._config.dns_timeout):
                infos = await loop.getaddrinfo(
                    qname, None, family=socket.AF_INET, type=socket.SOCK_STREAM
                )
        except TimeoutError:
            return Resolution(error=ERR_NETWORK, reason=f"{qname}: time-out (host resolver)")
        except socket.gaierror as exc:
            not_found = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
            code = ERR_NOT_FOUND if exc.errno in not_found else ERR_NETWORK
            return Resolution(error=code, reason=f"{qname}: {exc}")
        except OSError as exc:
            return Resolution(error=ERR_NETWORK, reason=f"{qname}: {exc}")
        addresses: list[str] = []
        for _family, _type, _proto, _canon, sockaddr in infos:
            address = str(sockaddr[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            return Resolution(error=ERR_NOT_FOUND, reason=f"{qname}: no address")
        return Resolution(tuple(addresses[:MAX_ADDRESSES]))
