"""Route rewriting, allow/deny lists and the CLI parsers of the network
configuration (pure: no sockets)."""

from __future__ import annotations

import ipaddress

import pytest

from sim800emu.net.config import (
    NetConfig,
    parse_host_entry,
    parse_listen_map,
    parse_network,
    parse_route,
)
from sim800emu.net.policy import (
    Route,
    canonical_destination,
    find_route,
    in_networks,
    is_permitted,
    normalize_host,
    parse_address,
)

# ---------------------------------------------------------------- routes


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("116.236.221.75:6780=127.0.0.1:16780", Route("116.236.221.75", 6780, "127.0.0.1", 16780)),
        ("example.com:80=127.0.0.1:8080", Route("example.com", 80, "127.0.0.1", 8080)),
        ("10.0.0.5=127.0.0.1", Route("10.0.0.5", None, "127.0.0.1", None)),
        ("10.0.0.5=127.0.0.1:9000", Route("10.0.0.5", None, "127.0.0.1", 9000)),
        ("10.0.0.5:80=localhost", Route("10.0.0.5", 80, "localhost", None)),
        (
            " API.Example.COM.:443 = 127.0.0.1:8443 ",
            Route("api.example.com", 443, "127.0.0.1", 8443),
        ),
        ("[2001:db8::1]:80=[::1]:8080", Route("2001:db8::1", 80, "::1", 8080)),
        ("2001:db8::1=::1", Route("2001:db8::1", None, "::1", None)),
    ],
)
def test_parse_route(text: str, route: Route) -> None:
    assert parse_route(text) == route


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.0.0.5", "expected FROM=TO"),
        ("=127.0.0.1", "empty address"),
        ("10.0.0.5=", "empty address"),
        ("10.0.0.5:http=127.0.0.1", "not a number"),
        ("10.0.0.5:0=127.0.0.1", "out of range"),
        ("10.0.0.5:70000=127.0.0.1", "out of range"),
        ("10.0.0.5=127.0.0.1:", "not a number"),
        ("bad host:80=127.0.0.1", "not a host name"),
        ("[::1=127.0.0.1", "missing ']'"),
        ("[example.com]:80=127.0.0.1", "not an IP address"),
        (":80=127.0.0.1", "missing host"),
    ],
)
def test_parse_route_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="route") as info:
        parse_route(text)
    assert message in str(info.value)


def test_route_str_round_trips() -> None:
    for text in ("1.2.3.4:80=127.0.0.1:8080", "example.com=127.0.0.1", "[::1]:80=10.0.0.1"):
        assert str(parse_route(text)) == text
        assert parse_route(str(parse_route(text))) == parse_route(text)


def test_route_apply_keeps_port_unless_given() -> None:
    assert parse_route("10.0.0.5=127.0.0.1").apply(6780) == ("127.0.0.1", 6780)
    assert parse_route("10.0.0.5=127.0.0.1:1").apply(6780) == ("127.0.0.1", 1)
    assert parse_route("10.0.0.5:6780=127.0.0.1").apply(6780) == ("127.0.0.1", 6780)


def test_find_route_prefers_the_port_then_the_first() -> None:
    any_port = parse_route("10.0.0.5=127.0.0.1")
    port_80 = parse_route("10.0.0.5:80=127.0.0.2")
    also_any = parse_route("10.0.0.5=127.0.0.3")
    name = parse_route("Example.com:80=127.0.0.4")
    routes = (any_port, port_80, also_any, name)
    assert find_route(routes, "10.0.0.5", 80) is port_80
    assert find_route(routes, "10.0.0.5", 81) is any_port
    assert find_route(routes, "10.0.0.6", 80) is None
    assert find_route(routes, "EXAMPLE.COM.", 80) is name
    assert find_route(routes, "example.com", 81) is None
    assert find_route((), "10.0.0.5", 80) is None
    assert name.matches("example.com", 80) and not name.matches("example.org", 80)


def test_normalize_host() -> None:
    assert normalize_host(" WWW.Example.COM. ") == "www.example.com"
    assert normalize_host("[::1]") == "::1"
    assert normalize_host("2001:DB8:0:0::1") == "2001:db8::1"
    assert normalize_host("127.0.0.1") == "127.0.0.1"


# ------------------------------------------------------------- allow/deny


def nets(*texts: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(parse_network(t) for t in texts)


def test_everything_permitted_by_default() -> None:
    assert is_permitted("8.8.8.8")
    assert is_permitted("127.0.0.1")
    assert is_permitted("::1")
    assert is_permitted(ipaddress.ip_address("10.1.2.3"))


def test_deny_wins_over_allow() -> None:
    allow = nets("10.0.0.0/8")
    deny = nets("10.1.0.0/16")
    assert is_permitted("10.2.3.4", allow, deny)
    assert not is_permitted("10.1.3.4", allow, deny)
    assert not is_permitted("192.168.1.1", allow, deny)
    assert not is_permitted("192.168.1.1", (), nets("0.0.0.0/0"))
    assert is_permitted("192.168.1.1", (), nets("10.0.0.0/8"))


def test_permission_checks_the_right_family() -> None:
    assert not is_permitted("::1", nets("127.0.0.0/8"))
    assert is_permitted("::1", nets("127.0.0.0/8", "::1/128"))
    # An IPv4-mapped IPv6 address is treated as the IPv4 address.
    assert is_permitted("::ffff:127.0.0.1", nets("127.0.0.0/8"))
    assert not is_permitted("::ffff:10.0.0.1", (), nets("10.0.0.0/8"))
    assert in_networks("10.0.0.1", nets("10.0.0.0/8"))
    assert not in_networks("not an ip", nets("0.0.0.0/0"))


def test_a_name_is_never_permitted() -> None:
    assert not is_permitted("example.com")


def test_parse_network() -> None:
    assert parse_network("10.0.0.0/8") == ipaddress.ip_network("10.0.0.0/8")
    assert parse_network("10.1.2.3/8") == ipaddress.ip_network("10.0.0.0/8")  # host bits allowed
    assert parse_network("127.0.0.1") == ipaddress.ip_network("127.0.0.1/32")
    assert parse_network("::1") == ipaddress.ip_network("::1/128")
    with pytest.raises(ValueError, match="not a network"):
        parse_network("10.0.0.0/33")
    with pytest.raises(ValueError, match="not a network"):
        parse_network("example.com")


# ---------------------------------------------------------- other parsers


def test_parse_host_entry() -> None:
    assert parse_host_entry("API.Example.com=10.0.0.1") == ("api.example.com", "10.0.0.1")
    assert parse_host_entry("v6.example = ::1") == ("v6.example", "::1")
    for bad, message in [
        ("api.example.com", "expected NAME=IP"),
        ("=10.0.0.1", "expected NAME=IP"),
        ("api.example.com=", "expected NAME=IP"),
        ("api.example.com=example.org", "not an IP address"),
        ("api.example.com=10.0.0.256", "not an IP address"),
    ]:
        with pytest.raises(ValueError, match="host entry") as info:
            parse_host_entry(bad)
        assert message in str(info.value)


def test_parse_listen_map() -> None:
    assert parse_listen_map("5555=15555") == (5555, 15555)
    assert parse_listen_map(" 80 = 8080 ") == (80, 8080)
    for bad, message in [
        ("5555", "expected MODEM_PORT=HOST_PORT"),
        ("x=15555", "modem port 'x' is not a number"),
        ("5555=70000", "host port 70000 is out of range"),
        ("0=1", "modem port 0 is out of range"),
    ]:
        with pytest.raises(ValueError, match="listen map") as info:
            parse_listen_map(bad)
        assert message in str(info.value)


def test_net_config_defaults() -> None:
    config = NetConfig()
    assert config.hosts == {} and config.listen_map == {}
    assert config.routes == () and config.allow == () and config.deny == ()
    assert (config.dns_port, config.dns_timeout, config.connect_timeout) == (53, 5.0, 75.0)
    assert config.listen_host == "127.0.0.1"
    assert not (config.dns_offline or config.use_host_resolver or config.tls_verify)
    assert config.default_dns == () and config.tls_ca is None
    with pytest.raises(AttributeError):
        config.dns_port = 5353  # type: ignore[misc]


# ------------------------------------------------- canonical destinations

LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "0x7f.0.0.1",
    "0x7F.1",
    "0177.0.0.1",
    "0177.0.0.01",
    "127.000.000.001",
    "2130706433",
    "0x7f000001",
    "017700000001",
    " 127.0.0.1 ",
    "127.255.255.254",
    "0.0.0.0",
    "0",
    "0x0",
    "00",
    "0.0",
    "::ffff:127.0.0.1",
    "::FFFF:7f00:1",
    "[::ffff:127.0.0.1]",
    "::ffff:0.0.0.0",
]
V6_LOOPBACK_SPELLINGS = ["::1", "::", "[::]", "0:0:0:0:0:0:0:0", "0::0", "0:0::1", "::1%lo", "::%lo"]


@pytest.mark.parametrize("text", LOOPBACK_SPELLINGS)
def test_every_ipv4_loopback_spelling_is_denied(text: str) -> None:
    deny = nets("127.0.0.0/8", "::1/128")
    address = canonical_destination(text)
    assert address is not None and address.version == 4 and address.is_loopback
    assert not is_permitted(text, (), deny), text
    assert is_permitted(text, (), nets("10.0.0.0/8")), text
    # the allow list decides on the address really reached
    assert is_permitted(text, nets("127.0.0.0/8"), ()), text
    assert not is_permitted(text, nets("10.0.0.0/8"), ()), text


@pytest.mark.parametrize("text", V6_LOOPBACK_SPELLINGS)
def test_every_ipv6_loopback_spelling_is_denied(text: str) -> None:
    address = canonical_destination(text)
    assert address is not None and address.version == 6 and address.is_loopback
    assert not is_permitted(text, (), nets("127.0.0.0/8", "::1/128")), text
    assert is_permitted(text, (), nets("127.0.0.0/8")), text  # ::1 is not 127/8


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("10.1", "10.0.0.1"),
        ("10.1.2", "10.1.0.2"),
        ("0xa.0x1.0x2.0x3", "10.1.2.3"),
        ("012.1.2.3", "10.1.2.3"),
        ("167838211", "10.1.2.3"),
        ("0xA010203", "10.1.2.3"),
        ("01200201003", "10.1.2.3"),
        ("::ffff:10.1.2.3", "10.1.2.3"),
        ("::ffff:a01:203", "10.1.2.3"),
        ("2001:DB8::1", "2001:db8::1"),
        ("4294967295", "255.255.255.255"),
    ],
)
def test_canonical_destination(text: str, canonical: str) -> None:
    assert canonical_destination(text) == ipaddress.ip_address(canonical)
    assert normalize_host(text) == canonical
    assert not is_permitted(text, (), nets(canonical))
    assert is_permitted(text, nets(canonical))


@pytest.mark.parametrize(
    "text",
    [
        "example.com",
        "",
        "127.0.0.1.2",
        "256.0.0.1",
        "1.2.3.256",
        "1.16777216",
        "4294967296",
        "08",
        "0x",
        "0xg",
        "127..1",
        "127.0.0.",
        ".127.0.0.1",
        "-1",
        "1.2.3.4 junk",
        "::ffff:127.0.0.1:80",
        "12a",
    ],
)
def test_names_and_garbage_are_not_addresses(text: str) -> None:
    assert parse_address(text) is None
    assert canonical_destination(text) is None
    assert not is_permitted(text)


def test_deny_written_in_any_form_applies() -> None:
    # a deny written as the unspecified address itself, or in mapped form
    assert not is_permitted("0.0.0.0", (), nets("0.0.0.0/32"))
    assert not is_permitted("::", (), nets("::/128"))
    assert not is_permitted("127.1", (), nets("::ffff:127.0.0.0/104"))
    assert not is_permitted("::ffff:10.0.0.1", (), nets("::ffff:10.0.0.0/104"))
    assert is_permitted("127.0.0.1", nets("::ffff:127.0.0.0/104"))
    # ... and only the destination's own spellings: 0.0.0.0 is not ::1
    assert is_permitted("0.0.0.0", (), nets("::1/128"))
    assert is_permitted("::", (), nets("127.0.0.0/8"))


def test_unspecified_outside_the_allow_list() -> None:
    # allowing only a remote network does not let 0.0.0.0 reach the host
    assert not is_permitted("0.0.0.0", nets("0.0.0.0/32"))
    assert not is_permitted("::", nets("::/128"))
