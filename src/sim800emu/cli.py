"""The command line: ``sim800emu serve`` (and ``python -m sim800emu serve``).

``serve`` starts one virtual SIM800 on a serial transport (a pty by default,
or a TCP server where each connection is a modem of its own, or stdio),
prints where its serial port is, and runs until Ctrl-C or SIGTERM, then
closes every link and removes its symlink.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import NoReturn

from . import __version__
from .callswitch import CallSwitch
from .control import ControlError, ControlServer
from .core.config import (
    DIAL_OUTCOMES,
    RX_BUFFER,
    RX_BUFFER_RANGE,
    TIMING_PROFILES,
    Identity,
    ModemConfig,
    PppConfig,
    Radio,
    Services,
    Timing,
)
from .core.events import Result
from .net.config import (
    NetConfig,
    parse_host_entry,
    parse_listen_map,
    parse_network,
    parse_route,
)
from .net.shaping import NETWORK_PROFILES, Shape
from .pacing import parse_baud
from .resources import ResourceErrorLog, describe, is_resource_error
from .runtime import ModemRunner, ModemSpec, NetFactory, NetLike, sim_key
from .smscentre import SmsCentre
from .store import SettingsStore, default_state_dir
from .trafficlog import TrafficLog
from .transports.tcp_client import parse_address

log = logging.getLogger("sim800emu")

PROG = "sim800emu"
LOOPS = ("asyncio", "uvloop")  # serve --loop (docs/uvloop.md)


class OptionError(ValueError):
    """A bad option (raised instead of exiting when the parser is used as a
    library, e.g. by the ``sim800://`` URL handler)."""


class _Parser(argparse.ArgumentParser):
    raise_errors = False

    def error(self, message: str) -> NoReturn:
        if self.raise_errors:
            raise OptionError(message)
        # one line: what is wrong and where to look, no usage block (issues 10, 13)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ------------------------------------------------------------ option types


def _digits(name: str, lengths: range) -> Callable[[str], str]:
    def check(text: str) -> str:
        if not text.isascii() or not text.isdigit() or len(text) not in lengths:
            if lengths.stop - lengths.start == 1:
                size = f"{lengths.start}"
            else:
                size = f"{lengths.start}-{lengths.stop - 1}"
            raise argparse.ArgumentTypeError(f"{name} must be {size} digits, got {text!r}")
        return text

    return check


def _rx_buffer(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        size = -1
    if size not in RX_BUFFER_RANGE:
        raise argparse.ArgumentTypeError(
            f"{value!r}: {RX_BUFFER_RANGE.start}-{RX_BUFFER_RANGE.stop - 1} bytes "
            "(counts must fit a 16-bit integer)"
        )
    return size


def _phone_number(value: str) -> str:
    digits = value[1:] if value.startswith("+") else value
    if not (digits.isascii() and digits.isdigit() and 3 <= len(digits) <= 20):
        raise argparse.ArgumentTypeError(f"{value!r}: a phone number is digits, optionally after +")
    return value


def _ussd_entry(value: str) -> tuple[str, str]:
    code, sep, reply = value.partition("=")
    code = code.strip()
    if not sep or not code or not code.isprintable() or '"' in code:
        raise argparse.ArgumentTypeError(
            f"{value!r}: a USSD entry is CODE=REPLY, e.g. '*100#=Balance 5.00' "
            "(CODE>ANSWER=REPLY continues a menu)"
        )
    reply = reply.replace("\\n", "\n")  # a line break written as backslash-n
    if not all(line.isprintable() for line in reply.split("\n")) or '"' in reply:
        raise argparse.ArgumentTypeError(
            f"{value!r}: the reply must be printable text without double quotes"
        )
    return code, reply


def _dial_entry(value: str) -> tuple[str, str]:
    from .core.voice import parse_dial

    number, sep, outcome = value.partition("=")
    parsed = parse_dial(number.strip())
    if not sep or parsed is None or outcome not in DIAL_OUTCOMES:
        raise argparse.ArgumentTypeError(
            f"{value!r}: a dial entry is NUMBER=OUTCOME, OUTCOME one of "
            + ", ".join(DIAL_OUTCOMES)
        )
    return parsed, outcome


def _text(name: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if not text or not text.isprintable() or not text.isascii() or '"' in text:
            raise argparse.ArgumentTypeError(
                f"{name} must be printable ASCII without double quotes, got {text!r}"
            )
        return text

    return check


def _ipv4(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IPv4 address: {text!r}") from None


def _ppp_auth(text: str) -> tuple[str, str]:
    """``USER:PASS`` (the password may hold colons; neither may be empty)."""
    user, sep, password = text.partition(":")
    if not sep or not user or not password or not text.isprintable():
        raise argparse.ArgumentTypeError(f"expected USER:PASS, got {text!r}")
    return user, password


def _guard(text: str) -> float:
    """The +++ guard time in seconds: 0.02 to 10."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.02 <= value <= 10.0:
        raise argparse.ArgumentTypeError(f"the guard time must be 0.02-10 s, got {text}")
    return value


def _timezone(text: str) -> int:
    """The network's zone: quarters of an hour (``+8``, ``-20``) or ``+HH:MM``."""
    value = text.strip()
    sign = -1 if value.startswith("-") else 1
    body = value.lstrip("+-")
    try:
        if ":" in body:
            hours, minutes = body.split(":")
            if not (hours.isdigit() and minutes.isdigit()) or int(minutes) % 15:
                raise ValueError
            quarters = sign * (int(hours) * 4 + int(minutes) // 15)
        else:
            if not body.isdigit():
                raise ValueError
            quarters = sign * int(body)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a zone is quarters of an hour (+8, -20) or +HH:MM in 15-minute steps"
        ) from None
    if not -47 <= quarters <= 48:
        raise argparse.ArgumentTypeError(f"{text!r}: the zone must be within -11:45 .. +12:00")
    return quarters


def _dst(text: str) -> int:
    if text.strip() not in ("0", "1", "2"):
        raise argparse.ArgumentTypeError(f"{text!r}: daylight saving is 0, 1 or 2 hours")
    return int(text)


def _rssi(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not (0 <= value <= 31 or value == 99):
        raise argparse.ArgumentTypeError(f"signal must be 0..31 or 99, got {text!r}")
    return value


def _port(allow_zero: bool) -> Callable[[str], int]:
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = -1
        low = 0 if allow_zero else 1
        if not low <= value <= 65535:
            raise argparse.ArgumentTypeError(f"not a port number ({low}..65535): {text!r}")
        return value

    return check


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _wrap(parse: Callable[[str], object]) -> Callable[[str], object]:
    """Turn a net.config parser's ``ValueError`` into an argparse error."""

    def check(text: str) -> object:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    check.__name__ = getattr(parse, "__name__", "value")
    return check


# ------------------------------------------------------------ the parser


class _HelpFormatter(argparse.HelpFormatter):
    """Shows a default only where there is one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or default is False
            or default == []
            or default is argparse.SUPPRESS
            or not action.option_strings
            or isinstance(action, argparse._CountAction)
        ):
            return text
        return f"{text} (default: %(default)s)"


def build_parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="A software SIMCom SIM800 GPRS module: AT commands on a virtual "
        "serial port, real networking on the host.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    serve = sub.add_parser(
        "serve",
        help="run a virtual SIM800 on a serial port",
        description="Run a virtual SIM800 on a serial port until Ctrl-C or SIGTERM. "
        "The modem starts settled (SIM ready, registered, attached, IP INITIAL) and "
        "prints nothing until the first command, unless --cold-boot is given.",
        formatter_class=_HelpFormatter,
    )
    add_serve_options(serve)
    ctl = sub.add_parser(
        "ctl",
        help="send a fault or status command to a running modem (serve --control)",
        description="Send one command to a modem started with --control SOCKET and print "
        "its answer. Commands: status; pdp-deact; register 0-5; signal 0-31|99; drop 0-5; "
        "power-off; power-on; latency MS; bandwidth BYTES/S; ring NUMBER (an incoming "
        "call); hangup (the far end hangs up; a dial-up call: the network ends it); dtr off|on "
        "(the DTR line, per AT&D); dtmf KEYS (the far end presses keys); "
        "sms FROM TEXT... (an incoming SMS); freeze D, slip TEXT, garbage N, under-voltage, "
        "under-voltage-off, dns-outage D, refuse HOST, timeout HOST [D], nat-idle D (the "
        "scenario actions); outbox (the SMS sent, one JSON object per "
        "line); '@N COMMAND' for modem N only.",
    )
    ctl.add_argument("socket", type=Path, help="the --control socket of the running modem")
    ctl.add_argument("words", nargs="+", metavar="COMMAND", help="e.g. pdp-deact, drop 1")
    check = sub.add_parser(
        "check",
        help="play transcript files against fresh emulators and report each step",
        description="Play each transcript (the language of tests/conformance/transcripts/"
        "README.md: '> AT' sends, '< OK' expects a line, '<< \\r\\n> ' exact bytes, "
        "'@ listen tcp S' a local peer ...) against its own fresh 'serve' on a pty, and "
        "report every failing step with the bytes expected and received.",
    )
    check.add_argument("files", nargs="+", type=Path, metavar="FILE", help="transcript files")
    check.add_argument(
        "--with",
        dest="serve_options",
        default="",
        metavar="OPTIONS",
        help="options for each 'serve', in one string (e.g. \"--host api.test=127.0.0.1 "
        "--dns-offline\")",
    )
    check.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="play N files at once (default 1)"
    )
    sub.add_parser("version", help="print the version and exit")
    return parser


def add_serve_options(p: argparse.ArgumentParser) -> None:
    ident = Identity()
    radio = Radio()
    net = NetConfig()

    g = p.add_argument_group("serial port")
    g.add_argument(
        "--transport",
        choices=("pty", "tcp", "stdio", "tcp-client"),
        default="pty",
        help="pty: a pseudo-terminal (open its path like a serial port); "
        "tcp: a raw TCP server where every connection is a modem of its own; "
        "stdio: stdin/stdout are the serial line; "
        "tcp-client: connect to a simulator's serial socket (--connect), reconnecting "
        "when it restarts",
    )
    g.add_argument(
        "--connect",
        metavar="HOST:PORT",
        type=_wrap(parse_address),
        default=None,
        help="(tcp-client) the simulator's UART socket, e.g. QEMU's "
        "-serial tcp:127.0.0.1:4444,server=on,wait=off or Renode's "
        "CreateServerSocketTerminal 4444",
    )
    g.add_argument(
        "--link",
        metavar="PATH",
        type=Path,
        default=None,
        help="(pty) also make PATH a symlink to the pty, created once the modem is ready "
        "to answer (a stale link is replaced) and removed on exit",
    )
    g.add_argument(
        "--profile",
        metavar="FILE",
        type=Path,
        default=None,
        help="a TOML file of defaults for these options (keys are the long option names, "
        "e.g. imei = \"...\", host = [\"echo.test=127.0.0.1\"], dns-offline = true); "
        "options given here win; see docs/profile.example.toml",
    )
    g.add_argument(
        "--count",
        metavar="N",
        type=_count,
        default=1,
        help="(pty) run N modems, each on its own pty with its own identity (IMEI, "
        "ICCID, IMSI and local IP counted up from the first) and settings file; with "
        "--link, '{n}' in PATH is replaced by the index (else the index is appended)",
    )
    g.add_argument(
        "--baud",
        metavar="N",
        type=_wrap(parse_baud),
        default=0,
        help="pace the serial line at N bit/s both ways, 10 bits per byte, like a UART "
        "(AT+IPR=RATE fixes another rate, AT+IPR=0 autobauds back to N); 0: host speed "
        "(see docs/field-conditions.md)",
    )
    g.add_argument(
        "--tcp-host",
        metavar="ADDR",
        default="127.0.0.1",
        help="(tcp) address the serial server binds",
    )
    g.add_argument(
        "--tcp-port",
        metavar="PORT",
        type=_port(True),
        default=0,
        help="(tcp) port the serial server binds; 0 picks a free one (printed at start)",
    )
    g.add_argument(
        "--loop",
        choices=LOOPS,
        default="asyncio",
        help="the event loop: uvloop (pip install 'sim800emu[uvloop]') takes about 4%% "
        "less CPU per round trip for big --transport tcp fleets (docs/uvloop.md)",
    )

    g = p.add_argument_group("module")
    g.add_argument(
        "--state-dir",
        metavar="DIR",
        type=Path,
        default=None,
        help="where saved settings (AT+CIPSCONT, AT&W) live, one file per IMEI; "
        f"created if missing (default: {default_state_dir()})",
    )
    g.add_argument(
        "--cold-boot",
        action="store_true",
        help="print the boot URCs (RDY, +CFUN: 1, +CPIN: READY, Call Ready, SMS Ready) "
        "and go through the SIM-busy period at start, like a module just powered on",
    )
    g.add_argument(
        "--no-cmux-msc",
        dest="cmux_msc",
        action="store_false",
        help="AT+CMUX: do not send the MSC command a real SIM800 sends right after a DLC "
        "opens (for clients that cannot take it, e.g. esp_modem 1.0.2; docs/cmux.md)",
    )
    timing = Timing()
    g.add_argument(
        "--activation-delay",
        metavar="S",
        type=_delay,
        default=None,
        help="seconds AT+CIICR (and a single-step CIPSTART/CIPSERVER) takes to bring the "
        f"context up; real networks take 1-5 s (default: {timing.ciicr}, or the --timing "
        "profile's)",
    )
    g.add_argument(
        "--sim-busy",
        metavar="S",
        type=_delay,
        default=None,
        help="seconds after a reboot (AT+CFUN=1,1, --cold-boot) during which SIM commands "
        f"answer +CME ERROR: SIM busy (default: {timing.sim_busy}, or the --timing profile's)",
    )
    g.add_argument(
        "--imei", type=_digits("IMEI", range(15, 16)), default=ident.imei, help="IMEI (AT+GSN)"
    )
    g.add_argument(
        "--iccid",
        type=_digits("ICCID", range(18, 21)),
        default=ident.iccid,
        help="SIM ICCID (AT+CCID)",
    )
    g.add_argument(
        "--imsi", type=_digits("IMSI", range(6, 16)), default=ident.imsi, help="IMSI (AT+CIMI)"
    )
    g.add_argument(
        "--msisdn",
        metavar="NUMBER",
        type=_phone_number,
        default=ident.msisdn,
        help="the SIM's own phone number (AT+CNUM; counted up per modem of a fleet)",
    )
    g.add_argument(
        "--sms-outbox",
        metavar="FILE",
        type=Path,
        default=None,
        help="append every SMS the modem sends to FILE, one JSON object per line (time, "
        f"from, to, text, encoding, parts, reference); '{PROG} ctl SOCKET outbox' lists them",
    )
    g.add_argument(
        "--local-ip",
        metavar="IP",
        type=_ipv4,
        default=radio.local_ip,
        help="the module's own IP (AT+CIFSR)",
    )
    g.add_argument(
        "--operator",
        metavar="NAME",
        type=_text("operator"),
        default=ident.operator,
        help="operator name (AT+COPS?)",
    )
    g.add_argument(
        "--csq",
        metavar="RSSI",
        type=_rssi,
        default=radio.rssi,
        help="signal quality reported by AT+CSQ: 0..31, or 99 for unknown",
    )
    g.add_argument(
        "--timezone",
        metavar="ZONE",
        type=_timezone,
        default=radio.timezone,
        help="the network's time zone for AT+CLTS=1 network time and AT+CCLK: quarters of "
        "an hour (+8 is UTC+2) or +HH:MM (default: 0, UTC)",
    )
    g.add_argument(
        "--dst",
        metavar="HOURS",
        type=_dst,
        default=radio.dst,
        help="the network's daylight saving adjustment in the DST: URC (0, 1 or 2)",
    )
    g.add_argument(
        "--firmware",
        metavar="TEXT",
        type=_text("firmware"),
        default=ident.firmware,
        help="firmware text (ATI)",
    )

    g = p.add_argument_group("field conditions (docs/field-conditions.md)")
    g.add_argument(
        "--timing",
        choices=tuple(TIMING_PROFILES),
        default="fast",
        help="fast: answers at host speed; realistic: the delays measured on modules "
        "(commands 16-60 ms, CIICR/CGACT 2-7 s, SAPBR 1.3 s, CDNSGIP 0.5-3 s, CIPSTART "
        "1-3 s, SEND OK 0.2-1.5 s, TLS 3-10 s), drawn with --seed",
    )
    g.add_argument(
        "--network",
        choices=tuple(NETWORK_PROFILES),
        default=None,
        help="the radio link's profile: latency, jitter, up/down bandwidth per link from "
        "the SIM800's coding-scheme rates, UDP loss (--latency/--bandwidth override parts "
        "of it; 'ctl SOCK latency|bandwidth' changes it at run time)",
    )
    g.add_argument(
        "--scenario",
        metavar="FILE",
        type=Path,
        default=None,
        help="play a scenario file (TOML): faults, freezes, garbage, registration and "
        "signal over time, DNS outages, refused connects, NAT idle timeouts ... at given "
        "times or on triggers (examples/scenarios/, docs/field-conditions.md)",
    )
    g.add_argument(
        "--seed",
        metavar="N",
        type=_seed,
        default=0,
        help="seeds every random choice (delays, jitter, loss, scenarios): the same seed "
        "gives the same run",
    )
    g.add_argument(
        "--time-scale",
        metavar="F",
        type=_time_scale,
        default=1.0,
        help="multiply every simulated delay by F (0.01: a realistic run 100 times faster); "
        "the +++ guard time and the serial rate are not scaled",
    )

    g = p.add_argument_group("calls and USSD")
    g.add_argument(
        "--ussd",
        metavar="CODE=REPLY",
        dest="ussd",
        action="append",
        type=_ussd_entry,
        default=[],
        help="the network answers AT+CUSD=1,\"CODE\" with REPLY (repeatable); "
        "'CODE>ANSWER=REPLY' answers ANSWER inside the menu CODE opened; '\\n' in REPLY "
        "is a line break; unknown codes answer +CUSD: 4",
    )
    g.add_argument(
        "--dial",
        metavar="NUMBER=OUTCOME",
        dest="dial",
        action="append",
        type=_dial_entry,
        default=[],
        help="what a voice call (ATD<number>;) to NUMBER does: "
        + ", ".join(DIAL_OUTCOMES)
        + " (repeatable; other numbers answer)",
    )

    g = p.add_argument_group("dial-up data: ATD*99#, AT+CGDATA (docs/ppp.md)")
    ppp = PppConfig()
    g.add_argument(
        "--ppp-auth",
        metavar="USER:PASS",
        type=_ppp_auth,
        default=None,
        help="PAP/CHAP accept only these credentials (default: any, as most networks)",
    )
    g.add_argument(
        "--ppp-host-alias",
        metavar="IP",
        type=_ipv4,
        default=ppp.host_alias,
        help="the address a PPP client reaches the host's 127.0.0.1 at (like slirp's "
        f"10.0.2.2; subject to --allow/--deny as 127.0.0.1) (default: {ppp.host_alias})",
    )
    g.add_argument(
        "--ppp-dns",
        metavar="IP",
        type=_ipv4,
        default=ppp.dns_fallback,
        help="the DNS server IPCP announces in place of one a client cannot reach "
        "(0.0.0.0, 127.x); queries to it are answered by the emulator's resolver "
        f"(default: {ppp.dns_fallback})",
    )
    g.add_argument(
        "--connect-text",
        metavar="TEXT",
        type=_text("connect text"),
        default=None,
        help="with ATX1-4 (ATX4 is the default) answer 'CONNECT TEXT' instead of "
        "'CONNECT' (e.g. 115200)",
    )
    g.add_argument(
        "--ppp-restart",
        metavar="S",
        type=_seconds,
        default=ppp.restart,
        help="the PPP restart timer: how long LCP/IPCP wait before repeating a request "
        f"(RFC 1661; default: {ppp.restart})",
    )
    g.add_argument(
        "--escape-guard",
        metavar="S",
        type=_guard,
        default=Timing().escape_guard,
        help="the +++ guard time of transparent and PPP data mode (manual: 1 s); "
        "never scaled by --time-scale",
    )

    g = p.add_argument_group("network")
    g.add_argument(
        "--host",
        metavar="NAME=IP",
        dest="hosts",
        action="append",
        type=_wrap(parse_host_entry),
        default=[],
        help="answer NAME with IP from a hosts table before any DNS query (repeatable)",
    )
    g.add_argument(
        "--dns-offline",
        action="store_true",
        help="only the hosts table answers: every other name fails at once and no DNS "
        "query leaves the host",
    )
    g.add_argument(
        "--host-resolver",
        action="store_true",
        help="when no usable DNS server is set, fall back to the host's own resolver",
    )
    g.add_argument(
        "--dns-port",
        metavar="PORT",
        type=_port(False),
        default=net.dns_port,
        help="port the DNS servers are queried on (a test DNS server on a high port)",
    )
    g.add_argument(
        "--dns-timeout",
        metavar="S",
        type=_seconds,
        default=net.dns_timeout,
        help="seconds a name resolution may take",
    )
    g.add_argument(
        "--route",
        metavar="FROM=TO",
        dest="routes",
        action="append",
        type=_wrap(parse_route),
        default=[],
        help="rewrite a destination, HOST[:PORT]=HOST[:PORT], e.g. "
        "116.236.221.75:6780=127.0.0.1:16780 (repeatable)",
    )
    g.add_argument(
        "--allow",
        metavar="CIDR",
        action="append",
        type=_wrap(parse_network),
        default=[],
        help="permit only destinations in these networks (repeatable; none: all allowed)",
    )
    g.add_argument(
        "--deny",
        metavar="CIDR",
        action="append",
        type=_wrap(parse_network),
        default=[],
        help="refuse destinations in these networks (repeatable; wins over --allow; checked "
        "on the address really reached: 0.0.0.0 is 127.0.0.1, 127.1 is 127.0.0.1, "
        "::ffff:a.b.c.d is a.b.c.d; see docs/hardening.md)",
    )
    g.add_argument(
        "--listen-host",
        metavar="ADDR",
        default=net.listen_host,
        help="address AT+CIPSERVER listens on",
    )
    g.add_argument(
        "--listen-map",
        metavar="PORT=PORT",
        action="append",
        type=_wrap(parse_listen_map),
        default=[],
        help="bind AT+CIPSERVER's MODEM_PORT on HOST_PORT instead, e.g. 5555=15555 (repeatable)",
    )
    g.add_argument(
        "--latency",
        metavar="MS",
        type=_milliseconds,
        default=0.0,
        help="one-way delay of the simulated radio link, in milliseconds (slow GPRS); "
        "changeable at run time with 'ctl SOCK latency MS'",
    )
    g.add_argument(
        "--bandwidth",
        metavar="BYTES/S",
        type=_rate,
        default=0,
        help="bytes per second each way per link on the simulated radio link "
        "(0: unlimited); changeable at run time with 'ctl SOCK bandwidth N'",
    )
    g.add_argument(
        "--rx-buffer",
        metavar="BYTES",
        type=_rx_buffer,
        default=RX_BUFFER,
        help="the module's receive buffer per link: data waiting for AT+CIPRXGET=2 never "
        "exceeds it and the socket is not read beyond it (docs/buffers.md)",
    )
    g.add_argument(
        "--connect-timeout",
        metavar="S",
        type=_seconds,
        default=net.connect_timeout,
        help="seconds before AT+CIPSTART gives up with CONNECT FAIL",
    )
    g.add_argument(
        "--tls-verify",
        action="store_true",
        help="verify TLS servers' certificates (the SIM800 itself does not)",
    )
    g.add_argument(
        "--tls-ca",
        metavar="FILE",
        default=None,
        help="CA bundle to verify TLS servers against (implies --tls-verify)",
    )

    g = p.add_argument_group("output")
    g.add_argument(
        "--log",
        metavar="FILE",
        default=None,
        help="append a transcript of all serial traffic (timestamps, text, hex) to FILE; "
        "'-' for stderr",
    )
    g.add_argument(
        "--control",
        metavar="SOCKET",
        type=Path,
        default=None,
        help="listen for fault injection and status commands on this Unix socket "
        "(pdp-deact, register N, signal N, drop N, power-off, power-on, ring NUMBER, "
        "hangup, dtr off|on, dtmf KEYS, latency MS, "
        "bandwidth B/S, status); send them with "
        f"'{PROG} ctl SOCKET COMMAND'",
    )
    g.add_argument(
        "--status",
        metavar="S",
        type=_seconds,
        default=0.0,
        help="print a live status line every S seconds: modems per IP state, open links, "
        "serial bytes (updated in place on a terminal)",
    )
    g.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    g.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more diagnostics on stderr (-vv for debugging)",
    )


# ------------------------------------------------------------ configuration


def _host_dns() -> tuple[str, ...]:
    from .net.resolver import host_dns_servers

    try:
        return host_dns_servers()
    except Exception:  # a strange resolv.conf must not stop the modem
        return ()


def build_modem_config(args: argparse.Namespace, host_dns: Sequence[str] = ()) -> ModemConfig:
    ipv4 = [s for s in host_dns if _is_ipv4(s)]
    dns = (*ipv4[:2], "0.0.0.0", "0.0.0.0")
    identity = dataclasses.replace(
        Identity(),
        imei=args.imei,
        iccid=args.iccid,
        imsi=args.imsi,
        msisdn=args.msisdn,
        operator=args.operator,
        firmware=args.firmware,
    )
    radio = dataclasses.replace(
        Radio(),
        local_ip=args.local_ip,
        rssi=args.csq,
        dns_servers=(dns[0], dns[1]),
        timezone=args.timezone,
        dst=args.dst,
    )
    timing = build_timing(args)
    services = Services(ussd=tuple(args.ussd), dial=tuple(args.dial))
    defaults = PppConfig()
    ppp = PppConfig(
        auth=getattr(args, "ppp_auth", None),
        host_alias=getattr(args, "ppp_host_alias", defaults.host_alias),
        dns_fallback=getattr(args, "ppp_dns", defaults.dns_fallback),
        connect_text=getattr(args, "connect_text", None) or defaults.connect_text,
        restart=getattr(args, "ppp_restart", defaults.restart),
    )
    return ModemConfig(
        identity=identity,
        radio=radio,
        timing=timing,
        services=services,
        cold_boot=args.cold_boot,
        rx_buffer=args.rx_buffer,
        cmux_msc=getattr(args, "cmux_msc", True),
        ppp=ppp,
    )


def build_timing(args: argparse.Namespace) -> Timing:
    """The ``--timing`` profile, with --activation-delay/--sim-busy/--seed,
    scaled by --time-scale."""
    base = TIMING_PROFILES[getattr(args, "timing", "fast")]
    changes: dict[str, object] = {"seed": getattr(args, "seed", 0)}
    if args.activation_delay is not None:
        changes["ciicr"] = args.activation_delay
        changes["spread"] = tuple(item for item in base.spread if item[0] != "ciicr")
    if args.sim_busy is not None:
        changes["sim_busy"] = max(args.sim_busy, base.boot_urcs)
    guard = getattr(args, "escape_guard", None)
    if guard is not None:
        changes["escape_guard"] = guard
    timing = dataclasses.replace(base, **changes)  # type: ignore[arg-type]
    scale: float = getattr(args, "time_scale", 1.0)
    return timing if scale == 1.0 else timing.scaled(scale)


def build_shape(args: argparse.Namespace) -> Shape:
    """The radio link: the ``--network`` profile, --latency/--bandwidth over
    it, seeded with --seed, its delays scaled by --time-scale."""
    name = getattr(args, "network", None)
    shape = NETWORK_PROFILES[name].copy() if name else Shape()
    if args.latency:
        shape.latency, shape.jitter = args.latency, 0.0
    if args.bandwidth:
        shape.set_bandwidth(args.bandwidth)
    shape.seed = getattr(args, "seed", 0)
    scale: float = getattr(args, "time_scale", 1.0)
    shape.latency *= scale
    shape.jitter *= scale
    return shape


def build_net_config(args: argparse.Namespace, host_dns: Sequence[str] = ()) -> NetConfig:
    return NetConfig(
        hosts=dict(args.hosts),
        dns_offline=args.dns_offline,
        use_host_resolver=args.host_resolver,
        default_dns=tuple(host_dns),
        dns_port=args.dns_port,
        dns_timeout=args.dns_timeout,
        routes=tuple(args.routes),
        allow=tuple(args.allow),
        deny=tuple(args.deny),
        listen_host=args.listen_host,
        listen_map=dict(args.listen_map),
        connect_timeout=args.connect_timeout,
        tls_verify=args.tls_verify or args.tls_ca is not None,
        tls_ca=args.tls_ca,
    )


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def net_factory_for(config: NetConfig) -> NetFactory:
    """A factory making the real network driver with ``config``."""

    def make(deliver: Callable[[Result], None], loop: asyncio.AbstractEventLoop) -> NetLike:
        from .net.driver import NetDriver

        return NetDriver(config, deliver, loop=loop)

    return make


def build_spec(
    args: argparse.Namespace, *, persistent: bool = True, traffic: TrafficLog | None = None
) -> ModemSpec:
    """The modem to make from ``serve`` options. ``persistent``: use the
    default state directory when ``--state-dir`` is not given (an in-process
    modem only persists settings when one is given). Raises ``OSError`` when
    the state directory cannot be used."""
    host_dns = _host_dns()
    modem_config = build_modem_config(args, host_dns)
    net_config = build_net_config(args, host_dns)
    state_dir: Path | None = args.state_dir
    if state_dir is None and persistent:
        state_dir = default_state_dir()
    store = sim_store = None
    if state_dir is not None:
        store = SettingsStore(state_dir, modem_config.identity.imei)
        store.ensure_dir()
        sim_store = SettingsStore(state_dir, sim_key(modem_config.identity.iccid))
    factory = net_factory_for(net_config)
    shape = build_shape(args)
    scenario = getattr(args, "scenario_loaded", None)
    if scenario is None and getattr(args, "scenario", None) is not None:
        from .scenario import load  # not loaded yet (the sim800:// URL, a library caller)

        scenario = load(args.scenario)
    if shape.active or getattr(args, "control", None) is not None or scenario is not None:
        from .net.shaping import shaped_factory

        factory = shaped_factory(factory, shape)
    centre = SmsCentre(getattr(args, "sms_outbox", None))
    on_runner = None
    if scenario is not None:
        from .scenario import attach

        seed: int = getattr(args, "seed", 0)
        scale: float = getattr(args, "time_scale", 1.0)

        def on_runner(runner: ModemRunner) -> None:
            attach(runner, scenario, seed=seed, scale=scale,
                   connect_timeout=net_config.connect_timeout)

    return ModemSpec(modem_config, factory, store=store, traffic=traffic, sim_store=sim_store,
                     centre=centre, baud=getattr(args, "baud", 0), switch=CallSwitch(),
                     on_runner=on_runner)


def _delay(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a delay from 0 to 600 seconds")
    return value


def _seed(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed (a whole number >= 0)")
    return int(text)


def _time_scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time scale (0 < F <= 100)")
    return value


def _milliseconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 600_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a delay in milliseconds")
    return value / 1000.0


def _rate(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of bytes per second")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count from 1 to 100000")
    return int(text)


def check_serve_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.count != 1 and args.transport != "pty":
        parser.error("--count needs --transport pty (with --transport tcp every connection "
                     "is already its own modem)")
    if args.link is not None and args.transport != "pty":
        parser.error("--link needs --transport pty")
    if args.transport != "tcp" and (args.tcp_port != 0 or args.tcp_host != "127.0.0.1"):
        parser.error("--tcp-host/--tcp-port need --transport tcp")
    if (args.transport == "tcp-client") != (args.connect is not None):
        parser.error("--transport tcp-client and --connect HOST:PORT go together")
    if args.tls_ca is not None and not Path(args.tls_ca).is_file():
        parser.error(f"--tls-ca: no such file: {args.tls_ca}")
    if args.loop == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            parser.error("--loop uvloop needs uvloop: pip install 'sim800emu[uvloop]'")


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What ``serve --loop NAME`` runs on (None: asyncio's own loop). uvloop
    comes as the runner's loop factory, never as the global policy."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


# ------------------------------------------------------------ running


def _announce(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(f"{PROG}: {text}", file=sys.stderr, flush=True)


def _error(text: str) -> int:
    print(f"{PROG}: error: {text}", file=sys.stderr, flush=True)
    return 1


async def serve(args: argparse.Namespace, spec: ModemSpec) -> int:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(ResourceErrorLog())
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        if args.transport == "pty":
            return await _serve_pty(args, spec, stop)
        if args.transport == "tcp":
            return await _serve_tcp(args, spec, stop)
        if args.transport == "tcp-client":
            return await _serve_tcp_client(args, spec, stop)
        return await _serve_stdio(args, spec, stop)
    except ControlError as exc:
        return _error(str(exc))
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


_background: set[asyncio.Task[None]] = set()


async def _live_status(
    args: argparse.Namespace, runners: Callable[[], Sequence[ModemRunner]]
) -> None:
    """``--status S``: a summary line every S seconds (in place on a terminal)."""
    from .control import summary

    tty = sys.stderr.isatty()
    while True:
        await asyncio.sleep(args.status)
        line = f"{PROG}: {summary(runners())}"
        if tty:
            print(f"\r\x1b[K{line}", end="", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


async def _start_control(
    args: argparse.Namespace, runners: Callable[[], Sequence[ModemRunner]]
) -> ControlServer | None:
    if args.status:
        task = asyncio.get_running_loop().create_task(_live_status(args, runners))
        _background.add(task)
        task.add_done_callback(_background.discard)
    if args.control is None:
        return None
    server = ControlServer(args.control, runners)
    await server.start()
    return server


async def _wait_any(*aws: asyncio.Future[object] | asyncio.Task[object]) -> None:
    _done, pending = await asyncio.wait(aws, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError):
            await task


SHUTDOWN_TIMEOUT = 5.0


async def _bounded(aw: Awaitable[None], what: str) -> None:
    """Await a shutdown step, but never hang the exit on it."""
    try:
        await asyncio.wait_for(aw, SHUTDOWN_TIMEOUT)
    except TimeoutError:
        log.warning("%s did not finish within %s s", what, SHUTDOWN_TIMEOUT)
    except Exception:
        log.exception("%s failed", what)


def fleet_link(link: Path, n: int, count: int) -> Path:
    """Where modem ``n``'s symlink goes: ``{n}`` in the path is replaced by
    the index; without it, a single modem keeps the path and a fleet appends
    the index."""
    text = str(link)
    if "{n}" in text:
        return Path(text.replace("{n}", str(n)))
    return link if count == 1 else Path(f"{text}{n}")


def _raise_fd_limit(wanted: int) -> None:
    """Each pty modem holds two descriptors: lift the soft limit for fleets."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


async def _serve_pty(args: argparse.Namespace, spec: ModemSpec, stop: asyncio.Event) -> int:
    from .transports.pty import PtyPort

    loop = asyncio.get_running_loop()
    count: int = args.count
    _raise_fd_limit(4 * count + 256)
    ports: list[PtyPort] = []
    runners: list[ModemRunner] = []
    control: ControlServer | None = None
    try:
        places = []
        for n in range(count):
            try:
                port = PtyPort(loop)
                ports.append(port)
                runner = spec.nth(n).create_runner(
                    port.line, loop, name=f"modem {n}" if count > 1 else ""
                )
            except OSError as exc:
                if not is_resource_error(exc):
                    raise
                which = f"modem {n}" if count > 1 else "the modem"
                need = f"; {count} modems need about {4 * count + 256}" if count > 1 else ""
                return _error(f"cannot start {which}: {describe(exc)}{need}")
            runners.append(runner)
            runner.start()
            where = port.path
            if args.link is not None:
                target = fleet_link(args.link, n, count)
                try:
                    link = port.create_link(target)
                except OSError as exc:
                    return _error(f"cannot create the link {target}: {exc}")
                where = f"{port.path} (linked at {link})"
            places.append(where)
        control = await _start_control(args, lambda: runners)
        if count == 1:
            _announce(args, f"serial port {places[0]}")
        elif count <= 16:
            for n, where in enumerate(places):
                _announce(args, f"modem {n}: serial port {where}")
        else:
            _announce(args, f"{count} modems: serial ports {places[0]} ... {places[-1]}")
        await stop.wait()
        log.info("stopping")
        return 0
    finally:
        if control is not None:
            await control.aclose()
        await asyncio.gather(
            *(_bounded(r.aclose(), "the modem's shutdown") for r in runners)
        )
        for port in ports:
            await port.aclose()


async def _serve_tcp(args: argparse.Namespace, spec: ModemSpec, stop: asyncio.Event) -> int:
    from .transports.tcp import TcpSerialServer

    server = TcpSerialServer(spec, args.tcp_host, args.tcp_port)
    try:
        await server.start()
    except OSError as exc:
        return _error(f"cannot listen on {args.tcp_host}:{args.tcp_port}: {exc}")
    control: ControlServer | None = None
    try:
        control = await _start_control(args, lambda: list(server.runners))
        _announce(args, f"serial port {server.address} (every connection is a new modem)")
        await stop.wait()
        log.info("stopping")
        return 0
    finally:
        if control is not None:
            await control.aclose()
        await _bounded(server.aclose(), "the modems' shutdown")


async def _serve_stdio(args: argparse.Namespace, spec: ModemSpec, stop: asyncio.Event) -> int:
    from .transports.stdio import StdioPort

    loop = asyncio.get_running_loop()
    port = StdioPort(loop)
    runner: ModemRunner | None = None
    control: ControlServer | None = None
    try:
        runner = spec.create_runner(port.line, loop)
        runner.start()
        control = await _start_control(args, lambda: [runner] if runner else [])
        _announce(args, "serial line on stdin/stdout")
        await _wait_any(
            asyncio.ensure_future(stop.wait()), asyncio.ensure_future(runner.wait_closed())
        )
        return 0
    finally:
        if control is not None:
            await control.aclose()
        if runner is not None:
            await _bounded(runner.aclose(), "the modem's shutdown")
        await port.aclose()


async def _serve_tcp_client(
    args: argparse.Namespace, spec: ModemSpec, stop: asyncio.Event
) -> int:
    from .transports.tcp_client import TcpClientLine

    loop = asyncio.get_running_loop()
    host, port = args.connect
    line = TcpClientLine(loop, host, port)
    runner: ModemRunner | None = None
    control: ControlServer | None = None
    try:
        runner = spec.create_runner(line, loop)
        runner.start()
        line.start()
        control = await _start_control(args, lambda: [runner] if runner else [])
        _announce(args, f"serial line: connecting to {host}:{port} (again whenever it goes away)")
        await stop.wait()
        return 0
    finally:
        if control is not None:
            await control.aclose()
        if runner is not None:
            await _bounded(runner.aclose(), "the modem's shutdown")
        await line.aclose()


def _setup_logging(args: argparse.Namespace) -> None:
    if args.quiet:
        level = logging.ERROR
    elif args.verbose >= 2:
        level = logging.DEBUG
    elif args.verbose == 1:
        level = logging.INFO
    else:
        level = logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def check(args: argparse.Namespace) -> int:
    """``sim800emu check``: every file against its own fresh emulator."""
    import shlex
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    from .transcript import CaseResult, load, run_transcript

    for path in args.files:
        try:
            load(path)
        except (OSError, ValueError) as exc:
            return _error(f"{path}: {exc}")
    serve_options = shlex.split(args.serve_options)
    with tempfile.TemporaryDirectory(prefix="sim800emu-check-") as tmp:

        def one(item: tuple[int, Path]) -> CaseResult:
            n, path = item
            return run_transcript(path, Path(tmp) / str(n), args=serve_options)

        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(one, enumerate(args.files)))
    failed = 0
    for path, result in zip(args.files, results, strict=True):
        problem = result.failure or result.error
        if problem is None:
            print(f"PASS {path} ({result.seconds:.1f} s)")
        else:
            failed += 1
            print(f"FAIL {path} ({result.seconds:.1f} s)\n{problem}")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def load_profile(parser: argparse.ArgumentParser, path: Path) -> dict[str, object]:
    """A profile file (TOML) gives defaults for ``serve`` options: each key is
    a long option name without ``--`` (``imei``, ``dns-offline``, ``host`` as
    a list, ``latency`` ...). Values are checked exactly like the options
    themselves; options on the command line still win."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        parser.error(f"--profile {path}: {exc}")
    actions = {
        opt[2:]: action
        for action in parser._actions
        for opt in action.option_strings
        if opt.startswith("--")
    }
    defaults: dict[str, object] = {}
    for key, value in data.items():
        action = actions.get(key)
        if action is None or key in ("profile", "help", "version"):
            parser.error(f"--profile {path}: unknown option {key!r}")
        if isinstance(action, argparse._StoreTrueAction):
            if not isinstance(value, bool):
                parser.error(f"--profile {path}: {key} must be true or false")
            defaults[action.dest] = value
            continue
        convert = action.type if callable(action.type) else str
        items = value if isinstance(value, list) else [value]
        try:
            converted = [convert(str(item)) for item in items]
        except (argparse.ArgumentTypeError, ValueError) as exc:
            parser.error(f"--profile {path}: {key}: {exc}")
        if action.choices is not None:
            for item in converted:
                if item not in action.choices:
                    allowed = ", ".join(map(str, action.choices))
                    parser.error(f"--profile {path}: {key}: {item!r} is not one of {allowed}")
        if isinstance(action, argparse._AppendAction):
            defaults[action.dest] = converted
        elif len(converted) != 1:
            parser.error(f"--profile {path}: {key} takes one value")
        else:
            defaults[action.dest] = converted[0]
    return defaults


def _glue_with(argv: Sequence[str]) -> list[str]:
    """``check --with "--dns-offline"``: the value of ``--with`` is serve
    options, which argparse would take for options of its own; pass it as
    ``--with=...`` so any value is accepted."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--with":
            value = next(args, None)
            out.append(arg if value is None else f"--with={value}")
        else:
            out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = _glue_with(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command == "serve" and args.profile is not None:
        serve_parser = _subparser(parser, "serve")
        serve_parser.set_defaults(**load_profile(serve_parser, args.profile))
        args = parser.parse_args(argv)
    if args.command == "version":
        print(f"{PROG} {__version__}")
        return 0
    if args.command == "ctl":
        from .control import send

        try:
            answer = send(args.socket, " ".join(args.words))
        except OSError as exc:
            return _error(f"cannot reach {args.socket}: {exc.strerror or exc}")
        if not answer.startswith("ok"):
            print(answer or "error: no answer", file=sys.stderr)
            return 1
        if args.words[-1:] == ["outbox"]:
            import json

            for message in json.loads(answer[3:]):
                print(json.dumps(message, ensure_ascii=False))
            return 0
        if args.words and args.words[-1].lower() == "status":
            # one line per modem (the socket answers on one line, " | " between)
            print("\n".join(answer[3:].split(" | ")))
        else:
            print(answer)
        return 0
    if args.command == "check":
        return check(args)
    if args.command != "serve":
        parser.print_help(sys.stderr)
        return 2
    serve_parser = _subparser(parser, "serve")
    check_serve_args(serve_parser, args)
    if args.scenario is not None:
        from .scenario import ScenarioError, load

        try:
            args.scenario_loaded = load(args.scenario)
        except ScenarioError as exc:
            return _error(str(exc))
    _setup_logging(args)

    traffic: TrafficLog | None = None
    if args.log is not None:
        try:
            traffic = TrafficLog.open(args.log)
        except OSError as exc:
            return _error(f"cannot open the log {args.log}: {exc}")
    try:
        try:
            spec = build_spec(args, traffic=traffic)
        except OSError as exc:
            where = args.state_dir if args.state_dir is not None else default_state_dir()
            return _error(f"cannot use the state directory {where}: {exc}")
        try:
            with asyncio.Runner(loop_factory=loop_factory(args.loop)) as runner:
                return runner.run(serve(args, spec))
        except KeyboardInterrupt:  # a second Ctrl-C during shutdown
            return 130
        except OSError as exc:
            if not is_resource_error(exc):
                raise
            return _error(f"out of system resources: {describe(exc)}")
    finally:
        if traffic is not None:
            traffic.close()


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            choice = action.choices.get(name)
            if isinstance(choice, argparse.ArgumentParser):
                return choice
    raise KeyError(name)


def parse_serve_options(argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``serve`` options without exiting: ``OptionError`` on a bad one."""
    parser = _Parser(prog=f"{PROG} serve", add_help=False)
    parser.raise_errors = True
    add_serve_options(parser)
    args = parser.parse_args(list(argv))
    if args.profile is not None:  # defaults from the file; the options still win
        parser.set_defaults(**load_profile(parser, args.profile))
        args = parser.parse_args(list(argv))
    return args


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
