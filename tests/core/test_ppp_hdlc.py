"""RFC 1662 framing: FCS-16, byte stuffing with the ACCM, the Deframer."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sim800emu.core.ppp.hdlc import (
    FCS_GOOD,
    Deframer,
    _fcs16_table,
    encode,
    fcs16,
    stuff,
    unstuff,
    with_fcs,
)

# The SIM800's LCP Configure-Request (asyncmap 0x000A0000, PAP, PFC, ACFC) as
# it goes on the wire with every control character escaped; FCS 0x53 0x99
# computed independently with RFC 1662 appendix C's table algorithm.
LCP_REQ = bytes.fromhex("ff03c021010100120206000a00000304c02307020802")


def test_fcs_matches_the_rfc_table_algorithm() -> None:
    for data in (b"", b"\x00", b"123456789", LCP_REQ, bytes(range(256)) * 3):
        assert fcs16(data) == _fcs16_table(data)
    # the CRC-16/X-25 check value: complemented FCS over "123456789"
    assert fcs16(b"123456789") ^ 0xFFFF == 0x906E


def test_fcs_runs_on_and_checks_to_the_magic_value() -> None:
    assert fcs16(b"456789", fcs16(b"123")) == fcs16(b"123456789")
    assert fcs16(with_fcs(LCP_REQ)) == FCS_GOOD
    # least significant octet first
    fcs = fcs16(LCP_REQ) ^ 0xFFFF
    assert with_fcs(LCP_REQ)[-2:] == bytes((fcs & 0xFF, fcs >> 8))


@given(st.binary(max_size=300), st.integers(0, 0xFFFF))
def test_fcs_property(data: bytes, start: int) -> None:
    assert fcs16(data, start) == _fcs16_table(data, start)


def test_encode_escapes_flag_escape_and_the_accm() -> None:
    wire = encode(b"\x7e\x7d\x01\x11\x13\x20", accm=0x000A0000)
    body = wire[1:-1]
    assert wire[0] == wire[-1] == 0x7E
    assert body.startswith(b"\x7d\x5e\x7d\x5d\x01\x7d\x31\x7d\x33\x20")
    assert 0x7E not in body
    # default ACCM: every control character escaped
    body = encode(b"\x00\x1f\x20")[1:-1]
    assert body.startswith(b"\x7d\x20\x7d\x3f\x20")
    # ACCM 0: only the flag and the escape
    assert encode(b"\x00\x01", accm=0)[1:3] == b"\x00\x01"


def test_sim800_lcp_request_on_the_wire() -> None:
    wire = encode(LCP_REQ)
    assert wire == bytes.fromhex(
        "7eff7d23c0217d217d217d207d32"
        "7d227d267d207d2a7d207d207d23"
        "7d24c0237d277d227d287d22"
    ) + stuff(with_fcs(LCP_REQ)[-2:]) + b"\x7e"
    assert Deframer().feed(wire) == [LCP_REQ]


@given(st.binary(max_size=200), st.integers(0, 0xFFFFFFFF))
def test_stuff_unstuff_round_trip(data: bytes, accm: int) -> None:
    s = stuff(data, accm)
    assert 0x7E not in s
    assert all(not (b < 0x20 and accm >> b & 1) for b in s)
    assert unstuff(s) == data


def test_deframer_splits_joins_and_counts() -> None:
    d = Deframer()
    a, b = encode(b"\xff\x03\xc0\x21hello"), encode(b"\x21" + bytes(range(40)), accm=0)
    stream = b"\x7e\x7e" + a + b + a[:-1]  # shared flags, fill, an unfinished frame
    frames = []
    for i in range(len(stream)):  # one byte at a time
        frames += d.feed(stream[i : i + 1])
    assert frames == [b"\xff\x03\xc0\x21hello", b"\x21" + bytes(range(40))]
    assert (d.good, d.bad_fcs, d.runts, d.too_long) == (2, 0, 0, 0)
    assert d.feed(b"\x7e") == [b"\xff\x03\xc0\x21hello"]


def test_deframer_drops_bad_fcs_runts_aborts_and_long_frames() -> None:
    d = Deframer(max_len=100)
    good = encode(b"\x21" + b"x" * 30)
    bad = bytearray(good)
    bad[5] ^= 1
    assert d.feed(bytes(bad)) == []
    assert d.bad_fcs == 1
    assert d.feed(b"\x7e\x01\x02\x7e") == []  # runt
    assert d.feed(b"\x7e\x21abcdef\x7d\x7e") == []  # aborted by 7D 7E
    assert d.runts == 2
    assert d.feed(encode(b"\x21" + b"y" * 100)) == []  # 101 octets > max_len
    assert d.too_long == 1
    # a frame that never ends is dropped up to the next flag; memory stays bounded
    d.feed(b"\x7e" + b"z" * 150)
    for _ in range(100):
        d.feed(b"z" * 1000)
        assert d.pending <= 2 * (100 + 2)
    assert d.too_long == 2
    assert d.feed(b"zz\x7e" + good) == [b"\x21" + b"x" * 30]


def test_deframer_removes_unescaped_characters_of_its_accm() -> None:
    d = Deframer()
    d.rx_accm = 0x000A0000
    wire = encode(b"\x21abc\x11", accm=0x000A0000)
    noisy = wire[:3] + b"\x11\x13" + wire[3:]  # XON/XOFF inserted by the line
    assert d.feed(noisy) == [b"\x21abc\x11"]


@settings(max_examples=300)
@given(st.lists(st.binary(min_size=1, max_size=80), max_size=8), st.binary(max_size=400),
       st.integers(0, 0xFFFFFFFF))
def test_deframer_never_loses_a_frame_after_garbage(
    frames: list[bytes], garbage: bytes, accm: int
) -> None:
    d = Deframer(max_len=100)
    d.feed(garbage)
    wire = b"".join(encode(f, accm) for f in frames)
    got = d.feed(b"\x7e" + wire)
    assert got == [f for f in frames if len(f) >= 2]
    assert d.pending == 0
