"""The TPDU codec (core/sms/pdu.py): known vectors and property round trips."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sim800emu.core.sms import pdu as P

GSM_TEXT = st.text(
    alphabet=st.sampled_from(list("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
                                  "¡ABCXYZÄÖÑÜ§¿abcxyzäöñüà^{}\\[~]|€")),
    max_size=400,
)
NUMBERS = st.from_regex(r"\+?[0-9]{1,20}", fullmatch=True)
STAMPS = st.builds(P.Timestamp, st.integers(0, 99), st.integers(1, 12), st.integers(1, 28),
                   st.integers(0, 23), st.integers(0, 59), st.integers(0, 59),
                   st.integers(-48, 56))


def test_known_submit_vector() -> None:
    # "hellohello" to +46708251358, relative validity, from 3GPP examples in the wild
    tpdu = bytes.fromhex("11000B916407281553F80000AA0AE8329BFD4697D9EC37")
    t = P.decode_tpdu(tpdu)
    assert isinstance(t, P.Submit)
    assert (t.da, t.toda, t.vpf, t.vp) == ("+46708251358", 145, 2, b"\xaa")
    assert P.text_of(t.body, t.alphabet) == "hellohello"
    assert t.encode() == tpdu


def test_sca_prefix_and_timestamp_zone() -> None:
    sca = P.encode_sca("+8613800200500")
    assert sca.hex().upper() == "0891683108200005F0"
    number, toa, rest = P.decode_sca(sca + b"\x01")
    assert (number, toa, rest) == ("+8613800200500", 145, b"\x01")
    assert P.decode_sca(b"\x00\x11") == ("", 0, b"\x11")
    ts = P.Timestamp(26, 12, 7, 5, 30, 0, -20)
    assert ts.encode().hex().upper() == "6221705003000A"  # sign: bit 3
    assert P.Timestamp.decode(ts.encode()) == ts
    assert ts.text() == "26/12/07,05:30:00-20"


def test_alphanumeric_sender() -> None:
    raw = P.encode_address("Bank", P.TOA_ALPHANUMERIC)
    assert P.decode_address(raw, 0)[:2] == ("Bank", P.TOA_ALPHANUMERIC)


@pytest.mark.parametrize("bad", ["", "00", "0011000B91", "11000B916407281553F80000AA0FE8"])
def test_malformed_pdus_raise_pdu_error(bad: str) -> None:
    with pytest.raises(P.PduError):
        P.decode_tpdu(bytes.fromhex(bad))


def test_dcs_groups() -> None:
    assert [P.alphabet_of(d) for d in (0x00, 0x04, 0x08, 0x10, 0xF0, 0xF4, 0xE0, 0x24)] == [
        P.GSM7, P.OCTET, P.UCS2, P.GSM7, P.GSM7, P.OCTET, P.UCS2, P.OCTET]


@given(st.binary(max_size=160).map(lambda b: bytes(x & 0x7F for x in b)), st.integers(0, 6))
def test_pack7_round_trip(septets: bytes, fill: int) -> None:
    assert P.unpack7(P.pack7(septets, fill), len(septets), fill) == septets


@given(NUMBERS, STAMPS, GSM_TEXT)
def test_deliver_round_trip_gsm7_with_concatenation(number: str, ts: P.Timestamp, text: str) -> None:
    body = P.to_septets(text)
    parts = P.split_body(body, P.GSM7)
    assert b"".join(parts) == body
    for seq, part in enumerate(parts, 1):
        udh = P.concat_header(7, len(parts), seq) if len(parts) > 1 else b""
        d = P.Deliver(number, P.default_toa(number), ts, part, 0, udh=udh)
        back = P.decode_tpdu(d.encode())
        assert back == d
        if udh:
            assert P.concat_info(back.udh) == (7, len(parts), seq)
    assert P.text_of(b"".join(parts), P.GSM7) == text


@example("0", "0" * 67, 0)  # 134 octets: one part, no header
@given(NUMBERS, st.text(max_size=300), st.integers(0, 0xFFFF))
def test_submit_round_trip_ucs2_with_16bit_reference(number: str, text: str, ref: int) -> None:
    body = text.encode("utf-16-be", "surrogatepass")
    parts = P.split_body(body, P.UCS2, wide=True)
    for seq, part in enumerate(parts, 1):
        # one part (up to 140 octets) goes without a header
        udh = P.concat_header(ref, len(parts), seq, wide=True) if len(parts) > 1 else b""
        s = P.Submit(number, P.default_toa(number), part, 8, udh=udh, mr=seq % 256, srr=True,
                     vpf=2, vp=b"\xa7")
        back = P.decode_tpdu(s.encode())
        assert back == s
        if udh:
            assert P.concat_info(back.udh) == (ref, len(parts), seq)
    assert b"".join(parts) == body


@given(st.binary(max_size=140), NUMBERS, STAMPS)
def test_8bit_and_status_report_round_trip(data: bytes, number: str, ts: P.Timestamp) -> None:
    d = P.Deliver(number, P.default_toa(number), ts, data, 4)
    assert P.decode_tpdu(d.encode()) == d
    r = P.StatusReport(data[0] if data else 0, number, P.default_toa(number), ts, ts, 0)
    assert P.decode_tpdu(r.encode()) == r


@given(st.binary(max_size=200))
def test_decoding_garbage_only_raises_pdu_error(data: bytes) -> None:
    with contextlib.suppress(P.PduError):
        P.decode_tpdu(data)
