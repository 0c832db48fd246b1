"""The field-conditions delays of SMS sending, HTTP and FTP on the fake
clock (docs/field-conditions.md): AT+CMGS / AT+CMSS answer after
``sms_send`` (the line busy meanwhile, the message handed to the centre
then), AT+HTTPACTION's connection opens after ``http_action``, an FTP
operation's control connection after ``ftp_open``; the fast profile keeps
them at 0 (at once, as before); a session ended during the delay opens
nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest
from harness import OK, Harness, block

from sim800emu.core.config import REALISTIC, ModemConfig, Timing
from sim800emu.core.events import Fault, SmsSent


def only(name: str, seed: int = 3) -> Harness:
    """A modem whose only delay is ``name``, drawn as the realistic profile does."""
    low = getattr(REALISTIC, name)
    timing = Timing(**{name: low}, spread=((name, REALISTIC.upper(name)),), seed=seed)
    return Harness(ModemConfig(timing=timing))


def sent(h: Harness) -> list[SmsSent]:
    h.take()
    return [r for r in h.requests if isinstance(r, SmsSent)]


# ---------------------------------------------------------------- SMS


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cmgs_answers_after_sms_send_and_the_line_waits(seed: int) -> None:
    h = only("sms_send", seed)
    h.at("AT+CMGF=1")
    assert h.at('AT+CMGS="+8613912345678"') == b"\r\n> "
    assert h.feed(b"hello\x1a") == b""
    assert sent(h) == []  # not yet with the network
    wait = h.timers["result"] - h.now
    assert 1.5 <= wait <= 5.0
    assert h.feed(b"AT+CSQ\r") == b""  # typed meanwhile: runs after the answer
    assert h.advance(wait - 0.01) == b""
    assert h.run_timers() == block("+CMGS: 0") + OK + block("+CSQ: 24,0") + OK
    [msg] = sent(h)
    assert msg.text == "hello"


def test_cmgs_in_pdu_mode_and_cmss_take_their_time() -> None:
    h = only("sms_send")
    h.at("AT+CMGS=20")
    h.feed(b"0031000D91683119325476F80000A705C8329BFD06\x1a")
    assert h.take() == b""
    assert h.run_timers() == block("+CMGS: 0") + OK
    h.at("AT+CMGF=1")
    h.at('AT+CMGW="+8613912345678"')
    assert h.feed(b"stored\x1a") == block("+CMGW: 1") + OK  # writing is not sending
    assert h.at("AT+CMSS=1;+CPAS") == b""
    assert 1.5 <= h.timers["sms_send"] - h.now <= 5.0
    assert h.run_timers() == block("+CMSS: 1") + block("+CPAS: 0") + OK
    assert [m.text for m in sent(h)] == ["Hello", "stored"]


def test_a_power_loss_while_sending_loses_the_message() -> None:
    h = only("sms_send")
    h.at("AT+CMGF=1")
    h.at('AT+CMGS="+8613912345678"')
    h.feed(b"lost\x1a")
    assert h.feed(b"AT+CFUN=1,1\r") == b""  # typed meanwhile: it waits for +CMGS
    assert h.run_timers().startswith(block("+CMGS: 0") + OK + OK)
    h.at("AT+CMGF=1")
    h.at('AT+CMGS="+8613912345678"')
    h.feed(b"lost\x1a")
    h.handle(Fault("power-off"))  # the supply fails before the network took it
    h.advance(10.0)  # the delay runs out while the module is off
    h.handle(Fault("power-on"))
    out = h.run_timers()
    assert b"+CMGS" not in out and len(sent(h)) == 1
    h.at("AT+CMGF=1")
    h.at('AT+CMGW="+8613912345678"')
    h.feed(b"x\x1a")
    h.at("AT+CMSS=1")
    h.handle(Fault("power-off"))
    h.handle(Fault("power-on"))
    assert b"+CMSS" not in h.run_timers() and len(sent(h)) == 1


def test_fast_profile_sends_at_once() -> None:
    h = Harness()
    h.at("AT+CMGF=1")
    h.at('AT+CMGS="+8613912345678"')
    assert h.feed(b"now\x1a") == block("+CMGS: 0") + OK
    assert h.timers == {}


# ---------------------------------------------------------------- HTTP


def http_ready(h: Harness) -> None:
    h.at("AT+SAPBR=1,1")
    h.run_timers()
    assert h.at("AT+HTTPINIT") == OK
    assert h.at('AT+HTTPPARA="CID",1;+HTTPPARA="URL","http://10.0.0.1:8080/x"') == OK


@pytest.mark.parametrize("seed", [1, 2])
def test_httpaction_connects_after_http_action(seed: int) -> None:
    h = only("http_action", seed)
    http_ready(h)
    assert h.at("AT+HTTPACTION=0") == OK
    assert h.connects == []
    wait = h.timers["http_open"] - h.now
    assert 1.0 <= wait <= 4.0
    h.advance(wait)
    sock, out = h.connected()
    assert out == b""
    assert h.sent(sock).startswith(b"GET /x HTTP/1.1\r\n")


def test_httpterm_during_the_delay_opens_nothing() -> None:
    h = only("http_action")
    http_ready(h)
    h.at("AT+HTTPACTION=0")
    assert h.at("AT+HTTPTERM") == OK
    assert h.run_timers() == b""
    assert h.connects == []


def test_http_fast_profile_connects_at_once() -> None:
    h = Harness()
    http_ready(h)
    h.at("AT+HTTPACTION=0")
    assert len(h.connects) == 1


# ---------------------------------------------------------------- FTP


def ftp_ready(h: Harness) -> None:
    h.at("AT+SAPBR=1,1")
    h.run_timers()
    for line in ('AT+FTPSERV="ftp.test"', 'AT+FTPUN="u"', 'AT+FTPPW="p"', 'AT+FTPGETNAME="f"'):
        assert h.at(line) == OK


def test_ftp_operation_opens_after_ftp_open() -> None:
    h = only("ftp_open")
    ftp_ready(h)
    assert h.at("AT+FTPSIZE") == OK
    assert h.connects == []
    wait = h.timers["ftp_open"] - h.now
    assert 1.0 <= wait <= 3.0
    h.advance(wait)
    assert h.connects[0].host == "ftp.test"
    assert h.at("AT+FTPSIZE") == b"\r\nERROR\r\n"  # busy meanwhile, as during any operation


def test_ftpquit_during_the_delay_opens_nothing() -> None:
    h = only("ftp_open")
    ftp_ready(h)
    h.at("AT+FTPGET=1")
    assert h.at("AT+FTPQUIT") == OK + b"\r\n+FTPGET: 1,86\r\n"
    assert h.run_timers() == b""
    assert h.connects == []


def test_realistic_profile_has_the_three_delays() -> None:
    assert {n for n, _ in REALISTIC.spread} >= {"sms_send", "http_action", "ftp_open"}
    fast = Timing()
    assert fast.sms_send == fast.http_action == fast.ftp_open == 0.0
    assert replace(REALISTIC).sms_send == 1.5
