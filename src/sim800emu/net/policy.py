"""Where the emulated modem may go: route rewriting and allow/deny lists.

Pure functions and immutable values, no I/O. The network driver applies them
to every outgoing destination (``CIPSTART`` links, UDP sends and the DNS
servers it queries):

1. **Routes** rewrite an address the firmware has built in to one the host can
   use, so firmware meant for a production server can be pointed at a local
   test server without a rebuild. A route matches a host (a name or an IP,
   compared case-insensitively, without a trailing dot) and either one port
   or every port (``port`` is ``None``). Its target keeps the original port
   when its own port is ``None``.

   Written on the command line as ``FROM=TO`` where each side is
   ``host[:port]`` (``[v6addr]:port`` for IPv6)::

       116.236.221.75:6780=127.0.0.1:16780   one address and port
       example.com:80=127.0.0.1:8080         a name the firmware connects to
       10.0.0.5=127.0.0.1                    every port of 10.0.0.5

   When several routes match, one naming the port wins over one for every
   port; among equals the first given wins.

2. **Allow/deny lists** of networks decide whether a destination (after
   routing) may be reached: it is permitted when it is in no denied network
   and either the allow list is empty or it is in an allowed network.

Canonical destinations
----------------------
The lists are checked on the address the host's network stack would really
reach (:func:`canonical_destination`), never on the spelling the firmware
used, so no spelling slips past a ``--deny``:

* every IPv4 spelling ``inet_aton`` accepts is the same address
  (``127.1``, ``0x7f.0.0.1``, ``2130706433``, ``017700000001``,
  ``127.000.000.001``; :func:`parse_address`);
* an IPv4-mapped IPv6 address (``::ffff:127.0.0.1``) is its IPv4 address;
* the unspecified addresses ``0.0.0.0`` and ``::`` reach the host itself, so
  they are checked (and connected to) as ``127.0.0.1`` and ``::1``;
* names are resolved first (hosts table, DNS or the host's resolver), and the
  address they resolve to is what is checked.

A destination is denied when any of its spellings (as given, unwrapped, or
canonical) is in a denied network, so ``--deny 0.0.0.0/32`` and
``--deny ::ffff:127.0.0.0/104`` work as written; it is allowed only when the
canonical address is in an allowed network (an allowed network written in
IPv4-mapped form counts as its IPv4 network).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_HOST_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?")


def normalize_host(host: str) -> str:
    """The form hosts are compared in: stripped, lower case, no trailing dot,
    no IPv6 brackets; IP literals (any spelling, see :func:`parse_address`)
    in their canonical text, IPv4-mapped IPv6 as IPv4."""
    text = host.strip().rstrip(".").lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    address = parse_address(text)
    return text if address is None else str(address)


def parse_ip(text: str) -> IPAddress | None:
    """``text`` as an IP address, or ``None`` when it is not an IP literal."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_ip_literal(text: str) -> bool:
    return parse_ip(text) is not None


_V4_PART = re.compile(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*")


def _v4_part(text: str) -> int:
    if text[:2] in ("0x", "0X"):
        return int(text, 16)
    return int(text, 8) if len(text) > 1 and text[0] == "0" else int(text)


def _parse_ipv4_any(text: str) -> ipaddress.IPv4Address | None:
    """IPv4 in every spelling ``inet_aton`` takes: one to four parts, each
    decimal, octal (leading ``0``) or hex (``0x``); the last part fills the
    bytes the others leave (``127.1``, ``2130706433``)."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(_V4_PART.fullmatch(p) for p in parts):
        return None
    *head, last = (_v4_part(p) for p in parts)
    if any(v > 0xFF for v in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    number = last
    for i, v in enumerate(head):
        number |= v << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


def parse_address(text: str) -> IPAddress | None:
    """``text`` as an IP address in any spelling the host's stack would
    connect to: IPv6 (with or without brackets) and every IPv4 form of
    :func:`_parse_ipv4_any`; an IPv4-mapped IPv6 address comes back as its
    IPv4 address. ``None`` when ``text`` is a name."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    address = parse_ip(text)
    if address is None:
        address = _parse_ipv4_any(text)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


_LOOPBACK: dict[int, IPAddress] = {
    4: ipaddress.IPv4Address("127.0.0.1"),
    6: ipaddress.IPv6Address("::1"),
}


def canonical_destination(ip: str | IPAddress) -> IPAddress | None:
    """The address a connection to ``ip`` really reaches (see "Canonical
    destinations" above): any spelling parsed, IPv4-mapped unwrapped, and the
    unspecified address of either family replaced by its loopback address.
    ``None`` for a name."""
    address = parse_address(str(ip))
    if address is not None and address.is_unspecified:
        return _LOOPBACK[address.version]
    return address


def _spellings(ip: str | IPAddress) -> tuple[IPAddress, ...]:
    """``ip`` as given, unwrapped and canonical; IPv4 ones also IPv4-mapped."""
    given = parse_ip(ip) if isinstance(ip, str) else ip
    unwrapped = parse_address(str(ip))
    canonical = canonical_destination(str(ip))
    forms: list[IPAddress] = []
    for address in (given, unwrapped, canonical):
        if address is None:
            continue
        forms.append(address)
        if isinstance(address, ipaddress.IPv4Address):
            forms.append(ipaddress.IPv6Address(f"::ffff:{address}"))
    return tuple(dict.fromkeys(forms))


@dataclass(frozen=True, slots=True)
class Route:
    """Rewrite ``match_host[:match_port]`` to ``to_host[:to_port]``.

    ``match_port`` ``None``: every port; ``to_port`` ``None``: keep the port.
    ``match_host`` is stored normalized (see :func:`normalize_host`).
    """

    match_host: str
    match_port: int | None
    to_host: str
    to_port: int | None = None

    def matches(self, host: str, port: int) -> bool:
        return self.match_host == normalize_host(host) and (
            self.match_port is None or self.match_port == port
        )

    def apply(self, port: int) -> tuple[str, int]:
        """The destination for a connection to ``port`` of the matched host."""
        return self.to_host, port if self.to_port is None else self.to_port

    def __str__(self) -> str:
        return f"{_format(self.match_host, self.match_port)}={_format(self.to_host, self.to_port)}"


def _format(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def parse_port(text: str, what: str = "port") -> int:
    """A TCP/UDP port number 1..65535, or ``ValueError`` saying what is wrong."""
    text = text.strip()
    if not text.isdigit():
        raise ValueError(f"{what} {text!r} is not a number")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"{what} {port} is out of range 1..65535")
    return port


def parse_host_port(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` → (normalized host, port)."""
    text = text.strip()
    if not text:
        raise ValueError("empty address")
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"{text!r}: missing ']'")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"{text!r}: expected ':port' after ']'")
        port = parse_port(rest[1:]) if rest else None
        if parse_ip(host) is None:
            raise ValueError(f"{text!r}: {host!r} is not an IP address")
        return normalize_host(host), port
    if text.count(":") > 1:  # a bare IPv6 address, no port
        if parse_ip(text) is None:
            raise ValueError(f"{text!r} is not an address (write IPv6 as [addr]:port)")
        return normalize_host(text), None
    host, sep, port_text = text.partition(":")
    if not host.strip():
        raise ValueError(f"{text!r}: missing host")
    name = normalize_host(host)
    if parse_ip(name) is None and not _HOST_NAME.fullmatch(name):
        raise ValueError(f"{text!r}: {host.strip()!r} is not a host name or IP address")
    return name, parse_port(port_text) if sep else None


def parse_route(text: str) -> Route:
    """Parse a ``--route`` value: ``FROM=TO`` (see the module docstring)."""
    source, sep, target = text.partition("=")
    if not sep:
        raise ValueError(
            f"route {text!r}: expected FROM=TO, e.g. 116.236.221.75:6780=127.0.0.1:16780"
        )
    try:
        match_host, match_port = parse_host_port(source)
        to_host, to_port = parse_host_port(target)
    except ValueError as exc:
        raise ValueError(f"route {text!r}: {exc}") from None
    return Route(match_host, match_port, to_host, to_port)


def find_route(routes: Sequence[Route], host: str, port: int) -> Route | None:
    """The route for ``host:port``: one naming the port beats one for every
    port; among equals, the first."""
    key = normalize_host(host)
    fallback: Route | None = None
    for route in routes:
        if route.match_host != key:
            continue
        if route.match_port == port:
            return route
        if route.match_port is None and fallback is None:
            fallback = route
    return fallback


def parse_network(text: str) -> IPNetwork:
    """A CIDR (``10.0.0.0/8``) or a single address, or ``ValueError``."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a network (expected e.g. 10.0.0.0/8 or 127.0.0.1)"
        ) from None


def _within(address: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(address in net for net in networks)


def in_networks(ip: str | IPAddress, networks: Iterable[IPNetwork]) -> bool:
    """Whether any spelling of the destination ``ip`` is in ``networks``."""
    nets = tuple(networks)
    return any(_within(form, nets) for form in _spellings(ip))


def is_permitted(
    ip: str | IPAddress,
    allow: Sequence[IPNetwork] = (),
    deny: Sequence[IPNetwork] = (),
) -> bool:
    """Whether the destination ``ip`` may be reached: no spelling of it in a
    ``deny`` network and, when ``allow`` is not empty, the address it really
    reaches (:func:`canonical_destination`) in one of its networks. A string
    that is not an IP address is never permitted."""
    canonical = canonical_destination(ip)
    if canonical is None:
        return False
    if in_networks(ip, deny):
        return False
    if not allow:
        return True
    reached: list[IPAddress] = [canonical]
    if isinstance(canonical, ipaddress.IPv4Address):
        reached.append(ipaddress.IPv6Address(f"::ffff:{canonical}"))
    return any(_within(form, allow) for form in reached)
