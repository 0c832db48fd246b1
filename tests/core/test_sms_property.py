"""Any mix of SMS commands, message entries (ended by Ctrl-Z, ESC or not at
all), incoming messages and status reports keeps the line well formed: no
exception escapes the core, every command line gets one final result (or a
prompt), and the storage counts stay within capacity."""

from __future__ import annotations

from harness import Harness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim800emu.core.events import SmsIncoming, SmsStatus

FINALS = (b"OK\r\n", b"ERROR\r\n", b"\r\n> ")

COMMANDS = st.one_of(
    st.sampled_from([
        "AT+CMGF=0", "AT+CMGF=1", "AT+CSDH=1", "AT+CSDH=0", "AT+CMEE=1", "AT+CMEE=2",
        'AT+CSCS="HEX"', 'AT+CSCS="UCS2"', 'AT+CSCS="GSM"', 'AT+CSCS="IRA"',
        "AT+CSMP=49,167,0,8", "AT+CSMP=17,167,0,0", "AT+CSMP=17,167,0,4",
        'AT+CPMS="ME","ME","ME"', 'AT+CPMS="SM"', "AT+CNMI=2,2,0,1,0", "AT+CNMI=0,1",
        "AT+CNMI=1,1,0,0,1", "AT+CMGL", 'AT+CMGL="ALL"', "AT+CMGL=4", 'AT+CMGDA="DEL ALL"',
        "AT+CMGDA=6", "AT+CMGD=1,4", "AT+CPMS?", "AT+CMGW", 'AT+CMGS="+8613912345678"',
        "AT+CMGW=16", "AT+CMGS=20", "AT+CSCA?", "AT+CMGD=?",
    ]),
    st.builds(lambda i, mode: f"AT+CMGR={i}" + (f",{mode}" if mode is not None else ""),
              st.integers(-1, 160), st.one_of(st.none(), st.integers(0, 2))),
    st.builds(lambda i: f"AT+CMSS={i}", st.integers(0, 60)),
    st.builds(lambda n, s: f"AT+CMGS={n}" if s else f'AT+CMGW="{n}"', st.integers(0, 200),
              st.booleans()),
    st.builds(lambda t: f"AT+CMGS={t}", st.text(st.characters(max_codepoint=255), max_size=12)),
)
ENTRIES = st.tuples(
    st.one_of(
        st.binary(max_size=300),
        st.sampled_from([b"0011000D91683119325476F80000A705C8329BFD06",
                         b"0001000781550500F10000054479D84C07", b"Hello", b"00"]),
    ),
    st.sampled_from([b"\x1a", b"\x1b", b""]),
)
EVENTS = st.one_of(
    st.tuples(st.just("at"), COMMANDS),
    st.tuples(st.just("entry"), ENTRIES),
    st.tuples(st.just("sms"), st.text(max_size=400)),
    st.tuples(st.just("report"), st.integers(0, 255)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(EVENTS, max_size=25))
def test_any_sms_sequence_keeps_the_line_well_formed(events: list[tuple[str, object]]) -> None:
    h = Harness()
    for kind, value in events:
        if kind == "at":
            if h.m.line_reserved:
                h.feed(b"\x1b")  # leave a pending prompt first
                h.take()
            out = h.at(str(value))
            # URCs buffered while AT+CNMI mode was 0 follow the OK of a CNMI
            # that selects mode 1-3 with <bfr> 0 (27.005 3.4.1)
            _head, ok, tail = out.partition(b"\r\nOK\r\n")
            flushed = bool(ok) and all(
                line.startswith(b"+") for line in tail.split(b"\r\n") if line
            )
            final = out.endswith(FINALS) or b"+CMS ERROR" in out or b"+CME ERROR" in out
            assert final or flushed, (value, out)
        elif kind == "entry":
            body, end = value  # type: ignore[misc]
            h.feed(body + end)
        elif kind == "sms":
            h.handle(SmsIncoming("+447700900123", str(value), 1_796_000_000.0))
        else:
            h.handle(SmsStatus(int(value), "+8613912345678", 1_796_000_000.0))  # type: ignore[call-overload]
        for storage in (h.m.sms.stores.sm, h.m.sms.stores.me):
            assert 0 <= storage.used <= storage.capacity
            assert all(1 <= i <= storage.capacity for i in storage.records)
