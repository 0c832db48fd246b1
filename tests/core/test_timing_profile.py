"""The realistic timing profile on the fake clock (issue 13, item 2): every
named delay lands in its measured range, the spread is seeded, --time-scale
shrinks it, and nothing changes with the default (fast) profile."""

from __future__ import annotations

from dataclasses import replace

import pytest
from harness import OK, Harness

from sim800emu.core.config import REALISTIC, ModemConfig, Timing
from sim800emu.core.timing import Pace

RANGES = {
    "command": (0.016, 0.060),
    "ciicr": (2.0, 7.0),
    "cgact": (2.0, 7.0),
    "sapbr": (1.1, 1.5),
    "dns": (0.5, 3.0),
    "connect": (1.0, 3.0),
    "send_ok": (0.2, 1.5),
    "tls": (3.0, 10.0),
    "ussd": (1.0, 4.0),
    "call_setup": (2.0, 6.0),
    "call_answer": (3.0, 10.0),
    "no_answer": (30.0, 60.0),
    "sms_send": (1.5, 5.0),
    "http_action": (1.0, 4.0),
    "ftp_open": (1.0, 3.0),
}


def realistic(seed: int = 1, scale: float = 1.0) -> ModemConfig:
    timing = replace(REALISTIC, seed=seed)
    return ModemConfig(timing=timing if scale == 1.0 else timing.scaled(scale))


def up(h: Harness) -> None:
    """CSTT, CIICR, CIFSR, each after its delays: IP STATUS."""
    for cmd in ("AT+CSTT", "AT+CIICR", "AT+CIFSR"):
        h.at(cmd)
        h.run_timers()
    assert h.m.ip.state_text() == "IP STATUS"


@pytest.mark.parametrize("name", sorted(RANGES))
def test_each_delay_stays_in_its_range_and_spreads(name: str) -> None:
    lo, hi = RANGES[name]
    pace = Pace(replace(REALISTIC, seed=7))
    values = [pace.delay(name) for _ in range(200)]
    assert all(lo <= v <= hi for v in values)
    assert max(values) - min(values) > (hi - lo) / 2  # really spread, not a constant


def test_same_seed_same_delays_other_seed_others() -> None:
    def draws(seed: int) -> list[float]:
        pace = Pace(replace(REALISTIC, seed=seed))
        return [pace.delay(n) for n in ("ciicr", "connect", "send_ok", "command") * 5]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)


def test_time_scale_shrinks_every_delay_but_the_guard_time() -> None:
    scaled = REALISTIC.scaled(0.01)
    assert scaled.escape_guard == REALISTIC.escape_guard
    assert scaled.ciicr == pytest.approx(0.02)
    assert scaled.upper("tls") == pytest.approx(0.1)
    assert scaled.ussd == pytest.approx(0.01)
    pace = Pace(scaled)
    assert all(0.03 <= pace.delay("tls") <= 0.1 for _ in range(50))


def test_unknown_delay_is_refused() -> None:
    with pytest.raises(KeyError):
        Pace(Timing()).delay("spread")


def test_fast_profile_answers_at_once() -> None:
    h = Harness()
    assert h.at("AT") == OK
    assert h.timers == {}


def test_commands_answer_after_their_delay() -> None:
    h = Harness(realistic())
    assert h.at("AT") == b""
    due = h.timers["command"]
    assert 0.016 <= due - h.now <= 0.060
    assert h.advance_to(due - 0.001) == b""
    assert h.advance_to(due) == OK


def test_input_during_the_delay_waits_and_runs_in_order() -> None:
    h = Harness(realistic())
    assert h.feed(b"AT\rAT+CSQ\r") == b""
    out = h.run_timers()
    assert out == OK + b"\r\n+CSQ: 24,0\r\n" + OK


def test_ciicr_takes_two_to_seven_seconds() -> None:
    h = Harness(realistic(seed=11))
    h.at("AT+CSTT")
    h.run_timers()
    start = h.now
    h.at("AT+CIICR")
    assert h.advance(0.07) == b""  # the command delay, then CIICR's own
    assert h.advance(1.9) == b""
    out = h.run_timers()
    assert out == OK
    assert 2.0 <= h.now - start <= 7.1


def test_cgact_and_sapbr_take_their_time() -> None:
    h = Harness(realistic(seed=5))
    start = h.now
    h.at("AT+CGACT=1,1")
    assert h.run_timers() == OK
    assert 2.0 <= h.now - start <= 7.1
    h.at('AT+SAPBR=3,1,"APN","internet"')
    h.run_timers()
    start = h.now
    h.at("AT+SAPBR=1,1")
    assert h.run_timers() == OK
    assert 1.1 <= h.now - start <= 1.6


def test_cipstart_connect_ok_after_one_to_three_seconds_tls_more() -> None:
    for tls in (False, True):
        h = Harness(realistic(seed=2))
        up(h)
        if tls:
            h.at("AT+CIPSSL=1")
            h.run_timers()
        h.at('AT+CIPSTART="TCP","1.2.3.4",80')
        assert h.run_timers(0.1) == OK  # the command's own delay, then OK
        start = h.now
        assert h.connects == []  # the network has not been asked yet
        h.run_timers()
        waited = h.now - start
        assert (3.0 + 1.0 if tls else 1.0) <= waited <= (13.0 if tls else 3.0)
        _, out = h.connected()
        assert out == b"\r\nCONNECT OK\r\n"


def test_cipclose_during_the_connect_delay_opens_nothing() -> None:
    h = Harness(realistic(seed=2))
    up(h)
    h.at('AT+CIPSTART="TCP","1.2.3.4",80')
    h.run_timers(0.1)
    h.at("AT+CIPCLOSE")
    h.run_timers()
    assert h.connects == []


def test_send_ok_after_the_last_byte_and_the_line_waits() -> None:
    h = Harness(realistic(seed=9))
    up(h)
    h.at('AT+CIPSTART="TCP","1.2.3.4",80')
    h.run_timers()
    h.connected()
    h.at("AT+CIPSEND=5")
    assert h.run_timers() == b"\r\n> "
    assert h.feed(b"hello") == b""
    assert h.sent(1) == b"hello"  # the bytes left at once
    assert "result" in h.timers
    wait = h.timers["result"] - h.now
    assert 0.2 <= wait <= 1.5
    assert h.feed(b"AT\r") == b""  # typed meanwhile: runs after SEND OK
    out = h.run_timers()
    assert out == b"\r\nSEND OK\r\n" + OK


def test_cdnsgip_query_leaves_after_its_delay() -> None:
    h = Harness(realistic(seed=4))
    up(h)
    h.at('AT+CDNSGIP="example.com"')
    assert h.run_timers(0.1) == OK
    assert h.resolves == []
    start = h.now
    h.run_timers()
    assert h.resolves and 0.5 <= h.now - start <= 3.0
    assert h.resolved(("93.184.216.34",)) == b'\r\n+CDNSGIP: 1,"example.com","93.184.216.34"\r\n'


def test_a_scaled_profile_runs_the_same_in_a_hundredth_of_the_time() -> None:
    full, fast = Harness(realistic(seed=8)), Harness(realistic(seed=8, scale=0.01))
    outs = []
    for h in (full, fast):
        h.at("AT+CSTT")
        h.run_timers()
        start = h.now
        h.at("AT+CIICR")
        outs.append((h.run_timers(), h.now - start))
    assert outs[0][0] == outs[1][0] == OK
    assert outs[1][1] == pytest.approx(outs[0][1] * 0.01)
