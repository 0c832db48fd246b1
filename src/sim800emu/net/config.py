"""How the network driver behaves: one immutable :class:`NetConfig`, and the
helpers that turn command-line strings into its fields (each raises
``ValueError`` with a message fit to show the user)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sim800emu.net.policy import (
    IPNetwork,
    Route,
    normalize_host,
    parse_ip,
    parse_network,
    parse_port,
    parse_route,
)

__all__ = [
    "NetConfig",
    "Route",
    "parse_host_entry",
    "parse_listen_map",
    "parse_network",
    "parse_route",
]


@dataclass(frozen=True, slots=True)
class NetConfig:
    """Settings of :class:`sim800emu.net.driver.NetDriver`.

    * ``hosts``: name → IP, looked up (case-insensitively) before any DNS query.
    * ``dns_offline``: names not in ``hosts`` fail at once (error 8) and no
      DNS packet ever leaves the host.
    * ``use_host_resolver``: when neither the modem (``AT+CDNSCFG``) nor
      ``default_dns`` gives a usable server, ask the host's resolver
      (``getaddrinfo``) instead of failing with error 3.
    * ``default_dns``: servers used when the modem's are unset/``0.0.0.0``
      (the CLI fills it from the host's ``/etc/resolv.conf``, see
      :func:`sim800emu.net.resolver.host_dns_servers`).
    * ``dns_port`` / ``dns_timeout``: the port every DNS server is asked on,
      and the time a whole resolution may take.
    * ``routes``: destination rewriting (:mod:`sim800emu.net.policy`).
    * ``allow`` / ``deny``: which destinations (after routing) are permitted;
      empty lists permit everything.
    * ``listen_host``: where ``AT+CIPSERVER`` listens; ``listen_map`` maps a
      modem port to the host port actually bound (``5555 → 15555``).
    * ``connect_timeout``: seconds before a ``CIPSTART`` gives up.
    * ``tls_verify`` / ``tls_ca``: check TLS servers' certificates (against
      the CA file only, when one is given; else the system's CAs). Off by
      default, as the SIM800 itself does not verify.
    """

    hosts: Mapping[str, str] = field(default_factory=dict)
    dns_offline: bool = False
    use_host_resolver: bool = False
    default_dns: tuple[str, ...] = ()
    dns_port: int = 53
    dns_timeout: float = 5.0
    routes: tuple[Route, ...] = ()
    allow: tuple[IPNetwork, ...] = ()
    deny: tuple[IPNetwork, ...] = ()
    listen_host: str = "127.0.0.1"
    listen_map: Mapping[int, int] = field(default_factory=dict)
    connect_timeout: float = 75.0
    tls_verify: bool = False
    tls_ca: str | None = None


def parse_host_entry(text: str) -> tuple[str, str]:
    """``"name=ip"`` (a ``--host`` value) → ``(name, ip)``, name normalized
    to lower case without a trailing dot."""
    name, sep, ip = text.partition("=")
    name = normalize_host(name)
    if not sep or not name or not ip.strip():
        raise ValueError(f"host entry {text!r}: expected NAME=IP, e.g. api.example.com=127.0.0.1")
    address = parse_ip(ip)
    if address is None:
        raise ValueError(f"host entry {text!r}: {ip.strip()!r} is not an IP address")
    return name, str(address)


def parse_listen_map(text: str) -> tuple[int, int]:
    """``"5555=15555"`` (a ``--listen-map`` value) → ``(5555, 15555)``: the
    modem's server port 5555 is bound on host port 15555."""
    modem, sep, host = text.partition("=")
    if not sep:
        raise ValueError(f"listen map {text!r}: expected MODEM_PORT=HOST_PORT, e.g. 5555=15555")
    try:
        return parse_port(modem, "modem port"), parse_port(host, "host port")
    except ValueError as exc:
        raise ValueError(f"listen map {text!r}: {exc}") from None
