"""PPP through the multiplexer (issue 17) beside plain PPP (issue 16).

The PPP client is the Linux kernel's TCP/IP in a network namespace, bridged
by ``tests/integration/pppbridge.py`` as in ``ppp.py``; here its serial port
is DLC 1 of the emulator's AT+CMUX multiplexer, relayed to a pty of its own
by ``tests/integration/muxpty.py`` (a tiny gsm0710muxd over the test-side
27.010 peer ``cmuxpeer.py``, N1 127), while DLC 2 stays open for AT, as
esp_modem runs a SIM800. Downloads are SHA-256 checked.

* **download, pty**: MB/s (10^6 B/s) of payload of one TCP download of
  ``--size`` MiB through CMUX, beside the same download with PPP on the
  plain pty (``ppp.py``'s ``ppp_download``).
* **download, --baud 115200**: payload bytes per second from the first byte
  to the last of a ``--baud-size`` KiB download as a share of the line rate
  (11,520 B/s), through CMUX beside plain PPP. Each UIH frame of 127 octets
  costs 6 more (flag, address, control, length, FCS, flag): the ceiling is
  about 95.5 % of plain PPP's.

Needs root (a network namespace and a TUN device), ``ip`` and
``/dev/net/tun``; otherwise it says so and measures nothing.

    sudo .venv/bin/python bench/cmux.py
    .venv/bin/python bench/cmux.py --only download --size 4
"""

from __future__ import annotations

import argparse
import statistics
import sys

from common import REPO, BenchError, Figure, MiB, Port, script_main
from ppp import (
    LINE_RATE_BAUD,
    PppLink,
    _mb,
    chosen_parts,
    download_parser,
    ppp_download,
    print_figures,
)

sys.path.insert(0, str(REPO / "tests" / "integration"))

import cmuxpeer
from muxpty import MuxRelay

PARTS = ("download", "baud")


class CmuxPppLink(PppLink):
    """An emulator in CMUX mode, DLC 1 relayed to a pty, a namespace and
    the PPP bridge on that pty, up."""

    what = "PPP download through CMUX"
    ns_prefix = "s8ec"

    def __init__(self, *extra: str, timeout: float = 60.0) -> None:
        super().__init__(*extra, timeout=timeout)
        self.port: Port | None = None
        self.relay: MuxRelay | None = None

    def _serial_line(self) -> str:
        port = self.port = Port.open(self.emu.link)
        port.command(b"ATE0")
        port.command(b"AT+CMUX=0")

        def read(timeout: float) -> bytes:
            port.fill(timeout)
            data = bytes(port.buf)
            port.buf.clear()
            return data

        peer = cmuxpeer.Peer(port.write_all, read)
        peer.start((1, 2))
        self.relay = MuxRelay(port.fd, peer, dlci=1)
        return self.relay.path

    def _close_line(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        if self.port is not None:
            self.port.close()

    def download(self, port: int, size: int, want: str) -> dict[str, float]:
        assert self.relay is not None
        result = super().download(port, size, want)
        # DLC 2 still answers after the transfer
        if self.relay.at(2, "AT") != b"\r\nOK\r\n":
            raise BenchError("DLC 2 did not answer AT")
        return result


def cmux_download(size: int, rounds: int, extra: tuple[str, ...] = ()) -> list[dict[str, float]]:
    return ppp_download(size, rounds, extra, CmuxPppLink)


def run(args: argparse.Namespace) -> list[Figure]:
    only = chosen_parts("CMUX", args.only, PARTS)
    figures: list[Figure] = []
    if "download" in only:
        size = int(args.size * MiB)
        mux = [size / (r["last"] - r["start"]) for r in cmux_download(size, args.rounds)]
        plain = [size / (r["last"] - r["start"]) for r in ppp_download(size, args.rounds)]
        for i, (a, b) in enumerate(zip(mux, plain, strict=True)):
            print(f"  download round {i + 1}: PPP through CMUX {_mb(a)}, plain PPP {_mb(b)}", flush=True)
        m, p = statistics.median(mux), statistics.median(plain)
        figures.append(Figure("cmux", f"PPP download through CMUX, {args.size:g} MiB, pty", _mb(m),
                              _mb(p), "plain PPP", f"{m / p:.2f}x"))  # fmt: skip
    if "baud" in only:
        size = int(args.baud_size * 1024)
        line = LINE_RATE_BAUD / 10
        extra = ("--baud", str(LINE_RATE_BAUD))
        (r,) = cmux_download(size, 1, extra)
        mux_rate = (r["bytes"] - r["first_n"]) / (r["last"] - r["first"])
        (q,) = ppp_download(size, 1, extra)
        plain_rate = (q["bytes"] - q["first_n"]) / (q["last"] - q["first"])
        print(f"  --baud {LINE_RATE_BAUD}: through CMUX {mux_rate:.0f} B/s ({mux_rate / line:.1%} of the "
              f"line), plain PPP {plain_rate:.0f} B/s ({plain_rate / line:.1%})", flush=True)  # fmt: skip
        figures.append(Figure("cmux", f"PPP download through CMUX --baud {LINE_RATE_BAUD}, share of line",
                              f"{mux_rate / line:.1%}", f"{plain_rate / line:.1%}", "plain PPP",
                              f"{mux_rate / plain_rate:.2f}x"))  # fmt: skip
    return print_figures(figures)


def build_parser() -> argparse.ArgumentParser:
    return download_parser(
        "PPP download throughput through AT+CMUX (DLC 1; DLC 2 open for AT) beside "
        "plain PPP, on the pty and at --baud 115200. Needs root.",
        PARTS, baud_size=64, baud_seconds=6,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    return script_main("cmux", build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
